package device

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mfabridge/mfabridge/oath"
	"github.com/mfabridge/mfabridge/simulator"
)

const aliceSerial = "arn:aws:iam::111111111111:mfa/alice"

// sessionLog records, per card session, the instructions a YubiKey sends.
type sessionLog struct {
	mu       sync.Mutex
	sessions [][]string
}

// traceSessions makes y record its card sessions in the returned log.
func traceSessions(y *YubiKey) *sessionLog {
	l := &sessionLog{}
	inner := y.open
	y.open = func(ctx context.Context) (oath.Transport, func() error, error) {
		t, release, err := inner(ctx)
		if err != nil {
			return nil, nil, err
		}
		l.mu.Lock()
		l.sessions = append(l.sessions, []string{})
		i := len(l.sessions) - 1
		l.mu.Unlock()
		return recorder{t, func(apdu []byte) {
			l.mu.Lock()
			defer l.mu.Unlock()
			l.sessions[i] = append(l.sessions[i], insName(apdu))
		}}, release, nil
	}
	return l
}

// take returns the sessions recorded so far and forgets them.
func (l *sessionLog) take() [][]string {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.sessions
	l.sessions = nil
	return s
}

type recorder struct {
	oath.Transport
	saw func(apdu []byte)
}

func (r recorder) Transmit(ctx context.Context, apdu []byte) ([]byte, error) {
	r.saw(apdu)
	return r.Transport.Transmit(ctx, apdu)
}

// insName names an OATH command APDU (SELECT and CALCULATE ALL share INS A4
// and differ in P1).
func insName(apdu []byte) string {
	if len(apdu) < 4 {
		return fmt.Sprintf("short %X", apdu)
	}
	switch {
	case apdu[1] == 0xA4 && apdu[2] == 0x04:
		return "SELECT"
	case apdu[1] == 0xA4:
		return "CALCULATE ALL"
	case apdu[1] == 0xA1:
		return "LIST"
	case apdu[1] == 0xA2:
		return "CALCULATE"
	case apdu[1] == 0xA3:
		return "VALIDATE"
	case apdu[1] == 0xA5:
		return "SEND REMAINING"
	}
	return fmt.Sprintf("INS %02X", apdu[1])
}

// simAlice is a sim:PATH key, opened as the CLI opens it, holding
// "GitHub:alice" and "AWS:alice@111111111111" (RFC 6238's SHA1 secret, 8
// digits, so the code at T=59 is 94287082).
func simAlice(t *testing.T, hooks Hooks, password string) (*YubiKey, *sessionLog) {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "key.json")
	if _, err := simulator.Create(path, 4242, simulator.Version{Major: 5, Minor: 4, Patch: 3}); err != nil {
		t.Fatal(err)
	}
	setup, err := OpenSim(path, Hooks{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []Credential{{Issuer: "GitHub", Account: "alice"}, {Issuer: "AWS", Account: "alice@111111111111", Digits: 8}} {
		if err := setup.Put(ctx, c, rfcKey, PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if password != "" {
		if err := setup.SetPassword(ctx, password); err != nil {
			t.Fatal(err)
		}
	}
	d, err := Open(ctx, "sim:"+path, Options{Hooks: hooks})
	if err != nil {
		t.Fatal(err)
	}
	y := d.(*YubiKey)
	return y, traceSessions(y)
}

var t59 = time.Unix(59, 0)

// TestTokenOneSession: a cold code is one card session with SELECT, LIST
// and CALCULATE; the chosen account is remembered, so the next code is
// SELECT + CALCULATE.
func TestTokenOneSession(t *testing.T) {
	ctx := context.Background()
	y, trace := simAlice(t, Hooks{}, "")
	var chosen []string
	tok := NewToken(y, aliceSerial, WithChosen(func(account, why string) {
		chosen = append(chosen, account)
		if !strings.Contains(why, account) {
			t.Errorf("reason %q does not name %q", why, account)
		}
	}))
	c, err := tok.Code(ctx, t59)
	if err != nil || c.Value != "94287082" {
		t.Fatalf("Code = %q, %v; want 94287082", c.Value, err)
	}
	if got, want := trace.take(), [][]string{{"SELECT", "LIST", "CALCULATE"}}; !slices.EqualFunc(got, want, slices.Equal) {
		t.Fatalf("cold code: sessions %q, want %q", got, want)
	}
	if got := tok.Account(); got != "AWS:alice@111111111111" {
		t.Fatalf("Account() = %q", got)
	}
	c, err = tok.Code(ctx, t59.Add(30*time.Second))
	if err != nil || c.Value != "37359152" {
		t.Fatalf("second Code = %q, %v; want 37359152 (step 2: RFC 4226's 359152, 8 digits)", c.Value, err)
	}
	if got, want := trace.take(), [][]string{{"SELECT", "CALCULATE"}}; !slices.EqualFunc(got, want, slices.Equal) {
		t.Fatalf("second code: sessions %q, want %q (the choice is remembered)", got, want)
	}
	if !slices.Equal(chosen, []string{"AWS:alice@111111111111"}) {
		t.Fatalf("chosen hook calls %q, want one", chosen)
	}
}

// TestTokenPinnedAccount: with mfabridge_account no LIST is sent.
func TestTokenPinnedAccount(t *testing.T) {
	y, trace := simAlice(t, Hooks{}, "")
	tok := NewToken(y, aliceSerial, WithAccount("AWS:alice@111111111111"),
		WithChosen(func(string, string) { t.Error("chosen hook called for a pinned account") }))
	if c, err := tok.Code(context.Background(), t59); err != nil || c.Value != "94287082" {
		t.Fatalf("Code = %q, %v", c.Value, err)
	}
	if got, want := trace.take(), [][]string{{"SELECT", "CALCULATE"}}; !slices.EqualFunc(got, want, slices.Equal) {
		t.Fatalf("sessions %q, want %q", got, want)
	}
}

// TestTokenPassword: a password-protected applet adds VALIDATE, in the
// same session.
func TestTokenPassword(t *testing.T) {
	asked := 0
	hooks := Hooks{Password: func(context.Context, Info) (string, error) { asked++; return "hunter2", nil }}
	y, trace := simAlice(t, hooks, "hunter2")
	tok := NewToken(y, aliceSerial)
	if c, err := tok.Code(context.Background(), t59); err != nil || c.Value != "94287082" {
		t.Fatalf("Code = %q, %v", c.Value, err)
	}
	if got, want := trace.take(), [][]string{{"SELECT", "VALIDATE", "LIST", "CALCULATE"}}; !slices.EqualFunc(got, want, slices.Equal) {
		t.Fatalf("sessions %q, want %q", got, want)
	}
	if asked != 1 {
		t.Fatalf("password asked %d times", asked)
	}
}

// TestTokenNoMatch: no single account matches: a typed error with the
// advice, and no CALCULATE.
func TestTokenNoMatch(t *testing.T) {
	for _, tt := range []struct {
		serial string
		want   error
	}{
		{"arn:aws:iam::111111111111:mfa/bob", ErrNoAccount},
		{"arn:aws:iam::222222222222:mfa/alice", ErrNoAccount},
	} {
		y, trace := simAlice(t, Hooks{}, "")
		tok := NewToken(y, tt.serial)
		_, err := tok.Code(context.Background(), t59)
		var ae *AccountMatchError
		if !errors.Is(err, tt.want) || !errors.As(err, &ae) || !strings.Contains(err.Error(), "mfabridge_account") {
			t.Fatalf("%s: got %v, want %v with the mfabridge_account advice", tt.serial, err, tt.want)
		}
		if got, want := trace.take(), [][]string{{"SELECT", "LIST"}}; !slices.EqualFunc(got, want, slices.Equal) {
			t.Fatalf("%s: sessions %q, want %q", tt.serial, got, want)
		}
		if tok.Account() != "" {
			t.Fatalf("%s: remembered %q after a failed match", tt.serial, tok.Account())
		}
	}
}

// TestTokenSoftware: a device without card sessions (software TOTP) goes
// through List and Calculate.
func TestTokenSoftware(t *testing.T) {
	d, err := NewTOTP("MFA", "otpauth://totp/AWS:alice@111111111111?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&digits=8&issuer=AWS")
	if err != nil {
		t.Fatal(err)
	}
	tok := NewToken(d, aliceSerial)
	if c, err := tok.Code(context.Background(), t59); err != nil || c.Value != "94287082" {
		t.Fatalf("Code = %q, %v", c.Value, err)
	}
	if tok.Account() != "AWS:alice@111111111111" {
		t.Fatalf("Account() = %q", tok.Account())
	}
	_, err = NewToken(d, "arn:aws:iam::111111111111:mfa/bob").Code(context.Background(), t59)
	if !errors.Is(err, ErrNoAccount) {
		t.Fatalf("bob: %v", err)
	}
}
