//go:build unix

package sts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/mfabridge/mfabridge/internal/securefile"
	"github.com/mfabridge/mfabridge/internal/swaprace"
)

// Issue 13 cases 2 and 3 at the cache's own entry points: the cache entry
// (get), the TOTP ledger (lastStep) and the serial's lock (lockSerial) were
// once checked with lstat and then opened, so a link or a FIFO swapped in
// between was followed or blocked on. Here a goroutine keeps replacing the
// file (atomic renames) with the cache's own regular file, a link to a
// victim that is a valid file of the same kind, a FIFO, and a link to a
// victim that does not exist (internal/swaprace); the cache must only
// ever accept its own file. internal/securefile's swap-race tests do the
// same for the primitives; these fail if the cache stops using them.

// raceSwap runs op (accepted: it met the regular file; refused: it turned
// the path down; error: a wrong answer) against path swapped with ours, a
// link to victim, a FIFO and a link to missing (internal/swaprace).
func raceSwap(t *testing.T, path string, ours []byte, victim, missing string, op func() (accepted bool, err error)) {
	t.Helper()
	r := &swaprace.Race{Path: path, Victim: victim, Missing: missing, Ours: ours,
		Kinds: []swaprace.Kind{swaprace.Link, swaprace.FIFO, swaprace.MissingLink}}
	r.Run(t, func() (swaprace.Kind, error) {
		ok, err := op()
		if ok {
			return swaprace.Regular, err
		}
		return swaprace.Refused, err
	})
}

func TestCacheEntrySwapRace(t *testing.T) {
	dir := testCacheDir(t)
	c := mustOpenCache(t, dir)
	mine, theirs := testEntry("AKIAOURS", t0), testEntry("AKIAVICTIM", t0)
	if err := c.put("k", mine); err != nil {
		t.Fatal(err)
	}
	if err := c.put("victim", theirs); err != nil {
		t.Fatal(err)
	}
	ours, err := os.ReadFile(c.path("k.json"))
	if err != nil {
		t.Fatal(err)
	}
	raceSwap(t, c.path("k.json"), ours, c.path("victim.json"), c.path("gone.json"), func() (bool, error) {
		e := c.get("k", discardLog)
		switch {
		case e == nil:
			return false, nil
		case e.Credentials.AccessKeyID != "AKIAOURS":
			return false, fmt.Errorf("get handed out %s through a link", e.Credentials.AccessKeyID)
		}
		return true, nil
	})
}

func TestLedgerSwapRace(t *testing.T) {
	dir := testCacheDir(t)
	c := mustOpenCache(t, dir)
	const serial, other = "arn:aws:iam::111111111111:mfa/ours", "arn:aws:iam::111111111111:mfa/victim"
	if err := c.recordStep(serial, 1000, time.Unix(30000, 0)); err != nil {
		t.Fatal(err)
	}
	ours, err := os.ReadFile(c.path(ledgerName(serial)))
	if err != nil {
		t.Fatal(err)
	}
	// The victim: the ledger of another serial rewritten as ours with a
	// later step, so reading it would be believed.
	var l ledgerEntry
	if err := json.Unmarshal(ours, &l); err != nil {
		t.Fatal(err)
	}
	l.Step = 2000
	b, _ := json.Marshal(l)
	victim := c.path(ledgerName(other))
	if err := os.WriteFile(victim, b, 0o600); err != nil {
		t.Fatal(err)
	}
	raceSwap(t, c.path(ledgerName(serial)), ours, victim, c.path("gone.json"), func() (bool, error) {
		switch step := c.lastStep(serial); step {
		case -1:
			return false, nil
		case 1000:
			return true, nil
		default:
			return false, fmt.Errorf("lastStep = %d, read through a link", step)
		}
	})
}

func TestLockSerialSwapRace(t *testing.T) {
	dir := testCacheDir(t)
	c := mustOpenCache(t, dir)
	const serial = "arn:aws:iam::111111111111:mfa/ours"
	path := c.lockPath(serial)
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	victimPath := c.lockPath("arn:aws:iam::111111111111:mfa/victim")
	if err := os.WriteFile(victimPath, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	victim, err := os.Open(victimPath)
	if err != nil {
		t.Fatal(err)
	}
	defer victim.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	raceSwap(t, path, nil, victimPath, c.path("gone.lock"), func() (bool, error) {
		unlock, err := c.lockSerial(ctx, serial, nil)
		if err != nil {
			if errors.Is(err, securefile.ErrLink) || errors.Is(err, securefile.ErrNotRegular) {
				return false, nil
			}
			return false, err
		}
		defer unlock()
		switch err := syscall.Flock(int(victim.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); {
		case errors.Is(err, syscall.EWOULDBLOCK):
			return false, errors.New("lockSerial locked another serial's lock file through a link")
		case err != nil:
			return false, err
		}
		syscall.Flock(int(victim.Fd()), syscall.LOCK_UN)
		return true, nil
	})
}
