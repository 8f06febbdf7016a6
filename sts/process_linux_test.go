package sts

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// alive reports whether pid is a live process. A process that is exiting
// (PF_EXITING in its flags: it was killed and has closed its files, which
// is what ended our read) or a zombie is not.
func alive(t *testing.T, pid int) bool {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if errors.Is(err, os.ErrNotExist) {
		return false
	}
	if err != nil {
		t.Fatal(err)
	}
	// pid (comm) state ppid pgrp session tty_nr tpgid flags …; comm may
	// hold spaces and parentheses.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(f) < 7 {
		t.Fatalf("/proc/%d/stat: %q", pid, b)
	}
	const pfExiting = 0x4 // include/linux/sched.h
	flags, err := strconv.ParseUint(f[6], 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return f[0] != "Z" && f[0] != "X" && flags&pfExiting == 0
}

func readPid(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

// TestRunCredentialProcessKillsGroup pins issue 13 case 11: a
// credential_process that leaves a grandchild holding its stdout outlived
// the one-minute limit (the read waited for the grandchild). At the limit
// the whole process group is killed.
func TestRunCredentialProcessKillsGroup(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	start := time.Now()
	// The shell waits for a grandchild that holds stdout for 300 s. The
	// grace is long, so only the group kill can end this quickly.
	_, err := runCredentialProcess(context.Background(), processRun{
		command: "sleep 300 & echo $! > " + pidFile + "; echo 'still working' >&2; wait",
		limit:   300 * time.Millisecond, grace: time.Minute})
	if !errors.Is(err, ErrProcessTimeout) || !strings.Contains(err.Error(), "killed it and its process group: still working") {
		t.Fatalf("err = %v, want ErrProcessTimeout with the process's stderr", err)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("returned after %s; the limit was 300ms", d)
	}
	if pid := readPid(t, pidFile); alive(t, pid) {
		t.Errorf("grandchild %d still alive", pid)
	}
}

// TestRunCredentialProcessLeftOutputOpen: the process answers and exits,
// but leaves a background child holding stdout; reading stops after the
// grace period (not the minute), the child is killed, and the error says
// what to change.
func TestRunCredentialProcessLeftOutputOpen(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	start := time.Now()
	_, err := runCredentialProcess(context.Background(), processRun{
		command: "sleep 300 & echo $! > " + pidFile + `; printf '{"Version":1,"AccessKeyId":"AKIAX","SecretAccessKey":"s"}'`,
		limit:   time.Minute, grace: 200 * time.Millisecond})
	if !errors.Is(err, ErrProcessLeftOutputOpen) || !strings.Contains(err.Error(), ">/dev/null 2>&1 &") {
		t.Fatalf("err = %v, want ErrProcessLeftOutputOpen with advice", err)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("returned after %s; the grace was 200ms", d)
	}
	if pid := readPid(t, pidFile); alive(t, pid) {
		t.Errorf("background child %d still alive", pid)
	}
}

// A cancelled context (Ctrl-C) ends the run with the context's error and
// kills the group too.
func TestRunCredentialProcessCancel(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := runCredentialProcess(ctx, processRun{command: "sleep 300 & echo $! > " + pidFile + ".tmp; mv " + pidFile + ".tmp " + pidFile + "; wait",
			limit: time.Minute, grace: time.Minute})
		errc <- err
	}()
	// Wait for the grandchild to exist: poll the file the shell renames
	// into place once it is written.
	for {
		if _, err := os.Stat(pidFile); err == nil {
			break
		}
		select {
		case err := <-errc:
			t.Fatalf("ended early: %v", err)
		case <-time.After(10 * time.Millisecond):
		}
	}
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if pid := readPid(t, pidFile); alive(t, pid) {
		t.Errorf("grandchild %d still alive", pid)
	}
}
