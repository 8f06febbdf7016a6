package stsemu

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/aws-sdk-go-v2/service/sts/types"
	"github.com/aws/smithy-go"
	"github.com/pquerna/otp/totp"
)

const (
	aliceKey    = "AKIAALICE00000000001"
	aliceSecret = "alice-secret-access-key-0000000000000000"
	aliceSerial = "arn:aws:iam::111111111111:mfa/alice"
	aliceTOTP   = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
	bobKey      = "AKIABOB0000000000001"
	bobSecret   = "bob-secret-access-key-00000000000000000"
	bobSerial   = "GAHT12345678"
	bobTOTP     = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
	privRole    = "arn:aws:iam::222222222222:role/PrivilegedActionsRole"
)

// fakeClock is a settable clock for WithClock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) entries(t *testing.T) []LogEntry {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []LogEntry
	for _, line := range strings.Split(strings.TrimSpace(s.b.String()), "\n") {
		if line == "" {
			continue
		}
		var e LogEntry
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		out = append(out, e)
	}
	return out
}

type harness struct {
	srv   *Server
	url   string
	clock *fakeClock
	log   *syncBuffer
}

// start is a fixed logical time 5 s into a TOTP step.
var start = time.Date(2026, 11, 22, 7, 0, 5, 0, time.UTC)

func newHarness(t *testing.T, cfgFile string, opts ...Option) *harness {
	t.Helper()
	cfg, err := LoadConfig("testdata/" + cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{clock: &fakeClock{t: start}, log: &syncBuffer{}}
	opts = append([]Option{WithClock(h.clock.Now), WithLog(h.log)}, opts...)
	h.srv, err = New(cfg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(h.srv)
	t.Cleanup(ts.Close)
	h.url = ts.URL
	return h
}

func (h *harness) client(akid, secret, token string) *sts.Client {
	return sts.New(sts.Options{
		Region:           "us-east-1",
		BaseEndpoint:     aws.String(h.url),
		Credentials:      credentials.NewStaticCredentialsProvider(akid, secret, token),
		RetryMaxAttempts: 1,
	})
}

func (h *harness) alice() *sts.Client { return h.client(aliceKey, aliceSecret, "") }

// code is the TOTP code at the harness's logical time plus offset,
// computed by an independent implementation (pquerna/otp).
func (h *harness) code(t *testing.T, secret string, offset time.Duration) string {
	t.Helper()
	c, err := totp.GenerateCodeCustom(secret, h.clock.Now().Add(offset), totp.ValidateOpts{Period: 30, Digits: 6})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func fromSession(h *harness, c *types.Credentials) *sts.Client {
	return h.client(*c.AccessKeyId, *c.SecretAccessKey, *c.SessionToken)
}

// wantAPIError asserts err is an STS error with code, HTTP status and
// (if msg != "") exact message.
func wantAPIError(t *testing.T, err error, code string, status int, msg string) {
	t.Helper()
	if err == nil {
		t.Fatalf("want %s error, got success", code)
	}
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("want API error %s, got %v", code, err)
	}
	if ae.ErrorCode() != code {
		t.Errorf("error code = %q, want %q (message %q)", ae.ErrorCode(), code, ae.ErrorMessage())
	}
	if msg != "" && ae.ErrorMessage() != msg {
		t.Errorf("message = %q, want %q", ae.ErrorMessage(), msg)
	}
	var re *awshttp.ResponseError
	if !errors.As(err, &re) {
		t.Fatalf("no HTTP response error in %v", err)
	}
	if re.HTTPStatusCode() != status {
		t.Errorf("HTTP status = %d, want %d", re.HTTPStatusCode(), status)
	}
}

var ctx = context.Background()

func newTestServer(t *testing.T, s *Server) string {
	t.Helper()
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return ts.URL
}

// sessionCount is how many issued sessions the server still keeps.
func (h *harness) sessionCount() int {
	h.srv.mu.Lock()
	defer h.srv.mu.Unlock()
	return len(h.srv.sessions)
}
