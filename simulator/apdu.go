package simulator

import (
	"bytes"
	"context"
	"fmt"

	"github.com/mfabridge/mfabridge/oath"
)

// command is a parsed command APDU.
type command struct {
	cla, ins, p1, p2 byte
	data             []byte
}

// parseAPDU accepts the encodings real clients send (ykoath.md, "APDU
// framing a card must accept"):
//
//	CLA INS P1 P2                          case 1 (yawn/ykoath)
//	CLA INS P1 P2 Le                       case 2; ykman's "00 A1 00 00 00" (Lc 0)
//	CLA INS P1 P2 Lc data [Le]             case 3/4, short
//	CLA INS P1 P2 00 Lc_hi Lc_lo data [Le_hi Le_lo]  extended (ykman 5.x)
//	CLA INS P1 P2 00 Le_hi Le_lo           extended case 2
//
// It returns a status word other than 9000 for anything else.
func parseAPDU(b []byte) (command, uint16) {
	if len(b) < 4 {
		return command{}, oath.SWWrongLength
	}
	cmd := command{cla: b[0], ins: b[1], p1: b[2], p2: b[3]}
	switch rest := b[4:]; {
	case len(rest) <= 1:
		return cmd, oath.SWOK
	case rest[0] != 0:
		lc := int(rest[0])
		if len(rest) != 1+lc && len(rest) != 2+lc {
			return command{}, oath.SWWrongLength
		}
		cmd.data = rest[1 : 1+lc]
		return cmd, oath.SWOK
	case len(rest) == 2:
		// 00 Le: an empty Lc followed by a short Le.
		return cmd, oath.SWOK
	case len(rest) >= 3:
		lc := int(rest[1])<<8 | int(rest[2])
		if len(rest) == 3 {
			return cmd, oath.SWOK // extended case 2: 00 Le_hi Le_lo
		}
		if lc == 0 || (len(rest) != 3+lc && len(rest) != 5+lc) {
			return command{}, oath.SWWrongLength
		}
		cmd.data = rest[3 : 3+lc]
		return cmd, oath.SWOK
	}
	return command{}, oath.SWWrongLength
}

// Transmit sends one command APDU to the card and returns its answer:
// response data followed by SW1 SW2. Bad or unsupported commands get an
// error status word, never a Go error; Transmit fails only when ctx is done
// (before the command, or while waiting for a touch).
func (c *Card) Transmit(ctx context.Context, apdu []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("transmit to simulator: %w", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.count(apdu)
	resp, err := c.handle(ctx, apdu)
	if err != nil {
		c.pending = nil
		return nil, fmt.Errorf("transmit to simulator: %w", err)
	}
	return resp, nil
}

func (c *Card) count(apdu []byte) {
	c.stats.Total++
	if len(apdu) < 2 {
		return
	}
	if apdu[1] == 0xA4 && len(apdu) >= 3 && apdu[2] == 0x04 {
		c.stats.Select++
		return
	}
	c.stats.ByINS[apdu[1]]++
}

func withSW(data []byte, sw uint16) []byte {
	out := make([]byte, 0, len(data)+2)
	out = append(out, data...)
	return append(out, byte(sw>>8), byte(sw))
}

func (c *Card) handle(ctx context.Context, apdu []byte) ([]byte, error) {
	cmd, sw := parseAPDU(apdu)
	if sw != oath.SWOK {
		c.chaining, c.chain = false, nil
		return withSW(nil, sw), nil
	}
	if cmd.cla&^0x10 != 0 {
		c.chaining, c.chain = false, nil
		return withSW(nil, oath.SWClaNotSupported), nil
	}

	// Continuation while an answer is pending: SEND REMAINING (A5) in the
	// OATH applet, GET RESPONSE (C0, ISO 7816-4) in the others. Any other
	// command drops the rest of the answer. Only commands that passed the
	// OATH lock check leave an answer pending (or SELECT, whose answer a
	// locked client must read in full), so the lock is checked only when
	// there is nothing to continue.
	//
	// Choices against Yubico's reference applet (ykneo-oath YkneoOath.java;
	// what a YubiKey 5 does is not documented for these corners, so the
	// reference decides, issue 13 case 23):
	//   - OATH has no GET RESPONSE: 00 C0 falls through to the applet and
	//     answers 6D00, as the reference does; Yubico's clients (ykman,
	//     yubikit) continue OATH answers with A5 only.
	//   - SEND REMAINING with nothing pending answers 9000 and no data (the
	//     reference sends its zero remaining bytes), or 6982 while locked
	//     (its authentication check comes first).
	if c.selected == appletOATH && cmd.ins == oath.InsSendRemaining || c.selected != appletOATH && cmd.ins == insGetResponse {
		if c.pending == nil {
			switch {
			case c.selected != appletOATH:
				return withSW(nil, oath.SWConditionsNotMet), nil
			case c.locked():
				return withSW(nil, oath.SWAuthRequired), nil
			default:
				return withSW(nil, oath.SWOK), nil
			}
		}
		return c.chunked(c.pending, oath.SWOK), nil
	}
	c.pending = nil

	// Command chaining (ISO 7816-4 5.1.1): CLA 10 parts are accumulated
	// until the last part (CLA 00) of the same command arrives.
	hdr := [4]byte{cmd.cla &^ 0x10, cmd.ins, cmd.p1, cmd.p2}
	if c.chaining && hdr != c.chainHdr {
		c.chaining, c.chain = false, nil // a different command ends the chain
		if c.selected == appletPIV {
			return withSW(nil, swPIVChainBroken), nil // piv.md: ISO 7816-4 6883
		}
	}
	more := cmd.cla&0x10 != 0 // more parts follow
	if (more || c.chaining) && len(c.chain)+len(cmd.data) > maxChain {
		c.chaining, c.chain = false, nil
		return withSW(nil, oath.SWWrongLength), nil
	}
	if more {
		c.chaining, c.chainHdr = true, hdr
		c.chain = append(c.chain, cmd.data...)
		return withSW(nil, oath.SWOK), nil
	}
	if c.chaining {
		cmd.data = append(c.chain, cmd.data...)
		c.chaining, c.chain = false, nil
	}

	data, sw, err := c.dispatch(ctx, cmd)
	if err != nil {
		return nil, err
	}
	return c.chunked(data, sw), nil
}

// insGetResponse is ISO 7816-4's GET RESPONSE, which PIV clients send on
// 61xx (piv.md); the OATH applet uses SEND REMAINING instead.
const insGetResponse = 0xC0

// chunked sends at most c.chunk bytes of data; the rest waits for SEND
// REMAINING with 61xx, xx = min(remaining, chunk), 00 meaning 256 or more.
func (c *Card) chunked(data []byte, sw uint16) []byte {
	if len(data) <= c.chunk {
		c.pending = nil
		return withSW(data, sw)
	}
	head := data[:c.chunk]
	c.pending = bytes.Clone(data[c.chunk:])
	rem := min(len(c.pending), c.chunk)
	if rem > 0xFF {
		rem = 0
	}
	return withSW(head, oath.SWMoreDataMask|uint16(rem))
}

// Applet AIDs as installed. SELECT matches by prefix (ISO 7816-4 partial
// selection): ykman selects OATH as A0000005272101 and OTP as
// A0000005272001, piv-go selects OTP as A000000527200101.
var applets = []struct {
	aid []byte
	id  applet
}{
	{[]byte{0xA0, 0x00, 0x00, 0x05, 0x27, 0x21, 0x01, 0x01}, appletOATH},
	{[]byte{0xA0, 0x00, 0x00, 0x05, 0x27, 0x47, 0x11, 0x17}, appletManagement},
	{[]byte{0xA0, 0x00, 0x00, 0x05, 0x27, 0x20, 0x01, 0x01}, appletOTP},
	{[]byte{0xA0, 0x00, 0x00, 0x03, 0x08, 0x00, 0x00, 0x10, 0x00, 0x01, 0x00}, appletPIV},
}

func (c *Card) dispatch(ctx context.Context, cmd command) ([]byte, uint16, error) {
	if cmd.ins == 0xA4 && cmd.p1 == 0x04 {
		data, sw := c.selectApplet(cmd)
		return data, sw, nil
	}
	switch c.selected {
	case appletOATH:
		return c.oathCommand(ctx, cmd)
	case appletManagement:
		data, sw := c.mgmtCommand(cmd)
		return data, sw, nil
	case appletOTP:
		data, sw := c.otpCommand(cmd)
		return data, sw, nil
	case appletPIV:
		return c.pivCommand(ctx, cmd)
	}
	return nil, oath.SWInsNotSupported, nil
}

func (c *Card) selectApplet(cmd command) ([]byte, uint16) {
	if len(cmd.data) < 5 {
		// Also ykman's malformed 4-byte "A4 04 00 08" probe for old NEOs.
		return nil, oath.SWFileNotFound
	}
	for _, a := range applets {
		if !bytes.HasPrefix(a.aid, cmd.data) || (c.oathOnly && a.id != appletOATH) {
			continue
		}
		// Selecting any applet deselects OATH and clears its authentication;
		// selecting another applet also clears PIV's verified PIN and
		// management key, a repeated SELECT of PIV keeps them (piv.md).
		keep := c.piv
		again := c.selected == appletPIV && a.id == appletPIV
		c.resetSession()
		if again {
			c.piv = keep
		}
		c.selected = a.id
		switch a.id {
		case appletOATH:
			return c.oathSelect()
		case appletManagement:
			return c.mgmtSelect(), oath.SWOK
		case appletOTP:
			return c.otpStatus(), oath.SWOK
		default:
			return c.pivSelect(), oath.SWOK
		}
	}
	// A failed SELECT leaves the current applet selected (as on JavaCard).
	return nil, oath.SWFileNotFound
}
