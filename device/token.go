package device

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Token yields the codes of one MFA device: the OATH account, on a Device,
// that belongs to an MFA serial. The caller (the credentials provider)
// chooses the TOTP step; Token computes that step's code.
//
// Each Code is one device operation. On a YubiKey that is one card session:
// SELECT, VALIDATE when the applet has a password, LIST only while the
// account is neither pinned (WithAccount) nor chosen by an earlier call,
// and CALCULATE. Over PC/SC the first session also holds the serial check
// of discovery, so a cold code costs one card connection.
//
// A Token is safe for concurrent use; calls are serialised.
type Token struct {
	dev    Device
	serial string
	chosen func(account, why string)

	mu      sync.Mutex
	account string // pinned, or chosen by the first Code
}

// TokenOption configures a Token.
type TokenOption func(*Token)

// WithAccount pins the OATH account (a profile's mfabridge_account): Code
// then never lists the device's accounts.
func WithAccount(name string) TokenOption { return func(t *Token) { t.account = name } }

// WithChosen sets a hook called once, when the account has been chosen by
// matching the serial (see MatchAccount), with the sentence saying why. It
// runs before the code is computed, so before any touch notice.
func WithChosen(f func(account, why string)) TokenOption {
	return func(t *Token) { t.chosen = f }
}

// NewToken returns the code source for mfaSerial's OATH account on d.
func NewToken(d Device, mfaSerial string, opts ...TokenOption) *Token {
	t := &Token{dev: d, serial: mfaSerial}
	for _, o := range opts {
		o(t)
	}
	return t
}

// oneSession is implemented by devices that list and calculate in one
// operation (*YubiKey).
type oneSession interface {
	calculateChosen(ctx context.Context, account string, choose func([]string) (string, error), at time.Time) (Code, string, error)
}

// Code computes the code for the TOTP step holding at.
//
// Errors: those of the Device (see Device), and an *AccountMatchError
// (ErrNoAccount, ErrAmbiguousAccount) when the account is not pinned and no
// single account on the device matches the serial.
func (t *Token) Code(ctx context.Context, at time.Time) (Code, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	choose := func(names []string) (string, error) {
		acc, why, err := MatchAccount(t.serial, names)
		if err != nil {
			return "", err
		}
		if t.chosen != nil {
			t.chosen(acc, why)
		}
		return acc, nil
	}
	if d, ok := t.dev.(oneSession); ok {
		code, acc, err := d.calculateChosen(ctx, t.account, choose, at)
		if acc != "" {
			t.account = acc
		}
		return code, err
	}
	if t.account == "" {
		creds, err := t.dev.List(ctx)
		if err != nil {
			return Code{}, err
		}
		names := make([]string, len(creds))
		for i, c := range creds {
			names[i] = c.Name
		}
		acc, err := choose(names)
		if err != nil {
			return Code{}, fmt.Errorf("%s: %w", t.dev.Info(), err)
		}
		t.account = acc
	}
	return t.dev.Calculate(ctx, t.account, at)
}

// Account returns the OATH account: the pinned one, or the one the first
// Code chose; empty before that.
func (t *Token) Account() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.account
}

// Device returns the device the token computes on.
func (t *Token) Device() Device { return t.dev }
