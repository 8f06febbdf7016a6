package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/mfabridge/mfabridge/simulator/stsemu"
	"github.com/mfabridge/mfabridge/sts/keystore"
)

// MFABRIDGE_TEST_ROTATE_STOP=STEP makes `keys rotate` stop right after
// STEP completed (journal saved), as a crash or Ctrl-C there would; the
// test binary only (TestMain), never the product.
func installRotateStop() {
	step := keystore.RotateStep(os.Getenv("MFABRIDGE_TEST_ROTATE_STOP"))
	if step == "" {
		return
	}
	rotateStepHook = func(s keystore.RotateStep) error {
		if s == step {
			return fmt.Errorf("test stop after %s: %w", s, keystore.ErrInterrupted)
		}
		return nil
	}
}

// oneFault is a fault armed for the nth next request of one action.
type oneFault struct {
	action string
	nth    int
	after  bool
}

type faultArm struct {
	mu    sync.Mutex
	armed []*oneFault
}

func (f *faultArm) decide(action string, _ int64) stsemu.Fault {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, a := range f.armed {
		if a.action != action {
			continue
		}
		if a.nth--; a.nth > 0 {
			continue
		}
		f.armed = append(f.armed[:i], f.armed[i+1:]...)
		return stsemu.Fault{Kind: stsemu.FaultInternal, AfterAction: a.after}
	}
	return stsemu.Fault{}
}

var (
	faultsMu sync.Mutex
	faults   = map[*testscript.TestScript]*faultArm{}
)

// scriptFaults is the fault hook of the script's STS emulator.
func scriptFaults(ts *testscript.TestScript) *stsemu.Faults {
	faultsMu.Lock()
	defer faultsMu.Unlock()
	f := &faultArm{}
	faults[ts] = f
	ts.Defer(func() {
		faultsMu.Lock()
		defer faultsMu.Unlock()
		delete(faults, ts)
	})
	return &stsemu.Faults{Decide: f.decide}
}

// stsfault ACTION [N] [after] makes the emulator fail the Nth next request
// of ACTION (default the next) once with 500 InternalFailure: refused
// before it runs, or with after, run and then answered with the error (a
// dropped answer: IAM changed, the client does not know).
func cmdSTSFault(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 1 || len(args) > 3 {
		ts.Fatalf("usage: stsfault ACTION [N] [after]")
	}
	f := &oneFault{action: args[0], nth: 1}
	for _, a := range args[1:] {
		if a == "after" {
			f.after = true
			continue
		}
		n, err := strconv.Atoi(a)
		if err != nil || n < 1 {
			ts.Fatalf("stsfault: %q: want a count or after", a)
		}
		f.nth = n
	}
	faultsMu.Lock()
	arm := faults[ts]
	faultsMu.Unlock()
	if arm == nil {
		ts.Fatalf("stsfault: no stsemu running")
	}
	arm.mu.Lock()
	arm.armed = append(arm.armed, f)
	arm.mu.Unlock()
}

// storedkey STORE PROFILE FILE writes the access key id of PROFILE's key
// in STORE (see scriptStore) to FILE.
func cmdStoredKey(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: storedkey STORE PROFILE FILE")
	}
	k, err := scriptStore(ts, args[0]).Get(context.Background(), args[1])
	ts.Check(err)
	ts.Check(os.WriteFile(ts.MkAbs(args[2]), []byte(k.AccessKeyID+"\n"), 0o600))
}
