package sts

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/mfabridge/mfabridge/internal/golist"
)

const mod = "github.com/mfabridge/mfabridge/"

// TestNoDeviceDependency: the credentials provider is handed a code function
// (TokenFunc) and never learns that devices exist. Its import graph holds
// none of our device-side packages, nor package enroll, which builds on it
// (cmd → sts/enroll → sts → sts/awsconfig).
func TestNoDeviceDependency(t *testing.T) {
	for _, d := range golist.Deps(t, ".") {
		rest, ours := strings.CutPrefix(d, mod)
		if !ours {
			continue
		}
		for _, banned := range []string{"device", "oath", "pcsc", "simulator", "cmd", "sts/enroll"} {
			if rest == banned || strings.HasPrefix(rest, banned+"/") {
				t.Errorf("sts depends on %s", d)
			}
		}
	}
}

// TestAWSConfigImportsNothingOfOurs: package awsconfig sits at the bottom
// of the graph; of our packages it imports only internal/ helpers.
func TestAWSConfigImportsNothingOfOurs(t *testing.T) {
	seen := false
	for _, d := range golist.Deps(t, "./awsconfig") {
		rest, ours := strings.CutPrefix(d, mod)
		if !ours {
			continue
		}
		if rest == "sts/awsconfig" {
			seen = true
			continue
		}
		if !strings.HasPrefix(rest, "internal/") {
			t.Errorf("sts/awsconfig depends on %s", d)
		}
	}
	if !seen {
		t.Fatal("go list -deps ./awsconfig does not list sts/awsconfig itself")
	}
}

// deviceSpecRE finds what only a device-aware package would say: spec
// syntax, the spec settings, and the names the old spec-keyed TokenSource
// used.
var deviceSpecRE = regexp.MustCompile(`(?i)device ?spec|defaultDevice|mfabridge_device|MFABRIDGE_DEVICE|yubikey:|"sim:|totp:env|\.Device\b|TokenSource`)

// TestNoDeviceSpecs: no source file of the credentials provider (sts and
// its SDK-free half, sts/stepcache) mentions device specs. (sts/awsconfig reads the mfabridge_device setting for the
// CLI, and sts/enroll names the device in the commands of its error
// advice; both live outside this directory.)
func TestNoDeviceSpecs(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	half, err := filepath.Glob("stepcache/*.go") // the provider's SDK-free half
	if err != nil {
		t.Fatal(err)
	}
	files = append(files, half...)
	checked := 0
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
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
