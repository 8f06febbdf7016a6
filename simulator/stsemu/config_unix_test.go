//go:build unix

package stsemu

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

// TestLoadConfigBoundedRead pins issue 13 case 15 for `sim sts --config`:
// a FIFO, a device, a directory or a file over MaxConfigBytes is refused at
// once, never read without bound or waited on.
func TestLoadConfigBoundedRead(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	huge := filepath.Join(dir, "huge.json")
	f, err := os.Create(huge)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(MaxConfigBytes + 1); err != nil { // sparse
		t.Fatal(err)
	}
	f.Close()
	tests := []struct {
		path string
		want error
		msg  string
	}{
		{fifo, regfile.ErrNotRegular, "a FIFO"},
		{"/dev/zero", regfile.ErrNotRegular, "a character device"},
		{dir, regfile.ErrNotRegular, "a directory"},
		{huge, regfile.ErrTooLarge, "the limit is 4194304"},
	}
	for _, tt := range tests {
		errc := make(chan error, 1)
		go func() {
			_, err := LoadConfig(tt.path)
			errc <- err
		}()
		select {
		case err := <-errc:
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.msg) || !strings.Contains(err.Error(), tt.path) {
				t.Errorf("LoadConfig(%s) = %v, want %v (%s)", tt.path, err, tt.want, tt.msg)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("LoadConfig(%s) still running after 10 s", tt.path)
		}
	}
}
