//go:build windows

package main

import "errors"

// canDetach: serve --background is refused on Windows, where a console
// program started from a console is ended with it, and a detached one has
// no console to show a touch prompt on.
const canDetach = false

func ignoreHangup() {}

func detachStdio() error { return errors.New("serve --background is not supported on Windows") }
