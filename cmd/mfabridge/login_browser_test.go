//go:build linux

package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/mfabridge/mfabridge/simulator/stsemu"
)

// needChromium returns Debian's chromium, skipping without it (failing
// under CI: make deps installs it).
func needChromium(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("chromium missing in CI: make deps installs it")
		}
		t.Skip("chromium not installed; make deps installs it")
	}
	return p
}

// chromiumDOM loads u in a fresh headless chromium, which follows the
// redirects, and returns the final page's DOM.
func chromiumDOM(t *testing.T, bin, u string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	home := t.TempDir()
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
		"--user-data-dir="+filepath.Join(home, "profile"), "--dump-dom", u)
	cmd.Env = append(os.Environ(), "HOME="+home)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium: %v\n%s", err, errb.String())
	}
	return out.String()
}

// signinWorld is the STS emulator with a clock the test moves, a simulated
// YubiKey and a role profile.
type signinWorld struct {
	dir    string
	env    map[string]string
	offset atomic.Int64 // emulator clock − real clock, in ns
}

func newSigninWorld(t *testing.T) *signinWorld {
	t.Helper()
	w := &signinWorld{dir: t.TempDir()}
	cfg, err := stsemu.LoadConfig("../../simulator/stsemu/testdata/example.json")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := stsemu.New(cfg, stsemu.WithClock(func() time.Time { return time.Now().Add(time.Duration(w.offset.Load())) }))
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	key := filepath.Join(w.dir, "key.json")
	w.env = map[string]string{
		"HOME":                        w.dir,
		"AWS_CONFIG_FILE":             filepath.Join(w.dir, "config"),
		"AWS_SHARED_CREDENTIALS_FILE": filepath.Join(w.dir, "credentials"),
		"AWS_ENDPOINT_URL_STS":        hs.URL,
		"MFABRIDGE_SIGNIN_ENDPOINT":   hs.URL + "/federation",
		"MFABRIDGE_CACHE_DIR":         filepath.Join(w.dir, "cache"),
		"MFABRIDGE_DEVICE":            "sim:" + key,
		"MFABRIDGE_TTY":               "none",
	}
	for name, s := range map[string]string{
		"config": "[profile alice]\nregion = us-east-1\n\n[profile prod]\nrole_arn = arn:aws:iam::222222222222:role/PrivilegedActionsRole\n" +
			"source_profile = alice\nmfa_serial = arn:aws:iam::111111111111:mfa/alice\nrole_session_name = alice-console\n",
		"credentials": "[alice]\naws_access_key_id = AKIAALICE00000000001\naws_secret_access_key = alice-secret-access-key-0000000000000000\n",
	} {
		if err := os.WriteFile(filepath.Join(w.dir, name), []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	w.run(t, "", "sim", "init", key, "--serial", "13131313")
	w.run(t, mfaSecret+"\n", "accounts", "add", "--issuer", "AWS", "alice@111111111111")
	return w
}

// mfabridge runs the command in-process; it returns the exit status,
// stdout and stderr.
func (w *signinWorld) mfabridge(stdin string, args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(args, strings.NewReader(stdin), &out, &errb, func(k string) string { return w.env[k] })
	return code, out.String(), errb.String()
}

func (w *signinWorld) run(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	code, out, errs := w.mfabridge(stdin, args...)
	if code != 0 {
		t.Fatalf("mfabridge %s: exit %d: %s", strings.Join(args, " "), code, errs)
	}
	return out
}

const consoleARN = "arn:aws:sts::222222222222:assumed-role/PrivilegedActionsRole/alice-console"

// compiled on first use: the test binary runs mfabridge, whose init is
// measured (init_cost.txt)
var principalRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`<dd id="principal">([^<]*)</dd>`) })

// TestLoginChromium is issue 14's acceptance test: Debian's headless
// chromium opens the link of `mfabridge login --print` and lands on the
// emulated console as the assumed role; the same link again is refused as
// used; a link made from credentials that expire before it is used gives
// the sign-in error page, not a console. `mfabridge login` without --print
// hands chromium only the one-time loopback redirect.
func TestLoginChromium(t *testing.T) {
	bin := needChromium(t)
	w := newSigninWorld(t)

	link := strings.TrimSpace(w.run(t, "", "login", "--print", "--destination", "cloudtrail", "prod"))
	dom := chromiumDOM(t, bin, link)
	if m := principalRE().FindStringSubmatch(dom); m == nil || m[1] != consoleARN {
		t.Fatalf("first visit: no console as %s:\n%s", consoleARN, dom)
	}
	if !strings.Contains(dom, `<dd id="destination">https://us-east-1.console.aws.amazon.com/cloudtrail/home?region=us-east-1</dd>`) {
		t.Errorf("console page lacks the destination:\n%s", dom)
	}

	dom = chromiumDOM(t, bin, link)
	if !strings.Contains(dom, `data-code="token-used"`) || !strings.Contains(dom, "already been used") || principalRE().MatchString(dom) {
		t.Errorf("second visit of the same link: want the used-token page:\n%s", dom)
	}

	t.Run("browser launch", func(t *testing.T) {
		// The launcher records its argv and hands the address to the test
		// through a FIFO (a blocking read: no polling).
		fifo := filepath.Join(w.dir, "launch.fifo")
		if err := syscall.Mkfifo(fifo, 0o600); err != nil {
			t.Fatal(err)
		}
		script := filepath.Join(w.dir, "browser.sh")
		if err := os.WriteFile(script, []byte("#!/bin/sh\nprintf '%s\\n' \"$*\" > "+fifo+"\n"), 0o700); err != nil {
			t.Fatal(err)
		}
		w.env["MFABRIDGE_BROWSER"] = script
		defer delete(w.env, "MFABRIDGE_BROWSER")
		type result struct {
			code      int
			out, errs string
		}
		done := make(chan result, 1)
		go func() {
			code, out, errs := w.mfabridge("", "login", "--wait", "60s", "prod")
			done <- result{code, out, errs}
		}()
		argv := make(chan string, 1)
		go func() {
			b, _ := os.ReadFile(fifo) // returns when the launcher closes it
			argv <- strings.TrimSpace(string(b))
		}()
		var local string
		select {
		case local = <-argv:
		case r := <-done:
			t.Fatalf("login ended before starting the browser: exit %d: %s", r.code, r.errs)
		case <-time.After(60 * time.Second):
			t.Fatal("the launcher was never started")
		}
		if !regexp.MustCompile(`^http://127\.0\.0\.1:[0-9]+/[A-Za-z0-9_-]{43}$`).MatchString(local) {
			t.Fatalf("launcher argv %q: want only the one-time loopback address", local)
		}
		dom := chromiumDOM(t, bin, local)
		if m := principalRE().FindStringSubmatch(dom); m == nil || m[1] != consoleARN {
			t.Errorf("through the loopback redirect: no console as %s:\n%s", consoleARN, dom)
		}
		r := <-done
		if r.code != 0 || r.out != "" || !strings.Contains(r.errs, "console opened as arn:aws:iam::222222222222:role/PrivilegedActionsRole") ||
			strings.Contains(r.errs, "SigninToken") {
			t.Errorf("login: exit %d, stdout %q, stderr %q", r.code, r.out, r.errs)
		}
		// The redirect was one-time: its server is gone.
		if resp, err := http.Get(local); err == nil {
			resp.Body.Close()
			t.Errorf("the loopback redirect still answers (%s) after login returned", resp.Status)
		}
	})

	// Credentials that expire between making the link and opening it: the
	// emulator's clock moves to 10 min before the role session (1 h) ends,
	// the link is made, then the clock passes the session's end while the
	// link (15 min) is still valid.
	w.offset.Store(int64(50 * time.Minute))
	link = strings.TrimSpace(w.run(t, "", "login", "--print", "prod"))
	w.offset.Store(int64(61 * time.Minute))
	dom = chromiumDOM(t, bin, link)
	if !strings.Contains(dom, `data-code="session-expired"`) || !strings.Contains(dom, "Your session has expired") || principalRE().MatchString(dom) {
		t.Errorf("link from expired credentials: want the sign-in error page:\n%s", dom)
	}
	// mfabridge's cache (real clock) still holds those credentials; the
	// federation endpoint refuses them, and the error says so without them.
	code, out, errs := w.mfabridge("", "login", "--print", "prod")
	if code != 1 || out != "" || !strings.Contains(errs, "HTTP 400: Invalid credentials parameter") ||
		!strings.Contains(errs, "mfabridge: hint: AWS refused the role credentials") || strings.Contains(errs, "Session=") {
		t.Errorf("login with credentials the endpoint refuses: exit %d, stdout %q, stderr %q", code, out, errs)
	}
}
