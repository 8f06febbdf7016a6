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
// that unwraps to one of ErrLink, ErrNotRegular, ErrNotDir, ErrForeign or
// ErrNotPrivate; a replacement that another program keeps blocking gives
// ErrBusy. A missing file gives an error matching fs.ErrNotExist. Other
// errors are the system's, wrapped with the path.
package securefile

import (
	"errors"
	"fmt"
)

// Reasons a file is not trusted.
var (
	ErrLink       = errors.New("is a link")
	ErrNotRegular = errors.New("is not a regular file")
	ErrNotDir     = errors.New("is not a directory")
	ErrForeign    = errors.New("is owned by another user")
	ErrNotPrivate = errors.New("is not private")
	ErrBusy       = errors.New("is held open by another program")
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
