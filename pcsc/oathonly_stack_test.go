//go:build linux

package pcsc

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mfabridge/mfabridge/oath"
	"github.com/mfabridge/mfabridge/simulator"
)

// Issue 13 case 19: a card with only the OATH applet (Yubico's ykneo-oath on
// a NEO-era key, other YKOATH tokens: no PIV, management or OTP applet, so no
// YubiKey serial) is found by discovery with serial 0, used by --device
// yubikey when it is the only OATH card, addressed by --device reader:NAME
// beside a YubiKey, and listed by `mfabridge devices`.
func TestStackOATHOnlyCard(t *testing.T) {
	s := needStack(t)
	card, err := simulator.Create(filepath.Join(t.TempDir(), "oathonly.json"), 33333333, firmware, simulator.WithOATHOnly())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	putTOTP(t, ctx, oath.NewClient(card), "oathonly")
	s.attach(t, 1, card)
	t.Cleanup(func() { s.attach(t, 1, s.slots[1].card) })
	oathReader := s.slots[1].reader

	// Discovery: the YubiKey in slot 0 and the OATH card in slot 1.
	pc, err := Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	keys, err := pc.Keys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []KeyInfo{{Reader: s.slots[0].reader, Serial: serialA, Firmware: "5.4.3"}, {Reader: oathReader}}
	if !slices.Equal(keys, want) {
		t.Fatalf("Keys() = %+v, want %+v (the OATH card without serial or firmware)", keys, want)
	}
	_, _, err = pc.OpenKey(ctx, 0)
	var multi *MultipleKeysError
	if !errors.As(err, &multi) || !slices.Equal(multi.Serials, []uint32{serialA, 0}) {
		t.Fatalf("OpenKey(0) with a YubiKey and an OATH card = %v, want MultipleKeysError{%d 0}", err, serialA)
	}

	home := t.TempDir()
	// Both cards present: yubikey is ambiguous and says how to choose.
	_, stderr, err := cliEnv(t, home, nil, "accounts", "list", "--device", "yubikey")
	if err == nil || !strings.Contains(stderr, "(serial hidden)") || !strings.Contains(stderr, "--device reader:NAME") {
		t.Fatalf("accounts list --device yubikey with two cards: err %v, stderr %q; want the ambiguity and reader:NAME", err, stderr)
	}
	// reader:NAME picks the OATH card (a substring, any case).
	stdout, stderr, err := cliEnv(t, home, nil, "accounts", "code", "--device", "reader:ccid 00 01", "--at", "59", "oathonly")
	if err != nil || stdout != "94287082\n" {
		t.Fatalf("accounts code --device reader:…: %v, stdout %q, stderr %q; want RFC 6238's 94287082", err, stdout, stderr)
	}
	_, stderr, err = cliEnv(t, home, nil, "accounts", "list", "--device", "reader:CCID 00")
	if err == nil || !strings.Contains(stderr, "give more of the name") {
		t.Fatalf("reader:NAME matching both readers: err %v, stderr %q", err, stderr)
	}
	// devices lists it with what is known.
	stdout, stderr, err = cliEnv(t, home, nil, "devices")
	if err != nil {
		t.Fatalf("devices: %v, stderr %q", err, stderr)
	}
	row := ""
	for _, l := range strings.Split(stdout, "\n") {
		if strings.HasSuffix(l, oathReader) {
			row = strings.Join(strings.Fields(strings.TrimSuffix(l, oathReader)), " ")
		}
	}
	if row != "- - 1 no" || !strings.Contains(stderr, "only an OATH applet") {
		t.Fatalf("devices: OATH card row %q (want \"- - 1 no\"), stdout %q, stderr %q", row, stdout, stderr)
	}
	stdout, _, err = cliEnv(t, home, nil, "devices", "--json")
	if err != nil || !strings.Contains(stdout, `"oath_only": true`) || !strings.Contains(stdout, `"oath_version": "5.4.3"`) {
		t.Fatalf("devices --json: %v, %s", err, stdout)
	}

	// The only OATH card present: --device yubikey uses it.
	s.detach(t, 0)
	defer s.attach(t, 0, s.slots[0].card)
	stdout, stderr, err = cliEnv(t, home, nil, "accounts", "code", "--device", "yubikey", "--at", "59", "oathonly")
	if err != nil || stdout != "94287082\n" {
		t.Fatalf("accounts code --device yubikey, only the OATH card: %v, stdout %q, stderr %q", err, stdout, stderr)
	}
}

// The probe, against the simulator directly (no pcscd): an OATH-only card
// is an OATH card without serial or firmware; the full card keeps its
// serial.
func TestProbeSimulatedOATHOnly(t *testing.T) {
	ctx := context.Background()
	only, err := simulator.Create(filepath.Join(t.TempDir(), "only.json"), 33333333, firmware, simulator.WithOATHOnly())
	if err != nil {
		t.Fatal(err)
	}
	if serial, fw, err := probeKey(ctx, only); err != nil || serial != 0 || fw != "" {
		t.Fatalf("probeKey(OATH-only card) = %d, %q, %v; want 0, \"\", nil", serial, fw, err)
	}
	if serial, fw, err := probeSerial(ctx, only); err != nil || serial != 0 || fw != "" {
		t.Fatalf("probeSerial(OATH-only card) = %d, %q, %v; want 0, \"\", nil", serial, fw, err)
	}
	full, err := simulator.Create(filepath.Join(t.TempDir(), "full.json"), 33333333, firmware)
	if err != nil {
		t.Fatal(err)
	}
	if serial, fw, err := probeKey(ctx, full); err != nil || serial != 33333333 || fw != "5.4.3" {
		t.Fatalf("probeKey(YubiKey) = %d, %q, %v", serial, fw, err)
	}
}
