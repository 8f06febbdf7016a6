package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mfabridge/mfabridge/pcsc"
)

// Set at link time by release builds (.ci/dist, make dist):
//
//	-ldflags "-X main.buildVersion=$(git describe --tags --always --dirty) -X main.buildCommit=$(git rev-parse HEAD)"
var buildVersion, buildCommit string

// versionInfo is what `mfabridge version` reports about this build.
type versionInfo struct {
	Version  string // release version or git describe; never Go's "(devel)"
	Commit   string // full commit hash, "unknown" if nothing recorded it
	Go       string // toolchain that built the binary
	Platform string // GOOS/GOARCH
	PCSC     string // PC/SC backend compiled in (pcsc.Backend)
}

// unknown stands in for what neither -ldflags nor the Go toolchain recorded.
const unknown = "unknown"

// readVersion resolves the version and commit: the -X values of a release
// build first; else what the Go toolchain stamped, the module version for
// `go install …@VERSION`, the VCS revision for a `go build` in a checkout
// (with -dirty for uncommitted changes, as git describe writes it); else
// "unknown" (for example a test binary, which Go does not stamp).
func readVersion(ldVersion, ldCommit string, bi *debug.BuildInfo) versionInfo {
	v := versionInfo{
		Version:  ldVersion,
		Commit:   ldCommit,
		Go:       runtime.Version(),
		Platform: runtime.GOOS + "/" + runtime.GOARCH,
		PCSC:     pcsc.Backend,
	}
	var revision string
	var modified bool
	if bi != nil {
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				revision = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
	}
	if v.Version == "" && bi != nil && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		v.Version = bi.Main.Version
	}
	if v.Version == "" && revision != "" {
		v.Version = revision[:min(len(revision), 12)]
		if modified {
			v.Version += "-dirty"
		}
	}
	if v.Commit == "" && revision != "" {
		v.Commit = revision
		if modified {
			v.Commit += " (with uncommitted changes)"
		}
	}
	if v.Version == "" {
		v.Version = unknown
	}
	if v.Commit == "" {
		v.Commit = unknown
	}
	return v
}

// buildVersionInfo is readVersion for the running binary.
func buildVersionInfo() versionInfo {
	bi, _ := debug.ReadBuildInfo()
	return readVersion(buildVersion, buildCommit, bi)
}

// String is the report of --version and `mfabridge version`: the version on
// the first line, then one "key: value" line each.
func (v versionInfo) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "mfabridge version %s\n", v.Version)
	fmt.Fprintf(&b, "commit: %s\n", v.Commit)
	fmt.Fprintf(&b, "go: %s\n", v.Go)
	fmt.Fprintf(&b, "platform: %s\n", v.Platform)
	fmt.Fprintf(&b, "pcsc: %s\n", v.PCSC)
	return b.String()
}

// flagVersion is the root command's Version: cobra's --version prints
// "mfabridge version " + it + "\n", which is String. A version template
// (SetVersionTemplate) would print String as it is, but it links
// text/template, whose reflect.Value.MethodByName keeps every exported
// method of every type in an interface: the whole IAM client (180
// operations for the 10 used), 10 MB of binary and 600 itabs that every
// start pays for, a cached credential-process included (issue 12;
// deadcode_test.go).
func (v versionInfo) flagVersion() string {
	return strings.TrimSuffix(strings.TrimPrefix(v.String(), "mfabridge version "), "\n")
}

func (a *app) versionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version, commit, Go version, platform and PC/SC backend of this build",
		Args:  args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprint(a.stdout, buildVersionInfo())
			return err
		},
	}
}
