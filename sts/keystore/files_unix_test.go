//go:build unix

package keystore

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/mfabridge/mfabridge/internal/securefile"
)

// Key files go through internal/securefile: a FIFO or a link in place of a
// key file is refused (and never opened for reading, so a FIFO cannot hang
// the store), and a new store directory is created private.
func TestKeyFilesPrivate(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "keys", "age")
	st := NewAgeFile(dir, staticPass("correct horse"), WithScryptWorkFactor(10))
	if err := st.Put(ctx, "alice", aliceKey); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(dir)
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("store directory: %v %v, want mode 0700", fi, err)
	}
	path := filepath.Join(dir, "alice.age")
	if err := os.Rename(path, filepath.Join(dir, "real")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(dir, "real"), path); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Get(ctx, "alice"); !errors.Is(err, ErrUnsafeFile) || !errors.Is(err, securefile.ErrLink) {
		t.Fatalf("symlink: got %v, want ErrUnsafeFile wrapping securefile.ErrLink", err)
	}
	os.Remove(path)
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Get(ctx, "alice"); !errors.Is(err, ErrUnsafeFile) || !errors.Is(err, securefile.ErrNotRegular) {
		t.Fatalf("fifo: got %v, want ErrUnsafeFile wrapping securefile.ErrNotRegular", err)
	}
}
