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

// terminal is the user's terminal (/dev/tty; the console's CONIN$ and
// CONOUT$ on Windows): prompts and notices go there so they are seen even
// when stdout and stderr are captured (the AWS CLI captures a
// credential_process's stderr). Without a terminal, notices go to stderr and
// prompts are impossible.
type terminal struct {
	mu       sync.Mutex
	path     string // "" for no terminal; consoleName for the system's
	opened   bool
	in, out  *os.File // nil without a terminal; see file. The same file but on Windows
	erase    bool     // out understands "\r\033[K" (Windows: VT processing is on)
	fallback io.Writer
}

// consoleName stands for the system's terminal in terminal.path.
const consoleName = "console"

// openTerminal names the terminal from $MFABRIDGE_TTY (default: the
// system's; "none" for no terminal: never prompt). A regular file there
// receives the notices, which is how tests read them. The file is opened on
// first use, so a run that says nothing (a cached credential-process) never
// opens it.
func openTerminal(getenv func(string) string, fallback io.Writer) *terminal {
	t := &terminal{fallback: fallback}
	switch path := getenv("MFABRIDGE_TTY"); path {
	case "none":
	case "":
		t.path = consoleName
	default:
		t.path = path
	}
	return t
}

// file opens the terminal on first use and returns where to write; nil when
// there is none. Callers hold t.mu.
func (t *terminal) file() *os.File {
	if !t.opened {
		t.opened = true
		switch t.path {
		case "":
		case consoleName:
			if in, out, erase, err := openConsole(); err == nil {
				t.in, t.out, t.erase = in, out, erase
			}
		default:
			if f, err := os.OpenFile(t.path, os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o600); err == nil {
				t.in, t.out, t.erase = f, f, true
			}
		}
	}
	return t.out
}

func (t *terminal) close() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.in != nil && t.in != t.out {
		t.in.Close()
	}
	if t.out != nil {
		t.out.Close()
	}
}

// notice writes one line for the user.
func (t *terminal) notice(msg string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if out := t.file(); out != nil {
		fmt.Fprintf(out, "%s\n", msg)
		return
	}
	fmt.Fprintf(t.fallback, "mfabridge: %s\n", msg)
}

// touch shows the touch prompt and returns a func that clears it. A
// terminal that cannot erase a line (an old Windows console) gets the prompt
// as a line of its own, left in place.
func (t *terminal) touch(info device.Info) func() {
	t.mu.Lock()
	defer t.mu.Unlock()
	msg := "touch your YubiKey"
	if info.Serial != 0 {
		msg = fmt.Sprintf("touch your YubiKey (serial %d)", info.Serial)
	}
	out := t.file()
	if out == nil {
		fmt.Fprintf(t.fallback, "mfabridge: %s\n", msg)
		return func() {}
	}
	if !t.erase {
		fmt.Fprintf(out, "%s…\n", msg)
		return func() {}
	}
	fmt.Fprintf(out, "%s…", msg)
	return func() {
		t.mu.Lock()
		defer t.mu.Unlock()
		fmt.Fprint(out, "\r\033[K") // erase the prompt line
	}
}

var errNoTerminal = errors.New("no terminal to ask on")

// readSecret prompts on the terminal and reads a line without echo. Echo
// is turned off before the prompt is shown, so nothing typed once the
// prompt is visible (type-ahead included) is ever echoed; the terminal's
// modes are put back when the line is read or ctx ends.
func (t *terminal) readSecret(ctx context.Context, prompt string) (string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.file() == nil || !term.IsTerminal(int(t.in.Fd())) {
		return "", errNoTerminal
	}
	restore, err := echoOff(t.in)
	if err != nil {
		return "", fmt.Errorf("turn off echo on the terminal: %w", err)
	}
	fmt.Fprint(t.out, prompt)
	type result struct {
		line string
		err  error
	}
	ch := make(chan result, 1)
	go func() {
		line, err := readTypedLine(t.in)
		ch <- result{line, err}
	}()
	var r result
	select {
	case r = <-ch:
	case <-ctx.Done():
		r.err = ctx.Err()
	}
	rerr := restore()
	fmt.Fprintln(t.out) // the Enter was not echoed
	switch {
	case r.err != nil && r.err == ctx.Err():
		return "", r.err
	case r.err != nil:
		return "", fmt.Errorf("read from terminal: %w", r.err)
	case rerr != nil:
		return "", fmt.Errorf("restore the terminal's echo: %w", rerr)
	}
	return r.line, nil
}

// maxSecretLine bounds a line read from the terminal.
const maxSecretLine = 4096

// readTypedLine reads one line from a terminal in line mode, a byte at a
// time so that nothing after the line is consumed. '\r' is dropped (a
// Windows console ends a line with "\r\n"); EOF ends a line that has text.
func readTypedLine(f *os.File) (string, error) {
	var line []byte
	var b [1]byte
	for {
		n, err := f.Read(b[:])
		if n == 1 {
			switch b[0] {
			case '\n':
				return string(line), nil
			case '\r':
			default:
				if len(line) == maxSecretLine {
					return "", fmt.Errorf("line longer than %d bytes", maxSecretLine)
				}
				line = append(line, b[0])
			}
			continue
		}
		if errors.Is(err, io.EOF) && len(line) > 0 {
			return string(line), nil
		}
		if err != nil {
			return "", err
		}
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
