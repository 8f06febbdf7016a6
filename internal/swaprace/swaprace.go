//go:build unix

// Package swaprace is a test helper for issue 13 cases 2 and 3: it races
// an operation on a path against a goroutine that keeps replacing the
// path, each time by an atomic rename, with in turn the caller's own
// private regular file and each of a set of kinds: a symbolic link to an
// existing file (the victim), a FIFO, a symbolic link to a victim that
// does not exist. Only the regular file may ever be accepted. A
// check-then-open implementation (lstat, then open following links and
// blocking on FIFOs) loses the race within some thousands of calls:
// against one, put back on purpose, every case failed in each of three
// runs, after at most 26,000 calls (most within 5,000) or by blocking on
// the FIFO; each race makes at least 50,000.
package swaprace

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"
	"testing"
	"time"
)

// Kind is what the swapping goroutine puts at the path, or what the
// operation met there.
type Kind int

const (
	Regular     Kind = iota // the caller's own file (Race.Ours)
	Link                    // a link to Race.Victim
	FIFO                    // a FIFO
	MissingLink             // a link to Race.Missing, which does not exist
	// Refused is what an operation returns when it turned the path down
	// and cannot tell which kind it met.
	Refused
	nKinds
)

// Minimum calls and minimum meetings of each kind of a Run. A call that
// blocks (a FIFO opened for reading) or a race never exercised runs into
// Deadline, which bounds a hung test; it also asks MinCalls to finish
// within it, which they do here in 1–6 s (a wide margin, but a margin).
const (
	MinCalls = 50000
	MinEach  = 20
	Deadline = time.Minute
)

// Race is a path to swap: Path already holds Ours (which may be empty),
// Victim exists, Missing does not.
type Race struct {
	Path, Victim, Missing string
	Ours                  []byte
	// Kinds are swapped in, in turn, after each regular file.
	Kinds []Kind
}

// swap replaces r.Path until stop is closed; the returned channel is
// closed when it has stopped.
func (r *Race) swap(t testing.TB, stop <-chan struct{}) <-chan struct{} {
	done := make(chan struct{})
	tmp := r.Path + ".swap"
	go func() {
		defer close(done)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			os.Remove(tmp)
			kind := Regular
			if i%2 == 1 {
				kind = r.Kinds[i/2%len(r.Kinds)]
			}
			var err error
			switch kind {
			case Regular:
				err = os.WriteFile(tmp, r.Ours, 0o600)
			case Link:
				err = os.Symlink(r.Victim, tmp)
			case FIFO:
				err = syscall.Mkfifo(tmp, 0o600)
			case MissingLink:
				err = os.Symlink(r.Missing, tmp)
			}
			if err == nil {
				err = os.Rename(tmp, r.Path)
			}
			if err != nil {
				t.Errorf("swap: %v", err)
				return
			}
		}
	}()
	return done
}

// Run calls op against the swapping path until it has made MinCalls calls
// and met the regular file and each swapped kind at least MinEach times
// (a link, dangling or not, is refused as a Link; Refused counts for any
// kind). op returns the kind it met, or an error for a wrong answer. Run
// then checks what the victims went through: the victim's content is
// unchanged and the missing one was not created.
func (r *Race) Run(t testing.TB, op func() (Kind, error)) {
	t.Helper()
	victimData, err := os.ReadFile(r.Victim)
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	swapped := r.swap(t, stop)
	type result struct {
		seen [nKinds]int
		n    int
		err  error
	}
	ctx, cancel := context.WithTimeout(context.Background(), Deadline)
	defer cancel()
	out := make(chan result, 1)
	go func() {
		var res result
		for ctx.Err() == nil {
			kind, err := op()
			res.n++
			if err == nil && (kind < Regular || kind >= nKinds) {
				err = fmt.Errorf("op returned kind %d", kind)
			}
			if err != nil {
				res.err = fmt.Errorf("call %d: %w", res.n, err)
				break
			}
			res.seen[kind]++
			if res.n >= MinCalls && r.exercised(res.seen) {
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
		if f, err := os.OpenFile(r.Path, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
			f.Close()
		}
		t.Fatalf("a call did not return within %s: it blocked (on a FIFO?)", Deadline)
	}
	close(stop)
	<-swapped
	if res.err != nil {
		t.Fatal(res.err)
	}
	if ctx.Err() != nil {
		t.Fatalf("the race was not exercised in %s: %d calls, seen %v (regular, link, FIFO, missing link, refused)", Deadline, res.n, res.seen)
	}
	t.Logf("%d calls: accepted the regular file %d times, refused %d links, %d FIFOs and %d paths of a kind not told", res.n, res.seen[Regular], res.seen[Link], res.seen[FIFO], res.seen[Refused])
	if b, err := os.ReadFile(r.Victim); err != nil || !bytes.Equal(b, victimData) {
		t.Errorf("the victim holds %q (%v), want %q", b, err, victimData)
	}
	if _, err := os.Lstat(r.Missing); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a link's missing target was created: %v", err)
	}
}

// exercised reports whether the regular file and every swapped kind were
// met at least MinEach times.
func (r *Race) exercised(seen [nKinds]int) bool {
	if seen[Regular] < MinEach {
		return false
	}
	for _, k := range r.Kinds {
		if k == MissingLink {
			k = Link
		}
		if seen[k]+seen[Refused] < MinEach {
			return false
		}
	}
	return true
}
