package sts

import (
	"context"
	"errors"
	"fmt"
	"strings"
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

// Account matching errors; *AccountMatchError unwraps to one of them.
var (
	ErrNoAccount        = errors.New("no OATH account matches the mfa_serial")
	ErrAmbiguousAccount = errors.New("several OATH accounts match the mfa_serial")
)

// AccountMatchError explains why no single OATH account was chosen.
type AccountMatchError struct {
	Serial  string
	Want    string   // what a name had to contain
	Names   []string // accounts on the device
	Matches []string // for ErrAmbiguousAccount
	Err     error
}

func (e *AccountMatchError) Error() string {
	s := fmt.Sprintf("choose OATH account for %s: %v (looked for %s", e.Serial, e.Err, e.Want)
	if errors.Is(e.Err, ErrAmbiguousAccount) {
		s += "; candidates: " + strings.Join(e.Matches, ", ")
	} else if len(e.Names) == 0 {
		s += "; the device has no accounts"
	} else {
		s += "; the device has: " + strings.Join(e.Names, ", ")
	}
	return s + "): set mfabridge_account in the profile"
}

func (e *AccountMatchError) Unwrap() error { return e.Err }

// MatchAccount picks the OATH account for an MFA serial: an account named
// exactly like the serial, else the single one whose name holds both the
// ARN's user and account ID as whole words (e.g. "Amazon Web Services:
// alice@123456789012" for arn:aws:iam::123456789012:mfa/alice), else, for a
// hardware serial, the single one holding the serial. It also returns a
// sentence saying why that account was chosen.
func MatchAccount(serial string, names []string) (string, string, error) {
	for _, n := range names {
		if n == serial {
			return n, fmt.Sprintf("using OATH account %q: its name is the mfa_serial", n), nil
		}
	}
	account, user := SerialParts(serial)
	want := []string{serial}
	desc := fmt.Sprintf("a name holding %q", serial)
	if user != "" {
		want = []string{user, account}
		desc = fmt.Sprintf("a name holding user %q and account %q", user, account)
	}
	var matches []string
	for _, n := range names {
		all := true
		for _, w := range want {
			if !holdsWord(n, w) {
				all = false
				break
			}
		}
		if all {
			matches = append(matches, n)
		}
	}
	switch len(matches) {
	case 1:
		return matches[0], fmt.Sprintf("using OATH account %q for %s (%s)", matches[0], serial, strings.TrimPrefix(desc, "a name ")), nil
	case 0:
		return "", "", &AccountMatchError{Serial: serial, Want: desc, Names: names, Err: ErrNoAccount}
	default:
		return "", "", &AccountMatchError{Serial: serial, Want: desc, Names: names, Matches: matches, Err: ErrAmbiguousAccount}
	}
}

// holdsWord reports whether s contains w (case-insensitively) not glued to
// letters or digits on either side.
func holdsWord(s, w string) bool {
	if w == "" {
		return false
	}
	ls, lw := strings.ToLower(s), strings.ToLower(w)
	for off := 0; ; {
		i := strings.Index(ls[off:], lw)
		if i < 0 {
			return false
		}
		i += off
		j := i + len(lw)
		if (i == 0 || !isAlnum(ls[i-1])) && (j == len(ls) || !isAlnum(ls[j])) {
			return true
		}
		off = i + 1
	}
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func (pr *Provider) device() string {
	if pr.profile.Device != "" {
		return pr.profile.Device
	}
	return pr.defaultDevice
}

// oathAccount returns the profile's OATH account, matching it once.
func (pr *Provider) oathAccount(ctx context.Context) (string, error) {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	if pr.account != "" {
		return pr.account, nil
	}
	if pr.profile.Account != "" {
		pr.account = pr.profile.Account
		return pr.account, nil
	}
	names, err := pr.tokens.Accounts(ctx, pr.device())
	if err != nil {
		return "", fmt.Errorf("list OATH accounts: %w", err)
	}
	acc, why, err := MatchAccount(pr.profile.MFASerial, names)
	if err != nil {
		return "", err
	}
	pr.ui.notify("%s", why)
	pr.account = acc
	return acc, nil
}

// freshCode computes a code that has not been sent before, waiting for the
// next TOTP step if needed, and records its step in the ledger before
// returning it. Call with the serial's lock held. reused is set when the
// ledger holds a later step than the clock (the clock moved backwards).
func (pr *Provider) freshCode(ctx context.Context) (code string, at time.Time, reused bool, err error) {
	account, err := pr.oathAccount(ctx)
	if err != nil {
		return "", time.Time{}, false, err
	}
	return pr.cache.freshStepCode(ctx, pr.profile.MFASerial, pr.now, pr.sleep, pr.ui.notify,
		func(ctx context.Context, at time.Time) (string, error) {
			return pr.tokens.Code(ctx, pr.device(), account, at)
		})
}

// freshStepCode waits (with sleep) until now is in a TOTP step the ledger
// of serial does not hold and that has at least minStepLeft to run,
// computes that step's code with compute, and records the step in the
// ledger before returning the code: a code that reached STS is spent even
// if the answer is lost, so a code whose step could not be recorded is not
// handed out. Call it with the serial's lock held. When the ledger is more
// than maxLedgerWait ahead of the clock (the clock moved backwards) it does
// not wait: it returns the current code with reused set. notify shows why
// it waits.
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
			return "", time.Time{}, false, fmt.Errorf("compute code for %s: %w", serial, err)
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
