package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	awssts "github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/creack/pty"

	"github.com/mfabridge/mfabridge/simulator/stsemu"
	"github.com/mfabridge/mfabridge/sts"
)

const (
	mfaSecret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
	roleARN   = "arn:aws:sts::222222222222:assumed-role/PrivilegedActionsRole/"
)

// world is a simulated YubiKey, the STS emulator and AWS config files in a
// temporary folder, with an `mfabridge` on PATH (this test binary, which
// testscript.Main turns into the command).
type world struct {
	dir, stsURL string
	env         []string
	log         *bytes.Buffer
	// release is the simulated key's release file when the world was made
	// with touch policy "release": writing it touches the key.
	release string
}

// newWorld makes a world whose simulated key follows touchPolicy (as for
// `sim init --touch-policy`); "release" alone means release:$dir/release.
func newWorld(t *testing.T, touchPolicy string) *world {
	t.Helper()
	dir := t.TempDir()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(self, filepath.Join(dir, "mfabridge")); err != nil {
		t.Fatal(err)
	}
	cfg, err := stsemu.LoadConfig("../../testdata/sts-example.json")
	if err != nil {
		t.Fatal(err)
	}
	w := &world{dir: dir, log: new(bytes.Buffer)}
	srv, err := stsemu.New(cfg, stsemu.WithLog(lockedWriter{w.log}))
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	w.stsURL = hs.URL
	key := filepath.Join(dir, "key.json")
	w.env = []string{
		"PATH=" + dir + ":" + os.Getenv("PATH"),
		"HOME=" + dir,
		"AWS_CONFIG_FILE=" + filepath.Join(dir, "config"),
		"AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(dir, "credentials"),
		"AWS_ENDPOINT_URL_STS=" + hs.URL,
		"MFABRIDGE_CACHE_DIR=" + filepath.Join(dir, "cache"),
		"MFABRIDGE_DEVICE=sim:" + key,
	}
	write := func(name, s string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("config", `[profile alice]
region = us-east-1

[profile prod]
role_arn = arn:aws:iam::222222222222:role/PrivilegedActionsRole
source_profile = alice
mfa_serial = arn:aws:iam::111111111111:mfa/alice

[profile prod-cp]
region = us-east-1
credential_process = mfabridge credential-process prod
`)
	write("credentials", "[alice]\naws_access_key_id = AKIAALICE00000000001\naws_secret_access_key = alice-secret-access-key-0000000000000000\n")
	if touchPolicy == "release" {
		w.release = filepath.Join(dir, "release")
		touchPolicy += ":" + w.release
	}
	w.mfabridge(t, "", "sim", "init", key, "--serial", "12121212", "--touch-policy", touchPolicy)
	w.mfabridge(t, mfaSecret+"\n", "accounts", "add", "--issuer", "AWS", "--touch", "alice@111111111111")
	return w
}

// mfabridge runs the command in-process with the world's environment.
func (w *world) mfabridge(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	var out, errb bytes.Buffer
	getenv := func(k string) string {
		for _, kv := range w.env {
			if name, v, _ := strings.Cut(kv, "="); name == k {
				return v
			}
		}
		if k == "MFABRIDGE_TTY" {
			return "none"
		}
		return ""
	}
	if code := run(args, strings.NewReader(stdin), &out, &errb, getenv); code != 0 {
		t.Fatalf("mfabridge %s: exit %d: %s", strings.Join(args, " "), code, errb.String())
	}
	return out.String()
}

func (w *world) count(action string) int {
	return strings.Count(w.log.String(), `"action":"`+action+`"`)
}

type lockedWriter struct{ b *bytes.Buffer }

var logMu = make(chan struct{}, 1)

func (l lockedWriter) Write(p []byte) (int, error) {
	logMu <- struct{}{}
	defer func() { <-logMu }()
	return l.b.Write(p)
}

func needAWSCLI(t *testing.T) {
	t.Helper()
	if _, err := os.Stat("/usr/bin/aws"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("/usr/bin/aws missing in CI: make deps installs awscli")
		}
		t.Skip("AWS CLI v2 (/usr/bin/aws) not installed; make deps installs it")
	}
}

// Under the AWS CLI, which captures a credential_process's stderr, the touch
// prompt still reaches the user's terminal: here a pseudo-terminal that is the
// AWS CLI's controlling terminal. The key is touched only once the prompt is
// on the screen (issue 12: no bet that a 1.5 s touch outlasts the prompt's
// one-second threshold).
func TestTouchPromptUnderAWSCLI(t *testing.T) {
	needAWSCLI(t)
	w := newWorld(t, "release")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "/usr/bin/aws", "sts", "get-caller-identity", "--endpoint-url", w.stsURL,
		"--profile", "prod-cp", "--output", "text", "--query", "Arn")
	// No pager: on a terminal the AWS CLI would wait in less.
	cmd.Env = append(w.env, "AWS_PAGER=")
	tty, err := pty.Start(cmd)
	if err != nil {
		t.Fatal(err)
	}
	defer tty.Close()
	const prompt = "touch your YubiKey (serial 12121212)"
	var screen bytes.Buffer
	prompted := false
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 4096)
		for {
			n, err := tty.Read(buf)
			screen.Write(buf[:n])
			if !prompted && strings.Contains(screen.String(), prompt) {
				prompted = true
				if err := os.WriteFile(w.release, nil, 0o600); err != nil {
					t.Error(err)
					return
				}
			}
			if err != nil {
				return // EIO when the child exits
			}
		}
	}()
	if err := cmd.Wait(); err != nil {
		<-done
		t.Fatalf("aws: %v (touch prompt seen: %v)\n%s", err, prompted, screen.String())
	}
	<-done
	got := screen.String()
	if !prompted {
		t.Errorf("the terminal never showed the touch prompt:\n%q", got)
	}
	if !strings.Contains(got, roleARN) {
		t.Errorf("no assumed-role ARN on the terminal:\n%q", got)
	}
}

// aws-sdk-go-v2's processcreds runs `mfabridge credential-process` from the
// shared config; a second load is served from mfabridge's cache.
func TestSDKProcessCredentials(t *testing.T) {
	w := newWorld(t, "approve")
	for _, kv := range w.env {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	for i := 0; i < 2; i++ {
		cfg, err := config.LoadDefaultConfig(context.Background(), config.WithSharedConfigProfile("prod-cp"), config.WithRegion("us-east-1"))
		if err != nil {
			t.Fatal(err)
		}
		out, err := awssts.NewFromConfig(cfg, func(o *awssts.Options) { o.BaseEndpoint = aws.String(w.stsURL) }).
			GetCallerIdentity(context.Background(), &awssts.GetCallerIdentityInput{})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(aws.ToString(out.Arn), roleARN) {
			t.Errorf("Arn = %s", aws.ToString(out.Arn))
		}
	}
	if g, a := w.count("GetSessionToken"), w.count("AssumeRole"); g != 1 || a != 1 {
		t.Errorf("STS calls: %d GetSessionToken, %d AssumeRole; want 1 and 1 (second load from the cache)", g, a)
	}
}

// `mfabridge serve` prints the container-credentials variables; an SDK client
// using them gets the role; a wrong token and a missing one are refused.
func TestServeContainerCredentials(t *testing.T) {
	w := newWorld(t, "approve")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(w.dir, "mfabridge"), "serve", "prod")
	cmd.Env = append(w.env, "MFABRIDGE_TTY=none")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
	}()
	sc := bufio.NewScanner(stdout)
	vars := map[string]string{}
	for len(vars) < 2 && sc.Scan() {
		k, v, _ := strings.Cut(strings.TrimPrefix(sc.Text(), "export "), "=")
		vars[k] = v
	}
	uri, token := vars["AWS_CONTAINER_CREDENTIALS_FULL_URI"], vars["AWS_CONTAINER_AUTHORIZATION_TOKEN"]
	if !strings.HasPrefix(uri, "http://127.0.0.1:") || len(token) < 32 {
		t.Fatalf("serve printed %v; stderr: %s", vars, stderr.String())
	}
	t.Setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", uri)
	t.Setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", token)
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(w.dir, "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(w.dir, "none"))
	cfg, err := config.LoadDefaultConfig(ctx, config.WithRegion("us-east-1"))
	if err != nil {
		t.Fatal(err)
	}
	out, err := awssts.NewFromConfig(cfg, func(o *awssts.Options) { o.BaseEndpoint = aws.String(w.stsURL) }).
		GetCallerIdentity(ctx, &awssts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(aws.ToString(out.Arn), roleARN) {
		t.Errorf("Arn = %s", aws.ToString(out.Arn))
	}
	t.Setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", token[:len(token)-1]+"x")
	cfg, err = config.LoadDefaultConfig(ctx, config.WithRegion("us-east-1"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cfg.Credentials.Retrieve(ctx); err == nil {
		t.Error("a wrong token was served credentials")
	}
}

// exec forwards signals to the child and returns the child's exit status.
func TestExecForwardsSignals(t *testing.T) {
	w := newWorld(t, "approve")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(w.dir, "mfabridge"), "exec", "prod", "--",
		"sh", "-c", `trap 'echo "got TERM key=$AWS_ACCESS_KEY_ID"; exit 7' TERM; echo ready; sleep 30 >/dev/null 2>&1 & wait`)
	cmd.Env = append(w.env, "MFABRIDGE_TTY=none")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	if !sc.Scan() || sc.Text() != "ready" {
		t.Fatalf("child did not start: %q; stderr: %s", sc.Text(), stderr.String())
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	var rest strings.Builder
	for sc.Scan() {
		rest.WriteString(sc.Text() + "\n")
	}
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 7 {
		t.Errorf("exit = %v, want the child's status 7; stderr: %s", err, stderr.String())
	}
	if !strings.HasPrefix(rest.String(), "got TERM key=ASIA") {
		t.Errorf("child output after SIGTERM: %q", rest.String())
	}
}

// The credential endpoint answers loopback clients with the token only.
func TestCredentialHandler(t *testing.T) {
	exp := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	h := credentialHandler("tok", func(context.Context) (*sts.Credentials, error) {
		return &sts.Credentials{AccessKeyID: "ASIAX", SecretAccessKey: "s", SessionToken: "t", Expiration: exp}, nil
	})
	for _, tc := range []struct {
		remote, token, method string
		code                  int
	}{
		{"127.0.0.1:5000", "tok", "GET", 200},
		{"[::1]:5000", "tok", "GET", 200},
		{"192.0.2.1:1234", "tok", "GET", 403},
		{"127.0.0.1:5000", "tox", "GET", 403},
		{"127.0.0.1:5000", "", "GET", 403},
		{"127.0.0.1:5000", "tok", "POST", 405},
	} {
		r := httptest.NewRequest(tc.method, "/", nil)
		r.RemoteAddr = tc.remote
		if tc.token != "" {
			r.Header.Set("Authorization", tc.token)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		if rec.Code != tc.code {
			t.Errorf("%+v: status %d", tc, rec.Code)
		}
		if tc.code == 200 && rec.Body.String() != `{"AccessKeyId":"ASIAX","Expiration":"2030-01-02T03:04:05Z","SecretAccessKey":"s","Token":"t"}`+"\n" {
			t.Errorf("body %s", rec.Body.String())
		}
		if tc.code != 200 && strings.Contains(rec.Body.String(), "ASIAX") {
			t.Errorf("%+v leaked credentials", tc)
		}
	}
}
