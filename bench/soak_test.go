//go:build unix

// The soak test checks Unix cache invariants (mode 0600, uid, inode
// snapshots) and sends Unix signals; internal/securefile has the Windows
// equivalents and their tests.

package bench

// The fault and load suite: mixed `credential-process`, `exec` and `serve`
// requests (separate mfabridge processes) across the profiles of several
// users while faults are injected one round at a time: cache files
// truncated, made unreadable, owned by another user or replaced by planted
// credentials, processes killed mid-write, STS answering 500, throttling,
// slow, with a shifted clock, and a TOTP step already used by someone else.
// After every round the invariants are checked: no corrupted cache file
// written by mfabridge, no credential with under 15 minutes left handed
// out, no (MFA serial, TOTP step) sent twice, and — over the whole run — no
// secret in any diagnostic output. The card and pcscd faults need pcscd:
// see pcsc/soak_test.go.
//
// By default a short version runs (part of `make test`); `-soak 3m` (make
// soak) repeats the rounds with bigger batches until the time is up.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awssts "github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/mfabridge/mfabridge/simulator/stsemu"
	"github.com/mfabridge/mfabridge/sts"
	"github.com/mfabridge/mfabridge/sts/awsconfig"
)

var soakFor = flag.Duration("soak", 0, "run the fault and load suite for this long instead of the short version (make soak)")

const (
	soakUsers = 6 // alice serves the load; the others are victims of code faults
	soakRoles = 4
	plantedID = "ASIAPLANTEDBYMALLORY"
)

// soak is one run of the suite.
type soak struct {
	t      *testing.T
	w      *world
	long   bool
	direct string // the emulator without the inspecting wrapper, for the suite's own calls

	fault      atomic.Pointer[faultRule]
	faultCount atomic.Int64

	mu         sync.Mutex
	round      string
	requests   map[string]int    // by kind
	failures   map[string]int    // by cause
	examples   map[string]string // one error text per cause
	unexpected []string          // failures in rounds whose fault cannot explain them
	violations []string
	killed     int
	diag       []string        // stderr of every process, failed stdout
	issued     map[string]bool // secret access keys and session tokens handed out
	sent       map[string]int  // "serial step" -> requests carrying it
	codes      map[string]bool // codes sent to STS
	snapshots  map[string]fileSnap
	active     []int // users whose profiles take the load (alice); the others are only victims
	nextVictim int
	victim     int // the user a code fault targets this round (-1: none)
	checks     int
}

// faultRule decides the STS fault of each request of a round.
type faultRule struct {
	action string // "" = every action
	every  int64  // fault every n-th matching request (1 = all)
	limit  int64  // at most this many (0 = no limit)
	fault  stsemu.Fault
}

func (s *soak) decide(action string, seq int64) stsemu.Fault {
	r := s.fault.Load()
	if r == nil || (r.action != "" && r.action != action) {
		return stsemu.Fault{}
	}
	n := s.faultCount.Add(1)
	if r.limit > 0 && n > r.limit {
		return stsemu.Fault{}
	}
	if (n-1)%r.every != 0 {
		return stsemu.Fault{}
	}
	return r.fault
}

// inspect records the TOTP step of every code sent to STS.
func (s *soak) inspect(h http.Handler) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(rw, "read body", http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		form, _ := url.ParseQuery(string(body))
		if code := form.Get("TokenCode"); code != "" {
			serial := form.Get("SerialNumber")
			key := fmt.Sprintf("%s step %d", serial, stepOf(serial, code, time.Now()))
			s.mu.Lock()
			s.sent[key]++
			s.codes[code] = true
			if s.sent[key] == 2 {
				s.violations = append(s.violations, fmt.Sprintf("%s: %s sent twice", s.round, key))
			}
			s.mu.Unlock()
		}
		h.ServeHTTP(rw, r)
	})
}

// stepOf finds the TOTP step (near now) whose code for serial is code; -1
// when none matches.
func stepOf(serial, code string, now time.Time) int64 {
	for i := range soakUsers {
		u := newUser(i)
		if u.serial() != serial {
			continue
		}
		for d := int64(-3); d <= 3; d++ {
			step := now.Unix()/30 + d
			c, err := totpAt(u.mfaSecret, time.Unix(step*30, 0))
			if err == nil && c == code {
				return step
			}
		}
	}
	return -1
}

func totpAt(secret string, at time.Time) (string, error) {
	return totp.GenerateCodeCustom(secret, at, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
}

func TestSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns hundreds of processes")
	}
	s := &soak{t: t, long: *soakFor > 0, requests: map[string]int{}, failures: map[string]int{},
		examples: map[string]string{}, issued: map[string]bool{}, sent: map[string]int{}, codes: map[string]bool{},
		snapshots: map[string]fileSnap{}, active: []int{0}, nextVictim: 1}
	s.w = newWorldUsers(t, soakUsers, soakRoles, s.inspect, stsemu.WithFaults(&stsemu.Faults{Decide: s.decide}))
	s.direct = httptestServer(t, s.w.srv)

	scenarios := []scenario{
		{name: "cold start", run: func(s *soak) {}},
		{name: "cache files truncated", run: (*soak).truncateCache},
		{name: "cache files unreadable (mode 000)", run: (*soak).unreadableCache},
		{name: "cache files owned by another user", run: (*soak).foreignCache},
		{name: "cache entries replaced by another user's planted credentials", run: (*soak).plantedCache},
		{name: "processes killed mid-write", run: (*soak).killMidWrite},
		{name: "STS answers 500 to every other request", expect: true, run: func(s *soak) {
			s.dropRoleEntries()
			s.setFault(&faultRule{every: 2, fault: stsemu.Fault{Kind: stsemu.FaultInternal}})
		}},
		{name: "STS throttles every other request", expect: true, run: func(s *soak) {
			s.dropRoleEntries()
			s.setFault(&faultRule{every: 2, fault: stsemu.Fault{Kind: stsemu.FaultThrottle}})
		}},
		{name: "STS slow", run: func(s *soak) {
			s.dropRoleEntries()
			s.setFault(&faultRule{every: 1, fault: stsemu.Fault{Delay: s.pick(300*time.Millisecond, 2*time.Second)}})
		}},
		{name: "STS clock 20 minutes ahead", expect: true, run: func(s *soak) {
			s.dropRoleEntries()
			s.setFault(&faultRule{every: 1, fault: stsemu.Fault{DateShift: 20 * time.Minute}})
		}},
		{name: "TOTP step already used by another client", expect: true, victim: true, run: (*soak).usedStep},
		{name: "STS 500 after GetSessionToken consumed the code", expect: true, victim: true, run: func(s *soak) {
			s.dropVictimSession()
			s.setFault(&faultRule{action: "GetSessionToken", every: 1, limit: 1,
				fault: stsemu.Fault{Kind: stsemu.FaultInternal, AfterAction: true}})
		}},
	}
	deadline := time.Now().Add(*soakFor)
	start := time.Now()
	for pass := 0; ; pass++ {
		for _, sc := range scenarios {
			if pass > 0 && sc.name == "cold start" {
				continue
			}
			s.runRound(sc)
			if t.Failed() {
				s.report(time.Since(start))
				return
			}
		}
		if !s.long || time.Now().After(deadline) {
			break
		}
	}
	s.checkSecrets()
	s.report(time.Since(start))
	if len(s.violations) > 0 {
		t.Errorf("%d invariant violations:\n%s", len(s.violations), strings.Join(s.violations, "\n"))
	}
	if len(s.unexpected) > 0 {
		t.Errorf("%d failures no injected fault explains:\n%s", len(s.unexpected), strings.Join(s.unexpected, "\n"))
	}
}

type scenario struct {
	name   string
	expect bool // requests may fail (the fault is visible to the user)
	victim bool // needs a fresh MFA code from a user not under load
	run    func(*soak)
}

func (s *soak) pick(short, long time.Duration) time.Duration {
	if s.long {
		return long
	}
	return short
}

func (s *soak) setFault(r *faultRule) {
	s.faultCount.Store(0)
	s.fault.Store(r)
}

// runRound injects one fault, sends a batch of requests, removes the fault
// and checks the invariants.
func (s *soak) runRound(sc scenario) {
	s.mu.Lock()
	s.round = sc.name
	s.mu.Unlock()
	victim := -1
	if sc.victim {
		victim = s.nextVictim
		s.nextVictim++
		if s.nextVictim >= soakUsers {
			s.nextVictim = 1
		}
	}
	s.victim = victim
	sc.run(s)
	var profiles []string
	for _, u := range s.active {
		for r := range soakRoles {
			profiles = append(profiles, newUser(u).profile(r))
		}
	}
	n := 24
	if s.long {
		n = 96
	}
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	if victim >= 0 {
		// The victim's requests: one in the short run (a second one would
		// wait up to 30 s for the next TOTP step), several in the long one.
		vn := 1
		if s.long {
			vn = 6
		}
		for i := range vn {
			p := newUser(victim).profile(i % soakRoles)
			wg.Go(func() { s.credentialProcess(sc, p) })
		}
	}
	srv := s.startServe(sc, profiles[rand.IntN(len(profiles))])
	for i := range n {
		p := profiles[rand.IntN(len(profiles))]
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			switch {
			case i%8 == 7 && srv != nil:
				s.serveGet(sc, srv)
			case i%8 >= 5:
				s.exec(sc, p)
			default:
				s.credentialProcess(sc, p)
			}
		})
	}
	wg.Wait()
	if srv != nil {
		s.stopServe(sc, srv)
	}
	s.fault.Store(nil)
	s.checkCache()
	s.checks++
}

// result records one request's outcome.
func (s *soak) result(sc scenario, kind, profile string, stdout, stderr string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests[kind]++
	s.diag = append(s.diag, stderr)
	if err == nil {
		return
	}
	s.diag = append(s.diag, stdout)
	msg := errorLine(stderr)
	if msg == "" {
		msg = err.Error()
	}
	cause := sc.name + ": " + classify(msg)
	s.failures[cause]++
	if _, ok := s.examples[cause]; !ok {
		s.examples[cause] = msg
	}
	if !sc.expect && !(sc.victim && strings.HasPrefix(profile, newUser(s.victim).name)) {
		s.unexpected = append(s.unexpected, fmt.Sprintf("%s: %s %s: %s", sc.name, kind, profile, msg))
	}
}

// errorLine is the error of stderr: the last "mfabridge: error: " line
// (printed after any notices, before its hints), else the last
// "mfabridge: " line that is not a hint.
func errorLine(stderr string) string {
	msg, errMsg := "", ""
	for _, line := range strings.Split(stderr, "\n") {
		m, ok := strings.CutPrefix(line, "mfabridge: ")
		switch {
		case !ok || strings.HasPrefix(m, "hint: "):
		case strings.HasPrefix(m, "error: "):
			errMsg = strings.TrimSpace(strings.TrimPrefix(m, "error: "))
		default:
			msg = strings.TrimSpace(m)
		}
	}
	if errMsg != "" {
		return errMsg
	}
	return msg
}

// classify reduces an error text to its cause (for counting).
func classify(msg string) string {
	l := strings.ToLower(msg)
	for _, c := range []struct{ word, cause string }{
		{"already used", "code already used"},
		{"internalfailure", "STS internal error (500)"},
		{"500", "STS internal error (500)"},
		{"throttl", "STS throttling"},
		{"rate exceeded", "STS throttling"},
		{"clock", "clock skew"},
		{"signature", "clock skew"},
		{"expired", "expired"},
		{"timeout", "timeout"},
		{"no answer within", "timeout"},
	} {
		if strings.Contains(l, c.word) {
			return c.cause
		}
	}
	if len(msg) > 80 {
		msg = msg[:80] + "…"
	}
	return "other: " + msg
}

// handedOut checks credentials given to a client.
func (s *soak) handedOut(sc scenario, kind string, c *sts.Credentials) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if left := time.Until(c.Expiration); left < awsconfig.MinRemaining {
		s.violations = append(s.violations, fmt.Sprintf("%s: %s handed out credentials with %v left", sc.name, kind, left.Round(time.Second)))
	}
	if c.AccessKeyID == plantedID {
		s.violations = append(s.violations, fmt.Sprintf("%s: %s handed out the planted credentials", sc.name, kind))
	}
	s.issued[c.SecretAccessKey] = true
	if c.SessionToken != "" {
		s.issued[c.SessionToken] = true
	}
}

func (s *soak) credentialProcess(sc scenario, profile string) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	stdout, stderr, err := s.w.run(ctx, "", "credential-process", profile)
	if err == nil {
		c, perr := sts.ParseProcessOutput([]byte(stdout))
		if perr != nil {
			err = fmt.Errorf("bad credential_process output: %w", perr)
			s.mu.Lock()
			s.violations = append(s.violations, fmt.Sprintf("%s: credential-process %s: %v", sc.name, profile, perr))
			s.mu.Unlock()
		} else {
			s.handedOut(sc, "credential-process", c)
		}
	}
	s.result(sc, "credential-process", profile, stdout, stderr, err)
}

// exec runs a child that checks its environment; it prints nothing.
func (s *soak) exec(sc scenario, profile string) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	stdout, stderr, err := s.w.run(ctx, "", "exec", profile, "--", "/bin/sh", "-c",
		`test -n "$AWS_ACCESS_KEY_ID" && test -n "$AWS_SECRET_ACCESS_KEY" && test -n "$AWS_SESSION_TOKEN" && test -z "$AWS_PROFILE"`)
	s.result(sc, "exec", profile, stdout, stderr, err)
}

// served is a running `mfabridge serve`.
type served struct {
	profile, url, token string
	cmd                 *exec.Cmd
	stderr              *syncBuf
	done                chan error
}

func (s *soak) startServe(sc scenario, profile string) *served {
	cmd := s.w.command(context.Background(), "", "serve", profile)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		s.t.Fatal(err)
	}
	sv := &served{profile: profile, cmd: cmd, stderr: &syncBuf{}, done: make(chan error, 1)}
	cmd.Stderr = sv.stderr
	if err := cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		sv.done <- cmd.Wait()
	}()
	timeout := time.After(90 * time.Second)
	for sv.url == "" || sv.token == "" {
		select {
		case line, ok := <-lines:
			if !ok {
				err := <-sv.done
				s.result(sc, "serve", profile, "", sv.stderr.String(), fmt.Errorf("serve exited: %v", err))
				return nil
			}
			if v, ok := strings.CutPrefix(line, "export AWS_CONTAINER_CREDENTIALS_FULL_URI="); ok {
				sv.url = v
			}
			if v, ok := strings.CutPrefix(line, "export AWS_CONTAINER_AUTHORIZATION_TOKEN="); ok {
				sv.token = v
			}
		case <-timeout:
			cmd.Process.Kill()
			s.result(sc, "serve", profile, "", sv.stderr.String(), errors.New("serve printed no endpoint within 90 s"))
			return nil
		}
	}
	go func() {
		for range lines {
		}
	}()
	return sv
}

func (s *soak) serveGet(sc scenario, sv *served) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, sv.url, nil)
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Authorization", sv.token)
	resp, err := http.DefaultClient.Do(req)
	var body []byte
	if err == nil {
		body, err = io.ReadAll(resp.Body)
		resp.Body.Close()
		if err == nil && resp.StatusCode != http.StatusOK {
			err = fmt.Errorf("HTTP %d: %s", resp.StatusCode, bytes.TrimSpace(body))
		}
	}
	if err == nil {
		var v struct{ AccessKeyId, SecretAccessKey, Token, Expiration string }
		if jerr := json.Unmarshal(body, &v); jerr != nil {
			err = fmt.Errorf("serve answer: %w", jerr)
		} else if exp, terr := time.Parse(time.RFC3339, v.Expiration); terr != nil {
			err = fmt.Errorf("serve answer expiration: %w", terr)
		} else {
			s.handedOut(sc, "serve", &sts.Credentials{AccessKeyID: v.AccessKeyId, SecretAccessKey: v.SecretAccessKey, SessionToken: v.Token, Expiration: exp})
		}
	}
	stderr := ""
	if err != nil {
		stderr = "mfabridge: error: " + err.Error()
	}
	s.result(sc, "serve request", sv.profile, "", stderr, err)
}

func (s *soak) stopServe(sc scenario, sv *served) {
	sv.cmd.Process.Signal(syscall.SIGTERM)
	var err error
	select {
	case err = <-sv.done:
	case <-time.After(10 * time.Second):
		sv.cmd.Process.Kill()
		err = errors.New("serve ignored SIGTERM for 10 s")
		<-sv.done
	}
	s.result(sc, "serve", sv.profile, "", sv.stderr.String(), err)
}

// cacheFiles lists the cache entries (not the ledger, locks or temps).
func (s *soak) cacheEntries() map[string]map[string]any {
	out := map[string]map[string]any{}
	files, _ := filepath.Glob(filepath.Join(s.w.cacheDir(), "*.json"))
	for _, f := range files {
		if strings.HasPrefix(filepath.Base(f), "ledger-") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		var m map[string]any
		if json.Unmarshal(b, &m) == nil {
			out[f] = m
		}
	}
	return out
}

// roleEntries are the AssumeRole results of the active users' profiles.
func (s *soak) roleEntries() []string {
	var out []string
	for f, m := range s.cacheEntries() {
		if m["action"] == "AssumeRole" {
			out = append(out, f)
		}
	}
	sort.Strings(out)
	return out
}

// dropRoleEntries deletes the role results so that the round calls STS.
func (s *soak) dropRoleEntries() {
	for _, f := range s.roleEntries() {
		os.Remove(f)
	}
}

// fileSnap is a file as a fault left it, to tell it from a later write.
type fileSnap struct {
	ino  uint64
	size int64
	mod  time.Time
}

func snap(path string) (fileSnap, bool) {
	fi, err := os.Lstat(path)
	if err != nil {
		return fileSnap{}, false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fileSnap{}, false
	}
	return fileSnap{st.Ino, fi.Size(), fi.ModTime()}, true
}

// damaged marks a file as damaged by the suite (not by mfabridge).
func (s *soak) damaged(path string) {
	if sn, ok := snap(path); ok {
		s.snapshots[path] = sn
	}
}

func (s *soak) truncateCache() {
	for _, f := range s.roleEntries() {
		fi, err := os.Stat(f)
		if err != nil {
			continue
		}
		if err := os.Truncate(f, fi.Size()/2); err != nil {
			s.t.Fatal(err)
		}
		s.damaged(f)
	}
}

func (s *soak) unreadableCache() {
	for _, f := range s.roleEntries() {
		if err := os.Chmod(f, 0); err != nil {
			s.t.Fatal(err)
		}
		s.damaged(f)
	}
}

// foreignCache gives the entries to nobody (65534), as if another user's
// files were in the cache folder.
func (s *soak) foreignCache() {
	for _, f := range s.roleEntries() {
		if err := os.Chown(f, 65534, 65534); err != nil {
			// Not root: skip this fault, not the whole suite (a Skip
			// here would drop the failures found in earlier rounds).
			s.t.Logf("fault skipped: cannot chown cache files (not root?): %v", err)
			return
		}
		s.damaged(f)
	}
}

// plantedCache replaces the entries with well-formed ones holding other
// credentials, owned by another user: they must never be handed out.
func (s *soak) plantedCache() {
	for f, m := range s.cacheEntries() {
		if m["action"] != "AssumeRole" {
			continue
		}
		c, _ := m["credentials"].(map[string]any)
		if c == nil {
			continue
		}
		c["access_key_id"] = plantedID
		c["expiration"] = time.Now().Add(10 * time.Hour).UTC().Format(time.RFC3339)
		b, _ := json.Marshal(m)
		tmp := f + ".planted"
		if err := os.WriteFile(tmp, b, 0o600); err != nil {
			s.t.Fatal(err)
		}
		if err := os.Chown(tmp, 65534, 65534); err != nil {
			os.Remove(tmp)
			s.t.Logf("fault skipped: cannot chown cache files (not root?): %v", err)
			return
		}
		if err := os.Rename(tmp, f); err != nil {
			s.t.Fatal(err)
		}
		s.damaged(f)
	}
}

// killMidWrite drops the role results and SIGKILLs 16 processes at random
// points 0–40 ms into their run: before, during and after their STS calls
// and cache writes.
func (s *soak) killMidWrite() {
	s.dropRoleEntries()
	var profiles []string
	for _, u := range s.active {
		for r := range soakRoles {
			profiles = append(profiles, newUser(u).profile(r))
		}
	}
	var wg sync.WaitGroup
	for i := range 16 {
		cmd := s.w.command(context.Background(), "", "credential-process", profiles[i%len(profiles)])
		if err := cmd.Start(); err != nil {
			s.t.Fatal(err)
		}
		wg.Go(func() {
			time.Sleep(time.Duration(rand.IntN(40)) * time.Millisecond)
			cmd.Process.Kill()
			cmd.Wait()
		})
	}
	wg.Wait()
	s.killed += 16
}

// victimSession is the cache file of the victim's MFA session.
func (s *soak) victimSession() string {
	serial := newUser(s.victim).serial()
	for f, m := range s.cacheEntries() {
		if m["action"] == "GetSessionToken" && m["target"] == serial {
			return f
		}
	}
	return ""
}

func (s *soak) dropVictimSession() {
	if f := s.victimSession(); f != "" {
		os.Remove(f)
	}
}

// usedStep spends the current TOTP step of the victim's device with a
// GetSessionToken of the suite's own, straight to the emulator, as another
// program using the same code would.
func (s *soak) usedStep() {
	s.dropVictimSession()
	u := newUser(s.victim)
	// mfabridge waits when under 5 s of the step are left; spend the step
	// it will use.
	now := time.Now()
	if 30-now.Unix()%30 < 6 {
		time.Sleep(time.Duration(30-now.Unix()%30+1) * time.Second)
		now = time.Now()
	}
	code, err := totpAt(u.mfaSecret, now)
	if err != nil {
		s.t.Fatal(err)
	}
	client := awssts.New(awssts.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(s.direct),
		Credentials:  credentials.NewStaticCredentialsProvider(u.keyID, u.secretKey, ""),
	})
	_, err = client.GetSessionToken(context.Background(), &awssts.GetSessionTokenInput{
		SerialNumber: aws.String(u.serial()), TokenCode: aws.String(code)})
	if err != nil {
		s.t.Fatalf("spend the victim's TOTP step: %v", err)
	}
}

// checkCache: every cache file is valid JSON, mode 0600, ours — unless it
// is exactly as the suite damaged it (mfabridge ignored it and had no need
// to replace it yet).
func (s *soak) checkCache() {
	files, err := os.ReadDir(s.w.cacheDir())
	if err != nil {
		s.t.Fatal(err)
	}
	for _, de := range files {
		name := de.Name()
		path := filepath.Join(s.w.cacheDir(), name)
		if strings.HasPrefix(name, ".") && strings.Contains(name, ".tmp-") {
			continue // a killed writer's temp file; never read, removed after an hour
		}
		if !strings.HasSuffix(name, ".json") {
			continue // lock files
		}
		if sn, ok := s.snapshots[path]; ok {
			if now, ok := snap(path); ok && now == sn {
				continue
			}
			delete(s.snapshots, path)
		}
		fi, err := os.Lstat(path)
		if err != nil {
			continue
		}
		b, err := os.ReadFile(path)
		var v map[string]any
		switch {
		case err != nil:
			s.violations = append(s.violations, fmt.Sprintf("%s: cache file %s unreadable: %v", s.round, name, err))
		case json.Unmarshal(b, &v) != nil:
			s.violations = append(s.violations, fmt.Sprintf("%s: cache file %s corrupted: %q", s.round, name, b))
		case fi.Mode().Perm() != 0o600:
			s.violations = append(s.violations, fmt.Sprintf("%s: cache file %s has mode %o", s.round, name, fi.Mode().Perm()))
		case fi.Sys().(*syscall.Stat_t).Uid != uint32(os.Getuid()):
			s.violations = append(s.violations, fmt.Sprintf("%s: cache file %s owned by uid %d", s.round, name, fi.Sys().(*syscall.Stat_t).Uid))
		}
	}
}

var wordRE = regexp.MustCompile(`\b[0-9]{6}\b`)

// checkSecrets: no long-term key, MFA seed, issued secret or code sent in
// any diagnostic output (stderr of every process, stdout of failed ones)
// nor in the emulator's log.
func (s *soak) checkSecrets() {
	s.mu.Lock()
	defer s.mu.Unlock()
	secrets := map[string]string{}
	for i := range soakUsers {
		u := newUser(i)
		secrets[u.secretKey] = "long-term secret key of " + u.name
		secrets[u.mfaSecret] = "MFA seed of " + u.name
	}
	for k := range s.issued {
		secrets[k] = "issued secret"
	}
	outputs := append(slices.Clone(s.diag), s.w.log.String())
	for _, out := range outputs {
		for sec, what := range secrets {
			if strings.Contains(out, sec) {
				s.violations = append(s.violations, fmt.Sprintf("%s in output: %s", what, lastLines(out, 2)))
			}
		}
		for _, w := range wordRE.FindAllString(out, -1) {
			if s.codes[w] {
				s.violations = append(s.violations, fmt.Sprintf("code sent to STS in output: %s", lastLines(out, 2)))
			}
		}
	}
}

func (s *soak) report(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	total, failed := 0, 0
	var b strings.Builder
	for _, k := range []string{"credential-process", "exec", "serve", "serve request"} {
		total += s.requests[k]
	}
	for _, n := range s.failures {
		failed += n
	}
	entries, _ := s.w.log.entries()
	t := tally(entries)
	fmt.Fprintf(&b, "soak: %s, %d rounds: %d requests (credential-process %d, exec %d, serve %d, serve requests %d), %d processes killed mid-write\n",
		d.Round(time.Second), s.checks, total, s.requests["credential-process"], s.requests["exec"], s.requests["serve"], s.requests["serve request"], s.killed)
	fmt.Fprintf(&b, "soak: touches (codes sent to STS by mfabridge): %d; STS: GetSessionToken ok %d, AssumeRole ok %d, refused or faulted %d\n",
		len(s.sent), t["GetSessionToken ok"], t["AssumeRole ok"], t["failed"])
	fmt.Fprintf(&b, "soak: %d failures by cause:\n", failed)
	causes := make([]string, 0, len(s.failures))
	for c := range s.failures {
		causes = append(causes, c)
	}
	sort.Strings(causes)
	for _, c := range causes {
		fmt.Fprintf(&b, "  %4d  %s\n        e.g. %s\n", s.failures[c], c, s.examples[c])
	}
	fmt.Fprintf(&b, "soak: invariants checked after each of %d rounds (cache files valid, 0600 and ours; no credential under 15 min; no TOTP step sent twice) and over all output (no secret): %d violations\n",
		s.checks, len(s.violations))
	s.t.Log("\n" + b.String())
}

// The suite's own checks catch what they claim to catch.
func TestSoakChecks(t *testing.T) {
	dir := t.TempDir()
	s := &soak{t: t, w: &world{dir: dir, log: &syncBuf{}}, round: "test", snapshots: map[string]fileSnap{},
		issued: map[string]bool{"issued-secret-0123456789": true}, codes: map[string]bool{"492039": true}}
	cache := s.w.cacheDir()
	if err := os.MkdirAll(cache, 0o700); err != nil {
		t.Fatal(err)
	}
	write := func(name, data string, mode os.FileMode) string {
		p := filepath.Join(cache, name)
		if err := os.WriteFile(p, []byte(data), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("good.json", `{"version":1}`, 0o600)
	write("ledger-x.json", `{"step":1}`, 0o600)
	write("lock-x.lock", ``, 0o600)
	write(".good.json.tmp-123", `{"vers`, 0o600)
	s.damaged(write("damaged.json", `{"vers`, 0o600)) // left as the fault made it
	s.checkCache()
	if len(s.violations) != 0 {
		t.Fatalf("violations on a sound cache: %v", s.violations)
	}
	write("torn.json", `{"version":1,"acti`, 0o600)
	write("open.json", `{"version":1}`, 0o644)
	write("damaged.json", `{"vers`, 0o600) // rewritten since: no longer excused
	s.checkCache()
	if len(s.violations) != 3 {
		t.Fatalf("violations = %q, want torn.json, open.json, damaged.json", s.violations)
	}

	s.violations = nil
	s.diag = []string{
		"mfabridge: all fine\n",
		"mfabridge: error near " + newUser(1).secretKey + "\n",
		"mfabridge: token issued-secret-0123456789\n",
		"mfabridge: code 492039 rejected\n",
		"mfabridge: request 1492039 and 4920391 are not codes\n",
	}
	s.checkSecrets()
	if len(s.violations) != 3 {
		t.Fatalf("secret violations = %q, want 3", s.violations)
	}
}

func TestErrorLineAndClassify(t *testing.T) {
	for _, tc := range []struct{ stderr, line, cause string }{
		{"mfabridge: using OATH account \"x\"\nmfabridge: get credentials: InternalFailure: oops (injected fault)\n",
			"get credentials: InternalFailure: oops (injected fault)", "STS internal error (500)"},
		{"mfabridge: waiting 3s for the next code\nmfabridge: … Throttling: Rate exceeded\n", "… Throttling: Rate exceeded", "STS throttling"},
		{"", "", "other: "},
		{"mfabridge: something new\n", "something new", "other: something new"},
		{"mfabridge: using OATH account \"x\"\nmfabridge: error: get credentials: sts: GetSessionToken x: no answer within 30s: ctx — STS (or something on the way) accepted the request but did not answer\n" +
			"mfabridge: hint: check the network and the endpoint (AWS_ENDPOINT_URL_STS, endpoint_url), or raise MFABRIDGE_STS_TIMEOUT\n",
			"get credentials: sts: GetSessionToken x: no answer within 30s: ctx — STS (or something on the way) accepted the request but did not answer", "timeout"},
	} {
		line := errorLine(tc.stderr)
		if line != tc.line {
			t.Errorf("errorLine(%q) = %q, want %q", tc.stderr, line, tc.line)
		}
		if got := classify(line); got != tc.cause {
			t.Errorf("classify(%q) = %q, want %q", line, got, tc.cause)
		}
	}
}
