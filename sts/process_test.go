package sts

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/mfabridge/mfabridge/sts/awsconfig"
)

func TestRunCredentialProcess(t *testing.T) {
	// The system shell runs the line: sh, or cmd.exe on Windows.
	print := `printf '{"Version":1,"AccessKeyId":"AKIAX","SecretAccessKey":"s","Expiration":"2026-11-22T07:31:11+00:00"}'`
	fail := "echo 'token expired, run sso login' >&2; exit 3"
	if runtime.GOOS == "windows" {
		print = `echo {"Version":1,"AccessKeyId":"AKIAX","SecretAccessKey":"s","Expiration":"2026-11-22T07:31:11+00:00"}`
		fail = "echo token expired, run sso login 1>&2 & exit /b 3"
	}
	out, err := runCredentialProcess(context.Background(), processRun{command: print})
	if err != nil {
		t.Fatal(err)
	}
	c, err := ParseProcessOutput(out)
	if err != nil || c.AccessKeyID != "AKIAX" || !c.Expiration.Equal(time.Date(2026, 11, 22, 7, 31, 11, 0, time.UTC)) {
		t.Fatalf("got %+v, %v", c, err)
	}
	_, err = runCredentialProcess(context.Background(), processRun{command: fail})
	if err == nil || !strings.Contains(err.Error(), "exit status 3: token expired, run sso login") {
		t.Fatalf("got %v", err)
	}
	for _, bad := range []string{`{"Version":2,"AccessKeyId":"A","SecretAccessKey":"s"}`, `{"Version":1,"AccessKeyId":"A"}`,
		`{"Version":1,"AccessKeyId":"A","SecretAccessKey":"s","Expiration":"2026-11-22 07:31:11"}`, `not json`} {
		if _, err := ParseProcessOutput([]byte(bad)); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}

// script picks the sh -c or the cmd.exe /C form of a test command.
func script(sh, cmd string) string {
	if runtime.GOOS == "windows" {
		return cmd
	}
	return sh
}

func TestProcessOutputFormat(t *testing.T) {
	c := Credentials{AccessKeyID: "ASIA1", SecretAccessKey: "s", SessionToken: "t",
		Expiration: time.Date(2026, 11, 22, 9, 31, 11, 0, time.FixedZone("CET", 3600))}
	b := c.ProcessOutput()
	want := `{"Version":1,"AccessKeyId":"ASIA1","SecretAccessKey":"s","SessionToken":"t","Expiration":"2026-11-22T08:31:11Z"}`
	if string(b) != want {
		t.Fatalf("got %s\nwant %s", b, want)
	}
}

// TestReentrantCall pins the second half of issue 13 case 11: a source
// profile's credential_process (a wrapper) that runs mfabridge again for
// the same MFA serial waited forever for the lock its caller holds. The
// caller now names the lock in MFABRIDGE_HELD_LOCKS, and the called
// mfabridge fails at once instead of waiting, unless the cache serves it.
func TestReentrantCall(t *testing.T) {
	const serial = "arn:aws:iam::123456789012:mfa/alice"
	h := newHarness(t)
	cfg := mustConfig(t, `
[profile proc]
credential_process = `+script(`printf '%s' "$MFABRIDGE_HELD_LOCKS" >&2; exit 1`, `echo %MFABRIDGE_HELD_LOCKS% 1>&2& exit /b 1`)+`
mfa_serial = `+serial+`
[profile keys]
aws_access_key_id = AKIAKEYS000000000001
aws_secret_access_key = s
mfa_serial = `+serial+`
`, "", nil)

	// The caller's side: the process gets our environment and the lock.
	pr, err := NewProvider(mustResolve(t, cfg, "proc"), h.tokens.Code, h.dir, WithClock(h.clock.Now), WithSTSClient(h.sts),
		WithEnviron([]string{"A=1", HeldLocksEnv + "=outer"}))
	if err != nil {
		t.Fatal(err)
	}
	_, err = pr.Credentials(context.Background())
	if want := "exit status 1: outer " + lockID(h.dir, serial); err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("err = %v, want the process to see %q", err, want)
	}

	// The called side: the lock is held (as by the caller); waiting for
	// it would never end, so the call fails at once.
	c, err := openCache(h.dir)
	if err != nil {
		t.Fatal(err)
	}
	unlock, err := c.lockSerial(context.Background(), serial, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { unlock() }()
	nested := func() (*Credentials, error) {
		pr, err := NewProvider(mustResolve(t, cfg, "keys"), h.tokens.Code, h.dir, WithClock(h.clock.Now), WithSTSClient(h.sts),
			WithEnviron([]string{HeldLocksEnv + "=outer " + lockID(h.dir, serial)}))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return pr.Credentials(ctx)
	}
	_, err = nested()
	if !errors.Is(err, awsconfig.ErrRecursion) || !strings.Contains(err.Error(), "holds the lock of MFA serial "+serial) {
		t.Fatalf("err = %v, want awsconfig.ErrRecursion naming the serial", err)
	}
	if n := h.counts(); n.gst != 0 || n.codes != 0 {
		t.Errorf("STS or the device was used: %+v", n)
	}

	// Another cache directory is another lock: not re-entrant.
	if lockID(t.TempDir(), serial) == lockID(h.dir, serial) || lockID(h.dir, serial) != lockID(h.dir+"/.", serial) {
		t.Error("lockID does not follow the cache directory")
	}

	// Served from the cache, the called mfabridge needs no lock.
	unlock()
	pk, err := NewProvider(mustResolve(t, cfg, "keys"), h.tokens.Code, h.dir, WithClock(h.clock.Now), WithSTSClient(h.sts))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pk.Credentials(context.Background()); err != nil {
		t.Fatal(err)
	}
	unlock, err = c.lockSerial(context.Background(), serial, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := nested(); err != nil {
		t.Fatalf("cached: %v", err)
	}
}
