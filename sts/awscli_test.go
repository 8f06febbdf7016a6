package sts

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"
)

const awsCLIv2 = "/usr/bin/aws" // an `aws` earlier in PATH may be CLI v1

// runCLI runs the AWS CLI v2 as alice against the emulator.
func (e *emu) runCLI(t *testing.T, args ...string) (stdout, stderr string, exit int) {
	t.Helper()
	args = append(args, "--endpoint-url", e.url, "--region", "us-east-1", "--output", "json")
	cmd := exec.Command(awsCLIv2, args...)
	cmd.Env = []string{"HOME=" + t.TempDir(), "PATH=/usr/bin:/bin", "AWS_CONFIG_FILE=/dev/null",
		"AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_PAGER=", "AWS_MAX_ATTEMPTS=1",
		"AWS_ACCESS_KEY_ID=AKIAALICE00000000001", "AWS_SECRET_ACCESS_KEY=alice-secret-access-key-0000000000000000"}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		exit = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run aws: %v", err)
	}
	return out.String(), errb.String(), exit
}

// TestEmuAWSCLIAgrees: the AWS CLI v2 and our client, given the same
// inputs, get the same answers and the same STS errors from the emulator.
func TestEmuAWSCLIAgrees(t *testing.T) {
	if _, err := os.Stat(awsCLIv2); err != nil {
		t.Skipf("AWS CLI v2 not at %s", awsCLIv2)
	}
	if testing.Short() {
		t.Skip("runs the AWS CLI")
	}
	e := newEmu(t)
	code := func(secret string) string {
		c, err := totp.GenerateCodeCustom(secret, e.clock.Now(), totp.ValidateOpts{})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}

	t.Run("session", func(t *testing.T) {
		ours := e.get("alice")
		ourLeft := ours.Expiration.Sub(e.clock.Now())
		e.clock.Advance(30 * time.Second) // a step the CLI has not used
		out, stderr, exit := e.runCLI(t, "sts", "get-session-token", "--serial-number", emuSerial,
			"--token-code", code(emuSecret), "--duration-seconds", "43200")
		if exit != 0 {
			t.Fatalf("aws: exit %d: %s", exit, stderr)
		}
		var res struct {
			Credentials struct{ AccessKeyId, Expiration string }
		}
		if err := json.Unmarshal([]byte(out), &res); err != nil {
			t.Fatal(err)
		}
		exp, err := time.Parse(time.RFC3339, res.Credentials.Expiration)
		if err != nil {
			t.Fatal(err)
		}
		if cliLeft := exp.Sub(e.clock.Now()); cliLeft != ourLeft || !strings.HasPrefix(res.Credentials.AccessKeyId, "ASIA") {
			t.Fatalf("aws: %s left (%s), ours %s", cliLeft, res.Credentials.AccessKeyId, ourLeft)
		}
	})

	errCases := []struct {
		name    string
		profile string
		secret  string
		cli     []string
		want    error
	}{
		{"serial not associated", "wrongserial", emuSecret, []string{"sts", "assume-role", "--role-arn", "arn:aws:iam::222222222222:role/Long",
			"--role-session-name", "x1", "--duration-seconds", "7200", "--serial-number", "arn:aws:iam::111111111111:mfa/mallory"}, ErrSerialNotAssociated},
		{"wrong code", "long", "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ", []string{"sts", "assume-role", "--role-arn", "arn:aws:iam::222222222222:role/Long",
			"--role-session-name", "x2", "--duration-seconds", "14400", "--serial-number", emuSerial}, ErrInvalidCode},
	}
	for _, tt := range errCases {
		t.Run(tt.name, func(t *testing.T) {
			e.clock.Advance(30 * time.Second)
			e.tokens.secret = tt.secret
			defer func() { e.tokens.secret = emuSecret }()
			_, err := e.provider(tt.profile).Credentials(context.Background())
			var ce *CallError
			if !errors.As(err, &ce) || !errors.Is(err, tt.want) {
				t.Fatalf("ours: got %v, want %v", err, tt.want)
			}
			e.clock.Advance(30 * time.Second)
			_, stderr, exit := e.runCLI(t, append(tt.cli, "--token-code", code(tt.secret))...)
			if exit == 0 {
				t.Fatal("aws: succeeded")
			}
			if !strings.Contains(stderr, "("+ce.Code+")") || !strings.Contains(stderr, ce.Message) {
				t.Fatalf("aws said %q; ours %s: %q", stderr, ce.Code, ce.Message)
			}
		})
	}
}
