//go:build unix

package securefile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"

	"github.com/mfabridge/mfabridge/internal/ospath"
	"github.com/mfabridge/mfabridge/internal/regfile"
)

// EnsureDir creates dir (mode 0700, parents as needed) if it is missing and
// checks it: a directory, not a symbolic link, owned by the current user.
// A directory of ours that others may enter is tightened to 0700, but only
// if EnsureDir created it or every entry in it is one ours claims (a nil
// ours claims nothing, so only an empty directory qualifies); otherwise it
// is left alone and the error unwraps to ErrShared. A directory with the
// sticky, setuid or setgid bit (a shared /tmp) is never changed. It costs
// one lstat when the directory is already right.
func EnsureDir(dir string, ours func(name string) bool) error {
	fi, err := os.Lstat(dir)
	created := false
	if errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return err
		}
		created = true
		fi, err = os.Lstat(dir)
	}
	if err != nil {
		return err
	}
	if err := checkDirInfo(dir, fi); err != nil {
		return err
	}
	mode := fi.Mode()
	if mode.Perm() == 0o700 {
		return nil
	}
	if err := ownedAlone(dir, mode, !created, ours); err != nil {
		return err
	}
	// Ours and holding nothing else, so tighten it rather than leak what
	// it holds.
	if err := os.Chmod(dir, 0o700); err != nil {
		return fmt.Errorf("restrict %s to its owner: %w", dir, err)
	}
	return nil
}

// ownedAlone refuses (ErrShared) to change a directory with the sticky,
// setuid or setgid bit, or, when list is set, one holding an entry ours
// does not claim.
func ownedAlone(dir string, mode fs.FileMode, list bool, ours func(string) bool) error {
	if special := mode & (fs.ModeSticky | fs.ModeSetuid | fs.ModeSetgid); special != 0 {
		return sharedError(dir, fmt.Sprintf("mode %v: its sticky/setuid/setgid bits say others share it; mfabridge does not change it", mode))
	}
	if !list {
		return nil
	}
	d, err := os.OpenFile(dir, os.O_RDONLY|syscall.O_DIRECTORY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	name, err := foreignEntry(d, ours)
	d.Close()
	if err != nil {
		return fmt.Errorf("list %s: %w", dir, err)
	}
	if name != "" {
		return sharedError(dir, fmt.Sprintf("mode %#o, and it holds %q, which is not mfabridge's; mfabridge does not change the mode of a folder others use", mode.Perm(), name))
	}
	return nil
}

// CheckDir checks an existing directory as EnsureDir does, without creating
// or changing it: a directory others may enter is ErrNotPrivate (with the
// chmod that fixes it) if EnsureDir would tighten it, else ErrShared.
func CheckDir(dir string, ours func(name string) bool) error {
	fi, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	if err := checkDirInfo(dir, fi); err != nil {
		return err
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		if err := ownedAlone(dir, fi.Mode(), true, ours); err != nil {
			return err
		}
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
	return checkFile(path, fi.Mode(), fi.Sys().(*syscall.Stat_t).Uid)
}

func checkFile(path string, mode fs.FileMode, uid uint32) error {
	if !mode.IsRegular() {
		return &Error{Path: path, Err: ErrNotRegular, Detail: "type " + mode.Type().String()}
	}
	if me := os.Getuid(); int(uid) != me {
		return &Error{Path: path, Err: ErrForeign, Detail: fmt.Sprintf("owned by uid %d, not %d", uid, me), Fix: "remove it"}
	}
	if perm := mode.Perm(); perm != 0o600 {
		return &Error{Path: path, Err: ErrNotPrivate, Detail: fmt.Sprintf("mode %#o, want 0600", perm), Fix: "chmod 600 " + path}
	}
	return nil
}

// ReadFile reads a private file of ours (see the package doc), at most limit
// bytes.
//
// It makes the same checks as openChecked, on the same open file, but with
// the system calls directly (regfile.ReadChecked) rather than an *os.File: the file is read and
// closed at once, and os.File's registration with the runtime's poller (its
// first use creates the epoll instance), finalizer and extra calls are a
// good part of what a cached credential-process answer costs (the warm
// path, cmd/mfabridge/internal/warm; issue 12). Errors are as os's.
func ReadFile(path string, limit int64) ([]byte, error) {
	b, err := regfile.ReadChecked(path, syscall.O_NOFOLLOW, func(mode fs.FileMode, uid uint32, _ int64) error {
		return checkFile(path, mode, uid)
	}, limit)
	// O_NOFOLLOW on a link: ELOOP (Linux, macOS) or EMLINK (FreeBSD).
	if errors.Is(err, syscall.ELOOP) || errors.Is(err, syscall.EMLINK) {
		return nil, &Error{Path: path, Err: ErrLink, Fix: "remove it"}
	}
	return b, err
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
	dir := ospath.Dir(path)
	f, err := os.CreateTemp(dir, "."+ospath.Base(path)+".tmp-*") // mode 0600
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

// openLockFile creates path private (O_EXCL: never through a link) or
// opens the existing one without following a link or blocking on a FIFO,
// and checks what it opened.
func openLockFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0o600)
	if err == nil {
		if err := f.Chmod(0o600); err != nil { // whatever the umask took away
			f.Close()
			return nil, err
		}
		return f, nil
	}
	if !errors.Is(err, fs.ErrExist) {
		return nil, err
	}
	return openChecked(path, os.O_RDONLY)
}

// tryLock takes the flock(2) lock of f without waiting.
func tryLock(f *os.File) (bool, error) {
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		switch {
		case err == nil:
			return true, nil
		case errors.Is(err, syscall.EWOULDBLOCK):
			return false, nil
		case errors.Is(err, syscall.EINTR):
			continue
		}
		return false, err
	}
}
