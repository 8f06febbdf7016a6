//go:build unix

package regfile

import (
	"os"
	"syscall"
)

// open opens path read-only without blocking: O_NONBLOCK makes open(2) of
// a FIFO with no writer return at once (it has no effect on regular files),
// so Read can fstat it and refuse it. O_NOCTTY keeps a terminal device from
// becoming the controlling terminal.
func open(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOCTTY, 0)
}
