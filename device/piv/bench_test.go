package piv

import (
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"testing"
)

// BenchmarkECDHSession is one unseal's card work in process: SELECT,
// VERIFY, GENERAL AUTHENTICATE (ECDH) against the simulator.
func BenchmarkECDHSession(b *testing.B) {
	ctx := context.Background()
	card := newCard(b, fw543)
	c := selected(b, card)
	if _, err := c.GenerateKey(ctx, DefaultManagementKey, 0x82, KeyOptions{Algorithm: AlgECCP256, PINPolicy: PINPolicyOnce}); err != nil {
		b.Fatal(err)
	}
	eph, _ := ecdh.P256().GenerateKey(rand.Reader)
	b.ResetTimer()
	for b.Loop() {
		if err := c.Select(ctx); err != nil {
			b.Fatal(err)
		}
		if err := c.VerifyPIN(ctx, DefaultPIN); err != nil {
			b.Fatal(err)
		}
		if _, err := c.ECDH(ctx, 0x82, eph.PublicKey()); err != nil {
			b.Fatal(err)
		}
	}
}
