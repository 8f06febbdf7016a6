package pcsc

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestPCSCErrorMapping(t *testing.T) {
	tests := []struct {
		code    uint32
		want    error
		wantSub string
	}{
		{codeNoService, ErrServiceNotRunning, "the PC/SC service is not running (SCARD_E_NO_SERVICE)"},
		{codeServiceStopped, ErrServiceNotRunning, "SCARD_E_SERVICE_STOPPED"},
		{codeNoReadersAvailable, ErrNoReaders, "no smart card readers"},
		{codeNoSmartcard, ErrNoYubiKey, "no YubiKey found"},
		{codeRemovedCard, ErrCardRemoved, "removed"},
		{codeReaderUnavailable, ErrCardRemoved, "SCARD_E_READER_UNAVAILABLE"},
		{codeUnknownReader, ErrCardRemoved, "removed during the operation (SCARD_E_UNKNOWN_READER)"},
		{codeSharingViolation, ErrReaderBusy, "held exclusively"},
		{codeTimeout, ErrTimeout, "timed out"},
		{codeUnresponsiveCard, ErrTimeout, "SCARD_W_UNRESPONSIVE_CARD"},
		{codeResetCard, ErrCardReset, "the card was reset by another program (SCARD_W_RESET_CARD)"},
		{codeCommError, ErrServiceLost, "lost the connection to the PC/SC service (SCARD_F_COMM_ERROR)"},
		{codeCommDataLost, ErrServiceLost, "SCARD_E_COMM_DATA_LOST"},
		{codeNotTransacted, ErrCardUnreachable, "pulled out and put back?) (SCARD_E_NOT_TRANSACTED)"},
		{codeSecurityViolation, ErrServiceRefused, "restarted meanwhile"},
		{0x80100099, nil, "0x80100099"},
	}
	sentinels := []error{ErrNoStatusWord, ErrServiceNotRunning, ErrNoReaders, ErrNoYubiKey, ErrCardRemoved, ErrReaderBusy, ErrTimeout, ErrNotCompiled,
		ErrCardInUse, ErrLibraryMissing, ErrLibraryUnusable, ErrCardReset, ErrServiceLost, ErrCardUnreachable, ErrServiceRefused}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%08X", tt.code), func(t *testing.T) {
			err := fmt.Errorf("get code: %w", &PCSCError{Op: "transmit to \"r\"", Code: tt.code})
			for _, s := range sentinels {
				if got := errors.Is(err, s); got != (s == tt.want) {
					t.Errorf("errors.Is(%v) = %v", s, got)
				}
			}
			if !strings.Contains(err.Error(), tt.wantSub) {
				t.Errorf("%q lacks %q", err, tt.wantSub)
			}
			if !strings.HasPrefix(err.Error(), "get code: transmit to \"r\": ") {
				t.Errorf("%q lacks the operation", err)
			}
			var pe *PCSCError
			if !errors.As(err, &pe) || pe.Code != tt.code {
				t.Errorf("errors.As lost the code")
			}
		})
	}
}

func TestMultipleKeysError(t *testing.T) {
	err := error(&MultipleKeysError{Serials: []uint32{123, 0, 456}})
	want := "several YubiKeys: 123, (serial hidden), 456"
	if err.Error() != want {
		t.Errorf("got %q, want %q", err, want)
	}
}

func TestSentinelTextsAreLowercase(t *testing.T) {
	for _, s := range []error{ErrNoStatusWord, ErrNotCompiled, ErrServiceNotRunning, ErrNoReaders, ErrNoYubiKey, ErrCardRemoved, ErrReaderBusy, ErrTimeout,
		ErrCardInUse, ErrLibraryMissing, ErrLibraryUnusable, ErrCardReset, ErrServiceLost, ErrCardUnreachable, ErrServiceRefused,
		&LibraryError{Library: "l", Problem: "p", Missing: true}} {
		msg := s.Error()
		if msg[0] < 'a' || msg[0] > 'z' || strings.HasSuffix(msg, ".") {
			t.Errorf("%q: want lowercase start and no final period", msg)
		}
	}
}

// TestPCSCErrorSaysNoAdvice: a PCSCError says what happened; what to do
// (reinsert, retry, start pcscd: it differs per OS) is the CLI's
// (cmd/mfabridge/hints.go, issue 12).
func TestPCSCErrorSaysNoAdvice(t *testing.T) {
	for code := range codeNames {
		msg := (&PCSCError{Op: "transmit", Code: code}).Error()
		for _, advice := range []string{"try again", "reinsert", "check that", "start pcscd", "close it"} {
			if strings.Contains(msg, advice) {
				t.Errorf("%s: %q gives advice (%q)", codeNames[code], msg, advice)
			}
		}
	}
}
