package simulator

// BER-TLV as PIV uses it (SP 800-73-4 Part 2 §3; piv.md "TLV"): tags of one
// or more bytes (5F C1 05, 7F 49), lengths in the short form below 0x80,
// else 81 xx or 82 xx xx. The simulator always writes minimal lengths:
// piv-go parses answers with encoding/asn1, which rejects any other.

type pivTLV struct {
	tag   uint32
	value []byte
}

// appendBERLen appends a minimal BER length.
func appendBERLen(dst []byte, n int) []byte {
	switch {
	case n < 0x80:
		return append(dst, byte(n))
	case n <= 0xFF:
		return append(dst, 0x81, byte(n))
	default:
		return append(dst, 0x82, byte(n>>8), byte(n))
	}
}

// appendBER appends tag (1–3 bytes, as written in hex), a minimal length and value.
func appendBER(dst []byte, tag uint32, value []byte) []byte {
	switch {
	case tag > 0xFFFF:
		dst = append(dst, byte(tag>>16), byte(tag>>8), byte(tag))
	case tag > 0xFF:
		dst = append(dst, byte(tag>>8), byte(tag))
	default:
		dst = append(dst, byte(tag))
	}
	dst = appendBERLen(dst, len(value))
	return append(dst, value...)
}

// parseBER splits b into TLVs; ok is false for anything malformed (a
// truncated tag or length, a length past the end, a length form beyond
// 82, a tag longer than 3 bytes). Never panics.
func parseBER(b []byte) ([]pivTLV, bool) {
	var out []pivTLV
	for i := 0; i < len(b); {
		tag := uint32(b[i])
		i++
		if tag&0x1F == 0x1F { // multi-byte tag: more bytes while bit 8 is set
			for n := 0; ; n++ {
				if i >= len(b) || n == 2 {
					return nil, false
				}
				tag = tag<<8 | uint32(b[i])
				i++
				if b[i-1]&0x80 == 0 {
					break
				}
			}
		}
		if i >= len(b) {
			return nil, false
		}
		n := int(b[i])
		i++
		switch {
		case n < 0x80:
		case n == 0x81 && i+1 <= len(b):
			n = int(b[i])
			i++
		case n == 0x82 && i+2 <= len(b):
			n = int(b[i])<<8 | int(b[i+1])
			i += 2
		default:
			return nil, false
		}
		if n > len(b)-i {
			return nil, false
		}
		out = append(out, pivTLV{tag, b[i : i+n : i+n]})
		i += n
	}
	return out, true
}

// berMap parses b into tag → value, refusing repeated tags.
func berMap(b []byte) (map[uint32][]byte, bool) {
	items, ok := parseBER(b)
	if !ok {
		return nil, false
	}
	m := make(map[uint32][]byte, len(items))
	for _, it := range items {
		if _, dup := m[it.tag]; dup {
			return nil, false
		}
		m[it.tag] = it.value
	}
	return m, true
}

// berOnly parses b as exactly one TLV with tag.
func berOnly(b []byte, tag uint32) ([]byte, bool) {
	items, ok := parseBER(b)
	if !ok || len(items) != 1 || items[0].tag != tag {
		return nil, false
	}
	return items[0].value, true
}
