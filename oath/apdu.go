package oath

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
)

// Framing limits (ISO 7816-4 section 5.1: short APDUs; section 5.1.1.1:
// command chaining with bit 0x10 of CLA).
const (
	maxShortData   = 255     // bytes of data in one short command APDU
	claChain       = 0x10    // CLA of every block but the last of a chained command
	maxResponse    = 1 << 16 // a card answering more than this is broken or hostile
	maxEmptyRounds = 8       // 61xx answers without data before giving up
)

// ErrShortResponse: the transport returned fewer than the two status bytes.
var ErrShortResponse = errors.New("card answer shorter than a status word")

// ErrResponseTooLong: the card kept answering 61xx past any sane size.
var ErrResponseTooLong = errors.New("card answer too long")

// exchange sends one logical command: it splits data over 255 bytes into a
// chain of short APDUs (CLA 10 on all but the last), then follows 61xx
// answers with SEND REMAINING (00 A5 00 00 00, as ykman sends it),
// concatenating the data. It returns the answer data when the final status
// word is 9000 and a *StatusError otherwise. op names the operation in
// errors.
func (c *Client) exchange(ctx context.Context, op string, ins, p1, p2 byte, data []byte) ([]byte, error) {
	// Command chaining: every block but the last must be acknowledged
	// with 9000 before the next is sent.
	chained := len(data) > maxShortData
	for len(data) > maxShortData {
		block := data[:maxShortData]
		data = data[maxShortData:]
		_, sw, err := c.transmit(ctx, op, ins, buildAPDU(claChain, ins, p1, p2, block), false)
		if err != nil {
			return nil, err
		}
		if sw != SWOK {
			return nil, &StatusError{SW: sw, Ins: ins, op: op}
		}
	}
	resp, sw, err := c.transmit(ctx, op, ins, buildAPDU(0x00, ins, p1, p2, data), !chained)
	if err != nil {
		return nil, err
	}
	var out []byte
	out = append(out, resp...)
	for empty := 0; sw&0xFF00 == SWMoreDataMask; {
		if len(resp) == 0 {
			empty++
		}
		if empty > maxEmptyRounds || len(out) > maxResponse {
			return nil, fmt.Errorf("oath: %s: %w", op, ErrResponseTooLong)
		}
		resp, sw, err = c.transmit(ctx, op, ins, []byte{0x00, InsSendRemaining, 0x00, 0x00, 0x00}, false)
		if err != nil {
			return nil, err
		}
		out = append(out, resp...)
	}
	if sw != SWOK {
		return nil, &StatusError{SW: sw, Ins: ins, op: op}
	}
	return out, nil
}

// buildAPDU encodes a short command APDU with an explicit Lc, even when the
// data is empty (00 A1 00 00 00), as ykman 4.0.9 sends them.
func buildAPDU(cla, ins, p1, p2 byte, data []byte) []byte {
	apdu := make([]byte, 0, 5+len(data))
	apdu = append(apdu, cla, ins, p1, p2, byte(len(data)))
	return append(apdu, data...)
}

// transmit sends one APDU, logs both directions (redacted) and splits off
// the status word. ins is the logical instruction, which decides what the
// log must hide (SEND REMAINING continues it).
// aligned is false for blocks of a chained command and for answers to
// SEND REMAINING, which need not hold whole TLVs.
func (c *Client) transmit(ctx context.Context, op string, ins byte, apdu []byte, aligned bool) ([]byte, uint16, error) {
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
		c.trace(ctx, "> "+redactCommand(logIns, apdu, aligned))
	}
	resp, err := c.t.Transmit(ctx, apdu)
	if err != nil {
		return nil, 0, fmt.Errorf("oath: %s: transmit: %w", op, err)
	}
	if len(resp) < 2 {
		if tracing {
			c.trace(ctx, "< "+redactResponse(logIns, resp, false))
		}
		return nil, 0, fmt.Errorf("oath: %s: %w (%d bytes)", op, ErrShortResponse, len(resp))
	}
	n := len(resp) - 2
	sw := uint16(resp[n])<<8 | uint16(resp[n+1])
	if tracing {
		c.trace(ctx, "< "+redactResponse(logIns, resp[:n], aligned && sw&0xFF00 != SWMoreDataMask)+fmt.Sprintf("%04X", sw))
	}
	return resp[:n], sw, nil
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
