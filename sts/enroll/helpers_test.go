package enroll

// Test fixtures copied from package sts's tests (fake_test.go, emu_test.go):
// the fake clock, the start time, a locked log buffer and the config helper.

import (
	"bytes"
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mfabridge/mfabridge/sts/awsconfig"
)

// fakeClock is a settable clock shared by providers and the fake STS.
type fakeClock struct{ ns atomic.Int64 }

func newFakeClock(t time.Time) *fakeClock {
	c := &fakeClock{}
	c.ns.Store(t.UnixNano())
	return c
}
func (c *fakeClock) Now() time.Time          { return time.Unix(0, c.ns.Load()).UTC() }
func (c *fakeClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// Sleep advances the fake clock to at least now+d (several sleepers that
// started at the same time advance it once).
func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	target := c.Now().Add(d).UnixNano()
	for {
		cur := c.ns.Load()
		if cur >= target || c.ns.CompareAndSwap(cur, target) {
			return ctx.Err()
		}
	}
}

var t0 = time.Date(2026, 11, 22, 7, 0, 10, 0, time.UTC)

type lockedBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

type testEnv map[string]string

func (e testEnv) get(k string) string { return e[k] }

func mustConfig(t testing.TB, config, creds string, env map[string]string) *awsconfig.Config {
	t.Helper()
	c, err := awsconfig.ParseProfiles([]byte(config), []byte(creds), testEnv(env).get)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
