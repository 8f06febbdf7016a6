package simulator

import (
	"fmt"
	"strings"
	"testing"

	"github.com/mfabridge/mfabridge/oath"
)

// TestReferenceAppletCorners pins issue 13 case 23 (with the transcript
// testdata/replay/reference-corners.txt): answers chain in 254-byte chunks,
// OATH has no GET RESPONSE, SEND REMAINING after the end is 9000 (6982 while
// locked), and parameterless instructions refuse P1/P2 other than 00 00.
func TestReferenceAppletCorners(t *testing.T) {
	c := newTestCard(t, fw543)
	mustTx(t, c, selectOATH, oath.SWOK)
	for i := range MaxCredentials {
		send(t, c, putAPDU(fmt.Sprintf("%02d:%s", i, strings.Repeat("x", 61)), oath.TOTP, oath.SHA1, 6, []byte{1}))
	}
	// 32 names of 64 bytes: a 2144-byte LIST, beyond the reference's 2048
	// bytes, but what a YubiKey 5 holds.
	if _, sw := send(t, c, putAPDU("one-too-many", oath.TOTP, oath.SHA1, 6, []byte{1})); sw != oath.SWNoSpace {
		t.Errorf("PUT #33: %04X, want 6A84", sw)
	}
	first := mustTx(t, c, "00 A1 00 00 00", 0x61FE)
	if len(first) != 254 {
		t.Errorf("first LIST chunk: %d bytes, want 254", len(first))
	}
	// GET RESPONSE is not an OATH instruction; it also drops the answer.
	mustTx(t, c, "00 C0 00 00 00", oath.SWInsNotSupported)
	if got := mustTx(t, c, "00 A5 00 00 00", oath.SWOK); len(got) != 0 {
		t.Errorf("SEND REMAINING after GET RESPONSE: %d bytes, want none", len(got))
	}
	for _, a := range []string{
		"00 A1 00 01 00",                   // LIST
		"00 02 01 00 06 71 04 6e 6f 6e 65", // DELETE
		"00 05 00 01 06 71 01 61 71 01 62", // RENAME
		"00 03 00 01 02 73 00",             // SET CODE (clear)
		"00 A3 00 01 00",                   // VALIDATE
		"00 01 00 01 00",                   // PUT
	} {
		mustTx(t, c, a, oath.SWWrongP1P2)
	}

	// Locked: SEND REMAINING with nothing pending answers 6982, as every
	// instruction but VALIDATE and RESET does.
	locked := newTestCard(t, fw543)
	locked.st.PasswordKey = HexBytes{0xb0, 0x7d, 0xa1, 0xe7, 0xde, 0x87, 0xf8, 0x9a, 0x87, 0xa2, 0xb5, 0x98, 0xea, 0xa2, 0x18, 0x8c}
	mustTx(t, locked, selectOATH, oath.SWOK)
	mustTx(t, locked, "00 A5 00 00 00", oath.SWAuthRequired)

	// Other applets keep ISO GET RESPONSE (PIV clients use it).
	piv := newTestCard(t, fw543, WithChunkSize(10))
	mustTx(t, piv, "00 A4 04 00 05 A0 00 00 03 08", 0x6109)
	if got := mustTx(t, piv, "00 C0 00 00 00", oath.SWOK); len(got) != 9 {
		t.Errorf("PIV GET RESPONSE: %x", got)
	}
	mustTx(t, piv, "00 C0 00 00 00", oath.SWConditionsNotMet)
}
