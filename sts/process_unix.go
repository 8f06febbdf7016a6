//go:build unix

package sts

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"syscall"
)

// shellCommand runs command with sh -c, as aws-sdk-go-v2 does.
func shellCommand(ctx context.Context, command string) *exec.Cmd {
	return exec.CommandContext(ctx, "sh", "-c", command)
}

// processGroup is the process group a credential_process leads, with
// what it starts (unless that leaves the group itself).
type processGroup struct{}

// newProcessGroup makes cmd start as the leader of a new process group.
func newProcessGroup(cmd *exec.Cmd) processGroup {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	return processGroup{}
}

func (processGroup) started(*os.Process) {}
func (processGroup) close()              {}

// kill sends SIGKILL to the process group p leads. The group id cannot be
// reused while a member is alive; once none is, kill fails with ESRCH,
// reported as os.ErrProcessDone.
func (processGroup) kill(p *os.Process) error {
	if p == nil {
		return os.ErrProcessDone
	}
	err := syscall.Kill(-p.Pid, syscall.SIGKILL)
	if errors.Is(err, syscall.ESRCH) {
		return os.ErrProcessDone
	}
	return err
}
