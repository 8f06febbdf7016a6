package sts

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptrace"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awssts "github.com/aws/aws-sdk-go-v2/service/sts"
	ststypes "github.com/aws/aws-sdk-go-v2/service/sts/types"

	"github.com/mfabridge/mfabridge/sts/awsconfig"
	"github.com/mfabridge/mfabridge/sts/stepcache"
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

// Credentials are temporary AWS credentials (stepcache.Credentials; its
// ProcessOutput renders the credential_process JSON).
type Credentials = stepcache.Credentials

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

// DefaultCallTimeout bounds one STS call (with the SDK's retries, if any)
// unless WithCallTimeout says otherwise. The SDKs set no overall bound:
// aws-sdk-go-v2 only bounds the dial (30 s) and the TLS handshake (10 s),
// botocore the connect and each read (60 s each). 30 s is the Go SDK's
// dial bound: an STS answer takes well under a second, and a hung call
// holds the serial's lock, so every other process on it waits as long.
const DefaultCallTimeout = 30 * time.Second

// WithCallTimeout bounds each STS call; d <= 0 keeps the default.
func WithCallTimeout(d time.Duration) Option {
	return func(p *Provider) {
		if d > 0 {
			p.callTimeout = d
		}
	}
}

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

// LockNoticeDelay is how long a wait for another process's lock of the
// same MFA serial may last before the terminal notice is shown (as
// device.TouchDelay for touches): an uncontended wait stays silent.
const LockNoticeDelay = time.Second

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
	skew       *skewClient                                               // the SDK client's HTTP client; nil with WithSTSClient
	// callTimeout bounds each STS call (DefaultCallTimeout).
	callTimeout time.Duration
	keysOnce    sync.Once // stepKeys
	keyNames    []string
	keyFor      []stepcache.StepKey
	sourceKeys  SourceKeysFunc // sourcekeys.go
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
		now: time.Now, sleep: sleepCtx, log: slog.New(slog.DiscardHandler), callTimeout: DefaultCallTimeout}
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
		pr.skew = &skewClient{inner: hc, now: pr.now, ui: pr.ui}
		o := awssts.Options{Region: pr.profile.Region, HTTPClient: pr.skew}
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

func (pr *Provider) keys() []string {
	keys, _ := pr.stepKeys()
	return keys
}

// stepKeys returns each step's cache key (file name) and what it hashes,
// computed once.
func (pr *Provider) stepKeys() ([]string, []stepcache.StepKey) {
	pr.keysOnce.Do(func() { pr.keyNames, pr.keyFor = stepcache.StepKeys(pr.profile, pr.plan) })
	return pr.keyNames, pr.keyFor
}

// usable reports whether step i's cached result may be used now
// (stepcache.Plan.Usable): written for this very step, enough time left
// and, for the MFA session, MFA fresh enough.
func (pr *Provider) usable(i int, e *cacheEntry, now time.Time) bool {
	_, sks := pr.stepKeys()
	ok, foreign := pr.plan.Usable(i, sks[i], e, now)
	if foreign {
		got := "none"
		if e.For != nil {
			got = e.For.RoleARN + " " + e.For.Serial
		}
		pr.log.Debug("sts cache: ignoring entry written for another target", "action", pr.plan.Steps[i].Action,
			"want", sks[i].RoleARN+" "+sks[i].Serial, "entry_for", got)
	}
	return ok
}

// Credentials returns credentials with at least 15 minutes left, from the
// cache or from STS.
func (pr *Provider) Credentials(ctx context.Context) (*Credentials, error) {
	steps := pr.plan.Steps
	keys, sks := pr.stepKeys()
	last := len(steps) - 1
	if e := pr.cache.get(keys[last], pr.log); pr.usable(last, e, pr.now()) {
		return stepcache.HandOut(steps[last], e), nil
	}

	if err := pr.checkReentry(); err != nil {
		return nil, fmt.Errorf("get credentials for profile %q: %w", pr.profile.Name, err)
	}
	var notice *time.Timer
	unlock, err := pr.cache.lockSerial(ctx, pr.profile.MFASerial, func() {
		pr.log.Debug("sts: waiting for the lock of another mfabridge process", "serial", pr.profile.MFASerial)
		notice = time.AfterFunc(LockNoticeDelay, func() {
			pr.ui.notify("waiting for another mfabridge process using %s (it may be waiting for a touch or for STS)", pr.profile.MFASerial)
		})
	})
	if notice != nil {
		notice.Stop()
	}
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
				return stepcache.HandOut(steps[i], e), nil
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
		e.For = &sks[i]
		if err := pr.cache.put(keys[i], e); err != nil {
			// Still usable; the next run redoes the call.
			pr.log.Debug("sts cache: write failed", "err", err)
		}
		caller = &e.Credentials
	}
	return stepcache.HandOut(steps[last], e), nil
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
		viaSession: idx == 1 && pr.plan.ViaSession()}
	var code string
	var at time.Time
	prevStep := int64(-1)
	if s.MFA {
		var err error
		prevStep = pr.cache.lastStep(p.MFASerial)
		code, at, ci.reused, err = pr.freshCode(ctx)
		if err != nil {
			return nil, err
		}
	}
	ci.region, ci.endpoint = p.Region, p.Endpoint
	ctx, cancel := context.WithTimeoutCause(ctx, pr.callTimeout, errCallTimeout)
	defer cancel()
	var sent sendTrace
	ctx = httptrace.WithClientTrace(ctx, sent.trace())
	fail := func(err error) error {
		ce := classify(ci, err)
		if errors.Is(context.Cause(ctx), errCallTimeout) {
			ce = timeoutError(ci, pr.callTimeout, err)
		}
		if c, ok := ce.(*CallError); ok {
			if c.Kind == ErrClockSkew {
				c.Cause = pr.skewCause()
			}
			if s.MFA {
				pr.settleStep(c, &sent, prevStep)
			}
		}
		return ce
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
			return nil, fail(err)
		}
		c, err := pr.fromAnswer(out.Credentials)
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
			return nil, fail(err)
		}
		c, err := pr.fromAnswer(out.Credentials)
		if err != nil {
			return nil, fmt.Errorf("sts: AssumeRole %s: %w", s.RoleARN, err)
		}
		return &cacheEntry{Action: s.Action, Target: s.RoleARN, Credentials: *c}, nil
	}
}

// fromAnswer is fromSDK, refusing credentials already expired by the
// Provider's clock (issue 13 case 5), so they are never handed out nor
// cached; botocore does the same ("Credentials were refreshed, but the
// refreshed credentials are still expired").
func (pr *Provider) fromAnswer(c *ststypes.Credentials) (*Credentials, error) {
	out, err := fromSDK(c)
	if err != nil {
		return nil, err
	}
	if now := pr.now(); !out.Expiration.After(now) {
		return nil, fmt.Errorf("%w: they expired at %s, %s before this computer's clock (%s); if the clock is right, STS (or the endpoint) is misbehaving",
			ErrExpiredAnswer, out.Expiration.Format(time.RFC3339), now.Sub(out.Expiration).Round(time.Second), now.UTC().Format(time.RFC3339))
	}
	return out, nil
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

// errCallTimeout is the cause of a call's context when its time-out ends it.
var errCallTimeout = errors.New("sts call timed out")

// sendTrace records how far an STS request got (net/http/httptrace):
// whether the transport was asked for a connection, and whether the
// request was written to it.
type sendTrace struct {
	started, wrote atomic.Bool
}

func (t *sendTrace) trace() *httptrace.ClientTrace {
	return &httptrace.ClientTrace{
		GetConn:      func(string) { t.started.Store(true) },
		WroteRequest: func(httptrace.WroteRequestInfo) { t.wrote.Store(true) },
	}
}

// neverSent reports whether a failed request certainly did not reach STS
// (issue 13 case 8): the transport was reached but nothing was written
// (connection refused, DNS failure, TLS failure), or, where no trace ran
// (a client that is not net/http), the error is a failed dial or name
// lookup. Anything else may have reached STS. A write that failed half
// way counts as sent: whether STS read enough of it is unknown.
func neverSent(t *sendTrace, err error) bool {
	if t.wrote.Load() {
		return false
	}
	if t.started.Load() {
		return true
	}
	var op *net.OpError
	var dns *net.DNSError
	return (errors.As(err, &op) && op.Op == "dial") || errors.As(err, &dns)
}

// settleStep gives the TOTP step back (the ledger's previous value) when
// the code cannot have been consumed: the request never reached STS, or
// STS refused it before checking MFA. freshCode spent it before the call so
// that a crash or a lost answer never leads to a reuse; this undoes that
// only when it is known to be safe. It sets ce.StepKept.
func (pr *Provider) settleStep(ce *CallError, sent *sendTrace, prev int64) {
	keep := false
	switch {
	case ce.Kind == ErrTransport || ce.Kind == ErrTimeout:
		keep = neverSent(sent, ce.Err)
	case rejectedBeforeMFA(ce.Code):
		keep = true
	}
	if !keep {
		return
	}
	if err := pr.cache.restoreStep(pr.profile.MFASerial, prev); err != nil {
		pr.log.Debug("sts: could not give the unsent code's step back", "err", err)
		return
	}
	ce.StepKept, ce.Spent = true, false
}

// skewCause says how far this computer's clock is from STS's, measured
// from the Date header of STS's answer (clock-skew rejections).
func (pr *Provider) skewCause() string {
	const limit = "SigV4 accepts requests signed within 5 minutes of STS's clock"
	if pr.skew == nil {
		return "this computer's clock differs from STS's (not measured); " + limit
	}
	d, ok := pr.skew.measured()
	if !ok {
		return "this computer's clock differs from STS's (STS's answer had no Date header); " + limit
	}
	dir := "ahead of"
	if d < 0 {
		dir, d = "behind", -d
	}
	return fmt.Sprintf("this computer's clock is %s %s STS's (measured from the Date header of its answer); %s", d, dir, limit)
}
