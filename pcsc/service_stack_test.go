//go:build linux

package pcsc

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// "Service not running" as the real pcsc-lite client library reports it.
// The library reads PCSCLITE_CSOCK_NAME once per process, so each case runs
// this test binary again (TestServiceNotRunningHelper) with the variable
// naming a socket where no pcscd listens; the shared stack's pcscd, if up,
// is left alone.

const serviceHelperEnv = "MFABRIDGE_TEST_SERVICE_HELPER"

// serviceResult is the helper's one line of output: the class of Open's
// error, then the error itself.
const serviceResult = "service helper result: "

func TestStackServiceNotRunning(t *testing.T) {
	for _, tt := range []struct {
		name   string
		socket func(t *testing.T) string
	}{
		{"no socket", func(t *testing.T) string {
			return filepath.Join(t.TempDir(), "pcscd.comm")
		}},
		{"stale socket", staleSocket}, // pcscd killed without removing it
	} {
		t.Run(tt.name, func(t *testing.T) {
			sock := tt.socket(t)
			cmd := exec.Command(os.Args[0], "-test.run=^TestServiceNotRunningHelper$", "-test.v")
			cmd.Env = append(os.Environ(), serviceHelperEnv+"=1", "PCSCLITE_CSOCK_NAME="+sock)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("helper process: %v\n%s", err, out)
			}
			class, msg, ok := serviceLine(out)
			switch {
			case !ok:
				t.Fatalf("helper process printed no result:\n%s", out)
			case class == "library missing":
				skipOrFail(t, "libpcsclite is not installed: "+msg)
			case class != "service not running":
				t.Fatalf("Open with nothing on %s: %s (%s), want an error wrapping ErrServiceNotRunning", sock, class, msg)
			}
		})
	}
}

// staleSocket leaves a socket file that nothing listens on.
func staleSocket(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "pcscd.comm")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	l.SetUnlinkOnClose(false)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := net.Dial("unix", path); err == nil {
		t.Fatalf("%s still accepts connections", path)
	}
	return path
}

func serviceLine(out []byte) (class, msg string, ok bool) {
	for _, l := range bytes.Split(out, []byte("\n")) {
		if rest, found := strings.CutPrefix(string(l), serviceResult); found {
			class, msg, _ = strings.Cut(rest, ": ")
			return class, msg, true
		}
	}
	return "", "", false
}

// TestServiceNotRunningHelper opens a PC/SC context in the helper process
// and prints what class of error it got; TestStackServiceNotRunning judges.
func TestServiceNotRunningHelper(t *testing.T) {
	if os.Getenv(serviceHelperEnv) == "" {
		t.Skip("helper process for TestStackServiceNotRunning")
	}
	c, err := Open(context.Background())
	class := "other error"
	switch {
	case err == nil:
		c.Close()
		class, err = "no error", errors.New("Open succeeded")
	case errors.Is(err, ErrServiceNotRunning):
		class = "service not running"
	case errors.Is(err, ErrLibraryMissing):
		class = "library missing"
	}
	os.Stdout.WriteString(serviceResult + class + ": " + err.Error() + "\n")
}
