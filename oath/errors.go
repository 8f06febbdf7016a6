package oath

import (
	"errors"
	"fmt"
)

// Sentinels for the status words a YKOATH applet answers (YKOATH spec,
// "Response codes"; ISO 7816-4 section 5.1.3). A *StatusError matches them
// with errors.Is, so callers never look at raw status bytes.
var (
	ErrAuthRequired    = errors.New("authentication required")         // 6982
	ErrNoSuchObject    = errors.New("no such object")                  // 6984
	ErrWrongSyntax     = errors.New("wrong syntax")                    // 6A80
	ErrNoSpace         = errors.New("no space left on the card")       // 6A84
	ErrNotFound        = errors.New("OATH applet not found")           // 6A82
	ErrWrongP1P2       = errors.New("wrong P1/P2")                     // 6B00
	ErrInsNotSupported = errors.New("instruction not supported")       // 6D00
	ErrClaNotSupported = errors.New("class not supported")             // 6E00
	ErrGeneric         = errors.New("generic error")                   // 6581
	ErrWrongLength     = errors.New("wrong length")                    // 6700, 6Cxx
	ErrConditions      = errors.New("conditions of use not satisfied") // 6985

	// ErrNoSuchCredential is ErrNoSuchObject under the name the device
	// package documents: 6984 to CALCULATE, DELETE or RENAME.
	ErrNoSuchCredential = ErrNoSuchObject

	// ErrTouchTimeout: the card answered 6982 to CALCULATE although the
	// session was authenticated, which is how a YubiKey reports that the
	// touch it waited for never came.
	ErrTouchTimeout = errors.New("touch timed out")

	// ErrWrongPassword: the card rejected VALIDATE (6A80).
	ErrWrongPassword = errors.New("wrong password")

	// ErrBadCardResponse: the card's answer to VALIDATE did not prove that
	// it knows the key (mutual authentication failed), or an answer did not
	// have the expected shape.
	ErrBadCardResponse = errors.New("card answer failed verification")

	// ErrNotSelected: an operation needs the answer of an earlier SELECT.
	ErrNotSelected = errors.New("the OATH applet has not been selected")

	// ErrNoPassword: VALIDATE was asked for while the card has no password.
	ErrNoPassword = errors.New("no password is set")

	// ErrInvalidInput: a request was refused before reaching the card.
	ErrInvalidInput = errors.New("invalid input")
)

// StatusError is a status word other than 9000 (and 61xx, which the Client
// follows) answered to instruction Ins. Use errors.Is with the sentinels
// above; errors.As gives the raw status word.
type StatusError struct {
	SW  uint16
	Ins byte

	// touchTimeout is set by the Client for a 6982 to CALCULATE while it
	// knew the session to be authenticated.
	touchTimeout bool
	// op names the operation when Ins alone is ambiguous (SELECT and
	// CALCULATE ALL share A4).
	op string
}

// Error reads like "oath: calculate: card answered 6984 (no such credential)".
func (e *StatusError) Error() string {
	op := e.op
	if op == "" {
		op = insName(e.Ins)
	}
	return fmt.Sprintf("oath: %s: card answered %04X (%s)", op, e.SW, e.meaning())
}

// Is maps the status word to the package sentinels.
func (e *StatusError) Is(target error) bool {
	if e.touchTimeout {
		// A touch time-out is not a password problem: do not match
		// ErrAuthRequired, or callers would prompt for a password.
		return target == ErrTouchTimeout
	}
	switch target {
	case ErrAuthRequired:
		return e.SW == SWAuthRequired
	case ErrNoSuchObject:
		return e.SW == SWNoSuchObject
	case ErrWrongSyntax:
		return e.SW == SWWrongSyntax
	case ErrWrongPassword:
		return e.SW == SWWrongSyntax && e.Ins == InsValidate
	case ErrNoPassword:
		return e.SW == SWNoSuchObject && e.Ins == InsValidate
	case ErrNoSpace:
		return e.SW == SWNoSpace
	case ErrNotFound:
		return e.SW == SWFileNotFound
	case ErrWrongP1P2:
		return e.SW == SWWrongP1P2 || e.SW == 0x6A86
	case ErrInsNotSupported:
		return e.SW == SWInsNotSupported
	case ErrClaNotSupported:
		return e.SW == SWClaNotSupported
	case ErrGeneric:
		return e.SW == SWGenericError
	case ErrWrongLength:
		return e.SW == SWWrongLength || e.SW&0xFF00 == 0x6C00
	case ErrConditions:
		return e.SW == SWConditionsNotMet
	}
	return false
}

func (e *StatusError) meaning() string {
	switch {
	case e.touchTimeout:
		return "touch timed out"
	case e.SW == SWAuthRequired:
		return "authentication required"
	case e.SW == SWNoSuchObject:
		switch e.Ins {
		case InsValidate:
			return "no password is set"
		case InsSetCode:
			return "response mismatch"
		case InsCalculate, InsDelete, InsRename:
			return "no such credential"
		}
		return "no such object"
	case e.SW == SWWrongSyntax:
		if e.Ins == InsValidate {
			return "wrong password"
		}
		return "wrong syntax"
	case e.SW == SWNoSpace:
		return "no space left"
	case e.SW == SWFileNotFound:
		return "applet not found"
	case e.SW == SWWrongP1P2 || e.SW == 0x6A86:
		return "wrong P1/P2"
	case e.SW == SWInsNotSupported:
		return "instruction not supported"
	case e.SW == SWClaNotSupported:
		return "class not supported"
	case e.SW == SWGenericError:
		return "generic error"
	case e.SW == SWWrongLength || e.SW&0xFF00 == 0x6C00:
		return "wrong length"
	case e.SW == SWConditionsNotMet:
		return "conditions of use not satisfied"
	}
	return "unknown status"
}

// insName names an instruction for error texts and logs.
func insName(ins byte) string {
	switch ins {
	case InsPut:
		return "put"
	case InsDelete:
		return "delete"
	case InsSetCode:
		return "set code"
	case InsReset:
		return "reset"
	case InsRename:
		return "rename"
	case InsList:
		return "list"
	case InsCalculate:
		return "calculate"
	case InsValidate:
		return "validate"
	case InsCalculateAll: // also SELECT, which the Client names through op
		return "calculate all"
	case InsSendRemaining:
		return "send remaining"
	}
	return fmt.Sprintf("instruction %02x", ins)
}
