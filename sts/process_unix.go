//go:build unix

package sts

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"syscall"
)

// shellCommand runs command with sh -c, as aws-sdk-go-v2's processcreds.
func shellCommand(ctx context.Context, command string) *exec.Cmd {
	return exec.CommandContext(ctx, "sh", "-c", command)
}

// newProcessGroup starts cmd as the leader of a new process group, so that
// what it starts (unless it leaves the group itself) can be killed with it.
func newProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

// killProcessGroup sends SIGKILL to the process group p leads. The group id
// cannot be reused while a member is alive; once none is, kill fails with
// ESRCH, reported as os.ErrProcessDone.
func killProcessGroup(p *os.Process) error {
	if p == nil {
		return os.ErrProcessDone
	}
	err := syscall.Kill(-p.Pid, syscall.SIGKILL)
	if errors.Is(err, syscall.ESRCH) {
		return os.ErrProcessDone
	}
	return err
}
