//go:build linux

package main

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
)

// TestReadSecretEchoOffBeforePrompt: the prompt is shown only once echo is
// off, so nothing typed after it appears (type-ahead included) is echoed.
// The terminal's output is stopped (^S, as a user can do) before the
// prompt: a readSecret that writes the prompt first blocks in that write
// with echo still on, and echo is never seen off; one that turns echo off
// first is seen with echo off while the prompt waits. Then output resumes
// (^Q), the secret is typed, and neither it nor a type-ahead shows.
func TestReadSecretEchoOffBeforePrompt(t *testing.T) {
	master, slave, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer master.Close()
	tio, err := unix.IoctlGetTermios(int(slave.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	if tio.Iflag&unix.IXON == 0 || tio.Lflag&unix.ECHO == 0 {
		t.Fatalf("a new pseudo-terminal has no IXON or no ECHO: iflag %#o lflag %#o", tio.Iflag, tio.Lflag)
	}
	tm := &terminal{path: slave.Name(), opened: true, in: slave, out: slave, erase: true, fallback: io.Discard}
	defer tm.close()
	defer master.Write([]byte{0x11}) // ^Q on failure: a prompt stuck in a write holds tm

	// Everything the terminal shows, read as it comes.
	screen := make(chan []byte, 64)
	go func() {
		defer close(screen)
		for {
			buf := make([]byte, 256)
			n, err := master.Read(buf)
			if n > 0 {
				screen <- buf[:n]
			}
			if err != nil {
				return
			}
		}
	}()

	// ^S stops output. The line discipline takes input in order, so once
	// the line after it is readable, ^S has been taken; that line is read
	// here (its echo waits with the rest of the output).
	if _, err := master.Write([]byte("\x13z\n")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the terminal took ^S and a line", func() bool {
		n, err := unix.IoctlGetInt(int(slave.Fd()), unix.TIOCINQ)
		return err == nil && n == 2
	})
	if line, err := readTypedLine(slave); err != nil || line != "z" {
		t.Fatalf("line after ^S: %q, %v", line, err)
	}

	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	type result struct {
		s   string
		err error
	}
	got := make(chan result, 1)
	go func() {
		s, err := tm.readSecret(ctx, "secret: ")
		got <- result{s, err}
	}()
	waitFor(t, "echo turned off while the prompt waits to be shown", func() bool {
		tio, err := unix.IoctlGetTermios(int(slave.Fd()), unix.TCGETS)
		return err == nil && tio.Lflag&unix.ECHO == 0
	})
	if _, err := master.Write([]byte("ahead")); err != nil { // typed before the prompt shows
		t.Fatal(err)
	}
	if _, err := master.Write([]byte{0x11}); err != nil { // ^Q: resume output
		t.Fatal(err)
	}
	var shown []byte
	for !bytes.Contains(shown, []byte("secret: ")) {
		select {
		case b, ok := <-screen:
			if !ok {
				t.Fatalf("terminal closed; it showed %q", shown)
			}
			shown = append(shown, b...)
		case <-ctx.Done():
			t.Fatalf("no prompt shown; the terminal showed %q", shown)
		}
	}
	if _, err := master.Write([]byte("-typed\r")); err != nil {
		t.Fatal(err)
	}
	r := <-got
	if r.err != nil || r.s != "ahead-typed" {
		t.Fatalf("readSecret = %q, %v; want %q", r.s, r.err, "ahead-typed")
	}
	tio, err = unix.IoctlGetTermios(int(slave.Fd()), unix.TCGETS)
	if err != nil || tio.Lflag&unix.ECHO == 0 {
		t.Errorf("echo not restored after the read: lflag %#o, %v", tio.Lflag, err)
	}
	// The newline readSecret writes after the read: all output is in.
	for !bytes.HasSuffix(shown, []byte("\n")) {
		b, ok := <-screen
		if !ok {
			break
		}
		shown = append(shown, b...)
	}
	if s := string(shown); strings.Contains(s, "ahead") || strings.Contains(s, "typed") {
		t.Errorf("the terminal echoed the secret: %q", s)
	}
}

// waitFor polls cond (a state another goroutine or the kernel changes, with
// nothing to wait on) until it holds, or fails after 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within 10s: %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}
