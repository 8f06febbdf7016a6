// Package capbuf is a bounded output buffer for a child process's stdout
// or stderr: it keeps the first Max bytes written to it and drops the
// rest, while reporting every write as complete (so the child never sees
// a short write), and it is safe for the concurrent writes of exec.Cmd.
package capbuf

import (
	"bytes"
	"sync"
)

// Buffer keeps the first Max bytes written to it. The zero value keeps
// nothing; set Max before the first Write.
type Buffer struct {
	Max  int
	mu   sync.Mutex
	buf  bytes.Buffer
	over bool
}

// Write keeps what fits and reports len(p) written.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := b.Max - b.buf.Len(); room < len(p) {
		b.over = true
		b.buf.Write(p[:max(room, 0)])
		return len(p), nil
	}
	return b.buf.Write(p)
}

// String is what was kept.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Bytes is a copy of what was kept.
func (b *Buffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.buf.Bytes())
}

// Over reports whether more than Max bytes were written.
func (b *Buffer) Over() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.over
}
