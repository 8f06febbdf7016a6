//go:build windows

package sts

import (
	"context"
	"os"
	"os/exec"
	"syscall"

	"golang.org/x/sys/windows"
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

// processGroup is a job object holding the credential_process and what it
// starts. The process is assigned to it just after it starts (os/exec
// cannot start it suspended), so a child it creates in that instant stays
// outside; the pipes are then still cut off (runCredentialProcess). Without
// a job (creation failed), only the process itself is killed.
type processGroup struct{ job windows.Handle }

func newProcessGroup(*exec.Cmd) *processGroup { return &processGroup{} }

// started creates the job and puts p in it. Children inherit the job.
func (g *processGroup) started(p *os.Process) {
	job, err := windows.CreateJobObject(nil, nil)
	if err != nil {
		return
	}
	h, err := windows.OpenProcess(windows.PROCESS_SET_QUOTA|windows.PROCESS_TERMINATE, false, uint32(p.Pid))
	if err != nil {
		windows.CloseHandle(job)
		return
	}
	defer windows.CloseHandle(h)
	if err := windows.AssignProcessToJobObject(job, h); err != nil {
		windows.CloseHandle(job)
		return
	}
	g.job = job
}

// kill terminates every process of the job (or p alone without one).
func (g *processGroup) kill(p *os.Process) error {
	if g.job != 0 {
		if err := windows.TerminateJobObject(g.job, 1); err == nil {
			return nil
		}
	}
	if p == nil {
		return os.ErrProcessDone
	}
	return p.Kill()
}

// close releases the job; processes left in it keep running (the job has
// no kill-on-close limit), as on Unix after a clean exit.
func (g *processGroup) close() {
	if g.job != 0 {
		windows.CloseHandle(g.job)
		g.job = 0
	}
}
