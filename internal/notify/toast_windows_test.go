//go:build windows

package notify

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestToastPowerShellPath: PowerShell is named in full, in the system
// folder, never looked up through PATH or the current folder.
func TestToastPowerShellPath(t *testing.T) {
	p := powerShellPath()
	if !filepath.IsAbs(p) || !strings.HasSuffix(strings.ToLower(p), `\system32\windowspowershell\v1.0\powershell.exe`) {
		t.Fatalf("powerShellPath() = %q", p)
	}
}

// TestToastNeverBlocks runs the real backend on this system: Show returns
// at once and Close within its wait, whatever PowerShell does. Under Wine
// (no PowerShell, or one that cannot show a toast) the notice must fail
// within the time limit, the caller's cue to use the terminal; on Windows
// with a desktop it is shown and withdrawn.
func TestToastNeverBlocks(t *testing.T) {
	const limit = 5 * time.Second
	n := New(Options{Timeout: limit, CloseWait: 100 * time.Millisecond})
	if _, ok := n.b.(*toast); !ok {
		t.Fatalf("backend %T, want toast", n.b)
	}
	_, statErr := os.Stat(powerShellPath())
	start := time.Now()
	errc := make(chan error, 1)
	sh := n.Show("mfabridge test", "a toast from mfabridge's tests; it closes by itself", func(err error) { errc <- err })
	if d := time.Since(start); d > time.Second {
		t.Errorf("Show blocked for %v", d)
	}
	sh.Wait()
	if d := time.Since(start); d > limit+2*time.Second {
		t.Errorf("showing took %v, past the %v limit", d, limit)
	}
	closeStart := time.Now()
	sh.Close()
	if d := time.Since(closeStart); d > limit+2*time.Second {
		t.Errorf("Close took %v", d)
	}
	select {
	case err := <-errc:
		t.Logf("not shown (the caller falls back to the terminal): %v (powershell.exe: %v)", err, statErr)
		if statErr != nil && !strings.Contains(err.Error(), "start powershell") {
			t.Errorf("no powershell.exe (%v), but the error is %v", statErr, err)
		}
	default:
		t.Logf("shown and withdrawn")
	}
}
