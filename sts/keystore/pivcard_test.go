package keystore

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/mfabridge/mfabridge/device/piv"
	"github.com/mfabridge/mfabridge/simulator"
)

// PIVCard over the simulated key's PIV applet: a sealed file opens with
// the PIN asked as the key's policy says (once per session, or before
// every use), a refused PIN is reported and typed, the touch hook frames
// the ECDH of a key that may wait for a touch, and an empty slot or a key
// that is not P-256 are told apart.
func TestPIVCard(t *testing.T) {
	ctx := context.Background()
	const serial = 27182818
	card, err := simulator.Create(filepath.Join(t.TempDir(), "key.json"), serial, simulator.Version{Major: 5, Minor: 4, Patch: 3},
		simulator.WithTouchFunc(func(context.Context) (bool, error) { return true, nil }))
	if err != nil {
		t.Fatal(err)
	}
	c := piv.NewClient(card)
	if err := c.Select(ctx); err != nil {
		t.Fatal(err)
	}
	gen := func(slot piv.Slot, opts piv.KeyOptions) {
		t.Helper()
		if _, err := c.GenerateKey(ctx, piv.DefaultManagementKey, slot, opts); err != nil {
			t.Fatal(err)
		}
	}
	gen(piv.SlotKeyManagement, piv.KeyOptions{Algorithm: piv.AlgECCP256, PINPolicy: piv.PINPolicyOnce, TouchPolicy: piv.TouchPolicyCached})
	gen(0x82, piv.KeyOptions{Algorithm: piv.AlgECCP256, PINPolicy: piv.PINPolicyAlways, TouchPolicy: piv.TouchPolicyNever})
	gen(0x83, piv.KeyOptions{Algorithm: piv.AlgECCP384})

	var prompts, refused, touches, answered int
	pin := piv.DefaultPIN
	open := func() *PIVCard {
		t.Helper()
		p, err := NewPIVCard(ctx, c, PIVCardHooks{
			PIN: func(_ context.Context, s uint32) (string, error) {
				if s != serial {
					t.Errorf("PIN asked for %d, want %d", s, serial)
				}
				prompts++
				return pin, nil
			},
			PINRefused: func(uint32) { refused++ },
			Touch: func(uint32) func() {
				touches++
				return func() { answered++ }
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		if p.Serial() != serial {
			t.Fatalf("Serial = %d, want %d", p.Serial(), serial)
		}
		return p
	}
	sealed := func(p *PIVCard, slot byte) *Sealed {
		t.Helper()
		pub, err := p.PublicKey(ctx, slot)
		if err != nil {
			t.Fatal(err)
		}
		return sealAlice(t, Recipient{Serial: serial, Slot: slot, PublicKey: pub})
	}

	// PIN once, touch cached: one prompt for two opens; each ECDH touched.
	p := open()
	s := sealed(p, byte(piv.SlotKeyManagement))
	for range 2 {
		k, err := s.Open(ctx, p)
		if err != nil || k.SecretAccessKey != aliceKey.SecretAccessKey {
			t.Fatalf("Open = %v, %v", k, err)
		}
	}
	if prompts != 1 || touches != 2 || answered != 2 {
		t.Errorf("PIN once, touch cached: %d prompts, %d touch hooks (%d answered); want 1, 2 (2)", prompts, touches, answered)
	}

	// PIN always, touch never: a prompt for each open, no touch hook.
	prompts, touches, answered = 0, 0, 0
	s = sealed(p, 0x82)
	for range 2 {
		if _, err := s.Open(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	if prompts != 2 || touches != 0 {
		t.Errorf("PIN always, touch never: %d prompts, %d touch hooks; want 2, 0", prompts, touches)
	}

	// A wrong PIN in a new session: refused, typed, tries left.
	prompts = 0
	pin = "000000"
	_, err = s.Open(ctx, open())
	var pe *PINError
	var ae *piv.AuthError
	if !errors.As(err, &pe) || pe.Serial != serial || !errors.As(err, &ae) || refused != 1 {
		t.Errorf("wrong PIN: %v (refused %d times); want a *PINError for %d wrapping *piv.AuthError, refused once", err, refused, serial)
	}
	pin = piv.DefaultPIN
	if err := open().CheckPIN(ctx, 0x82); err != nil || prompts != 2 {
		t.Errorf("CheckPIN with the right PIN: %v after %d prompts; want nil after 2", err, prompts)
	}

	// No PIN hook: a *PINError wrapping ErrNoPIN, before the card is asked.
	bare, err := NewPIVCard(ctx, c, PIVCardHooks{})
	if err != nil {
		t.Fatal(err)
	}
	if err := bare.CheckPIN(ctx, 0x82); !errors.Is(err, ErrNoPIN) || !errors.As(err, &pe) {
		t.Errorf("CheckPIN without a PIN hook: %v; want a *PINError wrapping ErrNoPIN", err)
	}

	// An empty slot matches ErrNotFound; a P-384 key is an *AlgorithmError.
	if _, err := p.PublicKey(ctx, 0x84); !errors.Is(err, ErrNotFound) {
		t.Errorf("empty slot: %v; want ErrNotFound", err)
	}
	var alg *AlgorithmError
	if _, err := p.PublicKey(ctx, 0x83); !errors.As(err, &alg) || alg.Algorithm != piv.AlgECCP384 || alg.Slot != 0x83 {
		t.Errorf("P-384 key: %v; want an *AlgorithmError for slot 83, algorithm P-384", err)
	}
}

// countingTransport counts the command APDUs with instruction ins and
// parameter p2.
type countingTransport struct {
	piv.Transport
	ins, p2 byte
	n       int
}

func (c *countingTransport) Transmit(ctx context.Context, apdu []byte) ([]byte, error) {
	if len(apdu) > 3 && apdu[1] == c.ins && apdu[3] == c.p2 {
		c.n++
	}
	return c.Transport.Transmit(ctx, apdu)
}

// TestPIVCardReadsSlotOnce: a session that reads a slot's key, checks
// the PIN and opens a sealed file (what keys add --to piv and a sealed
// fetch do) asks the card for the slot's metadata once; a new session
// asks again.
func TestPIVCardReadsSlotOnce(t *testing.T) {
	ctx := context.Background()
	const serial = 31415926
	card, err := simulator.Create(filepath.Join(t.TempDir(), "key.json"), serial, simulator.Version{Major: 5, Minor: 4, Patch: 3},
		simulator.WithTouchFunc(func(context.Context) (bool, error) { return true, nil }))
	if err != nil {
		t.Fatal(err)
	}
	ct := &countingTransport{Transport: card, ins: 0xF7, p2: byte(piv.SlotKeyManagement)} // GET METADATA of slot 9d
	c := piv.NewClient(ct)
	if err := c.Select(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GenerateKey(ctx, piv.DefaultManagementKey, piv.SlotKeyManagement,
		piv.KeyOptions{Algorithm: piv.AlgECCP256, PINPolicy: piv.PINPolicyOnce, TouchPolicy: piv.TouchPolicyNever}); err != nil {
		t.Fatal(err)
	}
	session := func() *PIVCard {
		p, err := NewPIVCard(ctx, c, PIVCardHooks{PIN: func(context.Context, uint32) (string, error) { return piv.DefaultPIN, nil }})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	slot := byte(piv.SlotKeyManagement)
	p := session()
	pub, err := p.PublicKey(ctx, slot)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Metadata(ctx, slot); err != nil {
		t.Fatal(err)
	}
	if err := p.CheckPIN(ctx, slot); err != nil {
		t.Fatal(err)
	}
	s := sealAlice(t, Recipient{Serial: serial, Slot: slot, PublicKey: pub})
	if k, err := s.Open(ctx, p); err != nil || k.SecretAccessKey != aliceKey.SecretAccessKey {
		t.Fatalf("Open = %v, %v", k, err)
	}
	if ct.n != 1 {
		t.Errorf("one session read the slot's metadata %d times, want 1", ct.n)
	}
	if _, err := s.Open(ctx, session()); err != nil {
		t.Fatal(err)
	}
	if ct.n != 2 {
		t.Errorf("a second session: %d metadata reads in all, want 2", ct.n)
	}
	// An empty slot is not remembered as a key: asked each time.
	ct.p2, ct.n = 0x84, 0
	for range 2 {
		if _, err := p.PublicKey(ctx, 0x84); !errors.Is(err, ErrNotFound) {
			t.Fatalf("empty slot: %v", err)
		}
	}
	if ct.n != 2 {
		t.Errorf("two reads of an empty slot: %d metadata reads, want 2", ct.n)
	}
}

// sealAlice seals alice's key to r and parses the result.
func sealAlice(t *testing.T, r Recipient) *Sealed {
	t.Helper()
	data, err := Seal(r, "alice", aliceKey)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ParseSealed(data)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
