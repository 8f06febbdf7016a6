//go:build unix

package ospath

import (
	"path"
	"strings"
)

// Join is filepath.Join.
func Join(elem ...string) string { return path.Join(elem...) }

// Dir is filepath.Dir.
func Dir(p string) string { return path.Dir(p) }

// Base is filepath.Base.
func Base(p string) string { return path.Base(p) }

// IsAbs is filepath.IsAbs.
func IsAbs(p string) bool { return strings.HasPrefix(p, "/") }
