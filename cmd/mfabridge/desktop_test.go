//go:build linux

package main

import (
	"bufio"
	"context"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
	"github.com/godbus/dbus/v5"
	"github.com/rogpeppe/go-internal/testscript"
	"github.com/zalando/go-keyring"
	"golang.org/x/sys/unix"

	"github.com/mfabridge/mfabridge/internal/dbustest"
	"github.com/mfabridge/mfabridge/oath"
	"github.com/mfabridge/mfabridge/simulator"
)

// TestDesktopScripts runs the scripts in testdata/desktop/ against a real
// desktop session that the test starts and stops: a private D-Bus session
// bus, gnome-keyring's Secret Service on it (an unlocked login keyring),
// and a real notification daemon (GNOME's notification-daemon, else
// dunst) on a headless X server (Xvfb). Two more buses stand for broken
// desktops: $HANG_BUS, where the notification service never answers, and
// $EMPTY_BUS, where there is none.
func TestDesktopScripts(t *testing.T) {
	d := startDesktop(t)
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/desktop",
		RequireExplicitExec: true,
		Setup: func(e *testscript.Env) error {
			kept := e.Vars[:0]
			for _, kv := range e.Vars {
				if !strings.HasPrefix(kv, "MFABRIDGE_") && !strings.HasPrefix(kv, "AWS_") && !strings.HasPrefix(kv, "DBUS_") && !strings.HasPrefix(kv, "DISPLAY=") {
					kept = append(kept, kv)
				}
			}
			e.Vars = kept
			e.Setenv("HOME", e.WorkDir)
			e.Setenv("AWS_CONFIG_FILE", e.WorkDir+"/no-aws-config")
			e.Setenv("AWS_SHARED_CREDENTIALS_FILE", e.WorkDir+"/no-aws-credentials")
			e.Setenv("MFABRIDGE_TTY", "none") // a GUI caller: no terminal
			e.Setenv("DBUS_SESSION_BUS_ADDRESS", d.bus)
			e.Setenv("HANG_BUS", d.hangBus)
			e.Setenv("EMPTY_BUS", d.emptyBus)
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"busmonitor":  cmdBusMonitor,
			"touchnotice": cmdTouchNotice,
			"waitfile":    cmdWaitFile, // fakests_test.go
			"notified":    cmdNotified,
			"oathkey":     cmdOATHKey,
			// main_test.go, keys_test.go
			"stsemu":     cmdSTSEmu,
			"stslog":     cmdSTSLog,
			"secretscan": cmdSecretScan,
			"stskey":     cmdSTSKey,
			"iamkeys":    cmdIAMKeys,
		},
	})
}

// desktop is a running desktop session (see TestDesktopScripts).
type desktop struct {
	bus, hangBus, emptyBus string
}

// startDesktop starts the session; it is stopped when the test ends. The
// test process's own $DBUS_SESSION_BUS_ADDRESS points at it (oathkey
// reads the keyring).
func startDesktop(t *testing.T) desktop {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a desktop session")
	}
	ci := os.Getenv("CI") != ""
	dbustest.Need(t, ci, "dbus-daemon", "dbus-monitor", "gnome-keyring-daemon", "Xvfb")
	daemon := "/usr/lib/notification-daemon/notification-daemon"
	if !fileExists(daemon) {
		dbustest.Need(t, ci, "dunst")
		daemon = "dunst"
	}

	bus := dbustest.Start(t, ci)
	hangBus := dbustest.Start(t, ci)
	emptyBus := dbustest.Start(t, ci)
	hang := make(chan struct{})
	t.Cleanup(func() { close(hang) })
	ownHungNotifications(t, hangBus, hang)

	env := dbustest.SessionEnv(t, bus)

	dbustest.SecretService(t, ci, bus)

	// A headless X server (it picks a free display and writes its number
	// on fd 3 when ready), then the notification daemon on it.
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	x := exec.Command("Xvfb", "-displayfd", "3", "-nolisten", "tcp")
	x.Env, x.ExtraFiles = env, []*os.File{w}
	startDaemon(t, x)
	w.Close()
	display := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(r).ReadString('\n')
		display <- strings.TrimSpace(line)
	}()
	var disp string
	select {
	case disp = <-display:
	case <-time.After(20 * time.Second):
		t.Fatal("Xvfb gave no display within 20s")
	}
	if disp == "" {
		t.Fatal("Xvfb gave no display")
	}
	nd := exec.Command(daemon)
	nd.Env = append(env, "DISPLAY=:"+disp)
	startDaemon(t, nd)
	dbustest.WaitOwner(t, bus, "org.freedesktop.Notifications")

	// The test process reads the keyring too (oathkey).
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", bus)
	return desktop{bus: bus, hangBus: hangBus, emptyBus: emptyBus}
}

// TestRememberedPasswordRefusedOnTerminal: at a terminal (a pseudo-
// terminal here), a remembered key that the applet refuses is reported
// once and the password is asked for on the terminal, and the code comes.
func TestRememberedPasswordRefusedOnTerminal(t *testing.T) {
	d := startDesktop(t)
	dir := t.TempDir()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	key := filepath.Join(dir, "key.json")
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "DBUS_SESSION_BUS_ADDRESS=" + d.bus}
	// mfabridge runs the command (this test binary under the name
	// testscript.Main gives it) without a terminal.
	mfabridge := func(stdin string, extraEnv []string, args ...string) string {
		t.Helper()
		cmd := exec.Command(self, args...)
		cmd.Args[0] = "mfabridge"
		cmd.Env = append(append(append([]string{}, env...), "MFABRIDGE_TTY=none"), extraEnv...)
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("mfabridge %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	mfabridge("", nil, "sim", "init", key, "--serial", "23232323")
	mfabridge("JBSWY3DPEHPK3PXP\n", nil, "accounts", "add", "--device", "sim:"+key, "alice")
	mfabridge("pw1\n", nil, "accounts", "password", "set", "--device", "sim:"+key)
	mfabridge("pw1\n", nil, "accounts", "password", "remember", "--device", "sim:"+key)
	// Changed by a client that knows nothing of the remembered key.
	mfabridge("pw2\n", []string{"MFABRIDGE_OATH_KEYSTORE=none", "MFABRIDGE_OATH_PASSWORD=pw1"}, "accounts", "password", "set", "--device", "sim:"+key)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, self, "accounts", "code", "--device", "sim:"+key, "alice", "--at", "1700000000")
	cmd.Args[0] = "mfabridge"
	cmd.Env = env // MFABRIDGE_TTY unset: /dev/tty, the pseudo-terminal
	tty, err := pty.Start(cmd)
	if err != nil {
		t.Fatal(err)
	}
	defer tty.Close()
	var (
		mu     sync.Mutex
		screen strings.Builder
	)
	prompted := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 4096)
		once := sync.Once{}
		for {
			n, err := tty.Read(buf)
			mu.Lock()
			screen.Write(buf[:n])
			s := screen.String()
			mu.Unlock()
			if strings.Contains(s, "OATH password for simulated YubiKey 23232323") {
				once.Do(func() { close(prompted) })
			}
			if err != nil {
				return // EIO when the child exits
			}
		}
	}()
	select {
	case <-prompted:
	case <-ctx.Done():
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("no password prompt on the terminal:\n%q", screen.String())
	}
	// Echo is turned off before the prompt is written: it is off now.
	tio, err := unix.IoctlGetTermios(int(tty.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	if tio.Lflag&unix.ECHO != 0 {
		t.Fatal("echo is still on when the password prompt shows")
	}
	if _, err := tty.Write([]byte("pw2\n")); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		<-done
		t.Fatalf("code: %v\n%s", err, screen.String())
	}
	<-done
	got := screen.String()
	refused := "the OATH password remembered for simulated YubiKey 23232323 (" + key + ") was refused"
	if strings.Count(got, refused) != 1 {
		t.Errorf("want the refusal said once on the terminal:\n%q", got)
	}
	if !strings.Contains(got, "324550") {
		t.Errorf("no code after the password was asked:\n%q", got)
	}
	if strings.Contains(got, "pw2") {
		t.Errorf("the password was echoed:\n%q", got)
	}
}

// startDaemon starts cmd and stops it when the test ends.
func startDaemon(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
}

// hungNotifications owns org.freedesktop.Notifications and never answers.
type hungNotifications struct{ hang chan struct{} }

func (h hungNotifications) Notify(string, uint32, string, string, string, []string, map[string]dbus.Variant, int32) (uint32, *dbus.Error) {
	<-h.hang
	return 0, dbus.MakeFailedError(errors.New("test over"))
}

func ownHungNotifications(t *testing.T, addr string, hang chan struct{}) {
	t.Helper()
	conn, err := dbus.Connect(addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if err := conn.Export(hungNotifications{hang}, "/org/freedesktop/Notifications", "org.freedesktop.Notifications"); err != nil {
		t.Fatal(err)
	}
	if r, err := conn.RequestName("org.freedesktop.Notifications", dbus.NameFlagDoNotQueue); err != nil || r != dbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("own the hung notification service: %v %v", r, err)
	}
}

// busmonitor starts dbus-monitor on $DBUS_SESSION_BUS_ADDRESS, writing
// to $WORK/bus.log, and waits until it is monitoring.
func cmdBusMonitor(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 0 {
		ts.Fatalf("usage: busmonitor")
	}
	logPath := ts.MkAbs("bus.log")
	f, err := os.Create(logPath)
	ts.Check(err)
	cmd := exec.Command("dbus-monitor", "--address", ts.Getenv("DBUS_SESSION_BUS_ADDRESS"), "--monitor")
	cmd.Stdout, cmd.Stderr = f, f
	ts.Check(cmd.Start())
	ts.Defer(func() {
		cmd.Process.Kill()
		cmd.Wait()
		f.Close()
	})
	// Monitoring starts with the monitor's own NameLost signal.
	waitLog(ts, logPath, 10*time.Second, func(s string) bool { return strings.Contains(s, "member=NameLost") })
}

// waitLog polls the file until ok holds, or fails at the deadline. The
// monitor writes asynchronously; there is nothing else to wait on.
func waitLog(ts *testscript.TestScript, path string, limit time.Duration, ok func(string) bool) string {
	deadline := time.Now().Add(limit)
	for {
		b, err := os.ReadFile(path)
		ts.Check(err)
		if ok(string(b)) {
			return string(b)
		}
		if time.Now().After(deadline) {
			ts.Fatalf("%s did not show what was expected within %s:\n%s", path, limit, b)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// busMessage is one message as dbus-monitor prints it.
type busMessage struct {
	kind, sender, dest, member string
	serial, replySerial        int
	args                       []string
}

// compiled on first use: the test binary runs mfabridge, whose init is
// measured (init_cost.txt)
var monitorHeader = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^(method call|method return|signal|error) time=\S+ sender=(\S+) -> destination=(\(null destination\)|\S+) serial=(\d+)(?: reply_serial=(\d+))?(?:.*member=(\w+))?`)
})

func parseMonitor(s string) []busMessage {
	var out []busMessage
	for _, line := range strings.Split(s, "\n") {
		if m := monitorHeader().FindStringSubmatch(line); m != nil {
			serial, _ := strconv.Atoi(m[4])
			reply, _ := strconv.Atoi(m[5])
			out = append(out, busMessage{kind: m[1], sender: m[2], dest: m[3], serial: serial, replySerial: reply, member: m[6]})
		} else if len(out) > 0 && strings.HasPrefix(line, "   ") {
			out[len(out)-1].args = append(out[len(out)-1].args, strings.TrimSpace(line))
		}
	}
	return out
}

// touchnotice SERIAL checks bus.log: a Notify call naming SERIAL was
// answered with an id, and the same client then called CloseNotification
// with that id (after Notify), and the daemon confirmed it closed.
func cmdTouchNotice(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: touchnotice SERIAL")
	}
	check := func(s string) (bool, string) {
		msgs := parseMonitor(s)
		for i, m := range msgs {
			if m.kind != "method call" || m.member != "Notify" || !strings.Contains(strings.Join(m.args, "\n"), args[0]) {
				continue
			}
			id := ""
			for _, r := range msgs[i+1:] {
				if r.kind == "method return" && r.dest == m.sender && r.replySerial == m.serial && len(r.args) == 1 {
					id = r.args[0]
				}
			}
			if id == "" {
				return false, "Notify was not answered with an id"
			}
			closed, confirmed := false, false
			for _, c := range msgs[i+1:] {
				if c.kind == "method call" && c.member == "CloseNotification" && c.sender == m.sender && len(c.args) == 1 && c.args[0] == id {
					closed = true
				}
				if closed && c.kind == "signal" && c.member == "NotificationClosed" && len(c.args) >= 1 && c.args[0] == id {
					confirmed = true
				}
			}
			switch {
			case !closed:
				return false, "notification " + id + " was not closed"
			case !confirmed:
				return false, "the daemon did not confirm closing " + id
			}
			return true, "notification " + id + " shown and closed"
		}
		return false, "no Notify naming " + args[0]
	}
	if neg {
		b, err := os.ReadFile(ts.MkAbs("bus.log"))
		ts.Check(err)
		if ok, why := check(string(b)); ok {
			ts.Fatalf("unexpected touch notice: %s", why)
		}
		return
	}
	var why string
	waitLog(ts, ts.MkAbs("bus.log"), 10*time.Second, func(s string) bool {
		var ok bool
		ok, why = check(s)
		return ok
	})
	ts.Logf("%s", why)
}

// oathkey STATE PASSWORD checks the OS keystore: the item for the device
// id of the simulated key in STATE holds the key derived from PASSWORD
// (in hex), not the password. "! oathkey STATE" checks there is none.
func cmdOATHKey(ts *testscript.TestScript, neg bool, args []string) {
	if (neg && len(args) != 1) || (!neg && len(args) != 2) {
		ts.Fatalf("usage: oathkey STATE PASSWORD | ! oathkey STATE")
	}
	card, err := simulator.Open(ts.MkAbs(args[0]))
	ts.Check(err)
	card.PowerOn()
	sel, err := oath.NewClient(card).Select(context.Background())
	card.PowerOff()
	ts.Check(err)
	got, err := keyring.Get(oathKeyService, oathKeyUser(sel.DeviceID()))
	if neg {
		if !errors.Is(err, keyring.ErrNotFound) {
			ts.Fatalf("keystore item for %s: %v, want none", sel.DeviceID(), err)
		}
		return
	}
	ts.Check(err)
	if want := hex.EncodeToString(oath.DeriveKey(args[1], sel.Salt)); got != want {
		ts.Fatalf("keystore item for %s holds %q, want the derived key %s", sel.DeviceID(), got, want)
	}
	if strings.Contains(got, args[1]) || strings.Contains(got, hex.EncodeToString([]byte(args[1]))) {
		ts.Fatalf("keystore item holds the password")
	}
}

// notified TEXT waits until bus.log shows a Notify call holding TEXT.
func cmdNotified(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: notified TEXT")
	}
	waitLog(ts, ts.MkAbs("bus.log"), 10*time.Second, func(s string) bool {
		for _, m := range parseMonitor(s) {
			if m.kind == "method call" && m.member == "Notify" && strings.Contains(strings.Join(m.args, "\n"), args[0]) {
				return true
			}
		}
		return false
	})
}
