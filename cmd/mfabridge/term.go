package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"golang.org/x/term"

	"github.com/mfabridge/mfabridge/device"
)

// terminal is the user's terminal, /dev/tty: prompts and notices go there
// so they are seen even when stdout and stderr are captured (the AWS CLI
// captures a credential_process's stderr). Without a terminal, notices go
// to stderr and prompts are impossible.
type terminal struct {
	mu       sync.Mutex
	tty      *os.File // nil without a controlling terminal
	fallback io.Writer
}

// openTerminal opens the terminal named by $MFABRIDGE_TTY (default
// /dev/tty; "none" for no terminal: never prompt). A regular file there
// receives the notices, which is how tests read them.
func openTerminal(getenv func(string) string, fallback io.Writer) *terminal {
	t := &terminal{fallback: fallback}
	path := getenv("MFABRIDGE_TTY")
	switch path {
	case "none":
		return t
	case "":
		path = "/dev/tty"
	}
	flag := os.O_RDWR
	if path != "/dev/tty" {
		flag |= os.O_APPEND | os.O_CREATE
	}
	if f, err := os.OpenFile(path, flag, 0o600); err == nil {
		t.tty = f
	}
	return t
}

func (t *terminal) close() {
	if t.tty != nil {
		t.tty.Close()
	}
}

// notice writes one line for the user.
func (t *terminal) notice(msg string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.tty != nil {
		fmt.Fprintf(t.tty, "%s\n", msg)
		return
	}
	fmt.Fprintf(t.fallback, "mfabridge: %s\n", msg)
}

// touch shows the touch prompt and returns a func that clears it.
func (t *terminal) touch(info device.Info) func() {
	t.mu.Lock()
	defer t.mu.Unlock()
	msg := "touch your YubiKey"
	if info.Serial != 0 {
		msg = fmt.Sprintf("touch your YubiKey (serial %d)", info.Serial)
	}
	if t.tty == nil {
		fmt.Fprintf(t.fallback, "mfabridge: %s\n", msg)
		return func() {}
	}
	fmt.Fprintf(t.tty, "%s…", msg)
	return func() {
		t.mu.Lock()
		defer t.mu.Unlock()
		fmt.Fprint(t.tty, "\r\033[K") // erase the prompt line
	}
}

var errNoTerminal = errors.New("no terminal to ask on")

// readSecret prompts on the terminal and reads a line without echo.
func (t *terminal) readSecret(ctx context.Context, prompt string) (string, error) {
	if t.tty == nil || !term.IsTerminal(int(t.tty.Fd())) {
		return "", errNoTerminal
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	fmt.Fprint(t.tty, prompt)
	type result struct {
		b   []byte
		err error
	}
	ch := make(chan result, 1)
	go func() {
		b, err := term.ReadPassword(int(t.tty.Fd()))
		ch <- result{b, err}
	}()
	select {
	case r := <-ch:
		fmt.Fprintln(t.tty)
		if r.err != nil {
			return "", fmt.Errorf("read from terminal: %w", r.err)
		}
		return string(r.b), nil
	case <-ctx.Done():
		fmt.Fprintln(t.tty)
		return "", ctx.Err()
	}
}

// isTerminal reports whether r is an interactive terminal.
func isTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// readLine reads the first line of r (a secret or password given on stdin).
func readLine(r io.Reader) (string, error) {
	line, err := bufio.NewReader(io.LimitReader(r, 64<<10)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	return strings.TrimRight(line, "\r\n"), nil
}
