package bench

import (
	"bytes"
	"context"
	"encoding/base32"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mfabridge/mfabridge/simulator/stsemu"
)

// Test identities: nothing here is a real secret.
const (
	mfaSecret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
	mfaSerial = "arn:aws:iam::111111111111:mfa/alice"
	aliceKey  = "AKIAALICE00000000001"
	aliceSec  = "alice-secret-access-key-0000000000000000"
	account   = "AWS:alice@111111111111"
)

var (
	buildOnce sync.Once
	buildDir  string
	buildErr  error
	binPath   string // the mfabridge binary, built on first use
	floorPath string // bench/floor: the Go floor, built the same way
)

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// needBinaries builds cmd/mfabridge and bench/floor once per test run (not
// in TestMain: `go test -list` and fuzzing need neither), with the same go
// command, flags and environment (CGO_ENABLED as the caller set it), as
// `make build` builds mfabridge.
func needBinaries(tb testing.TB) {
	tb.Helper()
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "mfabridge-bench-")
		if buildErr != nil {
			return
		}
		goTool := filepath.Join(runtime.GOROOT(), "bin", "go")
		binPath = filepath.Join(buildDir, "mfabridge")
		floorPath = filepath.Join(buildDir, "floor")
		for out, pkg := range map[string]string{binPath: "github.com/mfabridge/mfabridge/cmd/mfabridge", floorPath: "github.com/mfabridge/mfabridge/bench/floor"} {
			if b, err := exec.Command(goTool, "build", "-trimpath", "-o", out, pkg).CombinedOutput(); err != nil {
				buildErr = fmt.Errorf("build %s: %w\n%s", pkg, err, b)
				return
			}
		}
	})
	if buildErr != nil {
		tb.Fatal(buildErr)
	}
}

// user is an IAM user of the test world with one virtual MFA device whose
// seed is also on the simulated YubiKey.
type user struct {
	name, keyID, secretKey, mfaSecret string
}

// userNames are the world's IAM users; users[0] is alice.
var userNames = []string{"alice", "bob", "carol", "dave", "erin", "frank"}

func newUser(i int) user {
	if i == 0 {
		return user{"alice", aliceKey, aliceSec, mfaSecret}
	}
	n := userNames[i]
	up := strings.ToUpper(n)
	seed := (n + "-mfa-seed-xxxxxxxxxxxxxxxxxxxx")[:20]
	return user{
		name:      n,
		keyID:     "AKIA" + up + strings.Repeat("0", 15-len(up)) + "1",
		secretKey: (n + "-secret-access-key-0000000000000000000000000")[:40],
		mfaSecret: base32.StdEncoding.EncodeToString([]byte(seed)),
	}
}

func (u user) serial() string { return "arn:aws:iam::111111111111:mfa/" + u.name }

// profile names user u's profile for role r: r0, r1 … for alice,
// bob-r0 … for the others.
func (u user) profile(r int) string {
	if u.name == "alice" {
		return fmt.Sprintf("r%d", r)
	}
	return fmt.Sprintf("%s-r%d", u.name, r)
}

// worldConfig is an stsemu world: the users, each with one virtual MFA
// device, and roles R0..R(n-1) in another account that trust them only
// with MFA.
func worldConfig(users, roles int) string {
	trust := `{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "111111111111"}, "Action": "sts:AssumeRole", "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}}}]}`
	var rs, us []string
	for i := range roles {
		rs = append(rs, fmt.Sprintf(`{"name": "R%d", "trust_policy": %s}`, i, trust))
	}
	for i := range users {
		u := newUser(i)
		us = append(us, `{"name": "`+u.name+`",
   "access_keys": [{"id": "`+u.keyID+`", "secret": "`+u.secretKey+`"}],
   "mfa_devices": [{"serial": "`+u.serial()+`", "secret_base32": "`+u.mfaSecret+`"}],
   "policies": [{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "arn:aws:iam::222222222222:role/*"}]}]}`)
	}
	return `{"region": "us-east-1", "accounts": [
 {"id": "111111111111", "users": [` + strings.Join(us, ",\n") + `]},
 {"id": "222222222222", "roles": [` + strings.Join(rs, ",\n") + `]}]}`
}

// profilesConfig is the AWS config: for each user a source profile and one
// role profile per role, all on that user's MFA device.
func profilesConfig(users, roles int) string {
	var b strings.Builder
	for i := range users {
		u := newUser(i)
		fmt.Fprintf(&b, "[profile %s]\nregion = us-east-1\n", u.name)
		for r := range roles {
			fmt.Fprintf(&b, "\n[profile %s]\nrole_arn = arn:aws:iam::222222222222:role/R%d\nsource_profile = %s\nmfa_serial = %s\n\n",
				u.profile(r), r, u.name, u.serial())
		}
	}
	return b.String()
}

func credentialsFile(users int) string {
	var b strings.Builder
	for i := range users {
		u := newUser(i)
		fmt.Fprintf(&b, "[%s]\naws_access_key_id = %s\naws_secret_access_key = %s\n\n", u.name, u.keyID, u.secretKey)
	}
	return b.String()
}

// syncBuf is a bytes.Buffer safe for the emulator's concurrent log writes.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.b.Reset()
}

// entries parses the emulator's JSON log.
func (s *syncBuf) entries() ([]stsemu.LogEntry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []stsemu.LogEntry
	for _, line := range strings.Split(strings.TrimSpace(s.b.String()), "\n") {
		if line == "" {
			continue
		}
		var le stsemu.LogEntry
		if err := json.Unmarshal([]byte(line), &le); err != nil {
			return nil, fmt.Errorf("parse emulator log line %q: %w", line, err)
		}
		out = append(out, le)
	}
	return out, nil
}

// world is the emulator, AWS config files, a simulated YubiKey holding
// alice's account, and a cache folder, all in one temporary folder.
type world struct {
	dir   string
	url   string
	srv   *stsemu.Server
	log   *syncBuf
	env   []string
	users int
	roles int
}

// newWorld is a world with alice alone and roles role profiles.
func newWorld(tb testing.TB, roles int) *world {
	tb.Helper()
	return newWorldUsers(tb, 1, roles, nil)
}

// newWorldUsers is a world with users users, each with roles role
// profiles; wrap (may be nil) wraps the emulator's handler.
func newWorldUsers(tb testing.TB, users, roles int, wrap func(http.Handler) http.Handler, opts ...stsemu.Option) *world {
	tb.Helper()
	needBinaries(tb)
	dir := tb.TempDir()
	cfg, err := stsemu.ParseConfig([]byte(worldConfig(users, roles)))
	if err != nil {
		tb.Fatal(err)
	}
	w := &world{dir: dir, log: &syncBuf{}, users: users, roles: roles}
	w.srv, err = stsemu.New(cfg, append([]stsemu.Option{stsemu.WithLog(w.log)}, opts...)...)
	if err != nil {
		tb.Fatal(err)
	}
	var h http.Handler = w.srv
	if wrap != nil {
		h = wrap(h)
	}
	w.url = httptestServer(tb, h)
	key := filepath.Join(dir, "key.json")
	w.env = []string{
		"PATH=/usr/bin:/bin",
		"HOME=" + dir,
		"AWS_CONFIG_FILE=" + filepath.Join(dir, "config"),
		"AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(dir, "credentials"),
		"AWS_ENDPOINT_URL_STS=" + w.url,
		"MFABRIDGE_CACHE_DIR=" + w.cacheDir(),
		"MFABRIDGE_DEVICE=sim:" + key,
		"MFABRIDGE_TTY=none",
	}
	for name, s := range map[string]string{
		"config":      profilesConfig(users, roles),
		"credentials": credentialsFile(users),
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o600); err != nil {
			tb.Fatal(err)
		}
	}
	if _, stderr, err := w.run(context.Background(), "", "sim", "init", key, "--serial", "12121212"); err != nil {
		tb.Fatalf("sim init: %v\n%s", err, stderr)
	}
	for i := range users {
		u := newUser(i)
		if _, stderr, err := w.run(context.Background(), u.mfaSecret, "accounts", "add", "--issuer", "AWS", u.name+"@111111111111"); err != nil {
			tb.Fatalf("accounts add: %v\n%s", err, stderr)
		}
	}
	return w
}

func (w *world) cacheDir() string { return filepath.Join(w.dir, "cache") }

// command builds an mfabridge process in the world's environment.
func (w *world) command(ctx context.Context, stdin string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, binPath, args...)
	cmd.Env = w.env
	cmd.Stdin = strings.NewReader(stdin)
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// run runs mfabridge to completion.
func (w *world) run(ctx context.Context, stdin string, args ...string) (stdout, stderr string, err error) {
	cmd := w.command(ctx, stdin, args...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	return o.String(), e.String(), err
}

// tally counts the emulator's log: "GetSessionToken ok", "AssumeRole ok",
// "codes" (requests carrying a code), "failed" (not ok).
func tally(entries []stsemu.LogEntry) map[string]int {
	m := map[string]int{}
	for _, le := range entries {
		m[le.Action+" "+le.Outcome]++
		if le.CodeValid != nil {
			m["codes"]++
		}
		if le.Outcome != "ok" {
			m["failed"]++
		}
	}
	return m
}

// httptestServer serves h on loopback for the test's life and returns its URL.
func httptestServer(tb testing.TB, h http.Handler) string {
	hs := httptest.NewServer(h)
	tb.Cleanup(hs.Close)
	return hs.URL
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
