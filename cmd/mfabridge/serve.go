package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/mfabridge/mfabridge/sts"
	"github.com/mfabridge/mfabridge/sts/awsconfig"
)

// credentialServer is the container-credentials endpoint: loopback only,
// guarded by a random token compared in constant time.
type credentialServer struct {
	url, token string
	srv        *http.Server
	cancel     context.CancelFunc
	ts         *tokenSource
	creds      *servedCreds
}

func (cs *credentialServer) env() []string {
	return []string{"AWS_CONTAINER_CREDENTIALS_FULL_URI=" + cs.url, "AWS_CONTAINER_AUTHORIZATION_TOKEN=" + cs.token}
}

func (cs *credentialServer) close() {
	cs.cancel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = cs.srv.Shutdown(ctx)
	cs.ts.close()
}

// credentialHandler serves credentials in the container-credentials format.
func credentialHandler(token string, get func(context.Context) (*sts.Credentials, error)) http.Handler {
	fail := func(w http.ResponseWriter, code int, msg string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(map[string]string{"Message": msg})
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, err := net.SplitHostPort(r.RemoteAddr)
		if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
			fail(w, http.StatusForbidden, "only loopback clients are served")
			return
		}
		if r.Method != http.MethodGet {
			fail(w, http.StatusMethodNotAllowed, "use GET")
			return
		}
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), []byte(token)) != 1 {
			fail(w, http.StatusForbidden, "missing or wrong Authorization token")
			return
		}
		c, err := get(r.Context())
		if err != nil {
			fail(w, http.StatusInternalServerError, oneLine(err, runtime.GOOS)) // the SDK shows one message
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{
			"AccessKeyId": c.AccessKeyID, "SecretAccessKey": c.SecretAccessKey,
			"Token": c.SessionToken, "Expiration": c.Expiration.UTC().Format(time.RFC3339),
		})
	})
}

// startCredentialServer serves the profile's credentials on 127.0.0.1 on a
// random port, refreshing them in the background before they expire.
func (a *app) startCredentialServer(ctx context.Context, p *awsconfig.Profile) (*credentialServer, error) {
	pr, ts, err := a.provider(p)
	if err != nil {
		return nil, err
	}
	// Fetch once up front: a touch or password prompt happens now, not
	// inside the child's first request.
	first, err := pr.Credentials(ctx)
	if err != nil {
		ts.close()
		return nil, err
	}
	var tok [30]byte
	if _, err := rand.Read(tok[:]); err != nil {
		ts.close()
		return nil, fmt.Errorf("make the server token: %w", err)
	}
	token := base64.RawURLEncoding.EncodeToString(tok[:])
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		ts.close()
		return nil, fmt.Errorf("listen on 127.0.0.1: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	sc := &servedCreds{
		ctx:    ctx,
		fetch:  pr.Credentials,
		margin: pr.Plan().ReuseMargin(),
		notice: a.term.notice,
		now:    time.Now,
		what:   fmt.Sprintf("profile %q", p.Name),
		cur:    first,
	}
	cs := &credentialServer{
		url:    "http://" + ln.Addr().String() + "/",
		token:  token,
		cancel: cancel,
		ts:     ts,
		creds:  sc,
		srv:    &http.Server{Handler: credentialHandler(token, sc.get), ReadHeaderTimeout: 10 * time.Second},
	}
	go func() { _ = cs.srv.Serve(ln) }()
	go sc.loop()
	return cs, nil
}

// Refresh pacing of a credential server (issue 13 case 10).
const (
	// serveFloor is the least validity handed out: credentials closer to
	// their end are not served, a refresh is waited for instead.
	serveFloor = time.Minute
	// retryFirst and retryMax bound the wait after a failed refresh; it
	// doubles with each failure in a row.
	retryFirst = time.Minute
	retryMax   = 30 * time.Minute
	// loopFloor keeps the background loop from spinning when the
	// provider answers with credentials that are already due.
	loopFloor = 10 * time.Second
)

// retryAfter is the wait after n failed refreshes in a row (n ≥ 1).
func retryAfter(n int) time.Duration {
	d := retryFirst
	for i := 1; i < n && d < retryMax; i++ {
		d *= 2
	}
	return min(d, retryMax)
}

// servedCreds holds a credential server's credentials and refreshes them:
// it serves what is still valid while a refresh runs or after one failed,
// runs one refresh at a time whatever the number of waiting requests (a
// touch is asked for once, not once per request), and waits longer after
// each failure in a row, saying so on the terminal.
type servedCreds struct {
	ctx    context.Context // the server's: a refresh outlives the request that started it
	fetch  func(context.Context) (*sts.Credentials, error)
	margin time.Duration // refresh once less than this remains (the plan's ReuseMargin)
	notice func(string)
	now    func() time.Time
	what   string // `profile "prod"`, for notices

	mu       sync.Mutex
	cur      *sts.Credentials
	running  chan struct{} // closed when the running refresh ends; nil when none runs
	failures int           // failed refreshes in a row
	retryAt  time.Time     // no refresh starts before
	lastErr  error
}

// valid reports whether cur may be handed out at now.
func (s *servedCreds) valid(now time.Time) bool {
	return s.cur != nil && (s.cur.Expiration.IsZero() || s.cur.Expiration.Sub(now) > serveFloor)
}

// due reports whether cur should be refreshed at now.
func (s *servedCreds) due(now time.Time) bool {
	return s.cur == nil || (!s.cur.Expiration.IsZero() && s.cur.Expiration.Sub(now) < s.margin)
}

// get answers one request.
func (s *servedCreds) get(ctx context.Context) (*sts.Credentials, error) {
	s.mu.Lock()
	now := s.now()
	if !s.due(now) {
		c := s.cur
		s.mu.Unlock()
		return c, nil
	}
	done := s.startLocked(now)
	if s.valid(now) {
		c := s.cur
		s.mu.Unlock()
		return c, nil
	}
	if done == nil {
		err := fmt.Errorf("%w (credentials expired; next refresh attempt in %s)", s.lastErr, s.retryAt.Sub(now).Round(time.Second))
		s.mu.Unlock()
		return nil, err
	}
	s.mu.Unlock()
	select {
	case <-done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.valid(s.now()) {
		return s.cur, nil
	}
	return nil, s.lastErr
}

// startLocked starts a refresh unless one is running (then it returns that
// one's channel) or the wait after the last failure lasts (then nil). The
// returned channel is closed when the refresh ends. Callers hold s.mu.
func (s *servedCreds) startLocked(now time.Time) chan struct{} {
	if s.running != nil {
		return s.running
	}
	if now.Before(s.retryAt) {
		return nil
	}
	done := make(chan struct{})
	s.running = done
	go func() {
		c, err := s.fetch(s.ctx)
		s.mu.Lock()
		defer close(done)
		defer s.mu.Unlock()
		s.running = nil
		now := s.now()
		if err != nil {
			s.failures++
			wait := retryAfter(s.failures)
			s.retryAt, s.lastErr = now.Add(wait), fmt.Errorf("refresh credentials of %s: %w", s.what, err)
			msg := fmt.Sprintf("credential refresh for %s failed (%d in a row): %v; ", s.what, s.failures, err)
			if s.valid(now) {
				msg += fmt.Sprintf("still serving the current credentials until %s; ", s.cur.Expiration.Add(-serveFloor).Local().Format("15:04:05"))
			} else {
				msg += "no valid credentials to serve; "
			}
			msg += fmt.Sprintf("next attempt in %s at the earliest", wait)
			for _, h := range hintsFor(err, runtime.GOOS) {
				msg += "; hint: " + h
			}
			s.notice(msg)
			return
		}
		if s.failures > 0 {
			s.notice(fmt.Sprintf("credential refresh for %s succeeded after %d failed attempt(s)", s.what, s.failures))
		}
		s.cur, s.failures, s.retryAt, s.lastErr = c, 0, time.Time{}, nil
	}()
	return done
}

// loop refreshes in the background shortly after the credentials become
// due, so requests are answered from memory. After a failure it waits as
// startLocked says; once the credentials have expired and the last attempt
// failed it stops, and the next request tries again: an unattended server
// does not ask for a touch forever.
func (s *servedCreds) loop() {
	for {
		s.mu.Lock()
		if s.cur != nil && s.cur.Expiration.IsZero() {
			s.mu.Unlock()
			return // long-term credentials: nothing to refresh
		}
		now := s.now()
		if s.failures > 0 && !s.valid(now) {
			s.mu.Unlock()
			s.notice(fmt.Sprintf("no more background refreshes for %s: the next request tries again", s.what))
			return
		}
		at := now
		if s.cur != nil {
			// Just past the margin, where the provider no longer reuses them.
			at = s.cur.Expiration.Add(-s.margin + time.Second)
		}
		if s.retryAt.After(at) {
			at = s.retryAt
		}
		s.mu.Unlock()
		t := time.NewTimer(max(at.Sub(now), loopFloor))
		select {
		case <-s.ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		s.mu.Lock()
		done := s.startLocked(s.now())
		s.mu.Unlock()
		if done != nil {
			select {
			case <-done:
			case <-s.ctx.Done():
				return
			}
		}
	}
}

func (a *app) serveCmd() *cobra.Command {
	var background, detached bool
	cmd := &cobra.Command{
		Use:   "serve [PROFILE]",
		Short: "Serve the profile's credentials on a local container-credentials endpoint (127.0.0.1, random port and token)",
		Long: `serve prints, as shell exports, the variables an SDK or the AWS CLI needs:

    AWS_CONTAINER_CREDENTIALS_FULL_URI=http://127.0.0.1:PORT/
    AWS_CONTAINER_AUTHORIZATION_TOKEN=...
    AWS_REGION=... AWS_DEFAULT_REGION=...   (when a region is set, as for exec)

and serves until interrupted, refreshing credentials before they expire.
Only loopback clients with the token are answered. While a refresh runs or
after it failed (a touch that did not come), the current credentials are
served as long as they are valid; one refresh runs at a time, and after a
failure the next waits longer (1m, 2m, 4m … 30m), as the terminal says.

With --background (Unix), serve returns once the server is up and the
variables are printed, and the server runs on in the background:

    eval "$(mfabridge serve --background prod)"
    ...
    kill $MFABRIDGE_SERVE_PID

Its prompts and notices then go to the terminal only ($MFABRIDGE_TTY or
/dev/tty), never to stderr.`,
		Args: args(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, argv []string) error {
			if background {
				return a.serveBackground(argv)
			}
			p, err := a.profile(profileArg(argv))
			if err != nil {
				return err
			}
			region, err := a.childRegion(p)
			if err != nil {
				return err
			}
			if detached {
				ignoreHangup()
			}
			cs, err := a.startCredentialServer(cmd.Context(), p)
			if err != nil {
				return err
			}
			defer cs.close()
			// The URL and the base64url token need no quoting; a region
			// from a config file might.
			for _, kv := range cs.env() {
				fmt.Fprintf(a.stdout, "export %s\n", kv)
			}
			for _, kv := range regionEnv(region) {
				fmt.Fprintf(a.stdout, "export %s\n", shellQuote(kv))
			}
			if detached {
				fmt.Fprintf(a.stdout, "export MFABRIDGE_SERVE_PID=%d\n", os.Getpid())
				fmt.Fprintf(a.stderr, "mfabridge: serving credentials of profile %q at %s in the background; stop it with `kill %d`\n", p.Name, cs.url, os.Getpid())
				// The parent is waiting for stdout and stderr to end.
				if err := detachStdio(); err != nil {
					return err
				}
			} else {
				fmt.Fprintf(a.stderr, "mfabridge: serving credentials of profile %q at %s; Ctrl-C to stop\n", p.Name, cs.url)
			}
			<-cmd.Context().Done()
			return nil
		},
	}
	cmd.Flags().BoolVar(&background, "background", false, "return once serving, leaving the server running in the background (Unix; see below)")
	cmd.Flags().BoolVar(&detached, "detached", false, "internal: the background server itself")
	_ = cmd.Flags().MarkHidden("detached")
	return cmd
}

// serveBackground starts `serve --detached` as a process of its own, relays
// what it prints until it is serving (or has failed), and returns, leaving
// it running.
func (a *app) serveBackground(argv []string) error {
	if !canDetach {
		return errors.New("serve --background is not supported on this system (a console program cannot outlive its console there): run `mfabridge serve` in a window of its own, or use `mfabridge exec --server PROFILE -- CMD`")
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find the mfabridge executable: %w", err)
	}
	args := []string{"serve", "--detached"}
	if a.debug {
		args = append(args, "--debug")
	}
	c := exec.Command(self, append(args, argv...)...)
	c.Args[0] = os.Args[0] // the same program name (test binaries dispatch on it)
	// Same process group until it serves: a touch or password prompt on
	// the terminal works, and Ctrl-C stops both. It leaves the group (and
	// ignores the terminal's hang-up) once serving: see detachStdio.
	var out, errOut bytes.Buffer
	stdout, err := c.StdoutPipe()
	if err != nil {
		return fmt.Errorf("start the background server: %w", err)
	}
	stderr, err := c.StderrPipe()
	if err != nil {
		return fmt.Errorf("start the background server: %w", err)
	}
	if err := c.Start(); err != nil {
		return fmt.Errorf("start the background server: %w", err)
	}
	// Both pipes end when the server detaches from them (serving) or exits
	// (failed).
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, _ = io.Copy(&errOut, stderr)
	}()
	_, _ = io.Copy(&out, stdout)
	wg.Wait()
	pidLine := "export MFABRIDGE_SERVE_PID=" + strconv.Itoa(c.Process.Pid) + "\n"
	if strings.HasSuffix(out.String(), pidLine) {
		_, _ = a.stdout.Write(out.Bytes())
		_, _ = a.stderr.Write(errOut.Bytes())
		return c.Process.Release()
	}
	werr := c.Wait()
	_, _ = a.stderr.Write(errOut.Bytes())
	var ee *exec.ExitError
	if errors.As(werr, &ee) {
		return exitStatus(ee.ExitCode())
	}
	if werr != nil {
		return fmt.Errorf("background server: %w", werr)
	}
	return errors.New("background server ended before serving")
}
