// Package pcsc talks to YubiKeys through the platform's PC/SC service:
// pcscd (pcsc-lite) on Linux and FreeBSD, the PCSC framework on macOS, the
// Smart Card service (winscard.dll) on Windows. It is the only package of
// mfabridge that knows PC/SC, and it uses no cgo: the library is loaded at
// run time on first use (see winscard.go), so a machine without it runs
// every command that needs no card.
//
// One card session per operation: Connect (shared mode), Begin, the APDUs of
// one operation, End, Close. A Card satisfies oath.Transport.
//
// Error contract: every PC/SC failure is a *PCSCError carrying the raw
// SCARD_* code; errors.Is matches it against the sentinels below
// (ErrServiceNotRunning, ErrNoReaders, ErrNoYubiKey, ErrCardRemoved,
// ErrReaderBusy, ErrCardInUse, ErrTimeout, ErrCardReset, ErrServiceLost,
// ErrCardUnreachable, ErrServiceRefused), whose texts say what happened,
// not what to do: advice (which differs per OS) is the CLI's.
// A PC/SC library that cannot be loaded is a *LibraryError (which
// library, what is wrong) matching ErrLibraryMissing or ErrLibraryUnusable.
// Two cases are not PC/SC codes: several keys and no serial chosen
// (*MultipleKeysError), and an answer without a status word from a card
// still present (ErrNoStatusWord). A cancelled ctx yields ctx's error,
// wrapped.
//
// Card removal: vpcd (and some reader drivers) report a card pulled out
// mid-command as SCARD_E_NOT_TRANSACTED or as an empty answer; Transmit then
// asks pcscd for the card status until it confirms the removal, so callers
// see ErrCardRemoved rather than a driver detail.
package pcsc

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// sentinel is a cause a caller can act on. Its message says what
// happened; what to do about it (which differs per OS) is the caller's to
// word: the CLI maps each sentinel to its advice.
type sentinel struct{ what string }

func (s *sentinel) Error() string { return s.what }

// Sentinels. Their messages say what happened, without advice; callers
// add context with %w and match them with errors.Is.
var (
	// ErrNotCompiled is no longer returned: every build has PC/SC (the
	// library is loaded at run time). Kept so that callers still compile.
	ErrNotCompiled = errors.New("this build has no PC/SC support")
	// ErrLibraryMissing: the platform's PC/SC library is not installed
	// (see *LibraryError for which one).
	ErrLibraryMissing error = &sentinel{"the PC/SC library is not installed"}
	// ErrLibraryUnusable: the PC/SC library is there but cannot be used by
	// this program (another architecture, not a library, too old).
	ErrLibraryUnusable error = &sentinel{"the PC/SC library cannot be used"}
	// ErrServiceNotRunning: the PC/SC service (pcscd, SCardSvr) is not
	// reachable (SCARD_E_NO_SERVICE, SCARD_E_SERVICE_STOPPED).
	ErrServiceNotRunning error = &sentinel{"the PC/SC service is not running"}
	// ErrNoReaders: the service runs but knows no reader.
	ErrNoReaders error = &sentinel{"no smart card readers found"}
	// ErrNoYubiKey: readers exist but none holds a YubiKey (or not the one asked for).
	ErrNoYubiKey error = &sentinel{"no YubiKey found"}
	// ErrCardRemoved: the card or its reader went away during the operation.
	ErrCardRemoved error = &sentinel{"the YubiKey was removed during the operation"}
	// ErrReaderBusy: another program holds the reader exclusively (gpg's
	// scdaemon, a PIV tool, ...). Connect has already retried for a few seconds.
	ErrReaderBusy error = &sentinel{"the reader is held exclusively by another program"}
	// ErrCardInUse: another program kept a transaction open on the card
	// (it is talking to the key) for longer than txWait.
	ErrCardInUse error = &sentinel{"another program has kept the YubiKey busy (an open PC/SC transaction: " +
		"ykman, gpg's scdaemon, a browser or another smart card tool)"}
	// ErrTimeout: the card or pcscd did not answer in time.
	ErrTimeout error = &sentinel{"timed out waiting for the YubiKey"}
	// ErrNoStatusWord: the reader passed on an answer too short to hold a
	// status word, and the card is still there.
	ErrNoStatusWord error = &sentinel{"the card answered without a status word"}
	// ErrCardReset: another program reset the card during the operation
	// (SCARD_W_RESET_CARD).
	ErrCardReset error = &sentinel{"the card was reset by another program"}
	// ErrServiceLost: the connection to the PC/SC service broke
	// (SCARD_F_COMM_ERROR, SCARD_E_COMM_DATA_LOST).
	ErrServiceLost error = &sentinel{"lost the connection to the PC/SC service"}
	// ErrCardUnreachable: the reader could not reach the card
	// (SCARD_E_NOT_TRANSACTED): what a driver reports when the card
	// stopped answering, e.g. a key pulled out and put back faster than
	// pcscd's presence poll (about 0.4 s), which then never reports it as
	// removed.
	ErrCardUnreachable error = &sentinel{"the reader could not reach the YubiKey (loose connection, or pulled out and put back?)"}
	// ErrServiceRefused: the PC/SC service refused the handle
	// (SCARD_W_SECURITY_VIOLATION). pcsc-lite answers this for a handle it
	// does not (or no longer) associate with the caller, seen when pcscd
	// restarts mid-operation, and when its polkit policy denies access.
	ErrServiceRefused error = &sentinel{"the PC/SC service refused the connection (restarted meanwhile, or its access policy denies it)"}
)

// serviceName is what the PC/SC service is called on goos.
func serviceName(goos string) string {
	switch goos {
	case "darwin":
		return "the macOS smart card service"
	case "windows":
		return "the Smart Card service (SCardSvr)"
	}
	return "pcscd"
}

// PC/SC result codes (pcsc-lite pcsclite.h / Microsoft winerror.h; the same
// numbers on every platform).
const (
	codeInternalError      uint32 = 0x80100001 // SCARD_F_INTERNAL_ERROR
	codeCancelled          uint32 = 0x80100002 // SCARD_E_CANCELLED
	codeInvalidHandle      uint32 = 0x80100003 // SCARD_E_INVALID_HANDLE
	codeUnknownReader      uint32 = 0x80100009 // SCARD_E_UNKNOWN_READER
	codeInsufficientBuffer uint32 = 0x80100008 // SCARD_E_INSUFFICIENT_BUFFER
	codeTimeout            uint32 = 0x8010000A // SCARD_E_TIMEOUT
	codeSharingViolation   uint32 = 0x8010000B // SCARD_E_SHARING_VIOLATION
	codeNoSmartcard        uint32 = 0x8010000C // SCARD_E_NO_SMARTCARD
	codeProtoMismatch      uint32 = 0x8010000F // SCARD_E_PROTO_MISMATCH
	codeNotReady           uint32 = 0x80100010 // SCARD_E_NOT_READY
	codeCommError          uint32 = 0x80100013 // SCARD_F_COMM_ERROR
	codeNotTransacted      uint32 = 0x80100016 // SCARD_E_NOT_TRANSACTED
	codeReaderUnavailable  uint32 = 0x80100017 // SCARD_E_READER_UNAVAILABLE
	codeNoService          uint32 = 0x8010001D // SCARD_E_NO_SERVICE
	codeServiceStopped     uint32 = 0x8010001E // SCARD_E_SERVICE_STOPPED
	codeNoReadersAvailable uint32 = 0x8010002E // SCARD_E_NO_READERS_AVAILABLE
	codeCommDataLost       uint32 = 0x8010002F // SCARD_E_COMM_DATA_LOST
	codeUnresponsiveCard   uint32 = 0x80100066 // SCARD_W_UNRESPONSIVE_CARD
	codeUnpoweredCard      uint32 = 0x80100067 // SCARD_W_UNPOWERED_CARD
	codeResetCard          uint32 = 0x80100068 // SCARD_W_RESET_CARD
	codeRemovedCard        uint32 = 0x80100069 // SCARD_W_REMOVED_CARD
	codeSecurityViolation  uint32 = 0x8010006A // SCARD_W_SECURITY_VIOLATION
)

var codeNames = map[uint32]string{
	codeInternalError:      "SCARD_F_INTERNAL_ERROR",
	codeCancelled:          "SCARD_E_CANCELLED",
	codeInvalidHandle:      "SCARD_E_INVALID_HANDLE",
	codeUnknownReader:      "SCARD_E_UNKNOWN_READER",
	codeInsufficientBuffer: "SCARD_E_INSUFFICIENT_BUFFER",
	codeTimeout:            "SCARD_E_TIMEOUT",
	codeSharingViolation:   "SCARD_E_SHARING_VIOLATION",
	codeNoSmartcard:        "SCARD_E_NO_SMARTCARD",
	codeProtoMismatch:      "SCARD_E_PROTO_MISMATCH",
	codeNotReady:           "SCARD_E_NOT_READY",
	codeCommError:          "SCARD_F_COMM_ERROR",
	codeNotTransacted:      "SCARD_E_NOT_TRANSACTED",
	codeReaderUnavailable:  "SCARD_E_READER_UNAVAILABLE",
	codeNoService:          "SCARD_E_NO_SERVICE",
	codeServiceStopped:     "SCARD_E_SERVICE_STOPPED",
	codeNoReadersAvailable: "SCARD_E_NO_READERS_AVAILABLE",
	codeCommDataLost:       "SCARD_E_COMM_DATA_LOST",
	codeUnresponsiveCard:   "SCARD_W_UNRESPONSIVE_CARD",
	codeUnpoweredCard:      "SCARD_W_UNPOWERED_CARD",
	codeResetCard:          "SCARD_W_RESET_CARD",
	codeRemovedCard:        "SCARD_W_REMOVED_CARD",
	codeSecurityViolation:  "SCARD_W_SECURITY_VIOLATION",
}

// sentinelFor maps a PC/SC result code to the sentinel a caller can act on,
// or nil when the code has no specific advice.
func sentinelFor(code uint32) error {
	switch code {
	case codeNoService, codeServiceStopped:
		return ErrServiceNotRunning
	case codeNoReadersAvailable:
		return ErrNoReaders
	case codeNoSmartcard:
		return ErrNoYubiKey
	// A USB YubiKey pulled out takes its reader with it, so a vanished
	// reader is a removed card too.
	case codeRemovedCard, codeUnknownReader, codeReaderUnavailable, codeUnpoweredCard:
		return ErrCardRemoved
	case codeSharingViolation:
		return ErrReaderBusy
	case codeTimeout, codeUnresponsiveCard:
		return ErrTimeout
	case codeResetCard:
		return ErrCardReset
	case codeCommError, codeCommDataLost:
		return ErrServiceLost
	case codeNotTransacted:
		return ErrCardUnreachable
	case codeSecurityViolation:
		return ErrServiceRefused
	}
	return nil
}

// PCSCError is a failed PC/SC call. It unwraps to one of the package
// sentinels when the code has one, so callers use errors.Is.
type PCSCError struct {
	Op   string // what was being done, e.g. `connect to reader "Yubico YubiKey 00 00"`
	Code uint32 // the SCARD_* result code
}

func (e *PCSCError) Error() string {
	name, ok := codeNames[e.Code]
	if !ok {
		name = "0x" + strings.ToUpper(strconv.FormatUint(uint64(e.Code), 16))
	}
	reason := "PC/SC error"
	if !ok {
		if text := stringifyCode(e.Code); text != "" {
			reason += ": " + text // the library's own words for a code we do not know
		}
	}
	if s := sentinelFor(e.Code); s != nil {
		reason = s.Error()
	}
	return fmt.Sprintf("%s: %s (%s)", e.Op, reason, name)
}

// Unwrap returns the sentinel for the code, or nil.
func (e *PCSCError) Unwrap() error { return sentinelFor(e.Code) }

// MultipleKeysError says that several YubiKeys are present and the caller
// did not say which one to use.
type MultipleKeysError struct {
	Serials []uint32
}

func (e *MultipleKeysError) Error() string {
	return "several YubiKeys: " + joinSerials(e.Serials)
}

func joinSerials(serials []uint32) string {
	parts := make([]string, len(serials))
	for i, s := range serials {
		if s == 0 {
			parts[i] = "(serial hidden)"
			continue
		}
		parts[i] = strconv.FormatUint(uint64(s), 10)
	}
	return strings.Join(parts, ", ")
}

// KeyInfo describes a YubiKey found by Keys. Serial and Firmware come from
// the key itself, never from the reader's name.
type KeyInfo struct {
	Reader   string // PC/SC reader name
	Serial   uint32 // 0 when the key does not reveal it
	Firmware string // e.g. "5.4.3"
}
