//go:build unix

package main

import (
	"os"

	"golang.org/x/sys/unix"
)

// openConsole opens /dev/tty, for reading and writing; it can erase a line.
func openConsole() (in, out *os.File, erase bool, err error) {
	f, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	if err != nil {
		return nil, nil, false, err
	}
	return f, f, true, nil
}

// echoOff turns off the terminal's echo of what is typed, keeping line
// editing and signals (ICANON, ISIG), and returns a func that puts the
// modes back. It sets the modes at once (TCSETS, not TCSETSW): waiting for
// output to drain could block on a stopped terminal (^S).
func echoOff(f *os.File) (restore func() error, err error) {
	fd := int(f.Fd())
	old, err := unix.IoctlGetTermios(fd, ioctlGetTermios)
	if err != nil {
		return nil, err
	}
	quiet := *old
	quiet.Lflag &^= unix.ECHO
	quiet.Lflag |= unix.ICANON | unix.ISIG
	quiet.Iflag |= unix.ICRNL
	if err := unix.IoctlSetTermios(fd, ioctlSetTermios, &quiet); err != nil {
		return nil, err
	}
	return func() error { return unix.IoctlSetTermios(fd, ioctlSetTermios, old) }, nil
}
