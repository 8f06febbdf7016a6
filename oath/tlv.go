package oath

import (
	"errors"
	"fmt"
)

// TLV is one tag-length-value item as YKOATH encodes it: a one-byte tag and a
// BER length (short form below 0x80, else 0x81 xx or 0x82 xx xx).
// The property tag (0x78) is special: it has no length byte at all and
// exactly one value byte; see EncodeProperty and ParseTLVs.
type TLV struct {
	Tag   byte
	Value []byte
}

// ErrMalformed reports bytes from a card (or sent to a card) that do not
// follow the YKOATH TLV encoding.
var ErrMalformed = errors.New("malformed YKOATH data")

// AppendTLV appends the encoding of tag and value to dst.
func AppendTLV(dst []byte, tag byte, value []byte) []byte {
	dst = append(dst, tag)
	dst = appendLength(dst, len(value))
	return append(dst, value...)
}

// AppendProperty appends the property TLV, which has no length byte (78 pp).
func AppendProperty(dst []byte, prop byte) []byte {
	return append(dst, TagProperty, prop)
}

func appendLength(dst []byte, n int) []byte {
	switch {
	case n < 0x80:
		return append(dst, byte(n))
	case n <= 0xff:
		return append(dst, 0x81, byte(n))
	default:
		return append(dst, 0x82, byte(n>>8), byte(n))
	}
}

// ParseTLVs splits b into TLVs. It never panics: a truncated or oversized
// length yields an error wrapping ErrMalformed. The property tag 0x78 is read
// as a single value byte without a length, as the applet encodes it.
func ParseTLVs(b []byte) ([]TLV, error) {
	var out []TLV
	for i := 0; i < len(b); {
		tag := b[i]
		i++
		if tag == TagProperty {
			if i >= len(b) {
				return nil, fmt.Errorf("%w: property tag without a value at offset %d", ErrMalformed, i-1)
			}
			out = append(out, TLV{Tag: tag, Value: b[i : i+1]})
			i++
			continue
		}
		if i >= len(b) {
			return nil, fmt.Errorf("%w: tag %02x without a length at offset %d", ErrMalformed, tag, i-1)
		}
		n := int(b[i])
		i++
		switch {
		case n < 0x80:
		case n == 0x81:
			if i+1 > len(b) {
				return nil, fmt.Errorf("%w: truncated length of tag %02x", ErrMalformed, tag)
			}
			n = int(b[i])
			i++
		case n == 0x82:
			if i+2 > len(b) {
				return nil, fmt.Errorf("%w: truncated length of tag %02x", ErrMalformed, tag)
			}
			n = int(b[i])<<8 | int(b[i+1])
			i += 2
		default:
			return nil, fmt.Errorf("%w: unsupported length byte %02x for tag %02x", ErrMalformed, n, tag)
		}
		if n > len(b)-i {
			return nil, fmt.Errorf("%w: tag %02x claims %d bytes, %d remain", ErrMalformed, tag, n, len(b)-i)
		}
		out = append(out, TLV{Tag: tag, Value: b[i : i+n : i+n]})
		i += n
	}
	return out, nil
}
