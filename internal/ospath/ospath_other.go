//go:build !unix

package ospath

import "path/filepath"

// Join is filepath.Join.
func Join(elem ...string) string { return filepath.Join(elem...) }

// Dir is filepath.Dir.
func Dir(p string) string { return filepath.Dir(p) }

// Base is filepath.Base.
func Base(p string) string { return filepath.Base(p) }

// IsAbs is filepath.IsAbs.
func IsAbs(p string) bool { return filepath.IsAbs(p) }
