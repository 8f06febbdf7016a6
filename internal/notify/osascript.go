package notify

import (
	"context"
	"fmt"
	"os/exec"
)

// osascript shows a notice with AppleScript's `display notification`. The
// texts travel as arguments of the script's run handler, never inside
// the script text, so nothing in them is AppleScript. Such a notice cannot
// be withdrawn: Notification Center removes it by itself, and close does
// nothing.
type osascript struct{}

type noHandle struct{}

func (noHandle) close(context.Context) error { return nil }

func (osascript) show(ctx context.Context, title, body string) (handle, error) {
	cmd := exec.CommandContext(ctx, "/usr/bin/osascript",
		"-e", "on run argv",
		"-e", "display notification (item 2 of argv) with title (item 1 of argv)",
		"-e", "end run",
		title, body)
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("osascript: %w: %s", err, out)
	}
	return noHandle{}, nil
}
