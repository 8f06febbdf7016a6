//go:build windows

package main

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/windows"

	"github.com/mfabridge/mfabridge/internal/testtemp"
)

// TestEnableVTNotAConsole: a handle that is not a console (output
// redirected to a file) gets no VT mode, so prompts stay plain lines.
func TestEnableVTNotAConsole(t *testing.T) {
	f, err := os.Create(filepath.Join(testtemp.Dir(t), "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if enableVT(windows.Handle(f.Fd())) {
		t.Fatal("VT mode reported on a file")
	}
}
