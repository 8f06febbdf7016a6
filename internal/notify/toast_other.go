//go:build !windows

package notify

import "os/exec"

// Toasts are Windows's; elsewhere the backend runs only in tests, with a
// stand-in program.
func powerShellPath() string { return "" }

func hideConsole(*exec.Cmd) {}
