package pcsc

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/mfabridge/mfabridge/internal/apdu"
)

// scriptCard answers APDUs from a table written as the readable replay
// ("> 00A4..." / "< ...9000"); unknown commands get 6D00.
type scriptCard struct {
	answers map[string]string // hex command -> hex answer
	sent    []string
	fail    error // returned for every command once set
}

func newScript(t *testing.T, replay string) *scriptCard {
	t.Helper()
	s := &scriptCard{answers: map[string]string{}}
	var cmd string
	for _, line := range strings.Split(replay, "\n") {
		line = strings.ReplaceAll(strings.TrimSpace(line), " ", "")
		switch {
		case line == "":
		case strings.HasPrefix(line, ">"):
			cmd = strings.ToUpper(line[1:])
		case strings.HasPrefix(line, "<"):
			s.answers[cmd] = strings.ToUpper(line[1:])
		default:
			t.Fatalf("bad replay line %q", line)
		}
	}
	return s
}

func (s *scriptCard) Transmit(_ context.Context, apdu []byte) ([]byte, error) {
	cmd := strings.ToUpper(hex.EncodeToString(apdu))
	s.sent = append(s.sent, cmd)
	if s.fail != nil {
		return nil, s.fail
	}
	a, ok := s.answers[cmd]
	if !ok {
		return []byte{0x6D, 0x00}, nil
	}
	return hex.DecodeString(a)
}

const (
	replayYK5 = `
		> 00A4040005 A000000308
		< 9000
		> 00FD0000
		< 050403 9000
		> 00F80000
		< 00BC614E 9000`
	// YubiKey 4.3: PIV has no GET SERIAL, management READ CONFIG does.
	replayYK43 = `
		> 00A4040005 A000000308
		< 9000
		> 00FD0000
		< 040305 9000
		> 00A4040008 A000000527471117
		< 4D4752 9000
		> 001D000000
		< 0F 0102023B 020400BC614E 0503040305 0401 01 9000`
	// NEO: PIV applet version 1.0.4, no management READ CONFIG, OTP works.
	replayNEO = `
		> 00A4040005 A000000308
		< 9000
		> 00FD0000
		< 010004 9000
		> 00A4040008 A000000527471117
		< 6A82
		> 00A4040007 A0000005272001
		< 030405 01 0000 9000
		> 0001100000
		< 00000457 9000`
	// YubiKey 4 with "serial visible" off.
	replayHidden = `
		> 00A4040005 A000000308
		< 6A82
		> 00A4040008 A000000527471117
		< 6A82
		> 00A4040007 A0000005272001
		< 040201 01 0000 9000
		> 0001100000
		< 6D00`
	// A generic PIV card: SELECT works, Yubico's GET VERSION does not.
	replayOtherPIV = `
		> 00A4040005 A000000308
		< 61 05
		> 00C0000005
		< 4F0100 7900 9000`
	// Yubico's ykneo-oath alone (issue 13 case 19): PIV, management and
	// OTP are not found; OATH answers its version and salt.
	replayOATHOnly = `
		> 00A4040005 A000000308
		< 6A82
		> 00A4040008 A000000527471117
		< 6A82
		> 00A4040007 A0000005272001
		< 6A82
		> 00A4040007 A0000005272101
		< 790300020A 71084BB7A7FAD7AF401B 9000`
	// The management applet answers in two parts (61xx then GET RESPONSE).
	replayChunked = `
		> 00A4040005 A000000308
		< 6A82
		> 00A4040008 A000000527471117
		< 5669727475616C206D6772202D2046572076657273696F6E20352E342E33 9000
		> 001D000000
		< 0E 0102023B 0204 6110
		> 00C0000010
		< 00BC614E 0302023B 9000`
)

func TestProbeKey(t *testing.T) {
	tests := []struct {
		name       string
		replay     string
		wantSerial uint32
		wantFW     string
		wantErr    error
		wantAPDUs  int
	}{
		{"yubikey 5 via PIV", replayYK5, 12345678, "5.4.3", nil, 3},
		{"yubikey 4.3 via management", replayYK43, 12345678, "4.3.5", nil, 4},
		{"NEO via OTP", replayNEO, 1111, "3.4.5", nil, 5},
		{"hidden serial", replayHidden, 0, "4.2.1", nil, 4},
		{"other PIV card", replayOtherPIV, 0, "", errNotYubiKey, 6},
		{"OATH applet only (ykneo-oath)", replayOATHOnly, 0, "", nil, 4},
		{"chunked management answer, version from SELECT", replayChunked, 12345678, "5.4.3", nil, 4},
		{"blank card", "", 0, "", errNotYubiKey, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newScript(t, tt.replay)
			serial, fw, err := probeKey(context.Background(), s)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if serial != tt.wantSerial || fw != tt.wantFW {
				t.Errorf("got serial %d firmware %q, want %d %q", serial, fw, tt.wantSerial, tt.wantFW)
			}
			if len(s.sent) != tt.wantAPDUs {
				t.Errorf("sent %d APDUs, want %d: %v", len(s.sent), tt.wantAPDUs, s.sent)
			}
		})
	}
}

func TestProbeKeyTransportError(t *testing.T) {
	s := newScript(t, replayYK5)
	s.fail = ErrCardRemoved
	_, _, err := probeKey(context.Background(), s)
	if !errors.Is(err, ErrCardRemoved) {
		t.Fatalf("err = %v, want ErrCardRemoved", err)
	}
	if !strings.Contains(err.Error(), "select PIV applet") {
		t.Errorf("err %q lacks the step", err)
	}
}

func TestExchangeShortAnswer(t *testing.T) {
	s := newScript(t, "> 00A4040005A000000308\n< 90")
	if _, _, err := probeKey(context.Background(), s); !errors.Is(err, apdu.ErrShortResponse) {
		t.Fatalf("a 1-byte answer: err = %v, want apdu.ErrShortResponse", err)
	}
}

func TestExchangeEndlessContinuation(t *testing.T) {
	s := newScript(t, "> 00A4040005A000000308\n< 6101\n> 00C0000001\n< 006101")
	_, _, err := probeKey(context.Background(), s)
	if !errors.Is(err, apdu.ErrResponseTooLong) || !strings.Contains(err.Error(), "continuations") {
		t.Fatalf("err = %v, want a continuation limit error", err)
	}
}

func TestParseReadConfig(t *testing.T) {
	// The note's example answer for serial 12345678, version 5.4.3.
	note, _ := hex.DecodeString("2b0102023b020400bc614e0302023b040101050305040306020000070" +
		"10f0801000a01000d02023b0e02023b")
	tests := []struct {
		name       string
		in         []byte
		serial     uint32
		hasSerial  bool
		ver        version
		hasVer     bool
		wantErrSub string
	}{
		{"note example", note, 12345678, true, version{5, 4, 3}, true, ""},
		{"empty", nil, 0, false, version{}, false, "empty"},
		{"length too long", []byte{0x05, 0x01}, 0, false, version{}, false, "claims"},
		{"truncated tlv", []byte{0x01, 0x02}, 0, false, version{}, false, "truncated"},
		{"value overruns", []byte{0x03, 0x02, 0x04, 0x00}, 0, false, version{}, false, "bad length"},
		{"serial wrong size ignored", []byte{0x04, 0x02, 0x02, 0x01, 0x02}, 0, false, version{}, false, ""},
		{"trailing bytes after length ignored", []byte{0x00, 0xFF}, 0, false, version{}, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, hs, v, hv, err := parseReadConfig(tt.in)
			if tt.wantErrSub != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErrSub) {
					t.Fatalf("err = %v, want %q", err, tt.wantErrSub)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s != tt.serial || hs != tt.hasSerial || v != tt.ver || hv != tt.hasVer {
				t.Errorf("got %d %v %v %v, want %d %v %v %v", s, hs, v, hv, tt.serial, tt.hasSerial, tt.ver, tt.hasVer)
			}
		})
	}
}

func TestParseManagementVersion(t *testing.T) {
	tests := []struct {
		in   string
		want version
		ok   bool
	}{
		{"Virtual mgr - FW version 5.4.3", version{5, 4, 3}, true},
		{"YubiKey mgr - FW version 4.3.7", version{4, 3, 7}, true},
		{"v 12.0.1 build", version{12, 0, 1}, true},
		{"no version", version{}, false},
		{"5x4y3", version{}, false}, // ykman's unescaped dots would accept this
		{"999.1.1", version{}, false},
	}
	for _, tt := range tests {
		got, ok := parseManagementVersion([]byte(tt.in))
		if ok != tt.ok || got != tt.want {
			t.Errorf("parseManagementVersion(%q) = %v %v, want %v %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func FuzzParseReadConfig(f *testing.F) {
	note, _ := hex.DecodeString("2b0102023b020400bc614e0302023b040101050305040306020000070" +
		"10f0801000a01000d02023b0e02023b")
	f.Add(note)
	f.Add([]byte{})
	f.Add([]byte{0x03, 0x02, 0x04, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		s, hs, _, _, err := parseReadConfig(b)
		if err != nil && (s != 0 || hs) {
			t.Fatal("serial reported with an error")
		}
	})
}

func FuzzParseManagementVersion(f *testing.F) {
	f.Add([]byte("Virtual mgr - FW version 5.4.3"))
	f.Add([]byte("1.2.3.4.5"))
	f.Fuzz(func(t *testing.T, b []byte) {
		v, ok := parseManagementVersion(b)
		if !ok && v != (version{}) {
			t.Fatal("version reported without ok")
		}
	})
}

// fuzzCard answers every APDU with the next chunk of the fuzz input.
type fuzzCard struct{ in []byte }

func (c *fuzzCard) Transmit(context.Context, []byte) ([]byte, error) {
	if len(c.in) == 0 {
		return nil, ErrCardRemoved
	}
	n := min(int(c.in[0]), len(c.in)-1)
	out := c.in[1 : 1+n]
	c.in = c.in[1+n:]
	return out, nil
}

// FuzzProbeKey feeds arbitrary card answers to the whole probe: it must
// never panic and never report a serial together with an error.
func FuzzProbeKey(f *testing.F) {
	frame := func(parts ...string) []byte {
		var b []byte
		for _, p := range parts {
			d, _ := hex.DecodeString(p)
			b = append(b, byte(len(d)))
			b = append(b, d...)
		}
		return b
	}
	f.Add(frame("9000", "0504039000", "00BC614E9000"))
	f.Add(frame("6A82", "9000", "0F0102023B020400BC614E05030403059000"))
	f.Add(frame("6105", "4F01009000", "6A82", "6A82"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, in []byte) {
		c := &fuzzCard{in: bytes.Clone(in)}
		serial, fw, err := probeKey(context.Background(), c)
		if err != nil && (serial != 0 || fw != "") {
			t.Fatalf("serial %d / firmware %q reported with error %v", serial, fw, err)
		}
	})
}

// Discovery by serial asks a YubiKey 5 for its serial in two APDUs (as many
// as ykman spends); a key whose PIV refuses GET SERIAL falls back to the
// full probe.
func TestProbeSerial(t *testing.T) {
	s := newScript(t, `
		> 00A4040005 A000000308
		< 9000
		> 00F80000
		< 00BC614E 9000`)
	serial, fw, err := probeSerial(context.Background(), s)
	if err != nil || serial != 12345678 || fw != "" || len(s.sent) != 2 {
		t.Fatalf("probeSerial = %d %q %v after %d APDUs", serial, fw, err, len(s.sent))
	}
	s = newScript(t, `
		> 00A4040005 A000000308
		< 9000
		> 00F80000
		< 6D00
		> 00A4040005 A000000308
		< 9000
		> 00FD0000
		< 040305 9000
		> 00A4040008 A000000527471117
		< 6A82
		> 00A4040007 A000000527200101
		< 6A82`)
	serial, fw, err = probeSerial(context.Background(), s)
	if err != nil || serial != 0 || fw != "4.3.5" {
		t.Fatalf("fallback: %d %q %v", serial, fw, err)
	}
}
