package simulator

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/mfabridge/mfabridge/oath"
)

// FuzzPIVTransmit sends random APDU sequences to the PIV applet, seeded with
// what ykman and piv-go send (piv.md) and a management key authentication
// that the counting random source makes valid, so that GENERATE, GENERAL
// AUTHENTICATE, PUT DATA and RESET are in reach. Every answer must end in a
// status word, carry no data with an error, respect the chunk size, and
// the state must stay valid.
func FuzzPIVTransmit(f *testing.F) {
	h := func(s string) []byte { return unhex(f, s) }
	sel := h("00 A4 04 00 05 A0 00 00 03 08")
	auth1 := h("00 87 03 9B 04 7C 02 80 00")
	auth2 := h("00 87 03 9B 16 7C 14 80 08 00 01 02 03 04 05 06 07 81 08 C0 C1 C2 C3 C4 C5 C6 C7")
	gen := h("00 47 00 9D 0B AC 09 80 01 11 AA 01 02 AB 01 03")
	verify := h("00 20 00 80 08 31 32 33 34 35 36 FF FF")
	ecdhAPDU := h("00 87 11 9D 47 7C 45 82 00 85 41 04" +
		"6B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296" +
		"4FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5")
	sign := h("00 87 11 9D 26 7C 24 82 00 81 20" + strings.Repeat("AA", 32))
	f.Add(session(sel, h("00 FD 00 00 00"), h("00 CB 3F FF 00 00 05 5C 03 5F FF 00"),
		h("00 F7 00 80 00 00 00"), h("00 F7 00 9B 00 00 00"), h("00 CB 3F FF 00 00 05 5C 03 5F C1 02"),
		h("00 24 00 80 00 00 10 31 32 33 34 35 36 FF FF 36 35 34 33 32 31 FF FF")))
	f.Add(session(sel, auth1, auth2, gen, verify, ecdhAPDU, sign, h("00 F9 9D 00 00"), h("00 C0 00 00 00"),
		h("00 F7 00 9D 00"), h("00 CB 3F FF 05 5C 03 5F FF 01"), h("00 C0 00 00 00")))
	f.Add(session(sel, auth1, auth2, h("10 DB 3F FF 05 5C 03 5F C1 0B"), h("00 DB 3F FF 06 53 04 70 02 30 00"),
		h("00 CB 3F FF 05 5C 03 5F C1 0B"), h("00 FF FF FF 1B 03 9B 18"+strings.Repeat("11", 24))))
	f.Add(session(sel, h("00 20 00 80 08 FF FF FF FF FF FF FF FF"), h("00 20 00 80 08 FF FF FF FF FF FF FF FF"),
		h("00 20 00 80 08 FF FF FF FF FF FF FF FF"), h("00 2C 00 80 10"+strings.Repeat("FF", 16)),
		h("00 2C 00 80 10"+strings.Repeat("FF", 16)), h("00 2C 00 80 10"+strings.Repeat("FF", 16)),
		h("00 FB 00 00 00")))
	f.Add(session(sel, auth1, auth2, h("00 FE 11 9A 22 06 20"+strings.Repeat("01", 32)), h("00 F9 9A 00 00"),
		h("00 A4 04 00 07 A0 00 00 05 27 21 01"), sel, h("00 20 00 80 00")))
	f.Fuzz(func(t *testing.T, data []byte) {
		c := newTestCard(t, fw543, WithChunkSize(7), WithTouch(TouchPolicy{Mode: TouchTimeout, Delay: time.Microsecond}))
		for _, a := range fuzzSession(data) {
			resp, err := c.Transmit(context.Background(), a)
			if err != nil {
				t.Fatalf("Transmit(%x): %v", a, err)
			}
			if len(resp) < 2 {
				t.Fatalf("Transmit(%x) = %x: no status word", a, resp)
			}
			sw := uint16(resp[len(resp)-2])<<8 | uint16(resp[len(resp)-1])
			if sw>>8 != 0x61 && len(resp) > 2 && sw != oath.SWOK {
				t.Fatalf("Transmit(%x) = %x: data with an error status", a, resp)
			}
			if len(resp)-2 > 7 {
				t.Fatalf("Transmit(%x) = %x: more than the chunk size", a, resp)
			}
		}
		if err := c.Snapshot().Validate(); err != nil {
			t.Fatalf("the card reached an invalid state: %v", err)
		}
	})
}
