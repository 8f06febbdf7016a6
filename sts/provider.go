package sts

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awssts "github.com/aws/aws-sdk-go-v2/service/sts"
	ststypes "github.com/aws/aws-sdk-go-v2/service/sts/types"

	"github.com/mfabridge/mfabridge/sts/awsconfig"
)

// TokenFunc returns the MFA code of the profile's mfa_serial for the TOTP
// step holding at. It is stscreds' TokenProvider with a context (a wait
// for a touch must be cancellable) and a time: the Provider decides which
// step it needs (never one sent before, never one about to end) and the
// function computes that step's code, not the current one. The caller binds
// it to a device before it reaches the Provider, which never learns how
// codes are made.
//
// Error contract: errors are returned as they are after "get credentials
// for profile NAME: ", so they say themselves what failed; they must not
// contain the code or any secret. ctx.Err() when cancelled.
type TokenFunc func(ctx context.Context, at time.Time) (string, error)

// UI carries terminal notices. A nil Notify drops them.
type UI struct {
	// Notify shows a one-line notice (waits for a fresh code, clock skew,
	// the OATH account chosen). Messages carry no prefix and no secrets.
	Notify func(msg string)
}

func (u UI) notify(format string, args ...any) {
	if u.Notify != nil {
		u.Notify(fmt.Sprintf(format, args...))
	}
}

// Credentials are temporary AWS credentials.
type Credentials struct {
	AccessKeyID     string    `json:"access_key_id"`
	SecretAccessKey string    `json:"secret_access_key"`
	SessionToken    string    `json:"session_token,omitempty"`
	Expiration      time.Time `json:"expiration,omitzero"`
}

// API is the part of the STS client the Provider uses; *sts.Client
// satisfies it. The caller's credentials arrive through the option
// functions (Options.Credentials), so a fake applies them to a zero
// sts.Options to see who is calling.
//
// Error contract: STS refusals are smithy.APIError values (code and
// message as STS sent them); anything else is a transport failure. The
// Provider turns both into *CallError.
type API interface {
	GetSessionToken(ctx context.Context, in *awssts.GetSessionTokenInput, optFns ...func(*awssts.Options)) (*awssts.GetSessionTokenOutput, error)
	AssumeRole(ctx context.Context, in *awssts.AssumeRoleInput, optFns ...func(*awssts.Options)) (*awssts.AssumeRoleOutput, error)
}

// HTTPClient is what the SDK needs to send requests; *http.Client fits.
type HTTPClient interface {
	Do(*http.Request) (*http.Response, error)
}

// Option configures a Provider.
type Option func(*Provider)

// WithClock sets the clock (TOTP steps, expiry checks, skew detection).
func WithClock(now func() time.Time) Option { return func(p *Provider) { p.now = now } }

// WithSleep sets how the Provider waits for the next TOTP step; tests pass
// one that advances a fake clock. It must return ctx.Err() when cancelled.
func WithSleep(sleep func(ctx context.Context, d time.Duration) error) Option {
	return func(p *Provider) { p.sleep = sleep }
}

// WithHTTPClient sets the HTTP client of the SDK's STS client.
func WithHTTPClient(c HTTPClient) Option { return func(p *Provider) { p.httpClient = c } }

// WithLogger sets the debug logger: the STS calls made (action, role,
// serial, caller's access key id; never a code or a secret), cache entries
// ignored and why, waits for another process's lock. The default discards.
func WithLogger(l *slog.Logger) Option {
	return func(p *Provider) {
		if l != nil {
			p.log = l
		}
	}
}

// WithUI sets the terminal notice hook.
func WithUI(ui UI) Option { return func(p *Provider) { p.ui = ui } }

// WithSTSClient replaces the SDK client (for fakes). Clock-skew detection
// then only works if the fake goes through an HTTP client of ours.
func WithSTSClient(api API) Option { return func(p *Provider) { p.api = api } }

// WithCredentialProcessRunner replaces how a source profile's
// credential_process is run (tests).
func WithCredentialProcessRunner(run func(ctx context.Context, command string) ([]byte, error)) Option {
	return func(p *Provider) { p.runProcess = run }
}

// Provider yields credentials for one profile. It implements
// aws.CredentialsProvider. Several Providers, in one process or many, may
// share a cache directory: work for one MFA serial is serialised by a file
// lock and the cache is re-checked after locking.
type Provider struct {
	profile    *awsconfig.Profile
	plan       *Plan
	token      TokenFunc
	cache      *fileCache
	now        func() time.Time
	sleep      func(ctx context.Context, d time.Duration) error
	httpClient HTTPClient
	ui         UI
	log        *slog.Logger
	api        API // see client
	apiOnce    sync.Once
	runProcess func(ctx context.Context, command string) ([]byte, error) // nil: runSourceProcess runs it
	proc       processConfig                                             // process.go
	sourceKeys SourceKeysFunc                                            // sourcekeys.go
}

// NewProvider builds a Provider for a resolved profile; token computes the
// codes of its mfa_serial. cacheDir is created (0700) if missing.
func NewProvider(p *awsconfig.Profile, token TokenFunc, cacheDir string, opts ...Option) (*Provider, error) {
	if p == nil || token == nil {
		return nil, errors.New("new provider: nil profile or token function")
	}
	plan, err := MakePlan(p)
	if err != nil {
		return nil, fmt.Errorf("new provider: %w", err)
	}
	cache, err := openCache(cacheDir)
	if err != nil {
		return nil, fmt.Errorf("new provider: %w", err)
	}
	pr := &Provider{profile: p, plan: plan, token: token, cache: cache,
		now: time.Now, sleep: sleepCtx, log: slog.New(slog.DiscardHandler)}
	for _, o := range opts {
		o(pr)
	}
	return pr, nil
}

// client is the STS API, built on first use: a credential served from the
// cache never pays for setting up the SDK client.
func (pr *Provider) client() API {
	pr.apiOnce.Do(func() {
		if pr.api != nil {
			return // WithAPI
		}
		var hc HTTPClient = pr.httpClient
		if hc == nil {
			hc = awshttp.NewBuildableClient()
		}
		o := awssts.Options{Region: pr.profile.Region, HTTPClient: &skewClient{inner: hc, now: pr.now, ui: pr.ui}}
		if pr.profile.Endpoint != "" {
			o.BaseEndpoint = aws.String(pr.profile.Endpoint)
		}
		pr.api = awssts.New(o)
	})
	return pr.api
}

// Plan returns the provider's plan.
func (pr *Provider) Plan() *Plan { return pr.plan }

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

var _ aws.CredentialsProvider = (*Provider)(nil)

// Retrieve implements aws.CredentialsProvider.
func (pr *Provider) Retrieve(ctx context.Context) (aws.Credentials, error) {
	c, err := pr.Credentials(ctx)
	if err != nil {
		return aws.Credentials{}, err
	}
	return aws.Credentials{AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey,
		SessionToken: c.SessionToken, CanExpire: true, Expires: c.Expiration, Source: "mfabridge"}, nil
}

// stepKey identifies a step's result in the cache: the call's parameters
// plus who calls (the source identity or the previous step's key). The
// shared MFA session's key leaves out the duration: one session per serial
// and source identity.
type stepKey struct {
	Action      Action `json:"action"`
	Serial      string `json:"serial,omitempty"`
	RoleARN     string `json:"role_arn,omitempty"`
	ExternalID  string `json:"external_id,omitempty"`
	SessionName string `json:"session_name,omitempty"`
	Duration    int64  `json:"duration,omitempty"`
	MFA         bool   `json:"mfa,omitempty"`
	Caller      string `json:"caller"`
}

func (pr *Provider) keys() []string {
	p := pr.profile
	caller := "process:" + p.Source.Profile + ":" + p.Source.CredentialProcess
	if p.Source.AccessKeyID != "" {
		caller = "key:" + p.Source.AccessKeyID
	}
	keys := make([]string, len(pr.plan.Steps))
	for i, s := range pr.plan.Steps {
		k := stepKey{Action: s.Action, MFA: s.MFA, Caller: caller}
		if s.Shared {
			k.Serial = p.MFASerial
		} else {
			k.RoleARN, k.ExternalID, k.SessionName = s.RoleARN, s.ExternalID, s.SessionName
			k.Duration = int64(s.Duration / time.Second)
			if s.MFA {
				k.Serial = p.MFASerial
			}
		}
		keys[i] = cacheKey(k)
		caller = "step:" + keys[i]
	}
	return keys
}

// callerMargin is the validity an intermediate result (the MFA session, a
// hop of a chain) needs left to serve as the caller of the next call; the
// next call's result does not depend on it.
const callerMargin = time.Minute

// margin is how long step i's result must still be valid to be used: 15
// minutes for the credentials handed out, a minute for intermediate ones.
func (pr *Provider) margin(i int) time.Duration {
	if i == len(pr.plan.Steps)-1 {
		return awsconfig.MinRemaining
	}
	return callerMargin
}

// usable reports whether step i's cached result may be used now: enough
// time left and, for the MFA session, MFA fresh enough.
func (pr *Provider) usable(i int, e *cacheEntry, now time.Time) bool {
	s := pr.plan.Steps[i]
	if e == nil || e.Action != s.Action {
		return false
	}
	return !pr.expiry(s, e).Before(now.Add(pr.margin(i)))
}

// expiry is when an entry stops being usable: its expiration, or for an MFA
// session with mfabridge_mfa_max_age, when its MFA gets too old.
func (pr *Provider) expiry(s Step, e *cacheEntry) time.Time {
	exp := e.Credentials.Expiration
	if s.Shared && s.MaxAge > 0 {
		if e.MFATime.IsZero() {
			return time.Time{}
		}
		if t := e.MFATime.Add(s.MaxAge); t.Before(exp) {
			exp = t
		}
	}
	return exp
}

// Credentials returns credentials with at least 15 minutes left, from the
// cache or from STS.
func (pr *Provider) Credentials(ctx context.Context) (*Credentials, error) {
	steps := pr.plan.Steps
	keys := pr.keys()
	last := len(steps) - 1
	if e := pr.cache.get(keys[last], pr.log); pr.usable(last, e, pr.now()) {
		return pr.handOut(steps[last], e), nil
	}

	if err := pr.checkReentry(); err != nil {
		return nil, fmt.Errorf("get credentials for profile %q: %w", pr.profile.Name, err)
	}
	unlock, err := pr.cache.lockSerial(ctx, pr.profile.MFASerial, func() {
		pr.log.Debug("sts: waiting for the lock of another mfabridge process", "serial", pr.profile.MFASerial)
	})
	if err != nil {
		return nil, fmt.Errorf("get credentials for profile %q: %w", pr.profile.Name, err)
	}
	defer unlock()

	// Re-check under the lock: another process may have done the work.
	now := pr.now()
	start := 0
	var caller *Credentials
	for i := last; i >= 0; i-- {
		if e := pr.cache.get(keys[i], pr.log); pr.usable(i, e, now) {
			if i == last {
				return pr.handOut(steps[i], e), nil
			}
			start, caller = i+1, &e.Credentials
			break
		}
	}
	if caller == nil {
		caller, err = pr.sourceCredentials(ctx)
		if err != nil {
			return nil, err
		}
	}
	var e *cacheEntry
	for i := start; i <= last; i++ {
		e, err = pr.call(ctx, steps[i], i, *caller)
		if err != nil {
			return nil, fmt.Errorf("get credentials for profile %q: %w", pr.profile.Name, err)
		}
		if err := pr.cache.put(keys[i], e); err != nil {
			// Still usable; the next run redoes the call.
			pr.log.Debug("sts cache: write failed", "err", err)
		}
		caller = &e.Credentials
	}
	return pr.handOut(steps[last], e), nil
}

func (pr *Provider) handOut(s Step, e *cacheEntry) *Credentials {
	c := e.Credentials
	c.Expiration = pr.expiry(s, e)
	return &c
}

// sourceCredentials returns the root credentials of the chain.
func (pr *Provider) sourceCredentials(ctx context.Context) (*Credentials, error) {
	src := pr.profile.Source
	if src.KeyStore != "" {
		return pr.storedSourceCredentials(ctx, src)
	}
	if src.AccessKeyID != "" {
		return &Credentials{AccessKeyID: src.AccessKeyID, SecretAccessKey: src.SecretAccessKey, SessionToken: src.SessionToken}, nil
	}
	if awsconfig.IsSelfCommand(src.CredentialProcess) {
		return nil, &awsconfig.ProfileError{Profile: src.Profile, Err: awsconfig.ErrRecursion}
	}
	out, err := pr.runSourceProcess(ctx, src.CredentialProcess)
	if err != nil {
		return nil, fmt.Errorf("run credential_process of profile %q: %w", src.Profile, err)
	}
	c, err := ParseProcessOutput(out)
	if err != nil {
		return nil, fmt.Errorf("run credential_process of profile %q: %w", src.Profile, err)
	}
	if !c.Expiration.IsZero() && c.Expiration.Before(pr.now()) {
		return nil, fmt.Errorf("run credential_process of profile %q: credentials expired at %s: %w",
			src.Profile, c.Expiration.UTC().Format(time.RFC3339), ErrExpiredCredentials)
	}
	return c, nil
}

// call performs one step with caller's credentials.
func (pr *Provider) call(ctx context.Context, s Step, idx int, caller Credentials) (*cacheEntry, error) {
	p := pr.profile
	credOpt := func(o *awssts.Options) {
		o.Credentials = credentials.StaticCredentialsProvider{Value: aws.Credentials{
			AccessKeyID: caller.AccessKeyID, SecretAccessKey: caller.SecretAccessKey,
			SessionToken: caller.SessionToken, Source: "mfabridge"}}
		if s.MFA {
			// A retry would resend a spent code and fail as reuse.
			o.RetryMaxAttempts = 1
		}
	}
	ci := callInfo{action: s.Action, target: s.RoleARN, withMFA: s.MFA,
		chained: caller.SessionToken != "", duration: int32(s.Duration / time.Second),
		viaSession: idx == 1 && pr.plan.viaSession()}
	var code string
	var at time.Time
	if s.MFA {
		var err error
		code, at, ci.reused, err = pr.freshCode(ctx)
		if err != nil {
			return nil, err
		}
	}
	pr.log.Debug("sts: call", "action", s.Action, "role", s.RoleARN, "serial", p.MFASerial, "mfa", s.MFA,
		"duration", s.Duration, "caller", caller.AccessKeyID)
	switch s.Action {
	case ActionGetSessionToken:
		ci.target = p.MFASerial
		in := &awssts.GetSessionTokenInput{DurationSeconds: aws.Int32(ci.duration),
			SerialNumber: aws.String(p.MFASerial), TokenCode: aws.String(code)}
		out, err := pr.client().GetSessionToken(ctx, in, credOpt)
		if err != nil {
			return nil, classify(ci, err)
		}
		c, err := fromSDK(out.Credentials)
		if err != nil {
			return nil, fmt.Errorf("sts: GetSessionToken %s: %w", p.MFASerial, err)
		}
		return &cacheEntry{Action: s.Action, Target: p.MFASerial, Credentials: *c,
			MFATime: at.UTC()}, nil
	default:
		in := &awssts.AssumeRoleInput{RoleArn: aws.String(s.RoleARN), RoleSessionName: aws.String(s.SessionName),
			DurationSeconds: aws.Int32(ci.duration)}
		if s.ExternalID != "" {
			in.ExternalId = aws.String(s.ExternalID)
		}
		if s.MFA {
			in.SerialNumber, in.TokenCode = aws.String(p.MFASerial), aws.String(code)
		}
		out, err := pr.client().AssumeRole(ctx, in, credOpt)
		if err != nil {
			return nil, classify(ci, err)
		}
		c, err := fromSDK(out.Credentials)
		if err != nil {
			return nil, fmt.Errorf("sts: AssumeRole %s: %w", s.RoleARN, err)
		}
		return &cacheEntry{Action: s.Action, Target: s.RoleARN, Credentials: *c}, nil
	}
}

// fromSDK checks and converts the credentials of an STS answer.
func fromSDK(c *ststypes.Credentials) (*Credentials, error) {
	if c == nil || c.AccessKeyId == nil || c.SecretAccessKey == nil || c.Expiration == nil ||
		*c.AccessKeyId == "" || *c.SecretAccessKey == "" {
		return nil, errors.New("answer without complete credentials")
	}
	return &Credentials{AccessKeyID: *c.AccessKeyId, SecretAccessKey: *c.SecretAccessKey,
		SessionToken: aws.ToString(c.SessionToken), Expiration: c.Expiration.UTC()}, nil
}
