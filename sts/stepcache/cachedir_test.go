package stepcache

import (
	"errors"
	"path/filepath"
	"runtime"
	"testing"
)

// env is a test environment for the cache directory lookups.
type env map[string]string

func (e env) get(k string) string { return e[k] }

// TestDefaultCacheDir: MFABRIDGE_CACHE_DIR wins; else each system's user
// cache directory, as os.UserCacheDir finds it.
func TestDefaultCacheDir(t *testing.T) {
	xdg, _ := filepath.Abs("xdg") // absolute on the system running the test
	j := filepath.Join
	for _, tt := range []struct {
		goos string
		env  env
		want string // "" for an error
	}{
		{"linux", env{"MFABRIDGE_CACHE_DIR": "/x/c", "HOME": "/home/a"}, "/x/c"},
		{"linux", env{"HOME": "/home/a"}, j("/home/a", ".cache", "mfabridge")},
		{"linux", env{"HOME": "/home/a", "XDG_CACHE_HOME": xdg}, j(xdg, "mfabridge")},
		{"linux", env{"HOME": "/home/a", "XDG_CACHE_HOME": "rel"}, j("/home/a", ".cache", "mfabridge")}, // relative: ignored
		{"freebsd", env{"HOME": "/home/a"}, j("/home/a", ".cache", "mfabridge")},
		{"linux", env{}, ""},
		{"darwin", env{"HOME": "/Users/a", "XDG_CACHE_HOME": xdg}, j("/Users/a", "Library", "Caches", "mfabridge")},
		{"darwin", env{"MFABRIDGE_CACHE_DIR": "/x/c", "HOME": "/Users/a"}, "/x/c"},
		{"darwin", env{}, ""},
		{"windows", env{"LocalAppData": `C:\Users\a\AppData\Local`, "HOME": "/home/a"}, j(`C:\Users\a\AppData\Local`, "mfabridge")},
		{"windows", env{"MFABRIDGE_CACHE_DIR": `D:\c`, "LocalAppData": `C:\x`}, `D:\c`},
		{"windows", env{"HOME": "/home/a"}, ""}, // HOME is not where Windows keeps caches
	} {
		got, err := cacheDirFor(tt.goos, tt.env.get)
		if got != tt.want || (err != nil) != (tt.want == "") || err != nil && !errors.Is(err, ErrNoCacheDir) {
			t.Errorf("%s %v: got %q, %v; want %q", tt.goos, tt.env, got, err, tt.want)
		}
	}
	// The exported function is the one for this system.
	e := env{"HOME": "/home/a", "LocalAppData": `C:\l`}
	want, _ := cacheDirFor(runtime.GOOS, e.get)
	if got, err := DefaultCacheDir(e.get); got != want || err != nil {
		t.Errorf("DefaultCacheDir: %q, %v; want %q", got, err, want)
	}
}
