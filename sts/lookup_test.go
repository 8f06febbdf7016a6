package sts

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/mfabridge/mfabridge/internal/securefile"
	"github.com/mfabridge/mfabridge/sts/stepcache"
)

// TestLookupAsProvider: stepcache.Lookup, which answers a cached
// credential-process before the SDK is initialised, hands out exactly what
// the Provider hands out without calling STS, and misses exactly when the
// Provider calls STS: over every test profile (shared session, short role,
// direct MFA, external id, mfabridge_mfa_max_age, session profile) at
// times around each margin and expiry.
func TestLookupAsProvider(t *testing.T) {
	h := newHarness(t)
	names := h.cfg.Names()
	if len(names) < 8 {
		t.Fatalf("profiles %v", names)
	}
	hits, misses := 0, 0
	// 7-minute steps over 14 hours: past each role's margin and expiry,
	// the 30-minute MFA age limit and the 12-hour session.
	for i := range 120 {
		if i > 0 {
			h.clock.Advance(7 * time.Minute)
		}
		for _, name := range names {
			p, err := h.cfg.Resolve(name)
			if err != nil {
				continue // default: no mfa_serial
			}
			got, lerr := stepcache.Lookup(p, h.dir, h.clock.Now())
			if lerr != nil {
				t.Fatalf("%s at +%s: Lookup: %v", name, h.clock.Now().Sub(t0), lerr)
			}
			before := h.counts()
			want, err := h.provider(name).Credentials(context.Background())
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			called := h.counts() != before
			switch {
			case got == nil && !called:
				t.Errorf("%s at +%s: Lookup missed, the Provider served it from the cache", name, h.clock.Now().Sub(t0))
			case got != nil && called:
				t.Errorf("%s at +%s: Lookup hit, the Provider called STS", name, h.clock.Now().Sub(t0))
			case got != nil && *got != *want:
				t.Errorf("%s: Lookup %+v, Provider %+v", name, got, want)
			}
			if got != nil {
				hits++
			} else {
				misses++
			}
		}
	}
	if hits == 0 || misses == 0 {
		t.Errorf("%d hits, %d misses: want both", hits, misses)
	}
}

// TestLookupOnlyReads: Lookup neither creates a missing cache directory (a
// miss) nor tightens a loose one (an error, which the Provider reports);
// the Provider does both.
func TestLookupOnlyReads(t *testing.T) {
	h := newHarness(t)
	p, err := h.cfg.Resolve(h.cfg.Names()[1])
	if err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(t.TempDir(), "cache")
	if c, err := stepcache.Lookup(p, missing, h.clock.Now()); c != nil || err != nil {
		t.Errorf("missing directory: %v, %v; want a miss", c, err)
	}
	if _, err := os.Lstat(missing); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Lookup created %s (%v)", missing, err)
	}
	if runtime.GOOS == "windows" {
		return // no mode bits
	}
	loose := t.TempDir()
	if err := os.Chmod(loose, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := stepcache.Lookup(p, loose, h.clock.Now()); !errors.Is(err, securefile.ErrNotPrivate) {
		t.Errorf("loose directory: %v; want ErrNotPrivate", err)
	}
	if fi, err := os.Stat(loose); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("Lookup changed the mode of %s: %v, %v", loose, fi.Mode(), err)
	}
}
