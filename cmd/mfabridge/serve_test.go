package main

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mfabridge/mfabridge/sts"
)

// fakeClock is a settable clock for servedCreds.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// blockingFetch is a refresh that waits for a touch: it counts its calls
// and ends only when release is closed, with err.
type blockingFetch struct {
	calls   atomic.Int32
	started chan struct{} // one value per call
	release chan struct{}
	creds   *sts.Credentials
	err     error
}

func (f *blockingFetch) fetch(ctx context.Context) (*sts.Credentials, error) {
	f.calls.Add(1)
	f.started <- struct{}{}
	select {
	case <-f.release:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if f.err != nil {
		return nil, f.err
	}
	return f.creds, nil
}

func newServed(t *testing.T, clk *fakeClock, f *blockingFetch, cur *sts.Credentials) (*servedCreds, *[]string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	var mu sync.Mutex
	var notices []string
	return &servedCreds{
		ctx: ctx, fetch: f.fetch, margin: 15 * time.Minute, now: clk.now, what: `profile "p"`, cur: cur,
		notice: func(s string) { mu.Lock(); defer mu.Unlock(); notices = append(notices, s) },
	}, &notices
}

// Issue 13 case 10: while a refresh waits for a touch that does not come,
// requests are answered at once with the still-valid credentials, and the
// five of them start one refresh, not five.
func TestServeValidWhileRefreshWaits(t *testing.T) {
	clk := &fakeClock{t: time.Date(2026, 12, 2, 8, 0, 0, 0, time.UTC)}
	old := &sts.Credentials{AccessKeyID: "ASIAOLD", Expiration: clk.t.Add(10 * time.Minute)} // due: < 15 min left
	f := &blockingFetch{started: make(chan struct{}, 10), release: make(chan struct{}), err: errors.New("touch timed out")}
	sc, notices := newServed(t, clk, f, old)
	srv := httptest.NewServer(credentialHandler("tok", sc.get))
	defer srv.Close()

	var wg sync.WaitGroup
	keys := make([]string, 5)
	codes := make([]int, 5)
	for i := range keys {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
			req.Header.Set("Authorization", "tok")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			defer resp.Body.Close()
			var body map[string]string
			_ = json.NewDecoder(resp.Body).Decode(&body)
			codes[i], keys[i] = resp.StatusCode, body["AccessKeyId"]
		}()
	}
	wg.Wait() // all answered while the refresh is still blocked
	for i := range keys {
		if codes[i] != http.StatusOK || keys[i] != "ASIAOLD" {
			t.Errorf("request %d: status %d key %q, want 200 ASIAOLD", i, codes[i], keys[i])
		}
	}
	<-f.started
	if n := f.calls.Load(); n != 1 {
		t.Fatalf("%d refreshes started by 5 requests, want 1", n)
	}

	// The refresh fails: still served, no new attempt before the back-off.
	sc.mu.Lock()
	done := sc.running
	sc.mu.Unlock()
	close(f.release)
	<-done
	if c, err := sc.get(context.Background()); err != nil || c.AccessKeyID != "ASIAOLD" {
		t.Fatalf("after a failed refresh: %v, %v; want the valid ASIAOLD", c, err)
	}
	if n := f.calls.Load(); n != 1 {
		t.Fatalf("%d refreshes: a request during the back-off started one", n)
	}
	if len(*notices) != 1 || !strings.Contains((*notices)[0], "touch timed out") || !strings.Contains((*notices)[0], "still serving the current credentials") || !strings.Contains((*notices)[0], "next attempt in 1m0s") {
		t.Fatalf("notices %q: want one saying the refresh failed, what is served and when it retries", *notices)
	}
}

// After a failure, attempts back off (1m, 2m, 4m …); once the credentials
// have expired a request fails with the cause and the wait, and a request
// after the wait tries again.
func TestServeBackoffAfterFailures(t *testing.T) {
	clk := &fakeClock{t: time.Date(2026, 12, 2, 8, 0, 0, 0, time.UTC)}
	old := &sts.Credentials{AccessKeyID: "ASIAOLD", Expiration: clk.t.Add(3 * time.Minute)}
	f := &blockingFetch{started: make(chan struct{}, 10), release: make(chan struct{}), err: errors.New("touch timed out")}
	close(f.release)
	sc, _ := newServed(t, clk, f, old)

	attempt := func() {
		t.Helper()
		sc.mu.Lock()
		done := sc.startLocked(clk.now())
		sc.mu.Unlock()
		if done == nil {
			t.Fatalf("no attempt started at %s", clk.now())
		}
		<-done
	}
	attempt()
	clk.add(59 * time.Second)
	sc.mu.Lock()
	if sc.startLocked(clk.now()) != nil {
		t.Fatal("second attempt started 59s after the first failure")
	}
	sc.mu.Unlock()
	clk.add(time.Second)
	attempt() // 2 failures: next in 2m
	if got := sc.retryAt.Sub(clk.now()); got != 2*time.Minute {
		t.Fatalf("wait after 2 failures %s, want 2m", got)
	}

	// expired (less than serveFloor left): the error says why and when
	clk.add(90 * time.Second)
	_, err := sc.get(context.Background())
	if err == nil || !strings.Contains(err.Error(), "touch timed out") || !strings.Contains(err.Error(), "next refresh attempt in 30s") {
		t.Fatalf("request with expired credentials during the back-off: %v", err)
	}
	if n := f.calls.Load(); n != 2 {
		t.Fatalf("%d attempts, want 2", n)
	}
	// after the wait a request tries again, and succeeds
	clk.add(30 * time.Second)
	f.err, f.creds = nil, &sts.Credentials{AccessKeyID: "ASIANEW", Expiration: clk.now().Add(time.Hour)}
	c, err := sc.get(context.Background())
	if err != nil || c.AccessKeyID != "ASIANEW" {
		t.Fatalf("request after the wait: %v, %v; want ASIANEW", c, err)
	}
	if sc.failures != 0 || !sc.retryAt.IsZero() {
		t.Fatalf("failures %d retryAt %s after a success", sc.failures, sc.retryAt)
	}
}

func TestRetryAfter(t *testing.T) {
	want := []time.Duration{time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute, 16 * time.Minute, 30 * time.Minute, 30 * time.Minute}
	for i, w := range want {
		if got := retryAfter(i + 1); got != w {
			t.Errorf("retryAfter(%d) = %s, want %s", i+1, got, w)
		}
	}
}
