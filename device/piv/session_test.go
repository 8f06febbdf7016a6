package piv

import (
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"errors"
	"testing"
	"time"

	"github.com/mfabridge/mfabridge/oath"
)

// One card session serves PIV and then OATH over the same Transport (the
// shape of an mfabridge call: unseal the access key, then compute the
// code). PIV goes first: selecting OATH drops the verified PIN.
func TestOneSessionPIVThenOATH(t *testing.T) {
	ctx := context.Background()
	card := newCard(t, fw543)
	var tr Transport = card
	var _ oath.Transport = tr // the same interface shape

	setup := NewClient(tr)
	if err := setup.Select(ctx); err != nil {
		t.Fatal(err)
	}
	generate(t, setup, 0x82, KeyOptions{Algorithm: AlgECCP256, PINPolicy: PINPolicyOnce, TouchPolicy: TouchPolicyCached})
	oc := oath.NewClient(card)
	if _, err := oc.Select(ctx); err != nil {
		t.Fatal(err)
	}
	if err := oc.Put(ctx, oath.PutRequest{Name: "aws", Type: oath.TOTP, Algorithm: oath.SHA1, Digits: 6, Key: []byte("12345678901234567890")}); err != nil {
		t.Fatal(err)
	}

	// The session: PIV select, PIN, ECDH; then OATH select and a code.
	c := NewClient(tr)
	if err := c.Select(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.VerifyPIN(ctx, DefaultPIN); err != nil {
		t.Fatal(err)
	}
	eph, _ := ecdh.P256().GenerateKey(rand.Reader)
	if _, err := c.ECDH(ctx, 0x82, eph.PublicKey()); err != nil {
		t.Fatal(err)
	}
	if _, err := oc.Select(ctx); err != nil {
		t.Fatal(err)
	}
	code, err := oc.Calculate(ctx, "aws", oath.TOTPChallenge(time.Unix(59, 0), 30*time.Second), true)
	if err != nil || code.Code() != "287082" {
		t.Fatalf("code after PIV work = %v, %v", code, err)
	}
	// The other order loses the PIN: PIV after OATH needs VERIFY again.
	if err := c.Select(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ECDH(ctx, 0x82, eph.PublicKey()); !errors.Is(err, ErrSecurityStatus) {
		t.Fatalf("ECDH after an OATH SELECT = %v, want ErrSecurityStatus", err)
	}
}
