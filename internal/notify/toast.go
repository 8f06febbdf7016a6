package notify

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"time"

	"github.com/mfabridge/mfabridge/internal/capbuf"
)

// Windows: a toast through Windows PowerShell 5.1 (present on every
// Windows 10 and 11) and its WinRT projection. No cgo, no COM from Go.
//
//   - The script travels on standard input, never in argv; argv holds only
//     fixed flags (`-Command -`). The texts are not secret (a serial and
//     fixed words), but stdin also keeps them out of EDR rules that flag
//     encoded command lines.
//   - A toast needs an application identity (AppUserModelID) that the
//     shell knows, or Windows drops it silently. PowerShell's own, which
//     its Start-menu shortcut registers, is used: the toast shows as from
//     "Windows PowerShell", with our app name in its attribution text.
//   - The script is one line, so `-Command -` reads and runs it before
//     reading anything else; its last statement reads the next line of
//     standard input: "hide" withdraws the toast (the key answered), end
//     of input leaves it to expire (the notice was meant to last, or we
//     died). Then PowerShell reads end of input and exits.
//   - It prints "shown" once Show returned. show waits for that line
//     within its time limit; a PowerShell that is missing, exits, prints
//     anything else or hangs (as under Wine) fails show, is killed, and
//     the caller falls back to the terminal.
//   - Start-up costs about half a second to three seconds (show waits up
//     to toastStartTimeout); notices are rare (only when a touch or a
//     password is needed and there is no terminal).

// powerShellAUMID is the AppUserModelID of Windows PowerShell's Start-menu
// shortcut: FOLDERID_System's GUID and the program's path under it.
const powerShellAUMID = `{1AC14E77-02E7-4E5D-B744-2EB1AE5198B7}\WindowsPowerShell\v1.0\powershell.exe`

// toastArgs are PowerShell's flags: no profile (fast, and nothing of the
// user's runs), no prompts, the script from standard input. No
// -ExecutionPolicy is needed: it governs script files, not -Command.
var toastArgs = []string{"-NoLogo", "-NoProfile", "-NonInteractive", "-Command", "-"}

// toast shows notices with PowerShell (see above).
type toast struct {
	path   string // powershell.exe
	app    string
	expire time.Duration
	// procAttr prepares the command (Windows: no console window).
	procAttr func(*exec.Cmd)
}

// toastStartTimeout is show's time limit for a toast (the Notifier's
// showTimeout): a cold Windows
// PowerShell takes one to three seconds to start (more while an
// antivirus scans it), past which the caller gets its terminal fallback.
const toastStartTimeout = 5 * time.Second

type toastNotice struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stdout io.Closer
	done   chan struct{} // closed when the process has exited
}

// psQuote is s as a PowerShell single-quoted string. PowerShell takes the
// typographic single quotes U+2018..U+201B as quotes too; each quote is
// doubled, which PowerShell reads as one quote character.
func psQuote(s string) string {
	var b strings.Builder
	b.WriteByte('\'')
	for _, r := range s {
		switch r {
		case '\'', '\u2018', '\u2019', '\u201A', '\u201B':
			b.WriteRune(r)
		}
		b.WriteRune(r)
	}
	b.WriteByte('\'')
	return b.String()
}

// xmlText escapes s for XML character data and makes it ASCII: every rune
// outside printable ASCII becomes a character reference, a line break a
// space (the script is one line).
func xmlText(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '&':
			b.WriteString("&amp;")
		case r == '<':
			b.WriteString("&lt;")
		case r == '>':
			b.WriteString("&gt;")
		case r == '\'':
			b.WriteString("&apos;")
		case r == '"':
			b.WriteString("&quot;")
		case r == '\n' || r == '\r' || r == '\t':
			b.WriteByte(' ')
		case r < 0x20 || r == 0x7f || r == 0xFFFD || (r >= 0xD800 && r <= 0xDFFF):
			// not allowed in XML 1.0 (or an invalid byte): dropped
		case r > 0x7e:
			fmt.Fprintf(&b, "&#x%X;", r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// toastScript is the one-line script for a notice.
func toastScript(app, title, body string, expire time.Duration) string {
	xml := "<toast><visual><binding template='ToastGeneric'><text>" + xmlText(title) + "</text><text>" + xmlText(body) +
		"</text><text placement='attribution'>" + xmlText(app) + "</text></binding></visual></toast>"
	stmts := []string{
		"$ErrorActionPreference = 'Stop'",
		"$null = [Windows.UI.Notifications.ToastNotificationManager, Windows.UI.Notifications, ContentType = WindowsRuntime]",
		"$null = [Windows.Data.Xml.Dom.XmlDocument, Windows.Data.Xml.Dom.XmlDocument, ContentType = WindowsRuntime]",
		"$x = New-Object Windows.Data.Xml.Dom.XmlDocument",
		"$x.LoadXml(" + psQuote(xml) + ")",
		"$t = New-Object Windows.UI.Notifications.ToastNotification $x",
		fmt.Sprintf("$t.ExpirationTime = [DateTimeOffset]::Now.AddSeconds(%d)", max(1, int(expire/time.Second))),
		"$n = [Windows.UI.Notifications.ToastNotificationManager]::CreateToastNotifier(" + psQuote(powerShellAUMID) + ")",
		"$n.Show($t)",
		"[Console]::Out.WriteLine('shown')",
		"[Console]::Out.Flush()",
		"if ([Console]::In.ReadLine() -eq 'hide') { $n.Hide($t) }",
	}
	return strings.Join(stmts, "; ") + "\r\n"
}

func (w *toast) show(ctx context.Context, title, body string) (handle, error) {
	if w.path == "" {
		return nil, fmt.Errorf("%w: no Windows PowerShell", ErrUnavailable)
	}
	cmd := exec.Command(w.path, toastArgs...)
	if w.procAttr != nil {
		w.procAttr(cmd)
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("powershell: %w", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("powershell: %w", err)
	}
	stderr := &capbuf.Buffer{Max: 4096}
	cmd.Stderr = stderr
	// A child of PowerShell that kept stderr open must not hold Wait.
	cmd.WaitDelay = time.Second
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%w: start powershell: %w", ErrUnavailable, err)
	}
	n := &toastNotice{cmd: cmd, stdin: stdin, stdout: stdout, done: make(chan struct{})}
	shown := make(chan error, 1)
	read := make(chan struct{})
	go func() {
		defer close(read)
		// Written from here: a PowerShell that never reads must not
		// block show (the script fits a pipe buffer, but need not).
		go io.WriteString(stdin, toastScript(w.app, title, body, w.expire))
		line, err := bufio.NewReader(io.LimitReader(stdout, 4096)).ReadString('\n')
		switch {
		case strings.TrimSpace(line) == "shown":
			shown <- nil
		case err != nil:
			shown <- errors.New("exited without showing the toast")
		default:
			shown <- fmt.Errorf("unexpected output %q", strings.TrimSpace(line))
		}
	}()
	go func() {
		<-read // Wait closes stdout: only once the line is read
		cmd.Wait()
		close(n.done)
	}()
	select {
	case err := <-shown:
		if err == nil {
			return n, nil
		}
		n.kill()
		if msg := strings.TrimSpace(stderr.String()); msg != "" {
			err = fmt.Errorf("%w: %s", err, msg)
		}
		return nil, fmt.Errorf("powershell: %w", err)
	case <-ctx.Done():
		n.kill()
		return nil, fmt.Errorf("powershell: toast not shown in time: %w", context.DeadlineExceeded)
	}
}

// kill stops the process and waits for it. Closing our ends of its pipes
// ends the reader even if a child of it holds theirs open.
func (n *toastNotice) kill() {
	n.cmd.Process.Kill()
	n.stdin.Close()
	n.stdout.Close()
	<-n.done
}

// close withdraws the toast: "hide", then end of input; PowerShell exits.
// One that does not within ctx is killed (the toast then expires).
func (n *toastNotice) close(ctx context.Context) error {
	_, werr := io.WriteString(n.stdin, "hide\r\n")
	n.stdin.Close()
	select {
	case <-n.done:
	case <-ctx.Done():
		n.kill()
		return fmt.Errorf("powershell: toast not withdrawn in time: %w", context.DeadlineExceeded)
	}
	if werr != nil {
		return fmt.Errorf("powershell: withdraw the toast: %w", werr)
	}
	if !n.cmd.ProcessState.Success() {
		return fmt.Errorf("powershell: withdraw the toast: %s", n.cmd.ProcessState)
	}
	return nil
}
