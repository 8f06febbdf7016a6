package piv

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"encoding/hex"
	"strings"
	"testing"
)

func hexSeed(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(err)
	}
	return b
}

// FuzzParseTLVs: never panics; what parses re-encodes (minimal lengths) to
// bytes that parse to the same items, and minimal input round-trips exactly.
func FuzzParseTLVs(f *testing.F) {
	for _, s := range []string{
		"7F49 43 86 41 04" + strings.Repeat("11", 64),
		"7C 22 82 20" + strings.Repeat("AB", 32),
		"53 05 80 03 81 01 01",
		"01 01 11 02 02 02 03 03 01 01 04 43 86 41 04" + strings.Repeat("22", 64),
		"5FC105 00", "70 81 80" + strings.Repeat("00", 128), "70 82 0100" + strings.Repeat("00", 256),
		"70 81 05 0102030405", // non-minimal
		"5F", "7F", "5FC1", "81", "70 83 000001 00", "DF FF FF 01 00",
	} {
		f.Add(hexSeed(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		items, err := ParseTLVs(b)
		if err != nil {
			return
		}
		var enc []byte
		for _, it := range items {
			enc = AppendTLV(enc, it.Tag, it.Value)
		}
		again, err := ParseTLVs(enc)
		if err != nil || len(again) != len(items) {
			t.Fatalf("re-encoded %X does not parse back: %v", enc, err)
		}
		for i := range items {
			if again[i].Tag != items[i].Tag || !bytes.Equal(again[i].Value, items[i].Value) {
				t.Fatalf("item %d: %X/%X became %X/%X", i, items[i].Tag, items[i].Value, again[i].Tag, again[i].Value)
			}
		}
		if len(enc) == len(b) && !bytes.Equal(enc, b) {
			t.Fatalf("same length, different bytes: %X → %X", b, enc)
		}
	})
}

// FuzzParseMetadata: never panics on any card answer.
func FuzzParseMetadata(f *testing.F) {
	f.Add(hexSeed("01 01 FF 05 01 01 06 02 03 03"))
	f.Add(hexSeed("01 01 03 02 02 00 01 05 01 01"))
	f.Add(hexSeed("01 01 11 02 02 02 03 03 01 01 04 43 86 41 04" + strings.Repeat("22", 64)))
	f.Add(hexSeed("01 01 14 04 02 86 00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		md, err := parseMetadata(b)
		if err == nil && md == nil {
			t.Fatal("nil metadata without an error")
		}
	})
}

// scripted answers every APDU with the next fuzzed answer.
type scripted struct{ answers [][]byte }

func (s *scripted) Transmit(ctx context.Context, apdu []byte) ([]byte, error) {
	if len(s.answers) == 0 {
		return []byte{0x90, 0x00}, nil
	}
	a := s.answers[0]
	s.answers = s.answers[1:]
	return a, nil
}

// FuzzClientAnswers drives every client operation with arbitrary card
// answers: no panic, no hang (61xx loops are bounded).
func FuzzClientAnswers(f *testing.F) {
	f.Add(hexSeed("05 05 04 03 90 00 1A 7C 0A 80 08 90 15 2A 4C 1C F4 27 80 90 00 0C 7C 0A 82 08 64 21 97 BF C4 13 EA 58 90 00"))
	f.Add(hexSeed("02 61 00 02 61 10 02 61 00 03 AA 90 00"))
	f.Add(hexSeed("02 63 C2 02 69 83 02 6A 82"))
	f.Fuzz(func(t *testing.T, b []byte) {
		var answers [][]byte
		for len(b) > 0 {
			n := min(int(b[0]), len(b)-1)
			answers = append(answers, b[1:1+n])
			b = b[1+n:]
		}
		ctx := context.Background()
		c := NewClient(&scripted{answers: answers}, WithFraming(FramingAuto), WithRand(bytes.NewReader(make([]byte, 64))))
		peer, _ := ecdh.P256().NewPublicKey(hexSeed("04" +
			"6B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296" +
			"4FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5"))
		c.Select(ctx)
		c.Version(ctx)
		c.Serial(ctx)
		c.PINVerified(ctx)
		c.PINRetries(ctx)
		c.VerifyPIN(ctx, DefaultPIN)
		c.Metadata(ctx, 0x9D)
		c.GenerateKey(ctx, DefaultManagementKey, SlotKeyManagement, KeyOptions{Algorithm: AlgECCP256})
		c.ECDH(ctx, SlotKeyManagement, peer)
		c.Sign(ctx, SlotKeyManagement, AlgECCP256, make([]byte, 32))
		c.Attest(ctx, SlotKeyManagement)
		c.AttestationCertificate(ctx)
		c.GetData(ctx, 0x7E)
	})
}
