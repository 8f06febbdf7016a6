//go:build unix

package sts

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/mfabridge/mfabridge/internal/securefile"
	"github.com/mfabridge/mfabridge/sts/stepcache"
)

func TestCachePermissions(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "mfabridge")
	c, err := openCache(dir)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(dir)
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("dir mode %v (%v), want 0700", fi.Mode(), err)
	}
	if err := c.put(stepcache.CacheKey("k"), testEntry("AKIA1", t0)); err != nil {
		t.Fatal(err)
	}
	if err := c.recordStep("GAHT12345678", 42, t0); err != nil {
		t.Fatal(err)
	}
	unlock, err := c.lockSerial(context.Background(), "GAHT12345678", nil)
	if err != nil {
		t.Fatal(err)
	}
	unlock()
	ents, _ := os.ReadDir(dir)
	if len(ents) != 3 {
		t.Fatalf("want entry, ledger and lock files, got %v", ents)
	}
	for _, e := range ents {
		fi, _ := e.Info()
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want 0600", e.Name(), fi.Mode())
		}
	}
	// A loose directory of ours is tightened.
	os.Chmod(dir, 0o755)
	if _, err := openCache(dir); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(dir); fi.Mode().Perm() != 0o700 {
		t.Errorf("dir mode %v after reopen, want 0700", fi.Mode())
	}
	// A directory owned by someone else is refused.
	if os.Getuid() == 0 {
		os.Chown(dir, 4242, 4242)
		if _, err := openCache(dir); !errors.Is(err, securefile.ErrForeign) || !strings.Contains(err.Error(), "owned by uid 4242") {
			t.Errorf("foreign dir: got %v", err)
		}
		os.Chown(dir, 0, 0)
	}
}

func TestOpenCacheRefusesNonDirectory(t *testing.T) {
	base := t.TempDir()
	real := filepath.Join(base, "real")
	if err := os.Mkdir(real, 0o700); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(base, "link")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(base, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		dir  string
		want error
		text string
	}{
		{link, securefile.ErrLink, ": is a link: it could redirect cached credentials elsewhere"},
		{file, securefile.ErrNotDir, ": is not a directory"},
	} {
		_, err := openCache(tt.dir)
		var ce *CacheDirError
		if !errors.Is(err, tt.want) || !errors.As(err, &ce) || !strings.Contains(err.Error(), tt.text) {
			t.Errorf("openCache(%s): got %v, want a *CacheDirError %v with the cause", tt.dir, err, tt.want)
		}
	}
	// A missing directory below a missing parent is created.
	if _, err := openCache(filepath.Join(real, "x", "y")); err != nil {
		t.Fatal(err)
	}
}

// untrustedFiles are the Unix ways a cache file is not ours to trust.
func untrustedFiles(good []byte) []untrustedCase {
	return []untrustedCase{
		{"group readable", func(t *testing.T, p string) { os.WriteFile(p, good, 0o600); os.Chmod(p, 0o640) }},
		{"unreadable", func(t *testing.T, p string) { os.WriteFile(p, good, 0o600); os.Chmod(p, 0) }},
		{"symlink", func(t *testing.T, p string) {
			target := p + ".real"
			os.WriteFile(target, good, 0o600)
			os.Symlink(target, p)
		}},
		{"fifo", func(t *testing.T, p string) {
			if err := syscall.Mkfifo(p, 0o600); err != nil {
				t.Fatal(err)
			}
		}},
		{"foreign owner", func(t *testing.T, p string) {
			if os.Getuid() != 0 {
				t.Skip("needs root to chown")
			}
			os.WriteFile(p, good, 0o600)
			os.Chown(p, 4242, 4242)
		}},
	}
}
