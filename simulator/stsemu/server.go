package stsemu

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Sentinel errors of Authorize.
var (
	ErrUnknownAccessKey = errors.New("unknown access key id")
	ErrExpiredToken     = errors.New("security token expired")
)

// LogEntry is one line of the request log (WithLog), written as JSON.
type LogEntry struct {
	Time      time.Time `json:"time"`
	RequestID string    `json:"request_id"`
	Action    string    `json:"action"`
	Caller    string    `json:"caller,omitempty"` // ARN of the authenticated caller
	// AccessKeyID is the key the request was signed with (also when
	// authentication failed); never a secret.
	AccessKeyID string `json:"access_key_id,omitempty"`
	MFASerial   string `json:"mfa_serial,omitempty"` // SerialNumber parameter as sent
	CodeValid   *bool  `json:"code_valid,omitempty"` // nil when no code was checked
	Outcome     string `json:"outcome"`              // "ok" | "denied" | "error"
	ErrorCode   string `json:"error_code,omitempty"`
	Status      int    `json:"status"`
}

// Option configures a Server.
type Option func(*Server)

// WithClock sets the emulator's logical clock: credential expiry, TOTP
// steps and aws:MultiFactorAuthAge. The SigV4 ±15 min window and the Date
// response header follow the real clock (shifted by Faults), so SDK
// clients keep signing with their own clock while a test moves time.
func WithClock(now func() time.Time) Option { return func(s *Server) { s.now = now } }

// WithLog writes one JSON LogEntry line per request to w.
func WithLog(w io.Writer) Option { return func(s *Server) { s.logw = w } }

// WithFaults installs a fault-injection hook (see Faults).
func WithFaults(f *Faults) Option { return func(s *Server) { s.faults = f } }

// WithLogger sets a slog logger for debug output (default: discard).
func WithLogger(l *slog.Logger) Option { return func(s *Server) { s.logger = l } }

// FaultKind selects the error a Fault injects.
type FaultKind int

const (
	FaultNone     FaultKind = iota
	FaultInternal           // 500 InternalFailure (Type Receiver)
	FaultThrottle           // 400 Throttling "Rate exceeded"
)

// Fault is what Faults.Decide returns for one request. The zero Fault
// changes nothing.
type Fault struct {
	Kind FaultKind
	// AfterAction applies Kind after the action ran: an MFA step is
	// consumed and credentials are issued, but the client gets the error
	// (the retry hazard of aws-sts.md §1.5). Otherwise the request is
	// refused before authentication.
	AfterAction bool
	Delay       time.Duration // sleep before answering
	DateShift   time.Duration // shift the server's transport clock (Date header, SigV4 skew window)
}

// Faults is an optional per-request fault-injection hook for load and
// retry tests. Decide is called once per request with the Action parameter
// and a 1-based request sequence number; it must be safe for concurrent
// use. A nil Faults or nil Decide injects nothing.
type Faults struct {
	Decide func(action string, seq int64) Fault
}

// Server is the STS emulator; it is an http.Handler and safe for
// concurrent use.
type Server struct {
	cfg    *Config
	now    func() time.Time
	logw   io.Writer
	faults *Faults
	logger *slog.Logger

	users   []*userRec
	akeys   map[string]*accessKeyRec // long-term AKIA id → key (guarded by mu; iam_keys.go)
	roles   map[string]*roleRec      // role ARN → role
	devices map[string]*mfaDevice

	mu       sync.Mutex
	seq      int64
	sessions map[string]*session // ASIA id → session
	swept    time.Time           // when store last pruned sessions
	logMu    sync.Mutex
	signin   signinState // console sign-in tokens and sessions (signin.go)
}

type userRec struct {
	Account, Name, ARN, ID string
	Policies               []*Policy
}

type roleRec struct {
	Account, Name, ARN, ID string
	MaxSession             int
	Trust                  *Policy
	Policies               []*Policy
}

type sessionKind int

const (
	kindLongTerm sessionKind = iota
	kindUserSession
	kindRoleSession
)

// session is issued temporary credentials.
type session struct {
	AccessKeyID, Secret, Token string
	Expires                    time.Time
	Kind                       sessionKind // kindUserSession or kindRoleSession
	User                       *userRec    // GetSessionToken sessions
	Role                       *roleRec    // role sessions
	SessionName                string
	MFA                        bool
	MFAAuthTime                time.Time
	SessionPolicy              *Policy  // AssumeRole Policy parameter, nil if none
	SourceChain                []string // caller ARNs that led to this session, oldest first
}

// caller is an authenticated request principal.
type caller struct {
	Kind sessionKind
	User *userRec
	Sess *session
}

func (c *caller) arn() string {
	if c.Kind == kindRoleSession {
		return assumedRoleARN(c.Sess.Role, c.Sess.SessionName)
	}
	return c.User.ARN
}

func (c *caller) account() string {
	if c.Kind == kindRoleSession {
		return c.Sess.Role.Account
	}
	return c.User.Account
}

func (c *caller) principal() *principalInfo {
	if c.Kind == kindRoleSession {
		return &principalInfo{Account: c.account(), Entity: c.Sess.Role.ARN, Session: c.arn()}
	}
	return &principalInfo{Account: c.account(), Entity: c.User.ARN}
}

func (c *caller) identityPolicies() []*Policy {
	if c.Kind == kindRoleSession {
		return c.Sess.Role.Policies
	}
	return c.User.Policies
}

func assumedRoleARN(r *roleRec, name string) string {
	return "arn:aws:sts::" + r.Account + ":assumed-role/" + r.Name + "/" + name
}

// New builds a Server from a validated config (ParseConfig or LoadConfig).
func New(cfg *Config, opts ...Option) (*Server, error) {
	if cfg == nil {
		return nil, errors.New("new stsemu server: nil config")
	}
	// Validate again: the config may have been built in Go, not parsed.
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("new stsemu server: %w: %w", ErrConfig, err)
	}
	s := &Server{
		cfg:      cfg,
		now:      time.Now,
		logger:   slog.New(slog.DiscardHandler),
		akeys:    map[string]*accessKeyRec{},
		roles:    map[string]*roleRec{},
		devices:  map[string]*mfaDevice{},
		sessions: map[string]*session{},
	}
	for _, o := range opts {
		o(s)
	}
	for ai := range cfg.Accounts {
		a := &cfg.Accounts[ai]
		for ui := range a.Users {
			u := &a.Users[ui]
			ur := &userRec{
				Account: a.ID, Name: u.Name,
				ARN: "arn:aws:iam::" + a.ID + ":user/" + u.Name,
				ID:  stableID("AIDA", a.ID+"/user/"+u.Name),
			}
			for pi := range u.Policies {
				ur.Policies = append(ur.Policies, &u.Policies[pi])
			}
			for _, k := range u.AccessKeys {
				s.akeys[k.ID] = &accessKeyRec{ID: k.ID, Secret: k.Secret, User: ur, Active: true, Created: s.now().UTC().Truncate(time.Second)}
			}
			for _, d := range u.MFADevices {
				key, err := decodeBase32Secret(d.SecretBase32)
				if err != nil {
					return nil, fmt.Errorf("new stsemu server: device %s: %w", d.Serial, err)
				}
				s.devices[d.Serial] = &mfaDevice{Serial: d.Serial, key: key, digits: d.Digits, period: int64(d.Period), owner: ur,
					account: a.ID, enabled: s.now().UTC().Truncate(time.Second)}
			}
			s.users = append(s.users, ur)
		}
		for ri := range a.Roles {
			r := &a.Roles[ri]
			rr := &roleRec{
				Account: a.ID, Name: r.Name,
				ARN:        "arn:aws:iam::" + a.ID + ":role/" + r.Name,
				ID:         stableID("AROA", a.ID+"/role/"+r.Name),
				MaxSession: r.MaxSessionDuration,
				Trust:      &r.TrustPolicy,
			}
			for pi := range r.Policies {
				rr.Policies = append(rr.Policies, &r.Policies[pi])
			}
			s.roles[rr.ARN] = rr
		}
	}
	return s, nil
}

// Region is the region requests must be signed for.
func (s *Server) Region() string { return s.cfg.Region }

// stableID derives an IAM-style unique id (prefix + 17 base32 characters)
// from a name, so ids are the same on every run.
func stableID(prefix, name string) string {
	sum := sha256.Sum256([]byte(name))
	return prefix + base32.StdEncoding.EncodeToString(sum[:])[:17]
}

func randomString(n int, enc func([]byte) string) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return enc(b)
}

func newRequestID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// apiError is an STS error answer.
type apiError struct {
	Status  int
	Code    string
	Message string
}

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

func accessDenied(msg string) *apiError {
	return &apiError{Status: 403, Code: "AccessDenied", Message: msg}
}

// notAuthorized is AWS's AccessDenied answer when c's policies do not allow
// action on resource.
func notAuthorized(c *caller, action, resource string) *apiError {
	return accessDenied(fmt.Sprintf("User: %s is not authorized to perform: %s on resource: %s", c.arn(), action, resource))
}

func validationError(msg string) *apiError {
	return &apiError{Status: 400, Code: "ValidationError", Message: msg}
}

// Verbatim STS messages (aws-sts.md §1.4).
const (
	msgWrongCode       = "MultiFactorAuthentication failed with invalid MFA one time pass code. "
	msgUnknownSerial   = "MultiFactorAuthentication failed, unable to validate MFA code.  Please verify your MFA serial number is valid and associated with this user."
	msgBothRequired    = "MultiFactorAuthentication failed, must provide both MFA serial number and one time pass code."
	msgChainCap        = "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining."
	msgMaxSession      = "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
	msgGSTFromSession  = "Cannot call GetSessionToken with session credentials"
	msgInvalidToken    = "The security token included in the request is invalid."
	msgExpiredToken    = "The security token included in the request is expired"
	chainedMaxDuration = 3600
)

func errInvalidToken() *apiError {
	return &apiError{Status: 403, Code: "InvalidClientTokenId", Message: msgInvalidToken}
}

// reqState carries per-request facts into the log line.
type reqState struct {
	entry LogEntry
	ns    string // XML namespace of error answers; "" means STS's
}

// ServeHTTP answers one Query API request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.serveSignin(w, r) {
		return
	}
	s.mu.Lock()
	s.seq++
	seq := s.seq
	s.mu.Unlock()
	st := &reqState{entry: LogEntry{Time: s.now().UTC(), RequestID: newRequestID()}}

	body, err := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes+1))
	if err != nil {
		s.finish(w, st, time.Now(), nil, &apiError{Status: 400, Code: "MalformedInput", Message: "Could not read the request body"})
		return
	}
	if len(body) > maxBodyBytes {
		s.finish(w, st, time.Now(), nil, &apiError{Status: 413, Code: "RequestEntityTooLarge", Message: "Request body is too large"})
		return
	}
	q, perr := parseRequest(r.Method, r.URL, r.Header, body)
	if q != nil {
		st.entry.Action, _ = q.param("Action")
		st.entry.MFASerial, _ = q.param("SerialNumber")
		if q.Auth != nil {
			st.entry.AccessKeyID = clip(q.Auth.AccessKeyID, 128)
		}
	}

	var fault Fault
	if s.faults != nil && s.faults.Decide != nil {
		fault = s.faults.Decide(st.entry.Action, seq)
	}
	transportNow := time.Now().Add(fault.DateShift)
	if fault.Delay > 0 {
		select {
		case <-time.After(fault.Delay):
		case <-r.Context().Done():
		}
	}
	if fault.Kind != FaultNone && !fault.AfterAction {
		s.finish(w, st, transportNow, nil, faultError(fault.Kind))
		return
	}
	if perr != nil {
		s.finish(w, st, transportNow, nil, perr)
		return
	}
	c, aerr := s.authenticate(r, q, body, transportNow)
	if aerr != nil {
		s.finish(w, st, transportNow, nil, aerr)
		return
	}
	st.entry.Caller = c.arn()
	resp, aerr := s.dispatch(q, c, st)
	if fault.Kind != FaultNone {
		s.finish(w, st, transportNow, nil, faultError(fault.Kind))
		return
	}
	s.finish(w, st, transportNow, resp, aerr)
}

func faultError(k FaultKind) *apiError {
	if k == FaultThrottle {
		return &apiError{Status: 400, Code: "Throttling", Message: "Rate exceeded"}
	}
	return &apiError{Status: 500, Code: "InternalFailure", Message: "An internal error occurred (injected fault)"}
}

// finish writes the answer and the log line.
func (s *Server) finish(w http.ResponseWriter, st *reqState, transportNow time.Time, resp any, aerr *apiError) {
	h := w.Header()
	h.Set("Date", transportNow.UTC().Format(http.TimeFormat))
	h.Set("x-amzn-RequestId", st.entry.RequestID)
	h.Set("Content-Type", "text/xml")
	status := http.StatusOK
	var out any = resp
	if aerr != nil {
		status = aerr.Status
		er := errorResponse{Xmlns: stsNamespace, RequestID: st.entry.RequestID}
		if st.ns != "" {
			er.Xmlns = st.ns
		}
		er.Error.Type = "Sender"
		if status >= 500 {
			er.Error.Type = "Receiver"
		}
		er.Error.Code, er.Error.Message = aerr.Code, aerr.Message
		out = er
		st.entry.ErrorCode = aerr.Code
		st.entry.Outcome = "error"
		if aerr.Code == "AccessDenied" {
			st.entry.Outcome = "denied"
		}
	} else {
		st.entry.Outcome = "ok"
	}
	st.entry.Status = status
	var buf bytes.Buffer
	buf.WriteString(xml.Header)
	if err := xml.NewEncoder(&buf).Encode(out); err != nil {
		// Only our own structs are encoded; this cannot fail on them.
		s.logger.Error("encode response", "err", err)
	}
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
	s.writeLog(st.entry)
}

func (s *Server) writeLog(e LogEntry) {
	if s.logw == nil {
		return
	}
	b, err := json.Marshal(e)
	if err != nil {
		return
	}
	s.logMu.Lock()
	defer s.logMu.Unlock()
	_, _ = s.logw.Write(append(b, '\n'))
}

// authenticate resolves the access key, checks the session token and its
// expiry, the credential scope and skew, then the signature. Expiry comes
// before the signature so that a client with an expired session learns
// ExpiredToken (what it must act on) rather than a signature error.
func (s *Server) authenticate(r *http.Request, q *apiRequest, body []byte, transportNow time.Time) (*caller, *apiError) {
	a := q.Auth
	c, secret, aerr := s.lookupKey(a.AccessKeyID, a.SecurityToken, true)
	if aerr != nil {
		return nil, aerr
	}
	if aerr := a.checkScope(s.cfg.Region, transportNow); aerr != nil {
		return nil, aerr
	}
	if aerr := a.verify(r.Method, r.URL, r.Host, r.Header, r.ContentLength, body, secret); aerr != nil {
		return nil, aerr
	}
	s.keyUsed(c, a.AccessKeyID, a.Service)
	return c, nil
}

// lookupKey finds the principal behind an access key. For session keys the
// token must match (checkToken) and the session must not have expired.
func (s *Server) lookupKey(id, token string, checkToken bool) (*caller, string, *apiError) {
	if u, secret, ok := s.longTermKey(id); ok {
		// A session token with long-term keys is refused, as by STS.
		if checkToken && token != "" {
			return nil, "", errInvalidToken()
		}
		return &caller{Kind: kindLongTerm, User: u}, secret, nil
	}
	s.mu.Lock()
	sess, ok := s.sessions[id]
	s.mu.Unlock()
	if !ok {
		return nil, "", errInvalidToken()
	}
	if checkToken && subtle.ConstantTimeCompare([]byte(sess.Token), []byte(token)) != 1 {
		return nil, "", errInvalidToken()
	}
	if !s.now().Before(sess.Expires) {
		return nil, "", &apiError{Status: 403, Code: "ExpiredToken", Message: msgExpiredToken}
	}
	return &caller{Kind: sess.Kind, User: sess.User, Sess: sess}, sess.Secret, nil
}

func (s *Server) dispatch(q *apiRequest, c *caller, st *reqState) (any, *apiError) {
	if q.Auth.Service == "iam" {
		return s.dispatchIAM(q, c, st)
	}
	action, _ := q.param("Action")
	version, hasVersion := q.param("Version")
	if !hasVersion {
		version = "NO_VERSION_SPECIFIED"
	}
	if version != "2011-06-15" {
		return nil, &apiError{Status: 400, Code: "InvalidAction", Message: fmt.Sprintf("Could not find operation %s for version %s", clip(action, 64), clip(version, 32))}
	}
	switch action {
	case "GetSessionToken":
		return s.getSessionToken(q, c, st)
	case "AssumeRole":
		return s.assumeRole(q, c, st)
	case "GetCallerIdentity":
		return s.getCallerIdentity(c, st)
	case "CheckAccess":
		return s.checkAccess(q, c)
	default:
		return nil, &apiError{Status: 400, Code: "InvalidAction", Message: fmt.Sprintf("Could not find operation %s for version %s", clip(action, 64), version)}
	}
}

func (s *Server) getCallerIdentity(c *caller, _ *reqState) (any, *apiError) {
	var resp getCallerIdentityResponse
	resp.Xmlns = stsNamespace
	resp.Result.Arn = c.arn()
	resp.Result.Account = c.account()
	if c.Kind == kindRoleSession {
		resp.Result.UserID = c.Sess.Role.ID + ":" + c.Sess.SessionName
	} else {
		resp.Result.UserID = c.User.ID
	}
	return &resp, nil
}

// checkMFA applies the MFA parameters of a GetSessionToken or AssumeRole
// call. present reports whether valid MFA was supplied; an error answers
// the request.
func (s *Server) checkMFA(q *apiRequest, c *caller, st *reqState) (present bool, aerr *apiError) {
	serial, hasSerial := q.param("SerialNumber")
	code, hasCode := q.param("TokenCode")
	if !hasSerial && !hasCode {
		return false, nil
	}
	if !hasSerial || !hasCode {
		return false, accessDenied(msgBothRequired)
	}
	now := s.now()
	s.mu.Lock()
	d, ok := s.devices[serial]
	if !ok || c.Kind == kindRoleSession || d.owner != c.User {
		s.mu.Unlock()
		return false, accessDenied(msgUnknownSerial)
	}
	step, ok := d.matchStep(code, now, d.lastStep, d.hasLastStep)
	if ok {
		d.lastStep, d.hasLastStep = step, true
	}
	s.mu.Unlock()
	st.entry.CodeValid = &ok
	if !ok {
		return false, accessDenied(msgWrongCode)
	}
	return true, nil
}

func (s *Server) getSessionToken(q *apiRequest, c *caller, st *reqState) (any, *apiError) {
	if c.Kind != kindLongTerm {
		return nil, accessDenied(msgGSTFromSession)
	}
	var v validator
	dur := v.duration(q, 900, 129600)
	v.serialAndCode(q)
	if err := v.err(); err != nil {
		return nil, err
	}
	mfa, aerr := s.checkMFA(q, c, st)
	if aerr != nil {
		return nil, aerr
	}
	if dur == 0 {
		dur = 43200
	}
	now := s.now()
	sess := s.newSession(kindUserSession, now, dur)
	sess.User = c.User
	sess.MFA = mfa
	if mfa {
		sess.MFAAuthTime = now
	}
	sess.SourceChain = []string{c.User.ARN}
	s.store(sess)
	var resp getSessionTokenResponse
	resp.Xmlns = stsNamespace
	resp.Result.Credentials = credentialsXML(sess)
	return &resp, nil
}

func (s *Server) newSession(kind sessionKind, now time.Time, dur int) *session {
	enc := base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString
	return &session{
		Kind:        kind,
		AccessKeyID: "ASIA" + randomString(10, enc), // 16 characters
		Secret:      randomString(30, base64.StdEncoding.EncodeToString),
		Token:       "IQoJb3JpZ2luX2VjE" + randomString(96, base64.StdEncoding.EncodeToString),
		Expires:     now.Add(time.Duration(dur) * time.Second).Truncate(time.Second),
	}
}

// sessionGrace is how long an expired session is kept so that its keys
// still get ExpiredToken, as from STS, before InvalidClientTokenId.
const sessionGrace = 24 * time.Hour

// store records a session and, at most once a minute (emulator clock),
// forgets sessions expired for longer than sessionGrace: a long-running
// emulator does not grow without bound.
func (s *Server) store(sess *session) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sessions[sess.AccessKeyID] = sess
	if now.Sub(s.swept) < time.Minute {
		return
	}
	s.swept = now
	for id, old := range s.sessions {
		if now.Sub(old.Expires) > sessionGrace {
			delete(s.sessions, id)
		}
	}
}

// mfaContext computes the MFA condition keys for a request by c, given
// whether this very request carried valid MFA parameters (aws-sts.md §6/§7).
func (s *Server) mfaContext(c *caller, mfaNow bool) map[string]string {
	ctx := map[string]string{}
	now := s.now()
	switch {
	case mfaNow:
		ctx[keyMFAPresent] = "true"
		ctx[keyMFAAge] = "0"
	case c.Kind == kindLongTerm:
		// Keys absent for long-term access keys.
	case c.Kind == kindUserSession || s.cfg.RoleSessionsCarryMFA:
		if c.Sess.MFA {
			ctx[keyMFAPresent] = "true"
			age := int64(now.Sub(c.Sess.MFAAuthTime) / time.Second)
			if age < 0 {
				age = 0
			}
			ctx[keyMFAAge] = fmt.Sprint(age)
		} else {
			ctx[keyMFAPresent] = "false"
		}
	default:
		ctx[keyMFAPresent] = "false"
	}
	return ctx
}

func (s *Server) assumeRole(q *apiRequest, c *caller, st *reqState) (any, *apiError) {
	var v validator
	roleArn := v.str(q, "RoleArn", "roleArn", true, 20, 2048, "")
	name := v.str(q, "RoleSessionName", "roleSessionName", true, 2, 64, `[\w+=,.@-]*`)
	dur := v.duration(q, 900, 43200)
	v.str(q, "ExternalId", "externalId", false, 2, 1224, `[\w+=,.@:\/-]*`)
	srcID := v.str(q, "SourceIdentity", "sourceIdentity", false, 2, 64, `[\w+=,.@-]*`)
	policyDoc := v.str(q, "Policy", "policy", false, 1, 2048, `[\u0009\u000A\u000D\u0020-\u00FF]+`)
	v.serialAndCode(q)
	if err := v.err(); err != nil {
		return nil, err
	}
	if strings.HasPrefix(strings.ToLower(srcID), "aws:") {
		return nil, validationError("SourceIdentity must not begin with the prefix 'aws:'")
	}
	var sessPolicy *Policy
	if policyDoc != "" {
		p, err := ParsePolicy([]byte(policyDoc), false)
		if err != nil {
			return nil, &apiError{Status: 400, Code: "MalformedPolicyDocument", Message: "The policy is not in the valid JSON format or uses elements the emulator does not support."}
		}
		sessPolicy = p
	}
	mfaNow, aerr := s.checkMFA(q, c, st)
	if aerr != nil {
		return nil, aerr
	}
	role := s.roles[roleArn]
	denied := notAuthorized(c, "sts:AssumeRole", roleArn)
	if role == nil {
		return nil, denied
	}
	req := evalRequest{Action: "sts:AssumeRole", Resource: role.ARN, Context: s.mfaContext(c, mfaNow)}
	identity := evaluate(c.identityPolicies(), req)
	session := allow
	if c.Kind == kindRoleSession && c.Sess.SessionPolicy != nil {
		session = evaluate([]*Policy{c.Sess.SessionPolicy}, req)
	}
	req.Principal = c.principal()
	trust, how := evaluateTrust(role.Trust, req)
	if !assumeRoleAllowed(identity, session, trust, how, c.account() == role.Account) {
		return nil, denied
	}
	chained := c.Kind != kindLongTerm
	if dur == 0 {
		dur = 3600
	} else if chained && dur > chainedMaxDuration {
		return nil, validationError(msgChainCap)
	} else if dur > role.MaxSession {
		return nil, validationError(msgMaxSession)
	}
	now := s.now()
	sess := s.newSession(kindRoleSession, now, dur)
	sess.Role = role
	sess.SessionName = name
	sess.SessionPolicy = sessPolicy
	ctx := req.Context
	sess.MFA = ctx[keyMFAPresent] == "true"
	if sess.MFA {
		if mfaNow {
			sess.MFAAuthTime = now
		} else {
			sess.MFAAuthTime = c.Sess.MFAAuthTime
		}
	}
	if c.Sess != nil {
		sess.SourceChain = append(append([]string(nil), c.Sess.SourceChain...), c.arn())
	} else {
		sess.SourceChain = []string{c.arn()}
	}
	s.store(sess)
	var resp assumeRoleResponse
	resp.Xmlns = stsNamespace
	resp.Result.SourceIdentity = srcID
	resp.Result.AssumedRoleUser.AssumedRoleID = role.ID + ":" + name
	resp.Result.AssumedRoleUser.Arn = assumedRoleARN(role, name)
	resp.Result.Credentials = credentialsXML(sess)
	if policyDoc != "" {
		size := min(100, 1+len(policyDoc)*100/2048)
		resp.Result.PackedPolicySize = &size
	}
	return &resp, nil
}

// checkAccess is the emulator extension Action=CheckAccess: it evaluates
// the caller's identity policies (and session policy) for Target on
// Resource (default "*") with the caller's MFA context.
func (s *Server) checkAccess(q *apiRequest, c *caller) (any, *apiError) {
	var v validator
	target := v.str(q, "Target", "target", true, 3, 256, "")
	resource := v.str(q, "Resource", "resource", false, 1, 2048, "")
	if err := v.err(); err != nil {
		return nil, err
	}
	if resource == "" {
		resource = "*"
	}
	if aerr := s.iamAllow(c, target, resource); aerr != nil {
		return nil, aerr
	}
	var resp checkAccessResponse
	resp.Xmlns = stsNamespace
	resp.Result.Decision = "allowed"
	resp.Result.Caller = c.arn()
	resp.Result.Target = target
	resp.Result.Resource = resource
	return &resp, nil
}

func (s *Server) authorize(c *caller, action, resource string) (bool, *apiError) {
	// IAM refuses GetSessionToken credentials obtained without MFA with
	// the invalid-token error (aws-sts.md §1.4).
	if c.Kind == kindUserSession && !c.Sess.MFA && strings.HasPrefix(strings.ToLower(action), "iam:") {
		return false, errInvalidToken()
	}
	req := evalRequest{Action: action, Resource: resource, Context: s.mfaContext(c, false)}
	return s.identityAllows(c, req), nil
}

// identityAllows reports whether c's identity policies allow req and, for
// a role session, the session policy it was issued with allows it too.
func (s *Server) identityAllows(c *caller, req evalRequest) bool {
	if evaluate(c.identityPolicies(), req) != allow {
		return false
	}
	if c.Kind == kindRoleSession && c.Sess.SessionPolicy != nil && evaluate([]*Policy{c.Sess.SessionPolicy}, req) != allow {
		return false
	}
	return true
}

// Authorize evaluates whether the holder of accessKeyID (long-term or an
// issued session key) may perform action on resource, applying identity
// policies, session policies and the MFA context of those credentials. It
// does not check a signature or session token. Errors: ErrUnknownAccessKey,
// ErrExpiredToken, or an error for IAM actions with non-MFA
// GetSessionToken credentials.
func (s *Server) Authorize(accessKeyID, action, resource string) (bool, error) {
	c, _, aerr := s.lookupKey(accessKeyID, "", false)
	if aerr != nil {
		if aerr.Code == "ExpiredToken" {
			return false, fmt.Errorf("authorize %s: %w", action, ErrExpiredToken)
		}
		return false, fmt.Errorf("authorize %s: %w", action, ErrUnknownAccessKey)
	}
	ok, aerr := s.authorize(c, action, resource)
	if aerr != nil {
		return false, fmt.Errorf("authorize %s: %w", action, aerr)
	}
	return ok, nil
}
