package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/mfabridge/mfabridge/simulator/stsemu"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"mfabridge": func() {
			installSoftPIV()    // keys_piv_test.go
			installRotateStop() // keys_rotate_test.go
			os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv))
		},
	})
}

// TestScripts runs the CLI scripts in testdata/: each drives the real binary
// against a simulated YubiKey (and the local STS emulator) and checks
// stdout, stderr and exit status.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata",
		RequireExplicitExec: true,
		Setup: func(e *testscript.Env) error {
			// No terminal, no stray configuration from the machine running the tests.
			// Unset (not empty: the AWS CLI treats an empty region as set).
			kept := e.Vars[:0]
			for _, kv := range e.Vars {
				if !strings.HasPrefix(kv, "MFABRIDGE_") && !strings.HasPrefix(kv, "AWS_") {
					kept = append(kept, kv)
				}
			}
			e.Vars = kept
			e.Setenv("HOME", e.WorkDir)
			e.Setenv("AWS_CONFIG_FILE", e.WorkDir+"/no-aws-config")
			e.Setenv("AWS_SHARED_CREDENTIALS_FILE", e.WorkDir+"/no-aws-credentials")
			e.Setenv("MFABRIDGE_TTY", e.WorkDir+"/tty.out")
			// The machine's keyring stays out of it (desktop_test.go runs a real one).
			e.Setenv("MFABRIDGE_OATH_KEYSTORE", "none")
			return nil
		},
		// [ci]: running in CI, where a missing tool is a failure, not a skip.
		Condition: func(cond string) (bool, error) {
			if cond == "ci" {
				return os.Getenv("CI") != "", nil
			}
			return false, fmt.Errorf("unknown condition %q", cond)
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"stsemu": cmdSTSEmu,
			"stslog": cmdSTSLog,
			// netcmds_test.go
			"freeport": cmdFreePort,
			"trickle":  cmdTrickle,
			// fakests_test.go
			"fakests":  cmdFakeSTS,
			"waitfile": cmdWaitFile,
			// keys_test.go
			"secretscan": cmdSecretScan,
			"stskey":     cmdSTSKey,
			"iamkeys":    cmdIAMKeys,
			// keys_rotate_test.go
			"stsfault":  cmdSTSFault,
			"storedkey": cmdStoredKey,
		},
	})
}

// stsemu CONFIG starts the local STS emulator in the test process, sets
// $STS_URL, and logs its requests as JSON lines to $WORK/sts.log.
func cmdSTSEmu(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: stsemu CONFIG")
	}
	cfg, err := stsemu.LoadConfig(ts.MkAbs(args[0]))
	ts.Check(err)
	f, err := os.Create(ts.MkAbs("sts.log"))
	ts.Check(err)
	srv, err := stsemu.New(cfg, stsemu.WithLog(f), stsemu.WithFaults(scriptFaults(ts)))
	ts.Check(err)
	secrets, err := os.OpenFile(ts.MkAbs("iam-secrets"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	ts.Check(err)
	ts.Defer(func() { secrets.Close() })
	hs := httptest.NewServer(recordIssuedSecrets(srv, secrets))
	ts.Setenv("STS_URL", hs.URL)
	ts.Defer(func() {
		hs.Close()
		f.Close()
	})
}

// recordIssuedSecrets passes requests to h and writes the secret of every
// access key IAM's CreateAccessKey answers with, one per line, to w (see
// secretscan's @FILE: no file may hold one in clear).
func recordIssuedSecrets(h http.Handler, w io.Writer) http.Handler {
	secretRE := regexp.MustCompile(`<SecretAccessKey>([^<]+)</SecretAccessKey>`)
	var mu sync.Mutex
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		body := rec.Body.Bytes()
		if m := secretRE.FindSubmatch(body); m != nil && bytes.Contains(body, []byte("<CreateAccessKeyResponse")) {
			mu.Lock()
			w.Write(append(m[1], '\n'))
			mu.Unlock()
		}
		maps.Copy(rw.Header(), rec.Header())
		rw.WriteHeader(rec.Code)
		rw.Write(body)
	})
}

// stslog ACTION OUTCOME N checks that the emulator logged exactly N requests
// of ACTION with OUTCOME (ok, denied, error; * for any).
func cmdSTSLog(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: stslog ACTION OUTCOME N")
	}
	want, err := strconv.Atoi(args[2])
	ts.Check(err)
	f, err := os.Open(ts.MkAbs("sts.log"))
	ts.Check(err)
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var e stsemu.LogEntry
		ts.Check(json.Unmarshal(sc.Bytes(), &e))
		if e.Action == args[0] && (args[1] == "*" || e.Outcome == args[1]) {
			n++
		}
	}
	if n != want {
		ts.Fatalf("sts.log: %d %s requests with outcome %s, want %d", n, args[0], args[1], want)
	}
}
