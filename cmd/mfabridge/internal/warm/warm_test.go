package warm

import (
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/mfabridge/mfabridge/internal/golist"
)

// TestImports: the warm path runs early only while its import graph holds
// nothing that sorts late and waits for much else (Go initialises packages
// in import-path order, subject to dependencies): not the network, the
// SDK or cobra, and on Unix not path/filepath (internal/ospath), which
// would let some 20 more packages initialise first.
func TestImports(t *testing.T) {
	for _, d := range golist.Deps(t, ".") {
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
