//go:build unix

package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/sys/unix"
)

// canDetach: serve --background is supported.
const canDetach = true

// ignoreHangup keeps a background server alive when its terminal closes.
func ignoreHangup() { signal.Ignore(syscall.SIGHUP) }

// detachStdio points stdout and stderr at /dev/null, so the process that
// started the background server sees them end, and moves the server into a
// process group of its own, out of reach of the terminal's Ctrl-C.
func detachStdio() error {
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", os.DevNull, err)
	}
	defer null.Close()
	for _, fd := range []int{1, 2} {
		if err := unix.Dup2(int(null.Fd()), fd); err != nil {
			return fmt.Errorf("detach from the starting process: %w", err)
		}
	}
	if err := unix.Setpgid(0, 0); err != nil {
		return fmt.Errorf("detach from the terminal's process group: %w", err)
	}
	return nil
}
