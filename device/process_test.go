//go:build !windows

package device

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// stepClock is a fake clock for code processes; advance moves it.
type stepClock struct {
	mu sync.Mutex
	t  time.Time
	// onNow, when set, runs at each reading (to move the clock while a
	// process runs).
	onNow func(n int) time.Duration
	reads int
}

func (c *stepClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.reads++
	if c.onNow != nil {
		c.t = c.t.Add(c.onNow(c.reads))
	}
	return c.t
}

func (c *stepClock) sleep(_ context.Context, d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	return nil
}

// runs counts how often a script ran: each run appends a line to the file.
func runs(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(b), "\n")
}

func TestProcessOutput(t *testing.T) {
	at := time.Unix(1_700_000_020, 0) // 10 s into a step
	tests := []struct {
		name    string
		script  string
		want    string
		wantErr error
		errHas  []string
		errNot  []string
	}{
		{name: "six digits", script: `echo 123456`, want: "123456"},
		{name: "eight digits, CRLF and spaces", script: `printf ' 12345678 \r\n'`, want: "12345678"},
		{name: "no newline", script: `printf 654321`, want: "654321"},
		{name: "stderr on success is ignored", script: `echo unlocking >&2; echo 111111`, want: "111111"},
		{name: "nothing", script: `true`, wantErr: ErrNotACode, errHas: []string{"printed nothing on standard output", "6–8 digit code"}},
		{name: "only blank lines", script: `printf '\n\n'`, wantErr: ErrNotACode, errHas: []string{"printed nothing"}},
		{name: "two lines", script: `echo $((123000+456)); echo $((654000+321))`, wantErr: ErrNotACode, errHas: []string{"printed 2 lines"}, errNot: []string{"123456", "654321"}},
		{name: "five digits", script: `echo 12345`, wantErr: ErrNotACode, errHas: []string{"5 characters that are not a 6–8 digit code"}},
		{name: "nine digits", script: `echo 123456789`, wantErr: ErrNotACode, errHas: []string{"9 characters"}},
		{name: "a password, not a code", script: `echo hunter$((1+1))hunter$((1+1))`, wantErr: ErrNotACode, errHas: []string{"not shown"}, errNot: []string{"hunter2"}},
		{name: "huge output", script: `head -c 5000 /dev/zero | tr '\0' 1`, wantErr: ErrNotACode, errHas: []string{"more than 1024 bytes"}},
		{name: "exit status and stderr", script: `echo "[ERROR] vault is locked: run op signin" >&2; exit 3`, wantErr: ErrProcessFailed,
			errHas: []string{"exited with status 3", "vault is locked: run op signin"}},
		{name: "exit status without stderr", script: `echo $((123000+456)); exit 1`, wantErr: ErrProcessFailed, errHas: []string{"exited with status 1"}, errNot: []string{"123456", "said"}},
		{name: "command not found", script: `no-such-command-mfabridge`, wantErr: ErrProcessFailed, errHas: []string{"exited with status 127", "not found"}},
		{name: "killed by a signal", script: `kill -9 $$`, wantErr: ErrProcessFailed, errHas: []string{"ended abnormally", "killed"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := &stepClock{t: at}
			d, err := NewProcess(tt.script, ProcessOptions{Now: clk.now, Sleep: clk.sleep, Timeout: 10 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			c, err := d.Calculate(context.Background(), "", at)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("Calculate: %v", err)
				}
				if c.Value != tt.want {
					t.Fatalf("code %q, want %q", c.Value, tt.want)
				}
				if want := time.Unix(1_700_000_020/30*30, 0); !c.ValidFrom.Equal(want) || !c.ValidTo.Equal(want.Add(30*time.Second)) {
					t.Fatalf("valid %v–%v, want the step starting %v", c.ValidFrom, c.ValidTo, want)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("error %v, want %v", err, tt.wantErr)
			}
			var pe *ProcessError
			if !errors.As(err, &pe) || pe.Command != tt.script {
				t.Fatalf("error %v is not a *ProcessError naming the command", err)
			}
			for _, s := range append(tt.errHas, "code process "+strconv.Quote(tt.script)) {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not say %q", err, s)
				}
			}
			for _, s := range tt.errNot {
				if strings.Contains(err.Error(), s) {
					t.Errorf("error %q repeats %q", err, s)
				}
			}
		})
	}
}

// TestProcessTimeoutKillsGroup: at the limit the process and what it
// started are killed, and the error says so; the wait does not outlast
// the limit by much, even with a grandchild holding stdout open.
func TestProcessTimeoutKillsGroup(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "grandchild.pid")
	script := `sleep 300 & echo $! > ` + pidFile + `; echo waiting >&2; wait`
	d, err := NewProcess(script, ProcessOptions{Timeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = d.Calculate(context.Background(), "", time.Now())
	elapsed := time.Since(start)
	if !errors.Is(err, ErrProcessTimeout) {
		t.Fatalf("error %v, want ErrProcessTimeout", err)
	}
	for _, s := range []string{"did not finish within 300ms", "was stopped", "waiting"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not say %q", err, s)
		}
	}
	if elapsed > 2*time.Second {
		t.Errorf("took %v to give up after a 300ms limit", elapsed)
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	// The grandchild was killed with the group; it is reaped by init, so
	// poll (bounded) until it is gone rather than sleeping a fixed time.
	deadline := time.Now().Add(5 * time.Second)
	for syscall.Kill(pid, 0) == nil {
		if time.Now().After(deadline) {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("grandchild %d still alive after the time limit", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestProcessCancel(t *testing.T) {
	d, err := NewProcess(`sleep 300`, ProcessOptions{Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	_, err = d.Calculate(ctx, "", time.Now())
	if !errors.Is(err, context.Canceled) || errors.Is(err, ErrProcessTimeout) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
}

// TestProcessSteps: the ledger rules. A code process only knows "now", so
// an earlier step is refused without running it, the next step is waited
// for, and a run that ends in another step than it was asked for is
// refused (its code may be the next step's, which the caller would then
// believe unspent).
func TestProcessSteps(t *testing.T) {
	dir := t.TempDir()
	count := filepath.Join(dir, "runs")
	script := `echo run >> ` + count + `; echo $((123000+456))`
	base := time.Unix(1_700_000_020, 0) // step S, 10 s in

	t.Run("current step", func(t *testing.T) {
		clk := &stepClock{t: base}
		d, _ := NewProcess(script, ProcessOptions{Now: clk.now, Sleep: clk.sleep})
		before := runs(t, count)
		if _, err := d.Calculate(context.Background(), "", base.Add(15*time.Second)); err != nil {
			t.Fatal(err)
		}
		if runs(t, count) != before+1 {
			t.Fatal("the process did not run once")
		}
	})
	t.Run("earlier step refused without running", func(t *testing.T) {
		clk := &stepClock{t: base}
		d, _ := NewProcess(script, ProcessOptions{Now: clk.now, Sleep: clk.sleep})
		before := runs(t, count)
		_, err := d.Calculate(context.Background(), "", base.Add(-30*time.Second))
		if !errors.Is(err, ErrStepNotCurrent) || !strings.Contains(err.Error(), "earlier TOTP step") {
			t.Fatalf("error %v, want ErrStepNotCurrent (earlier step)", err)
		}
		if runs(t, count) != before {
			t.Fatal("the process ran for a step that has passed")
		}
	})
	t.Run("far future refused", func(t *testing.T) {
		clk := &stepClock{t: base}
		d, _ := NewProcess(script, ProcessOptions{Now: clk.now, Sleep: clk.sleep})
		_, err := d.Calculate(context.Background(), "", base.Add(90*time.Second))
		if !errors.Is(err, ErrStepNotCurrent) {
			t.Fatalf("error %v, want ErrStepNotCurrent", err)
		}
	})
	t.Run("next step waited for", func(t *testing.T) {
		clk := &stepClock{t: base}
		d, _ := NewProcess(script, ProcessOptions{Now: clk.now, Sleep: clk.sleep})
		next := base.Add(30 * time.Second)
		c, err := d.Calculate(context.Background(), "", next)
		if err != nil {
			t.Fatal(err)
		}
		if got := clk.now(); got.Unix()/30 != next.Unix()/30 {
			t.Fatalf("ran at %v, before the step of %v began", got, next)
		}
		if !c.ValidFrom.Equal(time.Unix(next.Unix()/30*30, 0)) {
			t.Fatalf("code valid from %v, want the next step", c.ValidFrom)
		}
	})
	t.Run("step changes during the run", func(t *testing.T) {
		clk := &stepClock{t: base.Add(18 * time.Second)} // 2 s left in step S
		clk.onNow = func(n int) time.Duration {
			if n >= 3 { // the reading after the run: 5 s later
				return 5 * time.Second
			}
			return 0
		}
		d, _ := NewProcess(script, ProcessOptions{Now: clk.now, Sleep: clk.sleep})
		_, err := d.Calculate(context.Background(), "", base.Add(18*time.Second))
		if !errors.Is(err, ErrStepNotCurrent) || !strings.Contains(err.Error(), "the TOTP step changed while it ran") {
			t.Fatalf("error %v, want ErrStepNotCurrent (step changed)", err)
		}
		if strings.Contains(err.Error(), "123456") {
			t.Fatalf("error %q holds the code", err)
		}
	})
}

// TestProcessEnv: the child gets exactly the environment it is given.
func TestProcessEnv(t *testing.T) {
	d, err := NewProcess(`test -z "$SECRET_THING" && test "$KEPT" = yes && echo 777777`,
		ProcessOptions{Env: []string{"PATH=/usr/bin:/bin", "KEPT=yes"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("SECRET_THING", "x")
	if c, err := d.Calculate(context.Background(), "", time.Now()); err != nil || c.Value != "777777" {
		t.Fatalf("code %q, %v", c.Value, err)
	}
}

// TestProcessToken: a Token over a code process runs the command once per
// code, needs no account match, and ignores a pinned account.
func TestProcessToken(t *testing.T) {
	dir := t.TempDir()
	count := filepath.Join(dir, "runs")
	d, err := Open(context.Background(), "process:echo run >> "+count+"; echo 424242", Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, opts := range [][]TokenOption{nil, {WithAccount("whatever")}} {
		tok := NewToken(d, aliceSerial, opts...)
		c, err := tok.Code(context.Background(), time.Now())
		if err != nil || c.Value != "424242" {
			t.Fatalf("code %q, %v", c.Value, err)
		}
		if tok.Account() != ProcessAccount {
			t.Fatalf("account %q, want %q", tok.Account(), ProcessAccount)
		}
	}
	if n := runs(t, count); n != 2 {
		t.Fatalf("%d runs for 2 codes", n)
	}
	if got := d.Info().String(); !strings.HasPrefix(got, `code process "echo run >> `) {
		t.Fatalf("Info %q", got)
	}
}

func TestProcessEmpty(t *testing.T) {
	if _, err := NewProcess("  ", ProcessOptions{}); err == nil || !strings.Contains(err.Error(), "the command is empty") {
		t.Fatalf("error %v", err)
	}
	if _, err := ParseSpec("process:"); err == nil || !strings.Contains(err.Error(), "process:COMMAND") {
		t.Fatalf("error %v", err)
	}
}
