//go:build unix

package awsconfig

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mfabridge/mfabridge/internal/regfile"
)

// TestLoadProfilesBoundedRead pins issue 13 case 15: AWS_CONFIG_FILE or
// AWS_SHARED_CREDENTIALS_FILE naming a FIFO, a device or a huge file is
// refused at once (before: a FIFO blocked for ever, /dev/zero was read
// until memory ran out).
func TestLoadProfilesBoundedRead(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	huge := filepath.Join(dir, "huge")
	f, err := os.Create(huge)
	if err != nil {
		t.Fatal(err)
	}
	// Sparse: the size is refused from fstat, nothing is read.
	if err := f.Truncate(maxINIBytes + 1); err != nil {
		t.Fatal(err)
	}
	f.Close()
	tests := []struct {
		name, path string
		want       error
		msg        string
	}{
		{"fifo", fifo, regfile.ErrNotRegular, "a FIFO"},
		{"device", "/dev/zero", regfile.ErrNotRegular, "a character device"},
		{"directory", dir, regfile.ErrNotRegular, "a directory"},
		{"huge", huge, regfile.ErrTooLarge, "the limit is 16777216"},
	}
	for _, tt := range tests {
		for _, v := range []string{"AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"} {
			env := testEnv{"AWS_CONFIG_FILE": filepath.Join(dir, "none"), "AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "none")}
			env[v] = tt.path
			errc := make(chan error, 1)
			go func() {
				_, err := LoadProfiles(env.get)
				errc <- err
			}()
			select {
			case err := <-errc:
				if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.msg) || !strings.Contains(err.Error(), tt.path) {
					t.Errorf("%s in %s: %v, want %v (%s)", tt.name, v, err, tt.want, tt.msg)
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("%s in %s: LoadProfiles still running after 10 s", tt.name, v)
			}
		}
	}
}
