//go:build unix

package securefile

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestUnixModes(t *testing.T) {
	dir := filepath.Join(testDir(t), "d")
	if err := EnsureDir(dir); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(dir); fi.Mode().Perm() != 0o700 {
		t.Fatalf("new directory mode %v, want 0700", fi.Mode())
	}
	path := filepath.Join(dir, "f")
	lock := filepath.Join(dir, "l")
	old := syscall.Umask(0o277) // a umask that would leave 0400
	err1, err2 := WriteFile(path, []byte("x")), EnsureFile(lock)
	syscall.Umask(old)
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	for _, p := range []string{path, lock} {
		if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want 0600", p, fi.Mode())
		}
	}
	for _, mode := range []os.FileMode{0o640, 0o604, 0o400, 0o700, 0} {
		os.Chmod(path, mode)
		_, err := ReadFile(path, 10)
		if !errors.Is(err, ErrNotPrivate) || !strings.Contains(err.Error(), "want 0600") || FixOf(err) != "chmod 600 "+path {
			t.Errorf("mode %#o: %v (fix %q)", mode, err, FixOf(err))
		}
	}
	// A loose directory of ours is tightened; CheckDir reports it first.
	os.Chmod(dir, 0o755)
	if err := CheckDir(dir); !errors.Is(err, ErrNotPrivate) || FixOf(err) != "chmod 700 "+dir {
		t.Errorf("CheckDir of a 0755 directory: %v", err)
	}
	if err := EnsureDir(dir); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(dir); fi.Mode().Perm() != 0o700 {
		t.Errorf("mode %v after EnsureDir, want 0700", fi.Mode())
	}
}

func TestUnixLinksAndSpecialFiles(t *testing.T) {
	base := testDir(t)
	dir := filepath.Join(base, "d")
	if err := EnsureDir(dir); err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(dir, "target")
	WriteFile(target, []byte("secret"))
	link := filepath.Join(dir, "link")
	os.Symlink(target, link)
	if _, err := ReadFile(link, 10); !errors.Is(err, ErrLink) {
		t.Errorf("ReadFile of a symlink: %v, want ErrLink", err)
	}
	if err := EnsureFile(link); !errors.Is(err, ErrLink) {
		t.Errorf("EnsureFile of a symlink: %v, want ErrLink", err)
	}
	dirLink := filepath.Join(base, "dirlink")
	os.Symlink(dir, dirLink)
	if err := EnsureDir(dirLink); !errors.Is(err, ErrLink) {
		t.Errorf("EnsureDir of a symlink: %v, want ErrLink", err)
	}
	// A FIFO is refused at once, not waited on.
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadFile(fifo, 10); !errors.Is(err, ErrNotRegular) {
		t.Errorf("ReadFile of a FIFO: %v, want ErrNotRegular", err)
	}
	// WriteFile replaces a link, never writes through it.
	if err := WriteFile(link, []byte("new")); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(target); string(b) != "secret" {
		t.Errorf("target written through the link: %q", b)
	}
}

func TestUnixForeignOwner(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to chown")
	}
	dir := filepath.Join(testDir(t), "d")
	EnsureDir(dir)
	path := filepath.Join(dir, "f")
	WriteFile(path, []byte("x"))
	os.Chown(path, 4242, 4242)
	if _, err := ReadFile(path, 10); !errors.Is(err, ErrForeign) || !strings.Contains(err.Error(), "owned by uid 4242") {
		t.Errorf("foreign file: %v", err)
	}
	os.Chown(dir, 4242, 4242)
	if err := EnsureDir(dir); !errors.Is(err, ErrForeign) {
		t.Errorf("foreign directory: %v", err)
	}
}
