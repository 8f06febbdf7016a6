// Package configfile writes the AWS shared config and credentials files
// that package awsconfig reads and edits in memory (SetProfileKeys,
// ReplaceMFASerial): Write replaces one atomically, through a symbolic
// link, keeping its mode.
//
// It is not part of awsconfig so that awsconfig, which a cached
// credential-process runs before the rest of mfabridge is initialised,
// does not import path/filepath (for EvalSymlinks; see internal/ospath
// and issue 12). Errors are the os errors, wrapped with the path.
package configfile

import (
	"fmt"
	"os"
	"path/filepath"
)

// Write replaces a config file atomically (temporary file in the
// same directory, fsync, rename), keeping the old file's mode (0600 for a
// new file). A symlink is followed: its target is replaced.
func Write(path string, data []byte) error {
	// Write through a symlink (dotfile managers link ~/.aws/config) rather
	// than replacing the link with a file.
	if real, err := filepath.EvalSymlinks(path); err == nil {
		path = real
	}
	mode := os.FileMode(0o600)
	if fi, err := os.Stat(path); err == nil {
		mode = fi.Mode().Perm()
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	name := tmp.Name()
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(name)
		}
	}()
	if err := tmp.Chmod(mode); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := tmp.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(name, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	ok = true
	return nil
}
