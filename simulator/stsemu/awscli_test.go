package stsemu

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

const awsCLI = "/usr/bin/aws" // AWS CLI v2; an `aws` earlier in PATH may be v1

type cliResult struct {
	exit           int
	stdout, stderr string
}

func runAWS(t *testing.T, h *harness, env []string, args ...string) cliResult {
	t.Helper()
	args = append(args, "--endpoint-url", h.url, "--region", "us-east-1", "--output", "json")
	cmd := exec.Command(awsCLI, args...)
	home := t.TempDir()
	cmd.Env = append([]string{
		"HOME=" + home,
		"PATH=/usr/bin:/bin",
		"AWS_CONFIG_FILE=/dev/null",
		"AWS_SHARED_CREDENTIALS_FILE=/dev/null",
		"AWS_PAGER=",
		"AWS_MAX_ATTEMPTS=1",
	}, env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	res := cliResult{stdout: out.String(), stderr: errb.String()}
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("run aws: %v", err)
		}
		res.exit = ee.ExitCode()
	}
	return res
}

type cliCreds struct {
	Credentials struct {
		AccessKeyID     string `json:"AccessKeyId"`
		SecretAccessKey string
		SessionToken    string
		Expiration      string
	}
}

func (c cliCreds) env() []string {
	return []string{"AWS_ACCESS_KEY_ID=" + c.Credentials.AccessKeyID, "AWS_SECRET_ACCESS_KEY=" + c.Credentials.SecretAccessKey, "AWS_SESSION_TOKEN=" + c.Credentials.SessionToken}
}

func TestAWSCLIv2(t *testing.T) {
	if _, err := os.Stat(awsCLI); err != nil {
		t.Skipf("AWS CLI v2 not installed at %s: %v", awsCLI, err)
	}
	if testing.Short() {
		t.Skip("skipping AWS CLI runs in -short mode")
	}
	h := newHarness(t, "example.json")
	alice := []string{"AWS_ACCESS_KEY_ID=" + aliceKey, "AWS_SECRET_ACCESS_KEY=" + aliceSecret}
	code := h.code(t, aliceTOTP, 0)

	r := runAWS(t, h, alice, "sts", "get-session-token", "--serial-number", aliceSerial, "--token-code", code)
	if r.exit != 0 {
		t.Fatalf("get-session-token: exit %d: %s", r.exit, r.stderr)
	}
	var sess cliCreds
	if err := json.Unmarshal([]byte(r.stdout), &sess); err != nil {
		t.Fatalf("get-session-token output %q: %v", r.stdout, err)
	}
	if !strings.HasPrefix(sess.Credentials.AccessKeyID, "ASIA") || sess.Credentials.SessionToken == "" {
		t.Errorf("credentials = %+v", sess.Credentials)
	}
	if _, err := time.Parse(time.RFC3339, sess.Credentials.Expiration); err != nil {
		t.Errorf("Expiration %q: %v", sess.Credentials.Expiration, err)
	}

	tests := []struct {
		name    string
		env     []string
		args    []string
		wantErr string // "" = success
	}{
		{"same code again", alice, []string{"sts", "get-session-token", "--serial-number", aliceSerial, "--token-code", code}, "AccessDenied"},
		{"wrong code", alice, []string{"sts", "get-session-token", "--serial-number", aliceSerial, "--token-code", "000000"}, "AccessDenied"},
		{"assume MFA role without MFA", alice, []string{"sts", "assume-role", "--role-arn", privRole, "--role-session-name", "cli"}, "AccessDenied"},
		{"assume with MFA session", sess.env(), []string{"sts", "assume-role", "--role-arn", privRole, "--role-session-name", "cli"}, ""},
		{"chained 7200", sess.env(), []string{"sts", "assume-role", "--role-arn", privRole, "--role-session-name", "cli", "--duration-seconds", "7200"}, "ValidationError"},
		{"caller identity of session", sess.env(), []string{"sts", "get-caller-identity"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runAWS(t, h, tt.env, tt.args...)
			if tt.wantErr == "" {
				if r.exit != 0 {
					t.Fatalf("exit %d: %s", r.exit, r.stderr)
				}
				if !json.Valid([]byte(r.stdout)) {
					t.Errorf("stdout is not JSON: %q", r.stdout)
				}
				return
			}
			if r.exit == 0 {
				t.Fatalf("exit 0, want failure with %s; stdout %s", tt.wantErr, r.stdout)
			}
			if !strings.Contains(r.stderr, tt.wantErr) {
				t.Errorf("stderr %q does not mention %s", r.stderr, tt.wantErr)
			}
		})
	}
	if !strings.Contains(runAWS(t, h, alice, "sts", "get-session-token", "--serial-number", aliceSerial, "--token-code", "000000").stderr,
		strings.TrimSpace(msgWrongCode)) {
		t.Error("wrong-code message not shown by the CLI")
	}
	chained := runAWS(t, h, sess.env(), "sts", "assume-role", "--role-arn", privRole, "--role-session-name", "cli", "--duration-seconds", "7200")
	if !strings.Contains(chained.stderr, msgChainCap) {
		t.Errorf("chained stderr %q lacks %q", chained.stderr, msgChainCap)
	}
}
