package sts

import (
	"context"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestRunCredentialProcess(t *testing.T) {
	// The system shell runs the line: sh, or cmd.exe on Windows.
	print := `printf '{"Version":1,"AccessKeyId":"AKIAX","SecretAccessKey":"s","Expiration":"2026-11-22T07:31:11+00:00"}'`
	fail := "echo 'token expired, run sso login' >&2; exit 3"
	if runtime.GOOS == "windows" {
		print = `echo {"Version":1,"AccessKeyId":"AKIAX","SecretAccessKey":"s","Expiration":"2026-11-22T07:31:11+00:00"}`
		fail = "echo token expired, run sso login 1>&2 & exit /b 3"
	}
	out, err := runCredentialProcess(context.Background(), print)
	if err != nil {
		t.Fatal(err)
	}
	c, err := ParseProcessOutput(out)
	if err != nil || c.AccessKeyID != "AKIAX" || !c.Expiration.Equal(time.Date(2026, 11, 22, 7, 31, 11, 0, time.UTC)) {
		t.Fatalf("got %+v, %v", c, err)
	}
	_, err = runCredentialProcess(context.Background(), fail)
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

func TestProcessOutputFormat(t *testing.T) {
	c := Credentials{AccessKeyID: "ASIA1", SecretAccessKey: "s", SessionToken: "t",
		Expiration: time.Date(2026, 11, 22, 9, 31, 11, 0, time.FixedZone("CET", 3600))}
	b, err := c.ProcessOutput()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"Version":1,"AccessKeyId":"ASIA1","SecretAccessKey":"s","SessionToken":"t","Expiration":"2026-11-22T08:31:11Z"}`
	if string(b) != want {
		t.Fatalf("got %s\nwant %s", b, want)
	}
}

// TestDefaultCacheDir: MFABRIDGE_CACHE_DIR wins; else each system's user
// cache directory, as os.UserCacheDir finds it.
func TestDefaultCacheDir(t *testing.T) {
	xdg, _ := filepath.Abs("xdg") // absolute on the system running the test
	j := filepath.Join
	for _, tt := range []struct {
		goos string
		env  testEnv
		want string // "" for an error
	}{
		{"linux", testEnv{"MFABRIDGE_CACHE_DIR": "/x/c", "HOME": "/home/a"}, "/x/c"},
		{"linux", testEnv{"HOME": "/home/a"}, j("/home/a", ".cache", "mfabridge")},
		{"linux", testEnv{"HOME": "/home/a", "XDG_CACHE_HOME": xdg}, j(xdg, "mfabridge")},
		{"linux", testEnv{"HOME": "/home/a", "XDG_CACHE_HOME": "rel"}, j("/home/a", ".cache", "mfabridge")}, // relative: ignored
		{"freebsd", testEnv{"HOME": "/home/a"}, j("/home/a", ".cache", "mfabridge")},
		{"linux", testEnv{}, ""},
		{"darwin", testEnv{"HOME": "/Users/a", "XDG_CACHE_HOME": xdg}, j("/Users/a", "Library", "Caches", "mfabridge")},
		{"darwin", testEnv{"MFABRIDGE_CACHE_DIR": "/x/c", "HOME": "/Users/a"}, "/x/c"},
		{"darwin", testEnv{}, ""},
		{"windows", testEnv{"LocalAppData": `C:\Users\a\AppData\Local`, "HOME": "/home/a"}, j(`C:\Users\a\AppData\Local`, "mfabridge")},
		{"windows", testEnv{"MFABRIDGE_CACHE_DIR": `D:\c`, "LocalAppData": `C:\x`}, `D:\c`},
		{"windows", testEnv{"HOME": "/home/a"}, ""}, // HOME is not where Windows keeps caches
	} {
		got, err := defaultCacheDir(tt.goos, tt.env.get)
		if got != tt.want || (err != nil) != (tt.want == "") {
			t.Errorf("%s %v: got %q, %v; want %q", tt.goos, tt.env, got, err, tt.want)
		}
	}
	// The exported function is the one for this system.
	env := testEnv{"HOME": "/home/a", "LocalAppData": `C:\l`}
	want, _ := defaultCacheDir(runtime.GOOS, env.get)
	if got, err := DefaultCacheDir(env.get); got != want || err != nil {
		t.Errorf("DefaultCacheDir: %q, %v; want %q", got, err, want)
	}
}

// TestHomeDir: the AWS files live under %USERPROFILE% on Windows (where
// HOME is usually unset, or set by a Unix-like shell to something else).
func TestHomeDir(t *testing.T) {
	env := testEnv{"HOME": "/home/a", "USERPROFILE": `C:\Users\a`}
	if got := homeDir("windows", env.get); got != `C:\Users\a` {
		t.Errorf("windows: %q", got)
	}
	for _, goos := range []string{"linux", "darwin", "freebsd"} {
		if got := homeDir(goos, env.get); got != "/home/a" {
			t.Errorf("%s: %q", goos, got)
		}
	}
}
