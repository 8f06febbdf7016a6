package keystore

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"

	"github.com/mfabridge/mfabridge/internal/regfile"
)

// maxKeyFile caps what a store reads of one key file (a sealed or age file
// holds a few hundred bytes; an index a few per profile).
const maxKeyFile = 1 << 20

// readPrivate reads a key file: a regular file (no link, FIFO or device),
// at most maxKeyFile bytes, not readable by group or others on Unix.
// Windows ownership and DACL checks are not done here yet (another
// package will provide them); the mode check is skipped there because Go
// reports 0666 for every file.
func readPrivate(path string) ([]byte, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: %s is not a regular file (%s)", ErrUnsafeFile, path, fi.Mode().Type())
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%w: %s has mode %04o; it must be 0600", ErrUnsafeFile, path, fi.Mode().Perm())
	}
	return regfile.Read(path, maxKeyFile)
}

// writePrivate replaces path atomically with a 0600 file: a temporary file
// in the same directory (made 0700 if missing), fsync, rename. Windows
// owner-only DACLs are left to the private-file helper being written on
// another branch.
func writePrivate(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	name := tmp.Name()
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(name)
		}
	}()
	if err := tmp.Chmod(0o600); err != nil {
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(name, path); err != nil {
		return err
	}
	ok = true
	return nil
}

// removeFile deletes path; a missing file is ErrNotFound.
func removeFile(path string) error {
	err := os.Remove(path)
	if errors.Is(err, fs.ErrNotExist) {
		return ErrNotFound
	}
	return err
}
