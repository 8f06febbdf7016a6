//go:build windows

package sts

import (
	"context"
	"os/exec"
	"syscall"
)

// shellCommand runs command with cmd.exe, as the AWS CLI does (Python's
// shell=True): the command line is passed as written, not re-quoted by Go's
// argument escaping, which cmd.exe does not understand (a quoted program
// path such as "C:\Program Files\…" would break). /s strips only the outer
// quotes added here; /d skips AutoRun commands.
func shellCommand(ctx context.Context, command string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "cmd.exe")
	cmd.SysProcAttr = &syscall.SysProcAttr{CmdLine: `cmd.exe /d /s /c "` + command + `"`}
	return cmd
}
