//go:build aix || linux || solaris || zos

package main

import "golang.org/x/sys/unix"

// Linux and the System V family read and set the terminal modes with
// TCGETS / TCSETS.
const (
	ioctlGetTermios = unix.TCGETS
	ioctlSetTermios = unix.TCSETS
)
