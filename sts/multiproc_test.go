package sts

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestEmuConcurrentProcesses: the same acceptance numbers with 8 separate
// processes (this test binary re-run as a helper), 4 Providers each, on the
// real clock: 1 code across all processes, 1 GetSessionToken, 4 AssumeRole.
func TestEmuConcurrentProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	e := newEmuClock(t, time.Now)
	var wg sync.WaitGroup
	outs := make([]bytes.Buffer, 8)
	errs := make([]bytes.Buffer, 8)
	for i := range 8 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestEmuChildHelper$")
		cmd.Env = append(os.Environ(), "STS_EMU_CHILD="+e.url+"|"+e.dir)
		cmd.Stdout, cmd.Stderr = &outs[i], &errs[i]
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			if err := cmd.Wait(); err != nil {
				t.Errorf("child %d: %v\n%s%s", i, err, outs[i].String(), errs[i].String())
			}
		})
	}
	wg.Wait()
	codes := 0
	for i := range outs {
		for _, l := range strings.Split(outs[i].String(), "\n") {
			if v, ok := strings.CutPrefix(l, "codes="); ok {
				n, _ := strconv.Atoi(v)
				codes += n
			}
		}
	}
	if codes != 1 {
		t.Errorf("%d codes computed across processes, want 1", codes)
	}
	got := e.tally()
	if got["GetSessionToken ok"] != 1 || got["AssumeRole ok"] != 4 || got["codes"] != 1 || got["failed"] != 0 {
		t.Fatalf("log tally %v: want 1 GetSessionToken, 4 AssumeRole, 1 code, 0 failures", got)
	}
}

func TestEmuChildHelper(t *testing.T) {
	spec := os.Getenv("STS_EMU_CHILD")
	if spec == "" {
		t.Skip("helper process for TestEmuConcurrentProcesses")
	}
	url, dir, _ := strings.Cut(spec, "|")
	cfg := mustConfig(t, emuProfiles, emuCreds, map[string]string{"AWS_ENDPOINT_URL_STS": url})
	tokens := &fakeTokens{secret: emuSecret}
	var wg sync.WaitGroup
	for _, name := range []string{"r1", "r2", "r3", "r4"} {
		pr, err := NewProvider(mustResolve(t, cfg, name), tokens.Code, dir)
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			if _, err := pr.Credentials(context.Background()); err != nil {
				t.Errorf("%s: %v", name, err)
			}
		})
	}
	wg.Wait()
	fmt.Printf("\ncodes=%d\n", tokens.codes.Load())
}
