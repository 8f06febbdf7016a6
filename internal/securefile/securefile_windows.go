//go:build windows

package securefile

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/windows"
)

// shareAll lets others read, write, delete and rename the file while we hold
// it open. FILE_SHARE_DELETE matters: without it (Go's os.Open) a writer
// cannot replace the file while we read it.
const shareAll = windows.FILE_SHARE_READ | windows.FILE_SHARE_WRITE | windows.FILE_SHARE_DELETE

// open opens path itself, not what a reparse point names
// (FILE_FLAG_OPEN_REPARSE_POINT); FILE_FLAG_BACKUP_SEMANTICS lets it open a
// directory too, so the check can say what it found.
func open(path string, access, disposition uint32, sa *windows.SecurityAttributes) (windows.Handle, error) {
	p, err := windows.UTF16PtrFromString(path)
	if err != nil {
		return windows.InvalidHandle, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	h, err := windows.CreateFile(p, access, shareAll, sa, disposition,
		windows.FILE_ATTRIBUTE_NORMAL|windows.FILE_FLAG_OPEN_REPARSE_POINT|windows.FILE_FLAG_BACKUP_SEMANTICS, 0)
	if err != nil {
		return windows.InvalidHandle, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	return h, nil
}

// checkAttributes refuses a reparse point (symbolic link, junction, mount
// point: Windows' links) and the wrong kind of object.
func checkAttributes(path string, attrs uint32, dir bool) error {
	if attrs&windows.FILE_ATTRIBUTE_REPARSE_POINT != 0 {
		return &Error{Path: path, Err: ErrLink, Detail: "a reparse point: a symbolic link or junction", Fix: "remove it (rmdir or del removes the link, not its target)"}
	}
	isDir := attrs&windows.FILE_ATTRIBUTE_DIRECTORY != 0
	switch {
	case dir && !isDir:
		return &Error{Path: path, Err: ErrNotDir}
	case !dir && isDir:
		return &Error{Path: path, Err: ErrNotRegular, Detail: "a directory"}
	}
	return nil
}

// checkHandle checks what h is and who may use it.
func checkHandle(path string, h windows.Handle, dir bool) error {
	var info windows.ByHandleFileInformation
	if err := windows.GetFileInformationByHandle(h, &info); err != nil {
		return &fs.PathError{Op: "stat", Path: path, Err: err}
	}
	if err := checkAttributes(path, info.FileAttributes, dir); err != nil {
		return err
	}
	if !dir {
		if t, err := windows.GetFileType(h); err != nil || t != windows.FILE_TYPE_DISK {
			return &Error{Path: path, Err: ErrNotRegular, Detail: fmt.Sprintf("file type %d", t)}
		}
	}
	user, err := currentUser()
	if err != nil {
		return err
	}
	sd, err := windows.GetSecurityInfo(h, windows.SE_FILE_OBJECT, windows.OWNER_SECURITY_INFORMATION|windows.DACL_SECURITY_INFORMATION)
	if err != nil {
		return fmt.Errorf("read the owner and DACL of %s: %w", path, err)
	}
	return checkDescriptor(path, sd, user, dir)
}

// EnsureDir creates dir (parents as needed) with a protected DACL granting
// only the current user if it is missing, and checks it: a directory, not a
// reparse point, owned by the current user. A directory of ours that others
// may use is restricted to us, but only if EnsureDir created it or every
// entry in it is one ours claims (a nil ours claims nothing: only an empty
// directory qualifies); otherwise it is left alone and the error unwraps to
// ErrShared.
func EnsureDir(dir string, ours func(name string) bool) error {
	h, err := open(dir, windows.READ_CONTROL|windows.FILE_READ_ATTRIBUTES, windows.OPEN_EXISTING, nil)
	created := false
	if errors.Is(err, fs.ErrNotExist) {
		created = true
		if err := mkdirPrivate(dir); err != nil {
			return err
		}
		h, err = open(dir, windows.READ_CONTROL|windows.FILE_READ_ATTRIBUTES, windows.OPEN_EXISTING, nil)
	}
	if err != nil {
		return err
	}
	defer windows.CloseHandle(h)
	err = checkHandle(dir, h, true)
	var e *Error
	if !errors.As(err, &e) || e.Err != ErrNotPrivate {
		return err
	}
	if !created {
		if err := ownedAlone(dir, e.Detail, ours); err != nil {
			return err
		}
	}
	// Ours (the owner was checked first) and holding nothing else, so
	// restrict it rather than leak what it holds.
	if terr := restrictDir(dir); terr != nil {
		e.Detail += "; restricting it failed: " + terr.Error()
		return e
	}
	if err := checkHandle(dir, h, true); err != nil {
		if errors.As(err, &e) {
			e.Detail += "; restricting it to you had no effect"
		}
		return err
	}
	return nil
}

func mkdirPrivate(dir string) error {
	if err := os.MkdirAll(filepath.Dir(dir), 0o777); err != nil {
		return err
	}
	user, err := currentUser()
	if err != nil {
		return err
	}
	sd, err := privateDescriptor(user, true)
	if err != nil {
		return err
	}
	p, err := windows.UTF16PtrFromString(dir)
	if err != nil {
		return &fs.PathError{Op: "mkdir", Path: dir, Err: err}
	}
	if err := windows.CreateDirectory(p, securityAttributes(sd)); err != nil && err != windows.ERROR_ALREADY_EXISTS {
		return &fs.PathError{Op: "mkdir", Path: dir, Err: err}
	}
	return nil
}

// restrictDir replaces dir's DACL with the private one (the owner may
// always change the DACL).
func restrictDir(dir string) error {
	user, err := currentUser()
	if err != nil {
		return err
	}
	sd, err := privateDescriptor(user, true)
	if err != nil {
		return err
	}
	dacl, _, err := sd.DACL()
	if err != nil {
		return err
	}
	h, err := open(dir, windows.READ_CONTROL|windows.WRITE_DAC, windows.OPEN_EXISTING, nil)
	if err != nil {
		return err
	}
	defer windows.CloseHandle(h)
	return windows.SetSecurityInfo(h, windows.SE_FILE_OBJECT,
		windows.DACL_SECURITY_INFORMATION|windows.PROTECTED_DACL_SECURITY_INFORMATION, nil, nil, dacl, nil)
}

// ownedAlone refuses (ErrShared) to change a directory holding an entry
// ours does not claim; detail says why it is not private.
func ownedAlone(dir, detail string, ours func(string) bool) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	name, err := foreignEntry(d, ours)
	d.Close()
	if err != nil {
		return fmt.Errorf("list %s: %w", dir, err)
	}
	if name != "" {
		return sharedError(dir, fmt.Sprintf("%s, and it holds %q, which is not mfabridge's; mfabridge does not change the access of a folder others use", detail, name))
	}
	return nil
}

// CheckDir checks an existing directory as EnsureDir does, without creating
// or changing it.
func CheckDir(dir string, ours func(name string) bool) error {
	h, err := open(dir, windows.READ_CONTROL|windows.FILE_READ_ATTRIBUTES, windows.OPEN_EXISTING, nil)
	if err != nil {
		return err
	}
	defer windows.CloseHandle(h)
	err = checkHandle(dir, h, true)
	var e *Error
	if errors.As(err, &e) && e.Err == ErrNotPrivate {
		if serr := ownedAlone(dir, e.Detail, ours); serr != nil {
			return serr
		}
	}
	return err
}

// ReadFile reads a private file of ours (see the package doc), at most limit
// bytes. The file is opened with FILE_SHARE_DELETE, so a writer can
// replace it meanwhile.
func ReadFile(path string, limit int64) ([]byte, error) {
	h, err := open(path, windows.GENERIC_READ|windows.READ_CONTROL, windows.OPEN_EXISTING, nil)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(h), path)
	defer f.Close()
	if err := checkHandle(path, h, false); err != nil {
		return nil, err
	}
	return io.ReadAll(io.LimitReader(f, limit))
}

// Check reports whether path is a private file of ours, without reading it.
func Check(path string) error {
	h, err := open(path, windows.READ_CONTROL|windows.FILE_READ_ATTRIBUTES, windows.OPEN_EXISTING, nil)
	if err != nil {
		return err
	}
	defer windows.CloseHandle(h)
	return checkHandle(path, h, false)
}

// createPrivate creates path, which must not exist, with the private
// descriptor.
func createPrivate(path string, access uint32) (windows.Handle, error) {
	user, err := currentUser()
	if err != nil {
		return windows.InvalidHandle, err
	}
	sd, err := privateDescriptor(user, false)
	if err != nil {
		return windows.InvalidHandle, err
	}
	return open(path, access, windows.CREATE_NEW, securityAttributes(sd))
}

// EnsureFile creates path empty and private if it is missing, and checks it
// otherwise. Lock files are made this way before they are locked.
func EnsureFile(path string) error {
	h, err := createPrivate(path, windows.READ_CONTROL)
	if err == nil {
		return windows.CloseHandle(h)
	}
	if !errors.Is(err, fs.ErrExist) {
		return err
	}
	return Check(path)
}

// WriteFile replaces path with a new private file holding data: temporary
// file in the same directory, flush, rename over path. A reader (or a crash)
// sees the old content or the new, never a mix.
func WriteFile(path string, data []byte) (err error) {
	var rnd [6]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return err
	}
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp-"+hex.EncodeToString(rnd[:]))
	h, err := createPrivate(tmp, windows.GENERIC_WRITE)
	if err != nil {
		return err
	}
	f := os.NewFile(uintptr(h), tmp)
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if _, err = f.Write(data); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	return replace(tmp, path)
}

// replaceTimeout bounds how long replace waits for another program to close
// the target.
var replaceTimeout = 2 * time.Second

// busyHook, when set (by tests), runs each time replace finds the target
// busy, before it waits.
var busyHook func()

// posixRenameUnsupported is set once FileRenameInfoEx is refused (Windows
// before 10 1709, FAT volumes, Wine), so the fallback is used directly.
var posixRenameUnsupported atomic.Bool

// replace renames tmp over dst. With POSIX semantics (Windows 10 1709 and
// later, NTFS) that works while readers that allowed FILE_SHARE_DELETE
// have dst open; they keep reading the old content. Elsewhere MoveFileEx
// fails while dst is open, and so does everything while a program that did
// not allow FILE_SHARE_DELETE (most, including Go's os.Open) has it open:
// then it is retried briefly, since such readers close quickly.
func replace(tmp, dst string) error {
	deadline := time.Now().Add(replaceTimeout)
	wait := time.Millisecond
	for {
		err := renameOver(tmp, dst)
		if err == nil {
			return nil
		}
		if !busy(err) || !replaceable(dst) {
			return &os.LinkError{Op: "rename", Old: tmp, New: dst, Err: err}
		}
		if time.Now().After(deadline) {
			return &Error{Path: dst, Err: ErrBusy, Detail: fmt.Sprintf("could not replace it for %v: %v", replaceTimeout, err),
				Fix: "close the program that keeps it open (an editor, a backup or antivirus scan) and try again"}
		}
		if busyHook != nil {
			busyHook()
		}
		time.Sleep(wait)
		wait = min(2*wait, 50*time.Millisecond)
	}
}

// replaceable reports whether dst is something a rename may replace once
// nobody holds it: not a directory, not read-only (both also give "access
// denied", and waiting does not help).
func replaceable(dst string) bool {
	fi, err := os.Lstat(dst)
	return err != nil || (fi.Mode().IsRegular() && fi.Mode().Perm()&0o200 != 0)
}

func busy(err error) bool {
	return err == windows.ERROR_ACCESS_DENIED || err == windows.ERROR_SHARING_VIOLATION || err == windows.ERROR_LOCK_VIOLATION
}

func renameOver(tmp, dst string) error {
	if !posixRenameUnsupported.Load() {
		err := renamePOSIX(tmp, dst)
		switch err {
		case windows.ERROR_INVALID_PARAMETER, windows.ERROR_NOT_SUPPORTED, windows.ERROR_INVALID_FUNCTION, windows.ERROR_CALL_NOT_IMPLEMENTED:
			posixRenameUnsupported.Store(true)
		default:
			return err
		}
	}
	from, err := windows.UTF16PtrFromString(tmp)
	if err != nil {
		return err
	}
	to, err := windows.UTF16PtrFromString(dst)
	if err != nil {
		return err
	}
	return windows.MoveFileEx(from, to, windows.MOVEFILE_REPLACE_EXISTING|windows.MOVEFILE_WRITE_THROUGH)
}

// fileRenameInfo is FILE_RENAME_INFO with its Flags member (the union with
// ReplaceIfExists) as used by FileRenameInfoEx.
type fileRenameInfo struct {
	Flags          uint32
	RootDirectory  windows.Handle
	FileNameLength uint32 // bytes, without the terminating NUL
	FileName       [1]uint16
}

// FILE_RENAME_INFO flags (winbase.h).
const (
	fileRenameReplaceIfExists = 0x1
	fileRenamePOSIXSemantics  = 0x2
)

// renamePOSIX renames tmp over dst with FileRenameInfoEx and
// FILE_RENAME_FLAG_POSIX_SEMANTICS: dst's open handles keep the old file.
func renamePOSIX(tmp, dst string) error {
	h, err := open(tmp, windows.DELETE|windows.SYNCHRONIZE, windows.OPEN_EXISTING, nil)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			return pe.Err
		}
		return err
	}
	defer windows.CloseHandle(h)
	buf, size, err := renameInfo(dst, fileRenameReplaceIfExists|fileRenamePOSIXSemantics)
	if err != nil {
		return err
	}
	return windows.SetFileInformationByHandle(h, windows.FileRenameInfoEx, &buf[0], size)
}

// renameInfo lays out a FILE_RENAME_INFO naming dst.
func renameInfo(dst string, flags uint32) ([]byte, uint32, error) {
	name, err := windows.UTF16FromString(dst)
	if err != nil {
		return nil, 0, err
	}
	n := len(name) - 1 // without the NUL
	size := unsafe.Offsetof(fileRenameInfo{}.FileName) + uintptr(len(name))*2
	size = max(size, unsafe.Sizeof(fileRenameInfo{}))
	// A []uint64 keeps the buffer 8-byte aligned for the handle field.
	words := make([]uint64, (size+7)/8)
	buf := unsafe.Slice((*byte)(unsafe.Pointer(&words[0])), len(words)*8)
	ri := (*fileRenameInfo)(unsafe.Pointer(&buf[0]))
	ri.Flags = flags
	ri.FileNameLength = uint32(n * 2)
	copy(unsafe.Slice(&ri.FileName[0], len(name)), name)
	return buf, uint32(size), nil
}

// openLockFile creates path with the private descriptor or opens the
// existing one without following a reparse point, and checks what it
// opened.
func openLockFile(path string) (*os.File, error) {
	const access = windows.GENERIC_READ | windows.READ_CONTROL
	h, err := createPrivate(path, access)
	if errors.Is(err, fs.ErrExist) {
		h, err = open(path, access, windows.OPEN_EXISTING, nil)
		if err == nil {
			if cerr := checkHandle(path, h, false); cerr != nil {
				windows.CloseHandle(h)
				return nil, cerr
			}
		}
	}
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(h), path), nil
}

// tryLock takes a LockFileEx lock of f's first byte without waiting.
func tryLock(f *os.File) (bool, error) {
	var ol windows.Overlapped
	err := windows.LockFileEx(windows.Handle(f.Fd()), windows.LOCKFILE_EXCLUSIVE_LOCK|windows.LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0, &ol)
	if err == nil {
		return true, nil
	}
	if errors.Is(err, windows.ERROR_LOCK_VIOLATION) || errors.Is(err, windows.ERROR_IO_PENDING) {
		return false, nil
	}
	return false, err
}
