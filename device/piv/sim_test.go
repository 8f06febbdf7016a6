package piv

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mfabridge/mfabridge/oath"
	"github.com/mfabridge/mfabridge/simulator"
)

var fw543 = simulator.Version{Major: 5, Minor: 4, Patch: 3}

const testSerial = 12345678

func newCard(t testing.TB, fw simulator.Version, opts ...simulator.Option) *simulator.Card {
	t.Helper()
	st, err := simulator.NewState(testSerial, fw)
	if err != nil {
		t.Fatal(err)
	}
	return simulator.New(st, opts...)
}

// recorder is a Transport that keeps every command APDU.
type recorder struct {
	t    Transport
	sent [][]byte
}

func (r *recorder) Transmit(ctx context.Context, apdu []byte) ([]byte, error) {
	r.sent = append(r.sent, bytes.Clone(apdu))
	return r.t.Transmit(ctx, apdu)
}

func (r *recorder) count(ins byte) int {
	n := 0
	for _, a := range r.sent {
		if len(a) > 1 && a[1] == ins {
			n++
		}
	}
	return n
}

func selected(t testing.TB, tr Transport, opts ...Option) *Client {
	t.Helper()
	c := NewClient(tr, opts...)
	if err := c.Select(context.Background()); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestSelectVersionSerial(t *testing.T) {
	ctx := context.Background()
	c := selected(t, newCard(t, fw543))
	v, err := c.Version(ctx)
	if err != nil || v != (Version{5, 4, 3}) {
		t.Fatalf("Version() = %v, %v", v, err)
	}
	s, err := c.Serial(ctx)
	if err != nil || s != testSerial {
		t.Fatalf("Serial() = %d, %v", s, err)
	}
	// GET SERIAL needs firmware 5: a YubiKey 4 answers 6D00.
	old := selected(t, newCard(t, simulator.Version{Major: 4, Minor: 3, Patch: 5}))
	if _, err := old.Serial(ctx); !errors.Is(err, ErrNotSupported) {
		t.Errorf("Serial() on 4.3.5 = %v, want ErrNotSupported", err)
	}
}

// A card without the PIV applet: SELECT fails with ErrNotFound.
type noPIV struct{}

func (noPIV) Transmit(ctx context.Context, apdu []byte) ([]byte, error) {
	return []byte{0x6A, 0x82}, nil
}

func TestSelectNoApplet(t *testing.T) {
	err := NewClient(noPIV{}).Select(context.Background())
	var se *StatusError
	if !errors.Is(err, ErrNotFound) || !errors.As(err, &se) || se.SW != 0x6A82 {
		t.Fatalf("Select() = %v, want ErrNotFound with SW 6A82", err)
	}
}

func TestPINRetriesBlockAndUnblock(t *testing.T) {
	ctx := context.Background()
	card := newCard(t, fw543)
	c := selected(t, card)
	for _, tt := range []struct {
		pin     string
		retries int // -1: success
		blocked bool
	}{
		{"111111", 2, false},
		{DefaultPIN, -1, false}, // a good PIN restores the counter
		{"111111", 2, false},
		{"222222", 1, false},
		{"333333", 0, true}, // 63C0: the attempt that blocks
		{DefaultPIN, 0, true},
	} {
		err := c.VerifyPIN(ctx, tt.pin)
		if tt.retries < 0 {
			if err != nil {
				t.Fatalf("VerifyPIN(%s) = %v", tt.pin, err)
			}
			continue
		}
		var ae *AuthError
		if !errors.As(err, &ae) || ae.What != "PIN" || ae.Retries != tt.retries || errors.Is(err, ErrBlocked) != tt.blocked {
			t.Fatalf("VerifyPIN(%s) = %v, want AuthError{PIN, %d}, blocked %v", tt.pin, err, tt.retries, tt.blocked)
		}
	}
	var se *StatusError
	if err := c.VerifyPIN(ctx, DefaultPIN); !errors.As(err, &se) || se.SW != 0x6983 {
		t.Fatalf("VerifyPIN on a blocked PIN = %v, want SW 6983", err)
	}
	if ok, err := c.PINVerified(ctx); ok || !errors.Is(err, ErrBlocked) {
		t.Fatalf("PINVerified() on a blocked PIN = %v, %v", ok, err)
	}
	if n, err := c.PINRetries(ctx); n != 0 || err != nil {
		t.Fatalf("PINRetries() = %d, %v", n, err)
	}
	// The PUK unblocks; a wrong PUK spends a PUK try.
	var ae *AuthError
	if err := c.Unblock(ctx, "87654321", "246810"); !errors.As(err, &ae) || ae.What != "PUK" || ae.Retries != 2 {
		t.Fatalf("Unblock(wrong PUK) = %v, want AuthError{PUK, 2}", err)
	}
	if err := c.Unblock(ctx, DefaultPUK, "246810"); err != nil {
		t.Fatal(err)
	}
	if err := c.VerifyPIN(ctx, "246810"); err != nil {
		t.Fatalf("VerifyPIN(new PIN) after Unblock = %v", err)
	}
	md, err := c.Metadata(ctx, refPUK)
	if err != nil || md.RetriesLeft != 3 || md.RetriesTotal != 3 || !md.IsDefault {
		t.Fatalf("PUK metadata after unblock = %+v, %v", md, err)
	}
	// The counters are in the card's state.
	if p := card.Snapshot().PIV; p.PINTries != 3 || p.PUKTries != 3 {
		t.Errorf("state tries %d/%d, want 3/3", p.PINTries, p.PUKTries)
	}
}

func TestChangePINAndPUK(t *testing.T) {
	ctx := context.Background()
	rec := &recorder{t: newCard(t, fw543)}
	c := selected(t, rec)
	var ae *AuthError
	if err := c.ChangePIN(ctx, "000000", "13579135"); !errors.As(err, &ae) || ae.Retries != 2 {
		t.Fatalf("ChangePIN(wrong old) = %v", err)
	}
	if err := c.ChangePIN(ctx, DefaultPIN, "13579135"); err != nil {
		t.Fatal(err)
	}
	if err := c.VerifyPIN(ctx, DefaultPIN); !errors.As(err, &ae) {
		t.Fatalf("old PIN still verifies: %v", err)
	}
	if err := c.VerifyPIN(ctx, "13579135"); err != nil {
		t.Fatal(err)
	}
	if err := c.ChangePUK(ctx, DefaultPUK, "abcdefgh"); err != nil {
		t.Fatal(err)
	}
	if md, err := c.Metadata(ctx, refPUK); err != nil || md.IsDefault {
		t.Fatalf("PUK metadata after change: %+v, %v", md, err)
	}
	// Bad input never reaches the card.
	before := len(rec.sent)
	for _, bad := range []string{"12345", "123456789", "", "12345\xff"} {
		if err := c.ChangePIN(ctx, "13579135", bad); !errors.Is(err, ErrInvalidInput) {
			t.Errorf("ChangePIN(new %q) = %v, want ErrInvalidInput", bad, err)
		}
		if err := c.VerifyPIN(ctx, bad); !errors.Is(err, ErrInvalidInput) {
			t.Errorf("VerifyPIN(%q) = %v, want ErrInvalidInput", bad, err)
		}
	}
	if len(rec.sent) != before {
		t.Errorf("%d APDUs sent for refused input", len(rec.sent)-before)
	}
}

func TestManagementKey(t *testing.T) {
	ctx := context.Background()
	c := selected(t, newCard(t, fw543))
	if err := c.AuthenticateManagementKey(ctx, DefaultManagementKey); err != nil {
		t.Fatal(err)
	}
	wrong := bytes.Repeat([]byte{7}, 24)
	if err := c.AuthenticateManagementKey(ctx, wrong); !errors.Is(err, ErrSecurityStatus) {
		t.Fatalf("wrong 3DES key: %v, want ErrSecurityStatus", err)
	}
	// A failed authentication leaves the session unauthenticated.
	if err := c.PutData(ctx, 0x5FFF00, []byte{0x80, 0}); !errors.Is(err, ErrSecurityStatus) {
		t.Fatalf("PutData after a failed authentication = %v", err)
	}
	if err := c.AuthenticateManagementKey(ctx, DefaultManagementKey[:16]); !errors.Is(err, ErrInvalidInput) {
		t.Fatalf("16-byte key for 3DES: %v", err)
	}
	// AES keys of every size, each replacing the one before.
	cur := DefaultManagementKey
	for _, tt := range []struct {
		alg Algorithm
		n   int
	}{{AlgAES128, 16}, {AlgAES192, 24}, {AlgAES256, 32}, {Alg3DES, 24}} {
		key := make([]byte, tt.n)
		rand.Read(key)
		if err := c.AuthenticateManagementKey(ctx, cur); err != nil {
			t.Fatal(err)
		}
		if err := c.SetManagementKey(ctx, tt.alg, key, false); err != nil {
			t.Fatalf("SetManagementKey(%s) = %v", algName(tt.alg), err)
		}
		md, err := c.Metadata(ctx, refMgmt)
		if err != nil || md.Algorithm != tt.alg || md.IsDefault {
			t.Fatalf("metadata after setting %s: %+v, %v", algName(tt.alg), md, err)
		}
		if err := c.AuthenticateManagementKey(ctx, key); err != nil {
			t.Fatalf("authenticate with the new %s key: %v", algName(tt.alg), err)
		}
		if tt.alg != Alg3DES {
			if err := c.AuthenticateManagementKey(ctx, key[:tt.n-1]); !errors.Is(err, ErrInvalidInput) {
				t.Errorf("short %s key: %v", algName(tt.alg), err)
			}
		}
		cur = key
	}
}

// cardLiar answers the second authentication step with a wrong E(C).
type cardLiar struct{ t Transport }

func (l cardLiar) Transmit(ctx context.Context, apdu []byte) ([]byte, error) {
	resp, err := l.t.Transmit(ctx, apdu)
	if err == nil && len(apdu) > 5 && apdu[1] == insGeneralAuth && bytes.Contains(apdu, []byte{0x81, 0x08}) && len(resp) > 4 {
		resp[4] ^= 1
	}
	return resp, err
}

func TestManagementKeyCardMustProveKey(t *testing.T) {
	c := selected(t, cardLiar{newCard(t, fw543)})
	if err := c.AuthenticateManagementKey(context.Background(), DefaultManagementKey); !errors.Is(err, ErrCardAuth) {
		t.Fatalf("card with a wrong answer: %v, want ErrCardAuth", err)
	}
}

func generate(t *testing.T, c *Client, slot Slot, opts KeyOptions) *ecdsa.PublicKey {
	t.Helper()
	pub, err := c.GenerateKey(context.Background(), DefaultManagementKey, slot, opts)
	if err != nil {
		t.Fatalf("GenerateKey(%s, %+v) = %v", slot, opts, err)
	}
	return pub
}

func TestGenerateECDHSign(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		name  string
		slot  Slot
		alg   Algorithm
		curve ecdh.Curve
	}{
		{"P-256 in 9d", SlotKeyManagement, AlgECCP256, ecdh.P256()},
		{"P-384 in 9a", SlotAuthentication, AlgECCP384, ecdh.P384()},
		{"P-256 in retired 1", 0x82, AlgECCP256, ecdh.P256()},
		{"P-256 in retired 20", 0x95, AlgECCP256, ecdh.P256()},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := selected(t, newCard(t, fw543))
			pub := generate(t, c, tt.slot, KeyOptions{Algorithm: tt.alg, PINPolicy: PINPolicyOnce, TouchPolicy: TouchPolicyNever})
			if err := c.VerifyPIN(ctx, DefaultPIN); err != nil {
				t.Fatal(err)
			}
			peer, err := tt.curve.GenerateKey(rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			got, err := c.ECDH(ctx, tt.slot, peer.PublicKey())
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
			if !bytes.Equal(got, want) {
				t.Fatalf("card ECDH %x, crypto/ecdh %x", got, want)
			}
			digest := sha256.Sum256([]byte("mfabridge"))
			sig, err := c.Sign(ctx, tt.slot, tt.alg, digest[:])
			if err != nil {
				t.Fatal(err)
			}
			if !ecdsa.VerifyASN1(pub, digest[:], sig) {
				t.Fatal("signature does not verify with the generated public key")
			}
			md, err := c.Metadata(ctx, byte(tt.slot))
			if err != nil {
				t.Fatal(err)
			}
			if md.Algorithm != tt.alg || md.PINPolicy != PINPolicyOnce || md.TouchPolicy != TouchPolicyNever || md.Origin != OriginGenerated || !pub.Equal(md.PublicKey) {
				t.Fatalf("metadata %+v does not match the generated key", md)
			}
			// The wrong algorithm in P1 (a P-384 peer for a P-256 key) is refused.
			other := ecdh.P384()
			if tt.curve == ecdh.P384() {
				other = ecdh.P256()
			}
			op, _ := other.GenerateKey(rand.Reader)
			if _, err := c.ECDH(ctx, tt.slot, op.PublicKey()); !errors.Is(err, ErrIncorrectData) {
				t.Errorf("ECDH with a peer on the other curve = %v, want ErrIncorrectData", err)
			}
		})
	}
}

func TestGenerateRefusedInput(t *testing.T) {
	ctx := context.Background()
	rec := &recorder{t: newCard(t, fw543)}
	c := selected(t, rec)
	for _, tt := range []struct {
		slot Slot
		opts KeyOptions
	}{
		{0x9B, KeyOptions{Algorithm: AlgECCP256}},
		{SlotAttestation, KeyOptions{Algorithm: AlgECCP256}},
		{SlotKeyManagement, KeyOptions{Algorithm: AlgRSA2048}},
		{SlotKeyManagement, KeyOptions{Algorithm: AlgECCP256, PINPolicy: 4}},
		{SlotKeyManagement, KeyOptions{Algorithm: AlgECCP256, TouchPolicy: 4}},
	} {
		if _, err := c.GenerateKey(ctx, DefaultManagementKey, tt.slot, tt.opts); !errors.Is(err, ErrInvalidInput) {
			t.Errorf("GenerateKey(%s, %+v) = %v, want ErrInvalidInput", tt.slot, tt.opts, err)
		}
	}
	if n := rec.count(insGenerate); n != 0 {
		t.Errorf("%d GENERATE sent for refused input", n)
	}
	// A wrong management key stops before GENERATE.
	if _, err := c.GenerateKey(ctx, bytes.Repeat([]byte{9}, 24), SlotKeyManagement, KeyOptions{Algorithm: AlgECCP256}); !errors.Is(err, ErrSecurityStatus) {
		t.Errorf("GenerateKey with a wrong management key = %v", err)
	}
	if n := rec.count(insGenerate); n != 0 {
		t.Errorf("GENERATE sent after a failed authentication")
	}
}

func TestPINPolicies(t *testing.T) {
	ctx := context.Background()
	card := newCard(t, fw543)
	c := selected(t, card)
	generate(t, c, SlotKeyManagement, KeyOptions{Algorithm: AlgECCP256, PINPolicy: PINPolicyOnce})
	generate(t, c, SlotSignature, KeyOptions{Algorithm: AlgECCP256}) // default for 9c: always
	generate(t, c, SlotCardAuthentication, KeyOptions{Algorithm: AlgECCP256})
	if md, _ := c.Metadata(ctx, byte(SlotSignature)); md.PINPolicy != PINPolicyAlways || md.TouchPolicy != TouchPolicyNever {
		t.Fatalf("9c defaults resolved to %+v, want PIN always, touch never", md)
	}
	if md, _ := c.Metadata(ctx, byte(SlotCardAuthentication)); md.PINPolicy != PINPolicyNever {
		t.Fatalf("9e default PIN policy %d, want never", md.PINPolicy)
	}
	peer, _ := ecdh.P256().GenerateKey(rand.Reader)
	digest := make([]byte, 32)
	// Never: no PIN at all.
	if _, err := c.ECDH(ctx, SlotCardAuthentication, peer.PublicKey()); err != nil {
		t.Fatalf("PIN-never key: %v", err)
	}
	// Once: refused before VERIFY, then usable for the session.
	if _, err := c.ECDH(ctx, SlotKeyManagement, peer.PublicKey()); !errors.Is(err, ErrSecurityStatus) {
		t.Fatalf("PIN-once key without PIN: %v", err)
	}
	if ok, err := c.PINVerified(ctx); ok || err != nil {
		t.Fatalf("PINVerified() before VERIFY = %v, %v", ok, err)
	}
	if err := c.VerifyPIN(ctx, DefaultPIN); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := c.ECDH(ctx, SlotKeyManagement, peer.PublicKey()); err != nil {
			t.Fatalf("PIN-once key after VERIFY: %v", err)
		}
	}
	// Always: the VERIFY is consumed by one operation.
	if _, err := c.Sign(ctx, SlotSignature, AlgECCP256, digest); !errors.Is(err, ErrSecurityStatus) {
		t.Fatalf("PIN-always key without a fresh VERIFY: %v", err)
	}
	if err := c.VerifyPIN(ctx, DefaultPIN); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Sign(ctx, SlotSignature, AlgECCP256, digest); err != nil {
		t.Fatalf("PIN-always key right after VERIFY: %v", err)
	}
	if _, err := c.Sign(ctx, SlotSignature, AlgECCP256, digest); !errors.Is(err, ErrSecurityStatus) {
		t.Fatalf("PIN-always key, second use: %v", err)
	}
	// A repeated SELECT of PIV keeps the PIN; selecting OATH drops it.
	if err := c.Select(ctx); err != nil {
		t.Fatal(err)
	}
	if ok, _ := c.PINVerified(ctx); !ok {
		t.Fatal("PIN lost by a repeated SELECT of PIV")
	}
	if _, err := oath.NewClient(card).Select(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Select(ctx); err != nil {
		t.Fatal(err)
	}
	if ok, _ := c.PINVerified(ctx); ok {
		t.Fatal("PIN still verified after selecting OATH")
	}
	if _, err := c.ECDH(ctx, SlotKeyManagement, peer.PublicKey()); !errors.Is(err, ErrSecurityStatus) {
		t.Fatalf("PIN-once key after an OATH SELECT: %v", err)
	}
	// Power off drops it too.
	if err := c.VerifyPIN(ctx, DefaultPIN); err != nil {
		t.Fatal(err)
	}
	card.PowerOff()
	card.PowerOn()
	if err := c.Select(ctx); err != nil {
		t.Fatal(err)
	}
	if ok, _ := c.PINVerified(ctx); ok {
		t.Fatal("PIN still verified after power off")
	}
}

func TestTouchPolicies(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		policy  TouchPolicy
		uses    int
		touches int
	}{
		{TouchPolicyNever, 3, 0},
		{TouchPolicyAlways, 3, 3},
		{TouchPolicyCached, 3, 1},
	} {
		t.Run(fmt.Sprint(tt.policy), func(t *testing.T) {
			card := newCard(t, fw543)
			c := selected(t, card)
			generate(t, c, SlotKeyManagement, KeyOptions{Algorithm: AlgECCP256, PINPolicy: PINPolicyNever, TouchPolicy: tt.policy})
			peer, _ := ecdh.P256().GenerateKey(rand.Reader)
			for range tt.uses {
				if _, err := c.ECDH(ctx, SlotKeyManagement, peer.PublicKey()); err != nil {
					t.Fatal(err)
				}
			}
			if n := card.Stats().PIVTouches; n != tt.touches {
				t.Fatalf("%d touches for %d uses, want %d", n, tt.uses, tt.touches)
			}
		})
	}
	// Nobody touches: 6982, as the OATH applet answers a touch time-out.
	card := newCard(t, fw543, simulator.WithTouch(simulator.TouchPolicy{Mode: simulator.TouchTimeout, Delay: time.Millisecond}))
	c := selected(t, card)
	generate(t, c, SlotKeyManagement, KeyOptions{Algorithm: AlgECCP256, PINPolicy: PINPolicyNever, TouchPolicy: TouchPolicyAlways})
	peer, _ := ecdh.P256().GenerateKey(rand.Reader)
	if _, err := c.ECDH(ctx, SlotKeyManagement, peer.PublicKey()); !errors.Is(err, ErrSecurityStatus) {
		t.Fatalf("ECDH without a touch = %v, want ErrSecurityStatus", err)
	}
	// A cancelled wait for a touch returns the context's error.
	card = newCard(t, fw543, simulator.WithTouch(simulator.TouchPolicy{Mode: simulator.TouchDelay, Delay: time.Hour}))
	c = selected(t, card)
	generate(t, c, SlotKeyManagement, KeyOptions{Algorithm: AlgECCP256, PINPolicy: PINPolicyNever, TouchPolicy: TouchPolicyAlways})
	cctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if _, err := c.ECDH(cctx, SlotKeyManagement, peer.PublicKey()); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("ECDH with a cancelled touch wait = %v", err)
	}
}

func simRoots(t *testing.T, card *simulator.Card) *x509.CertPool {
	t.Helper()
	root, err := card.PIVAttestationRoot()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(root.Subject.CommonName, "NOT Yubico") {
		t.Fatalf("simulator root %q does not say it is not Yubico's", root.Subject.CommonName)
	}
	pool := x509.NewCertPool()
	pool.AddCert(root)
	return pool
}

func TestAttestation(t *testing.T) {
	ctx := context.Background()
	card := newCard(t, fw543)
	c := selected(t, card)
	pub := generate(t, c, 0x85, KeyOptions{Algorithm: AlgECCP256, PINPolicy: PINPolicyOnce, TouchPolicy: TouchPolicyCached})
	slotCert, err := c.Attest(ctx, 0x85)
	if err != nil {
		t.Fatal(err)
	}
	f9, err := c.AttestationCertificate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	a, err := VerifyAttestation(f9, slotCert, VerifyOptions{Roots: simRoots(t, card)})
	if err != nil {
		t.Fatal(err)
	}
	want := Attestation{Serial: testSerial, Version: Version{5, 4, 3}, PINPolicy: PINPolicyOnce,
		TouchPolicy: TouchPolicyCached, FormFactor: 1, Slot: 0x85}
	got := *a
	got.PublicKey = nil
	if got != want {
		t.Errorf("attestation %+v, want %+v", got, want)
	}
	if !pub.Equal(a.PublicKey) {
		t.Error("attested public key differs from the generated one")
	}
	// Yubico's roots do not trust the simulator.
	if _, err := VerifyAttestation(f9, slotCert, VerifyOptions{}); !errors.Is(err, ErrAttestation) {
		t.Fatalf("simulator attestation against Yubico's roots = %v, want ErrAttestation", err)
	}
	// Another simulated key's root does not either.
	if _, err := VerifyAttestation(f9, slotCert, VerifyOptions{Roots: simRoots(t, newCard(t, fw543))}); !errors.Is(err, ErrAttestation) {
		t.Fatalf("attestation against another card's root = %v, want ErrAttestation", err)
	}
	// A slot certificate signed by another card's F9 key is refused even
	// when both roots are trusted.
	other := newCard(t, fw543)
	oc := selected(t, other)
	generate(t, oc, 0x85, KeyOptions{Algorithm: AlgECCP256})
	otherSlot, err := oc.Attest(ctx, 0x85)
	if err != nil {
		t.Fatal(err)
	}
	both := simRoots(t, card)
	r2, _ := other.PIVAttestationRoot()
	both.AddCert(r2)
	if _, err := VerifyAttestation(f9, otherSlot, VerifyOptions{Roots: both}); !errors.Is(err, ErrAttestation) {
		t.Fatalf("another card's slot certificate with this card's F9 = %v, want ErrAttestation", err)
	}
	// Empty slot: 6A80.
	if _, err := c.Attest(ctx, SlotSignature); !errors.Is(err, ErrIncorrectData) {
		t.Errorf("Attest(empty slot) = %v, want ErrIncorrectData", err)
	}
	// The F9 certificate is the same after RESET (the card keeps it).
	blockAll(t, c)
	if err := c.Reset(ctx); err != nil {
		t.Fatal(err)
	}
	f9b, err := c.AttestationCertificate(ctx)
	if err != nil || !f9b.Equal(f9) {
		t.Fatalf("F9 certificate after RESET: %v (same: %v)", err, err == nil && f9b.Equal(f9))
	}
}

// A verified attestation counts only for the card, slot and key it names:
// one replayed from another slot or card, or for another key, is refused.
func TestAttestationCheck(t *testing.T) {
	ctx := context.Background()
	card := newCard(t, fw543)
	c := selected(t, card)
	pub85 := generate(t, c, 0x85, KeyOptions{Algorithm: AlgECCP256})
	pub9d := generate(t, c, SlotKeyManagement, KeyOptions{Algorithm: AlgECCP256})
	f9, err := c.AttestationCertificate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	verify := func(slot Slot) *Attestation {
		t.Helper()
		cert, err := c.Attest(ctx, slot)
		if err != nil {
			t.Fatal(err)
		}
		a, err := VerifyAttestation(f9, cert, VerifyOptions{Roots: simRoots(t, card)})
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	a85, a9d := verify(0x85), verify(SlotKeyManagement)
	if err := a85.Check(testSerial, 0x85, pub85); err != nil {
		t.Fatalf("Check of the right card, slot and key: %v", err)
	}
	if err := a9d.Check(testSerial, SlotKeyManagement, pub9d); err != nil {
		t.Fatalf("Check of 9d: %v", err)
	}
	for name, tc := range map[string]struct {
		a      *Attestation
		serial uint32
		slot   Slot
		pub    crypto.PublicKey
		want   string
	}{
		"another card":        {a85, testSerial + 1, 0x85, pub85, "serial"},
		"another slot's cert": {a9d, testSerial, 0x85, pub85, "slot 9d, not 85"},
		"another key":         {a85, testSerial, 0x85, pub9d, "another public key"},
		"no key":              {a85, testSerial, 0x85, nil, "another public key"},
		"no serial extension": {&Attestation{Slot: 0x85, PublicKey: pub85}, testSerial, 0x85, pub85, "serial 0"},
	} {
		err := tc.a.Check(tc.serial, tc.slot, tc.pub)
		if !errors.Is(err, ErrAttestation) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Check = %v, want ErrAttestation saying %q", name, err, tc.want)
		}
	}
}

func TestYubicoRootsLoad(t *testing.T) {
	roots, inter, err := YubicoRoots()
	if err != nil {
		t.Fatal(err)
	}
	if roots.Equal(x509.NewCertPool()) || inter.Equal(x509.NewCertPool()) {
		t.Fatal("embedded Yubico pools are empty")
	}
}

func blockAll(t *testing.T, c *Client) {
	t.Helper()
	ctx := context.Background()
	for {
		err := c.VerifyPIN(ctx, "000000")
		if errors.Is(err, ErrBlocked) {
			break
		}
		var ae *AuthError
		if !errors.As(err, &ae) {
			t.Fatalf("blocking the PIN: %v", err)
		}
	}
	for {
		err := c.Unblock(ctx, "00000000", "000000")
		if errors.Is(err, ErrBlocked) {
			break
		}
		var ae *AuthError
		if !errors.As(err, &ae) {
			t.Fatalf("blocking the PUK: %v", err)
		}
	}
}

func TestReset(t *testing.T) {
	ctx := context.Background()
	c := selected(t, newCard(t, fw543))
	generate(t, c, SlotKeyManagement, KeyOptions{Algorithm: AlgECCP256})
	if err := c.ChangePIN(ctx, DefaultPIN, "999999"); err != nil {
		t.Fatal(err)
	}
	if err := c.Reset(ctx); !errors.Is(err, ErrConditions) {
		t.Fatalf("Reset with PIN and PUK unblocked = %v, want ErrConditions", err)
	}
	blockAll(t, c)
	if err := c.Reset(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.VerifyPIN(ctx, DefaultPIN); err != nil {
		t.Fatalf("default PIN after reset: %v", err)
	}
	if _, err := c.Metadata(ctx, byte(SlotKeyManagement)); !errors.Is(err, ErrNotFound) {
		t.Fatalf("key survived reset: %v", err)
	}
}

func TestDataObjectsFramingAndChaining(t *testing.T) {
	ctx := context.Background()
	big := make([]byte, 2900) // a certificate-sized object: several short blocks, one extended APDU
	rand.Read(big)
	for _, tt := range []struct {
		name      string
		framing   Framing
		chunk     int
		puts      int // APDUs carrying the PUT DATA
		extended  bool
		responses int // answers to read it back (1 + GET RESPONSEs)
	}{
		{"short", FramingShort, 0, 12, false, 12},
		{"extended", FramingExtended, 0, 1, true, 12},
		{"auto (5.4.3: extended)", FramingAuto, 0, 1, true, 12},
		{"short, 61xx every 16 bytes", FramingShort, 16, 12, false, 182},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var opts []simulator.Option
			if tt.chunk > 0 {
				opts = append(opts, simulator.WithChunkSize(tt.chunk))
			}
			rec := &recorder{t: newCard(t, fw543, opts...)}
			c := selected(t, rec, WithFraming(tt.framing))
			if _, err := c.Version(ctx); err != nil {
				t.Fatal(err)
			}
			if err := c.AuthenticateManagementKey(ctx, DefaultManagementKey); err != nil {
				t.Fatal(err)
			}
			rec.sent = nil
			if err := c.PutData(ctx, 0x5FC10B, big); err != nil {
				t.Fatal(err)
			}
			if len(rec.sent) != tt.puts {
				t.Errorf("PUT DATA took %d APDUs, want %d", len(rec.sent), tt.puts)
			}
			for i, a := range rec.sent {
				ext := len(a) >= 7 && a[4] == 0
				if ext != tt.extended {
					t.Errorf("APDU %d extended=%v: %X", i, ext, a[:7])
				}
				if last := i == len(rec.sent)-1; (a[0] == claChain) == last {
					t.Errorf("APDU %d of %d has CLA %02X", i+1, len(rec.sent), a[0])
				}
			}
			rec.sent = nil
			got, err := c.GetData(ctx, 0x5FC10B)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, big) {
				t.Fatal("object read back differs")
			}
			if len(rec.sent) != tt.responses || rec.count(insGetResponse) != tt.responses-1 {
				t.Errorf("GET DATA took %d APDUs (%d GET RESPONSE), want %d", len(rec.sent), rec.count(insGetResponse), tt.responses)
			}
			// Delete, then 6A82.
			if err := c.PutData(ctx, 0x5FC10B, nil); err != nil {
				t.Fatal(err)
			}
			if _, err := c.GetData(ctx, 0x5FC10B); !errors.Is(err, ErrNotFound) {
				t.Fatalf("GetData after delete = %v, want ErrNotFound", err)
			}
		})
	}
}

func TestCertificateRoundTrip(t *testing.T) {
	ctx := context.Background()
	card := newCard(t, fw543)
	c := selected(t, card)
	if err := c.AuthenticateManagementKey(ctx, DefaultManagementKey); err != nil {
		t.Fatal(err)
	}
	root, err := card.PIVAttestationRoot()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.PutCertificate(ctx, 0x82, root); err != nil {
		t.Fatal(err)
	}
	got, err := c.Certificate(ctx, 0x82)
	if err != nil || !got.Equal(root) {
		t.Fatalf("Certificate(82) = %v, %v", got, err)
	}
	if _, err := c.Certificate(ctx, 0x83); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Certificate(empty) = %v, want ErrNotFound", err)
	}
	if _, err := c.Metadata(ctx, 0x83); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Metadata(empty slot) = %v, want ErrNotFound", err)
	}
}

// The state survives the process: tries spent and keys made are in the file.
func TestPersistence(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "key.json")
	card, err := simulator.Create(path, testSerial, fw543)
	if err != nil {
		t.Fatal(err)
	}
	c := selected(t, card)
	pub := generate(t, c, SlotKeyManagement, KeyOptions{Algorithm: AlgECCP256, PINPolicy: PINPolicyOnce})
	var ae *AuthError
	if err := c.VerifyPIN(ctx, "000000"); !errors.As(err, &ae) {
		t.Fatal(err)
	}
	card2, err := simulator.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	c2 := selected(t, card2)
	if n, err := c2.PINRetries(ctx); n != 2 || err != nil {
		t.Fatalf("PIN tries after reopening = %d, %v; want 2", n, err)
	}
	md, err := c2.Metadata(ctx, byte(SlotKeyManagement))
	if err != nil || !pub.Equal(md.PublicKey) {
		t.Fatalf("key after reopening: %+v, %v", md, err)
	}
}

func TestTraceRedactsSecrets(t *testing.T) {
	ctx := context.Background()
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c := selected(t, newCard(t, fw543), WithLogger(log))
	pin := "864213"
	if err := c.ChangePIN(ctx, DefaultPIN, pin); err != nil {
		t.Fatal(err)
	}
	if err := c.VerifyPIN(ctx, pin); err != nil {
		t.Fatal(err)
	}
	generate(t, c, SlotKeyManagement, KeyOptions{Algorithm: AlgECCP256, PINPolicy: PINPolicyOnce})
	peer, _ := ecdh.P256().GenerateKey(rand.Reader)
	secret, err := c.ECDH(ctx, SlotKeyManagement, peer.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, s := range []string{
		fmt.Sprintf("%X", pin), fmt.Sprintf("%X", DefaultPIN),
		fmt.Sprintf("%X", secret[:8]), fmt.Sprintf("%X", DefaultManagementKey[:8]),
	} {
		if strings.Contains(out, s) {
			t.Errorf("trace contains the secret %s:\n%s", s, out)
		}
	}
	if !strings.Contains(out, "> 0024008010<redacted 16 bytes>") || !strings.Contains(out, "< 9000") {
		t.Errorf("trace lacks the redacted CHANGE REFERENCE DATA:\n%s", out)
	}
}
