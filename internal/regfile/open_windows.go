//go:build windows

package regfile

import (
	"io/fs"
	"os"
)

// open opens path read-only. Windows has no FIFOs in the file system
// namespace (named pipes live under \\.\pipe\ and are refused by Read's
// mode check like any other non-regular file).
func open(path string) (file, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	return osFile{f}, nil
}

type osFile struct{ *os.File }

func (f osFile) stat() (fs.FileMode, int64, error) {
	fi, err := f.Stat()
	if err != nil {
		return 0, 0, err
	}
	return fi.Mode(), fi.Size(), nil
}
