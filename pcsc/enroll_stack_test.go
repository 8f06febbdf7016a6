//go:build linux

package pcsc

import (
	"bytes"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/mfabridge/mfabridge/simulator"
	"github.com/mfabridge/mfabridge/simulator/stsemu"
)

// Issue 6 acceptance through PC/SC: `mfabridge enroll` puts a new AWS
// virtual MFA device (STS/IAM emulator, in this process) on a simulated
// key attached to pcscd through vpcd, enables it with two codes read over
// PC/SC, writes the profile, and `credential-process` then assumes the
// MFA-protected role with it; `rotate` then replaces it on the key.
func TestStackEnrollAndAssumeRole(t *testing.T) {
	s := needStack(t)
	const serial = 66666666
	card, err := simulator.Create(filepath.Join(t.TempDir(), "enroll.json"), serial, firmware)
	if err != nil {
		t.Fatal(err)
	}
	sl := s.slots[1]
	s.attach(t, 1, card)
	defer s.attach(t, 1, sl.card)

	cfg, err := stsemu.LoadConfig("../simulator/stsemu/testdata/iam_self_mfa.json")
	if err != nil {
		t.Fatal(err)
	}
	var log lockedLog
	srv, err := stsemu.New(cfg, stsemu.WithLog(&log))
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	defer hs.Close()

	home := t.TempDir()
	aws := filepath.Join(home, ".aws")
	if err := os.MkdirAll(aws, 0o700); err != nil {
		t.Fatal(err)
	}
	// endpoint_url on the source profile serves both IAM and STS (the
	// binary runs with a clean environment, see cli).
	config := "[profile alice]\nregion = us-east-1\nendpoint_url = " + hs.URL + "\n\n[profile prod]\nrole_arn = arn:aws:iam::222222222222:role/PrivilegedActionsRole\nsource_profile = alice\nendpoint_url = " + hs.URL + "\n"
	if err := os.WriteFile(filepath.Join(aws, "config"), []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	creds := "[alice]\naws_access_key_id = AKIAALICE00000000001\naws_secret_access_key = alice-secret-access-key-0000000000000000\n"
	if err := os.WriteFile(filepath.Join(aws, "credentials"), []byte(creds), 0o600); err != nil {
		t.Fatal(err)
	}

	out, stderr, err := cli(t, home, "", "enroll", "--profile", "prod", "--device", "yubikey:66666666", "--name", "alice-pcsc", "--write-config")
	if err != nil || strings.TrimSpace(out) != "arn:aws:iam::111111111111:mfa/alice-pcsc" {
		t.Fatalf("enroll over PC/SC: %v\n%s\n%s", err, out, stderr)
	}
	b, err := os.ReadFile(filepath.Join(aws, "config"))
	if err != nil || !strings.Contains(string(b), "mfabridge_device = yubikey:66666666\n") {
		t.Fatalf("profile not written: %v\n%s", err, b)
	}
	out, stderr, err = cli(t, home, "", "credential-process", "prod")
	if err != nil || !strings.Contains(out, `"AccessKeyId":"ASIA`) {
		t.Fatalf("assume the MFA role with the enrolled key: %v\n%s\n%s", err, out, stderr)
	}
	// Rotate over PC/SC too: the new device replaces the old on the key.
	out, stderr, err = cli(t, home, "", "rotate", "--profile", "prod", "--name", "alice-pcsc2")
	if err != nil || strings.TrimSpace(out) != "arn:aws:iam::111111111111:mfa/alice-pcsc2" {
		t.Fatalf("rotate over PC/SC: %v\n%s\n%s", err, out, stderr)
	}
	out, stderr, err = cli(t, home, "", "accounts", "list", "--device", "yubikey:66666666")
	if err != nil || strings.TrimSpace(out) != "AWS:alice-pcsc2@111111111111" {
		t.Errorf("accounts after rotation: %v\n%s\n%s", err, out, stderr)
	}
	text := log.String()
	for _, want := range []string{`"action":"EnableMFADevice","caller":"arn:aws:iam::111111111111:user/alice"`, `"action":"AssumeRole"`,
		`"action":"DeactivateMFADevice"`, `"action":"DeleteVirtualMFADevice"`} {
		if !strings.Contains(text, want) {
			t.Errorf("emulator log lacks %s:\n%s", want, text)
		}
	}
	if strings.Contains(text, `"outcome":"denied"`) || strings.Contains(text, `"outcome":"error"`) {
		t.Errorf("a call failed:\n%s", text)
	}
}

type lockedLog struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
