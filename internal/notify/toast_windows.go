//go:build windows

package notify

import (
	"os/exec"
	"path/filepath"
	"syscall"

	"golang.org/x/sys/windows"
)

// powerShellPath is Windows PowerShell 5.1 in the system folder, named in
// full (never found through PATH or the current folder); "" when the
// system folder cannot be read.
func powerShellPath() string {
	dir, err := windows.GetSystemDirectory()
	if err != nil {
		return ""
	}
	return filepath.Join(dir, "WindowsPowerShell", "v1.0", "powershell.exe")
}

// hideConsole starts PowerShell without a console window: a GUI caller
// has no console, and Windows would open one for it.
func hideConsole(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{HideWindow: true, CreationFlags: windows.CREATE_NO_WINDOW}
}
