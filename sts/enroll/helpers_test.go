package enroll

// Test fixtures copied from package sts's tests (fake_test.go, emu_test.go):
// the fake clock, the start time, a locked log buffer and the config helper.

import (
	"bytes"
	"sync"
	"testing"
	"time"

	"github.com/mfabridge/mfabridge/internal/ststest"
	"github.com/mfabridge/mfabridge/sts/awsconfig"
)

// fakeClock is a settable clock shared by providers and the fake STS.
type fakeClock = ststest.Clock

var newFakeClock = ststest.NewClock

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
