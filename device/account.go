package device

import (
	"errors"
	"fmt"
	"strings"
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
	account, user := serialParts(serial)
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

// serialParts splits an MFA device ARN (arn:aws:iam::123456789012:mfa/path/alice)
// into account ID and user name; hardware serials give empty strings. The
// same rule as sts.SerialParts, written out here because package device
// imports nothing of the credentials side.
func serialParts(serial string) (account, user string) {
	parts := strings.SplitN(serial, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != "iam" {
		return "", ""
	}
	res := parts[5]
	if !strings.HasPrefix(res, "mfa/") {
		return "", ""
	}
	user = res[strings.LastIndexByte(res, '/')+1:]
	return parts[4], user
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
