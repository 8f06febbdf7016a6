package sts

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// cannedSTS answers like real STS with fixed bodies, recording requests.
type cannedSTS struct {
	status int
	body   string
	date   time.Time // Date header; zero: now
	hits   atomic.Int32
	mu     sync.Mutex
	forms  []url.Values
}

func (c *cannedSTS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.hits.Add(1)
	b, _ := io.ReadAll(r.Body)
	f, _ := url.ParseQuery(string(b))
	c.mu.Lock()
	c.forms = append(c.forms, f)
	c.mu.Unlock()
	d := c.date
	if d.IsZero() {
		d = time.Now()
	}
	w.Header().Set("Date", d.UTC().Format(http.TimeFormat))
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(c.status)
	io.WriteString(w, c.body)
}

func gstResponse(exp time.Time) string {
	return fmt.Sprintf(`<GetSessionTokenResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <GetSessionTokenResult><Credentials>
    <AccessKeyId>ASIASDKTEST000000001</AccessKeyId><SecretAccessKey>sk</SecretAccessKey>
    <SessionToken>tok</SessionToken><Expiration>%s</Expiration>
  </Credentials></GetSessionTokenResult>
  <ResponseMetadata><RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId></ResponseMetadata>
</GetSessionTokenResponse>`, exp.UTC().Format(time.RFC3339))
}

func stsError(code, msg string) string {
	return fmt.Sprintf(`<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <Error><Type>Sender</Type><Code>%s</Code><Message>%s</Message></Error>
  <RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId>
</ErrorResponse>`, code, msg)
}

// sdkProvider builds a Provider on the real SDK client aimed at srv.
func sdkProvider(t *testing.T, srv *httptest.Server, profile string, notify func(string)) *Provider {
	t.Helper()
	cfg := mustConfig(t, testConfig, testCredentials, map[string]string{"AWS_ENDPOINT_URL_STS": srv.URL})
	p := mustResolve(t, cfg, profile)
	pr, err := NewProvider(p, (&fakeTokens{}).Code, testCacheDir(t),
		WithHTTPClient(srv.Client()), WithUI(UI{Notify: notify}))
	if err != nil {
		t.Fatal(err)
	}
	return pr
}

func TestSDKRequestAndSkew(t *testing.T) {
	for _, tt := range []struct {
		name   string
		offset time.Duration
		warn   string
	}{
		{"in sync", 2 * time.Second, ""},
		{"server ahead", 2 * time.Minute, "behind"},
		{"server behind", -45 * time.Second, "ahead of"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			canned := &cannedSTS{status: 200, body: gstResponse(time.Now().Add(12 * time.Hour)), date: time.Now().Add(tt.offset)}
			srv := httptest.NewServer(canned)
			defer srv.Close()
			var notices []string
			pr := sdkProvider(t, srv, "base", func(m string) { notices = append(notices, m) })
			c, err := pr.Retrieve(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if c.AccessKeyID != "ASIASDKTEST000000001" || !c.CanExpire {
				t.Fatalf("got %+v", c)
			}
			f := canned.forms[0]
			if f.Get("Action") != "GetSessionToken" || f.Get("SerialNumber") != "arn:aws:iam::123456789012:mfa/alice" ||
				len(f.Get("TokenCode")) != 6 || f.Get("DurationSeconds") != "43200" {
				t.Errorf("request form %v", f)
			}
			warned := 0
			for _, n := range notices {
				if strings.Contains(n, "clock") {
					warned++
					if tt.warn == "" || !strings.Contains(n, tt.warn) {
						t.Errorf("notice %q, want %q", n, tt.warn)
					}
				}
			}
			if (tt.warn != "") != (warned == 1) {
				t.Errorf("notices %q", notices)
			}
		})
	}
}

func TestSDKErrorsAndNoRetry(t *testing.T) {
	tests := []struct {
		status    int
		code, msg string
		want      error
		hits      int32
	}{
		{403, "AccessDenied", "MultiFactorAuthentication failed with invalid MFA one time pass code. ", ErrInvalidCode, 1},
		{403, "ExpiredToken", "The security token included in the request is expired", ErrExpiredCredentials, 1},
		{403, "InvalidClientTokenId", "The security token included in the request is invalid.", ErrInvalidCredentials, 1},
		{400, "Throttling", "Rate exceeded", ErrThrottled, 1}, // not retried: it carries a code
		{500, "InternalFailure", "oops", ErrServerError, 1},
		{503, "SlowDown", "later", ErrServerError, 1}, // a 5xx with a code classify does not know
		{403, "RegionDisabledException", "STS is not activated in this region for account:123456789012.", ErrRegionDisabled, 1},
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			canned := &cannedSTS{status: tt.status, body: stsError(tt.code, tt.msg)}
			srv := httptest.NewServer(canned)
			defer srv.Close()
			_, err := sdkProvider(t, srv, "base", nil).Retrieve(context.Background())
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
			if got := canned.hits.Load(); got != tt.hits {
				t.Fatalf("%d requests, want %d (a retry would resend the code)", got, tt.hits)
			}
		})
	}
}
