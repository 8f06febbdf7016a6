package main

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/mfabridge/mfabridge/sts"
	"github.com/mfabridge/mfabridge/sts/awsconfig"
)

// exitStatus carries a child's exit status out of a command: run returns it
// without printing anything.
type exitStatus int

func (e exitStatus) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// credentialVars are removed from a child's environment before mfabridge
// sets its own, so no stale or conflicting credential source survives.
var credentialVars = []string{
	"AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
	"AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_CREDENTIAL_EXPIRATION",
	"AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
	"AWS_CONTAINER_AUTHORIZATION_TOKEN", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
	"AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN", "AWS_ROLE_SESSION_NAME",
}

func childEnv(base []string, add []string) []string {
	drop := map[string]bool{}
	for _, v := range credentialVars {
		drop[v] = true
	}
	for _, kv := range add {
		name, _, _ := strings.Cut(kv, "=")
		drop[name] = true
	}
	out := make([]string, 0, len(base)+len(add))
	for _, kv := range base {
		name, _, _ := strings.Cut(kv, "=")
		if !drop[name] {
			out = append(out, kv)
		}
	}
	return append(out, add...)
}

func (a *app) execCmd() *cobra.Command {
	var server bool
	cmd := &cobra.Command{
		Use:   "exec PROFILE -- CMD [ARGS...]",
		Short: "Run CMD with the profile's credentials in its environment and return its exit status",
		Long: `exec runs CMD with AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN,
AWS_CREDENTIAL_EXPIRATION and AWS_REGION / AWS_DEFAULT_REGION set, and AWS_PROFILE
and other credential variables removed. Signals are forwarded to CMD (on
Windows, Ctrl-C and Ctrl-Break reach CMD through the console); mfabridge
exits with CMD's exit status.

With --server, CMD instead gets a local credential server
(AWS_CONTAINER_CREDENTIALS_FULL_URI + AWS_CONTAINER_AUTHORIZATION_TOKEN), so a
long-running command keeps working past expiry: mfabridge refreshes through the
device as needed.`,
		Args: args(func(cmd *cobra.Command, argv []string) error {
			if cmd.ArgsLenAtDash() != 1 || len(argv) < 2 {
				return errors.New("want PROFILE -- CMD [ARGS...]")
			}
			return nil
		}),
		RunE: func(cmd *cobra.Command, argv []string) error {
			ctx := cmd.Context()
			var env []string
			if server {
				p, err := a.profile(argv[0])
				if err != nil {
					return err
				}
				cs, err := a.startCredentialServer(ctx, p)
				if err != nil {
					return err
				}
				defer cs.close()
				env = append(cs.env(), "AWS_REGION="+p.Region, "AWS_DEFAULT_REGION="+p.Region)
			} else {
				c, p, err := a.credentials(ctx, argv[0])
				if err != nil {
					return err
				}
				env = credentialEnv(c, p.Region)
			}
			return a.runChild(argv[1:], childEnv(os.Environ(), env))
		},
	}
	cmd.Flags().BoolVar(&server, "server", false, "serve credentials to CMD from a local endpoint that refreshes them, instead of fixed variables")
	return cmd
}

// runChild runs argv with env, forwarding signals (Unix; on Windows the
// console delivers Ctrl-C and Ctrl-Break to the child itself, and mfabridge
// only outlives them), and returns its exit status as an exitStatus error
// (nil for 0).
func (a *app) runChild(argv []string, env []string) error {
	path, err := exec.LookPath(argv[0])
	if err != nil {
		return fmt.Errorf("run %q: %w", argv[0], err)
	}
	c := exec.Command(path, argv[1:]...)
	c.Env = env
	c.Stdin, c.Stdout, c.Stderr = a.stdin, a.stdout, a.stderr
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, childSignals...)
	defer signal.Stop(sigs)
	if err := c.Start(); err != nil {
		return fmt.Errorf("run %q: %w", argv[0], err)
	}
	done := make(chan struct{})
	go func() {
		for {
			select {
			case s := <-sigs:
				forwardSignal(c.Process, s)
			case <-done:
				return
			}
		}
	}()
	err = c.Wait()
	close(done)
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return exitStatus(childExitCode(ee))
	}
	if err != nil {
		return fmt.Errorf("run %q: %w", argv[0], err)
	}
	return nil
}

// credentialServer is the container-credentials endpoint: loopback only,
// guarded by a random token compared in constant time.
type credentialServer struct {
	url, token string
	srv        *http.Server
	cancel     context.CancelFunc
	ts         *tokenSource
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
			fail(w, http.StatusInternalServerError, err.Error())
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
	cs := &credentialServer{
		url:    "http://" + ln.Addr().String() + "/",
		token:  token,
		cancel: cancel,
		ts:     ts,
		srv:    &http.Server{Handler: credentialHandler(token, pr.Credentials), ReadHeaderTimeout: 10 * time.Second},
	}
	go func() { _ = cs.srv.Serve(ln) }()
	go a.refreshLoop(ctx, pr, first.Expiration)
	return cs, nil
}

// refreshLoop renews the credentials a little before the 15-minute mark, so
// requests are answered from the cache.
func (a *app) refreshLoop(ctx context.Context, pr *sts.Provider, exp time.Time) {
	for {
		if exp.IsZero() {
			return // long-term credentials: nothing to refresh
		}
		wait := time.Until(exp) - 16*time.Minute
		if wait < time.Minute {
			wait = time.Minute
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		c, err := pr.Credentials(ctx)
		if err != nil {
			a.term.notice("credential refresh failed: " + err.Error())
			continue
		}
		exp = c.Expiration
	}
}

func (a *app) serveCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "serve [PROFILE]",
		Short: "Serve the profile's credentials on a local container-credentials endpoint (127.0.0.1, random port and token)",
		Long: `serve prints the two variables an SDK or the AWS CLI needs:

    AWS_CONTAINER_CREDENTIALS_FULL_URI=http://127.0.0.1:PORT/
    AWS_CONTAINER_AUTHORIZATION_TOKEN=...

and serves until interrupted, refreshing credentials before they expire.
Only loopback clients with the token are answered.`,
		Args: args(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, argv []string) error {
			p, err := a.profile(profileArg(argv))
			if err != nil {
				return err
			}
			cs, err := a.startCredentialServer(cmd.Context(), p)
			if err != nil {
				return err
			}
			defer cs.close()
			for _, kv := range cs.env() {
				fmt.Fprintf(a.stdout, "export %s\n", kv)
			}
			fmt.Fprintf(a.stderr, "mfabridge: serving credentials of profile %q at %s; Ctrl-C to stop\n", p.Name, cs.url)
			<-cmd.Context().Done()
			return nil
		},
	}
}
