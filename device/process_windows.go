//go:build windows

package device

import (
	"context"
	"os/exec"
	"syscall"
)

// shellCommand runs command with cmd.exe, as aws-vault runs
// credential_process on Windows (`cmd.exe /C COMMAND`). The command line is
// given verbatim (SysProcAttr.CmdLine) with /s, so cmd.exe strips only the
// outer quotes and sees exactly the configured text; /d skips AutoRun
// commands from the registry. At the time limit only cmd.exe itself is
// killed: Windows has no process group to signal without a job object, so
// a program it started may outlive it; WaitDelay (set by the caller) keeps
// such a program from holding up the wait through the output pipes.
func shellCommand(ctx context.Context, command string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "cmd.exe")
	cmd.SysProcAttr = &syscall.SysProcAttr{CmdLine: `cmd.exe /d /s /c "` + command + `"`}
	return cmd
}
