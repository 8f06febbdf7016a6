package piv

import "fmt"

// TLV is one BER-TLV item as PIV encodes it (SP 800-73-4 Part 2 §3, ISO
// 7816-4 §5.2): a tag of one to three bytes written as a number (5FC105,
// 7F49, 7C), a length in the short form below 0x80 or as 81 xx / 82 xx xx.
type TLV struct {
	Tag   uint32
	Value []byte
}

// AppendTLV appends tag, the minimal length of value and value to dst.
// Minimal lengths matter: piv-go and other encoding/asn1 readers refuse
// 81 43 where 43 fits.
func AppendTLV(dst []byte, tag uint32, value []byte) []byte {
	switch {
	case tag > 0xFFFF:
		dst = append(dst, byte(tag>>16), byte(tag>>8), byte(tag))
	case tag > 0xFF:
		dst = append(dst, byte(tag>>8), byte(tag))
	default:
		dst = append(dst, byte(tag))
	}
	switch n := len(value); {
	case n < 0x80:
		dst = append(dst, byte(n))
	case n <= 0xFF:
		dst = append(dst, 0x81, byte(n))
	default:
		dst = append(dst, 0x82, byte(n>>8), byte(n))
	}
	return append(dst, value...)
}

// ParseTLVs splits b into TLVs. It never panics: a truncated tag or length,
// a length past the end, a length form beyond 82 or a tag longer than three
// bytes gives an error wrapping ErrMalformed. Values alias b.
func ParseTLVs(b []byte) ([]TLV, error) {
	var out []TLV
	for i := 0; i < len(b); {
		start := i
		tag := uint32(b[i])
		i++
		if tag&0x1F == 0x1F { // multi-byte tag: subsequent bytes while bit 8 is set
			for n := 0; ; n++ {
				if i >= len(b) {
					return nil, fmt.Errorf("%w: truncated tag at offset %d", ErrMalformed, start)
				}
				if n == 2 {
					return nil, fmt.Errorf("%w: tag longer than 3 bytes at offset %d", ErrMalformed, start)
				}
				tag = tag<<8 | uint32(b[i])
				i++
				if b[i-1]&0x80 == 0 {
					break
				}
			}
		}
		if i >= len(b) {
			return nil, fmt.Errorf("%w: tag %X without a length at offset %d", ErrMalformed, tag, start)
		}
		n := int(b[i])
		i++
		switch {
		case n < 0x80:
		case n == 0x81 && i < len(b):
			n = int(b[i])
			i++
		case n == 0x82 && i+1 < len(b):
			n = int(b[i])<<8 | int(b[i+1])
			i += 2
		default:
			return nil, fmt.Errorf("%w: bad or truncated length of tag %X at offset %d", ErrMalformed, tag, start)
		}
		if n > len(b)-i {
			return nil, fmt.Errorf("%w: tag %X claims %d bytes, %d remain", ErrMalformed, tag, n, len(b)-i)
		}
		out = append(out, TLV{Tag: tag, Value: b[i : i+n : i+n]})
		i += n
	}
	return out, nil
}

// tlvMap parses b into tag → value, refusing repeated tags.
func tlvMap(b []byte) (map[uint32][]byte, error) {
	items, err := ParseTLVs(b)
	if err != nil {
		return nil, err
	}
	m := make(map[uint32][]byte, len(items))
	for _, it := range items {
		if _, dup := m[it.Tag]; dup {
			return nil, fmt.Errorf("%w: tag %X repeated", ErrMalformed, it.Tag)
		}
		m[it.Tag] = it.Value
	}
	return m, nil
}

// unwrapTLV returns the value of b when b is exactly one TLV with tag.
func unwrapTLV(b []byte, tag uint32) ([]byte, error) {
	items, err := ParseTLVs(b)
	if err != nil {
		return nil, err
	}
	if len(items) != 1 || items[0].Tag != tag {
		return nil, fmt.Errorf("%w: want one TLV with tag %X", ErrMalformed, tag)
	}
	return items[0].Value, nil
}
