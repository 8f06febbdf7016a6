package stepcache

import (
	"strings"
	"testing"

	"github.com/mfabridge/mfabridge/internal/golist"
)

// TestNoNetwork: a cached credential-process is served before the AWS SDK
// and net/http are initialised (cmd/mfabridge/internal/warm), which holds
// only while this package's import graph holds neither.
func TestNoNetwork(t *testing.T) {
	for _, d := range golist.Deps(t, ".") {
		if d == "net" || strings.HasPrefix(d, "net/") || strings.HasPrefix(d, "github.com/aws/") ||
			d == "github.com/mfabridge/mfabridge/sts" || d == "github.com/spf13/cobra" {
			t.Errorf("stepcache depends on %s", d)
		}
	}
}
