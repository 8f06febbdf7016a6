package stepcache

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

// Entries as the cache holds them (testdata of a real run).
var seedEntries = []string{
	`{"version":1,"action":"AssumeRole","target":"arn:aws:iam::222222222222:role/R0","credentials":{"access_key_id":"ASIAOL5XZH5NLFYIAD5M","secret_access_key":"A4y++QdSTzm+TPYKyP3PuZbX7qP55inmFQQ/9gbS","session_token":"IQoJb3JpZ2luX2VjENIK9I1hcoxgyJ737fYCvPKzpiInIzzIP/771x0OWrwEwktJYBI3/oc662OrqD4I0wfQ2TfGjh2Ub7k+M5/MgTjs3lMm9Ejti3DWPj+kv6h8C2lcRIQXEfgUfYHP6k92Q","expiration":"2026-12-02T11:47:56Z"},"for":{"action":"AssumeRole","role_arn":"arn:aws:iam::222222222222:role/R0","session_name":"mfabridge-alice","duration":3600,"caller":"step:b46eba33bdf1df6d144f4948042cd1f74c193d43828c1732fa025910b4479e32"}}`,
	`{"version":1,"action":"GetSessionToken","target":"arn:aws:iam::111111111111:mfa/alice","credentials":{"access_key_id":"ASIA6MHA73MP4IXMBXFP","secret_access_key":"e0jKpperWzOj41/vsuKzoJ5Tw9gC/2wkROie8jTo","session_token":"IQoJb3JpZ2luX2VjEwcYR+Kc0YhA7DhGV3XoVes2D1GqI2oYjBeXdD0U9bGczL3tAVfmr8RxhmVM9cWWGNhtAzCY9XTkNuqM6GgoajhdOSik5oN3UgoW0/pXfdbKcMaLSGwIKhZ5Vza9+2LGe","expiration":"2026-12-02T22:47:56Z"},"mfa_time":"2026-12-02T10:47:56.748753343Z","for":{"action":"GetSessionToken","serial":"arn:aws:iam::111111111111:mfa/alice","mfa":true,"caller":"key:AKIAALICE00000000001"}}`,
	`{"version":1,"action":"AssumeRole","target":"r","credentials":{"access_key_id":"a","secret_access_key":"s","expiration":"2026-12-02T11:47:56+02:00"}}`,
	`{"version":1,"action":"AssumeRole","target":"r","credentials":{"access_key_id":"a","secret_access_key":"s"},"for":{"action":"AssumeRole","role_arn":"x","external_id":"e<&>","duration":-5,"caller":"c"}}`,
	`{"version":1,"action":"AssumeRole","target":"r","credentials":{"access_key_id":"a","secret_access_key":"s\u003c"}}`,
	`{"version":1 ,"action":"A","target":"","credentials":{"access_key_id":"","secret_access_key":""}}`,
	`{"version":1,"action":"A","target":"","credentials":{"access_key_id":"","secret_access_key":""},"for":{"action":"A","duration":00,"caller":""}} `,
}

// FuzzParseCanonical: what the reflection-free reader accepts, it reads
// as encoding/json does.
func FuzzParseCanonical(f *testing.F) {
	for _, s := range seedEntries {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, ok := parseCanonical(b)
		if !ok {
			if !reflect.DeepEqual(got, Entry{}) {
				t.Fatalf("refused %q but returned %+v", b, got)
			}
			return
		}
		var want Entry
		if err := json.Unmarshal(b, &want); err != nil {
			t.Fatalf("accepted %q, which encoding/json refuses: %v", b, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%q:\n got %+v\nwant %+v", b, got, want)
		}
	})
}

// TestParseCanonicalReadsWhatWeWrite: every entry mfabridge writes (plain
// strings, any set of optional fields) takes the reflection-free path.
func TestParseCanonicalReadsWhatWeWrite(t *testing.T) {
	exp := time.Date(2026, 12, 2, 11, 47, 56, 0, time.UTC)
	for i, e := range []Entry{
		{Version: 1, Action: ActionAssumeRole, Target: "arn:aws:iam::2:role/R", Credentials: Credentials{AccessKeyID: "ASIA", SecretAccessKey: "s+/=", SessionToken: "t", Expiration: exp},
			For: &StepKey{Action: ActionAssumeRole, RoleARN: "arn:aws:iam::2:role/R", ExternalID: "x", SessionName: "n", Duration: 3600, Caller: "step:ab"}},
		{Version: 1, Action: ActionGetSessionToken, Target: "arn:aws:iam::1:mfa/a", Credentials: Credentials{AccessKeyID: "ASIA", SecretAccessKey: "s", SessionToken: "t", Expiration: exp},
			MFATime: exp.Add(-time.Hour + 123456789), For: &StepKey{Action: ActionGetSessionToken, Serial: "arn:aws:iam::1:mfa/a", MFA: true, Caller: "key:AKIA"}},
		{Version: 1, Action: ActionAssumeRole, Credentials: Credentials{AccessKeyID: "a", SecretAccessKey: "s", Expiration: exp}},
		{Version: 1, Action: ActionAssumeRole, Credentials: Credentials{AccessKeyID: "a", SecretAccessKey: "s"}, For: &StepKey{Duration: -1}},
	} {
		b, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := parseCanonical(b)
		if !ok {
			t.Errorf("%d: %s: not read by parseCanonical", i, b)
			continue
		}
		if !reflect.DeepEqual(got, e) {
			t.Errorf("%d: got %+v, want %+v", i, got, e)
		}
	}
}

// FuzzAppendJSONString: the same bytes as json.Marshal.
func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", "plain arn:aws:iam::1:role/x+=,.@-", `q"b\s`, "<&>", "\x00\x1f\b\f\n\r\t\x7f", "é \u2028 \u2029 \xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendJSONString(nil, s); string(got) != string(want) {
			t.Fatalf("%q: got %s, want %s", s, got, want)
		}
	})
}

// reflectedProcessOutput is ProcessOutput through encoding/json, as it
// was written before it went without reflection.
func reflectedProcessOutput(c Credentials) ([]byte, error) {
	out := struct {
		Version         int    `json:"Version"`
		AccessKeyID     string `json:"AccessKeyId"`
		SecretAccessKey string `json:"SecretAccessKey"`
		SessionToken    string `json:"SessionToken,omitempty"`
		Expiration      string `json:"Expiration,omitempty"`
	}{1, c.AccessKeyID, c.SecretAccessKey, c.SessionToken, ""}
	if !c.Expiration.IsZero() {
		out.Expiration = c.Expiration.UTC().Format(time.RFC3339)
	}
	return json.Marshal(out)
}

// FuzzProcessOutput: the credential_process JSON is what encoding/json
// writes for it.
func FuzzProcessOutput(f *testing.F) {
	f.Add("ASIAOL5XZH5NLFYIAD5M", "A4y++QdSTzm+TPYKyP3PuZbX7qP55inmFQQ/9gbS", "IQoJb3JpZ2lu/+=", int64(1796212076), int64(0))
	f.Add("", "", "", int64(0), int64(0))
	f.Add("a<b", "\"", "\u2028", int64(-62135596800), int64(1))
	f.Fuzz(func(t *testing.T, id, secret, token string, sec, nsec int64) {
		c := Credentials{AccessKeyID: id, SecretAccessKey: secret, SessionToken: token}
		if sec != 0 || nsec != 0 {
			c.Expiration = time.Unix(sec, nsec)
		}
		want, err := reflectedProcessOutput(c)
		if err != nil {
			t.Fatal(err) // a struct of strings and an int always encodes
		}
		if got := c.ProcessOutput(); string(got) != string(want) {
			t.Fatalf("%+v: got %s, want %s", c, got, want)
		}
	})
}

// FuzzStepCacheKey: the key of a step is CacheKey's.
func FuzzStepCacheKey(f *testing.F) {
	f.Add("AssumeRole", "", "arn:aws:iam::2:role/R0", "", "alice", int64(3600), false, "step:x")
	f.Add("GetSessionToken", "arn:aws:iam::1:mfa/a", "", "x<y>&z", "", int64(0), true, "process:p:/bin/echo \"{}\"\n")
	f.Fuzz(func(t *testing.T, action, serial, role, ext, session string, d int64, mfa bool, caller string) {
		k := StepKey{Action: Action(action), Serial: serial, RoleARN: role, ExternalID: ext, SessionName: session, Duration: d, MFA: mfa, Caller: caller}
		if got, want := stepCacheKey(k), CacheKey(k); got != want {
			t.Fatalf("%+v: %s, CacheKey %s", k, got, want)
		}
	})
}
