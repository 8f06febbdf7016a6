package main

import (
	"bytes"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/mfabridge/mfabridge/simulator/stsemu"
)

// syncBuf is a goroutine-safe buffer for the emulator log.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// enrollWorld runs the CLI in-process against the emulator (with the IAM
// policy of simulator/stsemu/testdata/iam_self_mfa.json) and a simulated
// key; faults decides injected emulator failures.
type enrollWorld struct {
	dir    string
	env    map[string]string
	stslog *syncBuf
}

func newEnrollWorld(t *testing.T, faults *stsemu.Faults) *enrollWorld {
	t.Helper()
	dir := t.TempDir()
	cfg, err := stsemu.LoadConfig("../../simulator/stsemu/testdata/iam_self_mfa.json")
	if err != nil {
		t.Fatal(err)
	}
	w := &enrollWorld{dir: dir, stslog: &syncBuf{}}
	srv, err := stsemu.New(cfg, stsemu.WithLog(w.stslog), stsemu.WithFaults(faults))
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	write := func(name, text string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("config", "[profile alice]\nregion = us-east-1\n\n[profile prod]\nrole_arn = arn:aws:iam::222222222222:role/PrivilegedActionsRole\nsource_profile = alice\n")
	write("credentials", "[alice]\naws_access_key_id = AKIAALICE00000000001\naws_secret_access_key = alice-secret-access-key-0000000000000000\n")
	w.env = map[string]string{
		"HOME": dir, "AWS_CONFIG_FILE": filepath.Join(dir, "config"), "AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "credentials"),
		"AWS_ENDPOINT_URL": hs.URL, "MFABRIDGE_CACHE_DIR": filepath.Join(dir, "cache"), "MFABRIDGE_TTY": filepath.Join(dir, "tty.out"),
	}
	if _, errOut, code := w.run("sim", "init", w.key(), "--serial", "55555555"); code != 0 {
		t.Fatalf("sim init: %s", errOut)
	}
	return w
}

func (w *enrollWorld) key() string { return filepath.Join(w.dir, "key.json") }

func (w *enrollWorld) run(args ...string) (string, string, int) {
	var out, errOut bytes.Buffer
	code := run(args, strings.NewReader(""), &out, &errOut, func(k string) string { return w.env[k] })
	return out.String(), errOut.String(), code
}

// keys returns the secrets in the simulator's state file (the device
// itself: the only file allowed to hold them).
func (w *enrollWorld) keys(t *testing.T) [][]byte {
	t.Helper()
	b, err := os.ReadFile(w.key())
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Credentials []struct {
			Name string `json:"name"`
			Key  string `json:"key"`
		} `json:"credentials"`
	}
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for _, c := range st.Credentials {
		k, err := hex.DecodeString(c.Key)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, k)
	}
	return out
}

// checkNoSeed looks for every form of each seed in every file of the test
// folder except the simulator's state file, in the emulator log and in
// the given outputs.
func (w *enrollWorld) checkNoSeed(t *testing.T, seeds [][]byte, outputs ...string) {
	t.Helper()
	if len(seeds) == 0 {
		t.Fatal("no seed to look for")
	}
	texts := map[string]string{"emulator log": w.stslog.String()}
	for i, o := range outputs {
		texts["output "+string(rune('0'+i))] = o
	}
	err := filepath.WalkDir(w.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || p == w.key() {
			return err
		}
		b, err := os.ReadFile(p)
		texts[p] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range seeds {
		b32 := base32.StdEncoding.EncodeToString(k)
		forms := []string{b32, strings.TrimRight(b32, "="), strings.ToLower(strings.TrimRight(b32, "=")),
			base64.StdEncoding.EncodeToString([]byte(b32)), hex.EncodeToString(k)}
		for name, text := range texts {
			for _, f := range forms {
				if strings.Contains(text, f) {
					t.Errorf("%s contains a seed", name)
				}
			}
		}
	}
}

func TestEnrollRotateNoSeedLeak(t *testing.T) {
	w := newEnrollWorld(t, nil)
	out1, err1, code := w.run("--debug", "enroll", "--profile", "prod", "--device", "sim:"+w.key(), "--name", "alice-yk", "--write-config")
	if code != 0 {
		t.Fatalf("enroll: %s", err1)
	}
	first := w.keys(t)
	out2, err2, code := w.run("--debug", "rotate", "--profile", "prod", "--name", "alice-r2")
	if code != 0 {
		t.Fatalf("rotate: %s", err2)
	}
	second := w.keys(t)
	if len(first) != 1 || len(second) != 1 || bytes.Equal(first[0], second[0]) {
		t.Fatalf("want one different key after rotation: %d, %d", len(first), len(second))
	}
	w.checkNoSeed(t, append(first, second...), out1, err1, out2, err2)
}

// An EnableMFADevice that fails (before or after IAM acted on it) is
// rolled back: nothing left in IAM or on the key, and no seed anywhere.
func TestEnrollEnableFailsRollsBack(t *testing.T) {
	for _, after := range []bool{false, true} {
		name := "refused"
		if after {
			name = "answer lost"
		}
		t.Run(name, func(t *testing.T) {
			var seeds [][]byte
			var w *enrollWorld
			w = newEnrollWorld(t, &stsemu.Faults{Decide: func(action string, _ int64) stsemu.Fault {
				if action == "EnableMFADevice" {
					seeds = w.keys(t) // the seed is on the key now
					return stsemu.Fault{Kind: stsemu.FaultInternal, AfterAction: after}
				}
				return stsemu.Fault{}
			}})
			out, errOut, code := w.run("--debug", "enroll", "--profile", "prod", "--device", "sim:"+w.key(), "--name", "alice-yk", "--write-config")
			if code != 1 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			for _, want := range []string{"rolled back: OATH account \"AWS:alice-yk@111111111111\" deleted", "rolled back: IAM device arn:aws:iam::111111111111:mfa/alice-yk deleted"} {
				if !strings.Contains(errOut, want) {
					t.Errorf("stderr lacks %q:\n%s", want, errOut)
				}
			}
			if after && !strings.Contains(errOut, "rolled back: IAM device arn:aws:iam::111111111111:mfa/alice-yk deactivated") {
				t.Errorf("enabled device not deactivated:\n%s", errOut)
			}
			if k := w.keys(t); len(k) != 0 {
				t.Errorf("%d accounts left on the key", len(k))
			}
			if b, _ := os.ReadFile(w.env["AWS_CONFIG_FILE"]); strings.Contains(string(b), "mfa_serial") {
				t.Error("config changed by a failed enrollment")
			}
			w.checkNoSeed(t, seeds, out, errOut)
		})
	}
}
