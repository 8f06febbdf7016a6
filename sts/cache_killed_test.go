package sts

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mfabridge/mfabridge/sts/stepcache"
)

// Writers killed mid-write. Both helpers below are this test binary re-run
// as a child process; each tells the parent where it is through its stdout
// (one "mark ..." line), so the parent kills it at a known point instead of
// after a guessed sleep.

const (
	tornDirEnv   = "STS_CACHE_TORN_DIR"   // TestCacheTornWriterHelper's cache
	writerDirEnv = "STS_CACHE_WRITER_DIR" // TestCacheWriterHelper's cache
	realDirEnv   = "STS_CACHE_REAL_DIR"   // TestCacheRealWriterHelper's cache

	markTemp  = "mark temp written, rename not done: " // + temp file path
	markPut   = "mark put done: "                      // + entry number
	markReady = "mark writer starts"
)

// TestCacheKilledWriter kills a writer that has written part of an entry to
// its temporary file and not renamed it: the child says so through a pipe,
// then the test SIGKILLs it. Readers must still see the old entry whole,
// and the next write must sweep the temporary file once it is stale.
func TestCacheKilledWriter(t *testing.T) {
	dir := testCacheDir(t)
	c := mustOpenCache(t, dir)
	old := writerEntry(-1)
	if err := c.put("k", old); err != nil {
		t.Fatal(err)
	}

	child, lines := startWriterChild(t, "TestCacheTornWriterHelper", tornDirEnv, dir)
	tmp := strings.TrimPrefix(waitMark(t, lines, markTemp), markTemp)
	killWriterChild(t, child)

	// The writer died mid-write: its temp file holds a torn entry.
	b, err := os.ReadFile(tmp)
	if err != nil {
		t.Fatalf("the killed writer left no temp file (%v): it was not killed mid-write", err)
	}
	if _, err := stepcache.ParseEntry(b); err == nil {
		t.Fatalf("temp file %s holds a whole entry: the writer was not killed mid-write", tmp)
	}

	// Readers, old and new, see the old entry, whole.
	for name, r := range map[string]*fileCache{"open cache": c, "new reader": mustOpenCache(t, dir)} {
		checkWhole(t, name, r.get("k", discardLog), -1)
	}

	checkSweep(t, c, dir, []string{tmp})
}

// TestCacheKilledWriterLoop kills a real writer (fileCache.put in a loop)
// right after it reports a finished write, that is while it is most likely
// in the next one, and checks the entry is always whole. Where the kill
// lands is up to the scheduler; TestCacheKilledWriter pins the mid-write
// case.
func TestCacheKilledWriterLoop(t *testing.T) {
	dir := testCacheDir(t)
	c := mustOpenCache(t, dir)
	if err := c.put("k", writerEntry(-1)); err != nil {
		t.Fatal(err)
	}
	for round := range 4 {
		child, lines := startWriterChild(t, "TestCacheWriterHelper", writerDirEnv, dir)
		waitMark(t, lines, markPut+strconv.Itoa(round)) // round+1 writes done
		killWriterChild(t, child)
		someWriters(t, fmt.Sprintf("round %d", round), c.get("k", discardLog))
	}
}

// TestCacheKilledRealWriter kills the real writer (fileCache.put, that is
// securefile.WriteFile) inside an atomic write: the parent watches the cache
// directory and SIGKILLs the child as soon as a temporary file of the entry
// appears, and counts the kill as mid-write only if that temporary file is
// still there after the child is dead (written, not yet renamed). Where the
// kill lands is the scheduler's, so it tries up to ten children, and fails
// if it never caught one mid-write. Readers see a whole entry, and the
// next write sweeps what the dead writer left once it is stale: the sweep's
// pattern matches the real writer's temporary files, not a stand-in's.
func TestCacheKilledRealWriter(t *testing.T) {
	dir := testCacheDir(t)
	c := mustOpenCache(t, dir)
	if err := c.put("k", writerEntry(-1)); err != nil {
		t.Fatal(err)
	}
	pattern := filepath.Join(dir, ".k.json.tmp-*")
	for round := range 10 {
		child, lines := startWriterChild(t, "TestCacheRealWriterHelper", realDirEnv, dir)
		waitMark(t, lines, markReady)
		var tmps []string
		for deadline := time.Now().Add(time.Minute); len(tmps) == 0; {
			// Busy: the point is to kill within the write.
			tmps, _ = filepath.Glob(pattern)
			if time.Now().After(deadline) {
				t.Fatalf("round %d: the writer made no temporary file in a minute", round)
			}
		}
		killWriterChild(t, child)
		n := someWriters(t, fmt.Sprintf("round %d, open cache", round), c.get("k", discardLog))
		checkWhole(t, fmt.Sprintf("round %d, new reader", round), mustOpenCache(t, dir).get("k", discardLog), n)
		left, _ := filepath.Glob(pattern)
		if len(left) == 0 {
			continue // the write was over (renamed) before the kill landed
		}
		t.Logf("round %d: writer killed mid-write, leaving %v; entry %d is whole", round, left, n)
		checkSweep(t, c, dir, left)
		return
	}
	t.Fatal("in ten rounds no kill landed inside a write")
}

// TestCacheRealWriterHelper writes entries 0, 1, 2, … with fileCache.put,
// silently, until killed.
func TestCacheRealWriterHelper(t *testing.T) {
	c := mustOpenCache(t, helperDir(t, realDirEnv, "TestCacheKilledRealWriter"))
	fmt.Println(markReady)
	for n := 0; ; n++ {
		if err := c.put("k", writerEntry(n)); err != nil {
			t.Fatal(err)
		}
	}
}

func writerEntry(n int) *cacheEntry {
	e := testEntry(fmt.Sprintf("AKIAW%d", n), t0)
	e.Credentials.SessionToken = strings.Repeat(strconv.Itoa((n+10)%10), 200_000+(n+1000)%1000)
	return e
}

// checkWhole fails unless e is writerEntry(n), token and all.
func checkWhole(t *testing.T, what string, e *cacheEntry, n int) {
	t.Helper()
	want := writerEntry(n)
	switch {
	case e == nil:
		t.Fatalf("%s: entry unreadable, want %s", what, want.Credentials.AccessKeyID)
	case e.Credentials.AccessKeyID != want.Credentials.AccessKeyID || e.Credentials.SessionToken != want.Credentials.SessionToken:
		t.Fatalf("%s: entry %q with a %d-byte token, want %q whole (%d bytes)", what,
			e.Credentials.AccessKeyID, len(e.Credentials.SessionToken), want.Credentials.AccessKeyID, len(want.Credentials.SessionToken))
	}
}

// someWriters fails unless e is writerEntry(n), token and all, for some
// n, and returns n.
func someWriters(t *testing.T, what string, e *cacheEntry) int {
	t.Helper()
	if e == nil {
		t.Fatalf("%s: entry unreadable after the kill", what)
	}
	n, err := strconv.Atoi(strings.TrimPrefix(e.Credentials.AccessKeyID, "AKIAW"))
	if err != nil {
		t.Fatalf("%s: entry of no writer: %q", what, e.Credentials.AccessKeyID)
	}
	checkWhole(t, what, e, n)
	return n
}

// checkSweep checks what a write does with the temporary files left by a
// writer killed mid-write: fresh, they may be a live writer's, so they
// stay; stale (two hours old), the next write sweeps them. The entry is
// then that write's, whole.
func checkSweep(t *testing.T, c *fileCache, dir string, left []string) {
	t.Helper()
	if err := c.put("k", writerEntry(100)); err != nil {
		t.Fatal(err)
	}
	stale := time.Now().Add(-2 * time.Hour)
	for _, f := range left {
		if _, err := os.Lstat(f); err != nil {
			t.Fatalf("a write removed a fresh temp file (a live writer's): %v", err)
		}
		if err := os.Chtimes(f, stale, stale); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.put("k", writerEntry(101)); err != nil {
		t.Fatal(err)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".*.tmp-*")); len(left) != 0 {
		t.Errorf("the dead writer's temp files are left after a write: %v", left)
	}
	checkWhole(t, "after the sweep", c.get("k", discardLog), 101)
}

// helperDir is the cache folder a writer helper is given in env; without
// it the helper is not a child of parent and skips.
func helperDir(t *testing.T, env, parent string) string {
	t.Helper()
	dir := os.Getenv(env)
	if dir == "" {
		t.Skip("helper process for " + parent)
	}
	return dir
}

func mustOpenCache(t *testing.T, dir string) *fileCache {
	t.Helper()
	c, err := openCache(dir)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// startWriterChild runs the helper test in a child process and returns it
// with the lines of its stdout. Its stdin is a pipe it blocks on: if this
// test dies, the child sees EOF and exits.
func startWriterChild(t *testing.T, helper, env, dir string) (*exec.Cmd, <-chan string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^"+helper+"$", "-test.v")
	cmd.Env = append(os.Environ(), env+"="+dir)
	cmd.Stderr = os.Stderr
	if _, err := cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines, done := make(chan string), make(chan struct{})
	t.Cleanup(func() { close(done); cmd.Process.Kill(); cmd.Wait() })
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			case <-done:
				return
			}
		}
	}()
	return cmd, lines
}

// waitMark returns the first line that starts with prefix.
func waitMark(t *testing.T, lines <-chan string, prefix string) string {
	t.Helper()
	timeout := time.After(time.Minute) // a bound on a hung child, not a synchronisation
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("writer child exited before %q", prefix)
			}
			if strings.HasPrefix(l, prefix) {
				return l
			}
		case <-timeout:
			t.Fatalf("writer child never said %q", prefix)
		}
	}
}

// killWriterChild SIGKILLs the child and checks that the kill is what ended
// it (on Unix; Windows has no signals to tell apart).
func killWriterChild(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	if runtime.GOOS == "windows" {
		return
	}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("writer child ended with %v, not by the kill", cmd.ProcessState)
	}
}

// TestCacheTornWriterHelper is a writer stopped between the two halves of
// an atomic write: it writes the first half of an entry to a temporary
// file named as securefile.WriteFile names them, syncs it, says so, and
// waits to be killed before writing the rest or renaming.
func TestCacheTornWriterHelper(t *testing.T) {
	dir := helperDir(t, tornDirEnv, "TestCacheKilledWriter")
	e := writerEntry(7)
	e.Version = cacheVersion
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.CreateTemp(dir, ".k.json.tmp-*")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(b[:len(b)/2]); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	fmt.Printf("%s%s\n", markTemp, f.Name())
	io.Copy(io.Discard, os.Stdin) // until killed (or the parent is gone)
	t.Fatal("parent closed stdin instead of killing the writer")
}

// TestCacheWriterHelper writes entries 0, 1, 2, … with fileCache.put and
// reports each finished write, until killed.
func TestCacheWriterHelper(t *testing.T) {
	c := mustOpenCache(t, helperDir(t, writerDirEnv, "TestCacheKilledWriterLoop"))
	for n := 0; ; n++ {
		if err := c.put("k", writerEntry(n)); err != nil {
			t.Fatal(err)
		}
		fmt.Printf("%s%d\n", markPut, n)
	}
}
