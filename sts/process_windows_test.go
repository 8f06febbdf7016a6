//go:build windows

package sts

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mfabridge/mfabridge/internal/testtemp"
)

// TestRunCredentialProcessQuotedPath: a credential_process line whose
// program sits under a path with spaces, quoted as a Windows user writes
// it, reaches cmd.exe as written.
func TestRunCredentialProcessQuotedPath(t *testing.T) {
	dir := filepath.Join(testtemp.Dir(t), "Program Files")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(dir, "creds.cmd")
	if err := os.WriteFile(script, []byte("@echo {\"Version\":1,\"AccessKeyId\":\"%1\",\"SecretAccessKey\":\"s\"}\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := runCredentialProcess(context.Background(), processRun{command: `"` + script + `" AKIAQUOTED`})
	if err != nil {
		t.Fatal(err)
	}
	c, err := ParseProcessOutput(out)
	if err != nil || c.AccessKeyID != "AKIAQUOTED" {
		t.Fatalf("got %+v, %v from %q", c, err, strings.TrimSpace(string(out)))
	}
}

// TestRunCredentialProcessJobObject is issue 13 case 11 on Windows: the
// process (cmd.exe) starts a child that holds its stdout; at the limit the
// job object takes both, so the run ends at the limit, not when the child
// does (or when the pipes are cut off a grace period later). Under Wine
// 8.0: 2 s with the job object, 62 s without.
func TestRunCredentialProcessJobObject(t *testing.T) {
	if os.Getenv("MFABRIDGE_TEST_HOLD_OUTPUT") == "1" {
		t.Skip("helper process")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = runCredentialProcess(context.Background(), processRun{
		command: `"` + exe + `" -test.run=TestHelperHoldOutput`,
		env:     append(os.Environ(), "MFABRIDGE_TEST_HOLD_OUTPUT=1"),
		limit:   2 * time.Second, grace: time.Minute})
	if !errors.Is(err, ErrProcessTimeout) {
		t.Fatalf("err = %v, want ErrProcessTimeout", err)
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("returned after %s; the limit was 2s", d)
	}
}

// TestHelperHoldOutput is the child of TestRunCredentialProcessJobObject:
// it holds the inherited stdout for two minutes.
func TestHelperHoldOutput(t *testing.T) {
	if os.Getenv("MFABRIDGE_TEST_HOLD_OUTPUT") != "1" {
		t.Skip("run by TestRunCredentialProcessJobObject")
	}
	time.Sleep(2 * time.Minute)
}
