//go:build windows

package sts

import (
	"context"
	"os"
	"os/exec"
)

// shellCommand runs command with cmd.exe /C, as aws-sdk-go-v2's
// processcreds does on Windows.
func shellCommand(ctx context.Context, command string) *exec.Cmd {
	return exec.CommandContext(ctx, "cmd.exe", "/C", command)
}

// newProcessGroup does nothing on Windows: killProcessGroup kills the
// process only, and what it started is cut off by closing the pipes
// (exec.Cmd.WaitDelay). A job object would take its children too.
func newProcessGroup(*exec.Cmd) {}

// killProcessGroup kills the process (not its children; see
// newProcessGroup).
func killProcessGroup(p *os.Process) error {
	if p == nil {
		return os.ErrProcessDone
	}
	return p.Kill()
}
