// Package testtemp gives tests a temporary directory that Windows test
// binaries can also remove under Wine.
//
// testing.T.TempDir removes its directory with os.RemoveAll, which in Go
// 1.26 deletes through NtSetInformationFile(FileDispositionInformationEx)
// and falls back only on the statuses real Windows returns for an older
// system; Debian's Wine 8.0 answers with another one, so every TempDir
// holding a file fails its test with "TempDir RemoveAll cleanup: unlinkat
// …: Invalid function". os.Remove (DeleteFileW) works there.
package testtemp

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// Dir creates a new temporary directory and removes it, with everything in
// it, when the test ends; a failure to remove it fails the test.
func Dir(t testing.TB) string {
	t.Helper()
	d, err := os.MkdirTemp("", "mfabridge-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := removeTree(d); err != nil {
			t.Errorf("remove test directory: %v", err)
		}
	})
	return d
}

// removeTree removes root and everything below it, files first, without
// following links.
func removeTree(root string) error {
	var dirs []string
	err := filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.IsDir() {
			dirs = append(dirs, p)
			return nil
		}
		return os.Remove(p)
	})
	for i := len(dirs) - 1; i >= 0 && err == nil; i-- {
		err = os.Remove(dirs[i])
	}
	return err
}
