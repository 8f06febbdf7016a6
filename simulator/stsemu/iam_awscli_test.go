package stsemu

import (
	"encoding/base32"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"
)

// The AWS CLI v2 manages virtual MFA devices against the emulator: the
// commands mfabridge prints for leftovers of a failed enrollment
// ("aws iam deactivate-mfa-device …", "aws iam delete-virtual-mfa-device …")
// work as printed.
func TestAWSCLIv2IAM(t *testing.T) {
	if _, err := os.Stat(awsCLI); err != nil {
		t.Skip("AWS CLI v2 not installed at " + awsCLI)
	}
	if testing.Short() {
		t.Skip("skipping AWS CLI runs in -short mode")
	}
	// The real clock: the CLI signs with it, and the codes must be current.
	h := newHarness(t, "iam_self_mfa.json", WithClock(time.Now))
	alice := []string{"AWS_ACCESS_KEY_ID=" + aliceKey, "AWS_SECRET_ACCESS_KEY=" + aliceSecret}
	seedFile := filepath.Join(t.TempDir(), "seed")
	r := runAWS(t, h, alice, "iam", "create-virtual-mfa-device", "--virtual-mfa-device-name", "alice-cli",
		"--outfile", seedFile, "--bootstrap-method", "Base32StringSeed")
	if r.exit != 0 || !strings.Contains(r.stdout, `"SerialNumber": "arn:aws:iam::111111111111:mfa/alice-cli"`) {
		t.Fatalf("create: %+v", r)
	}
	seed, err := os.ReadFile(seedFile)
	if err != nil {
		t.Fatal(err)
	}
	if key, err := base32.StdEncoding.DecodeString(string(seed)); err != nil || len(key) != virtualSeedBytes {
		t.Fatalf("seed file: %d bytes, %v", len(key), err)
	}
	serial := "arn:aws:iam::111111111111:mfa/alice-cli"
	now := time.Now()
	c1, err1 := totp.GenerateCode(string(seed), now)
	c2, err2 := totp.GenerateCode(string(seed), now.Add(30*time.Second))
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	r = runAWS(t, h, alice, "iam", "enable-mfa-device", "--user-name", "alice", "--serial-number", serial,
		"--authentication-code1", c1, "--authentication-code2", c2)
	if r.exit != 0 {
		t.Fatalf("enable: %+v", r)
	}
	r = runAWS(t, h, alice, "iam", "list-mfa-devices")
	if r.exit != 0 || !strings.Contains(r.stdout, serial) {
		t.Fatalf("list: %+v", r)
	}
	r = runAWS(t, h, alice, "iam", "delete-virtual-mfa-device", "--serial-number", serial)
	if r.exit == 0 || !strings.Contains(r.stderr, "DeleteConflict") {
		t.Fatalf("delete while enabled: %+v", r)
	}
	for _, args := range [][]string{
		{"iam", "deactivate-mfa-device", "--user-name", "alice", "--serial-number", serial},
		{"iam", "delete-virtual-mfa-device", "--serial-number", serial},
	} {
		if r := runAWS(t, h, alice, args...); r.exit != 0 {
			t.Fatalf("%v: %+v", args, r)
		}
	}
	r = runAWS(t, h, alice, "iam", "delete-virtual-mfa-device", "--serial-number", serial)
	if r.exit == 0 || !strings.Contains(r.stderr, "NoSuchEntity") {
		t.Fatalf("delete again: %+v", r)
	}
}
