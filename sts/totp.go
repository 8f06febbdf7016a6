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
	serial := pr.profile.MFASerial
	account, err := pr.oathAccount(ctx)
	if err != nil {
		return "", time.Time{}, false, err
	}
	last := pr.cache.lastStep(serial)
	for {
		now := pr.now()
		step := now.Unix() / stepSeconds
		next := time.Unix((step+1)*stepSeconds, 0)
		if step <= last {
			wait := time.Unix((last+1)*stepSeconds, 0).Sub(now)
			if wait > maxLedgerWait {
				reused = true
				pr.ui.notify("the code ledger for %s is ahead of the clock (clock moved backwards?); sending the current code", serial)
			} else {
				pr.ui.notify("waiting %s for the next code: the current one was already sent to STS and a code is accepted once", roundUp(wait))
				if err := pr.sleep(ctx, wait); err != nil {
					return "", time.Time{}, false, fmt.Errorf("wait for next code: %w", err)
				}
				continue
			}
		} else if left := next.Sub(now); left < minStepLeft {
			pr.ui.notify("waiting %s for the next code: the current one expires in under %s", roundUp(left), minStepLeft)
			if err := pr.sleep(ctx, left); err != nil {
				return "", time.Time{}, false, fmt.Errorf("wait for next code: %w", err)
			}
			continue
		}
		at = now
		code, err = pr.tokens.Code(ctx, pr.device(), account, at)
		if err != nil {
			return "", time.Time{}, false, fmt.Errorf("compute code for %s: %w", serial, err)
		}
		if err := pr.cache.recordStep(serial, step, at); err != nil {
			// Sending without a record could lead to a reuse later.
			return "", time.Time{}, false, fmt.Errorf("compute code for %s: %w", serial, err)
		}
		return code, at, reused, nil
	}
}

func roundUp(d time.Duration) time.Duration {
	return (d + time.Second - 1).Truncate(time.Second)
}
