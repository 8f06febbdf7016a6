// Package golist gives tests the import graph of a package, for the tests
// that pin the layering (what the credentials provider, the warm path and
// the config reader may depend on).
package golist

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// Deps returns the packages pkg depends on (go list -deps, pkg itself
// included), failing the test if the list is too short to be the graph.
func Deps(tb testing.TB, pkg string) []string {
	tb.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	out, err := exec.Command(goBin, "list", "-deps", pkg).Output()
	if err != nil {
		tb.Fatalf("go list -deps %s: %v", pkg, err)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 10 {
		tb.Fatalf("go list -deps %s printed %d packages; want the whole graph:\n%s", pkg, len(deps), out)
	}
	return deps
}
