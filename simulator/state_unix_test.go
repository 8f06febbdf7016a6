//go:build unix

package simulator

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/mfabridge/mfabridge/internal/securefile"
	"github.com/mfabridge/mfabridge/internal/testtemp"
)

// TestOpenRefusesUntrustedFile: the state file holds the card's keys, so
// Open refuses one others may read, a link, and someone else's, saying why
// and how to fix it.
func TestOpenRefusesUntrustedFile(t *testing.T) {
	dir := testtemp.Dir(t)
	path := filepath.Join(dir, "card.json")
	if _, err := Create(path, 1, fw543); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(path); err != nil {
		t.Fatalf("Open of a fresh card: %v", err)
	}
	for _, tt := range []struct {
		mode os.FileMode
		want []string
	}{
		{0o640, []string{"mode 0640", "chmod 600 " + path}},
		{0o604, []string{"mode 0604", "chmod 600 " + path}},
	} {
		os.Chmod(path, tt.mode)
		_, err := Open(path)
		if !errors.Is(err, securefile.ErrNotPrivate) {
			t.Errorf("mode %#o: %v, want ErrNotPrivate", tt.mode, err)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("mode %#o: %q lacks %q", tt.mode, err, w)
			}
		}
	}
	os.Chmod(path, 0o600)
	link := filepath.Join(dir, "link.json")
	os.Symlink(path, link)
	if _, err := Open(link); !errors.Is(err, securefile.ErrLink) {
		t.Errorf("Open of a symlink: %v, want ErrLink", err)
	}
	if os.Getuid() == 0 {
		os.Chown(path, 4242, 4242)
		if _, err := Open(path); !errors.Is(err, securefile.ErrForeign) || !strings.Contains(err.Error(), "uid 4242") {
			t.Errorf("Open of another user's file: %v", err)
		}
	}
	fifo := filepath.Join(dir, "fifo.json")
	syscall.Mkfifo(fifo, 0o600)
	if _, err := Open(fifo); !errors.Is(err, securefile.ErrNotRegular) {
		t.Errorf("Open of a FIFO: %v, want ErrNotRegular", err)
	}
}
