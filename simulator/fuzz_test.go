package simulator

import (
	"context"
	"testing"
	"time"

	"github.com/mfabridge/mfabridge/oath"
)

// fuzzSession splits data into APDUs: each starts with a length byte.
func fuzzSession(data []byte) [][]byte {
	var out [][]byte
	for len(data) > 0 {
		n := min(int(data[0]), len(data)-1)
		out = append(out, data[1:1+n])
		data = data[1+n:]
	}
	return out
}

func session(apdus ...[]byte) []byte {
	var out []byte
	for _, a := range apdus {
		out = append(out, byte(len(a)))
		out = append(out, a...)
	}
	return out
}

// FuzzTransmit sends random APDU sequences to a card (with a password
// setup, touch credentials and a tiny chunk size in reach) and checks that
// every answer ends in a status word and the card never panics.
func FuzzTransmit(f *testing.F) {
	h := func(s string) []byte { return unhex(f, s) }
	sel := h(selectOATH)
	// Observed ykman 4.0.9 APDUs (ykoath.md, pcsc-and-virtual-card.md).
	f.Add(session(sel, h("00 A1 00 00 00"),
		h(`00 01 00 00 21 71 0d "Example:alice" 73 10 21 06 48656c6c6f21deadbeef00000000`),
		h(`00 01 00 00 23 71 0d "Example:touch" 73 10 22 08 48656c6c6f21deadbeef00000000 78 02`),
		h(`00 01 00 00 2C 71 0c "Example:hotp" 73 16 11 06 3132333435363738393031323334353637383930 7a 04 00000005`),
		h("00 A4 00 01 0A 74 08 0000000000000001"),
		h(`00 A2 00 01 10 71 0c "Example:hotp" 74 00`),
		h(`00 A2 00 01 19 71 0d "Example:touch" 74 08 0000000000000001`),
		h(`00 05 00 00 1E 71 0d "Example:alice" 71 0d "Example:bobby"`),
		h(`00 02 00 00 0F 71 0d "Example:bobby"`),
		h("00 A1 00 00 00"), h("00 A5 00 00 00"), h("00 C0 00 00 00"),
		h("00 04 de ad 00")))
	f.Add(session(sel,
		h("00 03 00 00 33 73 11 21 b07da1e7de87f89a87a2b598eaa2188c 74 08 a1a2a3a4a5a6a7a8 75 14 be08e1aa7c8ceb1ad21785c5d3c7c6dcff4767f1"),
		sel, h("00 A1 00 00 00"),
		h("00 A3 00 00 20 75 14 8db47dabb0aeaf1d08706fa29482f21279691f71 74 08 f0f1f2f3f4f5f6f7"),
		h("00 A1 00 00 00"), h("00 03 00 00 02 73 00")))
	f.Add(session(h("00 A4 04 00 08 A0 00 00 05 27 47 11 17"), h("00 1D 00 00 00"),
		h("00 A4 04 00 08 a0 00 00 06 47 2f 00 01"), h("00 A4 04 00 07 a0 00 00 05 27 10 02"),
		h("00 A4 04 00 07 A0 00 00 05 27 20 01"), h("00 01 10 00 00"),
		h("00 A4 04 00 05 A0 00 00 03 08"), h("00 FD 00 00"), h("00 F8 00 00"),
		h("00 A4 04 00 06 d2 76 00 01 24 01"), h("A4 04 00 08")))
	f.Add(session(sel, h("10 01 00 00 05 71 03 61 62 63"), h("00 01 00 00 05 73 03 21 06 01"),
		h("00 A2 00 01 00 00 0A 71 03 61 62 63 74 03 01 02 03 00 00"), h("00 A1 00 00 00 00 00")))
	f.Add([]byte{})
	f.Add([]byte{1, 0})
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
