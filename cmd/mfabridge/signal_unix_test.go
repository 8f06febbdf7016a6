//go:build unix

package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSIGTERMEndsEveryWait pins issue 13 cases 2 and 7: a credential-process
// waiting for a touch (holding the serial's lock) and a second one waiting
// for that lock both end promptly on SIGTERM, and the lock wait is shown
// on the terminal after about a second. The simulated key is never
// touched (nothing writes its release file), so a process that ignored the
// signal would never end.
func TestSIGTERMEndsEveryWait(t *testing.T) {
	w := newWorld(t, "release")
	tty := filepath.Join(w.dir, "tty.out")
	start := func(name string) (*exec.Cmd, *bytes.Buffer) {
		cmd := exec.Command(filepath.Join(w.dir, "mfabridge"), "--debug", "credential-process", "prod")
		cmd.Env = append(append([]string{}, w.env...), "MFABRIDGE_TTY="+tty)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		return cmd, &stderr
	}
	waitFor := func(what string) {
		t.Helper()
		for end := time.Now().Add(20 * time.Second); ; {
			b, _ := os.ReadFile(tty)
			if strings.Contains(string(b), what) {
				return
			}
			if time.Now().After(end) {
				t.Fatalf("terminal never showed %q; it holds %q", what, b)
			}
			// The terminal file is the only signal a child process gives.
			time.Sleep(20 * time.Millisecond)
		}
	}
	stop := func(cmd *exec.Cmd, stderr *bytes.Buffer, name string) {
		t.Helper()
		begin := time.Now()
		if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err == nil {
				t.Errorf("%s: exit status 0 after SIGTERM", name)
			}
			if took := time.Since(begin); took > 5*time.Second {
				t.Errorf("%s: took %s to exit after SIGTERM", name, took)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: still running 10 s after SIGTERM; stderr:\n%s", name, stderr)
		}
	}

	holder, holderErr := start("holder")
	waitFor("touch your YubiKey")
	waiter, waiterErr := start("waiter")
	waitFor("waiting for another mfabridge process using arn:aws:iam::111111111111:mfa/alice")
	stop(waiter, waiterErr, "lock waiter")
	if !strings.Contains(waiterErr.String(), "lock mfa serial") {
		t.Errorf("lock waiter: the error does not say it was waiting for the lock:\n%s", waiterErr)
	}
	if !strings.Contains(waiterErr.String(), "waiting for the lock of another mfabridge process") {
		t.Errorf("lock waiter: no --debug line for the wait:\n%s", waiterErr)
	}
	stop(holder, holderErr, "touch waiter")
}
