package simulator

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/sha1"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mfabridge/mfabridge/oath"
)

func TestFraming(t *testing.T) {
	tests := []struct {
		name string
		apdu string
		want uint16
	}{
		{"case 1", "00 A1 00 00", oath.SWOK},
		{"empty Lc", "00 A1 00 00 00", oath.SWOK},
		{"Lc 0 and Le", "00 A1 00 00 00 00", oath.SWOK},
		{"extended Le", "00 A1 00 00 00 00 00", oath.SWOK},
		{"extended with data", "00 A2 00 01 00 00 0E 71 02 6e 6f 74 08 00 00 00 00 00 00 00 01", oath.SWNoSuchObject},
		{"extended with data and Le", "00 A2 00 01 00 00 0E 71 02 6e 6f 74 08 00 00 00 00 00 00 00 01 00 00", oath.SWNoSuchObject},
		{"short with Le", "00 A2 00 01 0E 71 02 6e 6f 74 08 00 00 00 00 00 00 00 01 00", oath.SWNoSuchObject},
		{"too short", "00 A1 00", oath.SWWrongLength},
		{"empty", "", oath.SWWrongLength},
		{"Lc beyond data", "00 A2 00 01 0C 71 02", oath.SWWrongLength},
		{"Lc short of data", "00 A2 00 01 02 71 02 6e 6f 00 00", oath.SWWrongLength},
		{"extended Lc beyond data", "00 A2 00 01 00 01 00 71", oath.SWWrongLength},
		{"extended Lc 0 with data", "00 A2 00 01 00 00 00 71", oath.SWWrongLength},
		{"bad CLA", "80 A1 00 00 00", oath.SWClaNotSupported},
		{"proprietary CLA", "A4 04 00 08", oath.SWClaNotSupported},
		{"unknown INS", "00 42 00 00 00", oath.SWInsNotSupported},
		// The reference applet has no GET RESPONSE, and SEND REMAINING with
		// nothing left sends nothing (issue 13 case 23).
		{"GET RESPONSE", "00 C0 00 00 00", oath.SWInsNotSupported},
		{"SEND REMAINING with nothing pending", "00 A5 00 00 00", oath.SWOK},
		{"LIST wrong TLV", "00 02 00 00 03 71 05 61", oath.SWWrongSyntax},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newTestCard(t, fw543)
			mustTx(t, c, selectOATH, oath.SWOK)
			if _, sw := tx(t, c, tt.apdu); sw != tt.want {
				t.Fatalf("SW %04X, want %04X", sw, tt.want)
			}
		})
	}
}

func TestNothingSelected(t *testing.T) {
	c := newTestCard(t, fw543)
	for _, a := range []string{"00 A1 00 00 00", "00 A5 00 00", "00 FD 00 00", "00 1D 00 00 00"} {
		if _, sw := tx(t, c, a); sw != oath.SWInsNotSupported {
			t.Errorf("%s before SELECT: %04X, want 6D00", a, sw)
		}
	}
}

func rfcKeys() map[oath.Algorithm][]byte {
	return map[oath.Algorithm][]byte{
		oath.SHA1:   []byte("12345678901234567890"),
		oath.SHA256: []byte("12345678901234567890123456789012"),
		oath.SHA512: []byte("1234567890123456789012345678901234567890123456789012345678901234"),
	}
}

// RFC 6238 Appendix B, 8 digits: (time, algorithm) → code.
func TestCalculateRFC6238(t *testing.T) {
	tests := []struct {
		unix int64
		alg  oath.Algorithm
		want string
	}{
		{59, oath.SHA1, "94287082"},
		{59, oath.SHA256, "46119246"},
		{59, oath.SHA512, "90693936"},
		{1111111109, oath.SHA1, "07081804"},
		{1111111109, oath.SHA256, "68084774"},
		{1111111109, oath.SHA512, "25091201"},
		{20000000000, oath.SHA1, "65353130"},
		{20000000000, oath.SHA256, "77737706"},
		{20000000000, oath.SHA512, "47863826"},
	}
	c := newTestCard(t, fw543)
	mustTx(t, c, selectOATH, oath.SWOK)
	for alg, key := range rfcKeys() {
		name := fmt.Sprintf("rfc-%d", alg)
		if _, sw := send(t, c, putAPDU(name, oath.TOTP, alg, 8, key)); sw != oath.SWOK {
			t.Fatalf("PUT %s: %04X", name, sw)
		}
	}
	for _, tt := range tests {
		name := fmt.Sprintf("rfc-%d", tt.alg)
		chal := binary.BigEndian.AppendUint64(nil, uint64(tt.unix/30))
		// Truncated: the raw 31-bit value; the client reduces it.
		data, sw := send(t, c, calcAPDU(name, chal, true))
		if sw != oath.SWOK || len(data) != 7 || data[0] != oath.TagTruncated || data[2] != 8 {
			t.Fatalf("%s at %d: %x %04X", name, tt.unix, data, sw)
		}
		v := binary.BigEndian.Uint32(data[3:])
		if v&0x80000000 != 0 {
			t.Errorf("truncated value %08x has the top bit set", v)
		}
		if got := fmt.Sprintf("%08d", v%100000000); got != tt.want {
			t.Errorf("%s at %d: truncated %s, want %s", name, tt.unix, got, tt.want)
		}
		// Full: 75 (n+1) digits HMAC; the client truncates.
		data, sw = send(t, c, calcAPDU(name, chal, false))
		if sw != oath.SWOK || data[0] != oath.TagResponse || data[2] != 8 {
			t.Fatalf("full %s: %x %04X", name, data, sw)
		}
		sum := data[3:]
		if int(data[1]) != len(sum)+1 {
			t.Fatalf("full %s: length byte %d for %d bytes", name, data[1], len(sum))
		}
		off := sum[len(sum)-1] & 0x0F
		if got := fmt.Sprintf("%08d", (binary.BigEndian.Uint32(sum[off:])&0x7FFFFFFF)%100000000); got != tt.want {
			t.Errorf("full %s at %d: %s, want %s", name, tt.unix, got, tt.want)
		}
	}
}

func TestCalculateErrors(t *testing.T) {
	c := newTestCard(t, fw543)
	mustTx(t, c, selectOATH, oath.SWOK)
	send(t, c, putAPDU("totp", oath.TOTP, oath.SHA1, 6, []byte("k")))
	tests := []struct {
		name string
		apdu []byte
		want uint16
	}{
		{"unknown name", calcAPDU("nope", []byte{1}, true), oath.SWNoSuchObject},
		{"P2 02", apdu(0, oath.InsCalculate, 0, 2, oath.AppendTLV(oath.AppendTLV(nil, 0x71, []byte("totp")), 0x74, []byte{1})), oath.SWWrongP1P2},
		{"TOTP without challenge", apdu(0, oath.InsCalculate, 0, 1, oath.AppendTLV(nil, 0x71, []byte("totp"))), oath.SWWrongSyntax},
		{"no name", apdu(0, oath.InsCalculate, 0, 1, oath.AppendTLV(nil, 0x74, []byte{1})), oath.SWWrongSyntax},
		{"truncated TLV", apdu(0, oath.InsCalculate, 0, 1, []byte{0x71, 0x09, 't'}), oath.SWWrongSyntax},
		{"CALCULATE ALL without challenge", apdu(0, oath.InsCalculateAll, 0, 1, nil), oath.SWWrongSyntax},
		{"CALCULATE ALL P2 05", apdu(0, oath.InsCalculateAll, 0, 5, oath.AppendTLV(nil, 0x74, []byte{1})), oath.SWWrongP1P2},
		{"CALCULATE ALL extra tag", apdu(0, oath.InsCalculateAll, 0, 1, oath.AppendTLV(oath.AppendTLV(nil, 0x74, []byte{1}), 0x71, []byte("x"))), oath.SWWrongSyntax},
	}
	for _, tt := range tests {
		if _, sw := send(t, c, tt.apdu); sw != tt.want {
			t.Errorf("%s: SW %04X, want %04X", tt.name, sw, tt.want)
		}
	}
}

func TestPutValidation(t *testing.T) {
	key := []byte("12345678901234567890")
	long := strings.Repeat("n", 65)
	tests := []struct {
		name string
		fw   Version
		apdu []byte
		want uint16
	}{
		{"ok", fw543, putAPDU("a", oath.TOTP, oath.SHA1, 6, key), oath.SWOK},
		{"8 digits", fw543, putAPDU("a", oath.TOTP, oath.SHA1, 8, key), oath.SWOK},
		{"64-byte name", fw543, putAPDU(long[:64], oath.TOTP, oath.SHA1, 6, key), oath.SWOK},
		{"65-byte name", fw543, putAPDU(long, oath.TOTP, oath.SHA1, 6, key), oath.SWWrongSyntax},
		{"empty name", fw543, putAPDU("", oath.TOTP, oath.SHA1, 6, key), oath.SWWrongSyntax},
		{"5 digits", fw543, putAPDU("a", oath.TOTP, oath.SHA1, 5, key), oath.SWWrongSyntax},
		{"9 digits", fw543, putAPDU("a", oath.TOTP, oath.SHA1, 9, key), oath.SWWrongSyntax},
		{"algorithm 4", fw543, putAPDU("a", oath.TOTP, 4, 6, key), oath.SWWrongSyntax},
		{"type 30", fw543, putAPDU("a", 0x30, oath.SHA1, 6, key), oath.SWWrongSyntax},
		{"IMF 3 bytes", fw543, putAPDU("a", oath.HOTP, oath.SHA1, 6, key, 0x7A, 3, 0, 0, 1), oath.SWWrongSyntax},
		{"IMF 4 bytes", fw543, putAPDU("a", oath.HOTP, oath.SHA1, 6, key, 0x7A, 4, 0, 0, 0, 1), oath.SWOK},
		{"unknown property bit", fw543, putAPDU("a", oath.TOTP, oath.SHA1, 6, key, 0x78, 0x04), oath.SWWrongSyntax},
		{"two properties", fw543, putAPDU("a", oath.TOTP, oath.SHA1, 6, key, 0x78, 0x02, 0x78, 0x02), oath.SWWrongSyntax},
		{"unknown tag", fw543, putAPDU("a", oath.TOTP, oath.SHA1, 6, key, 0x79, 0x00), oath.SWWrongSyntax},
		{"no key", fw543, apdu(0, oath.InsPut, 0, 0, oath.AppendTLV(nil, 0x71, []byte("a"))), oath.SWWrongSyntax},
		{"key without digits", fw543, apdu(0, oath.InsPut, 0, 0, oath.AppendTLV(oath.AppendTLV(nil, 0x71, []byte("a")), 0x73, []byte{0x21})), oath.SWWrongSyntax},
		{"malformed TLV", fw543, apdu(0, oath.InsPut, 0, 0, []byte{0x71, 0x05, 'a'}), oath.SWWrongSyntax},
		{"64-byte SHA1 key", fw543, putAPDU("a", oath.TOTP, oath.SHA1, 6, bytes.Repeat([]byte{1}, 64)), oath.SWOK},
		{"65-byte SHA1 key", fw543, putAPDU("a", oath.TOTP, oath.SHA1, 6, bytes.Repeat([]byte{1}, 65)), oath.SWWrongSyntax},
		{"128-byte SHA512 key", fw543, putAPDU("a", oath.TOTP, oath.SHA512, 6, bytes.Repeat([]byte{1}, 128)), oath.SWOK},
		// Firmware gates.
		{"SHA512 on 4.3.1", Version{4, 3, 1}, putAPDU("a", oath.TOTP, oath.SHA512, 6, key), oath.SWOK},
		{"SHA512 on 4.3.0", Version{4, 3, 0}, putAPDU("a", oath.TOTP, oath.SHA512, 6, key), oath.SWWrongSyntax},
		{"touch on 4.2.0", Version{4, 2, 0}, putAPDU("a", oath.TOTP, oath.SHA1, 6, key, 0x78, 0x02), oath.SWOK},
		{"touch on 4.1.9", Version{4, 1, 9}, putAPDU("a", oath.TOTP, oath.SHA1, 6, key, 0x78, 0x02), oath.SWWrongSyntax},
		{"increasing on 3.4.0", Version{3, 4, 0}, putAPDU("a", oath.TOTP, oath.SHA1, 6, key, 0x78, 0x01), oath.SWOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newTestCard(t, tt.fw)
			mustTx(t, c, selectOATH, oath.SWOK)
			if _, sw := send(t, c, tt.apdu); sw != tt.want {
				t.Fatalf("SW %04X, want %04X", sw, tt.want)
			}
			n := len(c.Snapshot().Credentials)
			if (tt.want == oath.SWOK) != (n == 1) {
				t.Fatalf("%d credentials stored after SW %04X", n, tt.want)
			}
		})
	}
}

func TestPutOverwriteAndCapacity(t *testing.T) {
	c := newTestCard(t, fw543)
	mustTx(t, c, selectOATH, oath.SWOK)
	for i := range MaxCredentials {
		if _, sw := send(t, c, putAPDU(fmt.Sprintf("acct%02d", i), oath.TOTP, oath.SHA1, 6, []byte{byte(i)})); sw != oath.SWOK {
			t.Fatalf("PUT %d: %04X", i, sw)
		}
	}
	if _, sw := send(t, c, putAPDU("one-too-many", oath.TOTP, oath.SHA1, 6, []byte{1})); sw != oath.SWNoSpace {
		t.Fatalf("PUT 33rd: %04X, want 6A84", sw)
	}
	// Same name overwrites in place, even when full.
	if _, sw := send(t, c, putAPDU("acct05", oath.HOTP, oath.SHA256, 8, []byte{9})); sw != oath.SWOK {
		t.Fatalf("overwrite: %04X", sw)
	}
	st := c.Snapshot()
	if len(st.Credentials) != MaxCredentials {
		t.Fatalf("%d credentials", len(st.Credentials))
	}
	if cr := st.Credentials[5]; cr.Name != "acct05" || cr.Type != oath.HOTP || cr.Algorithm != oath.SHA256 || cr.Digits != 8 || !bytes.Equal(cr.Key, []byte{9}) {
		t.Fatalf("overwritten credential %+v", cr)
	}
	// After a DELETE there is room again.
	mustTx(t, c, "00 02 00 00 08 71 06 "+fmt.Sprintf("%x", "acct00"), oath.SWOK)
	if _, sw := send(t, c, putAPDU("one-too-many", oath.TOTP, oath.SHA1, 6, []byte{1})); sw != oath.SWOK {
		t.Fatalf("PUT after DELETE: %04X", sw)
	}
}

func TestDeleteRename(t *testing.T) {
	name := func(s string) []byte { return oath.AppendTLV(nil, 0x71, []byte(s)) }
	tests := []struct {
		name string
		fw   Version
		apdu []byte
		want uint16
		list []string // names after the command
	}{
		{"delete", fw543, apdu(0, 0x02, 0, 0, name("a")), oath.SWOK, []string{"b"}},
		{"delete unknown", fw543, apdu(0, 0x02, 0, 0, name("x")), oath.SWNoSuchObject, []string{"a", "b"}},
		{"delete no name", fw543, apdu(0, 0x02, 0, 0, nil), oath.SWWrongSyntax, []string{"a", "b"}},
		{"delete two names", fw543, apdu(0, 0x02, 0, 0, append(name("a"), name("b")...)), oath.SWWrongSyntax, []string{"a", "b"}},
		{"rename", fw543, apdu(0, 0x05, 0, 0, append(name("a"), name("c")...)), oath.SWOK, []string{"c", "b"}},
		{"rename unknown", fw543, apdu(0, 0x05, 0, 0, append(name("x"), name("c")...)), oath.SWNoSuchObject, []string{"a", "b"}},
		{"rename onto existing", fw543, apdu(0, 0x05, 0, 0, append(name("a"), name("b")...)), oath.SWWrongSyntax, []string{"a", "b"}},
		{"rename to 65 bytes", fw543, apdu(0, 0x05, 0, 0, append(name("a"), name(strings.Repeat("z", 65))...)), oath.SWWrongSyntax, []string{"a", "b"}},
		{"rename one name", fw543, apdu(0, 0x05, 0, 0, name("a")), oath.SWWrongSyntax, []string{"a", "b"}},
		{"rename on 5.3.1", Version{5, 3, 1}, apdu(0, 0x05, 0, 0, append(name("a"), name("c")...)), oath.SWOK, []string{"c", "b"}},
		{"rename on 5.2.7", Version{5, 2, 7}, apdu(0, 0x05, 0, 0, append(name("a"), name("c")...)), oath.SWInsNotSupported, []string{"a", "b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newTestCard(t, tt.fw)
			mustTx(t, c, selectOATH, oath.SWOK)
			send(t, c, putAPDU("a", oath.TOTP, oath.SHA1, 6, []byte{1}))
			send(t, c, putAPDU("b", oath.TOTP, oath.SHA1, 6, []byte{2}))
			if _, sw := send(t, c, tt.apdu); sw != tt.want {
				t.Fatalf("SW %04X, want %04X", sw, tt.want)
			}
			var got []string
			for _, cr := range c.Snapshot().Credentials {
				got = append(got, cr.Name)
			}
			if strings.Join(got, ",") != strings.Join(tt.list, ",") {
				t.Fatalf("names %v, want %v", got, tt.list)
			}
		})
	}
}

// readAll follows 61xx with SEND REMAINING (A5) or GET RESPONSE (C0) and
// returns the whole answer and the number of APDUs it took.
func readAll(t *testing.T, c *Card, first []byte, cont string) ([]byte, int) {
	t.Helper()
	data, sw := send(t, c, first)
	n := 1
	for sw>>8 == 0x61 {
		want := int(sw & 0xFF)
		more, nsw := tx(t, c, cont)
		n++
		if want != 0 && len(more) != want && nsw == oath.SWOK {
			t.Fatalf("61%02X announced %d bytes, got %d", want, want, len(more))
		}
		data, sw = append(data, more...), nsw
	}
	if sw != oath.SWOK {
		t.Fatalf("chunked answer ended with %04X", sw)
	}
	return data, n
}

func TestChunking(t *testing.T) {
	for _, chunk := range []int{0, 1, 17, 255, 300} {
		t.Run(fmt.Sprint(chunk), func(t *testing.T) {
			c := newTestCard(t, fw543, WithChunkSize(chunk))
			if sel, _ := readAll(t, c, unhex(t, selectOATH), "00 A5 00 00"); len(sel) != 15 {
				t.Fatalf("SELECT: %x", sel)
			}
			var wantList []byte
			for i := range MaxCredentials {
				name := fmt.Sprintf("%02d:%s", i, strings.Repeat("x", 61))
				send(t, c, putAPDU(name, oath.HOTP, oath.SHA1, 6, []byte{1}))
				wantList = oath.AppendTLV(wantList, 0x72, append([]byte{0x11}, name...))
			}
			list, n := readAll(t, c, apdu(0, 0xA1, 0, 0, nil), "00 A5 00 00 00")
			if !bytes.Equal(list, wantList) {
				t.Fatalf("LIST over %d APDUs:\n got  %x\n want %x", n, list, wantList)
			}
			size := chunk
			if size == 0 {
				size = 254 // the reference applet's
			}
			if wantN := (len(wantList) + size - 1) / size; n != wantN {
				t.Fatalf("LIST took %d APDUs, want %d", n, wantN)
			}
			all, _ := readAll(t, c, apdu(0, 0xA4, 0, 1, []byte{0x74, 0x08, 0, 0, 0, 0, 0, 0, 0, 1}), "00 A5 00 00 00")
			items, err := oath.ParseTLVs(all)
			if err != nil || len(items) != 2*MaxCredentials {
				t.Fatalf("CALCULATE ALL: %d items, %v", len(items), err)
			}
		})
	}
}

func TestChunkingInterrupted(t *testing.T) {
	c := newTestCard(t, fw543, WithChunkSize(10))
	mustTx(t, c, selectOATH, 0x6105)
	mustTx(t, c, "00 A5 00 00", oath.SWOK)
	send(t, c, putAPDU("a-long-enough-name", oath.TOTP, oath.SHA1, 6, []byte{1}))
	if _, sw := tx(t, c, "00 A1 00 00 00"); sw != 0x610A {
		t.Fatalf("LIST: %04X, want 610A", sw)
	}
	// Another command drops the rest of the answer.
	mustTx(t, c, "00 A4 00 01 0A 74 08 0000000000000001", 0x610A) // 27 bytes
	mustTx(t, c, "00 A5 00 00", 0x6107)
	mustTx(t, c, "00 A5 00 00", oath.SWOK)
	if got := mustTx(t, c, "00 A5 00 00", oath.SWOK); len(got) != 0 { // nothing left
		t.Fatalf("SEND REMAINING after the end: %x", got)
	}
	// So does a SELECT (whose own answer is chunked too).
	mustTx(t, c, "00 A1 00 00 00", 0x610A)
	mustTx(t, c, selectOATH, 0x6105)
	if got := mustTx(t, c, "00 A5 00 00", oath.SWOK); !bytes.Equal(got, make([]byte, 5)) {
		t.Fatalf("rest of SELECT: %x", got)
	}
	if got := mustTx(t, c, "00 A5 00 00", oath.SWOK); len(got) != 0 { // nothing left
		t.Fatalf("SEND REMAINING after the end: %x", got)
	}
}

func TestChaining(t *testing.T) {
	c := newTestCard(t, fw543)
	mustTx(t, c, selectOATH, oath.SWOK)
	put := putAPDU("Example:chained", oath.TOTP, oath.SHA512, 8, rfcKeys()[oath.SHA512], 0x78, 0x02)
	data := put[5:]
	// Three parts: CLA 10, CLA 10, CLA 00.
	parts := [][]byte{data[:10], data[10:40], data[40:]}
	for i, p := range parts {
		cla := byte(0x10)
		if i == len(parts)-1 {
			cla = 0
		}
		if _, sw := send(t, c, apdu(cla, oath.InsPut, 0, 0, p)); sw != oath.SWOK {
			t.Fatalf("part %d: %04X", i, sw)
		}
	}
	st := c.Snapshot()
	if len(st.Credentials) != 1 || st.Credentials[0].Name != "Example:chained" || !st.Credentials[0].Touch() {
		t.Fatalf("chained PUT stored %+v", st.Credentials)
	}
	// A chain interrupted by another command is dropped.
	send(t, c, apdu(0x10, oath.InsPut, 0, 0, data[:10]))
	mustTx(t, c, "00 A1 00 00 00", oath.SWOK)
	if _, sw := send(t, c, apdu(0, oath.InsPut, 0, 0, data[10:])); sw != oath.SWWrongSyntax {
		t.Fatalf("tail of a dropped chain: %04X, want 6A80", sw)
	}
	// An oversized chain is refused.
	big := bytes.Repeat([]byte{0}, 255)
	var sw uint16
	for range maxChain/255 + 2 {
		if _, sw = send(t, c, apdu(0x10, oath.InsPut, 0, 0, big)); sw != oath.SWOK {
			break
		}
	}
	if sw != oath.SWWrongLength {
		t.Fatalf("oversized chain: %04X, want 6700", sw)
	}
	// So is a chain whose last part takes it one byte over the limit.
	for range maxChain / 255 {
		if _, sw := send(t, c, apdu(0x10, oath.InsPut, 0, 0, big)); sw != oath.SWOK {
			t.Fatalf("chained part within the limit: %04X, want 9000", sw)
		}
	}
	last := big[:maxChain%255+1]
	if _, sw := send(t, c, apdu(0, oath.InsPut, 0, 0, last)); sw != oath.SWWrongLength {
		t.Fatalf("last part over the chain limit: %04X, want 6700", sw)
	}
}

func passwordKey(t *testing.T, pw string, salt []byte) []byte {
	t.Helper()
	k, err := pbkdf2.Key(sha1.New, pw, salt, 1000, 16)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func mac(key, msg []byte) []byte {
	m := hmac.New(sha1.New, key)
	m.Write(msg)
	return m.Sum(nil)
}

func setCodeAPDU(typ byte, key, chal, resp []byte) []byte {
	d := oath.AppendTLV(nil, 0x73, append([]byte{typ}, key...))
	d = oath.AppendTLV(d, 0x74, chal)
	d = oath.AppendTLV(d, 0x75, resp)
	return apdu(0, oath.InsSetCode, 0, 0, d)
}

// unlock SELECTs and VALIDATEs with key, checking the card's answer.
func unlock(t *testing.T, c *Card, key []byte) {
	t.Helper()
	sel := mustTx(t, c, selectOATH, oath.SWOK)
	items, err := oath.ParseTLVs(sel)
	if err != nil || len(items) != 4 || items[2].Tag != 0x74 || items[3].Tag != 0x7B {
		t.Fatalf("SELECT with password: %x (%v)", sel, err)
	}
	host := []byte("hostchal")
	d := oath.AppendTLV(nil, 0x75, mac(key, items[2].Value))
	d = oath.AppendTLV(d, 0x74, host)
	resp, sw := send(t, c, apdu(0, oath.InsValidate, 0, 0, d))
	if sw != oath.SWOK || !bytes.Equal(resp, oath.AppendTLV(nil, 0x75, mac(key, host))) {
		t.Fatalf("VALIDATE: %x %04X", resp, sw)
	}
}

func TestPassword(t *testing.T) {
	if got := fmt.Sprintf("%x", passwordKey(t, "foobar", make([]byte, 8))); got != "b07da1e7de87f89a87a2b598eaa2188c" {
		t.Fatalf("PBKDF2 vector: %s", got)
	}
	for _, typ := range []byte{0x21, 0x01} {
		t.Run(fmt.Sprintf("type %02x", typ), func(t *testing.T) {
			c := newTestCard(t, fw543)
			salt := mustTx(t, c, selectOATH, oath.SWOK)[7:15]
			key := passwordKey(t, "foobar", salt)
			send(t, c, putAPDU("a", oath.TOTP, oath.SHA1, 6, []byte{1}))
			chal := []byte("12345678")
			for _, bad := range [][]byte{
				setCodeAPDU(typ, key, chal, mac(key, []byte("other"))),
				setCodeAPDU(0x22, key, chal, mac(key, chal)),
				setCodeAPDU(typ, key[:15], chal, mac(key[:15], chal)),
				apdu(0, oath.InsSetCode, 0, 0, oath.AppendTLV(nil, 0x73, append([]byte{typ}, key...))),
			} {
				if _, sw := send(t, c, bad); sw == oath.SWOK {
					t.Fatalf("bad SET CODE %x accepted", bad)
				}
			}
			if _, sw := send(t, c, setCodeAPDU(typ, key, chal, mac(key, chal))); sw != oath.SWOK {
				t.Fatalf("SET CODE: %04X", sw)
			}
			// Still unlocked in this session (the client proved the key).
			mustTx(t, c, "00 A1 00 00 00", oath.SWOK)

			mustTx(t, c, selectOATH, oath.SWOK)
			locked := []string{
				"00 A1 00 00 00",
				"00 A2 00 01 06 71 01 61 74 01 01",
				"00 A4 00 01 03 74 01 01",
				"00 01 00 00 0B 71 01 62 73 06 21 06 01 02 03 04",
				"00 02 00 00 03 71 01 61",
				"00 05 00 00 06 71 01 61 71 01 62",
				"00 03 00 00 02 73 00",
				"00 A5 00 00",
			}
			for _, a := range locked {
				if _, sw := tx(t, c, a); sw != oath.SWAuthRequired {
					t.Errorf("locked %s: %04X, want 6982", a, sw)
				}
			}
			if got := c.Snapshot(); len(got.Credentials) != 1 || got.Credentials[0].Name != "a" {
				t.Fatalf("locked commands changed the state: %+v", got.Credentials)
			}
			// Wrong password.
			sel := mustTx(t, c, selectOATH, oath.SWOK)
			wrong := passwordKey(t, "wrong", salt)
			d := oath.AppendTLV(oath.AppendTLV(nil, 0x75, mac(wrong, sel[17:25])), 0x74, []byte("hostchal"))
			if _, sw := send(t, c, apdu(0, oath.InsValidate, 0, 0, d)); sw != oath.SWWrongSyntax {
				t.Fatalf("wrong VALIDATE: %04X, want 6A80", sw)
			}
			mustTx(t, c, "00 A1 00 00 00", oath.SWAuthRequired)
			// VALIDATE with no host challenge.
			d = oath.AppendTLV(nil, 0x75, mac(key, sel[17:25]))
			if _, sw := send(t, c, apdu(0, oath.InsValidate, 0, 0, d)); sw != oath.SWWrongSyntax {
				t.Fatalf("VALIDATE without 74: %04X, want 6A80", sw)
			}

			unlock(t, c, key)
			mustTx(t, c, "00 A1 00 00 00", oath.SWOK)
			// Selecting another applet clears the authentication.
			mustTx(t, c, "00 A4 04 00 05 A0 00 00 03 08", oath.SWOK)
			mustTx(t, c, selectOATH, oath.SWOK)
			mustTx(t, c, "00 A1 00 00 00", oath.SWAuthRequired)
			// So do power cycles and resets; the password survives them.
			unlock(t, c, key)
			c.PowerOff()
			c.PowerOn()
			mustTx(t, c, "00 A1 00 00 00", oath.SWInsNotSupported)
			unlock(t, c, key)
			c.Reset()
			mustTx(t, c, selectOATH, oath.SWOK)
			mustTx(t, c, "00 A1 00 00 00", oath.SWAuthRequired)

			// Clear the password.
			unlock(t, c, key)
			mustTx(t, c, "00 03 00 00 02 73 00", oath.SWOK)
			if sel := mustTx(t, c, selectOATH, oath.SWOK); len(sel) != 15 {
				t.Fatalf("SELECT after clearing: %x", sel)
			}
			mustTx(t, c, "00 A1 00 00 00", oath.SWOK)
			mustTx(t, c, "00 A3 00 00 0C 75 00 74 08 0102030405060708", oath.SWNoSuchObject)
		})
	}
}

func TestReset(t *testing.T) {
	c := newTestCard(t, fw543)
	mustTx(t, c, selectOATH, oath.SWOK)
	send(t, c, putAPDU("a", oath.TOTP, oath.SHA1, 6, []byte{1}))
	key := passwordKey(t, "pw", make([]byte, 8))
	send(t, c, setCodeAPDU(0x21, key, []byte("12345678"), mac(key, []byte("12345678"))))
	mustTx(t, c, selectOATH, oath.SWOK)
	for _, p := range []string{"00 00", "DE AE", "AD DE"} {
		mustTx(t, c, "00 04 "+p+" 00", oath.SWWrongP1P2)
	}
	mustTx(t, c, "00 04 DE AD", oath.SWOK)
	st := c.Snapshot()
	if len(st.Credentials) != 0 || st.PasswordKey != nil || bytes.Equal(st.Salt, make([]byte, 8)) || len(st.Salt) != 8 {
		t.Fatalf("state after RESET: %+v", st)
	}
	mustTx(t, c, "00 A1 00 00 00", oath.SWOK)
}

func TestCalculateAllMixed(t *testing.T) {
	c := newTestCard(t, fw543, WithTouchFunc(func(context.Context) (bool, error) {
		t.Error("CALCULATE ALL asked the user for a touch")
		return false, nil
	}))
	mustTx(t, c, selectOATH, oath.SWOK)
	send(t, c, putAPDU("totp", oath.TOTP, oath.SHA1, 8, rfcKeys()[oath.SHA1]))
	send(t, c, putAPDU("hotp", oath.HOTP, oath.SHA1, 6, rfcKeys()[oath.SHA1]))
	send(t, c, putAPDU("touch", oath.TOTP, oath.SHA1, 7, rfcKeys()[oath.SHA1], 0x78, 0x02))
	send(t, c, putAPDU("hotp-touch", oath.HOTP, oath.SHA1, 6, rfcKeys()[oath.SHA1], 0x78, 0x02))
	got := mustTx(t, c, "00 A4 00 01 0A 74 08 0000000000000001", oath.SWOK)
	var want []byte
	want = append(want, unhex(t, `71 04 "totp" 76 05 08 41397eea`)...) // 1094287082: RFC 6238 T=59
	want = append(want, unhex(t, `71 04 "hotp" 77 01 06`)...)
	want = append(want, unhex(t, `71 05 "touch" 7c 01 07`)...)
	want = append(want, unhex(t, `71 0a "hotp-touch" 7c 01 06`)...)
	if !bytes.Equal(got, want) {
		t.Fatalf("CALCULATE ALL\n got  %x\n want %x", got, want)
	}
	// CALCULATE ALL does not touch HOTP counters.
	if st := c.Snapshot(); st.Credentials[1].Counter != 0 {
		t.Fatalf("HOTP counter %d after CALCULATE ALL", st.Credentials[1].Counter)
	}
}

func TestTouchPolicies(t *testing.T) {
	const d = 60 * time.Millisecond
	tests := []struct {
		policy  TouchPolicy
		wantSW  uint16
		minWait time.Duration
	}{
		{TouchPolicy{}, oath.SWOK, 0},
		{TouchPolicy{Mode: TouchApprove, Delay: time.Hour}, oath.SWOK, 0},
		{TouchPolicy{Mode: TouchDelay, Delay: d}, oath.SWOK, d},
		{TouchPolicy{Mode: TouchTimeout, Delay: d}, oath.SWAuthRequired, d},
	}
	for _, tt := range tests {
		t.Run(tt.policy.Mode, func(t *testing.T) {
			c := newTestCard(t, fw543, WithTouch(tt.policy))
			mustTx(t, c, selectOATH, oath.SWOK)
			send(t, c, putAPDU("touch", oath.HOTP, oath.SHA1, 6, rfcKeys()[oath.SHA1], 0x78, 0x02))
			send(t, c, putAPDU("plain", oath.TOTP, oath.SHA1, 6, rfcKeys()[oath.SHA1]))
			start := time.Now()
			data, sw := send(t, c, calcAPDU("touch", nil, true))
			took := time.Since(start)
			if sw != tt.wantSW {
				t.Fatalf("SW %04X, want %04X", sw, tt.wantSW)
			}
			if took < tt.minWait || took > tt.minWait+2*time.Second {
				t.Fatalf("answered after %v, want about %v", took, tt.minWait)
			}
			wantCounter := uint64(1)
			if sw == oath.SWOK {
				if !bytes.Equal(data, unhex(t, "76 05 06 4c93cf18")) { // RFC 4226 count 0: 1284755224
					t.Fatalf("code %x", data)
				}
			} else {
				wantCounter = 0 // a timed-out touch does not use up a counter value
			}
			if got := c.Snapshot().Credentials[0].Counter; got != wantCounter {
				t.Fatalf("counter %d, want %d", got, wantCounter)
			}
		})
	}
}

// The simulated user as a function: the test decides, at a known point,
// whether the key is touched; no delay is involved.
func TestTouchFunc(t *testing.T) {
	boom := errors.New("user walked away")
	for _, tt := range []struct {
		name    string
		touched bool
		err     error
		wantSW  uint16
		counter uint64
	}{
		{"touched", true, nil, oath.SWOK, 1},
		{"not touched", false, nil, oath.SWAuthRequired, 0},
		{"wait failed", false, boom, 0, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var calls []string
			c := newTestCard(t, fw543, WithTouchFunc(func(ctx context.Context) (bool, error) {
				calls = append(calls, "touch")
				return tt.touched, tt.err
			}))
			mustTx(t, c, selectOATH, oath.SWOK)
			send(t, c, putAPDU("touch", oath.HOTP, oath.SHA1, 6, rfcKeys()[oath.SHA1], 0x78, 0x02))
			send(t, c, putAPDU("plain", oath.TOTP, oath.SHA1, 6, rfcKeys()[oath.SHA1]))

			// Credentials without touch never ask the user.
			mustTx(t, c, "00 A2 00 01 11 71 05 "+fmt.Sprintf("%x", "plain")+" 74 08 0000000000000001", oath.SWOK)
			if len(calls) != 0 {
				t.Fatalf("a credential without touch asked for a touch (%d calls)", len(calls))
			}

			resp, err := c.Transmit(context.Background(), calcAPDU("touch", nil, true))
			if len(calls) != 1 {
				t.Fatalf("touch asked %d times, want once", len(calls))
			}
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("Transmit = %x, %v; want an error wrapping %v", resp, err, tt.err)
				}
			} else {
				if err != nil {
					t.Fatal(err)
				}
				if sw := uint16(resp[len(resp)-2])<<8 | uint16(resp[len(resp)-1]); sw != tt.wantSW {
					t.Fatalf("SW %04X, want %04X", sw, tt.wantSW)
				}
			}
			if got := c.Snapshot().Credentials[0].Counter; got != tt.counter {
				t.Fatalf("HOTP counter %d, want %d", got, tt.counter)
			}
		})
	}
}

func TestTouchPolicyFromState(t *testing.T) {
	st := &State{Serial: 1, Firmware: fw543, Salt: make([]byte, 8), Touch: TouchPolicy{Mode: TouchTimeout, Delay: time.Millisecond}}
	c := New(st)
	mustTx(t, c, selectOATH, oath.SWOK)
	send(t, c, putAPDU("touch", oath.TOTP, oath.SHA1, 6, []byte{1}, 0x78, 0x02))
	if _, sw := send(t, c, calcAPDU("touch", []byte{1}, true)); sw != oath.SWAuthRequired {
		t.Fatalf("state policy timeout: %04X", sw)
	}
	// WithTouch overrides it.
	c2 := New(c.Snapshot(), WithTouch(TouchPolicy{}))
	mustTx(t, c2, selectOATH, oath.SWOK)
	if _, sw := send(t, c2, calcAPDU("touch", []byte{1}, true)); sw != oath.SWOK {
		t.Fatalf("WithTouch approve: %04X", sw)
	}
}

func TestTouchCancel(t *testing.T) {
	c := newTestCard(t, fw543, WithTouch(TouchPolicy{Mode: TouchTimeout, Delay: time.Hour}))
	mustTx(t, c, selectOATH, oath.SWOK)
	send(t, c, putAPDU("touch", oath.HOTP, oath.SHA1, 6, []byte{1}, 0x78, 0x02))
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.Transmit(ctx, calcAPDU("touch", nil, true))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Transmit during a touch wait: %v, want a deadline error", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("cancellation took %v", took)
	}
	// The card is usable again and the counter unchanged.
	mustTx(t, c, "00 A1 00 00 00", oath.SWOK)
	if got := c.Snapshot().Credentials[0].Counter; got != 0 {
		t.Fatalf("counter %d after a cancelled touch", got)
	}
}

func TestStats(t *testing.T) {
	c := newTestCard(t, fw543, WithChunkSize(16))
	mustTx(t, c, selectOATH, oath.SWOK)
	send(t, c, putAPDU("twenty-bytes-of-name", oath.TOTP, oath.SHA1, 6, []byte{1}))
	readAll(t, c, apdu(0, 0xA1, 0, 0, nil), "00 A5 00 00")        // 23 bytes: 2 APDUs
	mustTx(t, c, "00 A4 00 01 0A 74 08 0000000000000001", 0x610D) // CALCULATE ALL, 29 bytes
	tx(t, c, "00")
	s := c.Stats()
	want := Stats{Total: 6, Select: 1, ByINS: map[byte]int{0x01: 1, 0xA1: 1, 0xA5: 1, 0xA4: 1}}
	if s.Total != want.Total || s.Select != want.Select || fmt.Sprint(s.ByINS) != fmt.Sprint(want.ByINS) {
		t.Fatalf("stats %+v, want %+v", s, want)
	}
	s.ByINS[0x01] = 99 // a copy
	if c.Stats().ByINS[0x01] != 1 {
		t.Fatal("Stats returned the card's own map")
	}
}

func TestConcurrentUse(t *testing.T) {
	c := newTestCard(t, fw543)
	mustTx(t, c, selectOATH, oath.SWOK)
	send(t, c, putAPDU("hotp", oath.HOTP, oath.SHA1, 6, []byte{1}))
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 50 {
				resp, err := c.Transmit(context.Background(), calcAPDU("hotp", nil, true))
				if err != nil || len(resp) != 9 {
					t.Errorf("CALCULATE: %x %v", resp, err)
					return
				}
				c.Stats()
			}
		})
	}
	wg.Wait()
	if got := c.Snapshot().Credentials[0].Counter; got != 400 {
		t.Fatalf("counter %d after 400 concurrent CALCULATEs", got)
	}
}

// An only-increasing TOTP credential (property 01) refuses a challenge
// lower than the last it answered with 6982, equal or higher ones work;
// CALCULATE ALL fails as a whole on a lower one. The last challenge
// survives a save and reload, and a PUT over the credential clears it.
func TestOnlyIncreasing(t *testing.T) {
	c := newTestCard(t, fw543)
	mustTx(t, c, selectOATH, oath.SWOK)
	key := rfcKeys()[oath.SHA1]
	send(t, c, putAPDU("inc", oath.TOTP, oath.SHA1, 8, key, 0x78, 0x01))
	send(t, c, putAPDU("plain", oath.TOTP, oath.SHA1, 8, key))
	step := func(n uint64) []byte { return binary.BigEndian.AppendUint64(nil, n) }
	calc := func(name string, chal []byte, want uint16) {
		t.Helper()
		if _, sw := send(t, c, calcAPDU(name, chal, true)); sw != want {
			t.Fatalf("CALCULATE %s at %x: SW %04X, want %04X", name, chal, sw, want)
		}
	}
	calc("inc", step(10), oath.SWOK)
	calc("inc", step(11), oath.SWOK)
	calc("inc", step(11), oath.SWOK) // equal is allowed
	calc("inc", step(10), oath.SWAuthRequired)
	calc("inc", []byte{0, 11}, oath.SWOK)        // the same number, shorter
	calc("inc", []byte{10}, oath.SWAuthRequired) // lower, shorter
	calc("plain", step(1), oath.SWOK)            // other credentials do not care
	all := func(chal []byte) uint16 {
		_, sw := send(t, c, apdu(0, oath.InsCalculateAll, 0, 1, oath.AppendTLV(nil, oath.TagChallenge, chal)))
		return sw
	}
	if sw := all(step(5)); sw != oath.SWAuthRequired {
		t.Fatalf("CALCULATE ALL below the last challenge: SW %04X, want 6982", sw)
	}
	if sw := all(step(12)); sw != oath.SWOK {
		t.Fatalf("CALCULATE ALL above the last challenge: SW %04X", sw)
	}
	calc("inc", step(11), oath.SWAuthRequired) // CALCULATE ALL raised it to 12

	// Persisted: a reloaded card still refuses 11.
	b, err := json.Marshal(c.Snapshot())
	if err != nil {
		t.Fatal(err)
	}
	var st State
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	c = New(&st, WithRand(&countingRand{}))
	mustTx(t, c, selectOATH, oath.SWOK)
	calc("inc", step(11), oath.SWAuthRequired)
	calc("inc", step(12), oath.SWOK)
	// A PUT replacing the credential starts over.
	send(t, c, putAPDU("inc", oath.TOTP, oath.SHA1, 8, key, 0x78, 0x01))
	calc("inc", step(1), oath.SWOK)
}

// TouchRelease: each touch waits for the test's file, acts on the one that
// appears (touched, or timed out with 6982) and takes it away; a file that
// is there before the touch is asked for acts at once.
func TestTouchRelease(t *testing.T) {
	release := filepath.Join(t.TempDir(), "release")
	waiting := make(chan struct{}, 4) // the card logged that it waits for a touch
	c := newTestCard(t, fw543, WithTouch(TouchPolicy{Mode: TouchRelease, Release: release}),
		WithLogger(slog.New(signalHandler{msg: "simulator: waiting for touch", ch: waiting})))
	mustTx(t, c, selectOATH, oath.SWOK)
	send(t, c, putAPDU("touch", oath.HOTP, oath.SHA1, 6, rfcKeys()[oath.SHA1], 0x78, 0x02))
	sw := func(resp []byte) uint16 { return uint16(resp[len(resp)-2])<<8 | uint16(resp[len(resp)-1]) }

	// A touch asked for before the file is written is answered once it is.
	type result struct {
		resp []byte
		err  error
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	answered := make(chan result, 1)
	go func() {
		resp, err := c.Transmit(ctx, calcAPDU("touch", nil, true))
		answered <- result{resp, err}
	}()
	<-waiting // released only once the card waits
	select {
	case r := <-answered:
		t.Fatalf("answered before the release: %x, %v", r.resp, r.err)
	default:
	}
	if err := os.WriteFile(release, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	r := <-answered
	if r.err != nil || sw(r.resp) != oath.SWOK {
		t.Fatalf("released touch: %x, %v", r.resp, r.err)
	}
	if _, err := os.Stat(release); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the release file was not taken: %v", err)
	}

	// A ".timeout" file written beforehand: 6982 at once, counter kept.
	if err := os.WriteFile(release+".timeout", nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, got := send(t, c, calcAPDU("touch", nil, true)); got != oath.SWAuthRequired {
		t.Fatalf("timed-out touch: SW %04X, want 6982", got)
	}
	if got := c.Snapshot().Credentials[0].Counter; got != 1 {
		t.Fatalf("counter %d after one touch and one time-out, want 1", got)
	}

	<-waiting

	// Nothing released: the card waits until its context ends.
	cctx, ccancel := context.WithCancel(context.Background())
	go func() {
		_, err := c.Transmit(cctx, calcAPDU("touch", nil, true))
		answered <- result{nil, err}
	}()
	<-waiting
	ccancel()
	if r := <-answered; !errors.Is(r.err, context.Canceled) {
		t.Fatalf("Transmit waiting for a touch, context cancelled: %v", r.err)
	}
}

// signalHandler is a slog.Handler that sends on ch for each record with
// message msg.
type signalHandler struct {
	msg string
	ch  chan<- struct{}
}

func (h signalHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h signalHandler) Handle(_ context.Context, r slog.Record) error {
	if r.Message == h.msg {
		h.ch <- struct{}{}
	}
	return nil
}
func (h signalHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h signalHandler) WithGroup(string) slog.Handler      { return h }
