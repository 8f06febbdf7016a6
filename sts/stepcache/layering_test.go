package stepcache

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestNoNetwork: a cached credential-process is served before the AWS SDK
// and net/http are initialised (cmd/mfabridge/internal/warm), which holds
// only while this package's import graph holds neither.
func TestNoNetwork(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	out, err := exec.Command(goBin, "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 10 {
		t.Fatalf("go list -deps printed %d packages; want the whole graph:\n%s", len(deps), out)
	}
	for _, d := range deps {
		if d == "net" || strings.HasPrefix(d, "net/") || strings.HasPrefix(d, "github.com/aws/") ||
			d == "github.com/mfabridge/mfabridge/sts" || d == "github.com/spf13/cobra" {
			t.Errorf("stepcache depends on %s", d)
		}
	}
}
