package device

import (
	"context"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/rand"
	"path/filepath"
	"testing"

	"github.com/mfabridge/mfabridge/device/piv"
	"github.com/mfabridge/mfabridge/simulator"
)

// OpenPIV: one card session with the PIV applet selected; what it does
// (a generated key) is saved in the simulator's state when released, and
// the next session sees it.
func TestOpenPIVSim(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "key.json")
	if _, err := simulator.Create(path, 31337, simulator.Version{Major: 5, Minor: 4, Patch: 3}); err != nil {
		t.Fatal(err)
	}
	y, err := OpenSim(path, Hooks{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	c, release, err := y.OpenPIV(ctx)
	if err != nil {
		t.Fatal(err)
	}
	serial, err := c.Serial(ctx)
	if err != nil || serial != 31337 {
		t.Fatalf("Serial = %d, %v; want 31337", serial, err)
	}
	pub, err := c.GenerateKey(ctx, piv.DefaultManagementKey, piv.SlotKeyManagement, piv.KeyOptions{Algorithm: piv.AlgECCP256})
	if err != nil {
		t.Fatal(err)
	}
	if err := release(); err != nil {
		t.Fatal(err)
	}

	c, release, err = y.OpenPIV(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	md, err := c.Metadata(ctx, 0x9d)
	if err != nil {
		t.Fatal(err)
	}
	if !md.PublicKey.(*ecdsa.PublicKey).Equal(pub) {
		t.Fatal("the key generated in the first session is not the one the second sees")
	}
	if err := c.VerifyPIN(ctx, "123456"); err != nil {
		t.Fatal(err)
	}
	peer, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.ECDH(ctx, piv.SlotKeyManagement, peer.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	cardPub, err := pub.ECDH()
	if err != nil {
		t.Fatal(err)
	}
	want, err := peer.ECDH(cardPub)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Fatal("ECDH through OpenPIV differs from crypto/ecdh")
	}
}
