//go:build !linux && !freebsd && !darwin && !windows

package pcsc

import "runtime"

// Backend names the PC/SC implementation of this build (for --version).
const Backend = "none"

func sysCall(fn uintptr, args ...uintptr) uintptr {
	panic("pcsc: no PC/SC library on " + runtime.GOOS)
}

func openLib() (*lib, error) {
	return nil, &LibraryError{Library: "PC/SC", Problem: "not supported on " + runtime.GOOS, Missing: true}
}
