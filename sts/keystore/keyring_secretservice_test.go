//go:build linux

package keystore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The child side of TestKeyringSecretService runs inside the private
// D-Bus session, with gnome-keyring-daemon answering org.freedesktop.secrets.
const secretServiceChild = "MFABRIDGE_TEST_SECRET_SERVICE_CHILD"

// keyringPassword unlocks the test's throwaway login keyring.
const keyringPassword = "test-login-keyring-password"

func skipOrFail(t testing.TB, reason string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("real-tool test cannot run in CI: %s", reason)
	}
	t.Skipf("skipping real-tool test: %s", reason)
}

// TestKeyringSecretService runs the Keyring store, through go-keyring, against
// a real Secret Service: Debian's gnome-keyring-daemon in a private D-Bus
// session (dbus-run-session) with a fresh HOME, its login keyring created
// and unlocked non-interactively with `gnome-keyring-daemon --unlock` (the
// password on standard input). The test re-runs itself inside that session;
// when the session ends, the bus goes and the daemon with it, which the
// test checks.
func TestKeyringSecretService(t *testing.T) {
	if os.Getenv(secretServiceChild) == "1" {
		secretServiceChecks(t)
		return
	}
	for _, tool := range []string{"dbus-run-session", "gnome-keyring-daemon"} {
		if _, err := exec.LookPath(tool); err != nil {
			skipOrFail(t, tool+" not installed (apt-get install dbus gnome-keyring)")
		}
	}
	home := t.TempDir()
	run := filepath.Join(home, "run")
	if err := os.Mkdir(run, 0o700); err != nil {
		t.Fatal(err)
	}
	script := `gnome-keyring-daemon --unlock --components=secrets >/dev/null || exit 97
exec "$0" -test.run '^TestKeyringSecretService$' -test.v -test.count=1`
	cctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(cctx, "dbus-run-session", "--", "sh", "-c", script, os.Args[0])
	cmd.Stdin = strings.NewReader(keyringPassword)
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + home,
		"XDG_RUNTIME_DIR=" + run,
		"XDG_DATA_HOME=" + filepath.Join(home, ".local", "share"),
		secretServiceChild + "=1",
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("secret service session: %v\n%s", err, out)
	}
	t.Logf("secret service session output:\n%s", out)
	if !bytes.Contains(out, []byte("--- PASS: TestKeyringSecretService")) || bytes.Contains(out, []byte("--- SKIP")) {
		t.Fatalf("child did not pass:\n%s", out)
	}
	// The keyring file exists and does not hold the secret in clear.
	kr := filepath.Join(home, ".local", "share", "keyrings", "login.keyring")
	if _, err := os.Stat(kr); err != nil {
		t.Fatalf("login keyring not written: %v", err)
	}
	// Stop the daemon: gnome-keyring-daemon --unlock forks a daemon that
	// is no child of ours and leaves when it notices the bus is gone; the
	// test does not wait for that, it ends the processes it started (found
	// by their unique HOME) and waits for their exit through a pidfd.
	for _, pid := range processesWithEnv("HOME=" + home) {
		if err := stopAndWait(pid, 10*time.Second); err != nil {
			t.Errorf("stop process %d of the test session: %v", pid, err)
		}
	}
	if pids := processesWithEnv("HOME=" + home); len(pids) > 0 {
		t.Errorf("processes still running with the test's HOME: %v", pids)
	}
	// Scanned once the daemon is gone: it removes its socket folder as it
	// leaves, which a walk running meanwhile tripped over.
	assertNoSecret(t, home, aliceKey.SecretAccessKey)
}

// stopAndWait sends SIGTERM to pid and waits for it to exit (pidfd_open
// becomes readable at exit), then SIGKILL after timeout.
func stopAndWait(pid int, timeout time.Duration) error {
	fd, err := unix.PidfdOpen(pid, 0)
	if errors.Is(err, unix.ESRCH) {
		return nil // already gone
	}
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if err := unix.PidfdSendSignal(fd, unix.SIGTERM, nil, 0); err != nil && !errors.Is(err, unix.ESRCH) {
		return err
	}
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	n, err := unix.Poll(fds, int(timeout.Milliseconds()))
	if err != nil {
		return err
	}
	if n == 0 {
		_ = unix.PidfdSendSignal(fd, unix.SIGKILL, nil, 0)
		return fmt.Errorf("did not exit within %v of SIGTERM; killed", timeout)
	}
	return nil
}

func secretServiceChecks(t *testing.T) {
	s := NewKeyring(nil, WithClock(clock))
	if _, err := s.Get(ctx, "alice"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("get before put: %v", err)
	}
	if err := s.Delete(ctx, "alice"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("delete before put: %v", err)
	}
	// keys import from a credentials file into the Secret Service.
	cred := filepath.Join(t.TempDir(), "credentials")
	data := "[alice]\naws_access_key_id = " + aliceKey.AccessKeyID + "\naws_secret_access_key = " + aliceKey.SecretAccessKey + "\nregion = eu-west-1\n"
	if err := os.WriteFile(cred, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Move(ctx, NewCredentialsFile(cred), s, "alice"); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(cred); string(got) != "[alice]\nregion = eu-west-1\n" {
		t.Fatalf("credentials after import: %q", got)
	}
	if err := s.Put(ctx, "bob", bobKey); err != nil {
		t.Fatal(err)
	}
	// A new store value reads what the daemon holds (nothing cached).
	again := NewKeyring(nil)
	k, err := again.Get(ctx, "alice")
	if err != nil || k.SecretAccessKey != aliceKey.SecretAccessKey || !k.Created.Equal(fixedNow) {
		t.Fatalf("get = %v, %v", k, err)
	}
	list, err := again.List(ctx)
	if err != nil || len(list) != 2 || list[0].Profile != "alice" || list[1].AccessKeyID != bobKey.AccessKeyID {
		t.Fatalf("list = %+v, %v", list, err)
	}
	rot := Key{AccessKeyID: "AKIAALICE00000000002", SecretAccessKey: "rotated-secret"}
	if err := s.Put(ctx, "alice", rot); err != nil {
		t.Fatal(err)
	}
	if k, err := again.Get(ctx, "alice"); err != nil || k.AccessKeyID != rot.AccessKeyID || k.SecretAccessKey != rot.SecretAccessKey {
		t.Fatalf("after replace: %v, %v", k, err)
	}
	if err := s.Delete(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	if _, err := again.Get(ctx, "alice"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after delete: %v", err)
	}
	if list, _ := again.List(ctx); len(list) != 1 || list[0].Profile != "bob" {
		t.Fatalf("list after delete = %+v", list)
	}
	// keys rotate against the STS emulator, the key living in the Secret
	// Service throughout.
	e := newRotEnv(t, NewKeyring(nil))
	res, err := e.rotator(nil).Rotate(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	e.checkEnd(t, res)
	if k, err := NewKeyring(nil).Get(ctx, "alice"); err != nil || k.AccessKeyID != res.NewKeyID {
		t.Fatalf("Secret Service holds %v after rotation (%v), want %s", k, err, res.NewKeyID)
	}
}

// processesWithEnv lists pids whose environment contains kv.
func processesWithEnv(kv string) []int {
	var pids []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		var pid int
		if _, err := fmt.Sscan(e.Name(), &pid); err != nil {
			continue
		}
		env, err := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		if err != nil {
			continue
		}
		for _, v := range bytes.Split(env, []byte{0}) {
			if string(v) == kv {
				pids = append(pids, pid)
			}
		}
	}
	return pids
}
