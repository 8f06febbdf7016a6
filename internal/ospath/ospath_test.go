package ospath

import (
	"path/filepath"
	"testing"
)

// FuzzAsFilepath: the same answers as path/filepath.
func FuzzAsFilepath(f *testing.F) {
	for _, s := range [][2]string{{"", ""}, {"/home/a", ".aws/config"}, {"a//b/", "../c"}, {"/", ""}, {"", "x"}, {"C:\\x", "y"}, {"./", "."}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		if got, want := Join(a, b), filepath.Join(a, b); got != want {
			t.Errorf("Join(%q, %q) = %q, filepath %q", a, b, got, want)
		}
		if got, want := Join(a, b, ".aws"), filepath.Join(a, b, ".aws"); got != want {
			t.Errorf("Join(%q, %q, .aws) = %q, filepath %q", a, b, got, want)
		}
		if got, want := Dir(a), filepath.Dir(a); got != want {
			t.Errorf("Dir(%q) = %q, filepath %q", a, got, want)
		}
		if got, want := Base(a), filepath.Base(a); got != want {
			t.Errorf("Base(%q) = %q, filepath %q", a, got, want)
		}
		if got, want := IsAbs(a), filepath.IsAbs(a); got != want {
			t.Errorf("IsAbs(%q) = %v, filepath %v", a, got, want)
		}
	})
}
