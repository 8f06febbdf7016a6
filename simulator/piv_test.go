package simulator

import (
	"bytes"
	"context"
	"crypto/des"
	"crypto/ecdh"
	"crypto/rand"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func pivTransmit(t *testing.T, c *Card, apdu string) ([]byte, uint16) {
	t.Helper()
	resp, err := c.Transmit(context.Background(), unhex(t, apdu))
	if err != nil {
		t.Fatal(err)
	}
	n := len(resp) - 2
	return resp[:n], uint16(resp[n])<<8 | uint16(resp[n+1])
}

func pivOK(t *testing.T, c *Card, apdu string) []byte {
	t.Helper()
	data, sw := pivTransmit(t, c, apdu)
	if sw != 0x9000 {
		t.Fatalf("%s → %04X", apdu, sw)
	}
	return data
}

// pivAuth selects PIV and authenticates with the default 3DES key.
func pivAuth(t *testing.T, c *Card) {
	t.Helper()
	pivOK(t, c, "00 A4 04 00 05 A0 00 00 03 08")
	resp := pivOK(t, c, "00 87 03 9B 04 7C 02 80 00")
	if len(resp) != 12 || !bytes.Equal(resp[:4], []byte{0x7C, 0x0A, 0x80, 0x08}) {
		t.Fatalf("witness answer %X", resp)
	}
	block, err := des.NewTripleDESCipher(pivDefaultMgmtKey)
	if err != nil {
		t.Fatal(err)
	}
	w := make([]byte, 8)
	block.Decrypt(w, resp[4:])
	apdu := append([]byte{0x00, 0x87, 0x03, 0x9B, 0x16, 0x7C, 0x14, 0x80, 0x08}, w...)
	apdu = append(apdu, 0x81, 0x08, 1, 2, 3, 4, 5, 6, 7, 8)
	r, err := c.Transmit(context.Background(), apdu)
	if err != nil || !bytes.HasSuffix(r, []byte{0x90, 0x00}) {
		t.Fatalf("step 2: %X, %v", r, err)
	}
}

// GENERATE answers with minimal DER lengths (piv-go's encoding/asn1 needs
// them): 7F49 43 86 41 04… for P-256, 7F49 63 86 61 04… for P-384.
func TestPIVGenerateShape(t *testing.T) {
	for _, tt := range []struct {
		alg  string
		head []byte
		n    int
	}{
		{"11", []byte{0x7F, 0x49, 0x43, 0x86, 0x41, 0x04}, 5 + 65},
		{"14", []byte{0x7F, 0x49, 0x63, 0x86, 0x61, 0x04}, 5 + 97},
	} {
		c := newTestCard(t, fw543)
		pivAuth(t, c)
		resp := pivOK(t, c, "00 47 00 9A 05 AC 03 80 01 "+tt.alg)
		if !bytes.HasPrefix(resp, tt.head) || len(resp) != tt.n {
			t.Errorf("GENERATE %s → %X", tt.alg, resp)
		}
		if _, sw := pivTransmit(t, c, "00 47 00 9A 05 AC 03 80 01 07"); sw != 0x6A80 {
			t.Errorf("GENERATE RSA-2048 (not simulated) → %04X, want 6A80", sw)
		}
		if _, sw := pivTransmit(t, c, "00 47 00 9B 05 AC 03 80 01 11"); sw != 0x6A86 {
			t.Errorf("GENERATE in 9B → %04X, want 6A86", sw)
		}
	}
}

func TestPIVKeyOperationInput(t *testing.T) {
	c := newTestCard(t, fw543)
	pivAuth(t, c)
	pivOK(t, c, "00 47 00 9E 0B AC 09 80 01 11 AA 01 01 AB 01 01") // PIN never, touch never
	peer, _ := ecdh.P256().GenerateKey(rand.Reader)
	good := append([]byte{0x00, 0x87, 0x11, 0x9E, 0x47, 0x7C, 0x45, 0x82, 0x00, 0x85, 0x41}, peer.PublicKey().Bytes()...)
	if r, err := c.Transmit(context.Background(), good); err != nil || len(r) != 2+36 || !bytes.HasPrefix(r, []byte{0x7C, 0x22, 0x82, 0x20}) {
		t.Fatalf("ECDH → %X, %v", r, err)
	}
	offCurve := bytes.Clone(good)
	offCurve[len(offCurve)-1] ^= 1
	compressed := append([]byte{0x00, 0x87, 0x11, 0x9E, 0x27, 0x7C, 0x25, 0x82, 0x00, 0x85, 0x21, 0x02}, peer.PublicKey().Bytes()[1:33]...)
	wrongAlg := bytes.Clone(good)
	wrongAlg[2] = 0x14
	for name, apdu := range map[string][]byte{"off-curve point": offCurve, "compressed point": compressed, "P1 of P-384": wrongAlg} {
		r, err := c.Transmit(context.Background(), apdu)
		if err != nil || !bytes.Equal(r, []byte{0x6A, 0x80}) {
			t.Errorf("ECDH with %s → %X, %v; want 6A80", name, r, err)
		}
	}
	if _, sw := pivTransmit(t, c, "00 87 11 9E 27 7C 25 82 00 81 21"+strings.Repeat("AA", 33)); sw != 0x6A80 {
		t.Errorf("sign a 33-byte digest with P-256 → %04X, want 6A80", sw)
	}
	if _, sw := pivTransmit(t, c, "00 87 11 9E 25 7C 23 82 00 81 20"+strings.Repeat("AA", 31)); sw != 0x6A80 {
		t.Errorf("truncated TLV → %04X, want 6A80", sw)
	}
	if _, sw := pivTransmit(t, c, "00 87 11 42 26 7C 24 82 00 81 20"+strings.Repeat("AA", 32)); sw != 0x6A86 {
		t.Errorf("unknown key reference → %04X, want 6A86", sw)
	}
}

// Touch cached: one touch serves the key for 15 s; selecting another applet
// forgets it.
func TestPIVTouchCache(t *testing.T) {
	now := time.Date(2026, 12, 2, 8, 0, 0, 0, time.UTC)
	old := pivClock
	pivClock = func() time.Time { return now }
	defer func() { pivClock = old }()

	c := newTestCard(t, fw543)
	pivAuth(t, c)
	pivOK(t, c, "00 47 00 9D 0B AC 09 80 01 11 AA 01 01 AB 01 03")
	sign := "00 87 11 9D 26 7C 24 82 00 81 20" + strings.Repeat("AA", 32)
	for _, step := range []struct {
		advance time.Duration
		reset   bool
		touches int
	}{
		{0, false, 1},
		{10 * time.Second, false, 1},
		{4 * time.Second, false, 1},
		{2 * time.Second, false, 2}, // 16 s after the first touch
		{time.Second, true, 3},      // an OATH SELECT in between
	} {
		now = now.Add(step.advance)
		if step.reset {
			pivOK(t, c, "00 A4 04 00 07 A0 00 00 05 27 21 01")
			pivOK(t, c, "00 A4 04 00 05 A0 00 00 03 08")
		}
		pivOK(t, c, sign)
		if n := c.Stats().PIVTouches; n != step.touches {
			t.Fatalf("after +%v (reset %v): %d touches, want %d", step.advance, step.reset, n, step.touches)
		}
	}
}

func TestPIVPINProtectedObject(t *testing.T) {
	c := newTestCard(t, fw543)
	pivAuth(t, c)
	pivOK(t, c, "00 DB 3F FF 0C 5C 03 5F C1 09 53 05 88 03 89 01 AA")
	if _, sw := pivTransmit(t, c, "00 CB 3F FF 05 5C 03 5F C1 09"); sw != 0x6982 {
		t.Fatalf("PIN-protected object without VERIFY → %04X, want 6982", sw)
	}
	pivOK(t, c, "00 20 00 80 08 31 32 33 34 35 36 FF FF")
	if got := pivOK(t, c, "00 CB 3F FF 05 5C 03 5F C1 09"); !bytes.Equal(got, unhex(t, "53 05 88 03 89 01 AA")) {
		t.Fatalf("GET DATA 5FC109 → %X", got)
	}
}

// The PIV section survives Save/Open, and Open refuses PIV states no card
// could be in.
func TestPIVStateFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "key.json")
	c, err := Create(path, 12345678, fw543)
	if err != nil {
		t.Fatal(err)
	}
	pivAuth(t, c)
	pub := pivOK(t, c, "00 47 00 85 05 AC 03 80 01 11")
	pivOK(t, c, "00 DB 3F FF 0C 5C 03 5F FF 00 53 05 80 03 81 01 01")
	if _, sw := pivTransmit(t, c, "00 20 00 80 08 30 30 30 30 30 30 FF FF"); sw != 0x63C2 {
		t.Fatalf("wrong PIN → %04X", sw)
	}
	root, err := c.PIVAttestationRoot()
	if err != nil {
		t.Fatal(err)
	}
	c2, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	root2, err := c2.PIVAttestationRoot()
	if err != nil || !root2.Equal(root) {
		t.Fatalf("attestation root after reopening: %v", err)
	}
	p := c2.Snapshot().PIV
	if p.PINTries != 2 || len(p.Objects["5fff00"]) != 5 {
		t.Fatalf("reopened PIV state: tries %d, objects %v", p.PINTries, p.Objects)
	}
	pivOK(t, c2, "00 A4 04 00 05 A0 00 00 03 08")
	meta := pivOK(t, c2, "00 F7 00 85 00")
	if !bytes.Contains(meta, pub[5:]) {
		t.Fatal("the reopened card's key 85 has another public key")
	}

	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for name, mutate := range map[string]func(p map[string]any){
		"short PIN":      func(p map[string]any) { p["pin"] = "3132" },
		"tries over max": func(p map[string]any) { p["pin_tries"] = 9 },
		"key in 9b":      func(p map[string]any) { p["keys"].(map[string]any)["9b"] = p["keys"].(map[string]any)["85"] },
		"key off curve": func(p map[string]any) {
			p["keys"].(map[string]any)["85"].(map[string]any)["private"] = strings.Repeat("ff", 32)
		},
		"unknown object":   func(p map[string]any) { p["objects"].(map[string]any)["123456"] = "00" },
		"mgmt key length":  func(p map[string]any) { p["mgmt_key"] = "0102" },
		"unknown policy":   func(p map[string]any) { p["keys"].(map[string]any)["85"].(map[string]any)["pin_policy"] = 0 },
		"upper-case slot":  func(p map[string]any) { k := p["keys"].(map[string]any); k["8A"] = k["85"] },
		"attest root junk": func(p map[string]any) { p["attest_root_key"] = strings.Repeat("00", 32) },
	} {
		t.Run(name, func(t *testing.T) {
			var st map[string]any
			if err := json.Unmarshal(raw, &st); err != nil {
				t.Fatal(err)
			}
			mutate(st["piv"].(map[string]any))
			b, _ := json.Marshal(st)
			bad := filepath.Join(t.TempDir(), "bad.json")
			if err := os.WriteFile(bad, b, 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := Open(bad); !errors.Is(err, ErrInvalidState) || !strings.Contains(err.Error(), "piv") {
				t.Fatalf("Open = %v, want ErrInvalidState about piv", err)
			}
		})
	}
}

// A command chain interrupted by another command: 6883, and the chain is gone.
func TestPIVChainBroken(t *testing.T) {
	c := newTestCard(t, fw543)
	pivAuth(t, c)
	pivOK(t, c, "10 DB 3F FF 05 5C 03 5F C1 0B")
	if _, sw := pivTransmit(t, c, "00 CB 3F FF 05 5C 03 5F C1 0B"); sw != 0x6883 {
		t.Fatalf("GET DATA inside a PUT DATA chain → %04X, want 6883", sw)
	}
	if _, sw := pivTransmit(t, c, "00 DB 3F FF 06 53 04 70 02 30 00"); sw != 0x6A80 {
		t.Fatalf("the chain's last part after the break → %04X, want 6A80 (no 5C: the first part is gone)", sw)
	}
}
