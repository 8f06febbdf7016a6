package sts

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mfabridge/mfabridge/internal/testtemp"
	"github.com/mfabridge/mfabridge/sts/stepcache"
)

func testEntry(id string, exp time.Time) *cacheEntry {
	return &cacheEntry{Action: ActionAssumeRole, Target: "arn:aws:iam::210987654321:role/r",
		Credentials: Credentials{AccessKeyID: id, SecretAccessKey: "s", SessionToken: "t", Expiration: exp}}
}

func TestCacheUntrustedEntries(t *testing.T) {
	// good is a valid current-version entry, so each case below is refused
	// only for the reason it tests.
	ge := testEntry("AKIAGOOD", t0)
	ge.Version = cacheVersion
	good, _ := json.Marshal(ge)
	cur := fmt.Sprintf(`"version":%d,`, cacheVersion)
	if !strings.Contains(string(good), cur) {
		t.Fatalf("good entry %s does not carry %s", good, cur)
	}
	if _, err := stepcache.ParseEntry(good); err != nil {
		t.Fatalf("good entry refused: %v", err)
	}
	tests := []untrustedCase{
		{"corrupted", func(t *testing.T, p string) {
			os.WriteFile(p, []byte(`{"version":1,"action":"AssumeRole","credentials":{"acc`), 0o600)
		}},
		{"binary", func(t *testing.T, p string) { os.WriteFile(p, []byte{0xff, 0x00, 0x7b}, 0o600) }},
		{"incomplete", func(t *testing.T, p string) {
			os.WriteFile(p, []byte(`{"version":1,"action":"AssumeRole","credentials":{"access_key_id":"A"}}`), 0o600)
		}},
		{"future version", func(t *testing.T, p string) {
			os.WriteFile(p, []byte(strings.Replace(string(good), cur, `"version":9,`, 1)), 0o600)
		}},
	}
	tests = append(tests, untrustedFiles(good)...) // per OS: permissions, owner, links
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := openCache(testCacheDir(t))
			if err != nil {
				t.Fatal(err)
			}
			tt.setup(t, c.path("k.json"))
			if e := c.get("k", discardLog); e != nil {
				t.Fatalf("untrusted entry handed out: %+v", e)
			}
			// Replaced by the next write.
			if err := c.put("k", testEntry("AKIANEW", t0)); err != nil {
				t.Fatal(err)
			}
			if e := c.get("k", discardLog); e == nil || e.Credentials.AccessKeyID != "AKIANEW" {
				t.Fatalf("after rewrite got %+v", e)
			}
		})
	}
	// The entry format round-trips (and good entries are accepted).
	c, err := openCache(testCacheDir(t))
	if err != nil {
		t.Fatal(err)
	}
	c.put("k", testEntry("AKIAGOOD", t0))
	if e := c.get("k", discardLog); e == nil || !e.Credentials.Expiration.Equal(t0) {
		t.Fatalf("round trip: %+v", e)
	}
}

func TestCacheLedger(t *testing.T) {
	c, err := openCache(testCacheDir(t))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.lastStep("GAHT12345678"); got != -1 {
		t.Fatalf("empty ledger: %d", got)
	}
	c.recordStep("GAHT12345678", 100, t0)
	c.recordStep("GAHT12345678", 101, t0)
	if got := c.lastStep("GAHT12345678"); got != 101 {
		t.Fatalf("got %d, want 101", got)
	}
	if got := c.lastStep("GAHT00000000"); got != -1 {
		t.Fatalf("other serial: %d", got)
	}
	os.WriteFile(c.path(ledgerName("GAHT12345678")), []byte("garbage"), 0o600)
	if got := c.lastStep("GAHT12345678"); got != -1 {
		t.Fatalf("corrupt ledger: %d", got)
	}
}

// TestCacheStaleEntry: entries with under 15 minutes left are not handed out.
func TestCacheStaleEntry(t *testing.T) {
	for _, tt := range []struct {
		left   time.Duration
		reused bool
	}{{14 * time.Minute, false}, {16 * time.Minute, true}} {
		t.Run(tt.left.String(), func(t *testing.T) {
			h := newHarness(t)
			pr := h.provider("long")
			keys, sks := pr.stepKeys()
			e := testEntry("ASIACACHED", h.clock.Now().Add(tt.left))
			e.For = &sks[0]
			pr.cache.put(keys[0], e)
			c, err := pr.Credentials(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if got := c.AccessKeyID == "ASIACACHED"; got != tt.reused {
				t.Fatalf("%s left: handed out cached = %v, want %v", tt.left, got, tt.reused)
			}
			want := 1 // AssumeRole calls
			if tt.reused {
				want = 0
			}
			if h.counts().ar != want {
				t.Fatalf("AssumeRole calls %d, want %d", h.counts().ar, want)
			}
			if !tt.reused && pr.cache.get(keys[0], discardLog).Credentials.AccessKeyID == "ASIACACHED" {
				t.Fatal("stale entry not replaced")
			}
		})
	}
}

// testCacheDir names a cache directory for openCache to create, in a
// temporary directory removed after the test (testtemp: os.RemoveAll fails
// under Wine). openCache must create it: on Windows under Wine a directory
// made by os.MkdirTemp lets Everyone read it (Wine derives DACLs from the
// Unix mode), which openCache refuses and Wine cannot change.
func testCacheDir(t *testing.T) string {
	t.Helper()
	return filepath.Join(testtemp.Dir(t), "mfabridge")
}

// untrustedCase makes the file at path one the cache must not hand out.
type untrustedCase struct {
	name  string
	setup func(t *testing.T, path string)
}

// TestLockBetweenDescriptors: flock(2) locks belong to open file
// descriptions, so two handles in one process exclude each other.
func TestLockBetweenDescriptors(t *testing.T) {
	dir := testCacheDir(t)
	a, err := openCache(dir)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := openCache(dir)
	unlockA, err := a.lockSerial(context.Background(), "GAHT12345678", nil)
	if err != nil {
		t.Fatal(err)
	}
	waited := false
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := b.lockSerial(ctx, "GAHT12345678", func() { waited = true }); err == nil || !waited {
		t.Fatalf("second handle got the lock (err %v, waited %v)", err, waited)
	}
	// Another serial is independent.
	unlockOther, err := b.lockSerial(context.Background(), "GAHT00000000", nil)
	if err != nil {
		t.Fatal(err)
	}
	unlockOther()
	unlockA()
	unlockB, err := b.lockSerial(context.Background(), "GAHT12345678", nil)
	if err != nil {
		t.Fatalf("after unlock: %v", err)
	}
	unlockB()
}

// TestFreshStepCode: the shared code chooser (Provider and rotation's
// verify) skips a step with under minStepLeft to run and a step the ledger
// holds, and records the step before handing the code out.
func TestFreshStepCode(t *testing.T) {
	c, err := openCache(testCacheDir(t))
	if err != nil {
		t.Fatal(err)
	}
	const serial = "GAHT12345678"
	clock := newFakeClock(time.Date(2026, 11, 22, 7, 0, 28, 0, time.UTC)) // 2 s left in its step
	var computedAt []time.Time
	compute := func(ctx context.Context, at time.Time) (string, error) {
		computedAt = append(computedAt, at)
		return "123456", nil
	}
	notify := func(string, ...any) {}
	for want := int64(0); want < 2; want++ {
		_, at, reused, err := c.freshStepCode(context.Background(), serial, clock.Now, clock.Sleep, notify, compute)
		if err != nil || reused {
			t.Fatalf("call %d: reused %v, err %v", want, reused, err)
		}
		step := at.Unix() / stepSeconds
		if wantStep := time.Date(2026, 11, 22, 7, 0, 30, 0, time.UTC).Unix()/stepSeconds + want; step != wantStep {
			t.Fatalf("call %d: code of step %d, want %d", want, step, wantStep)
		}
		if got := c.lastStep(serial); got != step {
			t.Fatalf("call %d: ledger holds %d, want %d", want, got, step)
		}
	}
	if len(computedAt) != 2 {
		t.Fatalf("computed %d codes, want 2", len(computedAt))
	}
}
