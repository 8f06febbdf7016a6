//go:build unix

package main

import "os"

// openConsole opens /dev/tty, for reading and writing; it can erase a line.
func openConsole() (in, out *os.File, erase bool, err error) {
	f, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	if err != nil {
		return nil, nil, false, err
	}
	return f, f, true, nil
}
