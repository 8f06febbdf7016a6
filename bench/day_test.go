package bench

import (
	"bytes"
	"context"
	"encoding/base32"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/mfabridge/mfabridge/device"
	"github.com/mfabridge/mfabridge/device/piv"
	"github.com/mfabridge/mfabridge/oath"
	"github.com/mfabridge/mfabridge/simulator"
	"github.com/mfabridge/mfabridge/simulator/stsemu"
	"github.com/mfabridge/mfabridge/sts"
	"github.com/mfabridge/mfabridge/sts/awsconfig"
	"github.com/mfabridge/mfabridge/sts/keystore"
)

// The simulated working day: role profiles used every few minutes over 8
// hours on a fake clock, in one process (Providers, not processes: the
// clock of a process cannot be faked). BenchmarkTouchDay counts the touches
// with the source key in the credentials file; BenchmarkSealedKeyDay seals
// the source key to the simulated key's PIV applet (mfabridge_keys =
// piv:SERIAL) and counts PIN entries and touches at the simulator.

// fakeClock is the simulated day's clock, shared by the Providers and the
// emulator (credential expiry, TOTP steps); SigV4 stays on the real clock.
type fakeClock struct{ ns atomic.Int64 }

func (c *fakeClock) Now() time.Time          { return time.Unix(0, c.ns.Load()).UTC() }
func (c *fakeClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }
func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.Advance(d)
	return nil
}

// countingTokens is the YubiKey of the simulated day: alice's one account,
// each code computed counted as a touch.
type countingTokens struct {
	codes atomic.Int64
}

// Code is the providers' sts.TokenFunc.
func (t *countingTokens) Code(ctx context.Context, at time.Time) (string, error) {
	t.codes.Add(1)
	return totp.GenerateCodeCustom(mfaSecret, at, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
}

// dayResult is one simulated working day.
type dayResult struct {
	touches, awscliTouches int
	gst, ar                int
	uses                   int
}

// dayWorld is the emulator of a simulated day on its fake clock, the
// parsed AWS config and a cache folder.
type dayWorld struct {
	clock *fakeClock
	log   *syncBuf
	cfg   *awsconfig.Config
	cache string
}

// newDayWorld starts the day 9 hours after the current hour (real date) with alice and
// roles roles in the emulator; config and credentials are the AWS files.
func newDayWorld(tb testing.TB, roles int, config, credentials string) *dayWorld {
	tb.Helper()
	clock := &fakeClock{}
	clock.ns.Store(time.Now().Truncate(time.Hour).Add(9 * time.Hour).UnixNano())
	cfgw, err := stsemu.ParseConfig([]byte(worldConfig(1, roles)))
	if err != nil {
		tb.Fatal(err)
	}
	log := &syncBuf{}
	srv, err := stsemu.New(cfgw, stsemu.WithClock(clock.Now), stsemu.WithLog(log))
	if err != nil {
		tb.Fatal(err)
	}
	hs := httptestServer(tb, srv)
	cfg, err := awsconfig.ParseProfiles([]byte(config), []byte(credentials), func(k string) string {
		if k == "AWS_ENDPOINT_URL_STS" {
			return hs
		}
		return ""
	})
	if err != nil {
		tb.Fatal(err)
	}
	return &dayWorld{clock: clock, log: log, cfg: cfg, cache: tb.TempDir()}
}

// providers builds one Provider per role profile r0…, sharing the cache.
func (w *dayWorld) providers(tb testing.TB, roles int, token sts.TokenFunc, opts ...sts.Option) []*sts.Provider {
	tb.Helper()
	out := make([]*sts.Provider, roles)
	for i := range roles {
		p, err := w.cfg.Resolve(fmt.Sprintf("r%d", i))
		if err != nil {
			tb.Fatal(err)
		}
		out[i], err = sts.NewProvider(p, token, w.cache,
			append([]sts.Option{sts.WithClock(w.clock.Now), sts.WithSleep(w.clock.Sleep)}, opts...)...)
		if err != nil {
			tb.Fatal(err)
		}
	}
	return out
}

// run is the day: every `every`, each provider asks for credentials (as a
// shell prompt, a Terraform run or an SDK refresh would). The AWS CLI's
// touches are counted by its documented rule in the same loop: a role
// profile with mfa_serial prompts for a code whenever its cached role
// credentials (default 1 h) have less than 15 minutes left. gst and ar
// come from the emulator's log.
func (w *dayWorld) run(tb testing.TB, providers []*sts.Provider, day, every time.Duration) dayResult {
	tb.Helper()
	var res dayResult
	cliExpiry := make([]time.Time, len(providers))
	start := w.clock.Now()
	for w.clock.Now().Sub(start) < day {
		now := w.clock.Now()
		for i, pr := range providers {
			c, err := pr.Credentials(context.Background())
			if err != nil {
				tb.Fatalf("%s into the day, r%d: %v", now.Sub(start), i, err)
			}
			if left := c.Expiration.Sub(w.clock.Now()); left < awsconfig.MinRemaining {
				tb.Fatalf("%s into the day, r%d: credentials with %v left handed out", now.Sub(start), i, left)
			}
			res.uses++
			if cliExpiry[i].Sub(now) < awsconfig.MinRemaining {
				res.awscliTouches++
				cliExpiry[i] = now.Add(awsconfig.DefaultRoleDuration)
			}
		}
		w.clock.Advance(every)
	}
	entries, err := w.log.entries()
	if err != nil {
		tb.Fatal(err)
	}
	t := tally(entries)
	if t["failed"] != 0 {
		tb.Fatalf("STS refused %d requests during the day: %v", t["failed"], t)
	}
	res.gst, res.ar = t["GetSessionToken ok"], t["AssumeRole ok"]
	return res
}

// simulateDay runs an 8-hour day on a fake clock with alice's key in the
// credentials file: mfabridge's touches are the codes the Providers
// compute.
func simulateDay(tb testing.TB, roles int, day, every time.Duration) dayResult {
	tb.Helper()
	w := newDayWorld(tb, roles, profilesConfig(1, roles), credentialsFile(1))
	tokens := &countingTokens{}
	res := w.run(tb, w.providers(tb, roles, tokens.Code), day, every)
	res.touches = int(tokens.codes.Load())
	return res
}

// BenchmarkTouchDay: touches for 10 role profiles over a simulated 8-hour
// day (each profile used every 5 minutes), mfabridge against the AWS CLI's
// own mfa_serial flow. Target: 1 touch.
func BenchmarkTouchDay(b *testing.B) {
	var r dayResult
	for range b.N {
		r = simulateDay(b, 10, 8*time.Hour, 5*time.Minute)
	}
	b.ReportMetric(float64(r.touches), "mfabridge-touches")
	b.ReportMetric(float64(r.awscliTouches), "awscli-touches")
	b.ReportMetric(float64(r.gst), "GetSessionToken")
	b.ReportMetric(float64(r.ar), "AssumeRole")
	b.ReportMetric(float64(r.uses), "uses")
}

// The day's figures are deterministic: pin them as a test too.
func TestTouchDay(t *testing.T) {
	r := simulateDay(t, 10, 8*time.Hour, 5*time.Minute)
	// Each role refreshes when under 15 minutes of its hour remain: at
	// 0, 50, 100, … 450 minutes, 10 times in 8 hours.
	if r.touches != 1 || r.awscliTouches != 100 || r.gst != 1 || r.ar != 100 {
		t.Errorf("day = %+v, want 1 touch (AWS CLI 100), 1 GetSessionToken, 100 AssumeRole", r)
	}
}

// simCounts is what the simulated YubiKey of a sealed-key day saw, counted
// at the card: VERIFY commands carrying a PIN, touches it asked the user
// for (OATH and PIV; PIV alone from the card's Stats), card sessions; and
// on the host side, PIN prompts answered and sealed-key opens (calls of
// the Providers' SourceKeysFunc).
type simCounts struct {
	pinVerifies, touches, pivTouches, cardSessions atomic.Int64
	pinPrompts, keyOpens                           atomic.Int64
}

// verifyCounter is the card's transport, counting VERIFY (INS 20, P2 80)
// commands that carry a PIN: an empty VERIFY (a status probe, 5 bytes
// short or 7 extended) is not a PIN entry. No other applet of the card
// uses INS 20.
type verifyCounter struct {
	card *simulator.Card
	n    *atomic.Int64
}

func (v verifyCounter) Transmit(ctx context.Context, apdu []byte) ([]byte, error) {
	if len(apdu) > 7 && apdu[1] == 0x20 && apdu[3] == 0x80 {
		v.n.Add(1)
	}
	return v.card.Transmit(ctx, apdu)
}

// open is the simulated key's device.OpenFunc: each card session loads the
// state file afresh (as device.OpenSim does; a PIN verified or a touch
// cached lasts one session), with a simulated user who touches at once and
// is counted.
func (s *simCounts) open(path string) device.OpenFunc {
	return func(ctx context.Context) (oath.Transport, func() error, error) {
		card, err := simulator.Open(path, simulator.WithTouchFunc(func(context.Context) (bool, error) {
			s.touches.Add(1)
			return true, nil
		}))
		if err != nil {
			return nil, nil, err
		}
		s.cardSessions.Add(1)
		return verifyCounter{card, &s.pinVerifies}, func() error {
			s.pivTouches.Add(int64(card.Stats().PIVTouches))
			return nil
		}, nil
	}
}

func (s *simCounts) reset() {
	for _, n := range []*atomic.Int64{&s.pinVerifies, &s.touches, &s.pivTouches, &s.cardSessions, &s.pinPrompts, &s.keyOpens} {
		n.Store(0)
	}
}

// sealedDay is a day with alice's key sealed to the simulated key's PIV
// slot 9d: the key's touch policy (PIN policy once), and the source
// profile's mfabridge_session_duration in seconds (0: the default, 12 h).
type sealedDay struct {
	name            string
	touch           piv.TouchPolicy
	sessionDuration int
}

// sealedDayResult is a sealed-key day: the day's STS figures and what the
// simulated key counted (touches: OATH + PIV).
type sealedDayResult struct {
	dayResult
	pinVerifies, pinPrompts int
	oathTouches, pivTouches int
	keyOpens                int
}

func (r sealedDayResult) perSession(n int) float64 {
	if r.gst == 0 {
		return 0
	}
	return float64(n) / float64(r.gst)
}

const simSerial = 31415926

// simulateSealedDay runs the day of simulateDay with the source key sealed
// to the PIV applet of a simulated YubiKey that also holds alice's OATH
// account, with touch required: the Providers get codes from the card
// through device.Token and the source key through a keystore.PIVStore
// whose card sessions verify the PIN as the key's policy asks (the CLI's
// wiring, in process).
func simulateSealedDay(tb testing.TB, roles int, day, every time.Duration, sd sealedDay) sealedDayResult {
	tb.Helper()
	ctx := context.Background()
	dir := tb.TempDir()
	path := filepath.Join(dir, "key.json")
	if _, err := simulator.Create(path, simSerial, simulator.Version{Major: 5, Minor: 4, Patch: 3}); err != nil {
		tb.Fatal(err)
	}
	cnt := &simCounts{}
	y := device.NewYubiKey(device.Info{Kind: "sim", Serial: simSerial, Path: path}, cnt.open(path), device.Hooks{}, nil)
	secret, err := base32.StdEncoding.DecodeString(mfaSecret)
	if err != nil {
		tb.Fatal(err)
	}
	if err := y.Put(ctx, device.Credential{Name: account, Touch: true}, secret, device.PutOptions{}); err != nil {
		tb.Fatal(err)
	}
	c, release, err := y.OpenPIV(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	ec, err := c.GenerateKey(ctx, piv.DefaultManagementKey, piv.SlotKeyManagement,
		piv.KeyOptions{Algorithm: piv.AlgECCP256, PINPolicy: piv.PINPolicyOnce, TouchPolicy: sd.touch})
	if rerr := release(); err == nil {
		err = rerr
	}
	if err != nil {
		tb.Fatal(err)
	}
	pub, err := ec.ECDH()
	if err != nil {
		tb.Fatal(err)
	}

	config := fmt.Sprintf("[profile alice]\nregion = us-east-1\nmfabridge_keys = piv:%d\n", simSerial)
	if sd.sessionDuration > 0 {
		config += fmt.Sprintf("mfabridge_session_duration = %d\n", sd.sessionDuration)
	}
	config = strings.Replace(profilesConfig(1, roles), "[profile alice]\nregion = us-east-1\n", config, 1)
	w := newDayWorld(tb, roles, config, "")

	opener := func(ctx context.Context, serial uint32) (keystore.Card, func() error, error) {
		if serial != simSerial {
			return nil, nil, fmt.Errorf("no YubiKey %d: %w", serial, keystore.ErrNotFound)
		}
		c, release, err := y.OpenPIV(ctx)
		if err != nil {
			return nil, nil, err
		}
		card, err := keystore.NewPIVCard(ctx, c, keystore.PIVCardHooks{PIN: func(context.Context, uint32) (string, error) {
			cnt.pinPrompts.Add(1)
			return piv.DefaultPIN, nil
		}})
		if err != nil {
			return nil, nil, errors.Join(err, release())
		}
		return card, release, nil
	}
	store, err := keystore.NewPIVStore(filepath.Join(dir, "keys", "piv"),
		&keystore.Recipient{Serial: simSerial, Slot: byte(piv.SlotKeyManagement), PublicKey: pub}, opener,
		keystore.WithClock(w.clock.Now))
	if err != nil {
		tb.Fatal(err)
	}
	if err := store.Put(ctx, "alice", keystore.Key{AccessKeyID: aliceKey, SecretAccessKey: aliceSec}); err != nil {
		tb.Fatal(err)
	}
	sourceKeys := func(ctx context.Context, src awsconfig.Source) (aws.Credentials, error) {
		cnt.keyOpens.Add(1)
		k, err := store.Get(ctx, src.Profile)
		if err != nil {
			return aws.Credentials{}, err
		}
		return aws.Credentials{AccessKeyID: k.AccessKeyID, SecretAccessKey: k.SecretAccessKey, SessionToken: k.SessionToken}, nil
	}
	tok := device.NewToken(y, mfaSerial)
	code := func(ctx context.Context, at time.Time) (string, error) {
		c, err := tok.Code(ctx, at)
		return c.Value, err
	}

	cnt.reset() // the day starts here: setting the key up is not counted
	res := sealedDayResult{dayResult: w.run(tb, w.providers(tb, roles, code, sts.WithSourceKeys(sourceKeys)), day, every)}
	res.pinVerifies, res.pinPrompts = int(cnt.pinVerifies.Load()), int(cnt.pinPrompts.Load())
	res.pivTouches = int(cnt.pivTouches.Load())
	res.oathTouches = int(cnt.touches.Load()) - res.pivTouches
	res.touches = int(cnt.touches.Load())
	res.keyOpens = int(cnt.keyOpens.Load())
	return res
}

// sealedDays are the benchmark's cases: PIN once with the default touch
// policy of a sealing key (cached), and with touch always. Their figures
// are the same, and that is the finding: mfabridge opens the sealed key
// once per MFA session, hours apart, so the card's 15-second touch cache
// (which the simulator keeps, simulator.TestPIVTouchCache) never spares a
// touch and touch always costs none over the day.
var sealedDays = []sealedDay{
	{name: "pin-once-touch-cached", touch: piv.TouchPolicyCached},
	{name: "pin-once-touch-always", touch: piv.TouchPolicyAlways},
}

// BenchmarkSealedKeyDay: the day of BenchmarkTouchDay (10 role profiles,
// 8 hours, each used every 5 minutes, fake clock) with the source key
// sealed to the simulated key's PIV applet. PIN entries are VERIFY
// commands carrying a PIN and touches are those the simulated key asked
// for (OATH + PIV), per MFA session (GetSessionToken at the emulator).
// Target: 1 PIN entry and at most 2 touches per MFA session.
func BenchmarkSealedKeyDay(b *testing.B) {
	for _, sd := range sealedDays {
		b.Run(sd.name, func(b *testing.B) {
			var r sealedDayResult
			for range b.N {
				r = simulateSealedDay(b, 10, 8*time.Hour, 5*time.Minute, sd)
			}
			b.ReportMetric(float64(r.gst), "mfa-sessions")
			b.ReportMetric(r.perSession(r.pinVerifies), "pins/session")
			b.ReportMetric(r.perSession(r.touches), "touches/session")
			b.ReportMetric(float64(r.pinVerifies), "pin-verifies")
			b.ReportMetric(float64(r.pinPrompts), "pin-prompts")
			b.ReportMetric(float64(r.oathTouches), "oath-touches")
			b.ReportMetric(float64(r.pivTouches), "piv-touches")
			b.ReportMetric(float64(r.keyOpens), "key-opens")
			b.ReportMetric(float64(r.ar), "AssumeRole")
			b.ReportMetric(float64(r.uses), "uses")
		})
	}
}

// TestSealedKeyDay pins the sealed-key day: per MFA session one sealed-key
// open, one PIN entry (prompted once, one VERIFY at the card), one OATH
// touch and one PIV touch; role refreshes reuse the MFA session's
// credentials and never reach the card. The 3-hour session case shows the
// figures scale with sessions, not with roles or refreshes.
func TestSealedKeyDay(t *testing.T) {
	cases := append([]sealedDay{}, sealedDays...)
	cases = append(cases, sealedDay{name: "pin-once-touch-cached-3h-sessions", touch: piv.TouchPolicyCached, sessionDuration: 3 * 3600})
	for _, sd := range cases {
		t.Run(sd.name, func(t *testing.T) {
			r := simulateSealedDay(t, 10, 8*time.Hour, 5*time.Minute, sd)
			// 12-hour session: one for the day. 3-hour sessions (usable
			// until a minute before they end) are renewed at the first
			// role refresh after 2:59: roles refresh at 0, 50, 100, …
			// minutes, so new sessions at 0, 200 and 400 minutes.
			wantSessions := 1
			if sd.sessionDuration > 0 {
				wantSessions = 3
			}
			if r.gst != wantSessions || r.ar != 100 || r.uses != 960 {
				t.Errorf("STS: %d GetSessionToken, %d AssumeRole, %d uses; want %d, 100, 960", r.gst, r.ar, r.uses, wantSessions)
			}
			if r.keyOpens != r.gst || r.pinPrompts != r.gst || r.pinVerifies != r.gst {
				t.Errorf("%d MFA sessions: %d sealed-key opens, %d PIN prompts, %d PIN VERIFYs at the card; want one each per session",
					r.gst, r.keyOpens, r.pinPrompts, r.pinVerifies)
			}
			if r.oathTouches != r.gst || r.pivTouches != r.gst {
				t.Errorf("%d MFA sessions: %d OATH touches, %d PIV touches; want one each per session (2 per session)",
					r.gst, r.oathTouches, r.pivTouches)
			}
		})
	}
}

// TestSealedKeyProcesses is the CLI's own wiring (cmd/mfabridge: the
// PIVStore, its card opener and PIN) across processes, on the real clock:
// 10 concurrent `credential-process` runs, one per role profile, on a cold
// cache with alice's key sealed to the simulated key (PIN once, touch
// cached; the OATH account requires touch). One MFA session is made, so
// the key must be opened once: one VERIFY carrying the PIN and two touches
// (OATH + PIV), counted in the processes' --debug traces (the PIV client's
// APDUs, the simulator's touch waits).
func TestSealedKeyProcesses(t *testing.T) {
	const roles = 10
	w := newWorld(t, roles)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	key := filepath.Join(w.dir, "key.json")
	w.env = append(w.env, "MFABRIDGE_CONFIG_DIR="+filepath.Join(w.dir, "mfabridge-config"), "MFABRIDGE_PIV_PIN="+piv.DefaultPIN)
	// The world's key again, with its touches logged (the simulated user
	// touches after 1 ms) and alice's account requiring touch.
	if err := os.Remove(key); err != nil {
		t.Fatal(err)
	}
	serial := "12121212"
	for _, step := range []struct {
		stdin string
		argv  []string
	}{
		{"", []string{"sim", "init", key, "--serial", serial, "--touch-policy", "delay:1ms"}},
		{mfaSecret, []string{"accounts", "add", "--touch", "--issuer", "AWS", "alice@111111111111"}},
		{"", []string{"sim", "piv-generate", key, "--pin-policy", "once", "--touch-policy", "cached"}},
		{"", []string{"keys", "import", "alice", "--to", "piv:" + serial, "--trust-simulator-attestation"}},
	} {
		if _, stderr, err := w.run(ctx, step.stdin, step.argv...); err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(step.argv, " "), err, stderr)
		}
	}
	if b, err := os.ReadFile(filepath.Join(w.dir, "credentials")); err != nil || strings.Contains(string(b), aliceSec) {
		t.Fatalf("the credentials file still holds alice's secret after keys import (%v)", err)
	}
	w.log.reset()

	cmds := make([]*exec.Cmd, roles)
	errs := make([]bytes.Buffer, roles)
	for i := range roles {
		cmds[i] = w.command(ctx, "", "--debug", "credential-process", fmt.Sprintf("r%d", i))
		cmds[i].Stderr = &errs[i]
	}
	for _, cmd := range cmds {
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
	}
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("credential-process r%d: %v\n%s", i, err, lastLines(errs[i].String(), 5))
		}
	}
	var verifies, touches int
	for i := range errs {
		v, tc := pivTrace(errs[i].String())
		verifies += v
		touches += tc
	}
	entries, err := w.log.entries()
	if err != nil {
		t.Fatal(err)
	}
	tl := tally(entries)
	if tl["GetSessionToken ok"] != 1 || tl["AssumeRole ok"] != roles || tl["failed"] != 0 {
		t.Fatalf("STS calls %v, want 1 GetSessionToken and %d AssumeRole", tl, roles)
	}
	if verifies != 1 || touches != 2 {
		t.Errorf("%d processes, 1 MFA session: %d PIN VERIFYs, %d touches; want 1 and 2 (OATH + PIV)", roles, verifies, touches)
	}
}

// pivTrace counts, in a --debug trace, VERIFY commands carrying a PIN
// (the PIV client logs them as "> 00200080…<redacted 8 bytes>"; an empty
// VERIFY, a status probe, has nothing to redact) and the simulated key's
// touch waits.
func pivTrace(trace string) (verifies, touches int) {
	for _, apdu := range traceCommands(trace) {
		if strings.HasPrefix(apdu, "00200080") && strings.Contains(apdu, "<redacted") {
			verifies++
		}
	}
	return verifies, strings.Count(trace, `msg="simulator: waiting for touch"`)
}
