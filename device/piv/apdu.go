package piv

import (
	"context"
	"encoding/hex"
	"fmt"
	"log/slog"
	"strings"
)

// Framing says how command APDUs are encoded (ISO 7816-4 §5.1).
type Framing int

const (
	// FramingShort sends short APDUs, data over 255 bytes as a command
	// chain (CLA 10 on all blocks but the last), data-less commands with
	// Le 00, as piv-go does. Every reader and card take it; the default.
	FramingShort Framing = iota
	// FramingExtended sends extended APDUs (00 Lc_hi Lc_lo), never chained,
	// as ykman 4 does once GET VERSION says 4.0 or newer.
	FramingExtended
	// FramingAuto is short until Version reports 4.0 or newer, then
	// extended (ykman's rule).
	FramingAuto
)

const (
	claChain       = 0x10
	maxShortData   = 255
	maxResponse    = 1 << 16 // larger answers are a broken or hostile card
	maxEmptyRounds = 8       // 61xx answers without data before giving up
	insGetResponse = 0xC0    // ISO 7816-4 GET RESPONSE: PIV continues 61xx with it
)

func (c *Client) extended() bool {
	switch c.framing {
	case FramingExtended:
		return true
	case FramingAuto:
		return c.version != nil && c.version.Major >= 4
	}
	return false
}

// buildAPDU encodes one command: short (Lc data, or Le 00 without data) or
// extended (00 Lc_hi Lc_lo data, or 00 00 00 without data).
func buildAPDU(cla, ins, p1, p2 byte, data []byte, extended bool) []byte {
	apdu := make([]byte, 0, 7+len(data))
	apdu = append(apdu, cla, ins, p1, p2)
	switch {
	case extended:
		apdu = append(apdu, 0x00, byte(len(data)>>8), byte(len(data)))
	case len(data) == 0:
		return append(apdu, 0x00) // Le 00: piv-go's 5-byte form
	default:
		apdu = append(apdu, byte(len(data)))
	}
	return append(apdu, data...)
}

// exchange sends one logical command and returns its answer data when
// the final status word is 9000, following 61xx with GET RESPONSE. op
// names the operation in errors; what names the reference a 63Cx is about.
func (c *Client) exchange(ctx context.Context, op, what string, ins, p1, p2 byte, data []byte) ([]byte, error) {
	ext := c.extended()
	if ext && len(data) > 0xFFFF || len(data) > maxResponse {
		return nil, fmt.Errorf("piv: %s: %w: %d bytes of data", op, ErrInvalidInput, len(data))
	}
	if !ext {
		for len(data) > maxShortData {
			_, sw, err := c.transmit(ctx, op, ins, buildAPDU(claChain, ins, p1, p2, data[:maxShortData], false))
			if err != nil {
				return nil, err
			}
			if sw != 0x9000 {
				return nil, statusError(op, what, sw)
			}
			data = data[maxShortData:]
		}
	}
	resp, sw, err := c.transmit(ctx, op, ins, buildAPDU(0x00, ins, p1, p2, data, ext))
	if err != nil {
		return nil, err
	}
	out := append([]byte(nil), resp...)
	for empty := 0; sw>>8 == 0x61; {
		if len(resp) == 0 {
			empty++
		}
		if empty > maxEmptyRounds || len(out) > maxResponse {
			return nil, fmt.Errorf("piv: %s: %w", op, ErrResponseTooLong)
		}
		resp, sw, err = c.transmit(ctx, op, ins, buildAPDU(0x00, insGetResponse, 0, 0, nil, ext))
		if err != nil {
			return nil, err
		}
		out = append(out, resp...)
	}
	if sw != 0x9000 {
		return nil, statusError(op, what, sw)
	}
	return out, nil
}

// transmit sends one APDU, traces it (redacted) and splits off the status
// word. ins is the logical instruction: it decides what the trace hides.
func (c *Client) transmit(ctx context.Context, op string, ins byte, apdu []byte) ([]byte, uint16, error) {
	if err := ctx.Err(); err != nil {
		return nil, 0, fmt.Errorf("piv: %s: %w", op, err)
	}
	tracing := c.log != nil && c.log.Enabled(ctx, slog.LevelDebug)
	if tracing {
		c.log.LogAttrs(ctx, slog.LevelDebug, "> "+redact(ins, apdu, true))
	}
	resp, err := c.t.Transmit(ctx, apdu)
	if err != nil {
		return nil, 0, fmt.Errorf("piv: %s: transmit: %w", op, err)
	}
	if len(resp) < 2 {
		return nil, 0, fmt.Errorf("piv: %s: %w: answer of %d bytes has no status word", op, ErrMalformed, len(resp))
	}
	n := len(resp) - 2
	sw := uint16(resp[n])<<8 | uint16(resp[n+1])
	if tracing {
		c.log.LogAttrs(ctx, slog.LevelDebug, "< "+redact(ins, resp[:n], false)+fmt.Sprintf("%04X", sw))
	}
	return resp[:n], sw, nil
}

// secretData reports instructions whose command or answer data carries
// secrets: PINs and PUKs (VERIFY, CHANGE, RESET RETRY), witnesses,
// challenges, signatures and shared secrets (GENERAL AUTHENTICATE), private
// keys (IMPORT) and management keys (SET MANAGEMENT KEY; GET DATA may read
// a PIN-protected management key from 5FC109).
func secretData(ins byte, command bool) bool {
	switch ins {
	case insVerify, insChangeRef, insResetRetry, insGeneralAuth, insImportKey, insSetMgmtKey:
		return true
	case insGetData:
		return !command
	}
	return false
}

func redact(ins byte, b []byte, command bool) string {
	if command {
		hdr := min(len(b), 7)
		if len(b) > 4 && b[4] != 0 {
			hdr = 5
		}
		if len(b) <= hdr || !secretData(ins, true) {
			return strings.ToUpper(hex.EncodeToString(b))
		}
		return strings.ToUpper(hex.EncodeToString(b[:hdr])) + fmt.Sprintf("<redacted %d bytes>", len(b)-hdr)
	}
	if len(b) == 0 || !secretData(ins, false) {
		return strings.ToUpper(hex.EncodeToString(b))
	}
	return fmt.Sprintf("<redacted %d bytes>", len(b))
}
