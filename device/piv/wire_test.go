package piv

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"encoding/hex"
	"strings"
	"testing"
)

func h(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(err)
	}
	return b
}

// The client sends the APDUs piv.md documents for piv-go (short framing)
// and ykman 4 (extended framing), byte for byte.
func TestWireFormat(t *testing.T) {
	ctx := context.Background()
	peer, err := ecdh.P256().NewPublicKey(h("04" +
		"6B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296" +
		"4FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name    string
		framing Framing
		want    []string // every APDU after SELECT
	}{
		{"short (piv-go)", FramingShort, []string{
			"00 FD 00 00 00",
			"00 F8 00 00 00",
			"00 20 00 80 00",
			"00 20 00 80 08 31 32 33 34 35 36 FF FF",
			"00 F7 00 9B 00",
			"00 87 03 9B 04 7C 02 80 00",
			"00 87 03 9B 16 7C 14 80 08 ################ 81 08 ################",
			"00 47 00 9D 0B AC 09 80 01 11 AA 01 02 AB 01 03",
			"00 87 11 9D 47 7C 45 82 00 85 41 " + hex.EncodeToString(peer.Bytes()),
			"00 87 11 9D 26 7C 24 82 00 81 20 " + strings.Repeat("AB", 32),
			"00 F9 9D 00 00",
			"00 CB 3F FF 05 5C 03 5F C1 0B",
		}},
		{"extended (ykman 4)", FramingExtended, []string{
			"00 FD 00 00 00 00 00",
			"00 F8 00 00 00 00 00",
			"00 20 00 80 00 00 00",
			"00 20 00 80 00 00 08 31 32 33 34 35 36 FF FF",
			"00 F7 00 9B 00 00 00",
			"00 87 03 9B 00 00 04 7C 02 80 00",
			"00 87 03 9B 00 00 16 7C 14 80 08 ################ 81 08 ################",
			"00 47 00 9D 00 00 0B AC 09 80 01 11 AA 01 02 AB 01 03",
			"00 87 11 9D 00 00 47 7C 45 82 00 85 41 " + hex.EncodeToString(peer.Bytes()),
			"00 87 11 9D 00 00 26 7C 24 82 00 81 20 " + strings.Repeat("AB", 32),
			"00 F9 9D 00 00 00 00",
			"00 CB 3F FF 00 00 05 5C 03 5F C1 0B",
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{t: newCard(t, fw543)}
			c := selected(t, rec, WithFraming(tt.framing))
			if !bytes.Equal(rec.sent[0], h("00 A4 04 00 05 A0 00 00 03 08")) {
				t.Errorf("SELECT %X", rec.sent[0])
			}
			rec.sent = nil
			c.Version(ctx)
			c.Serial(ctx)
			c.PINVerified(ctx)
			if err := c.VerifyPIN(ctx, DefaultPIN); err != nil {
				t.Fatal(err)
			}
			if _, err := c.GenerateKey(ctx, DefaultManagementKey, SlotKeyManagement, KeyOptions{Algorithm: AlgECCP256, PINPolicy: PINPolicyOnce, TouchPolicy: TouchPolicyCached}); err != nil {
				t.Fatal(err)
			}
			if _, err := c.ECDH(ctx, SlotKeyManagement, peer); err != nil {
				t.Fatal(err)
			}
			if _, err := c.Sign(ctx, SlotKeyManagement, AlgECCP256, bytes.Repeat([]byte{0xAB}, 48)); err != nil {
				t.Fatal(err)
			}
			if _, err := c.Attest(ctx, SlotKeyManagement); err != nil {
				t.Fatal(err)
			}
			c.Certificate(ctx, SlotKeyManagement)
			var sent []string
			for _, a := range rec.sent {
				if a[1] != insGetResponse {
					sent = append(sent, strings.ToUpper(hex.EncodeToString(a)))
				}
			}
			if len(sent) != len(tt.want) {
				t.Fatalf("sent %d APDUs, want %d:\n%s", len(sent), len(tt.want), strings.Join(sent, "\n"))
			}
			for i, w := range tt.want {
				w = strings.ToUpper(strings.ReplaceAll(w, " ", ""))
				if len(w) != len(sent[i]) {
					t.Errorf("APDU %d: %s, want %s", i, sent[i], w)
					continue
				}
				for j := range w {
					if w[j] != '#' && w[j] != sent[i][j] {
						t.Errorf("APDU %d: %s, want %s", i, sent[i], w)
						break
					}
				}
			}
		})
	}
}
