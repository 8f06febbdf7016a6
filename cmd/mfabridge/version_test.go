package main

import (
	"runtime"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/mfabridge/mfabridge/pcsc"
)

func TestReadVersion(t *testing.T) {
	const rev = "0123456789abcdef0123456789abcdef01234567"
	vcs := func(modified string) []debug.BuildSetting {
		return []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: rev}, {Key: "vcs.modified", Value: modified}}
	}
	tests := []struct {
		name                string
		ldVersion, ldCommit string
		bi                  *debug.BuildInfo
		wantVersion         string
		wantCommit          string
	}{
		{"release build: -X wins over everything", "v1.2.0-3-gabcdef0-dirty", rev,
			&debug.BuildInfo{Main: debug.Module{Version: "v9.9.9"}, Settings: vcs("false")},
			"v1.2.0-3-gabcdef0-dirty", rev},
		{"go install module@version", "", "",
			&debug.BuildInfo{Main: debug.Module{Version: "v1.2.0"}},
			"v1.2.0", unknown},
		{"go build in a clean checkout", "", "",
			&debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: vcs("false")},
			"0123456789ab", rev},
		{"go build with uncommitted changes", "", "",
			&debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: vcs("true")},
			"0123456789ab-dirty", rev + " (with uncommitted changes)"},
		{"nothing recorded (test binary, -buildvcs=false)", "", "",
			&debug.BuildInfo{Main: debug.Module{Version: "(devel)"}},
			unknown, unknown},
		{"no build info at all", "", "", nil, unknown, unknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := readVersion(tt.ldVersion, tt.ldCommit, tt.bi)
			if v.Version != tt.wantVersion || v.Commit != tt.wantCommit {
				t.Errorf("version %q commit %q, want %q and %q", v.Version, v.Commit, tt.wantVersion, tt.wantCommit)
			}
			if v.Go != runtime.Version() || v.Platform != runtime.GOOS+"/"+runtime.GOARCH || v.PCSC != pcsc.Backend {
				t.Errorf("go %q platform %q pcsc %q, want %q, %s/%s and %q", v.Go, v.Platform, v.PCSC, runtime.Version(), runtime.GOOS, runtime.GOARCH, pcsc.Backend)
			}
			want := "mfabridge version " + tt.wantVersion + "\ncommit: " + tt.wantCommit + "\ngo: " + runtime.Version() +
				"\nplatform: " + runtime.GOOS + "/" + runtime.GOARCH + "\npcsc: " + pcsc.Backend + "\n"
			if got := v.String(); got != want {
				t.Errorf("String() =\n%s\nwant\n%s", got, want)
			}
			if strings.Contains(v.String(), "devel") {
				t.Errorf("String() says devel:\n%s", v.String())
			}
		})
	}
}
