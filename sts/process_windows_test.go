//go:build windows

package sts

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

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
	out, err := runCredentialProcess(context.Background(), `"`+script+`" AKIAQUOTED`)
	if err != nil {
		t.Fatal(err)
	}
	c, err := ParseProcessOutput(out)
	if err != nil || c.AccessKeyID != "AKIAQUOTED" {
		t.Fatalf("got %+v, %v from %q", c, err, strings.TrimSpace(string(out)))
	}
}
