//go:build unix

package securefile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// EnsureDir creates dir (mode 0700, parents as needed) if it is missing and
// checks it: a directory, not a symbolic link, owned by the current user. A
// directory of ours that others may enter is tightened to 0700. It costs one
// lstat when the directory is already right.
func EnsureDir(dir string) error {
	fi, err := os.Lstat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return err
		}
		fi, err = os.Lstat(dir)
	}
	if err != nil {
		return err
	}
	if err := checkDirInfo(dir, fi); err != nil {
		return err
	}
	if fi.Mode().Perm() != 0o700 {
		// Ours, so tighten it rather than leak what it holds.
		if err := os.Chmod(dir, 0o700); err != nil {
			return fmt.Errorf("restrict %s to its owner: %w", dir, err)
		}
	}
	return nil
}

// CheckDir checks an existing directory as EnsureDir does, without creating
// or changing it; a directory others may enter is ErrNotPrivate.
func CheckDir(dir string) error {
	fi, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	if err := checkDirInfo(dir, fi); err != nil {
		return err
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return &Error{Path: dir, Err: ErrNotPrivate, Detail: fmt.Sprintf("mode %#o, want 0700", perm), Fix: "chmod 700 " + dir}
	}
	return nil
}

func checkDirInfo(dir string, fi fs.FileInfo) error {
	if fi.Mode()&fs.ModeSymlink != 0 {
		return &Error{Path: dir, Err: ErrLink}
	}
	if !fi.IsDir() {
		return &Error{Path: dir, Err: ErrNotDir}
	}
	if uid, me := fi.Sys().(*syscall.Stat_t).Uid, os.Getuid(); int(uid) != me {
		return &Error{Path: dir, Err: ErrForeign, Detail: fmt.Sprintf("owned by uid %d, not %d", uid, me)}
	}
	return nil
}

// openChecked opens path for reading without following a symbolic link or
// blocking on a FIFO, and checks it is a regular 0600 file of ours.
func openChecked(path string, flag int) (*os.File, error) {
	f, err := os.OpenFile(path, flag|syscall.O_NOFOLLOW|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0o600)
	if err != nil {
		// O_NOFOLLOW on a link: ELOOP (Linux, macOS) or EMLINK (FreeBSD).
		if errors.Is(err, syscall.ELOOP) || errors.Is(err, syscall.EMLINK) {
			return nil, &Error{Path: path, Err: ErrLink, Fix: "remove it"}
		}
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if err := checkFileInfo(path, fi); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

func checkFileInfo(path string, fi fs.FileInfo) error {
	if !fi.Mode().IsRegular() {
		return &Error{Path: path, Err: ErrNotRegular, Detail: "type " + fi.Mode().Type().String()}
	}
	if uid, me := fi.Sys().(*syscall.Stat_t).Uid, os.Getuid(); int(uid) != me {
		return &Error{Path: path, Err: ErrForeign, Detail: fmt.Sprintf("owned by uid %d, not %d", uid, me), Fix: "remove it"}
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		return &Error{Path: path, Err: ErrNotPrivate, Detail: fmt.Sprintf("mode %#o, want 0600", perm), Fix: "chmod 600 " + path}
	}
	return nil
}

// ReadFile reads a private file of ours (see the package doc), at most limit
// bytes.
func ReadFile(path string, limit int64) ([]byte, error) {
	f, err := openChecked(path, os.O_RDONLY)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, limit))
}

// Check reports whether path is a private file of ours, without reading it.
func Check(path string) error {
	f, err := openChecked(path, os.O_RDONLY)
	if err != nil {
		return err
	}
	return f.Close()
}

// EnsureFile creates path empty and private if it is missing, and checks it
// otherwise. Lock files are made this way before they are locked.
func EnsureFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0o600)
	if err == nil {
		err = f.Chmod(0o600) // whatever the umask took away
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		return err
	}
	if !errors.Is(err, fs.ErrExist) {
		return err
	}
	if f, err = openChecked(path, os.O_RDONLY); err != nil {
		return err
	}
	return f.Close()
}

// WriteFile replaces path with a new private file holding data: temporary
// file in the same directory, fsync, rename, fsync of the directory. A
// reader (or a crash) sees the old content or the new, never a mix.
func WriteFile(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*") // mode 0600
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err = f.Chmod(0o600); err != nil {
		return err
	}
	if _, err = f.Write(data); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp, path); err != nil {
		return err
	}
	if d, derr := os.Open(dir); derr == nil {
		d.Sync() // best effort: the rename is done; a failed directory sync is not a failed write
		d.Close()
	}
	return nil
}
