package stsemu

// The console sign-in (federation) endpoint, as described by the IAM User
// Guide page "Enable custom identity broker access to the AWS console" and
// /work/shared/notes/console-signin.md §5:
//
//	GET|POST /federation?Action=getSigninToken&Session={json}[&SessionDuration=S]
//	    → 200 {"SigninToken": "…"}; 400 HTML "Invalid credentials parameter"
//	GET /federation?Action=login&Issuer=…&Destination=<console URL>&SigninToken=…
//	    → 302 to /console/ with an HttpOnly session cookie, or an error page
//	GET /console/ → the emulated console: principal ARN, account,
//	    destination, region and console expiry
//
// AWS documents no status or body for used or expired tokens; the emulator
// gives each refusal its own status and an element id="signin-error" whose
// data-code names it (see the signin* constants).

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Sign-in paths and limits.
const (
	federationPath      = "/federation"
	consolePath         = "/console/"
	consoleCookie       = "mfabridge-emu-console"
	signinTokenLifetime = 15 * time.Minute
	minConsoleDuration  = 900
	maxConsoleDuration  = 43200
)

// Messages of the sign-in pages. The first and the kind refusal are AWS's
// (aws-vault #77, #1191); the others are the emulator's own.
const (
	msgInvalidCredentials = "Invalid credentials parameter"
	msgKindRefused        = "Only federation tokens or assume role tokens may be used for federated login. Please contact your administrator."
)

// signinState holds issued sign-in tokens and console sessions, both keyed
// by the SHA-256 of the secret so the secrets themselves are not kept.
type signinState struct {
	mu       sync.Mutex
	tokens   map[[32]byte]*signinToken
	consoles map[[32]byte]*consoleSession
}

type signinToken struct {
	accessKeyID    string
	principal      string
	account        string
	refused        bool // GetSessionToken or long-term keys: refused at login
	expires        time.Time
	consoleExpires time.Time
	used           bool
}

type consoleSession struct {
	principal, account, destination, region, issuer string
	expires                                         time.Time
}

// serveSignin answers the federation endpoint and the emulated console; it
// reports false for every other path (the STS Query API).
func (s *Server) serveSignin(w http.ResponseWriter, r *http.Request) bool {
	switch r.URL.Path {
	case federationPath:
		s.serveFederation(w, r)
	case consolePath, strings.TrimSuffix(consolePath, "/"):
		s.serveConsole(w, r)
	default:
		return false
	}
	return true
}

// signinParams reads the query (GET) or form body (POST) strictly: each
// parameter at most once.
func signinParams(r *http.Request) (url.Values, string) {
	raw := r.URL.RawQuery
	switch r.Method {
	case http.MethodGet:
	case http.MethodPost:
		body, err := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes+1))
		if err != nil || len(body) > maxBodyBytes {
			return nil, "request body unreadable or too large"
		}
		if raw != "" {
			return nil, "parameters in both the query and the body"
		}
		raw = string(body)
	default:
		return nil, "method " + r.Method + " not allowed"
	}
	if len(raw) > maxBodyBytes {
		return nil, "request too large"
	}
	q, err := url.ParseQuery(raw)
	if err != nil {
		return nil, "malformed query"
	}
	for k, v := range q {
		if len(v) > 1 {
			return nil, "parameter " + k + " given more than once"
		}
	}
	return q, ""
}

func (s *Server) serveFederation(w http.ResponseWriter, r *http.Request) {
	e := LogEntry{Time: s.now().UTC(), RequestID: newRequestID()}
	q, bad := signinParams(r)
	if bad != "" {
		s.signinPage(w, e, http.StatusBadRequest, "bad-request", "Bad request", bad)
		return
	}
	e.Action = clip(q.Get("Action"), 64)
	switch e.Action {
	case "getSigninToken":
		s.getSigninToken(w, q, e)
	case "login":
		if r.Method != http.MethodGet {
			s.signinPage(w, e, http.StatusMethodNotAllowed, "bad-request", "Bad request", "login is a GET")
			return
		}
		s.signinLogin(w, q, e)
	default:
		s.signinPage(w, e, http.StatusBadRequest, "bad-request", "Bad request", "Action must be getSigninToken or login")
	}
}

// parseSession decodes the Session parameter: a JSON object with exactly
// the string keys sessionId, sessionKey and sessionToken.
func parseSession(raw string) (id, key, token string, ok bool) {
	var m map[string]any
	dec := json.NewDecoder(strings.NewReader(raw))
	if dec.Decode(&m) != nil || dec.More() || len(m) != 3 {
		return "", "", "", false
	}
	var vals [3]string
	for i, k := range []string{"sessionId", "sessionKey", "sessionToken"} {
		v, isStr := m[k].(string)
		if !isStr {
			return "", "", "", false
		}
		vals[i] = v
	}
	return vals[0], vals[1], vals[2], vals[0] != "" && vals[1] != ""
}

func (s *Server) getSigninToken(w http.ResponseWriter, q url.Values, e LogEntry) {
	invalid := func() {
		s.signinPage(w, e, http.StatusBadRequest, "invalid-credentials", msgInvalidCredentials,
			"The request sent by the client was syntactically incorrect.")
	}
	raw, has := q["Session"]
	if !has {
		invalid()
		return
	}
	id, key, token, ok := parseSession(raw[0])
	if !ok {
		invalid()
		return
	}
	e.AccessKeyID = clip(id, 128)
	now := s.now()
	t := &signinToken{accessKeyID: id, expires: now.Add(signinTokenLifetime)}
	// mayExtend: SessionDuration is accepted only for a role assumed with
	// long-term keys (not chained).
	mayExtend := false
	if u, secret, isUser := s.longTermKey(id); isUser {
		if subtle.ConstantTimeCompare([]byte(secret), []byte(key)) != 1 || token != "" {
			invalid()
			return
		}
		// aws-vault #1191: long-term keys get a token, refused at login.
		t.principal, t.account, t.refused = u.ARN, u.Account, true
		t.consoleExpires = now.Add(time.Hour)
	} else {
		s.mu.Lock()
		sess := s.sessions[id]
		s.mu.Unlock()
		if sess == nil ||
			subtle.ConstantTimeCompare([]byte(sess.Secret), []byte(key)) != 1 ||
			subtle.ConstantTimeCompare([]byte(sess.Token), []byte(token)) != 1 ||
			!now.Before(sess.Expires) {
			invalid()
			return
		}
		t.consoleExpires = sess.Expires
		if sess.Kind == kindRoleSession {
			t.principal, t.account = assumedRoleARN(sess.Role, sess.SessionName), sess.Role.Account
			// SourceChain holds one ARN when the role was assumed with
			// long-term keys, more when the caller was itself a session.
			mayExtend = len(sess.SourceChain) == 1
		} else {
			t.principal, t.account, t.refused = sess.User.ARN, sess.User.Account, true
		}
	}
	if d, has := q["SessionDuration"]; has {
		n, err := strconv.Atoi(d[0])
		if err != nil || n < minConsoleDuration || n > maxConsoleDuration || !mayExtend {
			invalid()
			return
		}
		t.consoleExpires = now.Add(time.Duration(n) * time.Second)
	}
	tok := randomString(48, base64.RawURLEncoding.EncodeToString) // 384 bits
	s.signin.mu.Lock()
	if s.signin.tokens == nil {
		s.signin.tokens = map[[32]byte]*signinToken{}
	}
	for h, old := range s.signin.tokens {
		if now.Sub(old.expires) > sessionGrace {
			delete(s.signin.tokens, h)
		}
	}
	s.signin.tokens[sha256.Sum256([]byte(tok))] = t
	s.signin.mu.Unlock()
	b, _ := json.Marshal(map[string]string{"SigninToken": tok}) // a map of strings always encodes
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
	e.Caller, e.Outcome, e.Status = t.principal, "ok", http.StatusOK
	s.writeLog(e)
}

// consoleDomain is the console domain of the emulator's partition.
func (s *Server) consoleDomain() string {
	switch {
	case strings.HasPrefix(s.cfg.Region, "cn-"):
		return "console.amazonaws.cn"
	case strings.HasPrefix(s.cfg.Region, "us-gov-"):
		return "console.amazonaws-us-gov.com"
	}
	return "console.aws.amazon.com"
}

// checkDestination accepts an https console URL of the emulator's
// partition whose ?region= (if any) agrees with a regional host; it
// returns the region the console opens in.
func (s *Server) checkDestination(dest string) (region, why string) {
	u, err := url.Parse(dest)
	if err != nil || u.Scheme != "https" || u.User != nil || u.Port() != "" {
		return "", "Destination must be an https console URL"
	}
	dom := s.consoleDomain()
	h := u.Hostname()
	hostRegion := ""
	switch {
	case h == dom:
	case strings.HasSuffix(h, "."+dom) && !strings.Contains(strings.TrimSuffix(h, "."+dom), "."):
		hostRegion = strings.TrimSuffix(h, "."+dom)
	default:
		return "", "Destination host " + h + " is not a console host of this partition (" + dom + ")"
	}
	qr := u.Query().Get("region")
	if hostRegion != "" && qr != "" && qr != hostRegion {
		return "", "Destination region " + qr + " does not match its host " + h
	}
	if qr != "" {
		return qr, ""
	}
	return hostRegion, ""
}

func (s *Server) signinLogin(w http.ResponseWriter, q url.Values, e LogEntry) {
	tok, dest := q.Get("SigninToken"), q.Get("Destination")
	if tok == "" || dest == "" {
		s.signinPage(w, e, http.StatusBadRequest, "missing-parameter", "Missing parameter", "login needs SigninToken and Destination")
		return
	}
	region, why := s.checkDestination(dest)
	if why != "" {
		s.signinPage(w, e, http.StatusBadRequest, "bad-destination", "Invalid destination", why)
		return
	}
	now := s.now()
	s.signin.mu.Lock()
	t := s.signin.tokens[sha256.Sum256([]byte(tok))]
	wasUsed := t != nil && t.used
	if t != nil {
		t.used = true // a token is spent by its first presentation, whatever follows
	}
	s.signin.mu.Unlock()
	if t != nil {
		e.AccessKeyID, e.Caller = t.accessKeyID, t.principal
	}
	switch {
	case t == nil:
		s.signinPage(w, e, http.StatusNotFound, "token-unknown", "Sign-in failed", "The sign-in token is not valid.")
		return
	case wasUsed:
		s.signinPage(w, e, http.StatusConflict, "token-used", "Sign-in failed", "This sign-in link has already been used. Request a new one.")
		return
	case !now.Before(t.expires):
		s.signinPage(w, e, http.StatusGone, "token-expired", "Sign-in failed", "This sign-in link has expired (links are valid for 15 minutes). Request a new one.")
		return
	case t.refused:
		s.signinPage(w, e, http.StatusForbidden, "credentials-refused", "Sign-in failed", msgKindRefused)
		return
	}
	s.mu.Lock()
	sess := s.sessions[t.accessKeyID]
	s.mu.Unlock()
	if sess == nil || !now.Before(sess.Expires) {
		s.signinPage(w, e, http.StatusUnauthorized, "session-expired", "Your session has expired", "The credentials this sign-in link was made from have expired. Sign in again.")
		return
	}
	cookie := randomString(32, base64.RawURLEncoding.EncodeToString)
	s.signin.mu.Lock()
	if s.signin.consoles == nil {
		s.signin.consoles = map[[32]byte]*consoleSession{}
	}
	for h, old := range s.signin.consoles {
		if now.After(old.expires) {
			delete(s.signin.consoles, h)
		}
	}
	s.signin.consoles[sha256.Sum256([]byte(cookie))] = &consoleSession{
		principal: t.principal, account: t.account, destination: dest, region: region,
		issuer: q.Get("Issuer"), expires: t.consoleExpires,
	}
	s.signin.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: consoleCookie, Value: cookie, Path: consolePath,
		HttpOnly: true, SameSite: http.SameSiteLaxMode, MaxAge: max(1, int(t.consoleExpires.Sub(now)/time.Second))})
	w.Header().Set("Location", consolePath)
	w.WriteHeader(http.StatusFound)
	e.Outcome, e.Status = "ok", http.StatusFound
	s.writeLog(e)
}

func (s *Server) serveConsole(w http.ResponseWriter, r *http.Request) {
	e := LogEntry{Time: s.now().UTC(), RequestID: newRequestID(), Action: "console"}
	if r.Method != http.MethodGet {
		s.signinPage(w, e, http.StatusMethodNotAllowed, "bad-request", "Bad request", "the console is a GET")
		return
	}
	var cs *consoleSession
	if c, err := r.Cookie(consoleCookie); err == nil {
		s.signin.mu.Lock()
		cs = s.signin.consoles[sha256.Sum256([]byte(c.Value))]
		s.signin.mu.Unlock()
	}
	if cs == nil {
		s.signinPage(w, e, http.StatusUnauthorized, "no-console-session", "Not signed in", "No console session: sign in through the federation endpoint.")
		return
	}
	if !s.now().Before(cs.expires) {
		s.signinPage(w, e, http.StatusUnauthorized, "console-expired", "Your session has expired", "The console session has ended. Sign in again.")
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	writeConsolePage(w, cs.principal, cs.account, cs.destination, cs.region, cs.issuer, cs.expires.UTC().Format(time.RFC3339))
	e.Caller, e.Outcome, e.Status = cs.principal, "ok", http.StatusOK
	s.writeLog(e)
}

// signinPage writes an error page in the shape of AWS's status pages
// ("message …", "description …") and logs the refusal.
func (s *Server) signinPage(w http.ResponseWriter, e LogEntry, status int, code, message, description string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	writeErrorPage(w, status, code, message, description)
	e.Outcome, e.Status, e.ErrorCode = "error", status, code
	if status == http.StatusForbidden {
		e.Outcome = "denied"
	}
	s.writeLog(e)
}

// The pages are written with fmt and html.EscapeString, not html/template:
// its executor looks methods up by name at run time, which makes the Go
// linker keep every exported method of every type in the mfabridge binary
// (the whole IAM client: 8 MB more, and a slower start for every process,
// a cached credential-process included).
func writeErrorPage(w io.Writer, status int, code, message, description string) {
	st := strconv.Itoa(status) + " – " + html.EscapeString(http.StatusText(status))
	fmt.Fprintf(w, `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>HTTP Status %s</title></head>
<body><h1>HTTP Status %s</h1>
<div id="signin-error" data-code="%s">
<p><b>Type</b> Status Report</p>
<p><b>message</b> <span id="message">%s</span></p>
<p><b>description</b> <span id="description">%s</span></p>
</div>
<hr><p>mfabridge STS emulator: AWS sign-in</p></body></html>
`, st, st, html.EscapeString(code), html.EscapeString(message), html.EscapeString(description))
}

func writeConsolePage(w io.Writer, principal, account, destination, region, issuer, expires string) {
	e := html.EscapeString
	fmt.Fprintf(w, `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>AWS Management Console (mfabridge emulator)</title></head>
<body><h1>AWS Management Console</h1>
<p>Signed in to the mfabridge STS emulator's console.</p>
<dl id="console">
<dt>Principal</dt><dd id="principal">%s</dd>
<dt>Account</dt><dd id="account">%s</dd>
<dt>Destination</dt><dd id="destination">%s</dd>
<dt>Region</dt><dd id="region">%s</dd>
<dt>Issuer</dt><dd id="issuer">%s</dd>
<dt>Console session ends</dt><dd id="expires">%s</dd>
</dl></body></html>
`, e(principal), e(account), e(destination), e(region), e(issuer), e(expires))
}
