// Package regfile reads configuration files safely: only regular files
// (following symlinks, which dotfile managers use), never a FIFO, a device
// or a directory, and never more than a caller-given number of bytes.
//
// Error contract: Read wraps fs.ErrNotExist (and the other os errors) from
// opening the file, ErrNotRegular for anything but a regular file, and
// ErrTooLarge for a file over the limit; every error names the path.
//
// Opening does not block on a FIFO: on Unix the file is opened with
// O_NONBLOCK (open_unix.go) and checked with fstat before any read, so a
// FIFO planted where a config file is expected is refused at once instead
// of hanging the process (issue 13 case 15).
package regfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
)

var (
	// ErrNotRegular: the path names a FIFO, socket, device or directory.
	ErrNotRegular = errors.New("not a regular file")
	// ErrTooLarge: the file holds more bytes than the caller allows.
	ErrTooLarge = errors.New("file too large")
)

// Read returns the contents of the regular file at path, at most limit
// bytes. /proc-style files that report size 0 are still read, up to limit.
func Read(path string, limit int64) ([]byte, error) {
	f, err := open(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	defer f.Close()
	mode, size, err := f.stat()
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if !mode.IsRegular() {
		return nil, fmt.Errorf("read %s: %w (%s)", path, ErrNotRegular, kind(mode))
	}
	if size > limit {
		return nil, fmt.Errorf("read %s: %w: %d bytes, the limit is %d", path, ErrTooLarge, size, limit)
	}
	data, err := readAtMost(f, size, limit+1)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("read %s: %w: more than %d bytes", path, ErrTooLarge, limit)
	}
	return data, nil
}

// readAtMost reads r to its end, but at most limit bytes, into a buffer
// sized for size (what fstat reported: one read for a regular file that
// did not grow; files that report 0, as /proc's do, are still read).
func readAtMost(r io.Reader, size, limit int64) ([]byte, error) {
	buf := make([]byte, 0, min(max(size, 0)+1, limit))
	for int64(len(buf)) < limit {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):min(int64(cap(buf)), limit)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	return buf, nil
}

// file is an open file to read (open_unix.go, open_windows.go): its type
// and permission bits and its size, as fstat reports them.
type file interface {
	io.ReadCloser
	stat() (mode fs.FileMode, size int64, err error)
}

func kind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a FIFO"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a block device"
	default:
		return "type " + m.Type().String()
	}
}
