// Package signin turns AWS role credentials into an AWS Management Console
// sign-in URL through the federation endpoint (IAM User Guide, "Enable
// custom identity broker access to the AWS console"; see
// /work/shared/notes/console-signin.md):
//
//  1. GET https://<signin host>/federation?Action=getSigninToken
//     [&SessionDuration=S]&Session={"sessionId","sessionKey","sessionToken"}
//     answers {"SigninToken": "…"};
//  2. https://<signin host>/federation?Action=login&Issuer=…&Destination=<console URL>&SigninToken=…
//     is the URL a browser opens, valid for 15 minutes.
//
// Only AssumeRole (and GetFederationToken) credentials reach the console:
// AWS refuses GetSessionToken credentials and long-term keys
// (*CredentialsError). SessionDuration is accepted only for a role assumed
// with long-term keys; for chained roles (GetSessionToken → AssumeRole, or
// role → role) the endpoint answers 400, so Get refuses it up front
// (ErrDurationChained).
//
// Secrets: the Session JSON and the sign-in token are bearer credentials.
// They never appear in an error of this package, nor in a log line; the
// login URL is returned as a *URL whose String, GoString and LogValue
// redact the token (Secret gives the real URL).
//
// Error contract: Get returns *CredentialsError for credentials the console
// refuses, ErrDuration / ErrDurationChained for a bad SessionDuration,
// *DestinationError for a destination it cannot build, ErrNoConsole for a
// region of a partition without a public console, *EndpointError when the
// federation endpoint answers anything but 200 with a token, and a wrapped
// transport error (without the request URL) when it cannot be reached.
package signin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/mfabridge/mfabridge/sts"
	"github.com/mfabridge/mfabridge/sts/awsconfig"
)

// SessionDuration bounds of the federation endpoint.
const (
	MinDuration = 15 * time.Minute
	MaxDuration = 12 * time.Hour
	// TokenLifetime is how long AWS honours a login URL after it was made.
	TokenLifetime = 15 * time.Minute
)

// Source says how credentials were obtained, which decides whether the
// console accepts them and whether SessionDuration may be sent.
type Source int

const (
	// SourceRole: AssumeRole called with long-term IAM user keys.
	SourceRole Source = iota + 1
	// SourceChainedRole: AssumeRole called with session credentials
	// (GetSessionToken → AssumeRole, role → role, or a source whose kind is
	// unknown, such as a credential_process).
	SourceChainedRole
	// SourceFederation: GetFederationToken.
	SourceFederation
	// SourceSessionToken: GetSessionToken. AWS refuses these for the console.
	SourceSessionToken
	// SourceLongTerm: access keys without a session token. Refused too.
	SourceLongTerm
)

func (s Source) String() string {
	switch s {
	case SourceRole:
		return "role credentials"
	case SourceChainedRole:
		return "chained role credentials"
	case SourceFederation:
		return "federation token credentials"
	case SourceSessionToken:
		return "GetSessionToken credentials"
	case SourceLongTerm:
		return "long-term access keys"
	}
	return fmt.Sprintf("Source(%d)", int(s))
}

// Errors of Get.
var (
	// ErrDuration: SessionDuration outside 15m–12h.
	ErrDuration = errors.New("must be from 15m to 12h")
	// ErrDurationChained: SessionDuration with credentials AWS does not
	// allow it for (chained roles, federation tokens).
	ErrDurationChained = errors.New("a console session duration cannot be set for these credentials")
	// ErrNoConsole: the region's partition has no public console.
	ErrNoConsole = errors.New("no public AWS console sign-in for this partition")
	// ErrNoToken: credentials without a session token.
	ErrNoToken = errors.New("credentials have no session token")
)

// CredentialsError reports credentials the console refuses. Source is why.
type CredentialsError struct{ Source Source }

func (e *CredentialsError) Error() string {
	return fmt.Sprintf("console sign-in needs role credentials (AssumeRole) or a federation token; AWS refuses %s for the console", e.Source)
}

// Unwrap gives ErrNoToken for long-term keys.
func (e *CredentialsError) Unwrap() error {
	if e.Source == SourceLongTerm {
		return ErrNoToken
	}
	return nil
}

// DestinationError reports a --destination that is not a console service
// name, path or console URL of the partition.
type DestinationError struct {
	Destination string
	Reason      string
}

func (e *DestinationError) Error() string {
	return fmt.Sprintf("destination %q: %s", e.Destination, e.Reason)
}

// EndpointError is a non-200 (or unusable) answer of getSigninToken. Message
// is the page's message when it has one ("Invalid credentials parameter");
// the body is never echoed whole.
type EndpointError struct {
	Host    string
	Status  int
	Message string
}

func (e *EndpointError) Error() string {
	s := fmt.Sprintf("federation endpoint %s: HTTP %d", e.Host, e.Status)
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// Partition is an AWS partition with a public console.
type Partition struct {
	ID            string // aws, aws-us-gov, aws-cn
	SigninDomain  string // signin.aws.amazon.com
	ConsoleDomain string // console.aws.amazon.com
	// Home is the region served by the bare hosts (no "<region>." prefix).
	Home string
}

var (
	partitionAWS   = Partition{ID: "aws", SigninDomain: "signin.aws.amazon.com", ConsoleDomain: "console.aws.amazon.com", Home: "us-east-1"}
	partitionGov   = Partition{ID: "aws-us-gov", SigninDomain: "signin.amazonaws-us-gov.com", ConsoleDomain: "console.amazonaws-us-gov.com", Home: "us-gov-west-1"}
	partitionChina = Partition{ID: "aws-cn", SigninDomain: "signin.amazonaws.cn", ConsoleDomain: "console.amazonaws.cn", Home: "cn-north-1"}
)

// The patterns compile on first use (sync.OnceValue): this package is linked
// into every mfabridge process, and compiling them in package init cost a
// cached credential-process about 0.4 ms.
var regionRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}$`) })

// PartitionOf picks the partition from the region's prefix: cn- → aws-cn,
// us-gov- → aws-us-gov, us-iso* and eu-isoe- → ErrNoConsole, else aws.
func PartitionOf(region string) (Partition, error) {
	if !regionRE().MatchString(region) {
		return Partition{}, fmt.Errorf("region %q: not an AWS region name (like eu-west-1)", region)
	}
	switch {
	case strings.HasPrefix(region, "cn-"):
		return partitionChina, nil
	case strings.HasPrefix(region, "us-gov-"):
		return partitionGov, nil
	case strings.HasPrefix(region, "us-iso"), strings.HasPrefix(region, "eu-isoe-"):
		return Partition{}, fmt.Errorf("region %s: %w", region, ErrNoConsole)
	}
	return partitionAWS, nil
}

// SigninHost is the federation endpoint's host for region. Commercial
// regions have their own host ("AWS Sign-In endpoints", used by granted
// since PR #419), us-east-1 the bare one. For aws-us-gov and aws-cn only
// the bare hosts are documented, so they are used for every region there.
func (p Partition) SigninHost(region string) string {
	if p.ID == "aws" && region != p.Home {
		return region + "." + p.SigninDomain
	}
	return p.SigninDomain
}

// ConsoleHost is the console host that lands the user in region: a
// regional host in the commercial partition (what reliably keeps the
// region; osdctl #182), the documented bare host elsewhere (the region then
// travels in ?region=).
func (p Partition) ConsoleHost(region string) string {
	if p.ID == "aws" && region != "" {
		return region + "." + p.ConsoleDomain
	}
	return p.ConsoleDomain
}

// globalServices are console services with no region: their destination
// has neither a regional host nor ?region=.
var globalServices = map[string]bool{
	"iam": true, "organizations": true, "billing": true, "cloudfront": true,
	"route53": true, "support": true, "trustedadvisor": true, "artifact": true,
}

var serviceRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z][a-z0-9-]{0,62}$`) })

// Destination builds the console URL for dest in region:
//   - "" → the console home (https://<region>.console…/console/home?region=R);
//   - a service name ("ec2", "s3") → /<service>/home, with ?region= unless
//     the service is global (iam, organizations, …);
//   - a path ("/ec2/home#Instances") → that path on the console host, with
//     ?region= added when absent;
//   - an https URL on the partition's console domain → kept as it is.
func Destination(p Partition, region, dest string) (string, error) {
	bad := func(reason string) error { return &DestinationError{Destination: dest, Reason: reason} }
	if len(dest) > 2048 || !utf8.ValidString(dest) {
		return "", bad("longer than 2048 bytes or not UTF-8")
	}
	regional := func(path, rawQuery, fragment string) string {
		u := url.URL{Scheme: "https", Host: p.ConsoleHost(region), Path: path, RawQuery: rawQuery, Fragment: fragment}
		q := u.Query()
		if !q.Has("region") {
			q.Set("region", region)
			u.RawQuery = q.Encode()
		}
		return u.String()
	}
	switch {
	case dest == "":
		return regional("/console/home", "", ""), nil
	case serviceRE().MatchString(dest):
		if globalServices[dest] {
			return (&url.URL{Scheme: "https", Host: p.ConsoleDomain, Path: "/" + dest + "/home"}).String(), nil
		}
		return regional("/"+dest+"/home", "", ""), nil
	case strings.HasPrefix(dest, "/"):
		if strings.HasPrefix(dest, "//") {
			return "", bad("a path must not start with //")
		}
		u, err := url.Parse(dest)
		if err != nil {
			return "", bad("not a console path: " + err.Error())
		}
		return regional(u.Path, u.RawQuery, u.Fragment), nil
	case strings.Contains(dest, "://"):
		u, err := url.Parse(dest)
		if err != nil {
			return "", bad("not a URL")
		}
		if u.Scheme != "https" || u.User != nil || u.Port() != "" {
			return "", bad("want an https console URL without user or port")
		}
		h := u.Hostname()
		sub, regional := strings.CutSuffix(h, "."+p.ConsoleDomain)
		if h != p.ConsoleDomain && (!regional || !regionRE().MatchString(sub)) {
			return "", bad(fmt.Sprintf("not a console URL of partition %s (want host %s or <region>.%s)", p.ID, p.ConsoleDomain, p.ConsoleDomain))
		}
		return u.String(), nil
	}
	return "", bad("want a service name (ec2), a console path (/ec2/home) or a console URL (https://…)")
}

// Request is what Get needs.
type Request struct {
	AccessKeyID, SecretAccessKey, SessionToken string
	Source                                     Source
	// Region selects the partition, the sign-in host and the console
	// region. Required.
	Region string
	// Destination: see the Destination function.
	Destination string
	// Duration is the console session length (SessionDuration); 0 leaves
	// it out, and the console session ends with the credentials.
	Duration time.Duration
	// Issuer is the login URL's Issuer parameter; empty sends "mfabridge".
	Issuer string
}

// URL is a console login URL: a bearer credential for TokenLifetime.
// String, GoString and LogValue redact the sign-in token.
type URL struct {
	raw, redacted string
	// Host is the sign-in host; Destination the console URL.
	Host, Destination string
	// Expires is when the login URL stops working (TokenLifetime after it
	// was made).
	Expires time.Time
}

// Secret is the real URL, for the browser and --print only.
func (u *URL) Secret() string { return u.raw }

func (u *URL) String() string       { return u.redacted }
func (u *URL) GoString() string     { return u.redacted }
func (u *URL) LogValue() slog.Value { return slog.StringValue(u.redacted) }

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient sets the HTTP client (default: a client with a 30 s
// timeout).
func WithHTTPClient(c *http.Client) Option { return func(cl *Client) { cl.http = c } }

// WithEndpoint replaces the federation endpoint, for example
// "http://127.0.0.1:4566/federation" (the STS emulator). The login URL then
// points at it too.
func WithEndpoint(u *url.URL) Option { return func(cl *Client) { cl.endpoint = u } }

// WithLogger sets the debug logger (default: discard). It never sees a
// secret.
func WithLogger(l *slog.Logger) Option { return func(cl *Client) { cl.log = l } }

// WithClock sets the clock used for URL.Expires.
func WithClock(now func() time.Time) Option { return func(cl *Client) { cl.now = now } }

// Client calls the federation endpoint.
type Client struct {
	http     *http.Client
	endpoint *url.URL
	log      *slog.Logger
	now      func() time.Time
}

// New returns a Client.
func New(opts ...Option) *Client {
	c := &Client{http: &http.Client{Timeout: 30 * time.Second}, log: slog.New(slog.DiscardHandler), now: time.Now}
	for _, o := range opts {
		o(c)
	}
	return c
}

// Check refuses, without the network, what Get would refuse: credentials
// that are not role or federation credentials, a region without a console,
// a destination it cannot build, and a Duration the endpoint would answer
// 400 for. AccessKeyID may still be empty (credentials not fetched yet).
func Check(r Request) error {
	switch r.Source {
	case SourceRole, SourceChainedRole, SourceFederation:
	case SourceSessionToken, SourceLongTerm:
		return &CredentialsError{Source: r.Source}
	default:
		return fmt.Errorf("console sign-in: unknown credential source %d", int(r.Source))
	}
	if r.AccessKeyID != "" && r.SessionToken == "" {
		return &CredentialsError{Source: SourceLongTerm}
	}
	p, err := PartitionOf(r.Region)
	if err != nil {
		return err
	}
	if _, err := Destination(p, r.Region, r.Destination); err != nil {
		return err
	}
	if r.Duration != 0 {
		if r.Duration < MinDuration || r.Duration > MaxDuration || r.Duration%time.Second != 0 {
			return fmt.Errorf("console session duration %s: %w", r.Duration, ErrDuration)
		}
		if r.Source != SourceRole {
			return fmt.Errorf("%s: %w", r.Source, ErrDurationChained)
		}
	}
	return nil
}

// maxAnswer bounds the getSigninToken answer read (a token is ~1 KiB).
const maxAnswer = 64 << 10

// Get exchanges the credentials for a sign-in token and returns the login
// URL.
func (c *Client) Get(ctx context.Context, r Request) (*URL, error) {
	if err := Check(r); err != nil {
		return nil, err
	}
	p, err := PartitionOf(r.Region)
	if err != nil {
		return nil, err
	}
	dest, err := Destination(p, r.Region, r.Destination)
	if err != nil {
		return nil, err
	}
	fed := &url.URL{Scheme: "https", Host: p.SigninHost(r.Region), Path: "/federation"}
	if c.endpoint != nil {
		e := *c.endpoint
		fed = &e
	}
	session, err := json.Marshal(map[string]string{
		"sessionId": r.AccessKeyID, "sessionKey": r.SecretAccessKey, "sessionToken": r.SessionToken,
	})
	if err != nil {
		return nil, fmt.Errorf("encode session: %w", err)
	}
	q := url.Values{"Action": {"getSigninToken"}, "Session": {string(session)}}
	if r.Duration != 0 {
		q.Set("SessionDuration", fmt.Sprint(int64(r.Duration/time.Second)))
	}
	tokURL := *fed
	tokURL.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, tokURL.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("get sign-in token from %s: build request failed", fed.Host)
	}
	c.log.Debug("getSigninToken", "host", fed.Host, "destination", dest, "session_duration", r.Duration)
	resp, err := c.http.Do(req)
	if err != nil {
		// *url.Error carries the request URL, which holds the secret key:
		// keep only its cause.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("get sign-in token from %s: %w", fed.Host, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer+1))
	if err != nil {
		return nil, fmt.Errorf("get sign-in token from %s: read answer: %w", fed.Host, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, &EndpointError{Host: fed.Host, Status: resp.StatusCode, Message: pageMessage(body)}
	}
	var ans struct {
		SigninToken string `json:"SigninToken"`
	}
	if len(body) > maxAnswer || json.Unmarshal(body, &ans) != nil || ans.SigninToken == "" {
		return nil, &EndpointError{Host: fed.Host, Status: resp.StatusCode, Message: "answer is not {\"SigninToken\": …}"}
	}
	issuer := r.Issuer
	if issuer == "" {
		issuer = "mfabridge"
	}
	login := *fed
	lq := url.Values{"Action": {"login"}, "Issuer": {issuer}, "Destination": {dest}, "SigninToken": {ans.SigninToken}}
	login.RawQuery = lq.Encode()
	lq.Set("SigninToken", "REDACTED")
	red := *fed
	red.RawQuery = lq.Encode()
	c.log.Debug("login URL made", "url", red.String())
	return &URL{raw: login.String(), redacted: red.String(), Host: fed.Host, Destination: dest,
		Expires: c.now().Add(TokenLifetime)}, nil
}

var messageRE = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`(?i)\bmessage:?(?:\s*</?[a-z]+[^<>]{0,80}>)*\s*([A-Za-z][A-Za-z0-9 ,.'()-]{0,160})`)
})

// pageMessage pulls the "message: …" line out of AWS's HTML status page
// ("message: Invalid credentials parameter"), else nothing: an unknown body
// is not echoed, it could carry anything.
func pageMessage(body []byte) string {
	m := messageRE().FindSubmatch(body)
	if m == nil {
		return ""
	}
	return strings.TrimSpace(string(m[1]))
}

// SourceOf classifies the credentials a profile's plan hands out: its
// final step is GetSessionToken (SourceSessionToken), or AssumeRole called
// straight with long-term keys (SourceRole), or AssumeRole after another
// step or with source credentials that may be session credentials
// (SourceChainedRole).
func SourceOf(p *awsconfig.Profile, pl *sts.Plan) Source {
	if len(pl.Steps) == 0 || pl.Final().Action != sts.ActionAssumeRole {
		return SourceSessionToken
	}
	if len(pl.Steps) == 1 && p.Source.LongTerm() {
		return SourceRole
	}
	return SourceChainedRole
}
