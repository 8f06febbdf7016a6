package sts

import (
	"context"
	"encoding/base32"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mfabridge/mfabridge/device"
	"github.com/mfabridge/mfabridge/simulator"
	"github.com/mfabridge/mfabridge/sts/awsconfig"
)

// The Provider with a code function bound to a sim: key the way the CLI
// binds it (device.Open, device.Token, opened on the first code). What the
// card sees is read from the APDU trace (package oath's "> 00A4…" lines).

// apduTrace collects the command APDUs of a debug log, by name.
type apduTrace struct {
	mu   sync.Mutex
	cmds []string
}

func (a *apduTrace) Enabled(context.Context, slog.Level) bool { return true }
func (a *apduTrace) WithAttrs([]slog.Attr) slog.Handler       { return a }
func (a *apduTrace) WithGroup(string) slog.Handler            { return a }
func (a *apduTrace) Handle(_ context.Context, r slog.Record) error {
	hex, ok := strings.CutPrefix(r.Message, "> ")
	if !ok || len(hex) < 8 {
		return nil
	}
	name := "INS " + hex[2:4]
	switch ins, p1 := hex[2:4], hex[4:6]; {
	case ins == "A4" && p1 == "04":
		name = "SELECT"
	case ins == "A4":
		name = "CALCULATE ALL"
	case ins == "A1":
		name = "LIST"
	case ins == "A2":
		name = "CALCULATE"
	case ins == "A3":
		name = "VALIDATE"
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.cmds = append(a.cmds, name)
	return nil
}

func (a *apduTrace) take() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	c := a.cmds
	a.cmds = nil
	return c
}

// simTokens is the CLI's per-profile code source over a sim: key.
type simTokens struct {
	t     *testing.T
	spec  string
	trace *apduTrace
	pw    string
	opens int
	tok   *device.Token
}

// newSimKey makes a simulated key holding "GitHub:alice" and alice's MFA
// secret as "AWS:alice@111111111111", optionally with an OATH password.
func newSimKey(t *testing.T, password string) *simTokens {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "key.json")
	if _, err := simulator.Create(path, 4242, simulator.Version{Major: 5, Minor: 4, Patch: 3}); err != nil {
		t.Fatal(err)
	}
	d, err := device.OpenSim(path, device.Hooks{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	secret, err := base32.StdEncoding.DecodeString(emuSecret)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []device.Credential{{Issuer: "GitHub", Account: "alice"}, {Issuer: "AWS", Account: "alice@111111111111"}} {
		if err := d.Put(ctx, c, secret, device.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if password != "" {
		if err := d.SetPassword(ctx, password); err != nil {
			t.Fatal(err)
		}
	}
	return &simTokens{t: t, spec: "sim:" + path, trace: &apduTrace{}, pw: password}
}

// code returns the TokenFunc for p, as cmd builds it.
func (s *simTokens) code(p *awsconfig.Profile) TokenFunc {
	return func(ctx context.Context, at time.Time) (string, error) {
		if s.tok == nil {
			hooks := device.Hooks{Password: func(context.Context, device.Info) (string, error) { return s.pw, nil }}
			d, err := device.Open(ctx, s.spec, device.Options{Hooks: hooks, Logger: slog.New(s.trace)})
			if err != nil {
				return "", err
			}
			s.opens++
			var opts []device.TokenOption
			if p.Account != "" {
				opts = append(opts, device.WithAccount(p.Account))
			}
			s.tok = device.NewToken(d, p.MFASerial, opts...)
		}
		c, err := s.tok.Code(ctx, at)
		return c.Value, err
	}
}

const simPinned = `
[profile pinned]
role_arn = arn:aws:iam::222222222222:role/R1
source_profile = alice
role_session_name = pinned
mfabridge_account = AWS:alice@111111111111
`

// TestProviderSimOneSession: a cold GetSessionToken + AssumeRole sends one
// code computed in one card session (SELECT, [VALIDATE,] LIST, CALCULATE;
// no LIST with mfabridge_account); a warm call opens no device and sends
// nothing; the STS emulator accepted the code.
func TestProviderSimOneSession(t *testing.T) {
	for _, tt := range []struct {
		name, profile, password string
		want                    []string
	}{
		{"matched", "r1", "", []string{"SELECT", "LIST", "CALCULATE"}},
		{"pinned", "pinned", "", []string{"SELECT", "CALCULATE"}},
		{"password", "r1", "hunter2", []string{"SELECT", "VALIDATE", "LIST", "CALCULATE"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEmu(t)
			e.cfg = mustConfig(t, emuProfiles+simPinned, emuCreds, map[string]string{"AWS_ENDPOINT_URL_STS": e.url})
			key := newSimKey(t, tt.password)
			p := mustResolve(t, e.cfg, tt.profile)
			pr, err := NewProvider(p, key.code(p), e.dir, WithClock(e.clock.Now), WithSleep(e.clock.Sleep))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := pr.Credentials(context.Background()); err != nil {
				t.Fatal(err)
			}
			if got := key.trace.take(); !slices.Equal(got, tt.want) {
				t.Fatalf("cold: APDUs %q, want %q", got, tt.want)
			}
			if got := e.tally(); got["codes"] != 1 || got["codes bad"] != 0 || got["failed"] != 0 {
				t.Fatalf("STS log %v: want one good code", got)
			}
			// Warm, from a new Provider (a new process): no device opened, no APDU.
			warm := newSimKey(t, tt.password)
			pr2, err := NewProvider(p, warm.code(p), e.dir, WithClock(e.clock.Now), WithSleep(e.clock.Sleep))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := pr2.Credentials(context.Background()); err != nil {
				t.Fatal(err)
			}
			if warm.opens != 0 || len(warm.trace.take()) != 0 {
				t.Fatalf("warm call opened the device %d times", warm.opens)
			}
		})
	}
}
