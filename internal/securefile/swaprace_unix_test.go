//go:build unix

package securefile

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/mfabridge/mfabridge/internal/swaprace"
)

// newSwapRace is a swap race (internal/swaprace) in a private folder:
// the path holds "ours", the victim "VICTIM".
func newSwapRace(t *testing.T, kinds ...swaprace.Kind) *swaprace.Race {
	t.Helper()
	dir := filepath.Join(testDir(t), "d")
	if err := EnsureDir(dir, nil); err != nil {
		t.Fatal(err)
	}
	r := &swaprace.Race{
		Path:    filepath.Join(dir, "entry"),
		Victim:  filepath.Join(dir, "victim"),
		Missing: filepath.Join(dir, "victim-new"),
		Ours:    []byte("ours"),
		Kinds:   kinds,
	}
	if err := os.WriteFile(r.Victim, []byte("VICTIM"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(r.Path, r.Ours, 0o600); err != nil {
		t.Fatal(err)
	}
	return r
}

// refusal maps an error to the kind of file that was rightly refused.
func refusal(err error) (swaprace.Kind, error) {
	switch {
	case errors.Is(err, ErrLink):
		return swaprace.Link, nil
	case errors.Is(err, ErrNotRegular):
		return swaprace.FIFO, nil
	}
	return 0, fmt.Errorf("unexpected error %w", err)
}

// TestReadFileSwapRace pins issue 13 cases 2 and 3 for cache entries and
// the ledger (securefile.ReadFile): while the path is swapped between a
// regular file, links and a FIFO, ReadFile returns the regular file's
// content or refuses; it never reads through a link and never blocks.
func TestReadFileSwapRace(t *testing.T) {
	for _, tc := range swapCases {
		t.Run(tc.name, func(t *testing.T) {
			r := newSwapRace(t, tc.kinds...)
			r.Run(t, func() (swaprace.Kind, error) {
				b, err := ReadFile(r.Path, 1<<10)
				if err != nil {
					return refusal(err)
				}
				if !bytes.Equal(b, r.Ours) {
					return 0, fmt.Errorf("read %q, not the regular file's %q (followed a link?)", b, r.Ours)
				}
				return swaprace.Regular, nil
			})
		})
	}
}

var swapCases = []struct {
	name  string
	kinds []swaprace.Kind
}{
	{"link", []swaprace.Kind{swaprace.Link}},
	{"fifo", []swaprace.Kind{swaprace.FIFO}},
	{"dangling link", []swaprace.Kind{swaprace.MissingLink}},
}

// TestLockSwapRace pins issue 13 cases 2 and 3 for lock files (Lock): it
// locks the regular file or refuses; it never locks (or creates) a link's
// target and never blocks on a FIFO.
func TestLockSwapRace(t *testing.T) {
	for _, tc := range swapCases {
		t.Run(tc.name, func(t *testing.T) {
			r := newSwapRace(t, tc.kinds...)
			victim, err := os.Open(r.Victim)
			if err != nil {
				t.Fatal(err)
			}
			defer victim.Close()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			r.Run(t, func() (swaprace.Kind, error) {
				unlock, err := Lock(ctx, r.Path, nil)
				if err != nil {
					return refusal(err)
				}
				defer unlock()
				// Holding the lock Lock took: the victim must still be free.
				switch err := syscall.Flock(int(victim.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); {
				case errors.Is(err, syscall.EWOULDBLOCK):
					return 0, errors.New("Lock locked the victim through a link")
				case err != nil:
					return 0, err
				}
				syscall.Flock(int(victim.Fd()), syscall.LOCK_UN)
				if _, err := os.Lstat(r.Missing); err == nil {
					return 0, errors.New("Lock created a dangling link's target")
				}
				return swaprace.Regular, nil
			})
		})
	}
}
