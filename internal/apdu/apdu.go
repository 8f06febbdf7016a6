// Package apdu is the wire loop shared by the OATH client (package oath) and
// the serial probe (package pcsc): ISO 7816-4 command chaining of short
// APDUs and the 61xx continuation of long answers.
//
// The continuation instruction is a parameter: the YubiKey's OATH applet
// continues with SEND REMAINING (00 A5 00 00 00, as ykman sends it), PIV and
// the management applet with ISO 7816-4 GET RESPONSE (00 C0 00 00 xx).
//
// Error contract: Exchange and Transceive return an error only when the
// exchange itself failed (the Send function's error, as it is) or when the
// card kept answering 61xx past a bound (ErrResponseTooLong). A card
// answering an error status word is not an error here: the status word is
// returned for the caller to map.
package apdu

import (
	"context"
	"errors"
	"fmt"
)

// Framing constants (ISO 7816-4 section 5.1: short APDUs; section 5.1.1.1:
// command chaining with bit 0x10 of CLA; section 7.6.1: GET RESPONSE).
const (
	MaxShortData = 255  // bytes of data in one short command APDU
	CLAChain     = 0x10 // CLA bit of every block but the last of a chained command

	SWOK       uint16 = 0x9000
	swMoreData uint16 = 0x6100 // 61xx: xx more bytes are waiting

	InsGetResponse   byte = 0xC0 // ISO 7816-4 GET RESPONSE (PIV, management)
	InsSendRemaining byte = 0xA5 // YubiKey OATH SEND REMAINING
)

// ErrResponseTooLong: the card kept answering 61xx past the Loop's bounds.
var ErrResponseTooLong = errors.New("card answer too long")

// ErrShortResponse: the card answered fewer than the two status bytes.
var ErrShortResponse = errors.New("card answer shorter than a status word")

// Part says which piece of a logical command an APDU is, so that a Send
// function can trace it: only a Whole command and its answer hold whole
// TLVs.
type Part int

const (
	Whole     Part = iota // an unchained command
	Chained               // one block of a chained command, the last included
	Remaining             // a continuation (GET RESPONSE or SEND REMAINING)
)

// Send transmits one command APDU and returns the answer split into data
// and status word. Its errors are returned by the Loop as they are.
type Send func(ctx context.Context, apdu []byte, part Part) (data []byte, sw uint16, err error)

// Loop follows 61xx continuations and chains long commands.
// The zero value is not usable: Continue must be set.
type Loop struct {
	// Continue is the instruction that fetches the rest of a 61xx
	// answer: InsGetResponse or InsSendRemaining.
	Continue byte
	// LeFromSW sends the continuation with Le = SW2 of the 61xx answer
	// (ISO 7816-4 GET RESPONSE); otherwise Le is 00 (ykman's SEND
	// REMAINING).
	LeFromSW bool
	// Bounds on a hostile or broken card; zero means no bound of that
	// kind. At least one should be set.
	MaxRounds int // continuations per command
	MaxEmpty  int // continuations that brought no data
	MaxBytes  int // bytes of answer data
}

// SplitSW splits a raw card answer into data and status word.
func SplitSW(resp []byte) ([]byte, uint16, error) {
	if len(resp) < 2 {
		return nil, 0, fmt.Errorf("%w (%d bytes)", ErrShortResponse, len(resp))
	}
	n := len(resp) - 2
	return resp[:n], uint16(resp[n])<<8 | uint16(resp[n+1]), nil
}

// Build encodes a short command APDU with an explicit Lc, even when the data
// is empty (00 A1 00 00 00), as ykman sends them. data must fit in one APDU.
func Build(cla, ins, p1, p2 byte, data []byte) []byte {
	apdu := make([]byte, 0, 5+len(data))
	apdu = append(apdu, cla, ins, p1, p2, byte(len(data)))
	return append(apdu, data...)
}

// Exchange sends one logical command: data over MaxShortData bytes is split
// into a chain of short APDUs built by Build (CLA|CLAChain on all but the
// last block). A chained block answered with anything but 9000 ends the
// command with that status word. The last block's answer is followed
// through 61xx as Transceive does.
func (l Loop) Exchange(ctx context.Context, send Send, cla, ins, p1, p2 byte, data []byte) ([]byte, uint16, error) {
	part := Whole
	for len(data) > MaxShortData {
		part = Chained
		block := data[:MaxShortData]
		data = data[MaxShortData:]
		_, sw, err := send(ctx, Build(cla|CLAChain, ins, p1, p2, block), Chained)
		if err != nil {
			return nil, 0, err
		}
		if sw != SWOK {
			return nil, sw, nil
		}
	}
	return l.transceive(ctx, send, Build(cla, ins, p1, p2, data), part)
}

// Transceive sends apdu, an encoded command, as one Whole command and
// follows 61xx answers with the Loop's continuation, concatenating the data.
// It returns the data and the final status word.
func (l Loop) Transceive(ctx context.Context, send Send, apdu []byte) ([]byte, uint16, error) {
	return l.transceive(ctx, send, apdu, Whole)
}

func (l Loop) transceive(ctx context.Context, send Send, apdu []byte, part Part) ([]byte, uint16, error) {
	resp, sw, err := send(ctx, apdu, part)
	if err != nil {
		return nil, 0, err
	}
	out := append([]byte(nil), resp...)
	for rounds, empty := 0, 0; sw&0xFF00 == swMoreData; rounds++ {
		if len(resp) == 0 {
			empty++
		}
		switch {
		case l.MaxRounds > 0 && rounds >= l.MaxRounds:
			return nil, 0, fmt.Errorf("%w: more than %d 61xx continuations", ErrResponseTooLong, l.MaxRounds)
		case l.MaxEmpty > 0 && empty > l.MaxEmpty:
			return nil, 0, fmt.Errorf("%w: more than %d 61xx continuations without data", ErrResponseTooLong, l.MaxEmpty)
		case l.MaxBytes > 0 && len(out) > l.MaxBytes:
			return nil, 0, fmt.Errorf("%w: more than %d bytes", ErrResponseTooLong, l.MaxBytes)
		}
		var le byte
		if l.LeFromSW {
			le = byte(sw)
		}
		resp, sw, err = send(ctx, []byte{0x00, l.Continue, 0x00, 0x00, le}, Remaining)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, resp...)
	}
	return out, sw, nil
}
