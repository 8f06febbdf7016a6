package device

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/mfabridge/mfabridge/oath"
)

// A code process (spec process:COMMAND, or aws-vault's mfa_process) is any
// program that prints the current TOTP code: a password manager's CLI
// (`op item get aws --otp`, `bw get totp aws`), oathtool, a script. It is
// run as aws-vault runs it: the command text is handed unchanged to the
// platform shell, `/bin/sh -c COMMAND` on Unix (aws-vault's mfa_process,
// vault/mfa.go) and `cmd.exe /d /s /c "COMMAND"` on Windows (aws-vault runs
// mfa_process with /bin/sh there too, which fails; its credential_process,
// vault/executeprocess.go, uses `cmd.exe /C`, which we follow). Nothing is
// substituted into the command (no serial, no profile name), so its
// meaning is exactly what the config file says; quoting inside it is the
// shell's business. Unlike aws-vault, standard error is captured (for the
// error message) rather than passed through: a program that prompts does
// so on the terminal itself, and standard input is empty.

// DefaultProcessTimeout bounds one run of a code process: long enough for
// a password manager to ask for an unlock, short enough that a command
// stuck on input it can never get does not hang a credential_process
// (aws-sdk-go-v2 gives credential_process the same minute).
const DefaultProcessTimeout = time.Minute

// ProcessAccount is the name of the one credential a code process has.
const ProcessAccount = "process"

// Errors of a code process; a *ProcessError wraps one of them.
var (
	ErrProcessFailed  = errors.New("the code process failed")
	ErrProcessTimeout = errors.New("the code process took too long")
	ErrNotACode       = errors.New("the code process printed no code")
	// ErrStepNotCurrent: the caller asked for the code of a TOTP step other
	// than the current one (or the step changed while the process ran). A
	// code process computes "now" only, so it cannot answer for another
	// step without risking a code that was already sent.
	ErrStepNotCurrent = errors.New("not the current TOTP step")
)

// ProcessOptions configure a code process device.
type ProcessOptions struct {
	// Env is the child's environment. nil inherits this process's
	// environment, as os/exec does; the CLI passes its own environment
	// without the secrets it holds.
	Env []string
	// Timeout bounds one run; 0 means DefaultProcessTimeout. At the limit
	// the process (on Unix its whole process group) is killed.
	Timeout time.Duration
	// Now and Sleep are the clock (tests); nil means the real one.
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
}

// ProcessError says which run of a code process failed and how. It never
// holds what the process printed on standard output: that may be a code or
// another secret.
type ProcessError struct {
	Command  string
	ExitCode int           // -1 when the process did not exit by itself
	Stderr   string        // the end of its standard error, trimmed
	Elapsed  time.Duration // how long it ran
	Detail   string        // what was wrong
	Err      error         // ErrProcessFailed, ErrProcessTimeout, ErrNotACode, ErrStepNotCurrent, or ctx.Err()
}

func (e *ProcessError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "code process %s: %s", quoteCommand(e.Command), e.Detail)
	if e.Stderr != "" {
		fmt.Fprintf(&b, "; its standard error said: %s", e.Stderr)
	}
	return b.String()
}

func (e *ProcessError) Unwrap() error { return e.Err }

// processDevice is a Device whose one credential's code is whatever the
// command prints.
type processDevice struct {
	command string
	opts    ProcessOptions
	mu      sync.Mutex // one run at a time
}

// NewProcess returns the Device of a code process. It runs nothing: the
// command runs once for each Calculate.
func NewProcess(command string, opts ProcessOptions) (Device, error) {
	if strings.TrimSpace(command) == "" {
		return nil, errors.New("code process: the command is empty; give the command that prints the code, as process:COMMAND or mfa_process = COMMAND")
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultProcessTimeout
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Sleep == nil {
		opts.Sleep = sleepCtx
	}
	return &processDevice{command: command, opts: opts}, nil
}

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

func (d *processDevice) Info() Info { return Info{Kind: "process", Path: d.command} }

func (d *processDevice) credential() Credential {
	return Credential{Name: ProcessAccount, Account: ProcessAccount, Type: oath.TOTP, Algorithm: oath.SHA1, Period: oath.DefaultPeriod}
}

// List returns the one credential, named ProcessAccount. It runs nothing.
func (d *processDevice) List(context.Context) ([]Credential, error) {
	return []Credential{d.credential()}, nil
}

func (d *processDevice) Close() error { return nil }

// Calculate runs the command and returns the code it printed, for the
// 30-second step holding at. The process gives the code of "now", so:
// a step that has passed is refused without running anything; a step that
// starts within one period is waited for; and when the clock has left the
// step by the time the process ends, the code is refused too (it may
// belong to the next step, which the caller would then think unspent).
// Every refusal wraps ErrStepNotCurrent.
func (d *processDevice) Calculate(ctx context.Context, name string, at time.Time) (Code, error) {
	if name != "" && name != ProcessAccount {
		return Code{}, fmt.Errorf("%s: %w %q; a code process has one account, %q", d.Info(), ErrNotFound, name, ProcessAccount)
	}
	return d.code(ctx, at)
}

// calculateChosen makes a Token use the process directly: a code process
// has no accounts to match against the serial, so a pinned account
// (mfabridge_account) means nothing to it.
func (d *processDevice) calculateChosen(ctx context.Context, _ string, _ func([]string) (string, error), at time.Time) (Code, string, error) {
	c, err := d.code(ctx, at)
	return c, ProcessAccount, err
}

func (d *processDevice) code(ctx context.Context, at time.Time) (Code, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	period := oath.DefaultPeriod
	want := oath.TOTPStep(at, period)
	now := d.opts.Now()
	switch cur := oath.TOTPStep(now, period); {
	case want < cur:
		return Code{}, d.stepError(fmt.Sprintf("asked for the code of %s, an earlier TOTP step than now; a code process gives only the current code", at.UTC().Format(time.RFC3339)))
	case want > cur+1:
		return Code{}, d.stepError(fmt.Sprintf("asked for the code of %s, more than one TOTP step ahead; a code process gives only the current code", at.UTC().Format(time.RFC3339)))
	case want == cur+1:
		from, _ := stepBounds(at, period)
		if err := d.opts.Sleep(ctx, from.Sub(now)); err != nil {
			return Code{}, fmt.Errorf("%s: wait for the next TOTP step: %w", d.Info(), err)
		}
	}
	start := d.opts.Now()
	value, err := d.run(ctx)
	if err != nil {
		return Code{}, err
	}
	if end := d.opts.Now(); oath.TOTPStep(end, period) != want {
		return Code{}, &ProcessError{Command: d.command, ExitCode: 0, Elapsed: end.Sub(start), Err: ErrStepNotCurrent,
			Detail: fmt.Sprintf("the TOTP step changed while it ran (%s), so its code may belong to either step and is not used; run again", end.Sub(start).Round(time.Millisecond))}
	}
	from, to := stepBounds(at, period)
	return Code{Value: value, ValidFrom: from, ValidTo: to}, nil
}

func (d *processDevice) stepError(detail string) error {
	return &ProcessError{Command: d.command, ExitCode: -1, Detail: detail, Err: ErrStepNotCurrent}
}

// Output limits: a code is one short line; anything near these is not one.
const (
	maxProcessStdout = 1 << 10
	maxProcessStderr = 4 << 10
	shownStderr      = 500
)

// run runs the command once and returns the code it printed.
func (d *processDevice) run(ctx context.Context) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("%s: %w", d.Info(), err)
	}
	rctx, cancel := context.WithTimeout(ctx, d.opts.Timeout)
	defer cancel()
	cmd := shellCommand(rctx, d.command)
	cmd.Env = d.opts.Env
	// Standard input is empty (/dev/null): a prompt must use the terminal
	// itself, as password managers do.
	stdout := &capBuffer{max: maxProcessStdout}
	stderr := &capBuffer{max: maxProcessStderr, keepTail: true}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	// A grandchild that keeps the output pipes open must not keep us
	// waiting once the process itself is gone.
	cmd.WaitDelay = 2 * time.Second
	start := time.Now()
	err := cmd.Run()
	pe := &ProcessError{Command: d.command, ExitCode: cmd.ProcessState.ExitCode(), Stderr: stderr.shown(), Elapsed: time.Since(start)}
	switch {
	case errors.Is(rctx.Err(), context.DeadlineExceeded) && ctx.Err() == nil:
		pe.Err, pe.ExitCode = ErrProcessTimeout, -1
		pe.Detail = fmt.Sprintf("did not finish within %s and was stopped; check that it does not wait for input it cannot get (standard input is empty)", d.opts.Timeout)
		return "", pe
	case ctx.Err() != nil:
		pe.Err, pe.Detail = ctx.Err(), "interrupted"
		return "", pe
	case err != nil && pe.ExitCode > 0:
		pe.Err = ErrProcessFailed
		pe.Detail = fmt.Sprintf("exited with status %d", pe.ExitCode)
		return "", pe
	case err != nil && cmd.ProcessState != nil:
		pe.Err = fmt.Errorf("%w: %w", ErrProcessFailed, err)
		pe.Detail = fmt.Sprintf("ended abnormally (%v)", err)
		return "", pe
	case err != nil:
		pe.Err = fmt.Errorf("%w: %w", ErrProcessFailed, err)
		pe.Detail = fmt.Sprintf("could not be started: %v", err)
		return "", pe
	}
	pe.Stderr = "" // it succeeded: what it said on stderr is not ours to repeat
	value, detail := parseProcessCode(stdout)
	if detail != "" {
		pe.Err, pe.Detail = ErrNotACode, detail
		return "", pe
	}
	return value, nil
}

// parseProcessCode checks the process's standard output: one line holding
// a 6–8 digit code, surrounding white space allowed. The detail says what
// was wrong without repeating the output.
func parseProcessCode(out *capBuffer) (code, detail string) {
	const want = "want one line holding the 6–8 digit code"
	if out.over {
		return "", fmt.Sprintf("printed more than %d bytes on standard output; %s", maxProcessStdout, want)
	}
	s := strings.TrimSpace(out.buf.String())
	if s == "" {
		return "", "printed nothing on standard output; " + want
	}
	if n := strings.Count(s, "\n") + 1; n > 1 {
		return "", fmt.Sprintf("printed %d lines on standard output; %s", n, want)
	}
	ok := len(s) >= 6 && len(s) <= 8
	for i := 0; ok && i < len(s); i++ {
		ok = s[i] >= '0' && s[i] <= '9'
	}
	if !ok {
		return "", fmt.Sprintf("printed %d characters that are not a 6–8 digit code (not shown: it may be a secret); %s", utf8.RuneCountInString(s), want)
	}
	return s, ""
}

// capBuffer keeps at most max bytes: the first ones, or with keepTail the
// last ones.
type capBuffer struct {
	buf      bytes.Buffer
	max      int
	keepTail bool
	over     bool
}

func (c *capBuffer) Write(p []byte) (int, error) {
	n := len(p)
	if c.keepTail {
		c.buf.Write(p)
		if extra := c.buf.Len() - c.max; extra > 0 {
			c.over = true
			b := append([]byte(nil), c.buf.Bytes()[extra:]...)
			c.buf.Reset()
			c.buf.Write(b)
		}
		return n, nil
	}
	if room := c.max - c.buf.Len(); len(p) > room {
		c.over = true
		p = p[:max(room, 0)]
	}
	c.buf.Write(p)
	return n, nil
}

// shown is the end of what was written, as one line of printable text.
func (c *capBuffer) shown() string {
	s := strings.ToValidUTF8(c.buf.String(), "?")
	s = strings.Map(func(r rune) rune {
		switch {
		case r == '\n' || r == '\r' || r == '\t':
			return ' '
		case r < 0x20 || r == 0x7f:
			return -1
		}
		return r
	}, s)
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > shownStderr {
		s = "…" + string(r[len(r)-shownStderr:])
	}
	return s
}

// quoteCommand is the command for messages: quoted, and cut when long.
func quoteCommand(c string) string {
	if r := []rune(c); len(r) > 80 {
		c = string(r[:79]) + "…"
	}
	return fmt.Sprintf("%q", c)
}
