//go:build !unix && !windows

package sts

import (
	"context"
	"os"
	"os/exec"
)

// shellCommand runs command with sh -c.
func shellCommand(ctx context.Context, command string) *exec.Cmd {
	return exec.CommandContext(ctx, "sh", "-c", command)
}

// newProcessGroup does nothing here: no process groups.
func newProcessGroup(*exec.Cmd) {}

// killProcessGroup kills the process only.
func killProcessGroup(p *os.Process) error {
	if p == nil {
		return os.ErrProcessDone
	}
	return p.Kill()
}
