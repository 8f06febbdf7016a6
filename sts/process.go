package sts

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"
)

// processOutput is the credential_process JSON contract (notes §3.1).
type processOutput struct {
	Version         int        `json:"Version"`
	AccessKeyID     string     `json:"AccessKeyId"`
	SecretAccessKey string     `json:"SecretAccessKey"`
	SessionToken    string     `json:"SessionToken,omitempty"`
	Expiration      *time.Time `json:"Expiration,omitempty"`
}

// ProcessOutput renders credentials in the credential_process format, with
// Expiration as RFC 3339 UTC ("Z"), the one form every SDK accepts.
func (c Credentials) ProcessOutput() ([]byte, error) {
	out := struct {
		Version         int    `json:"Version"`
		AccessKeyID     string `json:"AccessKeyId"`
		SecretAccessKey string `json:"SecretAccessKey"`
		SessionToken    string `json:"SessionToken,omitempty"`
		Expiration      string `json:"Expiration,omitempty"`
	}{1, c.AccessKeyID, c.SecretAccessKey, c.SessionToken, ""}
	if !c.Expiration.IsZero() {
		out.Expiration = c.Expiration.UTC().Format(time.RFC3339)
	}
	b, err := json.Marshal(out)
	if err != nil {
		return nil, fmt.Errorf("encode credentials: %w", err)
	}
	return b, nil
}

// ParseProcessOutput parses a credential_process answer.
func ParseProcessOutput(b []byte) (*Credentials, error) {
	var o processOutput
	if err := json.Unmarshal(bytes.TrimSpace(b), &o); err != nil {
		return nil, fmt.Errorf("parse credential_process output: %w", err)
	}
	if o.Version != 1 {
		return nil, fmt.Errorf("parse credential_process output: Version %d, want 1", o.Version)
	}
	if o.AccessKeyID == "" || o.SecretAccessKey == "" {
		return nil, errors.New("parse credential_process output: AccessKeyId or SecretAccessKey missing")
	}
	c := &Credentials{AccessKeyID: o.AccessKeyID, SecretAccessKey: o.SecretAccessKey, SessionToken: o.SessionToken}
	if o.Expiration != nil {
		c.Expiration = o.Expiration.UTC()
	}
	return c, nil
}

// runCredentialProcess runs command through the system shell (sh -c; on
// Windows cmd.exe /c, see shellCommand), as the AWS SDKs do, with a
// one-minute limit. Its stderr goes into the error on failure (the
// process is expected to keep secrets off stderr).
func runCredentialProcess(ctx context.Context, command string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	cmd := shellCommand(ctx, command)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if len(msg) > 500 {
			msg = msg[:500] + "…"
		}
		if msg != "" {
			return nil, fmt.Errorf("%w: %s", err, msg)
		}
		return nil, err
	}
	return stdout.Bytes(), nil
}

// skewClient wraps the SDK's HTTP client to compare STS's Date header with
// our clock: TOTP codes depend on the clock, so a skew over 30 s (one step)
// makes codes fail as "invalid".
type skewClient struct {
	inner HTTPClient
	now   func() time.Time
	ui    UI
	once  sync.Once
}

// maxSkew is the clock difference that gets a warning.
const maxSkew = 30 * time.Second

func (s *skewClient) Do(r *http.Request) (*http.Response, error) {
	resp, err := s.inner.Do(r)
	if err != nil || resp == nil {
		return resp, err
	}
	if d := resp.Header.Get("Date"); d != "" {
		if t, perr := http.ParseTime(d); perr == nil {
			skew := s.now().Truncate(time.Second).Sub(t)
			if skew > maxSkew || skew < -maxSkew {
				s.once.Do(func() {
					dir := "ahead of"
					if skew < 0 {
						dir, skew = "behind", -skew
					}
					s.ui.notify("this computer's clock is %s %s STS's: TOTP codes may be rejected; synchronise the clock (NTP)", skew, dir)
				})
			}
		}
	}
	return resp, nil
}
