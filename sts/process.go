package sts

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mfabridge/mfabridge/internal/capbuf"
	"github.com/mfabridge/mfabridge/sts/awsconfig"
	"github.com/mfabridge/mfabridge/sts/stepcache"
)

// processOutput is the credential_process JSON contract (notes §3.1).
type processOutput struct {
	Version         int        `json:"Version"`
	AccessKeyID     string     `json:"AccessKeyId"`
	SecretAccessKey string     `json:"SecretAccessKey"`
	SessionToken    string     `json:"SessionToken,omitempty"`
	Expiration      *time.Time `json:"Expiration,omitempty"`
}

// ParseProcessOutput parses a credential_process answer.
func ParseProcessOutput(b []byte) (*Credentials, error) {
	var o processOutput
	if err := json.Unmarshal(bytes.TrimSpace(b), &o); err != nil {
		return nil, fmt.Errorf("parse credential_process output: %w", err)
	}
	if o.Version != 1 {
		return nil, fmt.Errorf("parse credential_process output: Version %d, want 1", o.Version)
	}
	if o.AccessKeyID == "" || o.SecretAccessKey == "" {
		return nil, errors.New("parse credential_process output: AccessKeyId or SecretAccessKey missing")
	}
	c := &Credentials{AccessKeyID: o.AccessKeyID, SecretAccessKey: o.SecretAccessKey, SessionToken: o.SessionToken}
	if o.Expiration != nil {
		c.Expiration = o.Expiration.UTC()
	}
	return c, nil
}

// DefaultProcessTimeout is the limit on a source profile's
// credential_process, as aws-sdk-go-v2's processcreds.DefaultTimeout.
const DefaultProcessTimeout = time.Minute

// processGrace is how long a credential_process's output may stay open after
// the process itself exited (held by something it left running in the
// background) before mfabridge stops reading and kills its process group.
const processGrace = 2 * time.Second

// maxProcessOutput caps what is kept of a credential_process's stdout (the
// JSON is well under 4 KiB); maxProcessStderr what is kept of its stderr.
const (
	maxProcessOutput = 1 << 20
	maxProcessStderr = 64 << 10
)

// HeldLocksEnv is the variable by which mfabridge tells the
// credential_process it runs (for a source profile) which MFA-serial locks
// it holds meanwhile: a space-separated list of lock ids. An mfabridge
// started below it (a wrapper script calling mfabridge again) that would
// need one of them fails at once instead of waiting for a lock that is
// only released when it exits (issue 13 case 11).
const HeldLocksEnv = "MFABRIDGE_HELD_LOCKS"

// processConfig is how a Provider runs a source profile's
// credential_process.
type processConfig struct {
	environ []string      // the environment given to it (WithEnviron); nil: inherit
	limit   time.Duration // 0: DefaultProcessTimeout
	grace   time.Duration // 0: processGrace
}

// WithEnviron gives the Provider the process environment ("KEY=value"
// entries; the CLI passes os.Environ()). A source profile's
// credential_process gets it, plus HeldLocksEnv naming the lock held while
// it runs; HeldLocksEnv in it marks locks held by a calling mfabridge.
func WithEnviron(environ []string) Option {
	return func(p *Provider) { p.proc.environ = environ }
}

// WithProcessTimeout sets the limit on a source profile's
// credential_process (default DefaultProcessTimeout); at the limit the
// process and everything it started in its process group are killed.
func WithProcessTimeout(d time.Duration) Option {
	return func(p *Provider) { p.proc.limit = d }
}

// lockID names the lock of serial in the cache directory dir, for
// HeldLocksEnv.
func lockID(dir, serial string) string {
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	return stepcache.CacheKey(struct{ Dir, Serial string }{dir, serial})[:32]
}

// heldLocks returns the lock ids HeldLocksEnv lists in environ.
func heldLocks(environ []string) []string {
	var ids []string
	for _, kv := range environ {
		if v, ok := strings.CutPrefix(kv, HeldLocksEnv+"="); ok {
			ids = strings.Fields(v)
		}
	}
	return ids
}

// checkReentry fails when the serial's lock is held by an mfabridge that
// runs us (through a source profile's credential_process): waiting for it
// would never end, as it waits for us.
func (pr *Provider) checkReentry() error {
	id := lockID(pr.cache.dir, pr.profile.MFASerial)
	for _, h := range heldLocks(pr.proc.environ) {
		if h == id {
			return &awsconfig.ProfileError{Profile: pr.profile.Name, Err: awsconfig.ErrRecursion,
				Detail: fmt.Sprintf("called from a credential_process that mfabridge runs while it holds the lock of MFA serial %s; "+
					"waiting for it would deadlock", pr.profile.MFASerial),
				Hint: "a source profile's credential_process must not need the same MFA device: give the source profile access keys, or another device"}
		}
	}
	return nil
}

// runSourceProcess runs a source profile's credential_process while the
// lock of the profile's serial is held.
func (pr *Provider) runSourceProcess(ctx context.Context, command string) ([]byte, error) {
	if pr.runProcess != nil {
		return pr.runProcess(ctx, command)
	}
	var env []string
	if pr.proc.environ != nil {
		held := append(heldLocks(pr.proc.environ), lockID(pr.cache.dir, pr.profile.MFASerial))
		env = make([]string, 0, len(pr.proc.environ)+1)
		for _, kv := range pr.proc.environ {
			if !strings.HasPrefix(kv, HeldLocksEnv+"=") {
				env = append(env, kv)
			}
		}
		env = append(env, HeldLocksEnv+"="+strings.Join(held, " "))
	}
	return runCredentialProcess(ctx, processRun{command: command, env: env, limit: pr.proc.limit, grace: pr.proc.grace})
}

// processRun is one run of a credential_process.
type processRun struct {
	command string
	env     []string      // nil: inherit ours
	limit   time.Duration // 0: DefaultProcessTimeout
	grace   time.Duration // 0: processGrace
}

// Errors of runCredentialProcess, besides the process's own exit status.
var (
	// ErrProcessTimeout: the process ran past its limit and was killed
	// with its process group.
	ErrProcessTimeout = errors.New("credential_process ran past its time limit")
	// ErrProcessLeftOutputOpen: the process exited, but something it
	// started kept its output open.
	ErrProcessLeftOutputOpen = errors.New("credential_process left a process holding its output")
)

// runCredentialProcess runs command through the system shell (sh -c; on
// Windows cmd.exe /c, see shellCommand), as the AWS SDKs do, in a process
// group of its own (a job object on Windows). At the limit, or when ctx
// ends, the whole group is killed: a child that it left
// holding stdout would otherwise keep the read open past any limit. When the
// process exits but its output stays open beyond the grace period, the
// group is killed too. What still holds the output after that (a process
// that left the group) is cut off: the run never lasts much longer than
// limit + 2 × grace. Stderr goes into the error on failure (the process is
// expected to keep secrets off stderr).
func runCredentialProcess(ctx context.Context, r processRun) ([]byte, error) {
	limit, grace := r.limit, r.grace
	if limit <= 0 {
		limit = DefaultProcessTimeout
	}
	if grace <= 0 {
		grace = processGrace
	}
	pctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	cmd := shellCommand(pctx, r.command)
	cmd.Env = r.env
	grp := newProcessGroup(cmd)
	defer grp.close()
	cmd.Cancel = func() error { return grp.kill(cmd.Process) }

	// Our own pipes, not exec's copying: Wait then returns when the
	// process exits, and we decide how long to read after that.
	outR, outW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("run credential_process: %w", err)
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		return nil, fmt.Errorf("run credential_process: %w", err)
	}
	cmd.Stdout, cmd.Stderr = outW, errW
	err = cmd.Start()
	outW.Close()
	errW.Close()
	if err != nil {
		outR.Close()
		errR.Close()
		return nil, fmt.Errorf("run credential_process: %w", err)
	}
	grp.started(cmd.Process)
	stdout, stderr := &capbuf.Buffer{Max: maxProcessOutput}, &capbuf.Buffer{Max: maxProcessStderr}
	drained := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); _, _ = io.Copy(stdout, outR) }()
	go func() { defer wg.Done(); _, _ = io.Copy(stderr, errR) }()
	go func() { wg.Wait(); close(drained) }()

	werr := cmd.Wait() // the process has exited (killed with its group at the limit)
	leftOpen := false
	select {
	case <-drained:
	case <-pctx.Done():
	case <-time.After(grace):
		leftOpen = true
	}
	select {
	case <-drained:
	default:
		// Something it started still holds the output: kill the group,
		// whose members then close it; past another grace period, stop
		// reading (closing our ends; where that does not interrupt a
		// read, the copies end when the holder does).
		_ = grp.kill(cmd.Process)
		select {
		case <-drained:
		case <-time.After(grace):
			outR.Close()
			errR.Close()
		}
	}
	defer outR.Close()
	defer errR.Close()

	withStderr := func(err error) error {
		msg := strings.TrimSpace(stderr.String())
		if len(msg) > 500 {
			msg = msg[:500] + "…"
		}
		if msg != "" {
			return fmt.Errorf("%w: %s", err, msg)
		}
		return err
	}
	switch {
	case ctx.Err() != nil:
		return nil, ctx.Err()
	case pctx.Err() != nil && (werr != nil || leftOpen):
		return nil, withStderr(fmt.Errorf("%w (%s): killed it and its process group", ErrProcessTimeout, limit))
	case leftOpen:
		return nil, fmt.Errorf("%w %s after it exited (%v): killed its process group "+
			"(redirect the output of background commands, e.g. `cmd >/dev/null 2>&1 &`)", ErrProcessLeftOutputOpen, grace, exitStatus(werr))
	case werr != nil:
		return nil, withStderr(werr)
	case stdout.Over():
		return nil, fmt.Errorf("credential_process output is over %d bytes", maxProcessOutput)
	}
	out := stdout.Bytes()
	if len(bytes.TrimSpace(out)) == 0 {
		// Its stderr likely says why (a wrapper whose last command
		// succeeded after the one that mattered failed).
		return nil, withStderr(errors.New("credential_process exited with status 0 but printed nothing"))
	}
	return out, nil
}

// exitStatus describes how the process ended, for messages.
func exitStatus(err error) string {
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}

// skewClient wraps the SDK's HTTP client to compare STS's Date header with
// our clock: TOTP codes depend on the clock, so a skew over 30 s (one step)
// makes codes fail as "invalid".
type skewClient struct {
	inner HTTPClient
	now   func() time.Time
	ui    UI
	once  sync.Once
	// skew is the last difference measured (our clock - STS's Date), in
	// nanoseconds; hasSkew says whether one was.
	skew    atomic.Int64
	hasSkew atomic.Bool
}

// measured returns the last clock difference seen (ours minus STS's).
func (s *skewClient) measured() (time.Duration, bool) {
	return time.Duration(s.skew.Load()), s.hasSkew.Load()
}

// maxSkew is the clock difference that gets a warning.
const maxSkew = 30 * time.Second

func (s *skewClient) Do(r *http.Request) (*http.Response, error) {
	resp, err := s.inner.Do(r)
	if err != nil || resp == nil {
		return resp, err
	}
	if d := resp.Header.Get("Date"); d != "" {
		if t, perr := http.ParseTime(d); perr == nil {
			skew := s.now().Truncate(time.Second).Sub(t)
			s.skew.Store(int64(skew))
			s.hasSkew.Store(true)
			if skew > maxSkew || skew < -maxSkew {
				s.once.Do(func() {
					dir := "ahead of"
					if skew < 0 {
						dir, skew = "behind", -skew
					}
					s.ui.notify("this computer's clock is %s %s STS's: TOTP codes may be rejected; synchronise the clock (NTP)", skew, dir)
				})
			}
		}
	}
	return resp, nil
}
