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

// processGroup: no process groups here; only the process is killed, and
// the pipes are cut off (runCredentialProcess).
type processGroup struct{}

func newProcessGroup(*exec.Cmd) processGroup { return processGroup{} }

func (processGroup) started(*os.Process) {}
func (processGroup) close()              {}

func (processGroup) kill(p *os.Process) error {
	if p == nil {
		return os.ErrProcessDone
	}
	return p.Kill()
}
