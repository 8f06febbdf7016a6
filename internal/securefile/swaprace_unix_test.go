//go:build unix

package securefile

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// swapRace is a path that a goroutine keeps replacing, each time by an
// atomic rename, with in turn a private regular file of ours and each of
// kinds: a symbolic link to an existing private file of ours (the victim),
// a FIFO, a symbolic link to a victim that does not exist. Only the regular
// file may ever be accepted; a check-then-open implementation (lstat, then
// open following links and blocking on FIFOs) loses the race within some
// thousands of calls: against one, put back on purpose, every case failed
// in each of three runs, after at most 26,000 calls (most within 5,000) or
// by blocking on the FIFO; each race makes at least 50,000.
type swapRace struct {
	path, victim, missing string
	ours, victimData      []byte
	kinds                 []int // swapped in after each regular file
}

const (
	kindRegular = iota
	kindLink
	kindFIFO
	kindMissingLink
	nKinds
)

func newSwapRace(t *testing.T, kinds ...int) *swapRace {
	t.Helper()
	dir := filepath.Join(testDir(t), "d")
	if err := EnsureDir(dir, nil); err != nil {
		t.Fatal(err)
	}
	r := &swapRace{
		path:       filepath.Join(dir, "entry"),
		victim:     filepath.Join(dir, "victim"),
		missing:    filepath.Join(dir, "victim-new"),
		ours:       []byte("ours"),
		victimData: []byte("VICTIM"),
		kinds:      kinds,
	}
	if err := os.WriteFile(r.victim, r.victimData, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(r.path, r.ours, 0o600); err != nil {
		t.Fatal(err)
	}
	return r
}

// run swaps until stop is closed; the returned channel is closed when it
// has stopped.
func (r *swapRace) run(t *testing.T, stop <-chan struct{}) <-chan struct{} {
	done := make(chan struct{})
	tmp := r.path + ".swap"
	go func() {
		defer close(done)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			os.Remove(tmp)
			kind := kindRegular
			if i%2 == 1 {
				kind = r.kinds[i/2%len(r.kinds)]
			}
			var err error
			switch kind {
			case kindRegular:
				err = os.WriteFile(tmp, r.ours, 0o600)
			case kindLink:
				err = os.Symlink(r.victim, tmp)
			case kindFIFO:
				err = syscall.Mkfifo(tmp, 0o600)
			case kindMissingLink:
				err = os.Symlink(r.missing, tmp)
			}
			if err == nil {
				err = os.Rename(tmp, r.path)
			}
			if err != nil {
				t.Errorf("swap: %v", err)
				return
			}
		}
	}()
	return done
}

// check says what the victims went through: never written, never created.
func (r *swapRace) check(t *testing.T) {
	t.Helper()
	if b, err := os.ReadFile(r.victim); err != nil || !bytes.Equal(b, r.victimData) {
		t.Errorf("the victim holds %q (%v), want %q", b, err, r.victimData)
	}
	if _, err := os.Lstat(r.missing); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a link's missing target was created: %v", err)
	}
}

// race runs op against the swapping path until it has made minOps calls
// and met the regular file and each of the swapped kinds at least minEach
// times. op returns the kind it met, or an error for
// a wrong answer. A call that blocks (a FIFO opened for reading) or a race
// never exercised runs into the deadline, which bounds a hung test and is
// not a bet on how fast the calls are.
func (r *swapRace) race(t *testing.T, op func() (kind int, err error)) {
	t.Helper()
	const minOps, minEach = 50000, 20
	stop := make(chan struct{})
	swapped := r.run(t, stop)
	type result struct {
		seen [nKinds]int
		n    int
		err  error
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out := make(chan result, 1)
	go func() {
		var res result
		for ctx.Err() == nil {
			kind, err := op()
			res.n++
			if err != nil {
				res.err = fmt.Errorf("call %d: %w", res.n, err)
				break
			}
			res.seen[kind]++
			if res.n >= minOps && r.exercised(res.seen, minEach) {
				break
			}
		}
		out <- res
	}()
	var res result
	select {
	case res = <-out:
	case <-ctx.Done():
		close(stop)
		<-swapped
		// A call stuck opening the FIFO for reading: open it for
		// writing so that it ends, then fail.
		if f, err := os.OpenFile(r.path, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
			f.Close()
		}
		t.Fatalf("a call did not return within a minute: it blocked (on a FIFO?)")
	}
	close(stop)
	<-swapped
	if res.err != nil {
		t.Fatal(res.err)
	}
	if ctx.Err() != nil {
		t.Fatalf("the race was not exercised in a minute: %d calls, seen %v (regular, link, FIFO, missing link)", res.n, res.seen)
	}
	t.Logf("%d calls: accepted the regular file %d times, refused %d links and %d FIFOs", res.n, res.seen[kindRegular], res.seen[kindLink], res.seen[kindFIFO])
	r.check(t)
}

// exercised reports whether the regular file and every swapped kind were
// met at least n times (a link, dangling or not, is refused as a link).
func (r *swapRace) exercised(seen [nKinds]int, n int) bool {
	if seen[kindRegular] < n {
		return false
	}
	for _, k := range r.kinds {
		if k == kindMissingLink {
			k = kindLink
		}
		if seen[k] < n {
			return false
		}
	}
	return true
}

// refusal maps an error to the kind of file that was rightly refused.
func refusal(err error) (int, error) {
	switch {
	case errors.Is(err, ErrLink):
		return kindLink, nil
	case errors.Is(err, ErrNotRegular):
		return kindFIFO, nil
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
			r.race(t, func() (int, error) {
				b, err := ReadFile(r.path, 1<<10)
				if err != nil {
					return refusal(err)
				}
				if !bytes.Equal(b, r.ours) {
					return 0, fmt.Errorf("read %q, not the regular file's %q (followed a link?)", b, r.ours)
				}
				return kindRegular, nil
			})
		})
	}
}

var swapCases = []struct {
	name  string
	kinds []int
}{
	{"link", []int{kindLink}},
	{"fifo", []int{kindFIFO}},
	{"dangling link", []int{kindMissingLink}},
}

// TestLockSwapRace pins issue 13 cases 2 and 3 for lock files (Lock): it
// locks the regular file or refuses; it never locks (or creates) a link's
// target and never blocks on a FIFO.
func TestLockSwapRace(t *testing.T) {
	for _, tc := range swapCases {
		t.Run(tc.name, func(t *testing.T) {
			r := newSwapRace(t, tc.kinds...)
			victim, err := os.Open(r.victim)
			if err != nil {
				t.Fatal(err)
			}
			defer victim.Close()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			r.race(t, func() (int, error) {
				unlock, err := Lock(ctx, r.path, nil)
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
				if _, err := os.Lstat(r.missing); err == nil {
					return 0, errors.New("Lock created a dangling link's target")
				}
				return kindRegular, nil
			})
		})
	}
}
