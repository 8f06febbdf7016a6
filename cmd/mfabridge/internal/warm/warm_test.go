package warm

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestImports: the warm path runs early only while its import graph holds
// nothing that sorts late and waits for much else (Go initialises packages
// in import-path order, subject to dependencies): not the network, the
// SDK or cobra, and on Unix not path/filepath (internal/ospath), which
// would let some 20 more packages initialise first.
func TestImports(t *testing.T) {
	goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
	out, err := exec.Command(goBin, "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 10 {
		t.Fatalf("go list -deps printed %d packages; want the whole graph:\n%s", len(deps), out)
	}
	for _, d := range deps {
		bad := d == "net" || strings.HasPrefix(d, "net/") || strings.HasPrefix(d, "github.com/aws/") ||
			strings.HasPrefix(d, "github.com/spf13/") || d == "github.com/mfabridge/mfabridge/sts"
		if runtime.GOOS != "windows" && d == "path/filepath" {
			bad = true
		}
		if bad {
			t.Errorf("package warm depends on %s", d)
		}
	}
}

// TestServeLeavesAlone: what is not the plain form is left to the normal
// start without looking at the environment or writing anything.
func TestServeLeavesAlone(t *testing.T) {
	for _, args := range [][]string{
		nil, {"version"}, {"--version"}, {"credential-process", "--debug"}, {"credential-process", "-h"},
		{"credential-process", "a", "b"}, {"--debug", "credential-process"}, {"export", "prod"},
	} {
		var w strings.Builder
		getenv := func(k string) string {
			t.Errorf("%q: read $%s", args, k)
			return ""
		}
		served, err := Serve(args, getenv, &w, time.Now())
		if served || err != nil || w.Len() != 0 {
			t.Errorf("%q: served %v, err %v, wrote %q", args, served, err, w.String())
		}
	}
}
