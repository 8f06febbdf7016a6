package sts

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
)

// TestNoDeviceDependency: the credentials provider is handed a code function
// (TokenFunc) and never learns that devices exist. Its import graph holds
// none of our device-side packages.
func TestNoDeviceDependency(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	out, err := exec.Command(goBin, "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	const mod = "github.com/mfabridge/mfabridge/"
	deps := strings.Fields(string(out))
	if len(deps) < 10 {
		t.Fatalf("go list -deps printed %d packages; want the whole graph:\n%s", len(deps), out)
	}
	for _, d := range deps {
		rest, ours := strings.CutPrefix(d, mod)
		if !ours {
			continue
		}
		for _, banned := range []string{"device", "oath", "pcsc", "simulator", "cmd"} {
			if rest == banned || strings.HasPrefix(rest, banned+"/") {
				t.Errorf("sts depends on %s", d)
			}
		}
	}
}

// deviceSpecRE finds what only a device-aware package would say: spec
// syntax, the spec settings, and the names the old spec-keyed TokenSource
// used.
var deviceSpecRE = regexp.MustCompile(`(?i)device ?spec|defaultDevice|mfabridge_device|MFABRIDGE_DEVICE|yubikey:|"sim:|totp:env|\.Device\b|TokenSource`)

// TestNoDeviceSpecs: no source file of the credentials provider mentions
// device specs. Left out, each for its own reason: profile.go reads the
// mfabridge_device setting from the AWS config for the CLI (AWS config
// parsing, to move to its own package), and enroll.go / rotate.go carry a
// spec only to name the device in the commands of their error advice.
func TestNoDeviceSpecs(t *testing.T) {
	skip := map[string]bool{"profile.go": true, "enroll.go": true, "rotate.go": true}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") || skip[f] {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		checked++
		for i, line := range strings.Split(string(b), "\n") {
			if m := deviceSpecRE.FindString(line); m != "" {
				t.Errorf("%s:%d mentions %q: %s", f, i+1, m, strings.TrimSpace(line))
			}
		}
	}
	for _, must := range []string{"provider.go", "totp.go", "plan.go", "cache.go", "process.go"} {
		if _, err := os.Stat(must); err != nil {
			t.Errorf("%s: %v (the provider's files moved? update this test)", must, err)
		}
	}
	if checked < 5 {
		t.Fatalf("checked %d files", checked)
	}
}
