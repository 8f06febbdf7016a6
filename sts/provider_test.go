package sts

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mfabridge/mfabridge/sts/awsconfig"
)

func TestProviderSharedSession(t *testing.T) {
	h := newHarness(t)
	// Four 1-hour roles: one code, one GetSessionToken, four AssumeRole.
	for _, n := range []string{"r1", "r2", "r3", "r4"} {
		c := h.get(n)
		if !strings.HasPrefix(c.AccessKeyID, "ASIAROLE") {
			t.Fatalf("%s: got key %s, want a role key", n, c.AccessKeyID)
		}
	}
	if got, want := h.counts(), (counts{codes: 1, gst: 1, ar: 4}); got != want {
		t.Fatalf("cold: got %+v, want %+v", got, want)
	}
	// Warm: nothing happens.
	h.get("r1")
	if got, want := h.counts(), (counts{codes: 1, gst: 1, ar: 4}); got != want {
		t.Fatalf("warm: got %+v, want %+v", got, want)
	}
	// 50 minutes later r1 (1 h) has 10 min left: refresh via the session, no touch.
	h.clock.Advance(50 * time.Minute)
	c := h.get("r1")
	if left := c.Expiration.Sub(h.clock.Now()); left < 59*time.Minute {
		t.Errorf("refreshed r1 has %s left", left)
	}
	if got, want := h.counts(), (counts{codes: 1, gst: 1, ar: 5}); got != want {
		t.Fatalf("hourly refresh: got %+v, want %+v", got, want)
	}
	// r2 (30 min) refreshed too: 1800 s role is already under 15 min.
	h.get("r2")
	if got := h.counts().ar; got != 6 {
		t.Fatalf("r2 refresh: %d AssumeRole, want 6", got)
	}
	// After 12 h the session has ended: one new code.
	h.clock.Advance(12 * time.Hour)
	h.get("r3")
	if got, want := h.counts(), (counts{codes: 2, gst: 2, ar: 7}); got != want {
		t.Fatalf("after session end: got %+v, want %+v", got, want)
	}
}

func TestProviderSessionProfile(t *testing.T) {
	h := newHarness(t)
	c := h.get("base")
	if !strings.HasPrefix(c.AccessKeyID, "ASIASESS") {
		t.Fatalf("got %s, want session credentials", c.AccessKeyID)
	}
	if want := h.clock.Now().Add(12 * time.Hour); !c.Expiration.Equal(want) {
		t.Errorf("expiration %s, want %s", c.Expiration, want)
	}
	// The role profiles share that very session.
	h.get("r1")
	if got, want := h.counts(), (counts{codes: 1, gst: 1, ar: 1}); got != want {
		t.Fatalf("got %+v, want %+v", got, want)
	}
}

func TestProviderLongRoleDirectMFA(t *testing.T) {
	h := newHarness(t)
	c := h.get("long")
	if want := h.clock.Now().Add(2 * time.Hour); !c.Expiration.Equal(want) {
		t.Errorf("expiration %s, want %s", c.Expiration, want)
	}
	if got, want := h.counts(), (counts{codes: 1, ar: 1, arMFA: 1}); got != want {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	// A second long role in the same TOTP step must wait for the next step.
	before := h.clock.Now()
	h.get("long2")
	if got, want := h.counts(), (counts{codes: 2, ar: 2, arMFA: 2}); got != want {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	if h.clock.Now().Unix()/30 == before.Unix()/30 {
		t.Errorf("second code sent in the same step %d", before.Unix()/30)
	}
	if h.noticesWith("waiting") != 1 || h.noticesWith("already sent") != 1 {
		t.Errorf("notices %q: want one wait notice", h.notices)
	}
}

func TestProviderWaitsNearStepEnd(t *testing.T) {
	h := newHarness(t)
	h.clock = newFakeClock(time.Date(2026, 11, 22, 7, 0, 28, 500e6, time.UTC)) // 1.5 s left
	h.sts.clock = h.clock
	h.get("base")
	if got := h.clock.Now(); got.Before(time.Date(2026, 11, 22, 7, 0, 30, 0, time.UTC)) {
		t.Errorf("did not wait for the next step: now %s", got)
	}
	if h.noticesWith("expires in under 3s") != 1 {
		t.Errorf("notices %q", h.notices)
	}
}

func TestProviderMFAMaxAge(t *testing.T) {
	h := newHarness(t)
	h.get("aged")
	if got, want := h.counts(), (counts{codes: 1, gst: 1, ar: 1}); got != want {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	// 50 min later the role needs a refresh; the session's MFA is 50 min
	// old, over the 30 min limit: a fresh code.
	h.clock.Advance(50 * time.Minute)
	h.get("aged")
	if got, want := h.counts(), (counts{codes: 2, gst: 2, ar: 2}); got != want {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	// Profiles without max age keep using the (now fresh) session.
	h.get("r1")
	if got := h.counts().codes; got != 2 {
		t.Fatalf("codes %d, want 2", got)
	}
}

func TestProviderConcurrentFake(t *testing.T) {
	h := newHarness(t)
	names := []string{"r1", "r2", "r3", "r4"}
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for i := range 32 {
		pr := h.provider(names[i%4]) // each goroutine its own Provider (own lock fd)
		wg.Go(func() {
			if _, err := pr.Credentials(context.Background()); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got, want := h.counts(), (counts{codes: 1, gst: 1, ar: 4}); got != want {
		t.Fatalf("got %+v, want %+v", got, want)
	}
}

func TestProviderErrors(t *testing.T) {
	tests := []struct {
		name    string
		profile string
		fail    error
		want    error
		text    string
	}{
		{"wrong code", "base", apiErr("AccessDenied", "MultiFactorAuthentication failed with invalid MFA one time pass code. "),
			ErrInvalidCode, "already used by another program"},
		{"serial", "r1", apiErr("AccessDenied", "MultiFactorAuthentication failed, unable to validate MFA code.  Please verify your MFA serial number is valid and associated with this user."),
			ErrSerialNotAssociated, "mfa_serial"},
		{"expired", "long", apiErr("ExpiredToken", "The security token included in the request is expired"),
			ErrExpiredCredentials, "renew"},
		{"trust", "long", apiErr("AccessDenied", "User: arn:aws:iam::1:user/x is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::2:role/y"),
			ErrNotAuthorized, "trust policy"},
		{"chain", "long", apiErr("ValidationError", "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining."),
			ErrChainingLimit, "3600 or less"},
		{"transport", "base", errors.New("dial tcp 127.0.0.1:1: connection refused"), ErrTransport, "fresh one"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.sts.failWith = tt.fail
			_, err := h.provider(tt.profile).Credentials(context.Background())
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
			var ce *CallError
			if !errors.As(err, &ce) || !strings.Contains(err.Error()+": "+ce.Hint(), tt.text) {
				t.Fatalf("error %q: want a *CallError mentioning %q", err, tt.text)
			}
			// The code never leaks into the message.
			code, _ := (&fakeTokens{}).Code(context.Background(), h.clock.Now())
			if strings.Contains(err.Error(), code) {
				t.Fatalf("error contains the code: %q", err)
			}
			// A retry after failure uses a fresh step (the code is spent),
			// unless STS refused the request before checking MFA (issue 13
			// case 9): then the step was given back.
			kept := rejectedBeforeMFA(ce.Code)
			if ce.StepKept != kept {
				t.Fatalf("StepKept = %v, want %v", ce.StepKept, kept)
			}
			before := h.clock.Now().Unix() / 30
			if _, err := h.provider(tt.profile).Credentials(context.Background()); err != nil {
				t.Fatalf("retry: %v", err)
			}
			if fresh := h.clock.Now().Unix()/30 != before; fresh == kept {
				t.Errorf("retry waited for a fresh step: %v, want %v", fresh, !kept)
			}
		})
	}
}

func TestProviderCredentialProcessSource(t *testing.T) {
	h := newHarness(t)
	cfg := mustConfig(t, `
[profile proc]
credential_process = /opt/bin/get-keys --user alice
mfa_serial = arn:aws:iam::123456789012:mfa/alice
[profile self]
credential_process = mfabridge credential-process --profile self
mfa_serial = arn:aws:iam::123456789012:mfa/alice
`, "", nil)
	if _, err := cfg.Resolve("self"); !errors.Is(err, awsconfig.ErrRecursion) {
		t.Fatalf("self: got %v, want ErrRecursion", err)
	}
	ran := 0
	p := mustResolve(t, cfg, "proc")
	pr, err := NewProvider(p, h.tokens.Code, h.dir, WithClock(h.clock.Now), WithSleep(h.clock.Sleep), WithSTSClient(h.sts),
		WithCredentialProcessRunner(func(ctx context.Context, cmd string) ([]byte, error) {
			ran++
			if cmd != "/opt/bin/get-keys --user alice" {
				t.Errorf("ran %q", cmd)
			}
			return []byte(`{"Version":1,"AccessKeyId":"AKIAPROCESS000000001","SecretAccessKey":"s"}`), nil
		}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pr.Credentials(context.Background()); err != nil {
		t.Fatal(err)
	}
	if ran != 1 || h.sts.callers[0] != "AKIAPROCESS000000001" {
		t.Fatalf("ran %d, callers %v", ran, h.sts.callers)
	}
	// Cached: the process is not run again.
	if _, err := pr.Credentials(context.Background()); err != nil || ran != 1 {
		t.Fatalf("second call: ran %d, err %v", ran, err)
	}
}

func TestProviderCancelledWait(t *testing.T) {
	h := newHarness(t)
	h.get("long")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	p := mustResolve(t, h.cfg, "long2")
	pr, err := NewProvider(p, h.tokens.Code, h.dir, WithClock(h.clock.Now), WithSTSClient(h.sts)) // real sleep
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pr.Credentials(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
}

func TestProviderDescribe(t *testing.T) {
	h := newHarness(t)
	pr := h.provider("r1")
	if n := pr.NextTouches(); n != 1 {
		t.Fatalf("cold: %d touches, want 1", n)
	}
	h.get("r3") // makes the shared session
	d := pr.Describe()
	if pr.NextTouches() != 0 || !strings.Contains(d, "cached: step 1 usable until 2026-11-22T18:59:10Z") ||
		!strings.Contains(d, "touches for the next request: 0") {
		t.Fatalf("after session:\n%s", d)
	}
	if h.counts().codes != 1 {
		t.Fatal("Describe computed a code")
	}
	h.clock.Advance(12 * time.Hour)
	if n := pr.NextTouches(); n != 1 {
		t.Fatalf("after 12 h: %d touches, want 1", n)
	}
}

func TestProviderLedgerAhead(t *testing.T) {
	h := newHarness(t)
	pr := h.provider("base")
	// A ledger 10 minutes in the future (the clock moved back): no endless
	// wait; the code is sent with a notice.
	pr.cache.recordStep(pr.profile.MFASerial, h.clock.Now().Add(10*time.Minute).Unix()/30, h.clock.Now())
	start := h.clock.Now()
	if _, err := pr.Credentials(context.Background()); err != nil {
		t.Fatal(err)
	}
	if h.clock.Now() != start || h.noticesWith("ahead of the clock") != 1 {
		t.Fatalf("waited %s, notices %q", h.clock.Now().Sub(start), h.notices)
	}
	if got := pr.cache.lastStep(pr.profile.MFASerial); got != start.Unix()/30 {
		t.Fatalf("ledger step %d, want %d", got, start.Unix()/30)
	}
}
