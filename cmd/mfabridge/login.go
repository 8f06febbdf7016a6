package main

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/mfabridge/mfabridge/sts"
	"github.com/mfabridge/mfabridge/sts/awsconfig"
	"github.com/mfabridge/mfabridge/sts/signin"
)

func (a *app) loginCmd() *cobra.Command {
	var (
		printURL    bool
		destination string
		duration    time.Duration
		wait        time.Duration
	)
	cmd := &cobra.Command{
		Use:   "login [PROFILE]",
		Short: "Open the AWS console signed in as the profile's role (or print the sign-in link with --print)",
		Long: `login gets the profile's role credentials (from the cache when it can, else
through the MFA device and STS, exactly as credential-process does), exchanges
them at the AWS federation endpoint for a sign-in link, and opens it.

The link is a password: whoever holds it can open the console as the role for
15 minutes (once). It is never logged. Without --print the browser is handed
only a one-time http://127.0.0.1 address that redirects to the link, so the
link itself never appears on another process's command line; --print writes
it to stdout and nothing else.

Only role profiles can reach the console: AWS refuses GetSessionToken
credentials there. The console session ends when the role credentials do
(at most 1 hour for a role assumed through mfabridge's MFA session);
--duration sets it (15m to 12h) only for a role assumed straight from
long-term keys (the role profile's duration_seconds above 3600).`,
		Args: args(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, argv []string) error {
			if wait <= 0 {
				return usageError{fmt.Errorf("--wait %v: want a positive duration, e.g. 2m", wait)}
			}
			return a.login(cmd.Context(), profileArg(argv), printURL, destination, duration, wait)
		},
	}
	cmd.Flags().BoolVar(&printURL, "print", false, "print the sign-in link on stdout instead of opening a browser")
	cmd.Flags().StringVar(&destination, "destination", "", "console page: a service (ec2, s3, iam), a path (/ec2/home#Instances) or a console URL")
	cmd.Flags().DurationVar(&duration, "duration", 0, "console session length, 15m to 12h (only for a role assumed with long-term keys; default: as long as the role credentials)")
	cmd.Flags().DurationVar(&wait, "wait", 2*time.Minute, "how long to wait for the browser to fetch the link")
	return cmd
}

func (a *app) login(ctx context.Context, name string, printURL bool, destination string, duration, wait time.Duration) error {
	p, err := a.profile(name)
	if err != nil {
		return err
	}
	pl, err := sts.MakePlan(p)
	if err != nil {
		return err
	}
	req := signin.Request{Source: signin.SourceOf(p, pl), Region: p.Region, Destination: destination, Duration: duration}
	// Refuse what AWS would refuse before any touch or STS call.
	if err := signin.Check(req); err != nil {
		return loginAdvice(p, err)
	}
	opts := []signin.Option{signin.WithLogger(a.log)}
	if ep := a.getenv("MFABRIDGE_SIGNIN_ENDPOINT"); ep != "" {
		u, err := signinEndpoint(ep)
		if err != nil {
			return err
		}
		opts = append(opts, signin.WithEndpoint(u))
	}
	// The provider path every credential command takes (cache, lock, MFA
	// session): the single call into creds.go.
	c, _, err := a.credentials(ctx, name)
	if err != nil {
		return err
	}
	req.AccessKeyID, req.SecretAccessKey, req.SessionToken = c.AccessKeyID, c.SecretAccessKey, c.SessionToken
	u, err := signin.New(opts...).Get(ctx, req)
	if err != nil {
		return loginAdvice(p, err)
	}
	role := pl.Final().RoleARN
	ends := "when the role credentials expire, " + c.Expiration.UTC().Format("15:04:05 UTC")
	if duration != 0 {
		ends = "after " + duration.String()
	}
	if printURL {
		fmt.Fprintf(a.stderr, "mfabridge: this link opens the console as %s for anyone who has it, once, until %s; the console session ends %s\n",
			role, u.Expires.UTC().Format("15:04:05 UTC"), ends)
		_, err := fmt.Fprintln(a.stdout, u.Secret())
		return err
	}
	if err := a.openBrowser(ctx, u, wait); err != nil {
		return err
	}
	fmt.Fprintf(a.stderr, "mfabridge: console opened as %s; the console session ends %s\n", role, ends)
	return nil
}

// loginAdvice adds the hint line to the sign-in errors the user can act on.
func loginAdvice(p *awsconfig.Profile, err error) error {
	var ce *signin.CredentialsError
	var de *signin.DestinationError
	var ee *signin.EndpointError
	switch {
	case errors.As(err, &ce):
		return hintError{fmt.Errorf("profile %q: %w", p.Name, err),
			"AWS lets only AssumeRole and GetFederationToken credentials into the console, and GetFederationToken takes no MFA; " +
				"add a role profile (role_arn = arn:aws:iam::ACCOUNT:role/NAME, source_profile = " + sourceName(p) + ", mfa_serial as here) " +
				"whose role trusts your user, and run `mfabridge login` on it"}
	case errors.Is(err, signin.ErrDurationChained):
		return hintError{fmt.Errorf("profile %q: --duration: %w", p.Name, err),
			"the role is assumed with the MFA session's credentials (role chaining), and AWS answers 400 to a console duration for chained roles; " +
				"leave out --duration (the console lasts as long as the role credentials, at most 1h), or set duration_seconds above 3600 on the role profile " +
				"so that mfabridge assumes the role with the MFA code straight from the long-term keys"}
	case errors.Is(err, signin.ErrDuration):
		return usageError{fmt.Errorf("--duration: %w", err)}
	case errors.As(err, &de):
		return usageError{fmt.Errorf("--destination: %w (e.g. ec2, /ec2/home#Instances, or https://console.aws.amazon.com/…)", err)}
	case errors.Is(err, signin.ErrNoConsole):
		return fmt.Errorf("profile %q: %w", p.Name, err)
	case errors.As(err, &ee) && ee.Status == http.StatusBadRequest:
		return hintError{fmt.Errorf("profile %q: %w", p.Name, err),
			"AWS refused the role credentials: they may have been revoked or have just expired; remove the cached session (mfabridge cache) or wait for it to be refreshed, then retry"}
	}
	return fmt.Errorf("profile %q: console sign-in: %w", p.Name, err)
}

func sourceName(p *awsconfig.Profile) string {
	if p.Source.Profile != "" {
		return p.Source.Profile
	}
	return p.Name
}

// signinEndpoint checks MFABRIDGE_SIGNIN_ENDPOINT: a loopback URL (the STS
// emulator); the real endpoint is chosen from the region, and credentials
// are not sent anywhere else.
func signinEndpoint(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.User != nil || u.RawQuery != "" {
		return nil, usageError{fmt.Errorf("MFABRIDGE_SIGNIN_ENDPOINT %q: want http://127.0.0.1:PORT/federation", s)}
	}
	host := u.Hostname()
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, usageError{fmt.Errorf("MFABRIDGE_SIGNIN_ENDPOINT %q: only a loopback address (the STS emulator) may replace the AWS sign-in endpoint", s)}
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = "/federation"
	}
	return u, nil
}

// browserCommand is the launcher for a URL: MFABRIDGE_BROWSER (a command
// and its arguments, split at spaces; the URL is added last), else the
// platform's opener. Only the one-time loopback URL is passed, never the
// sign-in link.
//
// The launcher is not tied to the command's context: it may be the browser
// itself, which must outlive mfabridge. Its output goes to the null device:
// a pipe to us would break (SIGPIPE) a browser that inherited it once we
// exit.
func (a *app) browserCommand(local string) *exec.Cmd {
	if b := strings.Fields(a.getenv("MFABRIDGE_BROWSER")); len(b) > 0 {
		return exec.Command(b[0], append(b[1:], local)...)
	}
	switch runtime.GOOS {
	case "darwin":
		return exec.Command("open", local)
	case "windows":
		// rundll32 hands the URL to the default browser without a shell,
		// so no cmd.exe quoting of & is involved.
		return exec.Command("rundll32.exe", "url.dll,FileProtocolHandler", local)
	}
	return exec.Command("xdg-open", local)
}

// redirect is a one-time loopback redirect to a secret URL
// (console-signin.md §4 option b): the first GET of Local whose client
// passes the peer check answers 302 to the secret; any later one gets 410.
// On Linux the peer check admits only connections owned by our own user
// (peerUID, from /proc/net/tcp), so another local user who reads the
// launcher's argv can neither redeem the address nor spend it.
type redirect struct {
	Local  string
	Served chan struct{} // closed once the redirect was answered
	srv    *http.Server
}

func newRedirect(target string, refused func(uid int)) (*redirect, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen on loopback: %w", err)
	}
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	nonce := "/" + base64.RawURLEncoding.EncodeToString(b)
	rd := &redirect{Local: "http://" + ln.Addr().String() + nonce, Served: make(chan struct{})}
	var once sync.Once
	rd.srv = &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Referrer-Policy", "no-referrer")
		if r.Method != http.MethodGet || subtle.ConstantTimeCompare([]byte(r.URL.Path), []byte(nonce)) != 1 {
			http.NotFound(w, r)
			return
		}
		if uid, ok := peerIsSelf(r.RemoteAddr, ln.Addr().String()); !ok {
			if refused != nil {
				refused(uid)
			}
			http.Error(w, "this sign-in redirect belongs to another user", http.StatusForbidden)
			return
		}
		first := false
		once.Do(func() { first = true })
		if !first {
			http.Error(w, "this one-time sign-in redirect was already used; run mfabridge login again", http.StatusGone)
			return
		}
		w.Header().Set("Location", target)
		w.WriteHeader(http.StatusFound)
		close(rd.Served)
	})}
	go func() { _ = rd.srv.Serve(ln) }() // ends with ErrServerClosed on Close
	return rd, nil
}

// Close stops serving, letting an answer in progress finish.
func (rd *redirect) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = rd.srv.Shutdown(ctx)
}

// openBrowser starts the browser with a one-time loopback redirect to the
// sign-in link, so that only http://127.0.0.1:PORT/NONCE reaches the
// launcher's (and the browser's) argv. It returns once the redirect was
// served, or fails when the launcher fails or nothing fetches it within
// wait.
func (a *app) openBrowser(ctx context.Context, u *signin.URL, wait time.Duration) error {
	rd, err := newRedirect(u.Secret(), func(uid int) {
		fmt.Fprintf(a.stderr, "mfabridge: warning: a process of user id %d tried to fetch the sign-in redirect; refused\n", uid)
	})
	if err != nil {
		return hintError{fmt.Errorf("open browser: %w", err), "rerun with --print"}
	}
	defer rd.Close()
	cmd := a.browserCommand(rd.Local)
	a.log.Debug("starting browser", "argv0", cmd.Path, "args", len(cmd.Args)) // the nonce stays out of the log too
	if err := cmd.Start(); err != nil {
		return hintError{fmt.Errorf("could not open a browser: %w", err), "rerun with --print and open the link yourself, or set MFABRIDGE_BROWSER to a browser command"}
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		select {
		case <-rd.Served:
			return nil
		case err := <-exited:
			exited = nil // a launcher that exits 0 has handed the address on
			if err != nil {
				return hintError{fmt.Errorf("could not open a browser (%s: %w)", cmd.Args[0], err), "rerun with --print and open the link yourself, or set MFABRIDGE_BROWSER to a browser command"}
			}
		case <-timer.C:
			return hintError{fmt.Errorf("no browser fetched the sign-in link within %s", wait), "rerun with --print and open the link yourself (it is valid for 15 minutes)"}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
