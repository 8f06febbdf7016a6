package securefile

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/mfabridge/mfabridge/internal/testtemp"
)

// These tests run on every system (on Windows under Wine in CI).

func TestWriteReadRoundTrip(t *testing.T) {
	dir := filepath.Join(testDir(t), "a", "b")
	if err := EnsureDir(dir, nil); err != nil {
		t.Fatal(err)
	}
	if err := CheckDir(dir, nil); err != nil {
		t.Fatalf("CheckDir after EnsureDir: %v", err)
	}
	path := filepath.Join(dir, "entry.json")
	for _, data := range [][]byte{[]byte("first"), []byte("second, longer"), {}} {
		if err := WriteFile(path, data); err != nil {
			t.Fatal(err)
		}
		got, err := ReadFile(path, 1<<20)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("ReadFile: %q, %v; want %q", got, err, data)
		}
		if err := Check(path); err != nil {
			t.Fatalf("Check: %v", err)
		}
	}
	if got, err := ReadFile(path, 3); err != nil || len(got) != 0 {
		t.Fatalf("empty file: %q, %v", got, err)
	}
	WriteFile(path, []byte("0123456789"))
	if got, err := ReadFile(path, 4); err != nil || string(got) != "0123" {
		t.Fatalf("limit 4: %q, %v", got, err)
	}
	// No temporary file is left behind.
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Fatalf("directory holds %v, want only entry.json", ents)
	}
	// EnsureDir again: nothing to do.
	if err := EnsureDir(dir, nil); err != nil {
		t.Fatal(err)
	}
}

func TestEnsureFile(t *testing.T) {
	dir := filepath.Join(testDir(t), "d")
	if err := EnsureDir(dir, nil); err != nil {
		t.Fatal(err)
	}
	lock := filepath.Join(dir, "x.lock")
	for range 2 { // creates, then finds it
		if err := EnsureFile(lock); err != nil {
			t.Fatal(err)
		}
		if err := Check(lock); err != nil {
			t.Fatal(err)
		}
	}
	// It never truncates: a lock file may be a file with content.
	WriteFile(lock, []byte("kept"))
	if err := EnsureFile(lock); err != nil {
		t.Fatal(err)
	}
	if b, _ := ReadFile(lock, 10); string(b) != "kept" {
		t.Fatalf("content %q after EnsureFile", b)
	}
}

func TestWrongKind(t *testing.T) {
	dir := filepath.Join(testDir(t), "d")
	if err := EnsureDir(dir, nil); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing")
	if _, err := ReadFile(missing, 10); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	if err := Check(missing); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Check of a missing file: %v", err)
	}
	if _, err := ReadFile(dir, 10); !errors.Is(err, ErrNotRegular) {
		t.Errorf("ReadFile of a directory: %v, want ErrNotRegular", err)
	}
	if err := EnsureFile(dir); !errors.Is(err, ErrNotRegular) {
		t.Errorf("EnsureFile of a directory: %v, want ErrNotRegular", err)
	}
	file := filepath.Join(dir, "file")
	if err := WriteFile(file, nil); err != nil {
		t.Fatal(err)
	}
	if err := EnsureDir(file, nil); !errors.Is(err, ErrNotDir) {
		t.Errorf("EnsureDir of a file: %v, want ErrNotDir", err)
	}
	var e *Error
	if err := CheckDir(file, nil); !errors.As(err, &e) || e.Path != file || e.Err != ErrNotDir {
		t.Errorf("CheckDir of a file: %#v", err)
	}
}

// testDir is a temporary directory that Wine can remove (see testtemp).
func testDir(t *testing.T) string { return testtemp.Dir(t) }

// TestLockExcludes: a second Lock of the same file waits (and says so
// once) until the first is released, and gives up when its context ends.
func TestLockExcludes(t *testing.T) {
	path := filepath.Join(testDir(t), "x.lock")
	unlock, err := Lock(context.Background(), path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := Check(path); err != nil {
		t.Fatalf("the lock file Lock created is not private: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	waited := 0
	_, err = Lock(ctx, path, func() { waited++; cancel() })
	if !errors.Is(err, context.Canceled) || waited != 1 {
		t.Fatalf("second Lock while held: %v (waiting called %d times), want context.Canceled after one call", err, waited)
	}
	got := make(chan error, 1)
	go func() {
		u, err := Lock(context.Background(), path, unlock) // releases the first on waiting
		if err == nil {
			u()
		}
		got <- err
	}()
	if err := <-got; err != nil {
		t.Fatalf("Lock after release: %v", err)
	}
}
