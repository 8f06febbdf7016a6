package main

import (
	"os"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"mfabridge": func() { os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv)) },
	})
}

// TestScripts runs the CLI scripts in testdata/: each drives the real binary
// against a simulated YubiKey (and the local STS emulator) and checks
// stdout, stderr and exit status.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata",
		RequireExplicitExec: true,
		Setup: func(e *testscript.Env) error {
			// No terminal, no stray configuration from the machine running the tests.
			e.Setenv("MFABRIDGE_DEVICE", "")
			e.Setenv("MFABRIDGE_OATH_PASSWORD", "")
			e.Setenv("HOME", e.WorkDir)
			e.Setenv("MFABRIDGE_TTY", e.WorkDir+"/tty.out")
			return nil
		},
	})
}
