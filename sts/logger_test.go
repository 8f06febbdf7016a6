package sts

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var discardLog = slog.New(slog.DiscardHandler)

func bufText(l *lockedBuf) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// The Provider logs its STS calls and the cache entries it ignores to the
// logger of WithLogger, and nothing to the global default (issue 12: --debug
// lost every sts line because they went there).
func TestProviderLogsToInjectedLogger(t *testing.T) {
	var global lockedBuf
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&global, &slog.HandlerOptions{Level: slog.LevelDebug})))
	t.Cleanup(func() { slog.SetDefault(old) })

	h := newHarness(t)
	var logs lockedBuf
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	pr, err := NewProvider(mustResolve(t, h.cfg, "r1"), h.tokens.Code, h.dir, WithClock(h.clock.Now),
		WithSleep(h.clock.Sleep), WithSTSClient(h.sts), WithLogger(log))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := pr.Credentials(ctx); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`msg="sts: call" action=GetSessionToken`, `msg="sts: call" action=AssumeRole`} {
		if !strings.Contains(bufText(&logs), want) {
			t.Errorf("log lacks %q:\n%s", want, bufText(&logs))
		}
	}

	// A damaged entry is ignored, and the log says so.
	keys := pr.keys()
	if err := os.WriteFile(filepath.Join(h.dir, keys[len(keys)-1]+".json"), []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := pr.Credentials(ctx); err != nil {
		t.Fatal(err)
	}
	if want := `msg="sts cache: ignoring entry" key=` + keys[len(keys)-1]; !strings.Contains(bufText(&logs), want) {
		t.Errorf("log lacks %q:\n%s", want, bufText(&logs))
	}
	if bufText(&global) != "" {
		t.Errorf("the global slog default got lines:\n%s", bufText(&global))
	}
}

// Without WithLogger (or with a nil one) nothing is logged anywhere and
// nothing panics.
func TestProviderDefaultLoggerSilent(t *testing.T) {
	var global lockedBuf
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&global, &slog.HandlerOptions{Level: slog.LevelDebug})))
	t.Cleanup(func() { slog.SetDefault(old) })

	h := newHarness(t)
	pr, err := NewProvider(mustResolve(t, h.cfg, "r1"), h.tokens.Code, h.dir, WithClock(h.clock.Now),
		WithSleep(h.clock.Sleep), WithSTSClient(h.sts), WithLogger(nil))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pr.Credentials(context.Background()); err != nil {
		t.Fatal(err)
	}
	if bufText(&global) != "" {
		t.Errorf("the global slog default got lines:\n%s", bufText(&global))
	}
}
