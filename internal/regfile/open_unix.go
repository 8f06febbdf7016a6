//go:build unix

package regfile

import (
	"io"
	"io/fs"
	"syscall"
)

// open opens path read-only without blocking: O_NONBLOCK makes open(2) of
// a FIFO with no writer return at once (it has no effect on regular files),
// so Read can fstat it and refuse it. O_NOCTTY keeps a terminal device from
// becoming the controlling terminal.
//
// It uses the system calls directly rather than an *os.File: a config file
// is opened, checked, read and closed at once, and os.File's registration
// with the runtime's poller (its first use creates the epoll instance), its
// finalizer and its extra fcntl and epoll calls are most of what reading
// the AWS files costs on the warm path (cmd/mfabridge/internal/warm, issue
// 12). Errors are *fs.PathError, as os's are.
func open(path string) (file, error) { return openFD(path, 0) }

func openFD(path string, flags int) (*fdFile, error) {
	for {
		fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOCTTY|syscall.O_CLOEXEC|flags, 0)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return nil, &fs.PathError{Op: "open", Path: path, Err: err}
		}
		return &fdFile{fd: fd, path: path}, nil
	}
}

// ReadChecked reads the file at path as Read does, with open(2) flags
// added (O_NOFOLLOW, say), and a check of its own instead of Read's: check
// gets the type and permission bits, owner and size fstat reports for the
// open file, and only if it returns nil are at most limit bytes read.
// System call errors are *fs.PathError holding the errno (ELOOP for a
// link refused by O_NOFOLLOW). For internal/securefile (Unix).
func ReadChecked(path string, flags int, check func(mode fs.FileMode, uid uint32, size int64) error, limit int64) ([]byte, error) {
	f, err := openFD(path, flags)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.fstat()
	if err != nil {
		return nil, err
	}
	if err := check(statMode(uint32(st.Mode)), st.Uid, st.Size); err != nil {
		return nil, err
	}
	return readAtMost(f, st.Size, limit)
}

type fdFile struct {
	fd   int
	path string
}

func (f *fdFile) fstat() (*syscall.Stat_t, error) {
	var st syscall.Stat_t
	for {
		err := syscall.Fstat(f.fd, &st)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return nil, &fs.PathError{Op: "stat", Path: f.path, Err: err}
		}
		return &st, nil
	}
}

func (f *fdFile) stat() (fs.FileMode, int64, error) {
	st, err := f.fstat()
	if err != nil {
		return 0, 0, err
	}
	return statMode(uint32(st.Mode)), st.Size, nil
}

// statMode is the fs.FileMode of a stat(2) st_mode, as os computes it: the
// type and permission bits (setuid, setgid and sticky are left out).
func statMode(m uint32) fs.FileMode {
	mode := fs.FileMode(m & 0o777)
	switch m & syscall.S_IFMT {
	case syscall.S_IFREG:
	case syscall.S_IFDIR:
		mode |= fs.ModeDir
	case syscall.S_IFIFO:
		mode |= fs.ModeNamedPipe
	case syscall.S_IFSOCK:
		mode |= fs.ModeSocket
	case syscall.S_IFCHR:
		mode |= fs.ModeDevice | fs.ModeCharDevice
	case syscall.S_IFBLK:
		mode |= fs.ModeDevice
	case syscall.S_IFLNK:
		mode |= fs.ModeSymlink
	default:
		mode |= fs.ModeIrregular
	}
	return mode
}

func (f *fdFile) Read(b []byte) (int, error) {
	for {
		n, err := syscall.Read(f.fd, b)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return 0, &fs.PathError{Op: "read", Path: f.path, Err: err}
		}
		if n == 0 && len(b) > 0 {
			return 0, io.EOF
		}
		return n, nil
	}
}

func (f *fdFile) Close() error { return syscall.Close(f.fd) }
