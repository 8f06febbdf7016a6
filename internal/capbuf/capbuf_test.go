package capbuf

import (
	"strings"
	"sync"
	"testing"
)

func TestBuffer(t *testing.T) {
	b := &Buffer{Max: 5}
	if n, err := b.Write([]byte("abc")); n != 3 || err != nil || b.Over() {
		t.Fatalf("Write = %d, %v, over %v", n, err, b.Over())
	}
	if n, err := b.Write([]byte("defgh")); n != 5 || err != nil {
		t.Fatalf("Write past Max = %d, %v; want the whole write reported", n, err)
	}
	if b.String() != "abcde" || string(b.Bytes()) != "abcde" || !b.Over() {
		t.Fatalf("kept %q (%q), over %v; want the first 5 bytes, over", b.String(), b.Bytes(), b.Over())
	}
	b.Write([]byte("x"))
	if b.String() != "abcde" {
		t.Fatalf("a full buffer took more: %q", b.String())
	}
}

// TestBufferConcurrent: exec.Cmd may write stdout and stderr to one
// buffer from two goroutines (run with -race).
func TestBufferConcurrent(t *testing.T) {
	b := &Buffer{Max: 1000}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 100 {
				b.Write([]byte("ab"))
			}
		})
	}
	wg.Wait()
	if got := b.String(); len(got) != 800 || strings.Trim(got, "ab") != "" {
		t.Fatalf("kept %d bytes %q…", len(got), got[:min(len(got), 20)])
	}
}
