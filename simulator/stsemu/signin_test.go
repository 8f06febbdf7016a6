package stsemu

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/aws-sdk-go-v2/service/sts/types"
)

const consoleDest = "https://us-east-1.console.aws.amazon.com/ec2/home?region=us-east-1"

// roleCreds assumes PrivilegedActionsRole with alice's long-term keys and
// an MFA code (not chained), then moves the clock to the next TOTP step.
func roleCreds(t *testing.T, h *harness, seconds int32) *types.Credentials {
	t.Helper()
	ar, err := h.alice().AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(privRole), RoleSessionName: aws.String("alice-console"),
		DurationSeconds: aws.Int32(seconds), SerialNumber: aws.String(aliceSerial), TokenCode: aws.String(h.code(t, aliceTOTP, 0))})
	if err != nil {
		t.Fatal(err)
	}
	h.clock.Advance(30 * time.Second)
	return ar.Credentials
}

// gstCreds is an MFA GetSessionToken session of alice.
func gstCreds(t *testing.T, h *harness) *types.Credentials {
	t.Helper()
	gst, err := h.alice().GetSessionToken(ctx, &sts.GetSessionTokenInput{SerialNumber: aws.String(aliceSerial), TokenCode: aws.String(h.code(t, aliceTOTP, 0))})
	if err != nil {
		t.Fatal(err)
	}
	h.clock.Advance(30 * time.Second)
	return gst.Credentials
}

// chainedCreds is mfabridge's usual chain: GetSessionToken with MFA, then
// AssumeRole with the session.
func chainedCreds(t *testing.T, h *harness) *types.Credentials {
	t.Helper()
	ar, err := fromSession(h, gstCreds(t, h)).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(privRole), RoleSessionName: aws.String("alice-chained")})
	if err != nil {
		t.Fatal(err)
	}
	return ar.Credentials
}

func sessionJSON(id, key, token string) string {
	b, _ := json.Marshal(map[string]string{"sessionId": id, "sessionKey": key, "sessionToken": token})
	return string(b)
}

func credsJSON(c *types.Credentials) string {
	return sessionJSON(*c.AccessKeyId, *c.SecretAccessKey, *c.SessionToken)
}

// fetch GETs u without following redirects; it returns status, body and
// the response.
func fetch(t *testing.T, cl *http.Client, u string) (int, string, *http.Response) {
	t.Helper()
	resp, err := cl.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b), resp
}

func noRedirects() *http.Client {
	jar, _ := cookiejar.New(nil) // New never fails without options
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// getToken calls getSigninToken; it returns the status, the token (on 200)
// and the body.
func getToken(t *testing.T, h *harness, session string, extra url.Values) (int, string, string) {
	t.Helper()
	q := url.Values{"Action": {"getSigninToken"}, "Session": {session}}
	for k, v := range extra {
		q[k] = v
	}
	status, body, _ := fetch(t, http.DefaultClient, h.url+"/federation?"+q.Encode())
	if status != http.StatusOK {
		return status, "", body
	}
	var ans struct{ SigninToken string }
	if err := json.Unmarshal([]byte(body), &ans); err != nil || len(ans.SigninToken) < 22 {
		t.Fatalf("getSigninToken answer %q: want {\"SigninToken\": at least 128 bits}", body)
	}
	return status, ans.SigninToken, body
}

func loginURL(h *harness, token, dest string) string {
	return h.url + "/federation?" + url.Values{"Action": {"login"}, "Issuer": {"test"}, "Destination": {dest}, "SigninToken": {token}}.Encode()
}

// wantPage asserts an error page: status, data-code and message text.
func wantPage(t *testing.T, status int, body string, wantStatus int, code, msg string) {
	t.Helper()
	if status != wantStatus {
		t.Errorf("status %d, want %d; body:\n%s", status, wantStatus, body)
	}
	if code != "" && !strings.Contains(body, `data-code="`+code+`"`) {
		t.Errorf("page lacks data-code=%q:\n%s", code, body)
	}
	if msg != "" && !strings.Contains(body, msg) {
		t.Errorf("page lacks %q:\n%s", msg, body)
	}
	if strings.Contains(body, `id="principal"`) {
		t.Errorf("an error answer shows a console:\n%s", body)
	}
}

func TestSigninRoleFlow(t *testing.T) {
	h := newHarness(t, "example.json")
	c := roleCreds(t, h, 3600)
	status, tok, body := getToken(t, h, credsJSON(c), nil)
	if status != 200 {
		t.Fatalf("getSigninToken: %d %s", status, body)
	}
	cl := noRedirects()
	u := loginURL(h, tok, consoleDest)
	status, _, resp := fetch(t, cl, u)
	if status != http.StatusFound || resp.Header.Get("Location") != "/console/" {
		t.Fatalf("login: %d Location %q, want 302 to /console/", status, resp.Header.Get("Location"))
	}
	var ck *http.Cookie
	for _, k := range resp.Cookies() {
		if k.Name == consoleCookie {
			ck = k
		}
	}
	if ck == nil || !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode {
		t.Fatalf("console cookie %+v: want HttpOnly, SameSite=Lax", ck)
	}
	status, page, _ := fetch(t, cl, h.url+"/console/")
	if status != 200 {
		t.Fatalf("console: %d %s", status, page)
	}
	wantARN := "arn:aws:sts::222222222222:assumed-role/PrivilegedActionsRole/alice-console"
	for _, want := range []string{
		`<dd id="principal">` + wantARN + `</dd>`,
		`<dd id="account">222222222222</dd>`,
		`<dd id="region">us-east-1</dd>`,
		`<dd id="issuer">test</dd>`,
		`<dd id="expires">` + c.Expiration.UTC().Format(time.RFC3339) + `</dd>`,
		`<dd id="destination">https://us-east-1.console.aws.amazon.com/ec2/home?region=us-east-1</dd>`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("console page lacks %s:\n%s", want, page)
		}
	}
	// The same URL again: refused as used, even by the browser that used it.
	status, body, _ = fetch(t, cl, u)
	wantPage(t, status, body, http.StatusConflict, "token-used", "already been used")
	// A browser without the cookie gets no console.
	status, body, _ = fetch(t, http.DefaultClient, h.url+"/console/")
	wantPage(t, status, body, http.StatusUnauthorized, "no-console-session", "")
	// Neither the token nor the secret key reaches the log.
	log := h.log.b.String()
	for _, secret := range []string{tok, *c.SecretAccessKey, *c.SessionToken} {
		if strings.Contains(log, secret) {
			t.Errorf("a secret reached the log:\n%s", log)
		}
	}
	var logins int
	for _, e := range h.log.entries(t) {
		if e.Action == "login" {
			logins++
			if e.Caller != wantARN || e.AccessKeyID != *c.AccessKeyId {
				t.Errorf("login log entry %+v: want caller and access key id", e)
			}
		}
	}
	if logins != 2 {
		t.Errorf("%d login log entries, want 2", logins)
	}
}

func TestSigninTokenExpires(t *testing.T) {
	h := newHarness(t, "example.json")
	c := roleCreds(t, h, 3600)
	_, tok1, _ := getToken(t, h, credsJSON(c), nil)
	_, tok2, _ := getToken(t, h, credsJSON(c), nil)
	h.clock.Advance(15*time.Minute - time.Second)
	status, _, _ := fetch(t, noRedirects(), loginURL(h, tok1, consoleDest))
	if status != http.StatusFound {
		t.Fatalf("login 1 s before the 15 minutes: %d, want 302", status)
	}
	h.clock.Advance(time.Second)
	status, body, _ := fetch(t, noRedirects(), loginURL(h, tok2, consoleDest))
	wantPage(t, status, body, http.StatusGone, "token-expired", "15 minutes")
	status, body, _ = fetch(t, noRedirects(), loginURL(h, "no-such-token", consoleDest))
	wantPage(t, status, body, http.StatusNotFound, "token-unknown", "")
}

func TestSigninSessionExpired(t *testing.T) {
	h := newHarness(t, "example.json")
	c := roleCreds(t, h, 900)
	h.clock.Advance(10 * time.Minute)
	status, tok, body := getToken(t, h, credsJSON(c), nil)
	if status != 200 {
		t.Fatalf("getSigninToken with 4.5 min left: %d %s", status, body)
	}
	h.clock.Advance(5 * time.Minute) // credentials ended, token has 10 min left
	status, body, _ = fetch(t, noRedirects(), loginURL(h, tok, consoleDest))
	wantPage(t, status, body, http.StatusUnauthorized, "session-expired", "have expired")
	// and a new token cannot be had for them
	status, _, body = getToken(t, h, credsJSON(c), nil)
	wantPage(t, status, body, http.StatusBadRequest, "invalid-credentials", msgInvalidCredentials)
}

func TestSigninConsoleSessionEnds(t *testing.T) {
	h := newHarness(t, "example.json")
	c := roleCreds(t, h, 900)
	_, tok, _ := getToken(t, h, credsJSON(c), nil)
	cl := noRedirects()
	fetch(t, cl, loginURL(h, tok, consoleDest))
	if status, body, _ := fetch(t, cl, h.url+"/console/"); status != 200 {
		t.Fatalf("console: %d %s", status, body)
	}
	h.clock.Advance(15 * time.Minute)
	status, body, _ := fetch(t, cl, h.url+"/console/")
	wantPage(t, status, body, http.StatusUnauthorized, "console-expired", "")
}

// GetSessionToken credentials and long-term keys get a token, refused at
// login (aws-vault #1191: AWS answers getSigninToken with 200, then refuses).
func TestSigninRefusesSessionTokenAndLongTermKeys(t *testing.T) {
	h := newHarness(t, "example.json")
	g := gstCreds(t, h)
	for name, session := range map[string]string{
		"GetSessionToken": credsJSON(g),
		"long-term keys":  sessionJSON(aliceKey, aliceSecret, ""),
	} {
		t.Run(name, func(t *testing.T) {
			status, tok, body := getToken(t, h, session, nil)
			if status != 200 {
				t.Fatalf("getSigninToken: %d %s", status, body)
			}
			status, body, _ = fetch(t, noRedirects(), loginURL(h, tok, consoleDest))
			wantPage(t, status, body, http.StatusForbidden, "credentials-refused", "Only federation tokens or assume role tokens may be used for federated login.")
			// SessionDuration with them: 400 at once (aws-vault #104).
			status, _, body = getToken(t, h, session, url.Values{"SessionDuration": {"3600"}})
			wantPage(t, status, body, http.StatusBadRequest, "invalid-credentials", msgInvalidCredentials)
		})
	}
}

func TestSigninInvalidCredentials(t *testing.T) {
	h := newHarness(t, "example.json")
	c := roleCreds(t, h, 3600)
	id, key, tok := *c.AccessKeyId, *c.SecretAccessKey, *c.SessionToken
	for name, session := range map[string]string{
		"wrong key":            sessionJSON(id, key+"x", tok),
		"wrong token":          sessionJSON(id, key, tok[:len(tok)-1]),
		"no token":             sessionJSON(id, key, ""),
		"unknown id":           sessionJSON("ASIAUNKNOWN0000000", key, tok),
		"long-term with token": sessionJSON(aliceKey, aliceSecret, tok),
		"long-term wrong key":  sessionJSON(aliceKey, "nope", ""),
		"not JSON":             "sessionId=" + id,
		"extra key":            `{"sessionId":"` + id + `","sessionKey":"` + key + `","sessionToken":"` + tok + `","x":"y"}`,
		"missing key":          `{"sessionId":"` + id + `","sessionKey":"` + key + `"}`,
		"number":               `{"sessionId":"` + id + `","sessionKey":"` + key + `","sessionToken":1}`,
		"trailing data":        credsJSON(c) + "{}",
		"empty":                "",
	} {
		t.Run(name, func(t *testing.T) {
			status, _, body := getToken(t, h, session, nil)
			wantPage(t, status, body, http.StatusBadRequest, "invalid-credentials", "<b>message</b> <span id=\"message\">Invalid credentials parameter</span>")
		})
	}
	status, body, _ := fetch(t, http.DefaultClient, h.url+"/federation?Action=getSigninToken")
	wantPage(t, status, body, http.StatusBadRequest, "invalid-credentials", msgInvalidCredentials)
	status, body, _ = fetch(t, http.DefaultClient, h.url+"/federation?Action=getSigninToken&Session=a&Session=b")
	wantPage(t, status, body, http.StatusBadRequest, "bad-request", "more than once")
	status, body, _ = fetch(t, http.DefaultClient, h.url+"/federation?Action=nope")
	wantPage(t, status, body, http.StatusBadRequest, "bad-request", "")
}

func TestSigninPOSTForm(t *testing.T) {
	h := newHarness(t, "example.json")
	c := roleCreds(t, h, 3600)
	resp, err := http.PostForm(h.url+"/federation", url.Values{"Action": {"getSigninToken"}, "Session": {credsJSON(c)}})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), `"SigninToken":"`) {
		t.Fatalf("POST getSigninToken: %d %s", resp.StatusCode, b)
	}
}

// SessionDuration: 900–43200, and only for a role assumed with long-term
// keys; the chained role of mfabridge's usual plan gets 400 (aws-vault #77).
func TestSigninSessionDuration(t *testing.T) {
	h := newHarness(t, "example.json")
	c := roleCreds(t, h, 3600)
	for _, tc := range []struct {
		d  string
		ok bool
	}{{"900", true}, {"43200", true}, {"899", false}, {"43201", false}, {"1h", false}, {"", false}} {
		status, tok, body := getToken(t, h, credsJSON(c), url.Values{"SessionDuration": {tc.d}})
		if (status == 200) != tc.ok {
			t.Errorf("SessionDuration=%q: %d, want ok=%v", tc.d, status, tc.ok)
			continue
		}
		if !tc.ok {
			wantPage(t, status, body, http.StatusBadRequest, "invalid-credentials", msgInvalidCredentials)
			continue
		}
		cl := noRedirects()
		fetch(t, cl, loginURL(h, tok, consoleDest))
		_, page, _ := fetch(t, cl, h.url+"/console/")
		n := map[string]time.Duration{"900": 15 * time.Minute, "43200": 12 * time.Hour}[tc.d]
		if want := `<dd id="expires">` + h.clock.Now().Add(n).UTC().Format(time.RFC3339); !strings.Contains(page, want) {
			t.Errorf("SessionDuration=%s: console page lacks %s:\n%s", tc.d, want, page)
		}
	}
	ch := chainedCreds(t, h)
	status, _, body := getToken(t, h, credsJSON(ch), url.Values{"SessionDuration": {"3600"}})
	wantPage(t, status, body, http.StatusBadRequest, "invalid-credentials", msgInvalidCredentials)
	// Without SessionDuration the chained role signs in, for as long as
	// its credentials last.
	status, tok, body := getToken(t, h, credsJSON(ch), nil)
	if status != 200 {
		t.Fatalf("chained role without SessionDuration: %d %s", status, body)
	}
	cl := noRedirects()
	fetch(t, cl, loginURL(h, tok, consoleDest))
	_, page, _ := fetch(t, cl, h.url+"/console/")
	if want := `<dd id="expires">` + ch.Expiration.UTC().Format(time.RFC3339); !strings.Contains(page, want) {
		t.Errorf("chained console page lacks %s:\n%s", want, page)
	}
}

func TestSigninDestination(t *testing.T) {
	h := newHarness(t, "example.json")
	c := roleCreds(t, h, 3600)
	_, tok, _ := getToken(t, h, credsJSON(c), nil)
	for _, dest := range []string{
		"http://us-east-1.console.aws.amazon.com/",
		"https://evil.example/console.aws.amazon.com",
		"https://console.aws.amazon.com.evil.example/",
		"https://eu-west-1.console.aws.amazon.com/ec2/home?region=us-east-1",
		"https://console.amazonaws.cn/",
		"https://a.b.console.aws.amazon.com/",
		"https://user@console.aws.amazon.com/",
		"https://console.aws.amazon.com:8443/",
		"not a url %%",
	} {
		status, body, _ := fetch(t, noRedirects(), loginURL(h, tok, dest))
		wantPage(t, status, body, http.StatusBadRequest, "bad-destination", "")
	}
	status, body, _ := fetch(t, noRedirects(), loginURL(h, tok, ""))
	wantPage(t, status, body, http.StatusBadRequest, "missing-parameter", "")
	// A refused destination does not spend the token.
	cl := noRedirects()
	status, _, _ = fetch(t, cl, loginURL(h, tok, "https://console.aws.amazon.com/iam/home"))
	if status != http.StatusFound {
		t.Fatalf("global destination: %d, want 302", status)
	}
	_, page, _ := fetch(t, cl, h.url+"/console/")
	if !strings.Contains(page, `<dd id="region"></dd>`) {
		t.Errorf("a global destination shows a region:\n%s", page)
	}
}

func TestSigninChinaPartition(t *testing.T) {
	cfg, err := LoadConfig("testdata/example.json")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Region = "cn-north-1"
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for dest, want := range map[string]string{
		"https://console.amazonaws.cn/console/home?region=cn-north-1":        "",
		"https://cn-northwest-1.console.amazonaws.cn/ec2/home":               "",
		"https://us-east-1.console.aws.amazon.com/ec2/home?region=us-east-1": "not a console host of this partition",
	} {
		_, why := s.checkDestination(dest)
		if (want == "") != (why == "") || !strings.Contains(why, want) {
			t.Errorf("checkDestination(%s) = %q, want %q", dest, why, want)
		}
	}
}

func FuzzParseSession(f *testing.F) {
	f.Add(sessionJSON("ASIA1", "k", "t"))
	f.Add(`{"sessionId":"a","sessionKey":"b","sessionToken":"c","x":1}`)
	f.Add(`{"sessionId":"a","sessionKey":"b","sessionToken":null}`)
	f.Add(`[]`)
	f.Fuzz(func(t *testing.T, raw string) {
		id, key, tok, ok := parseSession(raw)
		if !ok {
			return
		}
		if id == "" || key == "" {
			t.Fatalf("accepted empty id or key in %q", raw)
		}
		id2, key2, tok2, ok2 := parseSession(sessionJSON(id, key, tok))
		if !ok2 || id2 != id || key2 != key || tok2 != tok {
			t.Fatalf("round trip of %q failed", raw)
		}
	})
}
