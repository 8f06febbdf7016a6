// Package dbustest starts private D-Bus session buses for tests: a
// dbus-daemon of their own, with no service activation (a name has an
// owner only if the test started one), removed when the test ends.
package dbustest

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
)

// config is a session bus that lets anyone own and call anything,
// allows monitoring (dbus-monitor), and activates nothing.
const config = `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:dir=%s</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
`

// Need reports whether the named programs are installed; when one is
// missing the test is skipped, or fails when required (in CI).
func Need(t testing.TB, required bool, progs ...string) {
	t.Helper()
	for _, p := range progs {
		if _, err := exec.LookPath(p); err != nil {
			if required {
				t.Fatalf("%s is not installed (make deps installs it)", p)
			}
			t.Skipf("%s is not installed (make deps installs it)", p)
		}
	}
}

// Start starts a private session bus and returns its address. The bus is
// stopped when the test ends.
func Start(t testing.TB, required bool) string {
	t.Helper()
	Need(t, required, "dbus-daemon")
	dir, err := os.MkdirTemp("", "dbustest")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	cfg := filepath.Join(dir, "bus.conf")
	if err := os.WriteFile(cfg, fmt.Appendf(nil, config, dir), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("dbus-daemon", "--config-file="+cfg, "--nofork", "--nopidfile", "--print-address=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	addr := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(out).ReadString('\n')
		addr <- strings.TrimSpace(line)
	}()
	select {
	case a := <-addr:
		if a == "" {
			t.Fatal("dbus-daemon printed no address")
		}
		return a
	case <-time.After(10 * time.Second):
		t.Fatal("dbus-daemon printed no address within 10s")
	}
	return ""
}

// SessionEnv is the environment of a daemon of a private desktop session
// on the bus at addr: this process's, with a home of its own (removed
// when the test ends) for HOME, XDG_RUNTIME_DIR (mode 0700),
// XDG_DATA_HOME and XDG_CONFIG_HOME, and DBUS_SESSION_BUS_ADDRESS.
func SessionEnv(t testing.TB, addr string) []string {
	t.Helper()
	home, err := os.MkdirTemp("", "dbustest-home")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(home) })
	run := filepath.Join(home, "run")
	if err := os.Mkdir(run, 0o700); err != nil {
		t.Fatal(err)
	}
	return append(os.Environ(), "HOME="+home, "XDG_RUNTIME_DIR="+run, "XDG_DATA_HOME="+filepath.Join(home, "data"),
		"XDG_CONFIG_HOME="+filepath.Join(home, "config"), "DBUS_SESSION_BUS_ADDRESS="+addr)
}

// SecretService starts gnome-keyring's Secret Service on the bus at addr,
// with a login keyring of its own (in a private home, SessionEnv) created unlocked,
// and waits until it owns org.freedesktop.secrets. It is stopped when the
// test ends.
func SecretService(t testing.TB, required bool, addr string) {
	t.Helper()
	Need(t, required, "gnome-keyring-daemon")
	// --unlock reads the login keyring's password on stdin, creating the
	// keyring unlocked.
	cmd := exec.Command("gnome-keyring-daemon", "--foreground", "--unlock", "--components=secrets")
	cmd.Env = SessionEnv(t, addr)
	cmd.Stdin = strings.NewReader("dbustest-keyring")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	WaitOwner(t, addr, "org.freedesktop.secrets")
}

// WaitOwner waits (at most 20 s) until name has an owner on the bus at
// addr: the daemon that claims it is up.
func WaitOwner(t testing.TB, addr, name string) {
	t.Helper()
	conn, err := dbus.Connect(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ch := make(chan *dbus.Signal, 16)
	conn.Signal(ch)
	if err := conn.AddMatchSignal(dbus.WithMatchInterface("org.freedesktop.DBus"), dbus.WithMatchMember("NameOwnerChanged"), dbus.WithMatchArg(0, name)); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(20 * time.Second)
	for {
		var has bool
		if err := conn.BusObject().Call("org.freedesktop.DBus.NameHasOwner", 0, name).Store(&has); err != nil {
			t.Fatal(err)
		}
		if has {
			return
		}
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("nobody took %s on the bus within 20s", name)
		}
	}
}
