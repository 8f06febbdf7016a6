package device

import (
	"errors"
	"strings"
	"testing"
)

// Issue 13 case 19: reader:NAME addresses an OATH card by its reader, as
// ykman --reader does (a substring, ignoring case).
func TestParseSpecReader(t *testing.T) {
	s, err := ParseSpec("reader:Virtual PCD 00 01")
	if err != nil || s.Kind != "reader" || s.Reader != "Virtual PCD 00 01" || s.String() != "reader:Virtual PCD 00 01" {
		t.Fatalf("ParseSpec(reader:…) = %+v, %v", s, err)
	}
	if _, err := ParseSpec("reader:"); err == nil || !strings.Contains(err.Error(), "reader:NAME") {
		t.Fatalf("ParseSpec(reader:) = %v, want an error showing reader:NAME", err)
	}
	if _, err := ParseSpec("nfc:x"); err == nil || !strings.Contains(err.Error(), "reader:NAME") {
		t.Fatalf("unknown kind error %v does not offer reader:NAME", err)
	}
}

func TestMatchReader(t *testing.T) {
	readers := []string{"Yubico YubiKey OTP+FIDO+CCID 00 00", "Virtual PCD 00 01", "Virtual PCD 00 02"}
	if r, err := matchReader("pcd 00 01", readers); err != nil || r != "Virtual PCD 00 01" {
		t.Errorf("matchReader(pcd 00 01) = %q, %v", r, err)
	}
	if _, err := matchReader("virtual", readers); !errors.Is(err, ErrNoReaderMatch) || !strings.Contains(err.Error(), "give more of the name") {
		t.Errorf("two matches: %v", err)
	}
	if _, err := matchReader("nfc", readers); !errors.Is(err, ErrNoReaderMatch) || !strings.Contains(err.Error(), "Virtual PCD 00 02") {
		t.Errorf("no match: %v, want the readers listed", err)
	}
}

func TestInfoStringOATHCard(t *testing.T) {
	if got := (Info{Kind: "yubikey", Reader: "Virtual PCD 00 01"}).String(); got != `OATH card in reader "Virtual PCD 00 01"` {
		t.Errorf("Info.String() = %q", got)
	}
	if got := (Info{Kind: "yubikey", Serial: 5, Reader: "r"}).String(); got != "YubiKey 5" {
		t.Errorf("Info.String() = %q", got)
	}
}
