package sts

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/mfabridge/mfabridge/sts/awsconfig"
)

// A source key kept in a store (mfabridge_keys) is fetched through
// WithSourceKeys only when a call needs it: once per MFA session, not for a
// cached answer and not per role.
func TestProviderSourceKeysOncePerSession(t *testing.T) {
	h := newHarness(t)
	h.cfg = mustConfig(t, strings.Replace(testConfig, "[profile base]\n", "[profile base]\nmfabridge_keys = age\n", 1), "", nil)
	var fetched atomic.Int32
	var gotSrc awsconfig.Source
	keys := func(_ context.Context, src awsconfig.Source) (aws.Credentials, error) {
		fetched.Add(1)
		gotSrc = src
		return aws.Credentials{AccessKeyID: "AKIASTOREDKEY0000001", SecretAccessKey: "stored-secret"}, nil
	}
	get := func(name string) *Credentials {
		t.Helper()
		p := mustResolve(t, h.cfg, name)
		pr, err := NewProvider(p, h.tokens.Code, h.dir, WithClock(h.clock.Now), WithSleep(h.clock.Sleep),
			WithSTSClient(h.sts), WithSourceKeys(keys))
		if err != nil {
			t.Fatal(err)
		}
		c, err := pr.Credentials(context.Background())
		if err != nil {
			t.Fatalf("credentials for %s: %v", name, err)
		}
		return c
	}
	for _, n := range []string{"r1", "r2", "r3", "r4"} {
		get(n)
	}
	if got := fetched.Load(); got != 1 {
		t.Fatalf("4 roles, one MFA session: source key fetched %d times, want 1", got)
	}
	if gotSrc.Profile != "base" || gotSrc.KeyStore != "age" {
		t.Errorf("source passed: %+v", gotSrc)
	}
	if got, want := h.counts(), (counts{codes: 1, gst: 1, ar: 4}); got != want {
		t.Fatalf("got %+v, want %+v (the stored key is long-term: GetSessionToken first)", got, want)
	}
	h.sts.mu.Lock()
	first := h.sts.callers[0]
	h.sts.mu.Unlock()
	if first != "AKIASTOREDKEY0000001" {
		t.Fatalf("GetSessionToken signed with %q, want the stored key", first)
	}
	get("r1") // cached
	h.clock.Advance(50 * time.Minute)
	get("r1") // refreshed through the cached session
	if got := fetched.Load(); got != 1 {
		t.Fatalf("cached and refreshed calls fetched the source key: %d fetches, want 1", got)
	}
	h.clock.Advance(12 * time.Hour)
	get("r1") // a new MFA session
	if got := fetched.Load(); got != 2 {
		t.Fatalf("new MFA session: %d fetches, want 2", got)
	}
}

func TestProviderSourceKeysErrors(t *testing.T) {
	h := newHarness(t)
	h.cfg = mustConfig(t, strings.Replace(testConfig, "[profile base]\n", "[profile base]\nmfabridge_keys = keyring\n", 1), "", nil)
	p := mustResolve(t, h.cfg, "r1")
	pr, err := NewProvider(p, h.tokens.Code, h.dir, WithClock(h.clock.Now), WithSTSClient(h.sts))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pr.Credentials(context.Background()); !errors.Is(err, ErrNoSourceKeys) {
		t.Fatalf("no WithSourceKeys: got %v, want ErrNoSourceKeys", err)
	}
	errLocked := errors.New("keyring locked")
	pr, err = NewProvider(p, h.tokens.Code, h.dir, WithClock(h.clock.Now), WithSTSClient(h.sts),
		WithSourceKeys(func(context.Context, awsconfig.Source) (aws.Credentials, error) { return aws.Credentials{}, errLocked }))
	if err != nil {
		t.Fatal(err)
	}
	_, err = pr.Credentials(context.Background())
	if !errors.Is(err, errLocked) || !strings.Contains(err.Error(), `profile "base"`) {
		t.Fatalf("store failure: got %v", err)
	}
	if got := h.counts(); got.gst != 0 || got.codes != 0 {
		t.Fatalf("a failed key fetch still called STS or read a code: %+v", got)
	}
}
