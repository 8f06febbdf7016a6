//go:build linux

package main

import (
	"bytes"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
)

func TestSocketOwner(t *testing.T) {
	// Two ends of one loopback connection (client port 0xC350 = 50000,
	// server port 0x8E61 = 36449) and a listener, as in /proc/net/tcp.
	data := []byte(`  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:8E61 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 404976 2 0 100 0 0 10 0
   1: 0100007F:8E61 0100007F:C350 01 00000000:00000000 00:00000000 00000000     0        0 404977 1 0 20 4 30 10 -1
   2: 0100007F:C350 0100007F:8E61 01 00000000:00000000 00:00000000 00000000  1000        0 404978 1 0 20 4 30 10 -1
`)
	if uid, ok := socketOwner(data, "127.0.0.1:50000", "127.0.0.1:36449"); !ok || uid != 1000 {
		t.Errorf("client end: uid %d, found %v; want 1000", uid, ok)
	}
	if uid, ok := socketOwner(data, "127.0.0.1:36449", "127.0.0.1:50000"); !ok || uid != 0 {
		t.Errorf("server end: uid %d, found %v; want 0", uid, ok)
	}
	if _, ok := socketOwner(data, "127.0.0.1:50001", "127.0.0.1:36449"); ok {
		t.Error("found a connection that is not listed")
	}
	if _, ok := socketOwner(data, "[::1]:50000", "127.0.0.1:36449"); ok {
		t.Error("found an IPv6 peer in the IPv4 table")
	}
}

func noFollow() *http.Client {
	return &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func TestRedirectOneTime(t *testing.T) {
	const target = "https://signin.aws.amazon.com/federation?Action=login&SigninToken=secret"
	rd, err := newRedirect(target, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	get := func(u string) *http.Response {
		t.Helper()
		resp, err := noFollow().Get(u)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	base := rd.Local[:strings.LastIndexByte(rd.Local, '/')]
	if resp := get(base + "/wrong-nonce"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("wrong nonce: %s", resp.Status)
	}
	if resp, err := http.Post(rd.Local, "text/plain", nil); err != nil || resp.StatusCode != http.StatusNotFound {
		t.Errorf("POST: %v %v", resp, err)
	}
	resp := get(rd.Local)
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != target || resp.Header.Get("Referrer-Policy") != "no-referrer" {
		t.Fatalf("first GET: %s Location %q", resp.Status, resp.Header.Get("Location"))
	}
	select {
	case <-rd.Served:
	default:
		t.Error("Served not closed after the redirect")
	}
	if resp := get(rd.Local); resp.StatusCode != http.StatusGone || resp.Header.Get("Location") != "" {
		t.Errorf("second GET: %s Location %q", resp.Status, resp.Header.Get("Location"))
	}
}

// A process of another user that learnt the address (from the launcher's
// argv) is refused, and does not spend the redirect.
func TestRedirectRefusesOtherUser(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to run a client as another user")
	}
	py, err := exec.LookPath("/usr/bin/python3") // the system one: uid 65534 cannot reach a pyenv under /root
	if err != nil {
		t.Skip("/usr/bin/python3 (the other user's HTTP client) not installed")
	}
	var mu sync.Mutex
	var refused []int
	rd, err := newRedirect("https://signin.aws.amazon.com/federation?SigninToken=secret", func(uid int) {
		mu.Lock()
		refused = append(refused, uid)
		mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	cmd := exec.Command(py, "-c", `import sys, urllib.request, urllib.error
class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *a): return None
try:
    r = urllib.request.build_opener(NoRedirect).open(sys.argv[1]); print(r.status)
except urllib.error.HTTPError as e:
    print(e.code)`, rd.Local)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("python3 as uid 65534: %v\n%s", err, errb.String())
	}
	if got := strings.TrimSpace(out.String()); got != "403" {
		t.Errorf("another user's fetch: %s, want 403", got)
	}
	mu.Lock()
	if len(refused) != 1 || refused[0] != 65534 {
		t.Errorf("refused callback got %v, want [65534]", refused)
	}
	mu.Unlock()
	resp, err := noFollow().Get(rd.Local)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Errorf("our own fetch after the refused one: %s, want 302", resp.Status)
	}
}
