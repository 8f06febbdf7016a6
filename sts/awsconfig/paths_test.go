package awsconfig

import "testing"

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
