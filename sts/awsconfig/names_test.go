package awsconfig

import (
	"regexp"
	"strings"
	"testing"
)

// The hand-written matchers must accept exactly what the AWS patterns
// they replace accept.
var nameREs = []struct {
	name string
	m    charRun
	re   *regexp.Regexp
}{
	{"mfa_serial", serialRE, regexp.MustCompile(`^[\w+=/:,.@-]{9,256}$`)},
	{"role_session_name", sessionNameRE, regexp.MustCompile(`^[\w+=,.@-]{2,64}$`)},
}

func TestCharRunMatchesRegexp(t *testing.T) {
	inputs := []string{
		"", "a", "ab", "arn:aws:iam::123456789012:mfa/alice", "GAHT12345678", "12345678", "123456789",
		"alice@example.com", "a b", "alice\n", "\nalice-session", "alice-session\n", "é-session",
		"arn:aws:iam::123456789012:mfa/alice$", "role*", "a/b", "a:b", "x_y", "x+y=z,w.v@u-t",
		strings.Repeat("a", 64), strings.Repeat("a", 65), strings.Repeat("s", 256), strings.Repeat("s", 257),
		strings.Repeat("é", 5), "\x00abcdefghij", "abcdefghij\x7f", "abc\u00a0defghij",
	}
	for _, n := range nameREs {
		for _, s := range inputs {
			if got, want := n.m.MatchString(s), n.re.MatchString(s); got != want {
				t.Errorf("%s %q: matcher says %v, regexp %v", n.name, s, got, want)
			}
		}
	}
	// Every single byte in the middle of a valid value.
	for c := range 256 {
		s := "abcd" + string([]byte{byte(c)}) + "efghij"
		for _, n := range nameREs {
			if got, want := n.m.MatchString(s), n.re.MatchString(s); got != want {
				t.Errorf("%s byte %#x: matcher says %v, regexp %v", n.name, c, got, want)
			}
		}
	}
}

func FuzzCharRun(f *testing.F) {
	for _, s := range []string{"arn:aws:iam::123456789012:mfa/alice", "alice-session", "a b", "é", strings.Repeat("z", 257)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, n := range nameREs {
			if got, want := n.m.MatchString(s), n.re.MatchString(s); got != want {
				t.Errorf("%s %q: matcher says %v, regexp %v", n.name, s, got, want)
			}
		}
	})
}
