package sts

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssts "github.com/aws/aws-sdk-go-v2/service/sts"
	ststypes "github.com/aws/aws-sdk-go-v2/service/sts/types"
	"github.com/aws/smithy-go"
	"github.com/pquerna/otp/totp"

	"github.com/mfabridge/mfabridge/internal/ststest"
	"github.com/mfabridge/mfabridge/sts/awsconfig"
)

const testSecret = "JBSWY3DPEHPK3PXP" // base32, RFC 6238-style test key

// fakeClock is a settable clock shared by providers and the fake STS.
type fakeClock = ststest.Clock

var newFakeClock = ststest.NewClock

// fakeTokens computes real TOTP codes from testSecret and counts them. Its
// Code method is the Provider's TokenFunc.
type fakeTokens struct {
	codes  atomic.Int32
	secret string
}

func (f *fakeTokens) Code(ctx context.Context, at time.Time) (string, error) {
	f.codes.Add(1)
	s := f.secret
	if s == "" {
		s = testSecret
	}
	return totp.GenerateCodeCustom(s, at, totp.ValidateOpts{})
}

// fakeSTS checks codes like real STS (±1 step, each step once per serial)
// and role chaining, and counts calls.
type fakeSTS struct {
	clock *fakeClock
	mu    sync.Mutex
	used  map[string]bool // serial/step
	n     int
	gst   atomic.Int32
	ar    atomic.Int32
	arMFA atomic.Int32
	// failWith, when set, is returned by the next call.
	failWith error
	callers  []string // access key IDs of callers
}

func newFakeSTS(c *fakeClock) *fakeSTS { return &fakeSTS{clock: c, used: map[string]bool{}} }

func apiErr(code, msg string) error { return &smithy.GenericAPIError{Code: code, Message: msg} }

func (f *fakeSTS) caller(optFns []func(*awssts.Options)) aws.Credentials {
	var o awssts.Options
	for _, fn := range optFns {
		fn(&o)
	}
	if o.Credentials == nil {
		return aws.Credentials{}
	}
	c, _ := o.Credentials.Retrieve(context.Background())
	return c
}

func (f *fakeSTS) checkCode(serial, code *string) error {
	if serial == nil && code == nil {
		return nil
	}
	if serial == nil || code == nil {
		return apiErr("AccessDenied", "MultiFactorAuthentication failed, must provide both MFA serial number and one time pass code.")
	}
	now := f.clock.Now()
	for _, d := range []int64{0, -1, 1} {
		at := now.Add(time.Duration(d) * 30 * time.Second)
		want, _ := totp.GenerateCodeCustom(testSecret, at, totp.ValidateOpts{})
		if want == *code {
			k := fmt.Sprintf("%s/%d", *serial, at.Unix()/30)
			if f.used[k] {
				break
			}
			f.used[k] = true
			return nil
		}
	}
	return apiErr("AccessDenied", "MultiFactorAuthentication failed with invalid MFA one time pass code. ")
}

func (f *fakeSTS) creds(prefix string, d int32) *ststypes.Credentials {
	f.n++
	exp := f.clock.Now().Add(time.Duration(d) * time.Second)
	return &ststypes.Credentials{AccessKeyId: aws.String(fmt.Sprintf("%s%04d", prefix, f.n)),
		SecretAccessKey: aws.String("secret"), SessionToken: aws.String("token"), Expiration: &exp}
}

func (f *fakeSTS) GetSessionToken(ctx context.Context, in *awssts.GetSessionTokenInput, optFns ...func(*awssts.Options)) (*awssts.GetSessionTokenOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.caller(optFns)
	f.callers = append(f.callers, c.AccessKeyID)
	if err := f.failWith; err != nil {
		f.failWith = nil
		return nil, err
	}
	if c.SessionToken != "" {
		return nil, apiErr("AccessDenied", "Cannot call GetSessionToken with session credentials")
	}
	if err := f.checkCode(in.SerialNumber, in.TokenCode); err != nil {
		return nil, err
	}
	f.gst.Add(1)
	return &awssts.GetSessionTokenOutput{Credentials: f.creds("ASIASESS", aws.ToInt32(in.DurationSeconds))}, nil
}

func (f *fakeSTS) AssumeRole(ctx context.Context, in *awssts.AssumeRoleInput, optFns ...func(*awssts.Options)) (*awssts.AssumeRoleOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.caller(optFns)
	f.callers = append(f.callers, c.AccessKeyID)
	if err := f.failWith; err != nil {
		f.failWith = nil
		return nil, err
	}
	if err := f.checkCode(in.SerialNumber, in.TokenCode); err != nil {
		return nil, err
	}
	mfa := in.SerialNumber != nil
	if !mfa && !strings.HasPrefix(c.AccessKeyID, "ASIASESS") {
		return nil, apiErr("AccessDenied", "User: arn:aws:iam::123456789012:user/alice is not authorized to perform: sts:AssumeRole on resource: "+aws.ToString(in.RoleArn))
	}
	if c.SessionToken != "" && aws.ToInt32(in.DurationSeconds) > 3600 {
		return nil, apiErr("ValidationError", "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.")
	}
	f.ar.Add(1)
	if mfa {
		f.arMFA.Add(1)
	}
	return &awssts.AssumeRoleOutput{Credentials: f.creds("ASIAROLE", aws.ToInt32(in.DurationSeconds))}, nil
}

// testConfig has four 1-hour roles, one 2-hour role and a session profile,
// all on one MFA device.
const testConfig = ststest.Config

const testCredentials = ststest.Credentials

type testEnv map[string]string

func (e testEnv) get(k string) string { return e[k] }

func mustConfig(t testing.TB, config, creds string, env map[string]string) *awsconfig.Config {
	t.Helper()
	c, err := awsconfig.ParseProfiles([]byte(config), []byte(creds), testEnv(env).get)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func mustResolve(t testing.TB, c *awsconfig.Config, name string) *awsconfig.Profile {
	t.Helper()
	p, err := c.Resolve(name)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// harness wires providers to a shared fake world.
type harness struct {
	t       *testing.T
	clock   *fakeClock
	sts     *fakeSTS
	tokens  *fakeTokens
	cfg     *awsconfig.Config
	dir     string
	mu      sync.Mutex
	notices []string
}

// start time: 10 s into a TOTP step.
var t0 = time.Date(2026, 11, 22, 7, 0, 10, 0, time.UTC)

func newHarness(t *testing.T) *harness {
	h := &harness{t: t, clock: newFakeClock(t0), dir: testCacheDir(t),
		tokens: &fakeTokens{}}
	h.sts = newFakeSTS(h.clock)
	h.cfg = mustConfig(t, testConfig, testCredentials, nil)
	return h
}

func (h *harness) provider(name string) *Provider {
	h.t.Helper()
	p := mustResolve(h.t, h.cfg, name)
	pr, err := NewProvider(p, h.tokens.Code, h.dir, WithClock(h.clock.Now), WithSleep(h.clock.Sleep),
		WithSTSClient(h.sts), WithUI(UI{Notify: h.notify}))
	if err != nil {
		h.t.Fatal(err)
	}
	return pr
}

func (h *harness) notify(m string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.notices = append(h.notices, m)
}

func (h *harness) noticesWith(sub string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, m := range h.notices {
		if strings.Contains(m, sub) {
			n++
		}
	}
	return n
}

func (h *harness) get(name string) *Credentials {
	h.t.Helper()
	c, err := h.provider(name).Credentials(context.Background())
	if err != nil {
		h.t.Fatalf("credentials for %s: %v", name, err)
	}
	return c
}

type counts struct{ codes, gst, ar, arMFA int }

func (h *harness) counts() counts {
	return counts{int(h.tokens.codes.Load()), int(h.sts.gst.Load()), int(h.sts.ar.Load()), int(h.sts.arMFA.Load())}
}
