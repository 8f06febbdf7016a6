//go:build unix

package securefile

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestUnixModes(t *testing.T) {
	dir := filepath.Join(testDir(t), "d")
	if err := EnsureDir(dir, nil); err != nil {
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
	ours := func(name string) bool { return name == "f" || name == "l" }
	if err := CheckDir(dir, ours); !errors.Is(err, ErrNotPrivate) || FixOf(err) != "chmod 700 "+dir {
		t.Errorf("CheckDir of a 0755 directory: %v", err)
	}
	if err := EnsureDir(dir, ours); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(dir); fi.Mode().Perm() != 0o700 {
		t.Errorf("mode %v after EnsureDir, want 0700", fi.Mode())
	}
}

// TestEnsureDirLeavesSharedDirs pins issue 13 case 1: a directory that
// EnsureDir did not create and that holds other files (/, /proc, a project
// folder), or that has the sticky bit (a 1777 tmp), is never chmod'ed: the
// error says so and how to pick a folder of its own.
func TestEnsureDirLeavesSharedDirs(t *testing.T) {
	ours := func(name string) bool { return strings.HasSuffix(name, ".ours") }
	for _, tc := range []struct {
		name  string
		mode  os.FileMode // chmod argument (os.ModeSticky for the sticky bit)
		files []string
		want  error // nil: tightened to 0700
	}{
		{"empty 0755", 0o755, nil, nil},
		{"only ours", 0o755, []string{"a.ours", "b.ours"}, nil},
		{"foreign file", 0o755, []string{"a.ours", "passwd"}, ErrShared},
		{"foreign, read-only to others", 0o750, []string{"notes.txt"}, ErrShared},
		{"sticky tmp, empty", 0o777 | os.ModeSticky, nil, ErrShared},
		{"sticky tmp, ours", 0o777 | os.ModeSticky, []string{"a.ours"}, ErrShared},
		{"setgid", 0o775 | os.ModeSetgid, nil, ErrShared},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(testDir(t), "shared")
			os.Mkdir(dir, 0o700)
			for _, f := range tc.files {
				if err := os.WriteFile(filepath.Join(dir, f), nil, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.Chmod(dir, tc.mode); err != nil {
				t.Fatal(err)
			}
			before, _ := os.Lstat(dir)
			if err := CheckDir(dir, ours); tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("CheckDir: %v, want %v", err, tc.want)
			}
			err := EnsureDir(dir, ours)
			after, _ := os.Lstat(dir)
			if tc.want == nil {
				if err != nil || after.Mode() != os.ModeDir|0o700 {
					t.Fatalf("EnsureDir: %v, mode %v; want nil, drwx------", err, after.Mode())
				}
				return
			}
			if !errors.Is(err, tc.want) || FixOf(err) != "use a folder of its own, e.g. "+filepath.Join(dir, "mfabridge") {
				t.Fatalf("EnsureDir: %v (fix %q), want %v with a fix", err, FixOf(err), tc.want)
			}
			if after.Mode() != before.Mode() {
				t.Fatalf("mode changed from %v to %v", before.Mode(), after.Mode())
			}
		})
	}
	// The system's own shared directories, as the issue found them.
	for _, dir := range []string{"/", "/proc", os.TempDir()} {
		before, err := os.Lstat(dir)
		if err != nil {
			continue
		}
		err = EnsureDir(dir, ours)
		after, _ := os.Lstat(dir)
		if err == nil || after.Mode() != before.Mode() {
			t.Errorf("EnsureDir(%s): %v, mode %v -> %v; want an error and no change", dir, err, before.Mode(), after.Mode())
		}
	}
	// A directory EnsureDir creates itself is 0700 whatever the umask.
	old := syscall.Umask(0o277)
	dir := filepath.Join(testDir(t), "new", "cache")
	err := EnsureDir(dir, nil)
	syscall.Umask(old)
	if fi, _ := os.Lstat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("new directory: %v, %v", err, fi)
	}
}

func TestUnixLinksAndSpecialFiles(t *testing.T) {
	base := testDir(t)
	dir := filepath.Join(base, "d")
	if err := EnsureDir(dir, nil); err != nil {
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
	if err := EnsureDir(dirLink, nil); !errors.Is(err, ErrLink) {
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
	EnsureDir(dir, nil)
	path := filepath.Join(dir, "f")
	WriteFile(path, []byte("x"))
	os.Chown(path, 4242, 4242)
	if _, err := ReadFile(path, 10); !errors.Is(err, ErrForeign) || !strings.Contains(err.Error(), "owned by uid 4242") {
		t.Errorf("foreign file: %v", err)
	}
	os.Chown(dir, 4242, 4242)
	if err := EnsureDir(dir, nil); !errors.Is(err, ErrForeign) {
		t.Errorf("foreign directory: %v", err)
	}
}

// TestLockRefusesLinksAndFIFOs pins issue 13 cases 2 and 3 for lock files:
// a symbolic link at the lock path is refused and its target never
// created; a FIFO is refused without blocking (the test would hang).
func TestLockRefusesLinksAndFIFOs(t *testing.T) {
	dir := filepath.Join(testDir(t), "d")
	if err := EnsureDir(dir, nil); err != nil {
		t.Fatal(err)
	}
	victim := filepath.Join(testDir(t), "victim")
	link := filepath.Join(dir, "link.lock")
	os.Symlink(victim, link)
	if _, err := Lock(context.Background(), link, nil); !errors.Is(err, ErrLink) {
		t.Errorf("Lock of a dangling symlink: %v, want ErrLink", err)
	}
	if _, err := os.Lstat(victim); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the link's target was created: %v", err)
	}
	fifo := filepath.Join(dir, "fifo.lock")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Lock(context.Background(), fifo, nil); !errors.Is(err, ErrNotRegular) {
		t.Errorf("Lock of a FIFO: %v, want ErrNotRegular", err)
	}
	for _, read := range []func() error{
		func() error { _, err := ReadFile(fifo, 10); return err },
		func() error { return Check(fifo) },
		func() error { return EnsureFile(fifo) },
	} {
		if err := read(); !errors.Is(err, ErrNotRegular) {
			t.Errorf("FIFO: %v, want ErrNotRegular", err)
		}
	}
	if _, err := Lock(context.Background(), dir, nil); !errors.Is(err, ErrNotRegular) {
		t.Errorf("Lock of a directory: %v, want ErrNotRegular", err)
	}
}
