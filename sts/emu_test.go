package sts

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

	"github.com/mfabridge/mfabridge/simulator/stsemu"
	"github.com/mfabridge/mfabridge/sts/awsconfig"
)

// Integration tests against the STS emulator (simulator/stsemu) over
// loopback HTTP with the real SDK client, real SigV4 and real TOTP checks.

const (
	emuSecret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
	emuSerial = "arn:aws:iam::111111111111:mfa/alice"
)

const emuWorld = `{
  "region": "us-east-1",
  "accounts": [
    {
      "id": "111111111111",
      "users": [{
        "name": "alice",
        "access_keys": [{"id": "AKIAALICE00000000001", "secret": "alice-secret-access-key-0000000000000000"}],
        "mfa_devices": [{"serial": "arn:aws:iam::111111111111:mfa/alice", "secret_base32": "` + emuSecret + `"}],
        "policies": [
          {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "arn:aws:iam::222222222222:role/*"}]},
          {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["ec2:StopInstances", "ec2:TerminateInstances"], "Resource": ["*"], "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}}}]},
          {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:PutObject", "Resource": "*", "Condition": {"NumericLessThan": {"aws:MultiFactorAuthAge": "3600"}}}]}
        ]
      }]
    },
    {
      "id": "222222222222",
      "roles": [
        {"name": "R1", "trust_policy": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "111111111111"}, "Action": "sts:AssumeRole", "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}}}]},
         "policies": [{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "dynamodb:*", "Resource": "arn:aws:dynamodb:*:222222222222:table/Books"}]}]},
        {"name": "R2", "trust_policy": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "111111111111"}, "Action": "sts:AssumeRole", "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}}}]}},
        {"name": "R3", "trust_policy": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "111111111111"}, "Action": "sts:AssumeRole", "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}}}]}},
        {"name": "R4", "trust_policy": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "111111111111"}, "Action": "sts:AssumeRole", "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}}}]}},
        {"name": "Long", "max_session_duration": 43200,
         "trust_policy": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "111111111111"}, "Action": "sts:AssumeRole", "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}}}]},
         "policies": [{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ec2:TerminateInstances", "Resource": "*"}]}]},
        {"name": "Fresh", "trust_policy": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "111111111111"}, "Action": "sts:AssumeRole", "Condition": {"NumericLessThan": {"aws:MultiFactorAuthAge": "3600"}}}]}}
      ]
    }
  ]
}`

const emuProfiles = `
[profile alice]
mfa_serial = arn:aws:iam::111111111111:mfa/alice
[profile r1]
role_arn = arn:aws:iam::222222222222:role/R1
source_profile = alice
[profile r2]
role_arn = arn:aws:iam::222222222222:role/R2
source_profile = alice
duration_seconds = 1800
[profile r3]
role_arn = arn:aws:iam::222222222222:role/R3
source_profile = alice
[profile r4]
role_arn = arn:aws:iam::222222222222:role/R4
source_profile = alice
[profile long]
role_arn = arn:aws:iam::222222222222:role/Long
source_profile = alice
duration_seconds = 14400
[profile long2]
role_arn = arn:aws:iam::222222222222:role/Long
source_profile = alice
duration_seconds = 7200
role_session_name = second
[profile fresh]
role_arn = arn:aws:iam::222222222222:role/Fresh
source_profile = alice
mfabridge_mfa_max_age = 1800
[profile stale]
role_arn = arn:aws:iam::222222222222:role/Fresh
source_profile = alice
role_session_name = stale
[profile wrongserial]
role_arn = arn:aws:iam::222222222222:role/Long
source_profile = alice
mfa_serial = arn:aws:iam::111111111111:mfa/mallory
mfabridge_account = AWS:alice@111111111111
duration_seconds = 7200
`

const emuCreds = `
[alice]
aws_access_key_id = AKIAALICE00000000001
aws_secret_access_key = alice-secret-access-key-0000000000000000
`

type lockedBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

type emu struct {
	t      *testing.T
	srv    *stsemu.Server
	url    string
	clock  *fakeClock
	log    *lockedBuf
	tokens *fakeTokens
	cfg    *awsconfig.Config
	dir    string
}

func newEmu(t *testing.T, opts ...stsemu.Option) *emu {
	t.Helper()
	return newEmuClock(t, nil, opts...)
}

// newEmuClock starts an emulator whose logical clock is now (nil: the
// harness's fake clock).
func newEmuClock(t *testing.T, now func() time.Time, opts ...stsemu.Option) *emu {
	t.Helper()
	wc, err := stsemu.ParseConfig([]byte(emuWorld))
	if err != nil {
		t.Fatal(err)
	}
	e := &emu{t: t, clock: newFakeClock(t0), log: &lockedBuf{}, dir: testCacheDir(t),
		tokens: &fakeTokens{secret: emuSecret}}
	if now == nil {
		now = e.clock.Now
	}
	e.srv, err = stsemu.New(wc, append([]stsemu.Option{stsemu.WithClock(now), stsemu.WithLog(e.log)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(e.srv)
	t.Cleanup(ts.Close)
	e.url = ts.URL
	e.cfg = mustConfig(t, emuProfiles, emuCreds, map[string]string{"AWS_ENDPOINT_URL_STS": ts.URL})
	return e
}

func (e *emu) provider(name string, opts ...Option) *Provider {
	e.t.Helper()
	p := mustResolve(e.t, e.cfg, name)
	pr, err := NewProvider(p, e.tokens.Code, e.dir, append([]Option{WithClock(e.clock.Now), WithSleep(e.clock.Sleep)}, opts...)...)
	if err != nil {
		e.t.Fatal(err)
	}
	return pr
}

func (e *emu) get(name string) *Credentials {
	e.t.Helper()
	c, err := e.provider(name).Credentials(context.Background())
	if err != nil {
		e.t.Fatalf("credentials for %s: %v", name, err)
	}
	return c
}

func (e *emu) entries() []stsemu.LogEntry {
	e.t.Helper()
	e.log.mu.Lock()
	defer e.log.mu.Unlock()
	var out []stsemu.LogEntry
	for _, line := range strings.Split(strings.TrimSpace(e.log.b.String()), "\n") {
		if line == "" {
			continue
		}
		var le stsemu.LogEntry
		if err := json.Unmarshal([]byte(line), &le); err != nil {
			e.t.Fatalf("log line %q: %v", line, err)
		}
		out = append(out, le)
	}
	return out
}

// tally counts log entries: "GetSessionToken ok", "codes", "codes bad", "failed".
func (e *emu) tally() map[string]int {
	m := map[string]int{}
	for _, le := range e.entries() {
		m[le.Action+" "+le.Outcome]++
		if le.CodeValid != nil {
			m["codes"]++
			if !*le.CodeValid {
				m["codes bad"]++
			}
		}
		if le.Outcome != "ok" {
			m["failed"]++
		}
	}
	return m
}

func (e *emu) allowed(c *Credentials, action, resource string) bool {
	e.t.Helper()
	ok, err := e.srv.Authorize(c.AccessKeyID, action, resource)
	if err != nil {
		e.t.Fatalf("authorize %s: %v", action, err)
	}
	return ok
}

// TestEmuConcurrentColdStart is the acceptance test: 32 concurrent cold
// requests for 4 role profiles sharing one MFA device give exactly one
// code, one GetSessionToken, four AssumeRole and no failure, counted from
// the emulator's log.
func TestEmuConcurrentColdStart(t *testing.T) {
	e := newEmu(t)
	names := []string{"r1", "r2", "r3", "r4"}
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for i := range 32 {
		pr := e.provider(names[i%4]) // own Provider, own lock file descriptor
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
	got := e.tally()
	want := map[string]int{"GetSessionToken ok": 1, "AssumeRole ok": 4, "codes": 1}
	if len(got) != len(want) {
		t.Fatalf("log tally %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("log tally %v, want %v", got, want)
		}
	}
	if n := e.tokens.codes.Load(); n != 1 {
		t.Fatalf("%d codes computed, want 1", n)
	}
}

// Seed scenario "cross-account delegation": a role in another account whose
// trust policy requires MFA, for 1 hour via the MFA session and for 4 hours
// with the code on AssumeRole itself.
func TestEmuCrossAccount(t *testing.T) {
	e := newEmu(t)
	r1 := e.get("r1")
	if !e.allowed(r1, "dynamodb:DeleteTable", "arn:aws:dynamodb:us-east-1:222222222222:table/Books") {
		t.Error("R1 credentials cannot use the Books table")
	}
	long := e.get("long")
	if got := long.Expiration.Sub(e.clock.Now()); got != 4*time.Hour {
		t.Errorf("long role lasts %s, want 4h", got)
	}
	if !e.allowed(long, "ec2:TerminateInstances", "*") {
		t.Error("Long role credentials cannot terminate instances")
	}
	// Second long role in the same step: waits for the next code, never reuses.
	e.get("long2")
	got := e.tally()
	if got["codes"] != 3 || got["codes bad"] != 0 || got["failed"] != 0 {
		t.Fatalf("log tally %v: want 3 good codes, no failure", got)
	}
}

// Seed scenario "same-account API with an MFA condition": GetSessionToken
// credentials carry MFA; the long-term key does not.
func TestEmuSameAccount(t *testing.T) {
	e := newEmu(t)
	sess := e.get("alice")
	if !e.allowed(sess, "ec2:TerminateInstances", "*") {
		t.Error("MFA session cannot terminate instances")
	}
	if ok, _ := e.srv.Authorize("AKIAALICE00000000001", "ec2:TerminateInstances", "*"); ok {
		t.Error("long-term key can terminate instances without MFA")
	}
}

// Seed scenario "resource protected by an MFA condition": only the
// GetSessionToken credentials carry MFA context; role credentials from
// AssumeRole do not, which is why a profile without role_arn uses
// GetSessionToken.
func TestEmuMFAContext(t *testing.T) {
	e := newEmu(t)
	sess := e.get("alice")
	if !e.allowed(sess, "s3:PutObject", "arn:aws:s3:::bucket/key") {
		t.Error("MFA session denied s3:PutObject under an MFA-age condition")
	}
	e.clock.Advance(61 * time.Minute)
	if e.allowed(sess, "s3:PutObject", "arn:aws:s3:::bucket/key") {
		t.Error("an MFA session over an hour old passes MultiFactorAuthAge < 3600")
	}
}

// TestEmuMFAAge: a trust policy with aws:MultiFactorAuthAge < 3600. Without
// mfabridge_mfa_max_age the hourly refresh through an old MFA session is
// denied (with a hint); with it, a fresh MFA session is made.
func TestEmuMFAAge(t *testing.T) {
	e := newEmu(t)
	e.get("stale")
	e.clock.Advance(65 * time.Minute) // role expired, session 65 min old
	_, err := e.provider("stale").Credentials(context.Background())
	if !errors.Is(err, ErrNotAuthorized) || !strings.Contains(withHint(err), "mfabridge_mfa_max_age") {
		t.Fatalf("got %v, want ErrNotAuthorized mentioning mfabridge_mfa_max_age", err)
	}
	if n := e.tokens.codes.Load(); n != 1 {
		t.Fatalf("%d codes, want 1", n)
	}
	e.get("fresh") // max age 30 min: new MFA session
	if n := e.tokens.codes.Load(); n != 2 {
		t.Fatalf("%d codes, want 2", n)
	}
	e.get("stale") // shares the fresh session now
	if got := e.tally(); got["GetSessionToken ok"] != 2 || got["AssumeRole ok"] != 3 || got["codes bad"] != 0 {
		t.Fatalf("log tally %v", got)
	}
}

func TestEmuErrors(t *testing.T) {
	e := newEmu(t)
	_, err := e.provider("wrongserial").Credentials(context.Background())
	if !errors.Is(err, ErrSerialNotAssociated) {
		t.Fatalf("wrong serial: got %v", err)
	}
	// A wrong OATH account gives a wrong code.
	e.tokens.secret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
	_, err = e.provider("long").Credentials(context.Background())
	if !errors.Is(err, ErrInvalidCode) || !strings.Contains(withHint(err), "mfabridge_account") {
		t.Fatalf("wrong code: got %v", err)
	}
}

// TestEmuLostAnswer: the emulator consumes the code, then answers 500 (the
// retry hazard). No automatic retry happens; the next attempt waits for a
// fresh step and succeeds, and the log shows no rejected code.
func TestEmuLostAnswer(t *testing.T) {
	var mu sync.Mutex
	failed := false
	e := newEmu(t, stsemu.WithFaults(&stsemu.Faults{Decide: func(action string, seq int64) stsemu.Fault {
		mu.Lock()
		defer mu.Unlock()
		if action == "GetSessionToken" && !failed {
			failed = true
			return stsemu.Fault{Kind: stsemu.FaultInternal, AfterAction: true}
		}
		return stsemu.Fault{}
	}}))
	_, err := e.provider("r1").Credentials(context.Background())
	if !errors.Is(err, ErrServerError) {
		t.Fatalf("got %v, want ErrServerError", err)
	}
	var ce *CallError
	if !errors.As(err, &ce) || !ce.Spent || !strings.Contains(err.Error(), "the code may have been consumed") {
		t.Errorf("error %q does not say the code may be used up", err)
	}
	e.get("r1")
	got := e.tally()
	if got["GetSessionToken error"] != 1 || got["GetSessionToken ok"] != 1 || got["codes bad"] != 0 || got["AssumeRole ok"] != 1 {
		t.Fatalf("log tally %v", got)
	}
}

// TestEmuClockSkew: the emulator's Date header runs 2 minutes ahead of us.
func TestEmuClockSkew(t *testing.T) {
	e := newEmu(t, stsemu.WithFaults(&stsemu.Faults{Decide: func(string, int64) stsemu.Fault {
		return stsemu.Fault{DateShift: 2 * time.Minute}
	}}))
	var mu sync.Mutex
	var notices []string
	p := mustResolve(t, e.cfg, "alice")
	pr, err := NewProvider(p, e.tokens.Code, e.dir, WithClock(time.Now), WithUI(UI{Notify: func(m string) {
		mu.Lock()
		defer mu.Unlock()
		notices = append(notices, m)
	}}))
	if err != nil {
		t.Fatal(err)
	}
	// The emulator's logical clock is t0; use real time for both here.
	e.clock.Set(time.Now())
	if _, err := pr.Credentials(context.Background()); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	found := false
	for _, n := range notices {
		found = found || strings.Contains(n, "behind STS's")
	}
	if !found {
		t.Fatalf("no skew warning in %q", notices)
	}
}
