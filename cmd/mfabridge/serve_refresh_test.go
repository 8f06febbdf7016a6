//go:build unix

package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestServeFailedRefreshBinary pins issue 13 case 10 on the built binary:
// `mfabridge serve` holds credentials that are valid but inside the refresh
// window (STS hands out ones with 10 minutes left, the margin is 15), the
// refresh needs a touch that does not come, and there is no terminal.
// Five parallel requests are answered with the still-valid credentials while
// the refresh's touch is pending, one touch is asked for, not one per
// request, and when it times out the back-off notice says so; five more
// requests are still answered from memory without another touch.
//
// Nothing here bets on time: the simulated key is touched (or not) when the
// test writes its release files, and the steps wait for lines of serve's
// --debug output. The deadlines only bound a hung test; a server that makes
// the requests wait for the touch runs into them.
func TestServeFailedRefreshBinary(t *testing.T) {
	w := newWorld(t, "release")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	// An STS that answers GetSessionToken with credentials 10 minutes from
	// their end, a new key each time.
	var gst atomic.Int32
	sts := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		if a := r.Form.Get("Action"); a != "GetSessionToken" {
			http.Error(rw, "unexpected action "+a, http.StatusBadRequest)
			return
		}
		n := gst.Add(1)
		exp := time.Now().Add(10 * time.Minute).UTC().Format(time.RFC3339)
		rw.Header().Set("Content-Type", "text/xml")
		fmt.Fprintf(rw, `<GetSessionTokenResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetSessionTokenResult><Credentials><AccessKeyId>ASIAFAKE%012d</AccessKeyId><SecretAccessKey>secret-%d</SecretAccessKey><SessionToken>token-%d</SessionToken><Expiration>%s</Expiration></Credentials></GetSessionTokenResult><ResponseMetadata><RequestId>fake</RequestId></ResponseMetadata></GetSessionTokenResponse>`, n, n, n, exp)
	}))
	defer sts.Close()
	if err := os.WriteFile(filepath.Join(w.dir, "config"), []byte(`[profile alice]
region = us-east-1
mfa_serial = arn:aws:iam::111111111111:mfa/alice
`), 0o600); err != nil {
		t.Fatal(err)
	}
	env := append([]string{}, w.env...)
	for i, kv := range env {
		if strings.HasPrefix(kv, "AWS_ENDPOINT_URL_STS=") {
			env[i] = "AWS_ENDPOINT_URL_STS=" + sts.URL
		}
	}
	env = append(env, "MFABRIDGE_TTY=none")

	// The first touch (serve's fetch before it serves) is released at once.
	if err := os.WriteFile(w.release, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, filepath.Join(w.dir, "mfabridge"), "--debug", "serve", "alice")
	cmd.Env = env
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			cmd.Process.Signal(os.Interrupt)
			cmd.Wait()
		}
	}
	defer stop()
	lines := make(chan string, 4096)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var log []string
	// waitLine reads serve's stderr until a line contains s.
	waitLine := func(s string) string {
		t.Helper()
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("serve's stderr ended before %q:\n%s", s, strings.Join(log, "\n"))
				}
				log = append(log, l)
				if strings.Contains(l, s) {
					return l
				}
			case <-ctx.Done():
				t.Fatalf("serve never printed %q:\n%s", s, strings.Join(log, "\n"))
			}
		}
	}

	sc := bufio.NewScanner(stdout)
	vars := map[string]string{}
	for len(vars) < 2 && sc.Scan() {
		k, v, _ := strings.Cut(strings.TrimPrefix(sc.Text(), "export "), "=")
		vars[k] = v
	}
	uri, token := vars["AWS_CONTAINER_CREDENTIALS_FULL_URI"], vars["AWS_CONTAINER_AUTHORIZATION_TOKEN"]
	if !strings.HasPrefix(uri, "http://127.0.0.1:") || token == "" {
		t.Fatalf("serve printed %v", vars)
	}
	const first = "ASIAFAKE000000000001"
	if n := gst.Load(); n != 1 {
		t.Fatalf("%d GetSessionToken calls before serving, want 1", n)
	}

	// get5 makes five requests at once; each must be answered with the
	// first credentials, without waiting for the refresh.
	get5 := func(round string) {
		t.Helper()
		var wg sync.WaitGroup
		errs := make([]string, 5)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, uri, nil)
				req.Header.Set("Authorization", token)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					errs[i] = fmt.Sprintf("request %d: %v (still waiting for the touch?)", i, err)
					return
				}
				defer resp.Body.Close()
				var body map[string]string
				if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != http.StatusOK || body["AccessKeyId"] != first {
					errs[i] = fmt.Sprintf("request %d: status %d, %v, decode error %v; want 200 with %s", i, resp.StatusCode, body, err, first)
				}
			}()
		}
		wg.Wait()
		for _, e := range errs {
			if e != "" {
				t.Errorf("%s: %s", round, e)
			}
		}
		if t.Failed() {
			t.FailNow()
		}
	}

	const touchLine = `msg="simulator: waiting for touch"`
	waitLine(touchLine) // serve's own fetch, released beforehand
	get5("while the refresh waits")
	// The refresh the requests started now waits for a touch (after the
	// next TOTP step: the first code's step is spent).
	waitLine(touchLine)
	if n := gst.Load(); n != 1 {
		t.Fatalf("%d GetSessionToken calls while the refresh waits for its touch, want 1", n)
	}
	// Nobody touches: the key times out.
	if err := os.WriteFile(w.release+".timeout", nil, 0o600); err != nil {
		t.Fatal(err)
	}
	notice := waitLine(`credential refresh for profile "alice" failed (1 in a row)`)
	for _, want := range []string{"still serving the current credentials until", "next attempt in 1m0s at the earliest"} {
		if !strings.Contains(notice, want) {
			t.Errorf("the failure notice does not say %q:\n%s", want, notice)
		}
	}
	get5("after the refresh failed")

	stop()
	for l := range lines {
		log = append(log, l)
	}
	all := strings.Join(log, "\n")
	if n := strings.Count(all, touchLine); n != 2 {
		t.Errorf("%d touches asked for, want 2 (serve's first fetch and one refresh for ten requests):\n%s", n, all)
	}
	if strings.Contains(all, "waiting for the lock of another mfabridge process") {
		t.Errorf("a second refresh waited for the first one's lock:\n%s", all)
	}
	if n := gst.Load(); n != 1 {
		t.Errorf("%d GetSessionToken calls, want 1", n)
	}
}
