package stsemu

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

type rawCreds struct{ id, secret, token string }

var aliceRaw = rawCreds{aliceKey, aliceSecret, ""}

// rawCall signs a form POST (or a GET with the form as query) with the SDK
// signer at signTime and returns status, error code and body.
func rawCall(t *testing.T, h *harness, method string, form url.Values, cr rawCreds, signTime time.Time) (int, string, string) {
	t.Helper()
	enc := form.Encode()
	var req *http.Request
	var err error
	if method == http.MethodGet {
		req, err = http.NewRequest(method, h.url+"/?"+enc, nil)
	} else {
		req, err = http.NewRequest(method, h.url+"/", strings.NewReader(enc))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	}
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(enc)
	if method == http.MethodGet {
		body = nil
	}
	sum := sha256.Sum256(body)
	if !signTime.IsZero() {
		err = v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: cr.id, SecretAccessKey: cr.secret, SessionToken: cr.token},
			req, hex.EncodeToString(sum[:]), "sts", "us-east-1", signTime)
		if err != nil {
			t.Fatal(err)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.Header.Get("Date") == "" {
		t.Error("response without Date header")
	}
	var er errorResponse
	if resp.StatusCode != 200 {
		if err := xml.Unmarshal(b, &er); err != nil {
			t.Fatalf("error body %q: %v", b, err)
		}
		wantType := "Sender"
		if resp.StatusCode >= 500 {
			wantType = "Receiver"
		}
		if er.Error.Type != wantType {
			t.Errorf("error Type = %q, want %q", er.Error.Type, wantType)
		}
	}
	return resp.StatusCode, er.Error.Code, string(b)
}

func checkAccess(target string) url.Values {
	return url.Values{"Action": {"CheckAccess"}, "Version": {"2011-06-15"}, "Target": {target}}
}

// Seed 002 "MFA protection for access to API operations in the current
// account": ec2:TerminateInstances behind Bool aws:MultiFactorAuthPresent.
func TestSeedSameAccountMFA(t *testing.T) {
	h := newHarness(t, "world.json")
	now := time.Now()
	gst, err := h.alice().GetSessionToken(ctx, &sts.GetSessionTokenInput{SerialNumber: aws.String(aliceSerial), TokenCode: aws.String(h.code(t, aliceTOTP, 0))})
	if err != nil {
		t.Fatal(err)
	}
	plain, err := h.alice().GetSessionToken(ctx, &sts.GetSessionTokenInput{})
	if err != nil {
		t.Fatal(err)
	}
	mfa := rawCreds{*gst.Credentials.AccessKeyId, *gst.Credentials.SecretAccessKey, *gst.Credentials.SessionToken}
	nomfa := rawCreds{*plain.Credentials.AccessKeyId, *plain.Credentials.SecretAccessKey, *plain.Credentials.SessionToken}
	tests := []struct {
		name   string
		cr     rawCreds
		target string
		status int
		code   string
	}{
		{"long-term keys: key absent, Bool fails", aliceRaw, "ec2:TerminateInstances", 403, "AccessDenied"},
		{"session without MFA", nomfa, "ec2:TerminateInstances", 403, "AccessDenied"},
		{"MFA session", mfa, "ec2:TerminateInstances", 200, ""},
		{"MFA session, case-insensitive action", mfa, "EC2:stopinstances", 200, ""},
		{"MFA session, action not granted", mfa, "ec2:RunInstances", 403, "AccessDenied"},
		// Deny + BoolIfExists false: denies long-term keys and non-MFA sessions.
		{"Deny BoolIfExists, long-term", aliceRaw, "iam:DeleteUser", 403, "AccessDenied"},
		{"Deny BoolIfExists, MFA session", mfa, "iam:DeleteUser", 200, ""},
		{"iam:* allowed for long-term keys", aliceRaw, "iam:ListUsers", 200, ""},
		{"IAM with non-MFA session token", nomfa, "iam:ListUsers", 403, "InvalidClientTokenId"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, code, body := rawCall(t, h, http.MethodPost, checkAccess(tt.target), tt.cr, now)
			if status != tt.status || code != tt.code {
				t.Errorf("got %d %q, want %d %q; body %s", status, code, tt.status, tt.code, body)
			}
			if status == 200 && !strings.Contains(body, "<Decision>allowed</Decision>") {
				t.Errorf("body %s", body)
			}
		})
	}
	// Authorize is the same decision for Go callers.
	for _, tt := range tests {
		ok, err := h.srv.Authorize(tt.cr.id, tt.target, "*")
		if tt.code == "InvalidClientTokenId" {
			if err == nil {
				t.Errorf("Authorize(%s): want error", tt.name)
			}
			continue
		}
		if err != nil || ok != (tt.status == 200) {
			t.Errorf("Authorize(%s) = %v, %v", tt.name, ok, err)
		}
	}
	if _, err := h.srv.Authorize("AKIANOBODY0000000000", "ec2:TerminateInstances", "*"); !errors.Is(err, ErrUnknownAccessKey) {
		t.Errorf("unknown key: %v", err)
	}
}

// Seeds 000/001: cross-account PrivilegedActionsRole with MFA in the trust
// policy; the role's access policy has no MFA condition and works after
// assumption; role sessions carry no MFA (seed 002, last note).
func TestSeedCrossAccount(t *testing.T) {
	h := newHarness(t, "world.json")
	now := time.Now()
	ar, err := h.alice().AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(privRole), RoleSessionName: aws.String("AssumeRoleSessionWithMFA"),
		SerialNumber: aws.String(aliceSerial), TokenCode: aws.String(h.code(t, aliceTOTP, 0))})
	if err != nil {
		t.Fatal(err)
	}
	role := rawCreds{*ar.Credentials.AccessKeyId, *ar.Credentials.SecretAccessKey, *ar.Credentials.SessionToken}
	for _, target := range []string{"ec2:TerminateInstances", "dynamodb:DeleteTable"} {
		if status, code, _ := rawCall(t, h, http.MethodPost, checkAccess(target), role, now); status != 200 {
			t.Errorf("role session %s: %d %s", target, status, code)
		}
	}
	if status, _, _ := rawCall(t, h, http.MethodPost, checkAccess("s3:PutObject"), role, now); status != 403 {
		t.Errorf("role session s3:PutObject: %d, want 403", status)
	}
	// CrossAccountRole (seed 002 scenario 1): Books table only.
	h.clock.Advance(30 * time.Second)
	ar2, err := h.alice().AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::222222222222:role/CrossAccountRole"), RoleSessionName: aws.String("richard"),
		SerialNumber: aws.String(aliceSerial), TokenCode: aws.String(h.code(t, aliceTOTP, 0))})
	if err != nil {
		t.Fatal(err)
	}
	cross := rawCreds{*ar2.Credentials.AccessKeyId, *ar2.Credentials.SecretAccessKey, *ar2.Credentials.SessionToken}
	books := url.Values{"Action": {"CheckAccess"}, "Version": {"2011-06-15"}, "Target": {"dynamodb:GetItem"}, "Resource": {"arn:aws:dynamodb:us-east-1:222222222222:table/Books"}}
	if status, _, _ := rawCall(t, h, http.MethodPost, books, cross, now); status != 200 {
		t.Errorf("Books: %d", status)
	}
	books.Set("Resource", "arn:aws:dynamodb:us-east-1:222222222222:table/Other")
	if status, _, _ := rawCall(t, h, http.MethodPost, books, cross, now); status != 403 {
		t.Errorf("Other table: %d, want 403", status)
	}

	// Same-account role whose policy denies TerminateInstances without MFA:
	// even when assumed with MFA, the role session has MultiFactorAuthPresent=false.
	h.clock.Advance(30 * time.Second)
	ar3, err := h.alice().AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::111111111111:role/LocalAdminRole"), RoleSessionName: aws.String("local"),
		SerialNumber: aws.String(aliceSerial), TokenCode: aws.String(h.code(t, aliceTOTP, 0))})
	if err != nil {
		t.Fatal(err)
	}
	local := rawCreds{*ar3.Credentials.AccessKeyId, *ar3.Credentials.SecretAccessKey, *ar3.Credentials.SessionToken}
	if status, _, _ := rawCall(t, h, http.MethodPost, checkAccess("ec2:TerminateInstances"), local, now); status != 403 {
		t.Errorf("role session TerminateInstances: %d, want 403 (no MFA context in role sessions)", status)
	}
	if status, _, _ := rawCall(t, h, http.MethodPost, checkAccess("ec2:RunInstances"), local, now); status != 200 {
		t.Errorf("role session RunInstances: %d, want 200", status)
	}
}

// With the disputed model switched on, a role session obtained with MFA
// keeps MultiFactorAuthPresent=true.
func TestRoleSessionsCarryMFA(t *testing.T) {
	cfg, err := LoadConfig("testdata/world.json")
	if err != nil {
		t.Fatal(err)
	}
	cfg.RoleSessionsCarryMFA = true
	h := &harness{clock: &fakeClock{t: start}, log: &syncBuffer{}}
	h.srv, err = New(cfg, WithClock(h.clock.Now))
	if err != nil {
		t.Fatal(err)
	}
	ts := newTestServer(t, h.srv)
	h.url = ts
	ar, err := h.alice().AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::111111111111:role/LocalAdminRole"), RoleSessionName: aws.String("local"),
		SerialNumber: aws.String(aliceSerial), TokenCode: aws.String(h.code(t, aliceTOTP, 0))})
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := h.srv.Authorize(*ar.Credentials.AccessKeyId, "ec2:TerminateInstances", "*"); err != nil || !ok {
		t.Errorf("Authorize = %v, %v; want allowed", ok, err)
	}
}

// aws:MultiFactorAuthAge with NumericLessThan 3600: fresh MFA passes, an
// MFA session older than an hour fails, for identity policies (s3:GetObject)
// and a trust policy (FreshMFARole).
func TestMultiFactorAuthAge(t *testing.T) {
	h := newHarness(t, "world.json")
	gst, err := h.alice().GetSessionToken(ctx, &sts.GetSessionTokenInput{SerialNumber: aws.String(aliceSerial), TokenCode: aws.String(h.code(t, aliceTOTP, 0))})
	if err != nil {
		t.Fatal(err)
	}
	sess := fromSession(h, gst.Credentials)
	fresh := &sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::222222222222:role/FreshMFARole"), RoleSessionName: aws.String("fresh")}
	if _, err := sess.AssumeRole(ctx, fresh); err != nil {
		t.Fatalf("fresh MFA: %v", err)
	}
	if ok, err := h.srv.Authorize(*gst.Credentials.AccessKeyId, "s3:GetObject", "arn:aws:s3:::b/k"); err != nil || !ok {
		t.Errorf("fresh s3:GetObject = %v, %v", ok, err)
	}
	// Long-term keys: the age key is absent, NumericLessThan fails.
	if _, err := h.alice().AssumeRole(ctx, fresh); err == nil {
		t.Error("long-term keys without MFA assumed FreshMFARole")
	}
	h.clock.Advance(3599 * time.Second)
	if ok, _ := h.srv.Authorize(*gst.Credentials.AccessKeyId, "s3:GetObject", "*"); !ok {
		t.Error("age 3599 denied")
	}
	h.clock.Advance(time.Second)
	if ok, _ := h.srv.Authorize(*gst.Credentials.AccessKeyId, "s3:GetObject", "*"); ok {
		t.Error("age 3600 allowed")
	}
	_, err = sess.AssumeRole(ctx, fresh)
	wantAPIError(t, err, "AccessDenied", 403, "User: arn:aws:iam::111111111111:user/alice is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::222222222222:role/FreshMFARole")
	// New MFA in the AssumeRole call itself: age 0.
	if _, err := h.alice().AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: fresh.RoleArn, RoleSessionName: aws.String("again"),
		SerialNumber: aws.String(aliceSerial), TokenCode: aws.String(h.code(t, aliceTOTP, 0))}); err != nil {
		t.Errorf("AssumeRole with fresh MFA: %v", err)
	}
}

func TestRawRequests(t *testing.T) {
	h := newHarness(t, "world.json")
	now := time.Now()
	gci := url.Values{"Action": {"GetCallerIdentity"}, "Version": {"2011-06-15"}}
	tests := []struct {
		name   string
		method string
		form   url.Values
		signAt time.Time
		status int
		code   string
	}{
		{"POST ok", http.MethodPost, gci, now, 200, ""},
		{"GET query ok", http.MethodGet, gci, now, 200, ""},
		{"unsigned", http.MethodPost, gci, time.Time{}, 403, "MissingAuthenticationToken"},
		{"signed 16 min ago", http.MethodPost, gci, now.Add(-16 * time.Minute), 403, "SignatureDoesNotMatch"},
		{"signed 16 min ahead", http.MethodPost, gci, now.Add(16 * time.Minute), 403, "SignatureDoesNotMatch"},
		{"signed 14 min ago", http.MethodPost, gci, now.Add(-14 * time.Minute), 200, ""},
		{"unknown action", http.MethodPost, url.Values{"Action": {"GetFederationToken"}, "Version": {"2011-06-15"}}, now, 400, "InvalidAction"},
		{"no version", http.MethodPost, url.Values{"Action": {"GetCallerIdentity"}}, now, 400, "InvalidAction"},
		{"CheckAccess without target", http.MethodPost, url.Values{"Action": {"CheckAccess"}, "Version": {"2011-06-15"}}, now, 400, "ValidationError"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, code, body := rawCall(t, h, tt.method, tt.form, aliceRaw, tt.signAt)
			if status != tt.status || code != tt.code {
				t.Errorf("got %d %q, want %d %q; body %s", status, code, tt.status, tt.code, body)
			}
		})
	}
	// The body is covered by the signature: tamper after signing.
	req, _ := http.NewRequest(http.MethodPost, h.url+"/", strings.NewReader(gci.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	sum := sha256.Sum256([]byte(gci.Encode()))
	if err := v4.NewSigner().SignHTTP(ctx, aws.Credentials{AccessKeyID: aliceKey, SecretAccessKey: aliceSecret}, req, hex.EncodeToString(sum[:]), "sts", "us-east-1", now); err != nil {
		t.Fatal(err)
	}
	tampered := "Action=GetCallerIdentity&Version=2011-06-15&X=1"
	req.Body = io.NopCloser(strings.NewReader(tampered))
	req.ContentLength = int64(len(tampered))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Errorf("tampered body: status %d, want 403", resp.StatusCode)
	}
}

func TestPresignedGetCallerIdentity(t *testing.T) {
	h := newHarness(t, "world.json")
	p := sts.NewPresignClient(h.alice())
	req, err := p.PresignGetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatal(err)
	}
	hr, _ := http.NewRequest(req.Method, req.URL, nil)
	for k, v := range req.SignedHeader {
		if !strings.EqualFold(k, "host") {
			hr.Header[k] = v
		}
	}
	resp, err := http.DefaultClient.Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.Contains(string(b), "arn:aws:iam::111111111111:user/alice") {
		t.Errorf("presigned: %d %s", resp.StatusCode, b)
	}
}

func TestFaults(t *testing.T) {
	var calls atomic.Int64
	faults := &Faults{Decide: func(action string, seq int64) Fault {
		calls.Add(1)
		switch seq {
		case 1:
			return Fault{Kind: FaultThrottle}
		case 2:
			return Fault{Kind: FaultInternal, AfterAction: true}
		case 4:
			return Fault{DateShift: -time.Hour}
		}
		return Fault{}
	}}
	h := newHarness(t, "world.json", WithFaults(faults))
	in := &sts.GetSessionTokenInput{SerialNumber: aws.String(aliceSerial), TokenCode: aws.String(h.code(t, aliceTOTP, 0))}
	_, err := h.alice().GetSessionToken(ctx, in)
	wantAPIError(t, err, "Throttling", 400, "Rate exceeded")
	// Fault after the action: the code is consumed, the client sees 500...
	_, err = h.alice().GetSessionToken(ctx, in)
	wantAPIError(t, err, "InternalFailure", 500, "")
	// ...and its retry is refused as reuse.
	_, err = h.alice().GetSessionToken(ctx, in)
	wantAPIError(t, err, "AccessDenied", 403, msgWrongCode)
	// A server clock an hour behind refuses a correctly timed request.
	_, err = h.alice().GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	wantAPIError(t, err, "SignatureDoesNotMatch", 403, "")
	if calls.Load() != 4 {
		t.Errorf("Decide called %d times, want 4", calls.Load())
	}
	logs := h.log.entries(t)
	if len(logs) != 4 || logs[1].Status != 500 || logs[1].CodeValid == nil || !*logs[1].CodeValid {
		t.Errorf("log = %+v", logs)
	}
}

func TestSessionPolicyAndRoleChaining(t *testing.T) {
	h := newHarness(t, "world.json")
	// A long-term key with a session token is refused.
	_, err := h.client(aliceKey, aliceSecret, "some-token").GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	wantAPIError(t, err, "InvalidClientTokenId", 403, msgInvalidToken)

	local := "arn:aws:iam::111111111111:role/LocalAdminRole"
	policy := `{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["ec2:RunInstances", "sts:AssumeRole"], "Resource": "*"}]}`
	ar, err := h.alice().AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(local), RoleSessionName: aws.String("scoped"), Policy: aws.String(policy)})
	if err != nil {
		t.Fatal(err)
	}
	if ar.PackedPolicySize == nil || *ar.PackedPolicySize <= 0 {
		t.Errorf("PackedPolicySize = %v", ar.PackedPolicySize)
	}
	id := *ar.Credentials.AccessKeyId
	for _, c := range []struct {
		action string
		want   bool
	}{{"ec2:RunInstances", true}, {"s3:GetObject", false}, {"ec2:TerminateInstances", false}} {
		if ok, err := h.srv.Authorize(id, c.action, "*"); err != nil || ok != c.want {
			t.Errorf("session policy: %s = %v, %v; want %v", c.action, ok, err, c.want)
		}
	}
	// role → role: the role session assumes NoMFARole (trusts "*"); the
	// chain is capped at one hour.
	roleSess := fromSession(h, ar.Credentials)
	next := &sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::222222222222:role/NoMFARole"), RoleSessionName: aws.String("hop2"), DurationSeconds: aws.Int32(3601)}
	_, err = roleSess.AssumeRole(ctx, next)
	wantAPIError(t, err, "ValidationError", 400, msgChainCap)
	next.DurationSeconds = nil
	ar2, err := roleSess.AssumeRole(ctx, next)
	if err != nil {
		t.Fatalf("role chaining: %v", err)
	}
	if got := *ar2.AssumedRoleUser.Arn; got != "arn:aws:sts::222222222222:assumed-role/NoMFARole/hop2" {
		t.Errorf("Arn = %s", got)
	}
	// A role session passing MFA parameters: the serial is not its own.
	_, err = roleSess.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: next.RoleArn, RoleSessionName: aws.String("hop3"),
		SerialNumber: aws.String(aliceSerial), TokenCode: aws.String(h.code(t, aliceTOTP, 0))})
	wantAPIError(t, err, "AccessDenied", 403, msgUnknownSerial)
	// An invalid session policy.
	_, err = h.alice().AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(local), RoleSessionName: aws.String("bad"), Policy: aws.String(`{"Statement": 1}`)})
	wantAPIError(t, err, "MalformedPolicyDocument", 400, "")
}

// Concurrent requests with the same code: exactly one wins the step.
func TestConcurrentCodeUse(t *testing.T) {
	h := newHarness(t, "world.json")
	code := h.code(t, aliceTOTP, 0)
	var ok, denied atomic.Int64
	done := make(chan struct{})
	const n = 8
	for range n {
		go func() {
			defer func() { done <- struct{}{} }()
			_, err := h.alice().GetSessionToken(ctx, &sts.GetSessionTokenInput{SerialNumber: aws.String(aliceSerial), TokenCode: aws.String(code)})
			if err == nil {
				ok.Add(1)
			} else {
				denied.Add(1)
			}
		}()
	}
	for range n {
		<-done
	}
	if ok.Load() != 1 || denied.Load() != n-1 {
		t.Errorf("ok=%d denied=%d, want 1 and %d", ok.Load(), denied.Load(), n-1)
	}
}
