package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/mfabridge/mfabridge/device"
	"github.com/mfabridge/mfabridge/internal/testtemp"
)

// TestTouchPromptErase: a terminal that can erase a line gets the prompt
// without a newline and an erase when the key answers; one that cannot (a
// Windows console without VT processing) gets a plain line and no escape
// sequence.
func TestTouchPromptErase(t *testing.T) {
	for _, tt := range []struct {
		erase bool
		want  string
	}{
		{true, "touch your YubiKey (serial 7)…\r\033[K"},
		{false, "touch your YubiKey (serial 7)…\n"},
	} {
		path := filepath.Join(testtemp.Dir(t), "tty")
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		term := &terminal{path: path, opened: true, in: f, out: f, erase: tt.erase, fallback: &bytes.Buffer{}}
		term.touch(device.Info{Serial: 7})()
		term.close()
		if got, _ := os.ReadFile(path); string(got) != tt.want {
			t.Errorf("erase %v: terminal got %q, want %q", tt.erase, got, tt.want)
		}
	}
}

// TestNoTerminal: without a terminal, notices go to stderr with the
// program's prefix and secrets cannot be asked for.
func TestNoTerminal(t *testing.T) {
	var stderr bytes.Buffer
	term := openTerminal(func(string) string { return "none" }, &stderr)
	term.notice("hello")
	term.touch(device.Info{})()
	if got, want := stderr.String(), "mfabridge: hello\nmfabridge: touch your YubiKey\n"; got != want {
		t.Errorf("stderr %q, want %q", got, want)
	}
	if _, err := term.readSecret(t.Context(), "password: "); err != errNoTerminal {
		t.Errorf("readSecret without a terminal: %v", err)
	}
}
