//go:build unix

package notify

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// fakePowerShell writes an executable stand-in for powershell.exe (the
// toast protocol, not PowerShell) into a folder of its own; it may write
// to the files $DIR/script, $DIR/then and $DIR/pid.
func fakePowerShell(t *testing.T, body string) (path, dir string) {
	t.Helper()
	dir = t.TempDir()
	path = filepath.Join(dir, "powershell.exe")
	if err := os.WriteFile(path, []byte("#!/bin/sh\nDIR="+dir+"\necho $$ > $DIR/pid\n"+body), 0o700); err != nil {
		t.Fatal(err)
	}
	return path, dir
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// gone reports whether the fake's process has ended and been reaped.
func gone(t *testing.T, dir string) bool {
	t.Helper()
	pid, err := strconv.Atoi(strings.TrimSpace(readFile(t, filepath.Join(dir, "pid"))))
	if err != nil {
		t.Fatal(err)
	}
	return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}

// fakeArgs is the argv the fakes check: the fixed flags, nothing else.
const fakeArgs = `[ "$*" = "-NoLogo -NoProfile -NonInteractive -Command -" ] || { echo "argv: $*" >&2; exit 2; }
`

// TestToastShowAndHide: the script arrives on stdin (argv is the fixed
// flags), show returns once "shown" is printed, and close sends "hide"
// and waits for the process to exit.
func TestToastShowAndHide(t *testing.T) {
	path, dir := fakePowerShell(t, fakeArgs+`IFS= read -r s; printf '%s\n' "$s" > $DIR/script
echo shown
IFS= read -r then || then="<eof>"; printf '%s\n' "$then" > $DIR/then
IFS= read -r more && exit 3
exit 0
`)
	w := &toast{path: path, app: "mfabridge", expire: time.Minute}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	h, err := w.show(ctx, "Touch your YubiKey", "serial 7")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := readFile(t, filepath.Join(dir, "script")), toastScript("mfabridge", "Touch your YubiKey", "serial 7", time.Minute); got != want {
		t.Errorf("script on stdin\n got %q\nwant %q", got, want)
	}
	if err := h.close(ctx); err != nil {
		t.Fatalf("close: %v", err)
	}
	if got := readFile(t, filepath.Join(dir, "then")); got != "hide\r\n" {
		t.Errorf("after the script: %q, want hide", got)
	}
	if !gone(t, dir) {
		t.Error("powershell still running after close")
	}
}

// TestToastFailures: a PowerShell that is missing, exits (a stub, as
// Wine's may be), says something else, or hangs (reads nothing, prints
// nothing) fails show within its time limit, and the process is gone.
func TestToastFailures(t *testing.T) {
	const limit = 300 * time.Millisecond
	for _, tt := range []struct {
		name, body string
		want       error
		wantMsg    string
	}{
		{"stub exits", "echo 'powershell: not implemented' >&2; exit 1\n", nil, "exited without showing the toast: powershell: not implemented"},
		{"other output", "read -r s; echo 'The term Windows.UI is not recognized'; exec sleep 600\n", nil, `unexpected output "The term Windows.UI is not recognized"`},
		{"hangs", "exec sleep 600\n", context.DeadlineExceeded, "toast not shown in time"},
		{"child holds the pipes", "sleep 600 & echo $! > $DIR/child; read -r s; wait\n", context.DeadlineExceeded, "toast not shown in time"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path, dir := fakePowerShell(t, tt.body)
			t.Cleanup(func() { // the orphan of "child holds the pipes"
				if b, err := os.ReadFile(filepath.Join(dir, "child")); err == nil {
					if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
						syscall.Kill(pid, syscall.SIGKILL)
					}
				}
			})
			ctx, cancel := context.WithTimeout(context.Background(), limit)
			defer cancel()
			h, err := (&toast{path: path, expire: time.Minute}).show(ctx, "t", "b")
			if h != nil || err == nil || !strings.Contains(err.Error(), tt.wantMsg) || (tt.want != nil && !errors.Is(err, tt.want)) {
				t.Fatalf("show = %v, %v; want %q (%v)", h, err, tt.wantMsg, tt.want)
			}
			if !gone(t, dir) {
				t.Error("powershell still running after show failed")
			}
		})
	}
	t.Run("missing", func(t *testing.T) {
		_, err := (&toast{path: filepath.Join(t.TempDir(), "powershell.exe")}).show(context.Background(), "t", "b")
		if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "start powershell") {
			t.Fatalf("show = %v, want ErrUnavailable", err)
		}
		_, err = (&toast{}).show(context.Background(), "t", "b")
		if !errors.Is(err, ErrUnavailable) {
			t.Fatalf("show without a path = %v, want ErrUnavailable", err)
		}
	})
}

// TestToastHungNotifier: through the Notifier, a hung PowerShell costs the
// caller nothing: Show returns at once, Close within its wait, and the
// failure (the caller's cue for the terminal) comes within the limit.
func TestToastHungNotifier(t *testing.T) {
	path, dir := fakePowerShell(t, "exec sleep 600\n")
	const limit = time.Second // Close waits a third of it; the rest is headroom for a loaded machine
	n := New(Options{GOOS: "windows", Timeout: limit, CloseWait: limit / 3})
	if n.showTimeout != toastStartTimeout {
		t.Errorf("toast's show limit %v, want %v", n.showTimeout, toastStartTimeout)
	}
	n.b.(*toast).path, n.showTimeout = path, limit // the Options' limit, for a short test
	start := time.Now()
	errc := make(chan error, 1)
	sh := n.Show("t", "b", func(err error) { errc <- err })
	sh.Close()
	if d := time.Since(start); d >= limit {
		t.Errorf("Show+Close took %v: Close waited for the %v limit", d, limit)
	}
	select {
	case err := <-errc:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("failed(%v), want a time-out", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("failed was never called")
	}
	sh.Wait()
	if !gone(t, dir) {
		t.Error("powershell still running")
	}
}

// TestToastSlowStart: a PowerShell slower to start than the Notifier's
// limit (as a cold one is) still shows its toast within the toast's own
// limit; the caller was not held meanwhile.
func TestToastSlowStart(t *testing.T) {
	path, _ := fakePowerShell(t, "sleep 0.6; read -r s; echo shown; read -r then; exit 0\n")
	n := New(Options{GOOS: "windows", Timeout: 200 * time.Millisecond, CloseWait: 50 * time.Millisecond})
	n.b.(*toast).path, n.showTimeout = path, 10*time.Second
	errc := make(chan error, 1)
	start := time.Now()
	sh := n.Show("t", "b", func(err error) { errc <- err })
	if d := time.Since(start); d > 500*time.Millisecond { // held: at least the 600 ms start
		t.Errorf("Show blocked for %v", d)
	}
	sh.Wait()
	select {
	case err := <-errc:
		t.Fatalf("a slow PowerShell was given up at the Notifier's limit: %v", err)
	default:
	}
	sh.Close()
}
