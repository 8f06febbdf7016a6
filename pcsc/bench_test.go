//go:build linux

package pcsc

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/mfabridge/mfabridge/oath"
)

// BenchmarkStackCodeVsYkman: one code from a simulated YubiKey through
// pcscd + vpcd, `mfabridge accounts code` against Yubico's `ykman --device
// SERIAL oath accounts code --single NAME` on the same card, one of each
// per iteration. APDUs are counted at the simulator, on every reader (ykman
// probes all keys to find the serial). Target: mfabridge 10x faster.
func BenchmarkStackCodeVsYkman(b *testing.B) {
	s := needStack(b)
	ykman := ykmanPathB(b)
	bin := buildCLI(b)
	sl := s.slots[0]
	ctx := context.Background()
	const name = "Bench:vs"
	local := oath.NewClient(sl.card)
	putTOTP(b, ctx, local, name)
	defer func() {
		if _, err := local.Select(ctx); err == nil {
			local.Delete(ctx, name)
		}
	}()
	home := b.TempDir()
	apdus := func() int64 { return s.slots[0].apdus.Load() + s.slots[1].apdus.Load() }
	run := func(argv ...string) (string, time.Duration, int64) {
		ctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
		// A HOME of its own for both: ykman may remember things there.
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "MFABRIDGE_TTY=none"}
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		before := apdus()
		start := time.Now()
		if err := cmd.Run(); err != nil {
			b.Fatalf("%s: %v\n%s", strings.Join(argv, " "), err, errb.String())
		}
		return strings.TrimSpace(out.String()), time.Since(start), apdus() - before
	}
	serial := fmt.Sprint(serialA)
	var ours, theirs time.Duration
	var ourAPDUs, theirAPDUs int64
	b.ResetTimer()
	for range b.N {
		for range 3 { // both codes within one TOTP period
			period := time.Now().Unix() / 30
			c1, d1, n1 := run(bin, "accounts", "code", "--device", "yubikey:"+serial, name)
			c2, d2, n2 := run(ykman, "--device", serial, "oath", "accounts", "code", "--single", name)
			if time.Now().Unix()/30 != period {
				continue
			}
			if c1 != c2 || len(c1) != 8 {
				b.Fatalf("mfabridge code %q, ykman %q", c1, c2)
			}
			ours, theirs = ours+d1, theirs+d2
			ourAPDUs, theirAPDUs = ourAPDUs+n1, theirAPDUs+n2
			break
		}
	}
	b.StopTimer()
	n := float64(b.N)
	b.ReportMetric(float64(ours.Microseconds())/n/1000, "mfabridge-ms")
	b.ReportMetric(float64(theirs.Microseconds())/n/1000, "ykman-ms")
	b.ReportMetric(float64(theirs)/float64(ours), "speedup")
	b.ReportMetric(float64(ourAPDUs)/n, "mfabridge-apdus")
	b.ReportMetric(float64(theirAPDUs)/n, "ykman-apdus")
}

func ykmanPathB(b *testing.B) string {
	b.Helper()
	p, err := exec.LookPath("ykman")
	if err != nil {
		skipOrFail(b, "ykman is not installed (apt-get install yubikey-manager)")
	}
	return p
}
