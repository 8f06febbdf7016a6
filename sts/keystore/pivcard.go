package keystore

import (
	"context"
	"crypto/ecdh"
	"crypto/ecdsa"
	"errors"
	"fmt"

	"github.com/mfabridge/mfabridge/device/piv"
)

// PIVCardHooks are a PIVCard's user-facing hooks (nil: none).
type PIVCardHooks struct {
	// PIN returns the PIV PIN of the card with serial when a key
	// operation needs it; its error is returned as it is. Nil: a key
	// that needs the PIN fails with a *PINError wrapping ErrNoPIN.
	PIN func(ctx context.Context, serial uint32) (string, error)
	// PINRefused is told that the card refused the PIN that PIN gave (a
	// PIN kept for the next operation must be asked for again).
	PINRefused func(serial uint32)
	// Touch is called before an ECDH the card may wait for a touch for
	// (touch policy always or cached); answered is called when the card
	// has answered.
	Touch func(serial uint32) (answered func())
}

// ErrNoPIN is a key operation that needs the PIV PIN with no
// PIVCardHooks.PIN to ask for it.
var ErrNoPIN = errors.New("no PIV PIN")

// PIVCard is one PIV card session as a Card: our PIV client (device/piv)
// with a P-256 key in the slot. The PIN is verified before a key
// operation that needs it, once per session (PIN policy once) or every
// time (always); a wrong or blocked PIN is a *PINError. An empty slot
// wraps ErrNotFound; a key that is not P-256 is an *AlgorithmError.
type PIVCard struct {
	c        *piv.Client
	serial   uint32
	hooks    PIVCardHooks
	verified bool // the PIN was verified in this session
	// keys holds each slot's key as read in this session: a command
	// that checks, attests and uses a slot asks the card once.
	keys map[byte]slotKey
}

// slotKey is a slot's metadata and its P-256 public key.
type slotKey struct {
	md  *piv.Metadata
	pub *ecdh.PublicKey
}

// NewPIVCard reads the serial of the card c speaks to (its PIV applet
// selected) and returns it as a Card. The caller keeps the card session
// and ends it after the last use.
func NewPIVCard(ctx context.Context, c *piv.Client, hooks PIVCardHooks) (*PIVCard, error) {
	serial, err := c.Serial(ctx)
	if err != nil {
		return nil, fmt.Errorf("read PIV serial: %w", err)
	}
	return &PIVCard{c: c, serial: serial, hooks: hooks}, nil
}

// Serial is the card's serial number.
func (p *PIVCard) Serial() uint32 { return p.serial }

// Client is the card's PIV client (attestation, other objects).
func (p *PIVCard) Client() *piv.Client { return p.c }

// emptySlotError is an empty PIV slot: it matches ErrNotFound without
// repeating that sentinel's text (which speaks of access keys).
type emptySlotError struct {
	serial uint32
	slot   byte
}

func (e *emptySlotError) Error() string {
	return fmt.Sprintf("YubiKey %d has no key in PIV slot %02x", e.serial, e.slot)
}
func (e *emptySlotError) Is(target error) bool { return target == ErrNotFound }

// AlgorithmError is a PIV slot whose key is not P-256, the only
// algorithm a sealed file is made for.
type AlgorithmError struct {
	Serial    uint32
	Slot      byte
	Algorithm piv.Algorithm
}

func (e *AlgorithmError) Error() string {
	return fmt.Sprintf("YubiKey %d, PIV slot %02x: the key is not P-256 (algorithm %02x)", e.Serial, e.Slot, byte(e.Algorithm))
}

// PINError is a PIV PIN the card did not accept, or none to give it. It
// wraps the cause: piv.ErrBlocked, a *piv.AuthError (tries left),
// ErrNoPIN, or the card's other errors.
type PINError struct {
	Serial uint32
	Err    error
}

func (e *PINError) Error() string {
	var ae *piv.AuthError
	switch {
	case errors.Is(e.Err, piv.ErrBlocked):
		return fmt.Sprintf("the PIV PIN of YubiKey %d is blocked: %v", e.Serial, e.Err)
	case errors.As(e.Err, &ae):
		return fmt.Sprintf("verify the PIV PIN of YubiKey %d: %v (at 0 the PIN is blocked and only the PUK unblocks it)", e.Serial, e.Err)
	}
	return fmt.Sprintf("verify the PIV PIN of YubiKey %d: %v", e.Serial, e.Err)
}

func (e *PINError) Unwrap() error { return e.Err }

// Metadata reads the slot's key: an empty slot wraps ErrNotFound, a key
// that is not P-256 is an *AlgorithmError.
func (p *PIVCard) Metadata(ctx context.Context, slot byte) (*piv.Metadata, error) {
	md, _, err := p.metadata(ctx, slot)
	return md, err
}

func (p *PIVCard) metadata(ctx context.Context, slot byte) (*piv.Metadata, *ecdh.PublicKey, error) {
	if k, ok := p.keys[slot]; ok {
		return k.md, k.pub, nil
	}
	md, err := p.c.Metadata(ctx, slot)
	if errors.Is(err, piv.ErrNotFound) {
		return nil, nil, &emptySlotError{p.serial, slot}
	}
	if err != nil {
		return nil, nil, fmt.Errorf("YubiKey %d, PIV slot %02x: %w", p.serial, slot, err)
	}
	ec, ok := md.PublicKey.(*ecdsa.PublicKey)
	if !ok || md.Algorithm != piv.AlgECCP256 {
		return nil, nil, &AlgorithmError{Serial: p.serial, Slot: slot, Algorithm: md.Algorithm}
	}
	pub, err := ec.ECDH()
	if err != nil {
		return nil, nil, fmt.Errorf("YubiKey %d, PIV slot %02x: %w", p.serial, slot, err)
	}
	if p.keys == nil {
		p.keys = map[byte]slotKey{}
	}
	p.keys[slot] = slotKey{md, pub}
	return md, pub, nil
}

// PublicKey is the slot's P-256 key.
func (p *PIVCard) PublicKey(ctx context.Context, slot byte) (*ecdh.PublicKey, error) {
	_, pub, err := p.metadata(ctx, slot)
	return pub, err
}

// ECDH verifies the PIN when the key's policy asks for it (once per
// session; before every use for policy always), then lets the card
// compute the shared secret, calling the Touch hook when the key's touch
// policy may make the card wait.
func (p *PIVCard) ECDH(ctx context.Context, slot byte, peer *ecdh.PublicKey) ([]byte, error) {
	md, _, err := p.metadata(ctx, slot)
	if err != nil {
		return nil, err
	}
	if md.PINPolicy != piv.PINPolicyNever && (!p.verified || md.PINPolicy == piv.PINPolicyAlways) {
		if err := p.verifyPIN(ctx); err != nil {
			return nil, err
		}
	}
	if p.hooks.Touch != nil && (md.TouchPolicy == piv.TouchPolicyAlways || md.TouchPolicy == piv.TouchPolicyCached) {
		defer p.hooks.Touch(p.serial)()
	}
	return p.c.ECDH(ctx, piv.Slot(slot), peer)
}

// CheckPIN verifies the PIN now if the slot's key will need it and this
// session has not verified it yet.
func (p *PIVCard) CheckPIN(ctx context.Context, slot byte) error {
	md, _, err := p.metadata(ctx, slot)
	if err != nil {
		return err
	}
	if md.PINPolicy == piv.PINPolicyNever || p.verified {
		return nil
	}
	return p.verifyPIN(ctx)
}

func (p *PIVCard) verifyPIN(ctx context.Context) error {
	if p.hooks.PIN == nil {
		return &PINError{Serial: p.serial, Err: ErrNoPIN}
	}
	pin, err := p.hooks.PIN(ctx, p.serial)
	if err != nil {
		return err
	}
	if err := p.c.VerifyPIN(ctx, pin); err != nil {
		if p.hooks.PINRefused != nil {
			p.hooks.PINRefused(p.serial)
		}
		return &PINError{Serial: p.serial, Err: err}
	}
	p.verified = true
	return nil
}
