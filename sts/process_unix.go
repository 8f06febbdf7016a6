//go:build !windows

package sts

import (
	"context"
	"os/exec"
)

// shellCommand runs command with sh -c, as aws-sdk-go-v2 does.
func shellCommand(ctx context.Context, command string) *exec.Cmd {
	return exec.CommandContext(ctx, "sh", "-c", command)
}
