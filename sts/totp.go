package sts

import (
	"context"
	"fmt"
	"time"
)

// TOTP timing.
const (
	stepSeconds = 30
	// minStepLeft: a code with less than this left in its step is not sent;
	// it could expire in flight. We wait for the next step instead.
	minStepLeft = 3 * time.Second
	// maxLedgerWait bounds the wait for a step the ledger says is spent; a
	// longer wait means the clock moved backwards.
	maxLedgerWait = 90 * time.Second
)

// freshCode computes a code that has not been sent before, waiting for the
// next TOTP step if needed, and records its step in the ledger before
// returning it. Call with the serial's lock held. reused is set when the
// ledger holds a later step than the clock (the clock moved backwards).
func (pr *Provider) freshCode(ctx context.Context) (code string, at time.Time, reused bool, err error) {
	return pr.cache.freshStepCode(ctx, pr.profile.MFASerial, pr.now, pr.sleep, pr.ui.notify, pr.token)
}

// freshStepCode waits (with sleep) until now is in a TOTP step the ledger
// of serial does not hold and that has at least minStepLeft to run,
// computes that step's code with compute, and records the step in the
// ledger before returning the code: a code that reached STS is spent even
// if the answer is lost, so a code whose step could not be recorded is not
// handed out. Call it with the serial's lock held. When the ledger is more
// than maxLedgerWait ahead of the clock (the clock moved backwards) it does
// not wait: it returns the current code with reused set. notify shows why
// it waits. compute's errors are returned as they are.
func (c *fileCache) freshStepCode(ctx context.Context, serial string, now func() time.Time,
	sleep func(ctx context.Context, d time.Duration) error, notify func(format string, args ...any),
	compute func(ctx context.Context, at time.Time) (string, error)) (code string, at time.Time, reused bool, err error) {
	last := c.lastStep(serial)
	for {
		t := now()
		step := t.Unix() / stepSeconds
		next := time.Unix((step+1)*stepSeconds, 0)
		if step <= last {
			wait := time.Unix((last+1)*stepSeconds, 0).Sub(t)
			if wait > maxLedgerWait {
				reused = true
				notify("the code ledger for %s is ahead of the clock (clock moved backwards?); sending the current code", serial)
			} else {
				notify("waiting %s for the next code: the current one was already sent to STS and a code is accepted once", roundUp(wait))
				if err := sleep(ctx, wait); err != nil {
					return "", time.Time{}, false, fmt.Errorf("wait for next code: %w", err)
				}
				continue
			}
		} else if left := next.Sub(t); left < minStepLeft {
			notify("waiting %s for the next code: the current one expires in under %s", roundUp(left), minStepLeft)
			if err := sleep(ctx, left); err != nil {
				return "", time.Time{}, false, fmt.Errorf("wait for next code: %w", err)
			}
			continue
		}
		code, err = compute(ctx, t)
		if err != nil {
			return "", time.Time{}, false, err // compute says what failed
		}
		if err := c.recordStep(serial, step, t); err != nil {
			// Sending without a record could lead to a reuse later.
			return "", time.Time{}, false, fmt.Errorf("compute code for %s: %w", serial, err)
		}
		return code, t, reused, nil
	}
}

func roundUp(d time.Duration) time.Duration {
	return (d + time.Second - 1).Truncate(time.Second)
}
