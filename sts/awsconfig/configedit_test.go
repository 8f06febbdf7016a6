package awsconfig

import (
	"errors"
	"strings"
	"testing"
)

func TestSetProfileKeys(t *testing.T) {
	set := []Setting{{"mfa_serial", "arn:aws:iam::111111111111:mfa/new"}, {"mfabridge_account", "AWS:new@111111111111"}}
	cases := []struct {
		name, profile, in, want string
	}{
		{"append at the end of the section, before the blank line", "alice",
			"[profile alice]\nregion = us-east-1\n\n[profile bob]\nregion = x\n",
			"[profile alice]\nregion = us-east-1\nmfa_serial = arn:aws:iam::111111111111:mfa/new\nmfabridge_account = AWS:new@111111111111\n\n[profile bob]\nregion = x\n"},
		{"replace in place, keep spacing, case and inline comment", "alice",
			"[profile alice]\nMFA_Serial=old # the old one\nregion = us-east-1\nmfabridge_account   =  x\n",
			"[profile alice]\nMFA_Serial=arn:aws:iam::111111111111:mfa/new # the old one\nregion = us-east-1\nmfabridge_account   =  AWS:new@111111111111\n"},
		{"CRLF and no final newline", "alice",
			"[profile alice]\r\nregion = us-east-1",
			"[profile alice]\r\nregion = us-east-1\r\nmfa_serial = arn:aws:iam::111111111111:mfa/new\r\nmfabridge_account = AWS:new@111111111111\r\n"},
		{"missing section appended", "carol",
			"# header\n[profile alice]\nregion = us-east-1\n",
			"# header\n[profile alice]\nregion = us-east-1\n\n[profile carol]\nmfa_serial = arn:aws:iam::111111111111:mfa/new\nmfabridge_account = AWS:new@111111111111\n"},
		{"default section", "default",
			"[default]\nregion = us-east-1\n[profile default2]\n",
			"[default]\nregion = us-east-1\nmfa_serial = arn:aws:iam::111111111111:mfa/new\nmfabridge_account = AWS:new@111111111111\n[profile default2]\n"},
		{"indented sub-keys are not top-level keys", "alice",
			"[profile alice]\ns3 =\n  mfa_serial = nested\n",
			"[profile alice]\ns3 =\n  mfa_serial = nested\nmfa_serial = arn:aws:iam::111111111111:mfa/new\nmfabridge_account = AWS:new@111111111111\n"},
		{"a similar name is another profile", "alice",
			"[profile alice2]\nmfa_serial = keep\n",
			"[profile alice2]\nmfa_serial = keep\n\n[profile alice]\nmfa_serial = arn:aws:iam::111111111111:mfa/new\nmfabridge_account = AWS:new@111111111111\n"},
		{"empty file", "alice", "",
			"[profile alice]\nmfa_serial = arn:aws:iam::111111111111:mfa/new\nmfabridge_account = AWS:new@111111111111\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := SetProfileKeys([]byte(tc.in), tc.profile, set)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("got:\n%q\nwant:\n%q", got, tc.want)
			}
			cfg, err := ParseProfiles(got, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range set {
				if v, _ := cfg.Value(tc.profile, s.Key); v != s.Value {
					t.Errorf("%s = %q after the edit", s.Key, v)
				}
			}
		})
	}
	if _, err := SetProfileKeys(nil, "a", []Setting{{"k", "v\n[evil]"}}); err == nil {
		t.Error("a value with a line break was accepted")
	}
}

func TestReplaceMFASerial(t *testing.T) {
	in := "[profile a]\nmfa_serial = OLD\n[profile b]\nmfa_serial = OTHER\n[default]\nmfa_serial = OLD ; c\nmfabridge_account = x\n"
	out, changed, err := ReplaceMFASerial([]byte(in), "OLD", "NEW", "acct")
	if err != nil {
		t.Fatal(err)
	}
	want := "[profile a]\nmfa_serial = NEW\nmfabridge_account = acct\n[profile b]\nmfa_serial = OTHER\n[default]\nmfa_serial = NEW ; c\nmfabridge_account = acct\n"
	if string(out) != want || strings.Join(changed, ",") != "a,default" {
		t.Errorf("got %q %v", out, changed)
	}
}

// FuzzSetProfileKeys: on any parseable input, the edit keeps every
// original line (in order) and the parser then reads the new values.
func FuzzSetProfileKeys(f *testing.F) {
	f.Add([]byte("[profile alice]\nregion = us-east-1\n\n[profile bob]\n"), "alice")
	f.Add([]byte("[default]\r\nmfa_serial=x # c\r\n"), "default")
	f.Add([]byte("s3 =\n  a = b\n"), "x")
	f.Add([]byte(""), "p")
	f.Fuzz(func(t *testing.T, data []byte, profile string) {
		if _, err := ParseProfiles(data, nil, nil); err != nil {
			return
		}
		set := []Setting{{"mfa_serial", "arn:aws:iam::1:mfa/z"}, {"mfabridge_account", "A:z"}}
		out, err := SetProfileKeys(data, profile, set)
		if err != nil {
			return // a profile name SetProfileKeys refuses
		}
		// Every line not carrying an edited key survives byte for byte, in order.
		lines := func(b []byte) []string {
			ls := strings.Split(string(b), "\n")
			for i := range ls {
				ls[i] = strings.TrimSuffix(ls[i], "\r")
			}
			return ls
		}
		outLines := lines(out)
		i := 0
		for _, l := range lines(data) {
			k := strings.ToLower(strings.TrimSpace(l))
			if strings.HasPrefix(k, "mfa_serial") || strings.HasPrefix(k, "mfabridge_account") {
				continue
			}
			for i < len(outLines) && outLines[i] != l {
				i++
			}
			if i == len(outLines) {
				t.Fatalf("line %q lost in the edit of %q:\n%q", l, data, out)
			}
			i++
		}
		cfg, err := ParseProfiles(out, nil, nil)
		if err != nil {
			t.Fatalf("edited file does not parse: %v\n%q", err, out)
		}
		for _, s := range set {
			if v, _ := cfg.Value(profile, s.Key); v != s.Value {
				t.Fatalf("%s = %q after the edit of %q:\n%q", s.Key, v, data, out)
			}
		}
	})
}

func TestIAMEndpointAndResolveSource(t *testing.T) {
	config := "[profile a]\nendpoint_url = http://profile\n[profile b]\nservices = local\n[services local]\niam =\n  endpoint_url = http://services-iam\nsts =\n  endpoint_url = http://services-sts\n"
	creds := "[a]\naws_access_key_id = AKIAAAAAAAAAAAAAAAAA\naws_secret_access_key = s\n[b]\naws_access_key_id = AKIAAAAAAAAAAAAAAAAA\naws_secret_access_key = s\n"
	cases := []struct {
		profile string
		env     map[string]string
		iam     string
		sts     string
	}{
		{"a", nil, "http://profile", "http://profile"},
		{"a", map[string]string{"AWS_ENDPOINT_URL": "http://global"}, "http://global", "http://global"},
		{"a", map[string]string{"AWS_ENDPOINT_URL": "http://global", "AWS_ENDPOINT_URL_IAM": "http://iam"}, "http://iam", "http://global"},
		{"b", nil, "http://services-iam", "http://services-sts"},
	}
	for _, tc := range cases {
		c := mustConfig(t, config, creds, tc.env)
		p, err := c.ResolveSource(tc.profile)
		if err != nil {
			t.Fatal(err)
		}
		if p.IAMEndpoint != tc.iam || p.Endpoint != tc.sts || p.MFASerial != "" {
			t.Errorf("%s %v: iam %q sts %q serial %q", tc.profile, tc.env, p.IAMEndpoint, p.Endpoint, p.MFASerial)
		}
		if _, err := c.Resolve(tc.profile); !errors.Is(err, ErrNoMFASerial) {
			t.Errorf("Resolve without mfa_serial: %v", err)
		}
	}
}

// keys remove deletes the mfabridge_keys line of the profile's section
// only: every other byte stays, other profiles keep theirs.
func TestRemoveProfileKeys(t *testing.T) {
	for _, tc := range []struct {
		name, profile, in, want string
		n                       int
	}{
		{"lf", "alice", "[profile alice]\nregion = x\nmfabridge_keys = piv:5\n\n[profile bob]\nmfabridge_keys = keyring\n",
			"[profile alice]\nregion = x\n\n[profile bob]\nmfabridge_keys = keyring\n", 1},
		{"crlf, comment, no final eol", "alice", "# c\r\n[ profile  alice ]\r\nMFABRIDGE_KEYS: age ; moved\r\n; note\r\nregion = x",
			"# c\r\n[ profile  alice ]\r\n; note\r\nregion = x", 1},
		{"credentials-style section is not the profile", "alice", "[alice]\nmfabridge_keys = age\n", "[alice]\nmfabridge_keys = age\n", 0},
		{"default has two names", "default", "[default]\nmfabridge_keys = age\n[profile default]\nregion = x\n", "[default]\n[profile default]\nregion = x\n", 1},
		{"absent", "alice", "[profile alice]\nregion = x\n", "[profile alice]\nregion = x\n", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, n, err := RemoveProfileKeys([]byte(tc.in), tc.profile, KeysKey)
			if err != nil || string(out) != tc.want || n != tc.n {
				t.Fatalf("got %q (%d, %v), want %q (%d)", out, n, err, tc.want, tc.n)
			}
		})
	}
	// a file that no longer parses after the edit is refused
	if _, _, err := RemoveProfileKeys([]byte("[profile a]\nmfabridge_keys = age\n[profile a]\nx = 1\n"), "a", KeysKey); err == nil {
		t.Error("a repeated section was accepted")
	}
}
