package device

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/mfabridge/mfabridge/oath"
)

func TestParseSpec(t *testing.T) {
	tests := []struct {
		in      string
		want    Spec
		wantErr string
	}{
		{in: "yubikey", want: Spec{Kind: "yubikey"}},
		{in: "yubikey:12345678", want: Spec{Kind: "yubikey", Serial: 12345678}},
		{in: "sim:/tmp/k.json", want: Spec{Kind: "sim", Path: "/tmp/k.json"}},
		{in: "sim:rel/a:b.json", want: Spec{Kind: "sim", Path: "rel/a:b.json"}},
		{in: "totp:env:MY_SECRET", want: Spec{Kind: "totp", EnvVar: "MY_SECRET"}},
		{in: "process:op item get aws --otp", want: Spec{Kind: "process", Command: "op item get aws --otp"}},
		{in: "process:sh -c 'a:b'", want: Spec{Kind: "process", Command: "sh -c 'a:b'"}},
		{in: "process: ", wantErr: "process:COMMAND"},
		{in: "yubikey:abc", wantErr: "serial must be a positive decimal"},
		{in: "yubikey:0", wantErr: "serial must be a positive decimal"},
		{in: "sim:", wantErr: `device "sim:": give the simulator's state file, as sim:PATH`},
		{in: "totp:file:/x", wantErr: "totp:env:VAR"},
		{in: "totp:env:", wantErr: "totp:env:VAR"},
		{in: "", wantErr: "no device given"},
		{in: "ledger", wantErr: `unknown kind "ledger"`},
	}
	for _, tt := range tests {
		got, err := ParseSpec(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseSpec(%q) error = %v, want it to mention %q", tt.in, err, tt.wantErr)
			}
			var se *SpecError
			if tt.in == "" && err != ErrNoDevice || tt.in != "" && (!errors.As(err, &se) || se.Spec != tt.in) {
				t.Errorf("ParseSpec(%q) error = %#v, want ErrNoDevice or a *SpecError naming it", tt.in, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseSpec(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
		if got.String() != tt.in {
			t.Errorf("Spec.String() = %q, want %q", got.String(), tt.in)
		}
	}
}

func TestParseSecret(t *testing.T) {
	sec, err := ParseSecret("jbsw y3dp ehpk 3pxp")
	if err != nil || string(sec.Key) != "Hello!\xde\xad\xbe\xef" || sec.FromURI {
		t.Fatalf("base32 with spaces, lower case: %q %+v %v", sec.Key, sec, err)
	}
	sec, err = ParseSecret("otpauth://totp/ACME%20Co:alice@example.com?secret=JBSWY3DPEHPK3PXP&issuer=ACME%20Co&algorithm=SHA256&digits=8&period=60")
	if err != nil {
		t.Fatal(err)
	}
	if sec.Type != oath.TOTP || sec.Issuer != "ACME Co" || sec.Account != "alice@example.com" ||
		sec.Algorithm != oath.SHA256 || sec.Digits != 8 || sec.Period != time.Minute {
		t.Errorf("otpauth totp: %+v", sec)
	}
	sec, err = ParseSecret("otpauth://hotp/bob?secret=JBSWY3DPEHPK3PXP&counter=42")
	if err != nil || sec.Type != oath.HOTP || sec.Counter != 42 || sec.Account != "bob" {
		t.Errorf("otpauth hotp: %+v %v", sec, err)
	}
	const secret = "NOT*BASE32SECRETVALUE"
	for _, bad := range []string{"", secret, "otpauth://totp/x", "otpauth://motp/x?secret=JBSWY3DP",
		"otpauth://totp/x?secret=JBSWY3DP&digits=9", "otpauth://totp/x?secret=JBSWY3DP&algorithm=MD5"} {
		_, err := ParseSecret(bad)
		if !errors.Is(err, ErrBadSecret) {
			t.Errorf("ParseSecret(%q) = %v, want ErrBadSecret", bad, err)
		}
		if err != nil && bad != "" && strings.Contains(err.Error(), "BASE32SECRET") {
			t.Errorf("error leaks the secret: %v", err)
		}
	}
}

// RFC 6238 Appendix B, SHA1, 8 digits, through the software TOTP device.
func TestTOTPDeviceRFC6238(t *testing.T) {
	// base32("12345678901234567890")
	d, err := NewTOTP("S", "otpauth://totp/rfc?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&digits=8")
	if err != nil {
		t.Fatal(err)
	}
	vectors := map[int64]string{59: "94287082", 1111111109: "07081804", 1111111111: "14050471", 1234567890: "89005924", 2000000000: "69279037", 20000000000: "65353130"}
	creds, _ := d.List(context.Background())
	if len(creds) != 1 || creds[0].Name != "rfc" {
		t.Fatalf("List = %+v", creds)
	}
	for ts, want := range vectors {
		c, err := d.Calculate(context.Background(), "rfc", time.Unix(ts, 0))
		if err != nil || c.Value != want {
			t.Errorf("T=%d: %q %v, want %s", ts, c.Value, err, want)
		}
		if c.ValidTo.Sub(c.ValidFrom) != 30*time.Second || c.ValidFrom.Unix()%30 != 0 {
			t.Errorf("T=%d: validity %v–%v", ts, c.ValidFrom, c.ValidTo)
		}
	}
	if _, err := d.Calculate(context.Background(), "other", time.Unix(59, 0)); !errors.Is(err, ErrNotFound) {
		t.Errorf("wrong name: %v", err)
	}
	if _, err := NewTOTP("EMPTY", ""); err == nil || !strings.Contains(err.Error(), "$EMPTY is empty") {
		t.Errorf("empty variable: %v", err)
	}
}

func TestMatch(t *testing.T) {
	creds := []Credential{{Name: "AWS:alice@111111111111"}, {Name: "AWS:bob@111111111111"}, {Name: "GitHub:alice"}, {Name: "alice"}}
	for q, want := range map[string]string{"alice": "alice", "bob": "AWS:bob@111111111111", "github": "GitHub:alice"} {
		c, err := Match(creds, q)
		if err != nil || c.Name != want {
			t.Errorf("Match(%q) = %q, %v; want %q", q, c.Name, err, want)
		}
	}
	if _, err := Match(creds, "111111111111"); !errors.Is(err, ErrAmbiguous) || !strings.Contains(err.Error(), "AWS:bob@111111111111") {
		t.Errorf("ambiguous: %v", err)
	}
	if _, err := Match(creds, "carol"); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "GitHub:alice") {
		t.Errorf("not found: %v", err)
	}
	if _, err := Match(nil, "x"); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "holds no accounts") {
		t.Errorf("empty: %v", err)
	}
}

func TestStepBounds(t *testing.T) {
	tests := []struct {
		unix     int64
		period   time.Duration
		from, to int64
	}{
		{59, 30 * time.Second, 30, 60},
		{60, 30 * time.Second, 60, 90},
		{59, time.Minute, 0, 60},
		{59, 0, 30, 60},                       // under a second: the default
		{59, 1500 * time.Millisecond, 59, 60}, // whole seconds
		{-1, 30 * time.Second, -30, 0},        // floor before 1970
		{-31, 30 * time.Second, -60, -30},
	}
	for _, tc := range tests {
		from, to := stepBounds(time.Unix(tc.unix, 0), tc.period)
		if from.Unix() != tc.from || to.Unix() != tc.to {
			t.Errorf("stepBounds(%d, %v) = %d–%d, want %d–%d", tc.unix, tc.period, from.Unix(), to.Unix(), tc.from, tc.to)
		}
	}
}
