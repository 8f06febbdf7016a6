//go:build !windows

package device

import (
	"context"
	"os/exec"
	"syscall"
)

// shellCommand runs command with /bin/sh -c, as aws-vault runs mfa_process
// and credential_process. The process leads a new process group, and the
// time limit kills the whole group: a pipeline or a helper it started
// does not outlive it.
func shellCommand(ctx context.Context, command string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", command)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	return cmd
}
