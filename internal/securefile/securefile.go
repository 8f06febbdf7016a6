// Package securefile reads, writes and locks the files that hold secrets
// (the credential cache, the TOTP ledger, lock files, the simulator's state)
// so that only the current user can read or replace them.
//
// What "private" means depends on the system:
//
//   - Unix: a regular file, not a symbolic link, owned by the current uid,
//     mode 0600 (directories: 0700).
//   - Windows: a regular file, not a reparse point (symbolic link, junction),
//     owned by the current user's SID, with a DACL that grants nothing to
//     anyone but that SID, LocalSystem and the Administrators group (who can
//     take any file anyway). Files and directories are created with a
//     protected DACL granting only the user's SID; Go's mode bits mean
//     nothing there (every file reads as 0666).
//
// Error contract: a file or directory that fails a check gives an *Error
// that unwraps to one of ErrLink, ErrNotRegular, ErrNotDir, ErrForeign,
// ErrNotPrivate or ErrShared (a directory EnsureDir will not tighten); a replacement that another program keeps blocking gives
// ErrBusy. A missing file gives an error matching fs.ErrNotExist. Other
// errors are the system's, wrapped with the path.
package securefile

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/mfabridge/mfabridge/internal/ospath"
)

// Reasons a file is not trusted.
var (
	ErrLink       = errors.New("is a link")
	ErrNotRegular = errors.New("is not a regular file")
	ErrNotDir     = errors.New("is not a directory")
	ErrForeign    = errors.New("is owned by another user")
	ErrNotPrivate = errors.New("is not private")
	ErrBusy       = errors.New("is held open by another program")
	ErrShared     = errors.New("is a shared directory")
)

// Error says which path failed which check, and how to fix it.
type Error struct {
	Path   string
	Err    error  // one of the Err* sentinels
	Detail string // e.g. "mode 0644, want 0600"; may be empty
	Fix    string // a command or action for the user; may be empty
}

func (e *Error) Error() string {
	s := e.Path + ": " + e.Err.Error()
	if e.Detail != "" {
		s += " (" + e.Detail + ")"
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

func untrusted(path string, kind error, format string, args ...any) *Error {
	return &Error{Path: path, Err: kind, Detail: fmt.Sprintf(format, args...)}
}

// FixOf returns the fix carried by err's *Error, or "".
func FixOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Fix
	}
	return ""
}

// foreignEntry returns the first name in the open directory d that ours
// does not claim, or "" when every entry is ours (or there is none). A nil
// ours claims nothing. It reads the directory in batches and stops at the
// first foreign name: a directory such as /proc is not listed in full.
func foreignEntry(d interface {
	Readdirnames(n int) ([]string, error)
}, ours func(name string) bool) (string, error) {
	for {
		names, err := d.Readdirnames(64)
		for _, n := range names {
			if ours == nil || !ours(n) {
				return n, nil
			}
		}
		if errors.Is(err, io.EOF) || (err == nil && len(names) == 0) {
			return "", nil
		}
		if err != nil {
			return "", err
		}
	}
}

// sharedError is EnsureDir's refusal to tighten a directory it did not
// create and that holds files that are not ours: changing its mode would
// break whatever else uses it (/, /tmp, a project folder).
func sharedError(dir, detail string) *Error {
	return &Error{Path: dir, Err: ErrShared, Detail: detail,
		Fix: "use a folder of its own, e.g. " + ospath.Join(dir, "mfabridge")}
}

// lockPoll is how often Lock retries a lock another process holds.
const lockPoll = 20 * time.Millisecond

// Lock takes an exclusive advisory lock (flock(2) on Unix, LockFileEx on
// Windows) on path, creating it empty and private if missing. The lock is
// taken on the very handle that was checked, so a link or a FIFO planted
// at path is refused (ErrLink, ErrNotRegular) and never followed, created
// or opened in a blocking way: there is no window between the check and
// the open. If another holder has it, waiting is called once (it may be
// nil) and Lock retries until ctx ends, returning ctx's error (wrapped).
// The lock is released by unlock, or when the process exits.
func Lock(ctx context.Context, path string, waiting func()) (unlock func(), err error) {
	f, err := openLockFile(path)
	if err != nil {
		return nil, err
	}
	ok, err := tryLock(f)
	if err == nil && !ok {
		if waiting != nil {
			waiting()
		}
		t := time.NewTicker(lockPoll)
		defer t.Stop()
		for err == nil && !ok {
			select {
			case <-ctx.Done():
				f.Close()
				return nil, fmt.Errorf("lock %s: %w", path, context.Cause(ctx))
			case <-t.C:
			}
			ok, err = tryLock(f)
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return func() { f.Close() }, nil // closing the last handle releases the lock
}
