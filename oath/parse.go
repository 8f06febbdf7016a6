package oath

import (
	"encoding/binary"
	"fmt"
)

// Parsers of card answers. None of them panics, whatever the bytes: every
// length is checked, and errors wrap ErrMalformed.

// parseSelect reads the SELECT answer (YKOATH spec, "SELECT"): 79 version,
// 71 salt, and when a password is set 74 challenge and 7B algorithm.
// Unknown tags are skipped.
func parseSelect(b []byte) (*SelectInfo, error) {
	tlvs, err := ParseTLVs(b)
	if err != nil {
		return nil, err
	}
	info := &SelectInfo{}
	var haveVersion, haveSalt bool
	for _, t := range tlvs {
		switch t.Tag {
		case TagVersion:
			if len(t.Value) != 3 {
				return nil, fmt.Errorf("%w: version of %d bytes", ErrMalformed, len(t.Value))
			}
			copy(info.Version[:], t.Value)
			haveVersion = true
		case TagName:
			if len(t.Value) == 0 {
				return nil, fmt.Errorf("%w: empty salt", ErrMalformed)
			}
			info.Salt = append([]byte(nil), t.Value...)
			haveSalt = true
		case TagChallenge:
			if len(t.Value) == 0 {
				return nil, fmt.Errorf("%w: empty challenge", ErrMalformed)
			}
			info.Challenge = append([]byte(nil), t.Value...)
		case TagAlgorithm:
			if len(t.Value) != 1 {
				return nil, fmt.Errorf("%w: algorithm of %d bytes", ErrMalformed, len(t.Value))
			}
			// The current applet sends the hash (01); the old NEO applet a
			// whole type byte (21): keep the low nibble.
			info.Algorithm = Algorithm(t.Value[0] & 0x0F)
		}
	}
	if !haveVersion {
		return nil, fmt.Errorf("%w: no version in SELECT answer", ErrMalformed)
	}
	if !haveSalt {
		return nil, fmt.Errorf("%w: no salt in SELECT answer", ErrMalformed)
	}
	if info.Challenge != nil && info.Algorithm == 0 {
		info.Algorithm = SHA1
	}
	return info, nil
}

// parseList reads a LIST answer: repeated 72 <type|alg> <name>.
func parseList(b []byte) ([]ListEntry, error) {
	tlvs, err := ParseTLVs(b)
	if err != nil {
		return nil, err
	}
	entries := make([]ListEntry, 0, len(tlvs))
	for _, t := range tlvs {
		if t.Tag != TagNameList {
			return nil, fmt.Errorf("%w: unexpected tag %02x in LIST answer", ErrMalformed, t.Tag)
		}
		if len(t.Value) < 2 {
			return nil, fmt.Errorf("%w: LIST entry of %d bytes", ErrMalformed, len(t.Value))
		}
		entries = append(entries, ListEntry{
			Name:      string(t.Value[1:]),
			Type:      Type(t.Value[0] & 0xF0),
			Algorithm: Algorithm(t.Value[0] & 0x0F),
		})
	}
	return entries, nil
}

// parseCalculate reads a CALCULATE answer: 76 05 <digits> <4 bytes> or
// 75 (n+1) <digits> <hmac>.
func parseCalculate(b []byte) (Response, error) {
	tlvs, err := ParseTLVs(b)
	if err != nil {
		return Response{}, err
	}
	if len(tlvs) != 1 {
		return Response{}, fmt.Errorf("%w: %d TLVs in CALCULATE answer, want 1", ErrMalformed, len(tlvs))
	}
	return parseResponse(tlvs[0])
}

func parseResponse(t TLV) (Response, error) {
	switch t.Tag {
	case TagTruncated:
		if len(t.Value) != 5 {
			return Response{}, fmt.Errorf("%w: truncated response of %d bytes", ErrMalformed, len(t.Value))
		}
		d, err := parseDigits(t.Value[0])
		if err != nil {
			return Response{}, err
		}
		return Response{Digits: d, Truncated: binary.BigEndian.Uint32(t.Value[1:])}, nil
	case TagResponse:
		// A full HMAC: 20, 32 or 64 bytes after the digits byte.
		if n := len(t.Value) - 1; n != 20 && n != 32 && n != 64 {
			return Response{}, fmt.Errorf("%w: full response of %d bytes", ErrMalformed, len(t.Value))
		}
		d, err := parseDigits(t.Value[0])
		if err != nil {
			return Response{}, err
		}
		return Response{Digits: d, Full: append([]byte(nil), t.Value[1:]...)}, nil
	}
	return Response{}, fmt.Errorf("%w: unexpected tag %02x for a response", ErrMalformed, t.Tag)
}

func parseDigits(d byte) (int, error) {
	if d < 1 || d > 10 {
		return 0, fmt.Errorf("%w: %d digits", ErrMalformed, d)
	}
	return int(d), nil
}

// parseCalculateAll reads a CALCULATE ALL answer: per credential 71 name
// then 75/76 (computed), 77 01 <digits> (HOTP) or 7C 01 <digits> (touch).
func parseCalculateAll(b []byte) ([]CalcEntry, error) {
	tlvs, err := ParseTLVs(b)
	if err != nil {
		return nil, err
	}
	if len(tlvs)%2 != 0 {
		return nil, fmt.Errorf("%w: odd number of TLVs (%d) in CALCULATE ALL answer", ErrMalformed, len(tlvs))
	}
	entries := make([]CalcEntry, 0, len(tlvs)/2)
	for i := 0; i+1 < len(tlvs); i += 2 {
		nt, rt := tlvs[i], tlvs[i+1]
		if nt.Tag != TagName {
			return nil, fmt.Errorf("%w: tag %02x where a name was expected", ErrMalformed, nt.Tag)
		}
		e := CalcEntry{Name: string(nt.Value)}
		switch rt.Tag {
		case TagHOTP, TagTouch:
			e.HOTP = rt.Tag == TagHOTP
			e.Touch = rt.Tag == TagTouch
			if len(rt.Value) != 1 {
				return nil, fmt.Errorf("%w: %02x marker of %d bytes for %q", ErrMalformed, rt.Tag, len(rt.Value), e.Name)
			}
			d, err := parseDigits(rt.Value[0])
			if err != nil {
				return nil, err
			}
			e.Response.Digits = d
		default:
			r, err := parseResponse(rt)
			if err != nil {
				return nil, fmt.Errorf("response for %q: %w", e.Name, err)
			}
			e.Response = r
		}
		entries = append(entries, e)
	}
	return entries, nil
}
