package apdu

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"slices"
	"strings"
	"testing"
)

// script is a card that answers a fixed exchange, written as readable text:
// "> command" then "< answer", one APDU per line, hex with spaces allowed.
type script struct {
	t     *testing.T
	steps [][2][]byte
	parts []Part
}

func newScript(t *testing.T, text string) *script {
	t.Helper()
	s := &script{t: t}
	lines := strings.Split(strings.TrimSpace(text), "\n")
	for i := 0; i+1 < len(lines); i += 2 {
		cmd := mustHex(t, strings.TrimPrefix(strings.TrimSpace(lines[i]), ">"))
		ans := mustHex(t, strings.TrimPrefix(strings.TrimSpace(lines[i+1]), "<"))
		s.steps = append(s.steps, [2][]byte{cmd, ans})
	}
	return s
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

func (s *script) send(_ context.Context, apdu []byte, part Part) ([]byte, uint16, error) {
	s.t.Helper()
	if len(s.steps) == 0 {
		s.t.Fatalf("unexpected APDU %X", apdu)
	}
	step := s.steps[0]
	s.steps = s.steps[1:]
	if !bytes.Equal(apdu, step[0]) {
		s.t.Fatalf("sent %X, want %X", apdu, step[0])
	}
	s.parts = append(s.parts, part)
	return SplitSW(step[1])
}

func (s *script) done() {
	s.t.Helper()
	if len(s.steps) != 0 {
		s.t.Errorf("%d scripted APDUs not sent, next %X", len(s.steps), s.steps[0][0])
	}
}

var (
	getResponse   = Loop{Continue: InsGetResponse, LeFromSW: true, MaxRounds: 15}
	sendRemaining = Loop{Continue: InsSendRemaining, MaxEmpty: 8, MaxBytes: 1 << 16}
)

func TestTransceiveGetResponse(t *testing.T) {
	s := newScript(t, `
> 00 FD 00 00
< 05 61 02
> 00 C0 00 00 02
< 04 03 90 00`)
	data, sw, err := getResponse.Transceive(context.Background(), s.send, []byte{0x00, 0xFD, 0x00, 0x00})
	if err != nil || sw != SWOK || !bytes.Equal(data, []byte{5, 4, 3}) {
		t.Fatalf("Transceive = %x, %04X, %v; want 050403, 9000, nil", data, sw, err)
	}
	s.done()
	if want := []Part{Whole, Remaining}; !slices.Equal(s.parts, want) {
		t.Errorf("parts %v, want %v", s.parts, want)
	}
}

func TestExchangeChainingAndSendRemaining(t *testing.T) {
	data := bytes.Repeat([]byte{0xAB}, 300)
	s := newScript(t, `
> 10 01 00 00 FF `+strings.Repeat("AB", 255)+`
< 90 00
> 00 01 00 00 2D `+strings.Repeat("AB", 45)+`
< 71 61 00
> 00 A5 00 00 00
< 72 6A 80`)
	out, sw, err := sendRemaining.Exchange(context.Background(), s.send, 0x00, 0x01, 0, 0, data)
	if err != nil || sw != 0x6A80 || !bytes.Equal(out, []byte{0x71, 0x72}) {
		t.Fatalf("Exchange = %x, %04X, %v; want 7172, 6A80, nil", out, sw, err)
	}
	s.done()
	if want := []Part{Chained, Chained, Remaining}; !slices.Equal(s.parts, want) {
		t.Errorf("parts %v, want %v", s.parts, want)
	}
}

func TestExchangeChainRefused(t *testing.T) {
	s := newScript(t, `
> 10 01 00 00 FF `+strings.Repeat("00", 255)+`
< 6A 80`)
	out, sw, err := sendRemaining.Exchange(context.Background(), s.send, 0x00, 0x01, 0, 0, make([]byte, 256))
	if err != nil || sw != 0x6A80 || out != nil {
		t.Fatalf("Exchange = %x, %04X, %v; want nil, 6A80, nil (no second block)", out, sw, err)
	}
	s.done()
}

func TestExchangeEmptyDataHasLc(t *testing.T) {
	s := newScript(t, "> 00 A1 00 00 00\n< 90 00")
	if _, sw, err := sendRemaining.Exchange(context.Background(), s.send, 0x00, 0xA1, 0, 0, nil); err != nil || sw != SWOK {
		t.Fatalf("Exchange = %04X, %v", sw, err)
	}
	s.done()
}

func TestContinuationBounds(t *testing.T) {
	endless := func(data []byte) Send {
		return func(context.Context, []byte, Part) ([]byte, uint16, error) { return data, 0x61FF, nil }
	}
	for _, tt := range []struct {
		name string
		loop Loop
		data []byte
		want string
	}{
		{"rounds", getResponse, []byte{0}, "more than 15 61xx continuations"},
		{"empty rounds", sendRemaining, nil, "without data"},
		{"bytes", sendRemaining, make([]byte, 200), "more than 65536 bytes"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := tt.loop.Transceive(context.Background(), endless(tt.data), []byte{0, 1, 0, 0})
			if !errors.Is(err, ErrResponseTooLong) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want ErrResponseTooLong saying %q", err, tt.want)
			}
		})
	}
}

func TestSendErrorReturnedAsIs(t *testing.T) {
	boom := errors.New("card removed")
	calls := 0
	send := func(context.Context, []byte, Part) ([]byte, uint16, error) {
		calls++
		if calls == 2 {
			return nil, 0, boom
		}
		return []byte{1}, 0x6101, nil
	}
	if _, _, err := getResponse.Transceive(context.Background(), send, []byte{0, 1, 0, 0}); err != boom {
		t.Fatalf("err = %v, want the transport's error itself", err)
	}
}

func TestSplitSW(t *testing.T) {
	if _, _, err := SplitSW([]byte{0x90}); !errors.Is(err, ErrShortResponse) {
		t.Errorf("SplitSW(90) err = %v, want ErrShortResponse", err)
	}
	data, sw, err := SplitSW([]byte{1, 2, 0x63, 0xC2})
	if err != nil || sw != 0x63C2 || !bytes.Equal(data, []byte{1, 2}) {
		t.Errorf("SplitSW = %x, %04X, %v", data, sw, err)
	}
}
