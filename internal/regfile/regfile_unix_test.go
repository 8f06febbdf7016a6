//go:build unix

package regfile

import (
	"errors"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestReadSpecialFiles: a FIFO without a writer is refused without
// blocking, a character device that never ends is refused without reading.
func TestReadSpecialFiles(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for path, kind := range map[string]string{fifo: "a FIFO", "/dev/zero": "a character device"} {
		errc := make(chan error, 1)
		go func() {
			_, err := Read(path, 1<<20)
			errc <- err
		}()
		select {
		case err := <-errc:
			if !errors.Is(err, ErrNotRegular) || !strings.Contains(err.Error(), kind) {
				t.Errorf("Read(%s) = %v, want ErrNotRegular (%s)", path, err, kind)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("Read(%s) still blocked after 10 s", path)
		}
	}
}
