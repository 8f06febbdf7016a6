//go:build windows

package main

import (
	"os"

	"golang.org/x/sys/windows"
)

// openConsole opens the console of this process, CONIN$ to read and
// CONOUT$ to write (the standard handles may be redirected: the AWS CLI
// captures them), and turns on VT processing on CONOUT$ so that the
// erase sequence of the touch prompt works. Consoles older than Windows 10
// refuse it: then erase is false and prompts are plain lines.
func openConsole() (in, out *os.File, erase bool, err error) {
	in, err = os.OpenFile("CONIN$", os.O_RDWR, 0)
	if err != nil {
		return nil, nil, false, err
	}
	out, err = os.OpenFile("CONOUT$", os.O_RDWR, 0)
	if err != nil {
		in.Close()
		return nil, nil, false, err
	}
	return in, out, enableVT(windows.Handle(out.Fd())), nil
}

// enableVT turns on ENABLE_VIRTUAL_TERMINAL_PROCESSING on a console output
// handle and reports whether it is on.
func enableVT(h windows.Handle) bool {
	var mode uint32
	if err := windows.GetConsoleMode(h, &mode); err != nil {
		return false
	}
	const want = windows.ENABLE_PROCESSED_OUTPUT | windows.ENABLE_VIRTUAL_TERMINAL_PROCESSING
	if mode&want == want {
		return true
	}
	return windows.SetConsoleMode(h, mode|want) == nil
}

// echoOff turns off the console's echo of what is typed, keeping line
// input (the console edits the line and returns it on Enter), and returns
// a func that puts the mode back.
func echoOff(f *os.File) (restore func() error, err error) {
	h := windows.Handle(f.Fd())
	var old uint32
	if err := windows.GetConsoleMode(h, &old); err != nil {
		return nil, err
	}
	quiet := old&^windows.ENABLE_ECHO_INPUT | windows.ENABLE_PROCESSED_INPUT | windows.ENABLE_LINE_INPUT
	if err := windows.SetConsoleMode(h, quiet); err != nil {
		return nil, err
	}
	return func() error { return windows.SetConsoleMode(h, old) }, nil
}
