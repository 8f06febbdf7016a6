package stsemu

import (
	"bytes"
	"encoding/xml"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"
)

func FuzzParseConfig(f *testing.F) {
	for _, name := range []string{"testdata/example.json", "testdata/world.json"} {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(cfgWith(okPolicy, okTrust)))
	f.Add([]byte(`{"accounts": [{"id": "111111111111", "roles": [{"name": "r", "trust_policy": "{\"Statement\": {}}"}]}]}`))
	f.Add([]byte(`{"accounts": [{"id": "111111111111",}],}`))
	f.Add([]byte(`{"accounts": [{"id": "111111111111"}]} trailing`))
	f.Add([]byte(`[1, 2, "x",]`))
	f.Add([]byte(`"\"`))
	f.Fuzz(func(t *testing.T, b []byte) {
		cfg, err := ParseConfig(b)
		if err != nil {
			if cfg != nil {
				t.Fatal("config returned with an error")
			}
			return
		}
		// A config that parses must build a server.
		if _, err := New(cfg); err != nil {
			t.Fatalf("parsed config rejected by New: %v", err)
		}
	})
}

func FuzzParseRequest(f *testing.F) {
	now := time.Now().UTC()
	auth := "AWS4-HMAC-SHA256 Credential=" + aliceKey + "/" + now.Format("20060102") + "/us-east-1/sts/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=" + strings.Repeat("ab", 32)
	f.Add("POST", "", "Action=GetCallerIdentity&Version=2011-06-15", "application/x-www-form-urlencoded", auth, now.Format(amzDateFmt), "")
	f.Add("POST", "", "Action=AssumeRole&RoleArn=arn%3Aaws%3Aiam%3A%3A222222222222%3Arole%2FX&RoleSessionName=s&SerialNumber=GAHT12345678&TokenCode=123456&Version=2011-06-15",
		"application/x-www-form-urlencoded; charset=utf-8", auth, now.Format(amzDateFmt), "token")
	f.Add("GET", "Action=GetCallerIdentity&Version=2011-06-15&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential="+aliceKey+"%2F20261122%2Fus-east-1%2Fsts%2Faws4_request&X-Amz-Date=20261122T070000Z&X-Amz-SignedHeaders=host&X-Amz-Signature=00&X-Amz-Expires=60",
		"", "", "", "", "")
	f.Add("POST", "", "%zz", "text/plain", "AWS4-HMAC-SHA256", "garbage", "")
	f.Add("POST", "", "", "", "AWS4-HMAC-SHA256 Credential=/, SignedHeaders=;;, Signature=", "", "")
	f.Add("GET", "a=%", "", "", "Basic xyz", "20261122T070000Z", "")

	cfg, err := LoadConfig("testdata/world.json")
	if err != nil {
		f.Fatal(err)
	}
	srv, err := New(cfg)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, method, rawQuery, body, contentType, authz, amzDate, token string) {
		u := &url.URL{Path: "/", RawQuery: rawQuery}
		h := http.Header{}
		if contentType != "" {
			h.Set("Content-Type", contentType)
		}
		if authz != "" {
			h.Set("Authorization", authz)
		}
		if amzDate != "" {
			h.Set("X-Amz-Date", amzDate)
		}
		if token != "" {
			h.Set("X-Amz-Security-Token", token)
		}
		q, aerr := parseRequest(method, u, h, []byte(body))
		if aerr == nil && q.Auth != nil {
			_ = q.Auth.checkScope("us-east-1", now)
			_ = q.Auth.verify(method, u, "127.0.0.1", h, int64(len(body)), []byte(body), aliceSecret)
		}
		if aerr != nil && (aerr.Status < 400 || aerr.Code == "" || aerr.Message == "") {
			t.Fatalf("malformed error %+v", aerr)
		}

		// The whole handler must answer every request with a well-formed
		// XML document and a 4xx status (nothing here is signed right).
		if !validMethod(method) {
			return
		}
		req := httptest.NewRequest(method, "http://127.0.0.1/", bytes.NewReader([]byte(body)))
		req.URL.RawQuery = rawQuery
		req.Header = h
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		if rec.Code < 400 || rec.Code >= 500 {
			t.Fatalf("status %d for an unsigned request; body %s", rec.Code, rec.Body)
		}
		var er errorResponse
		if err := xml.Unmarshal(rec.Body.Bytes(), &er); err != nil || er.Error.Code == "" {
			t.Fatalf("bad error body %q: %v", rec.Body, err)
		}
	})
}

func validMethod(m string) bool {
	if m == "" {
		return false
	}
	for _, c := range m {
		if c < 'A' || c > 'Z' {
			return false
		}
	}
	return true
}

func FuzzPolicy(f *testing.F) {
	seeds := []string{
		okPolicy, okTrust,
		`{"Version":"2012-10-17","Statement":[{"Action":["ec2:TerminateInstances","dynamodb:DeleteTable"],"Effect":"Allow","Resource":"*"}]}`,
		`{"Statement": {"Effect": "Allow", "Principal": {"AWS": ["111111111111", "arn:aws:iam::111111111111:root"]}, "Action": "sts:AssumeRole", "Condition": {"Bool": {"aws:MultiFactorAuthPresent": true}}}}`,
		`{"Statement": [{"Effect": "Deny", "NotAction": "iam:*", "NotResource": ["a*", "?b"], "Condition": {"NumericLessThanIfExists": {"aws:MultiFactorAuthAge": [1, "2.5"]}}}]}`,
		`{"Statement": []}`, `{"Statement": {"Effect": "Allow", "Action": 5}}`, `[]`, `"x"`, `{"Statement": {"Condition": {"Bool": []}}}`,
	}
	for _, s := range seeds {
		f.Add([]byte(s), "sts:AssumeRole", "arn:aws:iam::222222222222:role/R", "true", "30", true)
		f.Add([]byte(s), "ec2:TerminateInstances", "*", "", "", false)
	}
	f.Fuzz(func(t *testing.T, doc []byte, action, resource, present, age string, trust bool) {
		p, err := ParsePolicy(doc, trust)
		if err != nil {
			if p != nil {
				t.Fatal("policy returned with an error")
			}
			return
		}
		ctx := map[string]string{}
		if present != "" {
			ctx[keyMFAPresent] = present
		}
		if age != "" {
			ctx[keyMFAAge] = age
		}
		req := evalRequest{Action: action, Resource: resource, Context: ctx}
		if trust {
			req.Principal = &principalInfo{Account: "111111111111", Entity: "arn:aws:iam::111111111111:user/alice"}
		}
		evaluate([]*Policy{p}, req) // must not panic on any parsed policy
		// Adding a Deny-everything policy must always yield explicit deny.
		deny, err := ParsePolicy([]byte(`{"Statement": {"Effect": "Deny", "Action": "*", "Resource": "*"}}`), false)
		if err != nil {
			t.Fatal(err)
		}
		if !trust {
			if got := evaluate([]*Policy{p, deny}, req); got != explicitDeny {
				t.Fatalf("deny-all did not win: %v", got)
			}
		}
	})
}
