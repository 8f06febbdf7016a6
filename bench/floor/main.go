// Command floor is the Go floor of the warm-path benchmark
// (BenchmarkCredentialProcessCached): it reads one file and prints it, the
// least a process that serves a cached credential-process answer must do.
//
// It is linked the way mfabridge is: mfabridge loads the PC/SC library at
// run time through purego, which makes even a CGO_ENABLED=0 build a
// dynamically linked executable (purego's internal fakecgo starts the
// runtime through libc, as cgo's runtime/cgo would). Importing purego here
// gives the floor the same interpreter, libraries and runtime start-up,
// built with the same flags, so the comparison charges mfabridge only for
// its own work and its own packages. The benchmark checks that both
// executables have the same interpreter.
//
//	floor FILE
package main

import (
	"os"

	_ "github.com/ebitengine/purego" // dynamic linking, as mfabridge (see above)
)

func main() {
	if len(os.Args) != 2 {
		os.Stderr.WriteString("usage: floor FILE\n")
		os.Exit(2)
	}
	b, err := os.ReadFile(os.Args[1])
	if err != nil {
		os.Stderr.WriteString("floor: " + err.Error() + "\n")
		os.Exit(1)
	}
	if _, err := os.Stdout.Write(b); err != nil {
		os.Exit(1)
	}
}
