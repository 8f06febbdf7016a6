package oath

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/mfabridge/mfabridge/internal/apdu"
)

// Framing limits. Chaining and 61xx continuation are internal/apdu's loop,
// shared with the serial probe of package pcsc.
const (
	maxResponse    = 1 << 16 // a card answering more than this is broken or hostile
	maxEmptyRounds = 8       // 61xx answers without data before giving up
)

// ErrShortResponse: the transport returned fewer than the two status bytes.
var ErrShortResponse = apdu.ErrShortResponse

// ErrResponseTooLong: the card kept answering 61xx past any sane size.
var ErrResponseTooLong = apdu.ErrResponseTooLong

// loop continues 61xx answers with SEND REMAINING (00 A5 00 00 00, as ykman
// sends it).
var loop = apdu.Loop{Continue: InsSendRemaining, MaxEmpty: maxEmptyRounds, MaxBytes: maxResponse}

// exchange sends one logical command: it splits data over 255 bytes into a
// chain of short APDUs (CLA 10 on all but the last), then follows 61xx
// answers with SEND REMAINING, concatenating the data. It returns the answer
// data when the final status word is 9000 and a *StatusError otherwise. op
// names the operation in errors.
func (c *Client) exchange(ctx context.Context, op string, ins, p1, p2 byte, data []byte) ([]byte, error) {
	send := func(ctx context.Context, cmd []byte, part apdu.Part) ([]byte, uint16, error) {
		return c.transmit(ctx, op, ins, cmd, part == apdu.Whole)
	}
	out, sw, err := loop.Exchange(ctx, send, 0x00, ins, p1, p2, data)
	if errors.Is(err, ErrResponseTooLong) {
		return nil, fmt.Errorf("oath: %s: %w", op, err)
	}
	if err != nil {
		return nil, err // transmit's error, already wrapped
	}
	if sw != SWOK {
		return nil, &StatusError{SW: sw, Ins: ins, op: op}
	}
	return out, nil
}

// transmit sends one APDU, logs both directions (redacted) and splits off
// the status word. ins is the logical instruction, which decides what the
// log must hide (SEND REMAINING continues it).
// aligned is false for blocks of a chained command and for answers to
// SEND REMAINING, which need not hold whole TLVs.
func (c *Client) transmit(ctx context.Context, op string, ins byte, cmd []byte, aligned bool) ([]byte, uint16, error) {
	if err := ctx.Err(); err != nil {
		return nil, 0, fmt.Errorf("oath: %s: %w", op, err)
	}
	logIns := ins
	if op == "select" {
		logIns = 0 // shares A4 with CALCULATE ALL, but carries no secret
	}
	// The redacted strings are built only when they will be logged:
	// parsing and hex encoding every APDU is wasted work otherwise.
	tracing := c.tracing(ctx)
	if tracing {
		c.trace(ctx, "> "+redactCommand(logIns, cmd, aligned))
	}
	resp, err := c.t.Transmit(ctx, cmd)
	if err != nil {
		return nil, 0, fmt.Errorf("oath: %s: transmit: %w", op, err)
	}
	data, sw, err := apdu.SplitSW(resp)
	if err != nil {
		if tracing {
			c.trace(ctx, "< "+redactResponse(logIns, resp, false))
		}
		return nil, 0, fmt.Errorf("oath: %s: %w", op, err)
	}
	if tracing {
		c.trace(ctx, "< "+redactResponse(logIns, data, aligned && sw&0xFF00 != SWMoreDataMask)+fmt.Sprintf("%04X", sw))
	}
	return data, sw, nil
}

// tracing reports whether the APDU trace is wanted: a logger is set and
// it is enabled at debug level.
func (c *Client) tracing(ctx context.Context) bool {
	return c.log != nil && c.log.Enabled(ctx, slog.LevelDebug)
}

// trace logs one line of the APDU trace at debug level. Callers check
// tracing first so that msg is not built for nothing.
func (c *Client) trace(ctx context.Context, msg string) {
	c.log.LogAttrs(ctx, slog.LevelDebug, msg)
}

// Redaction. Secrets never reach the log: PUT keys, the key, challenge and
// response of SET CODE, both halves of VALIDATE, and every computed
// response. Names, versions, salts and status words stay readable.

// keepNone marks a TLV value shown in full.
const keepNone = -1

// commandKeep says how many leading bytes of the value of tag a command
// with instruction ins may show; keepNone means all of it.
func commandKeep(ins, tag byte) int {
	switch {
	case ins == InsPut && tag == TagKey:
		return 2 // type|algorithm and digits; the key itself is hidden
	case ins == InsSetCode && tag == TagKey:
		return 1 // algorithm
	case (ins == InsSetCode || ins == InsValidate) && (tag == TagChallenge || tag == TagResponse):
		return 0
	}
	return keepNone
}

// responseKeep is commandKeep for answers.
func responseKeep(ins, tag byte) int {
	switch {
	case ins == InsValidate && tag == TagResponse:
		return 0
	case (ins == InsCalculate || ins == InsCalculateAll) && (tag == TagResponse || tag == TagTruncated):
		return 1 // digits
	}
	return keepNone
}

// secretIns reports instructions whose data or answer carries secrets.
func secretIns(ins byte) bool {
	switch ins {
	case InsPut, InsSetCode, InsValidate, InsCalculate, InsCalculateAll:
		return true
	}
	return false
}

func redactCommand(ins byte, apdu []byte, aligned bool) string {
	if len(apdu) <= 5 || apdu[1] == InsSendRemaining {
		return strings.ToUpper(hex.EncodeToString(apdu))
	}
	head := strings.ToUpper(hex.EncodeToString(apdu[:5]))
	return head + redactTLVs(apdu[5:], func(tag byte) int { return commandKeep(ins, tag) }, secretIns(ins), aligned)
}

func redactResponse(ins byte, data []byte, aligned bool) string {
	return redactTLVs(data, func(tag byte) int { return responseKeep(ins, tag) }, secretIns(ins), aligned)
}

// redactTLVs hex-encodes data, replacing all but the first keep(tag) bytes
// of sensitive values with "<redacted N bytes>". When the instruction
// carries secrets (strict) and data is not a whole TLV sequence (a block
// of a chained command or a 61xx continuation can start or end inside a
// value) or does not parse, all of data is hidden.
func redactTLVs(data []byte, keep func(tag byte) int, strict, aligned bool) string {
	if len(data) == 0 {
		return ""
	}
	tlvs, err := ParseTLVs(data)
	if strict && (err != nil || !aligned) {
		return fmt.Sprintf("<redacted %d bytes>", len(data))
	}
	if err != nil {
		return strings.ToUpper(hex.EncodeToString(data))
	}
	var b strings.Builder
	for _, t := range tlvs {
		var enc []byte
		if t.Tag == TagProperty {
			enc = AppendProperty(nil, t.Value[0])
		} else {
			enc = AppendTLV(nil, t.Tag, t.Value)
		}
		k := keep(t.Tag)
		if k == keepNone {
			b.WriteString(strings.ToUpper(hex.EncodeToString(enc)))
			continue
		}
		k = min(k, len(t.Value))
		hdr := enc[:len(enc)-len(t.Value)]
		b.WriteString(strings.ToUpper(hex.EncodeToString(hdr)))
		b.WriteString(strings.ToUpper(hex.EncodeToString(t.Value[:k])))
		fmt.Fprintf(&b, "<redacted %d bytes>", len(t.Value)-k)
	}
	return b.String()
}
