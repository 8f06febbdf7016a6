package device

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"
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
	for _, s := range []string{"yubikey", "yubikey:123", "sim:/a/b", "totp:env:X", "", "x:y", "process:op item get 'a:b' --otp"} {
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

// FuzzProcessCode: a code process's output is accepted only as one line
// of 6–8 digits (surrounding white space allowed), and a refusal never
// repeats the output (it may be a secret).
func FuzzProcessCode(f *testing.F) {
	for _, s := range []string{"123456\n", " 12345678 \r\n", "", "\n\n", "123456\n654321\n", "12345", "123456789",
		"hunter2hunter2", "１２３４５６", "123 456", strings.Repeat("1", 2000)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		b := &capBuffer{max: maxProcessStdout}
		// Written in two pieces, as a pipe may deliver it.
		b.Write([]byte(in[:len(in)/2]))
		b.Write([]byte(in[len(in)/2:]))
		code, detail := parseProcessCode(b)
		if detail != "" {
			if code != "" {
				t.Fatalf("refused (%s) but returned a code", detail)
			}
			if tin := strings.TrimSpace(in); len(tin) >= 12 && strings.Contains(detail, tin) {
				t.Fatalf("refusal repeats the output: %s", detail)
			}
			return
		}
		if len(code) < 6 || len(code) > 8 || strings.Trim(code, "0123456789") != "" || code != strings.TrimSpace(in) {
			t.Fatalf("accepted %q as the code %q", in, code)
		}
	})
}

// FuzzProcessStderr: what is shown of a process's stderr is printable,
// valid UTF-8, one line, and bounded, whatever it wrote.
func FuzzProcessStderr(f *testing.F) {
	for _, s := range []string{"error: locked\n", "\x1b[31mred\x1b[0m", "\xff\xfe", strings.Repeat("é", 3000), "a\r\nb\tc"} {
		f.Add(s, 3)
	}
	f.Fuzz(func(t *testing.T, in string, pieces int) {
		b := &capBuffer{max: maxProcessStderr, keepTail: true}
		n := pieces%7 + 1
		for i := 0; i < n; i++ {
			b.Write([]byte(in[i*len(in)/n : (i+1)*len(in)/n]))
		}
		s := b.shown()
		if !utf8.ValidString(s) || strings.ContainsAny(s, "\n\r\t\x1b") || utf8.RuneCountInString(s) > shownStderr+1 {
			t.Fatalf("shown %q", s)
		}
		if b.buf.Len() > maxProcessStderr {
			t.Fatalf("kept %d bytes", b.buf.Len())
		}
	})
}
