package sts

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	awssts "github.com/aws/aws-sdk-go-v2/service/sts"
)

// TestEntryForAnotherTarget pins issue 13 case 4: r2's entry copied over
// r1's file is not served for r1 (a miss and a new AssumeRole of r1), and
// an entry that says nothing about its target is a miss too.
func TestEntryForAnotherTarget(t *testing.T) {
	h := newHarness(t)
	h.get("r1")
	c2 := h.get("r2")
	if n := h.counts().ar; n != 2 {
		t.Fatalf("AssumeRole calls %d, want 2", n)
	}
	k1, k2 := h.provider("r1").keys(), h.provider("r2").keys()
	b, err := os.ReadFile(h.provider("r2").cache.path(k2[len(k2)-1] + ".json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := h.provider("r1").cache.writeAtomic(k1[len(k1)-1]+".json", b); err != nil {
		t.Fatal(err)
	}
	c1 := h.get("r1")
	if c1.AccessKeyID == c2.AccessKeyID {
		t.Fatalf("r1 was served r2's credentials %s", c2.AccessKeyID)
	}
	if n := h.counts().ar; n != 3 {
		t.Fatalf("AssumeRole calls %d, want 3 (r1 fetched again)", n)
	}
	// An entry without its target (written before the check) is a miss.
	pr := h.provider("r1")
	keys := pr.keys()
	last := len(keys) - 1
	e := pr.cache.get(keys[last], pr.log)
	if e == nil || e.For == nil || e.For.RoleARN != "arn:aws:iam::210987654321:role/r1" {
		t.Fatalf("entry for r1: %+v", e)
	}
	e.For = nil
	pr.cache.put(keys[last], e)
	if pr.usable(last, pr.cache.get(keys[last], pr.log), h.clock.Now()) {
		t.Fatal("an entry without its target was usable")
	}
}

// expiringSTS answers AssumeRole with credentials that expired an hour ago.
type expiringSTS struct{ *fakeSTS }

func (f expiringSTS) AssumeRole(ctx context.Context, in *awssts.AssumeRoleInput, optFns ...func(*awssts.Options)) (*awssts.AssumeRoleOutput, error) {
	out, err := f.fakeSTS.AssumeRole(ctx, in, optFns...)
	if err == nil {
		past := f.clock.Now().Add(-time.Hour)
		out.Credentials.Expiration = &past
	}
	return out, err
}

// TestExpiredAnswerRefused pins issue 13 case 5: credentials that STS
// hands out already expired are refused and not cached.
func TestExpiredAnswerRefused(t *testing.T) {
	h := newHarness(t)
	pr, err := NewProvider(mustResolve(t, h.cfg, "r3"), h.tokens.Code, h.dir, WithClock(h.clock.Now),
		WithSleep(h.clock.Sleep), WithSTSClient(expiringSTS{h.sts}))
	if err != nil {
		t.Fatal(err)
	}
	_, err = pr.Credentials(context.Background())
	if !errors.Is(err, ErrExpiredAnswer) || !strings.Contains(err.Error(), "sts: AssumeRole arn:aws:iam::210987654321:role/r3: ") ||
		!strings.Contains(err.Error(), "1h0m0s before this computer's clock") {
		t.Fatalf("got %v, want ErrExpiredAnswer naming the call and the hour", err)
	}
	keys := pr.keys()
	if e := pr.cache.get(keys[len(keys)-1], pr.log); e != nil {
		t.Fatalf("the expired answer was cached: %+v", e)
	}
}

// realSDKProvider is a Provider of profile name that talks to url through the
// real SDK client (HTTP, SigV4, error parsing), with the harness's clock
// for TOTP steps.
func realSDKProvider(t *testing.T, h *harness, name, url string, opts ...Option) *Provider {
	t.Helper()
	p := mustResolve(t, h.cfg, name)
	p.Endpoint = url
	pr, err := NewProvider(p, h.tokens.Code, h.dir, append([]Option{WithClock(h.clock.Now), WithSleep(h.clock.Sleep),
		WithUI(UI{Notify: h.notify})}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return pr
}

// TestCallTimeout pins issue 13 case 7: a server that accepts and never
// answers ends the call after the time-out, and the error says which call.
// The code went out, so its step stays spent.
func TestCallTimeout(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body) // then the server notices the client leave
		<-r.Context().Done()
	}))
	defer srv.Close()
	defer srv.CloseClientConnections()
	h := newHarness(t)
	pr := realSDKProvider(t, h, "base", srv.URL, WithCallTimeout(100*time.Millisecond))
	begin := time.Now()
	_, err := pr.Credentials(context.Background())
	var ce *CallError
	if !errors.Is(err, ErrTimeout) || !errors.As(err, &ce) || ce.Action != ActionGetSessionToken ||
		!strings.Contains(err.Error(), "sts: GetSessionToken arn:aws:iam::123456789012:mfa/alice: no answer within 100ms") {
		t.Fatalf("got %v, want ErrTimeout naming GetSessionToken", err)
	}
	if took := time.Since(begin); took > 10*time.Second {
		t.Fatalf("took %s", took)
	}
	if ce.StepKept || pr.cache.lastStep(pr.profile.MFASerial) != h.clock.Now().Unix()/30 {
		t.Fatalf("the step of a code that was sent was given back")
	}
	if DefaultCallTimeout != 30*time.Second {
		t.Fatalf("DefaultCallTimeout %s", DefaultCallTimeout)
	}
}

// TestLockWaitNotice pins issue 13 case 7: a wait for another process's
// lock is shown on the terminal after LockNoticeDelay.
func TestLockWaitNotice(t *testing.T) {
	h := newHarness(t)
	notices := make(chan string, 4)
	pr, err := NewProvider(mustResolve(t, h.cfg, "r1"), h.tokens.Code, h.dir, WithClock(h.clock.Now),
		WithSleep(h.clock.Sleep), WithSTSClient(h.sts), WithUI(UI{Notify: func(m string) { notices <- m }}))
	if err != nil {
		t.Fatal(err)
	}
	unlock, err := pr.cache.lockSerial(context.Background(), pr.profile.MFASerial, nil)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { _, err := pr.Credentials(context.Background()); done <- err }()
	select {
	case m := <-notices:
		if m != "waiting for another mfabridge process using arn:aws:iam::123456789012:mfa/alice (it may be waiting for a touch or for STS)" {
			t.Fatalf("notice %q", m)
		}
	case err := <-done:
		t.Fatalf("Credentials returned while the lock was held: %v", err)
	}
	unlock()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestUnsentCodeKeepsStep pins issue 13 case 8: only a request that may
// have reached STS spends the TOTP step.
func TestUnsentCodeKeepsStep(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := "http://" + ln.Addr().String()
	ln.Close() // nothing listens there now: connection refused
	answers500 := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(500)
		w.Write([]byte(`<ErrorResponse><Error><Type>Receiver</Type><Code>InternalFailure</Code><Message>boom</Message></Error></ErrorResponse>`))
	}))
	defer answers500.Close()

	for _, tc := range []struct {
		name string
		url  string
		kept bool
	}{
		{"connection refused", refused, true},
		{"DNS failure", "http://sts.invalid", true},
		{"answered 500", answers500.URL, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			pr := realSDKProvider(t, h, "base", tc.url, WithCallTimeout(10*time.Second))
			pr.cache.recordStep(pr.profile.MFASerial, 7, h.clock.Now()) // an old step
			_, err := pr.Credentials(context.Background())
			var ce *CallError
			if !errors.As(err, &ce) {
				t.Fatalf("got %v, want a *CallError", err)
			}
			want := h.clock.Now().Unix() / 30
			if tc.kept {
				want = 7
			}
			if ce.StepKept != tc.kept || pr.cache.lastStep(pr.profile.MFASerial) != want {
				t.Fatalf("StepKept %v, ledger %d; want %v, %d (%v)", ce.StepKept, pr.cache.lastStep(pr.profile.MFASerial), tc.kept, want, err)
			}
			if tc.kept && strings.Contains(err.Error(), "may have been consumed") {
				t.Fatalf("a kept step is said to be consumed: %v", err)
			}
		})
	}
	// Without an HTTP trace (another API client), a failed dial still says
	// the request never left; any other transport error may have.
	for _, tc := range []struct {
		err  error
		kept bool
	}{
		{&net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}, true},
		{&net.DNSError{Err: "no such host", Name: "sts.invalid"}, true},
		{&net.OpError{Op: "read", Net: "tcp", Err: errors.New("connection reset by peer")}, false},
	} {
		h := newHarness(t)
		h.sts.failWith = tc.err
		pr := h.provider("base")
		_, err := pr.Credentials(context.Background())
		var ce *CallError
		if !errors.As(err, &ce) || ce.StepKept != tc.kept {
			t.Errorf("%v: got %v, want StepKept %v", tc.err, err, tc.kept)
		}
	}
}

// TestRejectedBeforeMFA pins issue 13 case 9: a region-scope or clock-skew
// refusal says what is wrong (not the key) and keeps the step.
func TestRejectedBeforeMFA(t *testing.T) {
	for _, tc := range []struct {
		msg, want, text string
	}{
		{"Credential should be scoped to a valid region, not 'eu-west-1'. ", "region", `signed for region "eu-west-1"`},
		{"Signature expired: 20261122T064000Z is now earlier than 20261122T065500Z (20261122T070000Z - 5 min.)", "skew", "clock differs from STS's"},
		{"The request signature we calculated does not match the signature you provided.", "key", "secret is wrong"},
	} {
		h := newHarness(t)
		h.cfg = mustConfig(t, testConfig, testCredentials, nil)
		h.sts.failWith = apiErr("SignatureDoesNotMatch", tc.msg)
		pr := h.provider("base")
		pr.profile.Region = "eu-west-1"
		_, err := pr.Credentials(context.Background())
		want := map[string]error{"region": ErrRegionScope, "skew": ErrClockSkew, "key": ErrInvalidCredentials}[tc.want]
		var ce *CallError
		if !errors.Is(err, want) || !errors.As(err, &ce) || !ce.StepKept || !strings.Contains(err.Error(), tc.text) {
			t.Errorf("%s: got %v, want %v mentioning %q with the step kept", tc.want, err, want, tc.text)
		}
		if tc.want != "key" && strings.Contains(err.Error(), "access key") {
			t.Errorf("%s: blamed on the access key: %v", tc.want, err)
		}
		if pr.cache.lastStep(pr.profile.MFASerial) != -1 {
			t.Errorf("%s: the step was spent", tc.want)
		}
	}
}
