package awsconfig

import (
	"errors"
	"strings"
	"testing"
)

func TestParseKeyStore(t *testing.T) {
	for _, tc := range []struct {
		in     string
		kind   string
		serial uint32
		bad    bool
	}{
		{"keyring", KeyStoreKeyring, 0, false},
		{"age", KeyStoreAge, 0, false},
		{"piv:12345678", KeyStorePIV, 12345678, false},
		{"piv:", "", 0, true},
		{"piv:0", "", 0, true},
		{"piv:-1", "", 0, true},
		{"piv:99999999999", "", 0, true},
		{"vault", "", 0, true},
		{"Keyring", "", 0, true},
		{"", "", 0, true},
	} {
		kind, serial, err := ParseKeyStore(tc.in)
		if tc.bad {
			if !errors.Is(err, ErrBadProfileValue) || !strings.Contains(err.Error(), "keyring, age or piv:SERIAL") && !strings.Contains(err.Error(), "piv needs") {
				t.Errorf("%q: got %v, want ErrBadProfileValue with the choices", tc.in, err)
			}
			continue
		}
		if err != nil || kind != tc.kind || serial != tc.serial {
			t.Errorf("%q: got %q %d %v, want %q %d", tc.in, kind, serial, err, tc.kind, tc.serial)
		}
	}
}

// A source profile whose key is in a store has no aws_access_key_id in the
// credentials file; resolve accepts it, and the store wins over plaintext
// leftovers.
func TestResolveKeyStore(t *testing.T) {
	const config = `
[profile alice]
mfabridge_keys = age
mfa_serial = arn:aws:iam::111111111111:mfa/alice

[profile prod]
role_arn = arn:aws:iam::222222222222:role/R
source_profile = alice
mfa_serial = arn:aws:iam::111111111111:mfa/alice

[profile bob]
mfabridge_keys = piv:1234
mfa_serial = arn:aws:iam::111111111111:mfa/bob

[profile carol]
mfabridge_keys = vault
mfa_serial = arn:aws:iam::111111111111:mfa/carol
`
	const creds = `
[bob]
aws_access_key_id = AKIALEFTOVER00000001
aws_secret_access_key = leftover
`
	c, err := ParseProfiles([]byte(config), []byte(creds), nil)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]Source{
		"alice": {Profile: "alice", KeyStore: "age"},
		"prod":  {Profile: "alice", KeyStore: "age"},
		"bob":   {Profile: "bob", KeyStore: "piv:1234"},
	} {
		p, err := c.Resolve(name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if p.Source != want {
			t.Errorf("%s: source %+v, want %+v", name, p.Source, want)
		}
		if !p.Source.LongTerm() {
			t.Errorf("%s: a stored key must count as long-term", name)
		}
	}
	_, err = c.Resolve("carol")
	var pe *ProfileError
	if !errors.As(err, &pe) || pe.Profile != "carol" || !errors.Is(err, ErrBadProfileValue) {
		t.Fatalf("unknown store: got %v", err)
	}
}

func FuzzParseKeyStore(f *testing.F) {
	for _, s := range []string{"keyring", "age", "piv:12345678", "piv:", "piv:0", "piv:4294967296", "piv:+1", "vault", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		kind, serial, err := ParseKeyStore(v)
		if err != nil {
			if !errors.Is(err, ErrBadProfileValue) {
				t.Fatalf("%q: error %v is not ErrBadProfileValue", v, err)
			}
			return
		}
		switch kind {
		case KeyStoreKeyring, KeyStoreAge:
			if v != kind || serial != 0 {
				t.Fatalf("%q: got %q %d", v, kind, serial)
			}
		case KeyStorePIV:
			if serial == 0 || !strings.HasPrefix(v, "piv:") {
				t.Fatalf("%q: got piv serial %d", v, serial)
			}
		default:
			t.Fatalf("%q: unknown kind %q", v, kind)
		}
	})
}
