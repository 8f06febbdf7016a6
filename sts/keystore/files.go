package keystore

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/mfabridge/mfabridge/internal/securefile"
	"github.com/mfabridge/mfabridge/sts"
)

// maxKeyFile caps what a store reads of one key file (a sealed or age file
// holds a few hundred bytes; an index a few per profile).
const maxKeyFile = 1 << 20

// readPrivate reads a key file through internal/securefile: a regular file
// (no link, FIFO or device) of the current user, private to them (mode
// 0600 on Unix; owner SID and a DACL granting no one else on Windows), at
// most maxKeyFile bytes. A file failing a check is ErrUnsafeFile (wrapping
// securefile's *Error, which carries the fix); a missing one matches
// fs.ErrNotExist.
func readPrivate(path string) ([]byte, error) {
	data, err := securefile.ReadFile(path, maxKeyFile)
	return data, unsafe(err)
}

// writePrivate replaces path atomically with a private file (temporary
// file in the same directory, fsync, rename), creating the directory
// private (0700, owner-only DACL on Windows) when missing. No other copy
// of data is left behind.
func writePrivate(path string, data []byte) error {
	if err := securefile.EnsureDir(filepath.Dir(path), ours); err != nil {
		return unsafe(err)
	}
	return unsafe(securefile.WriteFile(path, data))
}

// ensureDir creates dir private when missing and checks it.
func ensureDir(dir string) error { return unsafe(securefile.EnsureDir(dir, ours)) }

// ours tells securefile which entries of an existing, too-open directory
// are mfabridge's, so that it may tighten it (issue 13 case 1): the cache's
// own files (the rotation journal lives there). A keys folder with anything
// else in it is refused rather than chmod'ed.
func ours(name string) bool { return sts.IsCacheFile(name) }

// unsafe marks securefile's refusals as ErrUnsafeFile.
func unsafe(err error) error {
	var se *securefile.Error
	if errors.As(err, &se) {
		return fmt.Errorf("%w: %w", ErrUnsafeFile, err)
	}
	return err
}

// removeFile deletes path; a missing file is ErrNotFound.
func removeFile(path string) error {
	err := os.Remove(path)
	if errors.Is(err, fs.ErrNotExist) {
		return ErrNotFound
	}
	return err
}
