//go:build windows

package regfile

import "os"

// open opens path read-only. Windows has no FIFOs in the file system
// namespace (named pipes live under \\.\pipe\ and are refused by Read's
// mode check like any other non-regular file).
func open(path string) (*os.File, error) { return os.Open(path) }
