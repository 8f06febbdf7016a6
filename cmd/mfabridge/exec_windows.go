//go:build windows

package main

import (
	"os"
	"os/exec"
	"syscall"
)

// childSignals are caught while exec's child runs so that mfabridge does
// not die before it: Go reports Ctrl-C and Ctrl-Break as os.Interrupt and
// closing the console as SIGTERM. Nothing is forwarded: the console sends
// the same event to the child, which shares it, and Windows has no other
// signals (os.Process.Signal can only kill).
var childSignals = []os.Signal{os.Interrupt, syscall.SIGTERM}

func forwardSignal(*os.Process, os.Signal) {}

// childExitCode is the child's exit code as Windows reports it (a 32-bit
// value: 0xC000013A for a child ended by Ctrl-C), passed on unchanged.
func childExitCode(ee *exec.ExitError) int { return ee.ExitCode() }
