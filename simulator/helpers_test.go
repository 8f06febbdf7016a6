package simulator

import (
	"context"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/mfabridge/mfabridge/oath"
)

// countingRand yields 00 01 02 … so challenges and salts are predictable.
type countingRand struct{ n byte }

func (r *countingRand) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = r.n
		r.n++
	}
	return len(p), nil
}

// unhex decodes hex with optional spaces; quoted "text" is taken as ASCII.
func unhex(t testing.TB, s string) []byte {
	t.Helper()
	var out []byte
	for len(s) > 0 {
		s = strings.TrimLeft(s, " \t")
		if s == "" {
			break
		}
		if s[0] == '"' {
			end := strings.IndexByte(s[1:], '"')
			if end < 0 {
				t.Fatalf("unterminated string in %q", s)
			}
			out = append(out, s[1:1+end]...)
			s = s[end+2:]
			continue
		}
		n := strings.IndexAny(s, " \t\"")
		if n < 0 {
			n = len(s)
		}
		b, err := hex.DecodeString(s[:n])
		if err != nil {
			t.Fatalf("bad hex %q: %v", s[:n], err)
		}
		out = append(out, b...)
		s = s[n:]
	}
	return out
}

func newTestCard(t testing.TB, fw Version, opts ...Option) *Card {
	t.Helper()
	st := &State{Serial: 12345678, Firmware: fw, FormFactor: 1, Salt: make([]byte, 8)}
	return New(st, append([]Option{WithRand(&countingRand{})}, opts...)...)
}

// tx sends an APDU given in hex and splits the answer.
func tx(t testing.TB, c *Card, apdu string) ([]byte, uint16) {
	t.Helper()
	resp, err := c.Transmit(context.Background(), unhex(t, apdu))
	if err != nil {
		t.Fatalf("transmit %s: %v", apdu, err)
	}
	if len(resp) < 2 {
		t.Fatalf("transmit %s: answer %x has no status word", apdu, resp)
	}
	n := len(resp) - 2
	return resp[:n], uint16(resp[n])<<8 | uint16(resp[n+1])
}

// mustTx is tx expecting a status word.
func mustTx(t testing.TB, c *Card, apdu string, want uint16) []byte {
	t.Helper()
	data, sw := tx(t, c, apdu)
	if sw != want {
		t.Fatalf("%s: SW %04X, want %04X (data %x)", apdu, sw, want, data)
	}
	return data
}

const selectOATH = "00 A4 04 00 07 A0 00 00 05 27 21 01"

// apdu builds a short APDU with Lc.
func apdu(cla, ins, p1, p2 byte, data []byte) []byte {
	out := []byte{cla, ins, p1, p2, byte(len(data))}
	return append(out, data...)
}

func send(t testing.TB, c *Card, b []byte) ([]byte, uint16) {
	t.Helper()
	return tx(t, c, hex.EncodeToString(b))
}

// putAPDU builds a PUT.
func putAPDU(name string, typ oath.Type, alg oath.Algorithm, digits byte, key []byte, extra ...byte) []byte {
	d := oath.AppendTLV(nil, oath.TagName, []byte(name))
	d = oath.AppendTLV(d, oath.TagKey, append([]byte{byte(typ) | byte(alg), digits}, key...))
	d = append(d, extra...)
	return apdu(0, oath.InsPut, 0, 0, d)
}

func calcAPDU(name string, chal []byte, truncate bool) []byte {
	d := oath.AppendTLV(nil, oath.TagName, []byte(name))
	d = oath.AppendTLV(d, oath.TagChallenge, chal)
	p2 := byte(0)
	if truncate {
		p2 = 1
	}
	return apdu(0, oath.InsCalculate, 0, p2, d)
}
