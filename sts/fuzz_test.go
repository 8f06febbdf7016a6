package sts

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/mfabridge/mfabridge/sts/awsconfig"
	"github.com/mfabridge/mfabridge/sts/stepcache"
)

func FuzzParseProfiles(f *testing.F) {
	f.Add([]byte(testConfig), []byte(testCredentials), "r1")
	f.Add([]byte("[profile a]\nrole_arn = arn:aws:iam::210987654321:role/a\nsource_profile = b\n[profile b]\nrole_arn = x\nsource_profile = a\n"), []byte(""), "a")
	f.Add([]byte("[services s]\nsts =\n  endpoint_url = http://127.0.0.1:1\n[profile a]\nservices = s\n"), []byte("[a]\naws_access_key_id=A\n"), "a")
	f.Add([]byte("\ufeff[default]\nmfa_serial=GAHT12345678 ; c\n"), []byte("[default]\naws_access_key_id = AKIA\naws_secret_access_key = s\n"), "")
	f.Fuzz(func(t *testing.T, config, creds []byte, name string) {
		c, err := awsconfig.ParseProfiles(config, creds, nil)
		if err != nil {
			var se *awsconfig.INISyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("untyped parse error %v", err)
			}
			return
		}
		for _, n := range append(c.Names(), name) {
			p, err := c.Resolve(n)
			if err != nil {
				var pe *awsconfig.ProfileError
				if !errors.As(err, &pe) {
					t.Fatalf("resolve %q: untyped error %v", n, err)
				}
				continue
			}
			if p.MFASerial == "" || p.Region == "" {
				t.Fatalf("resolved profile %q lacks serial or region: %+v", n, p)
			}
			if pl, err := MakePlan(p); err == nil {
				if pl.Touches() != 1 {
					t.Fatalf("plan of %q has %d touches", n, pl.Touches())
				}
				_ = pl.String()
			}
		}
	})
}

func FuzzParseProcessOutput(f *testing.F) {
	f.Add([]byte(`{"Version":1,"AccessKeyId":"ASIA1","SecretAccessKey":"s","SessionToken":"t","Expiration":"2026-11-22T07:31:11Z"}`))
	f.Add([]byte(`{"Version":1,"AccessKeyId":"AKIA1","SecretAccessKey":"s"}`))
	f.Add([]byte(`{"Version":2}`))
	f.Add([]byte(`{"Version":1,"AccessKeyId":"A","SecretAccessKey":"s","Expiration":"2026-11-22T07:31:11+00:00"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseProcessOutput(b)
		if err != nil {
			return
		}
		out := c.ProcessOutput()
		c2, err := ParseProcessOutput(out)
		if err != nil {
			t.Fatalf("round trip of %s: %v", out, err)
		}
		if c2.AccessKeyID != c.AccessKeyID || c2.SecretAccessKey != c.SecretAccessKey || c2.SessionToken != c.SessionToken ||
			!c2.Expiration.Equal(c.Expiration.Truncate(time.Second)) {
			t.Fatalf("round trip: %+v != %+v", c2, c)
		}
	})
}

func FuzzParseCacheEntry(f *testing.F) {
	f.Add([]byte(`{"version":1,"action":"AssumeRole","target":"arn:aws:iam::1:role/r","credentials":{"access_key_id":"A","secret_access_key":"s","session_token":"t","expiration":"2026-11-22T08:00:00Z"}}`))
	f.Add([]byte(`{"version":1,"action":"GetSessionToken","credentials":{"access_key_id":"A","secret_access_key":"s","expiration":"2026-11-22T08:00:00Z"},"mfa_time":"2026-11-22T07:00:00Z"}`))
	f.Add([]byte(`{"version":1,"action":"AssumeRole","credentials":{"access_key_id":"A\u00e9","secret_access_key":"s\ud800","expiration":"2026-11-22T08:00:00.5+05:30"},"extra":1}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := stepcache.ParseEntry(b)
		if err != nil {
			return
		}
		// What was accepted can be written back (put marshals it) and
		// reads back the same.
		out, err := json.Marshal(e)
		if err != nil {
			t.Fatalf("marshal accepted entry %+v: %v", e, err)
		}
		e2, err := stepcache.ParseEntry(out)
		if err != nil {
			t.Fatalf("round trip of %s: %v", out, err)
		}
		if !sameEntry(e, e2) {
			t.Fatalf("round trip: %+v != %+v", e2, e)
		}
	})
}

// sameEntry reports whether two cache entries hold the same values (times
// compared as instants, not by location).
func sameEntry(a, b *cacheEntry) bool {
	ca, cb := a.Credentials, b.Credentials
	return a.Version == b.Version && a.Action == b.Action && a.Target == b.Target &&
		ca.AccessKeyID == cb.AccessKeyID && ca.SecretAccessKey == cb.SecretAccessKey &&
		ca.SessionToken == cb.SessionToken && ca.Expiration.Equal(cb.Expiration) &&
		a.MFATime.Equal(b.MFATime)
}
