package oath

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
)

// A replay is a fake Transport that plays a readable script of exchanges:
//
//	# comment
//	> 00 01 00 00 21 71 0d "Example:alice" 73 10 21 06 48656c6c6f21deadbeef00000000
//	< 9000
//
// Each '>' line is the APDU the client must send, each '<' line the card's
// answer (data then SW). Bytes are hex, spaces anywhere, or "quoted" Go
// strings for ASCII.
type replay struct {
	t     testing.TB
	steps []replayStep
	next  int
}

type replayStep struct {
	line      int
	cmd, resp []byte
}

func newReplay(t testing.TB, script string) *replay {
	t.Helper()
	steps, err := parseScript(script)
	if err != nil {
		t.Fatalf("bad script: %v", err)
	}
	r := &replay{t: t, steps: steps}
	t.Cleanup(func() {
		if r.next != len(r.steps) && !t.Failed() {
			t.Errorf("replay: %d of %d exchanges left unplayed (next at line %d)",
				len(r.steps)-r.next, len(r.steps), r.steps[r.next].line)
		}
	})
	return r
}

func (r *replay) Transmit(_ context.Context, apdu []byte) ([]byte, error) {
	r.t.Helper()
	if r.next >= len(r.steps) {
		r.t.Errorf("replay: unexpected APDU %X after the end of the script", apdu)
		return nil, errors.New("replay: script exhausted")
	}
	s := r.steps[r.next]
	r.next++
	if !bytes.Equal(apdu, s.cmd) {
		r.t.Errorf("replay line %d:\n got APDU %X\nwant APDU %X", s.line, apdu, s.cmd)
		return nil, errors.New("replay: unexpected APDU")
	}
	return append([]byte(nil), s.resp...), nil
}

func parseScript(script string) ([]replayStep, error) {
	var steps []replayStep
	for i, line := range strings.Split(script, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		b, err := parseBytes(line[1:])
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", i+1, err)
		}
		switch line[0] {
		case '>':
			steps = append(steps, replayStep{line: i + 1, cmd: b})
		case '<':
			if len(steps) == 0 || steps[len(steps)-1].resp != nil {
				return nil, fmt.Errorf("line %d: answer without a command", i+1)
			}
			steps[len(steps)-1].resp = b
		default:
			return nil, fmt.Errorf("line %d: want '>' or '<'", i+1)
		}
	}
	for _, s := range steps {
		if s.resp == nil {
			return nil, fmt.Errorf("line %d: command without an answer", s.line)
		}
	}
	return steps, nil
}

// parseBytes reads hex digits and "quoted strings", ignoring spaces.
func parseBytes(s string) ([]byte, error) {
	out := []byte{}
	var hexDigits strings.Builder
	flush := func() error {
		if hexDigits.Len() == 0 {
			return nil
		}
		b, err := hex.DecodeString(hexDigits.String())
		if err != nil {
			return err
		}
		out = append(out, b...)
		hexDigits.Reset()
		return nil
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == ' ' || c == '\t':
		case c == '"':
			if err := flush(); err != nil {
				return nil, err
			}
			q, err := strconv.QuotedPrefix(s[i:])
			if err != nil {
				return nil, err
			}
			u, err := strconv.Unquote(q)
			if err != nil {
				return nil, err
			}
			out = append(out, u...)
			i += len(q) - 1
		default:
			hexDigits.WriteByte(c)
		}
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return out, nil
}

// cardFunc is a fake Transport computing answers in Go.
type cardFunc func(apdu []byte) []byte

func (f cardFunc) Transmit(_ context.Context, apdu []byte) ([]byte, error) {
	return f(apdu), nil
}

// fixedRand is an io.Reader that repeats one byte.
type fixedRand byte

func (r fixedRand) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(r)
	}
	return len(p), nil
}

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := parseBytes(s)
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}
