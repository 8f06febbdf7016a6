package main

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mfabridge/mfabridge/device/piv"
	"github.com/mfabridge/mfabridge/simulator"
	"github.com/mfabridge/mfabridge/sts/keystore"
)

// rewriter is a card transport that edits commands before the simulated
// card sees them: a card (or a man in the middle) answering with another
// slot's or another card's attestation.
type rewriter struct {
	card *simulator.Card
	edit func(apdu []byte) []byte
}

func (r rewriter) Transmit(ctx context.Context, apdu []byte) ([]byte, error) {
	return r.card.Transmit(ctx, r.edit(bytes.Clone(apdu)))
}

// otherSerial is a card that gives another serial than its own.
type otherSerial struct {
	*keystore.PIVCard
	serial uint32
}

func (o otherSerial) Serial() uint32 { return o.serial }

// checkAttestation (keys import/add/rotate --to piv:SERIAL) refuses an
// attestation for another slot or card, refuses a simulated chain unless
// trusted, and notes a key without attestation.
func TestCheckAttestation(t *testing.T) {
	ctx := context.Background()
	const serial = 55555555
	card, err := simulator.Create(filepath.Join(t.TempDir(), "key.json"), serial, simulator.Version{Major: 5, Minor: 4, Patch: 3})
	if err != nil {
		t.Fatal(err)
	}
	setup := piv.NewClient(card)
	if err := setup.Select(ctx); err != nil {
		t.Fatal(err)
	}
	for _, s := range []piv.Slot{piv.SlotKeyManagement, 0x85} {
		if _, err := setup.GenerateKey(ctx, piv.DefaultManagementKey, s, piv.KeyOptions{Algorithm: piv.AlgECCP256}); err != nil {
			t.Fatal(err)
		}
	}
	var notices bytes.Buffer
	a := &app{getenv: func(string) string { return "" }, term: openTerminal(func(string) string { return "none" }, &notices)}
	check := func(edit func([]byte) []byte, cardSerial uint32, slot byte, trust bool) error {
		t.Helper()
		c := piv.NewClient(rewriter{card, edit})
		if err := c.Select(ctx); err != nil {
			t.Fatal(err)
		}
		card, err := keystore.NewPIVCard(ctx, c, keystore.PIVCardHooks{})
		if err != nil {
			t.Fatal(err)
		}
		return a.checkAttestation(ctx, otherSerial{card, cardSerial}, slot, trust)
	}
	same := func(b []byte) []byte { return b }
	// ATTEST 9d answered with slot 85's certificate
	swap := func(b []byte) []byte {
		if len(b) >= 4 && b[1] == 0xF9 && b[2] == 0x9d {
			b[2] = 0x85
		}
		return b
	}

	if err := check(same, serial, 0x9d, true); err != nil {
		t.Fatalf("trusted simulated key, right slot and card: %v", err)
	}
	for name, tc := range map[string]struct {
		edit   func([]byte) []byte
		serial uint32
		trust  bool
		want   string
	}{
		"untrusted simulator": {same, serial, false, "attested by a simulated YubiKey"},
		"another slot's":      {swap, serial, true, "it is for slot 85, not 9d"},
		"another card's":      {same, serial + 1, true, "it is for the key with serial 55555555, not 55555556"},
	} {
		err := check(tc.edit, tc.serial, 0x9d, tc.trust)
		var h hintError
		if !errors.Is(err, piv.ErrAttestation) || !strings.Contains(err.Error(), tc.want) || !errors.As(err, &h) {
			t.Errorf("%s: %v, want a hinted ErrAttestation saying %q", name, err, tc.want)
		}
	}
	// a card without ATTEST (firmware before 4.3: 6D00) has no
	// attestation to check: noted, accepted
	noAttest := func(b []byte) []byte {
		if len(b) >= 2 && b[1] == 0xF9 {
			b[1] = 0xF0
		}
		return b
	}
	if err := check(noAttest, serial, 0x9d, false); err != nil {
		t.Fatalf("no ATTEST: %v", err)
	}
	if !strings.Contains(notices.String(), "slot 9d of YubiKey 55555555 has no attestation") {
		t.Errorf("notice for the key without attestation: %q", notices.String())
	}
}
