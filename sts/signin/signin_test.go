package signin

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/mfabridge/mfabridge/sts"
	"github.com/mfabridge/mfabridge/sts/awsconfig"
)

func TestPartitionHosts(t *testing.T) {
	for _, tc := range []struct {
		region, partition, signin, console string
	}{
		{"us-east-1", "aws", "signin.aws.amazon.com", "us-east-1.console.aws.amazon.com"},
		{"eu-west-1", "aws", "eu-west-1.signin.aws.amazon.com", "eu-west-1.console.aws.amazon.com"},
		{"ap-southeast-2", "aws", "ap-southeast-2.signin.aws.amazon.com", "ap-southeast-2.console.aws.amazon.com"},
		{"us-gov-west-1", "aws-us-gov", "signin.amazonaws-us-gov.com", "console.amazonaws-us-gov.com"},
		{"us-gov-east-1", "aws-us-gov", "signin.amazonaws-us-gov.com", "console.amazonaws-us-gov.com"},
		{"cn-north-1", "aws-cn", "signin.amazonaws.cn", "console.amazonaws.cn"},
		{"cn-northwest-1", "aws-cn", "signin.amazonaws.cn", "console.amazonaws.cn"},
	} {
		p, err := PartitionOf(tc.region)
		if err != nil {
			t.Fatalf("%s: %v", tc.region, err)
		}
		if p.ID != tc.partition || p.SigninHost(tc.region) != tc.signin || p.ConsoleHost(tc.region) != tc.console {
			t.Errorf("%s: partition %s, sign-in %s, console %s; want %s %s %s", tc.region,
				p.ID, p.SigninHost(tc.region), p.ConsoleHost(tc.region), tc.partition, tc.signin, tc.console)
		}
	}
	for _, r := range []string{"us-iso-east-1", "us-isob-east-1", "eu-isoe-west-1"} {
		if _, err := PartitionOf(r); !errors.Is(err, ErrNoConsole) {
			t.Errorf("%s: %v, want ErrNoConsole", r, err)
		}
	}
	for _, r := range []string{"", "US-EAST-1", "useast1", "eu-west-1.evil.example", "eu-west-1/x"} {
		if _, err := PartitionOf(r); err == nil || errors.Is(err, ErrNoConsole) {
			t.Errorf("region %q accepted (%v)", r, err)
		}
	}
}

func TestDestination(t *testing.T) {
	aws, _ := PartitionOf("eu-west-1")
	cn, _ := PartitionOf("cn-north-1")
	gov, _ := PartitionOf("us-gov-west-1")
	for _, tc := range []struct {
		p            Partition
		region, dest string
		want         string
	}{
		{aws, "eu-west-1", "", "https://eu-west-1.console.aws.amazon.com/console/home?region=eu-west-1"},
		{aws, "eu-west-1", "ec2", "https://eu-west-1.console.aws.amazon.com/ec2/home?region=eu-west-1"},
		{aws, "eu-west-1", "iam", "https://console.aws.amazon.com/iam/home"},
		{aws, "eu-west-1", "/ec2/home#Instances:sort=desc", "https://eu-west-1.console.aws.amazon.com/ec2/home?region=eu-west-1#Instances:sort=desc"},
		{aws, "eu-west-1", "/s3/buckets?region=us-east-2", "https://eu-west-1.console.aws.amazon.com/s3/buckets?region=us-east-2"},
		{aws, "eu-west-1", "https://console.aws.amazon.com/billing/home", "https://console.aws.amazon.com/billing/home"},
		{cn, "cn-north-1", "ec2", "https://console.amazonaws.cn/ec2/home?region=cn-north-1"},
		{cn, "cn-north-1", "", "https://console.amazonaws.cn/console/home?region=cn-north-1"},
		{gov, "us-gov-west-1", "cloudtrail", "https://console.amazonaws-us-gov.com/cloudtrail/home?region=us-gov-west-1"},
		{gov, "us-gov-west-1", "https://console.amazonaws-us-gov.com/iam/home", "https://console.amazonaws-us-gov.com/iam/home"},
	} {
		got, err := Destination(tc.p, tc.region, tc.dest)
		if err != nil || got != tc.want {
			t.Errorf("Destination(%s, %s, %q) = %q, %v; want %q", tc.p.ID, tc.region, tc.dest, got, err, tc.want)
		}
	}
	for _, tc := range []struct {
		p    Partition
		dest string
		why  string
	}{
		{aws, "https://evil.example/", "not a console URL of partition aws"},
		{aws, "https://console.aws.amazon.com.evil.example/", "not a console URL"},
		{aws, "https://a.b.console.aws.amazon.com/", "not a console URL"},
		{aws, "http://console.aws.amazon.com/", "want an https console URL"},
		{aws, "https://user@console.aws.amazon.com/", "want an https console URL"},
		{aws, "https://console.amazonaws.cn/", "not a console URL of partition aws"},
		{cn, "https://console.aws.amazon.com/", "not a console URL of partition aws-cn"},
		{aws, "//evil.example/x", "must not start with //"},
		{aws, "EC2 Instances", "want a service name"},
		{aws, "ec2/home", "want a service name"},
	} {
		_, err := Destination(tc.p, "eu-west-1", tc.dest)
		var de *DestinationError
		if !errors.As(err, &de) || !strings.Contains(err.Error(), tc.why) {
			t.Errorf("Destination(%q) = %v, want a DestinationError with %q", tc.dest, err, tc.why)
		}
	}
}

func TestCheck(t *testing.T) {
	base := Request{AccessKeyID: "ASIAX", SecretAccessKey: "s", SessionToken: "t", Region: "us-east-1"}
	with := func(src Source, d time.Duration) Request { r := base; r.Source, r.Duration = src, d; return r }
	for _, tc := range []struct {
		r    Request
		want error // nil, a sentinel, or *CredentialsError (errCreds)
	}{
		{with(SourceRole, 0), nil},
		{with(SourceChainedRole, 0), nil},
		{with(SourceFederation, 0), nil},
		{with(SourceRole, 15*time.Minute), nil},
		{with(SourceRole, 12*time.Hour), nil},
		{with(SourceRole, 15*time.Minute-time.Second), ErrDuration},
		{with(SourceRole, 12*time.Hour+time.Second), ErrDuration},
		{with(SourceRole, time.Hour+time.Millisecond), ErrDuration},
		{with(SourceChainedRole, time.Hour), ErrDurationChained},
		{with(SourceFederation, time.Hour), ErrDurationChained},
		{with(SourceSessionToken, 0), errCreds},
		{with(SourceLongTerm, 0), ErrNoToken},
		{Request{AccessKeyID: "AKIAX", SecretAccessKey: "s", Source: SourceRole}, ErrNoToken},
	} {
		err := Check(tc.r)
		switch {
		case tc.want == nil && err != nil, tc.want != nil && err == nil:
			t.Errorf("Check(%v, %s) = %v, want %v", tc.r.Source, tc.r.Duration, err, tc.want)
		case tc.want == errCreds:
			var ce *CredentialsError
			if !errors.As(err, &ce) || ce.Source != SourceSessionToken || !strings.Contains(err.Error(), "AWS refuses GetSessionToken credentials for the console") {
				t.Errorf("Check(GetSessionToken) = %v", err)
			}
		case tc.want != nil && !errors.Is(err, tc.want):
			t.Errorf("Check(%v, %s) = %v, want %v", tc.r.Source, tc.r.Duration, err, tc.want)
		}
	}
}

var errCreds = errors.New("a *CredentialsError")

func TestSourceOf(t *testing.T) {
	longTerm := awsconfig.Source{AccessKeyID: "AKIA", SecretAccessKey: "s"}
	session := awsconfig.Source{AccessKeyID: "ASIA", SecretAccessKey: "s", SessionToken: "t"}
	gst := sts.Step{Action: sts.ActionGetSessionToken}
	ar := sts.Step{Action: sts.ActionAssumeRole}
	for _, tc := range []struct {
		src   awsconfig.Source
		steps []sts.Step
		want  Source
	}{
		{longTerm, []sts.Step{gst}, SourceSessionToken},
		{longTerm, []sts.Step{gst, ar}, SourceChainedRole},
		{longTerm, []sts.Step{ar}, SourceRole},
		{longTerm, []sts.Step{ar, ar}, SourceChainedRole},
		{session, []sts.Step{ar}, SourceChainedRole},
		{awsconfig.Source{CredentialProcess: "x"}, []sts.Step{ar}, SourceChainedRole},
	} {
		if got := SourceOf(&awsconfig.Profile{Source: tc.src}, &sts.Plan{Steps: tc.steps}); got != tc.want {
			t.Errorf("SourceOf(%+v) = %v, want %v", tc.steps, got, tc.want)
		}
	}
}

// fakeFederation records the getSigninToken request and answers with
// status and body.
type fakeFederation struct {
	status int
	body   string
	got    url.Values
}

func (f *fakeFederation) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.got = r.URL.Query()
	w.WriteHeader(f.status)
	fmt.Fprint(w, f.body)
}

func newFake(t *testing.T, status int, body string) (*fakeFederation, *url.URL) {
	f := &fakeFederation{status: status, body: body}
	ts := httptest.NewServer(f)
	t.Cleanup(ts.Close)
	u, _ := url.Parse(ts.URL + "/federation")
	return f, u
}

const (
	secretKey = "SECRETKEY0000000000000000000000000000000"
	sessTok   = "SESSIONTOKEN000000000000000000000000000"
	signinTok = "SIGNINTOKEN-abc_DEF-0000000000000000000"
)

func roleRequest() Request {
	return Request{AccessKeyID: "ASIAEXAMPLE", SecretAccessKey: secretKey, SessionToken: sessTok,
		Source: SourceRole, Region: "eu-west-1", Destination: "ec2"}
}

func TestGet(t *testing.T) {
	f, ep := newFake(t, 200, `{"SigninToken":"`+signinTok+`"}`)
	var logs bytes.Buffer
	now := time.Date(2026, 12, 2, 8, 0, 0, 0, time.UTC)
	c := New(WithEndpoint(ep), WithClock(func() time.Time { return now }),
		WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	u, err := c.Get(context.Background(), roleRequest())
	if err != nil {
		t.Fatal(err)
	}
	if f.got.Get("Action") != "getSigninToken" || f.got.Get("Session") != `{"sessionId":"ASIAEXAMPLE","sessionKey":"`+secretKey+`","sessionToken":"`+sessTok+`"}` {
		t.Errorf("getSigninToken query %v", f.got)
	}
	if f.got.Has("SessionDuration") {
		t.Errorf("SessionDuration sent without Duration: %v", f.got)
	}
	lu, err := url.Parse(u.Secret())
	if err != nil {
		t.Fatal(err)
	}
	q := lu.Query()
	if lu.Host != ep.Host || lu.Path != "/federation" || q.Get("Action") != "login" || q.Get("Issuer") != "mfabridge" ||
		q.Get("SigninToken") != signinTok || q.Get("Destination") != "https://eu-west-1.console.aws.amazon.com/ec2/home?region=eu-west-1" {
		t.Errorf("login URL %s", u.Secret())
	}
	if !u.Expires.Equal(now.Add(15 * time.Minute)) {
		t.Errorf("Expires %v", u.Expires)
	}
	// The token stays out of every rendering but Secret, and out of the log.
	for _, s := range []string{u.String(), fmt.Sprint(u), fmt.Sprintf("%#v", u), fmt.Sprintf("%+v", u), logs.String()} {
		if strings.Contains(s, signinTok) || strings.Contains(s, secretKey) || strings.Contains(s, sessTok) {
			t.Errorf("a secret leaked: %s", s)
		}
	}
	if !strings.Contains(u.String(), "SigninToken=REDACTED") {
		t.Errorf("String() = %s", u.String())
	}

	// SessionDuration for a role assumed with long-term keys.
	r := roleRequest()
	r.Duration = 2 * time.Hour
	if _, err := c.Get(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	if f.got.Get("SessionDuration") != "7200" {
		t.Errorf("SessionDuration = %q, want 7200", f.got.Get("SessionDuration"))
	}
}

func TestGetDefaultEndpoint(t *testing.T) {
	// Without WithEndpoint the request goes to the partition's sign-in
	// host: a transport that records the URL and refuses.
	var host string
	rt := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		host = r.URL.Scheme + "://" + r.URL.Host + r.URL.Path
		return nil, errors.New("offline")
	})
	c := New(WithHTTPClient(&http.Client{Transport: rt}))
	for region, want := range map[string]string{
		"us-east-1":     "https://signin.aws.amazon.com/federation",
		"eu-central-1":  "https://eu-central-1.signin.aws.amazon.com/federation",
		"cn-north-1":    "https://signin.amazonaws.cn/federation",
		"us-gov-east-1": "https://signin.amazonaws-us-gov.com/federation",
	} {
		r := roleRequest()
		r.Region, r.Destination = region, ""
		_, err := c.Get(context.Background(), r)
		if host != want {
			t.Errorf("%s: request to %s, want %s", region, host, want)
		}
		// The transport error names the host, never the request URL.
		if err == nil || !strings.Contains(err.Error(), "offline") || strings.Contains(err.Error(), secretKey) ||
			strings.Contains(err.Error(), sessTok) || strings.Contains(err.Error(), "Session=") {
			t.Errorf("%s: error %v", region, err)
		}
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestGetEndpointErrors(t *testing.T) {
	awsPage := `<!doctype html><html><head><title>HTTP Status 400 – Bad Request</title></head><body><h1>HTTP Status 400 – Bad Request</h1><hr class="line" /><p><b>Type</b> Status Report</p><p><b>Message</b> Invalid credentials parameter</p><p><b>Description</b> The request sent by the client was syntactically incorrect.</p></body></html>`
	for _, tc := range []struct {
		status     int
		body, want string
	}{
		{400, awsPage, "HTTP 400: Invalid credentials parameter"},
		{400, "message: Invalid credentials parameter", "HTTP 400: Invalid credentials parameter"},
		{503, "<html>" + secretKey + "</html>", "HTTP 503"},
		{200, "not json " + sessTok, `HTTP 200: answer is not {"SigninToken": …}`},
		{200, `{"SigninToken":""}`, `answer is not {"SigninToken": …}`},
	} {
		_, ep := newFake(t, tc.status, tc.body)
		_, err := New(WithEndpoint(ep)).Get(context.Background(), roleRequest())
		var ee *EndpointError
		if !errors.As(err, &ee) || ee.Status != tc.status || !strings.HasSuffix(err.Error(), tc.want) {
			t.Errorf("answer %d %q: error %v, want EndpointError ending %q", tc.status, tc.body, err, tc.want)
		}
		if err != nil && (strings.Contains(err.Error(), secretKey) || strings.Contains(err.Error(), sessTok)) {
			t.Errorf("error echoes the body: %v", err)
		}
	}
}

func TestGetRefusesBeforeNetwork(t *testing.T) {
	called := false
	rt := roundTripFunc(func(*http.Request) (*http.Response, error) { called = true; return nil, errors.New("no") })
	c := New(WithHTTPClient(&http.Client{Transport: rt}))
	for _, mod := range []func(*Request){
		func(r *Request) { r.Source = SourceSessionToken },
		func(r *Request) { r.Source = SourceChainedRole; r.Duration = time.Hour },
		func(r *Request) { r.Region = "us-iso-east-1" },
		func(r *Request) { r.Destination = "https://evil.example/" },
	} {
		r := roleRequest()
		mod(&r)
		if _, err := c.Get(context.Background(), r); err == nil {
			t.Errorf("%+v accepted", r.Source)
		}
	}
	if called {
		t.Error("the endpoint was called for a request refused up front")
	}
}

// FuzzDestination: whatever --destination says, an accepted destination is
// an https URL on the partition's console domain (no open redirect).
func FuzzDestination(f *testing.F) {
	for _, s := range []string{"", "ec2", "iam", "/ec2/home#x", "/s3?region=x", "https://console.aws.amazon.com/x",
		"https://evil.example/", "//evil.example", "/\\evil.example", "https://console.aws.amazon.com@evil.example/",
		"https://evil.example#.console.aws.amazon.com", "/%2F%2Fevil.example"} {
		f.Add("eu-west-1", s)
	}
	f.Add("cn-north-1", "https://console.amazonaws.cn/ec2")
	f.Fuzz(func(t *testing.T, region, dest string) {
		p, err := PartitionOf(region)
		if err != nil {
			return
		}
		got, err := Destination(p, region, dest)
		if err != nil {
			return
		}
		u, err := url.Parse(got)
		if err != nil || u.Scheme != "https" || u.User != nil || u.Port() != "" {
			t.Fatalf("Destination(%q, %q) = %q: not an https URL", region, dest, got)
		}
		if h := u.Hostname(); h != p.ConsoleDomain && !strings.HasSuffix(h, "."+p.ConsoleDomain) {
			t.Fatalf("Destination(%q, %q) = %q: host %q off the console domain", region, dest, got, h)
		}
	})
}
