//go:build linux

package pcsc

import (
	"context"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zalando/go-keyring"

	"github.com/mfabridge/mfabridge/internal/dbustest"
	"github.com/mfabridge/mfabridge/oath"
	"github.com/mfabridge/mfabridge/simulator"
	"github.com/mfabridge/mfabridge/sts/keystore"
)

// Issue 14 acceptance, with Yubico's own client on the other side: ykman
// sets the OATH password over pcscd + vpcd; `mfabridge accounts password
// remember` stores the derived key in a real Secret Service (gnome-keyring
// on a private D-Bus session bus); a locked key then opens with no prompt
// (no terminal) and no password variable; after `ykman oath access change`
// the remembered key is refused once, with a clean message, and dropped
// from the keystore; mfabridge then needs the password again (and works
// once the new one is remembered).
func TestStackRememberedPasswordYkmanChange(t *testing.T) {
	s := needStack(t)
	ykmanPath(t)
	ci := os.Getenv("CI") != ""
	bus := dbustest.Start(t, ci)
	dbustest.SecretService(t, ci, bus)
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", bus) // keystoreItem reads it too

	const serial = 45454545
	card, err := simulator.Create(filepath.Join(t.TempDir(), "remember.json"), serial, firmware)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	local := oath.NewClient(card)
	sel, err := local.Select(ctx)
	if err != nil {
		t.Fatal(err)
	}
	secret, err := base32.StdEncoding.DecodeString("JBSWY3DPEHPK3PXP")
	if err != nil {
		t.Fatal(err)
	}
	if err := local.Put(ctx, oath.PutRequest{Name: "alice", Type: oath.TOTP, Algorithm: oath.SHA1, Digits: 6, Key: secret}); err != nil {
		t.Fatal(err)
	}
	card.PowerOff()
	s.attach(t, 1, card)
	t.Cleanup(func() { s.attach(t, 1, s.slots[1].card) })
	// The device id and salt stay with the applet across password changes.
	id, salt := sel.DeviceID(), sel.Salt

	home := t.TempDir()
	dev := "yubikey:" + fmt.Sprint(serial)
	// mfabridge as a GUI caller: no terminal, no MFABRIDGE_OATH_PASSWORD,
	// the session bus of the test's desktop.
	mfabridge := func(stdin string, args ...string) (stdout, stderr string, err error) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, buildCLI(t), args...)
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "MFABRIDGE_TTY=none", "DBUS_SESSION_BUS_ADDRESS=" + bus}
		cmd.Stdin = strings.NewReader(stdin)
		var o, e strings.Builder
		cmd.Stdout, cmd.Stderr = &o, &e
		err = cmd.Run()
		return o.String(), e.String(), err
	}
	code := []string{"accounts", "code", "--device", dev, "alice", "--at", "1700000000"}
	const want = "324550\n" // RFC 6238 TOTP of the secret at 1700000000

	// ykman sets the password (the new one twice: it asks to confirm).
	ykman(t, "pw1\npw1\n", "--device", fmt.Sprint(serial), "oath", "access", "change")
	if _, stderr, err := mfabridge("", code...); err == nil || !strings.Contains(stderr, "password protected and there is no terminal to ask on") {
		t.Fatalf("locked, nothing remembered: %v\n%s", err, stderr)
	}

	if _, stderr, err := mfabridge("pw1\n", "accounts", "password", "remember", "--device", dev); err != nil ||
		!strings.Contains(stderr, fmt.Sprintf("the OATH password of YubiKey %d is remembered in the OS keystore", serial)) {
		t.Fatalf("remember: %v\n%s", err, stderr)
	}
	if got, err := keystoreItem(id); err != nil || got != hex.EncodeToString(oath.DeriveKey("pw1", salt)) {
		t.Fatalf("Secret Service item for %s = %q, %v; want the key derived from pw1", id, got, err)
	}
	if stdout, stderr, err := mfabridge("", code...); err != nil || stdout != want || stderr != "" {
		t.Fatalf("locked key with a remembered password: %v\nstdout %q\nstderr %q", err, stdout, stderr)
	}

	// ykman changes it: current password, then the new one twice.
	ykman(t, "pw1\npw2\npw2\n", "--device", fmt.Sprint(serial), "oath", "access", "change")

	stdout, stderr, err := mfabridge("", code...)
	refused := fmt.Sprintf("the OATH password remembered for YubiKey %d was refused", serial)
	if err == nil || stdout != "" {
		t.Fatalf("after ykman changed the password: %v, stdout %q", err, stdout)
	}
	if n := strings.Count(stderr, refused); n != 1 {
		t.Errorf("the refusal is said %d times, want once:\n%s", n, stderr)
	}
	if !strings.Contains(stderr, "it is forgotten now") || !strings.Contains(stderr, "no terminal to ask on") {
		t.Errorf("after the refusal, want the key forgotten and the password asked for:\n%s", stderr)
	}
	for _, line := range strings.Split(strings.TrimSpace(stderr), "\n") {
		if !strings.HasPrefix(line, "mfabridge: ") {
			t.Errorf("stderr line without the program's prefix (not clean): %q", line)
		}
	}
	if strings.Contains(stderr, "panic") || strings.Contains(stderr, "goroutine") {
		t.Errorf("not a clean failure:\n%s", stderr)
	}
	if _, err := keystoreItem(id); !errors.Is(err, keyring.ErrNotFound) {
		t.Errorf("Secret Service item for %s after the refusal: %v, want none", id, err)
	}

	// Once only: the next run asks for the password and says nothing of a
	// remembered one.
	if _, stderr, err := mfabridge("", code...); err == nil || strings.Contains(stderr, "was refused") || !strings.Contains(stderr, "no terminal to ask on") {
		t.Errorf("second run after the refusal: %v\n%s", err, stderr)
	}

	// The new password, remembered, opens the key again with no prompt.
	if _, stderr, err := mfabridge("pw2\n", "accounts", "password", "remember", "--device", dev); err != nil {
		t.Fatalf("remember the new password: %v\n%s", err, stderr)
	}
	if stdout, stderr, err := mfabridge("", code...); err != nil || stdout != want || stderr != "" {
		t.Fatalf("with the new password remembered: %v\nstdout %q\nstderr %q", err, stdout, stderr)
	}
	// ykman opens the key with the password it set.
	if out := ykman(t, "pw2\n", "--device", fmt.Sprint(serial), "oath", "accounts", "list"); strings.TrimSpace(out) != "alice" {
		t.Errorf("ykman list with the new password: %q", out)
	}
}

// keystoreItem reads the Secret Service item of a remembered OATH
// password for device id (the CLI's naming: service "mfabridge"'s item
// "oath:ID").
func keystoreItem(id string) (string, error) {
	return keyring.Get(keystore.KeyringService, "oath:"+id)
}
