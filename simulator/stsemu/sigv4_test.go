package stsemu

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

func TestParseAuthHeaderErrors(t *testing.T) {
	date := time.Now().UTC().Format(amzDateFmt)
	cred := "Credential=" + aliceKey + "/" + date[:8] + "/us-east-1/sts/aws4_request"
	tests := []struct {
		name, authz, amzDate string
		status               int
		code, msg            string
	}{
		{"unsupported algorithm", "AWS4-ECDSA-P256-SHA256 " + cred, date, 400, "IncompleteSignature", "Unsupported AWS 'algorithm': 'AWS4-ECDSA-P256-SHA256'"},
		{"missing parts", "AWS4-HMAC-SHA256 " + cred, date, 400, "IncompleteSignature",
			"Authorization header requires 'Signature' parameter. Authorization header requires 'SignedHeaders' parameter."},
		{"missing date", "AWS4-HMAC-SHA256 " + cred + ", SignedHeaders=host, Signature=00", "", 400, "IncompleteSignature",
			"Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."},
		{"bad date", "AWS4-HMAC-SHA256 " + cred + ", SignedHeaders=host, Signature=00", "yesterday", 400, "IncompleteSignature", ""},
		{"malformed credential", "AWS4-HMAC-SHA256 Credential=AKIA/x, SignedHeaders=host, Signature=00", date, 400, "IncompleteSignature", ""},
		{"host not signed", "AWS4-HMAC-SHA256 " + cred + ", SignedHeaders=x-amz-date, Signature=00", date, 403, "SignatureDoesNotMatch",
			"'Host' must be a 'SignedHeader' in the AWS Authorization."},
		{"upper-case signed header", "AWS4-HMAC-SHA256 " + cred + ", SignedHeaders=Host, Signature=00", date, 400, "IncompleteSignature", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{"Authorization": {tt.authz}}
			if tt.amzDate != "" {
				h.Set("X-Amz-Date", tt.amzDate)
			}
			_, aerr := parseRequest(http.MethodPost, &url.URL{Path: "/"}, h, nil)
			if aerr == nil {
				t.Fatal("parsed")
			}
			if aerr.Status != tt.status || aerr.Code != tt.code || (tt.msg != "" && aerr.Message != tt.msg) {
				t.Errorf("got %d %s %q, want %d %s %q", aerr.Status, aerr.Code, aerr.Message, tt.status, tt.code, tt.msg)
			}
		})
	}
}

func TestCheckScope(t *testing.T) {
	now := time.Date(2026, 11, 22, 7, 30, 0, 0, time.UTC)
	mk := func(t time.Time, scopeDate, region, service string) *sigV4Auth {
		return &sigV4Auth{AmzDate: t, AmzDateRaw: t.Format(amzDateFmt), ScopeDate: scopeDate, Region: region, Service: service}
	}
	presigned := func(a *sigV4Auth, expires time.Duration) *sigV4Auth {
		a.Presigned, a.Expires = true, expires
		return a
	}
	tests := []struct {
		name string
		a    *sigV4Auth
		msg  string // "" = ok
	}{
		{"ok", mk(now, "20261122", "us-east-1", "sts"), ""},
		{"service", mk(now, "20261122", "us-east-1", "s3"), "Credential should be scoped to correct service: 'sts'. "},
		{"region", mk(now, "20261122", "eu-west-1", "sts"), "Credential should be scoped to a valid region, not 'eu-west-1'. "},
		{"scope date", mk(now, "20261121", "us-east-1", "sts"), "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '20261121' != '20261122', from '20261122T073000Z'."},
		{"expired", mk(now.Add(-16*time.Minute), "20261122", "us-east-1", "sts"), "Signature expired: 20261122T071400Z is now earlier than 20261122T071500Z (20261122T073000Z - 15 min.)"},
		{"future", mk(now.Add(16*time.Minute), "20261122", "us-east-1", "sts"), "Signature not yet current: 20261122T074600Z is still later than 20261122T074500Z (20261122T073000Z + 15 min.)"},
		{"edge of window", mk(now.Add(-15*time.Minute), "20261122", "us-east-1", "sts"), ""},
		{"presigned future", presigned(mk(now.Add(16*time.Minute), "20261122", "us-east-1", "sts"), time.Hour), "Signature not yet current: 20261122T074600Z is still later than 20261122T074500Z (20261122T073000Z + 15 min.)"},
		{"presigned older than the skew, not expired", presigned(mk(now.Add(-20*time.Minute), "20261122", "us-east-1", "sts"), time.Hour), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			aerr := tt.a.checkScope("us-east-1", now)
			switch {
			case tt.msg == "" && aerr != nil:
				t.Errorf("unexpected %v", aerr)
			case tt.msg != "" && (aerr == nil || aerr.Message != tt.msg || aerr.Code != "SignatureDoesNotMatch"):
				t.Errorf("got %v, want SignatureDoesNotMatch %q", aerr, tt.msg)
			}
		})
	}
}

func TestURIEncode(t *testing.T) {
	tests := []struct {
		in          string
		encodeSlash bool
		want        string
	}{
		{"abc-_.~XYZ09", true, "abc-_.~XYZ09"},
		{"a b", true, "a%20b"},
		{"a/b", true, "a%2Fb"},
		{"a/b", false, "a/b"},
		{"arn:aws:iam::1:mfa/a+b=c", true, "arn%3Aaws%3Aiam%3A%3A1%3Amfa%2Fa%2Bb%3Dc"},
		{"é", true, "%C3%A9"},
	}
	for _, tt := range tests {
		if got := uriEncode(tt.in, tt.encodeSlash); got != tt.want {
			t.Errorf("uriEncode(%q, %v) = %q, want %q", tt.in, tt.encodeSlash, got, tt.want)
		}
	}
}

func TestPresignedExpired(t *testing.T) {
	h := newHarness(t, "world.json")
	req, _ := http.NewRequest(http.MethodGet, h.url+"/?Action=GetCallerIdentity&Version=2011-06-15&X-Amz-Expires=60", nil)
	signed, _, err := v4.NewSigner().PresignHTTP(ctx, aws.Credentials{AccessKeyID: aliceKey, SecretAccessKey: aliceSecret}, req,
		"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "sts", "us-east-1", time.Now().Add(-2*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(signed)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 403 || !strings.Contains(string(b), "Request has expired") {
		t.Errorf("expired presigned URL: %d %s", resp.StatusCode, b)
	}
}

// A config survives a JSON round trip (policies marshal as written), and a
// config built in Go with ParsePolicy works with New.
func TestConfigRoundTripAndGoBuilt(t *testing.T) {
	cfg, err := LoadConfig("testdata/world.json")
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	again, err := ParseConfig(b)
	if err != nil {
		t.Fatalf("re-parse: %v", err)
	}
	b2, err := json.Marshal(again)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != string(b2) {
		t.Errorf("round trip changed the config:\n%s\n%s", b, b2)
	}
	if got, want := again.Accounts[1].Roles[0].TrustPolicy.Statements, cfg.Accounts[1].Roles[0].TrustPolicy.Statements; !reflect.DeepEqual(got, want) {
		t.Errorf("trust statements after round trip = %+v, want %+v", got, want)
	}

	trust, err := ParsePolicy([]byte(okTrust), true)
	if err != nil {
		t.Fatal(err)
	}
	built := &Config{Accounts: []Account{{ID: "111111111111",
		Users: []User{{Name: "u", AccessKeys: []AccessKey{{ID: "AKIAUUUUUUUUUUUUUUUU", Secret: "0123456789abcdef0123"}}}},
		Roles: []Role{{Name: "r", TrustPolicy: *trust}}}}}
	s, err := New(built)
	if err != nil {
		t.Fatal(err)
	}
	if s.Region() != "us-east-1" {
		t.Errorf("default region = %q", s.Region())
	}
	if _, err := New(&Config{Accounts: []Account{{ID: "1"}}}); err == nil {
		t.Error("New accepted an invalid Go-built config")
	}
}
