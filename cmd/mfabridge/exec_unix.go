//go:build unix

package main

import (
	"os"
	"os/exec"
	"syscall"
)

// childSignals are caught while exec's child runs, and forwarded to it.
var childSignals = []os.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT,
	syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGWINCH}

func forwardSignal(p *os.Process, s os.Signal) { _ = p.Signal(s) }

// childExitCode is the child's exit status as a shell reports it: 128+N
// for a child killed by signal N.
func childExitCode(ee *exec.ExitError) int {
	if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ee.ExitCode()
}
