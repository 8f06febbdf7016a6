package piv

import (
	"errors"
	"fmt"
)

// Sentinels for the status words a PIV applet answers (SP 800-73-4 Part 2
// command descriptions; ISO 7816-4 §5.1.3; piv.md "Status words"). A
// *StatusError matches them with errors.Is; a wrong or blocked PIN, PUK or
// management key also gives an *AuthError through errors.As.
var (
	ErrNotFound        = errors.New("not found")                           // 6A82 object or applet, 6A88 empty slot (metadata)
	ErrBlocked         = errors.New("blocked")                             // 6983, or 63C0 on the attempt that blocks
	ErrSecurityStatus  = errors.New("security status not satisfied")       // 6982: PIN, management key or touch missing
	ErrIncorrectData   = errors.New("incorrect data")                      // 6A80: bad TLV, bad PIN format, empty slot for a key operation
	ErrConditions      = errors.New("conditions of use not satisfied")     // 6985
	ErrWrongParameters = errors.New("incorrect parameters P1/P2")          // 6A86, 6B00: unknown slot, wrong algorithm for 9B
	ErrNotSupported    = errors.New("instruction not supported")           // 6D00, 6E00
	ErrWrongLength     = errors.New("wrong length")                        // 6700, 6Cxx
	ErrNoSpace         = errors.New("not enough memory on the card")       // 6A84
	ErrChainBroken     = errors.New("command chaining broken")             // 6883
	ErrCardError       = errors.New("card error")                          // 6581, 6F00 and anything unknown
	ErrMalformed       = errors.New("malformed PIV data from the card")    // an answer that does not parse
	ErrCardAuth        = errors.New("card failed the management key test") // mutual authentication: the card's answer is wrong
	ErrInvalidInput    = errors.New("invalid input")                       // refused before anything was sent
	ErrResponseTooLong = errors.New("card answer too long")                // 61xx past any sane size
)

// StatusError is a status word other than 9000 (61xx is followed, not
// returned) answered to the operation Op. Unwrap gives the typed cause: one
// of the sentinels above, or an *AuthError for 63Cx and 6983.
type StatusError struct {
	SW    uint16
	Op    string // "verify PIN", "generate key 9d", …
	cause error
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("piv: %s: card answered %04X (%v)", e.Op, e.SW, e.cause)
}

// Unwrap returns the typed cause.
func (e *StatusError) Unwrap() error { return e.cause }

// AuthError is a rejected PIN, PUK or management key. Retries is how many
// tries are left; 0 means blocked (errors.Is(err, ErrBlocked) holds).
type AuthError struct {
	What    string // "PIN" or "PUK"
	Retries int
}

func (e *AuthError) Error() string {
	if e.Retries == 0 {
		return fmt.Sprintf("%s blocked", e.What)
	}
	if e.Retries == 1 {
		return fmt.Sprintf("wrong %s, 1 try left", e.What)
	}
	return fmt.Sprintf("wrong %s, %d tries left", e.What, e.Retries)
}

// Is makes a blocked AuthError match ErrBlocked.
func (e *AuthError) Is(target error) bool { return target == ErrBlocked && e.Retries == 0 }

// statusError maps sw to its cause; what names the reference a 63Cx/6983
// is about ("PIN", "PUK"), "" when the operation verifies none.
func statusError(op, what string, sw uint16) error {
	var cause error
	switch {
	case sw&0xFFF0 == 0x63C0 && what != "":
		cause = &AuthError{What: what, Retries: int(sw & 0x0F)}
	case sw == 0x6983 && what != "":
		cause = &AuthError{What: what}
	case sw == 0x6983:
		cause = ErrBlocked
	case sw == 0x6A82, sw == 0x6A88:
		cause = ErrNotFound
	case sw == 0x6982:
		cause = ErrSecurityStatus
	case sw == 0x6A80:
		cause = ErrIncorrectData
	case sw == 0x6985:
		cause = ErrConditions
	case sw == 0x6A86, sw == 0x6B00:
		cause = ErrWrongParameters
	case sw == 0x6D00, sw == 0x6E00:
		cause = ErrNotSupported
	case sw == 0x6700, sw&0xFF00 == 0x6C00:
		cause = ErrWrongLength
	case sw == 0x6A84:
		cause = ErrNoSpace
	case sw == 0x6883:
		cause = ErrChainBroken
	default:
		cause = ErrCardError
	}
	return &StatusError{SW: sw, Op: op, cause: cause}
}
