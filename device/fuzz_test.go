package device

import (
	"bytes"
	"strings"
	"testing"
)

// FuzzParseSecret: any input parses or fails with ErrBadSecret, never
// panics, and an error never echoes the input (it may be a secret).
func FuzzParseSecret(f *testing.F) {
	for _, s := range []string{
		"JBSWY3DPEHPK3PXP", "jbsw y3dp ehpk 3pxp", "", "====",
		"otpauth://totp/ACME:alice?secret=JBSWY3DPEHPK3PXP&issuer=ACME&period=60&digits=8&algorithm=SHA512",
		"otpauth://hotp/bob?secret=JBSWY3DPEHPK3PXP&counter=42",
		"otpauth://totp/x?secret=%ZZ", "otpauth://", "otpauth:%",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		sec, err := ParseSecret(in)
		if err != nil {
			// Judge the trimmed input: "0" plus spaces is not a secret
			// that "position 0" echoes (regression seed 67d9991dd43c836b).
			if tin := strings.TrimSpace(in); len(tin) >= 12 && strings.Contains(err.Error(), tin) {
				t.Errorf("error echoes the input: %v", err)
			}
			return
		}
		if len(sec.Key) == 0 {
			t.Errorf("parsed %q to an empty key", in)
		}
	})
}

// FuzzParseSpec never panics, and a parsed spec formats back to itself.
func FuzzParseSpec(f *testing.F) {
	for _, s := range []string{"yubikey", "yubikey:123", "sim:/a/b", "totp:env:X", "", "x:y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		s, err := ParseSpec(in)
		if err != nil {
			return
		}
		again, err := ParseSpec(s.String())
		if err != nil || again != s {
			t.Errorf("round trip %q → %q → %+v, %v", in, s.String(), again, err)
		}
	})
}

func FuzzMatchAccount(f *testing.F) {
	f.Add("arn:aws:iam::123456789012:mfa/alice", "Amazon Web Services:alice@123456789012\nGitHub:alice")
	f.Add("GAHT12345678", "x GAHT12345678")
	f.Fuzz(func(t *testing.T, serial, names string) {
		list := bytes.Split([]byte(names), []byte("\n"))
		ns := make([]string, len(list))
		for i, n := range list {
			ns[i] = string(n)
		}
		acc, _, err := MatchAccount(serial, ns)
		if err == nil {
			found := false
			for _, n := range ns {
				found = found || n == acc
			}
			if !found {
				t.Fatalf("chose %q, not on the device", acc)
			}
		}
	})
}
