package bench

import (
	"bytes"
	"context"
	"debug/elf"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mfabridge/mfabridge/sts"
	"github.com/mfabridge/mfabridge/sts/awsconfig"
)

// Every benchmark here reports its figures with b.ReportMetric; bench/report
// takes the median, min and max over `-count` runs. A figure and its
// comparison are measured in the same iteration, so load on the machine
// hits both alike.

// needTool skips (fails under CI) when a measuring tool is missing.
func needTool(tb testing.TB, path, pkg string) {
	tb.Helper()
	if _, err := os.Stat(path); err != nil {
		if os.Getenv("CI") != "" {
			tb.Fatalf("%s is missing (apt-get install %s)", path, pkg)
		}
		tb.Skipf("%s is missing (apt-get install %s; make bench-deps)", path, pkg)
	}
}

// peakRSS runs argv under GNU time (/usr/bin/time -f %M, which forks from a
// small C process) and returns the peak resident set in bytes.
func peakRSS(tb testing.TB, env []string, argv ...string) float64 {
	tb.Helper()
	out := filepath.Join(tb.TempDir(), "rss")
	cmd := exec.Command("/usr/bin/time", append([]string{"-f", "%M", "-o", out}, argv...)...)
	cmd.Env = env
	if b, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("/usr/bin/time %s: %v\n%s", strings.Join(argv, " "), err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		tb.Fatal(err)
	}
	var kib float64
	if _, err := fmt.Sscan(string(b), &kib); err != nil {
		tb.Fatalf("/usr/bin/time output %q: %v", b, err)
	}
	return kib * 1024
}

// initMillis runs argv with GODEBUG=inittrace=1 and returns the time spent
// in package initialisation (the sum of the "ms clock" figures).
func initMillis(tb testing.TB, env []string, argv ...string) float64 {
	tb.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(slices.Clone(env), "GODEBUG=inittrace=1")
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Run(); err != nil {
		tb.Fatalf("%s: %v\n%s", strings.Join(argv, " "), err, errb.String())
	}
	var total float64
	for _, line := range strings.Split(errb.String(), "\n") {
		// init internal/bytealg @0.008 ms, 0 ms clock, 0 bytes, 0 allocs
		f := strings.Fields(line)
		if len(f) >= 7 && f[0] == "init" && f[5] == "ms" && f[6] == "clock," {
			var ms float64
			if _, err := fmt.Sscan(f[4], &ms); err == nil {
				total += ms
			}
		}
	}
	return total
}

// hyperfineResult is the part of `hyperfine --export-json` used here.
type hyperfineResult struct {
	Results []struct {
		Command string  `json:"command"`
		Median  float64 `json:"median"` // seconds
		Min     float64 `json:"min"`
		Max     float64 `json:"max"`
	} `json:"results"`
}

// BenchmarkCredentialProcessCached: `mfabridge credential-process` served
// from a warm cache, against two floors. The Go floor (bench/floor) is a Go
// program linked as mfabridge is (dynamically, through purego) that reads
// and prints the cache entry file: target at most 1.25x, as the median of
// paired runs (each iteration runs both, interleaved, 60 pairs over three
// copies of each executable, and takes the median of the per-pair ratios,
// so load on the machine hits both alike). `cat` of a file holding the same answer is the floor of any
// process: one hyperfine run (no shell, warm-up, 30 runs of each command),
// target at most 2.5x its median. `mfabridge --version` shows what starting
// this binary costs before any work. Peak RSS comes from /usr/bin/time
// (target under 20 MiB), package initialisation from GODEBUG=inittrace=1
// (a cached answer exits from cmd/mfabridge/internal/warm's init, so this
// is the packages initialised before it: README, Benchmarks).
func BenchmarkCredentialProcessCached(b *testing.B) {
	needTool(b, "/usr/bin/hyperfine", "hyperfine")
	needTool(b, "/usr/bin/time", "time")
	w := newWorld(b, 1)
	ctx := context.Background()
	warm, stderr, err := w.run(ctx, "", "credential-process", "r0")
	if err != nil {
		b.Fatalf("warm the cache: %v\n%s", err, stderr)
	}
	c, err := sts.ParseProcessOutput([]byte(warm))
	if err != nil || time.Until(c.Expiration) < awsconfig.MinRemaining {
		b.Fatalf("warm answer %v, %v", c, err)
	}
	same := filepath.Join(w.dir, "same-size.json")
	if err := os.WriteFile(same, []byte(warm), 0o600); err != nil {
		b.Fatal(err)
	}
	entry := cacheEntryFile(b, w.cacheDir(), c.AccessKeyID)
	if a, f := interpreter(b, binPath), interpreter(b, floorPath); a != f {
		b.Fatalf("the Go floor is not linked as mfabridge: interpreter %q, mfabridge %q", f, a)
	}
	// Pairs cycle through three copies of each executable (files written
	// anew, as cp writes them): how fast a fresh executable starts
	// depends on where its pages landed in the page cache, up to 0.1x of
	// the ratio between two copies of one file on this machine.
	var oursCopies, floorCopies [][]string
	for i := range 3 {
		c := [2]string{}
		for j, src := range []string{binPath, floorPath} {
			c[j] = filepath.Join(w.dir, fmt.Sprintf("%s-%d", filepath.Base(src), i))
			copyExecutable(b, src, c[j])
		}
		oursCopies = append(oursCopies, []string{c[0], "credential-process", "r0"})
		floorCopies = append(floorCopies, []string{c[1], entry})
	}
	w.log.reset()
	ours := binPath + " credential-process r0"
	theirs := "/usr/bin/cat " + same
	startup := binPath + " --version" // the same binary doing no work
	report := filepath.Join(w.dir, "hyperfine.json")
	var oursMs, theirsMs, startMs, ratio, pairedMs, floorMs, xFloor float64
	b.ResetTimer()
	for range b.N {
		cmd := exec.Command("/usr/bin/hyperfine", "-N", "--style", "none", "--warmup", "3", "--runs", "30",
			"--export-json", report, ours, theirs, startup)
		cmd.Env = w.env
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("hyperfine: %v\n%s", err, out)
		}
		raw, err := os.ReadFile(report)
		if err != nil {
			b.Fatal(err)
		}
		var hr hyperfineResult
		if err := json.Unmarshal(raw, &hr); err != nil || len(hr.Results) != 3 {
			b.Fatalf("hyperfine report %s: %v", raw, err)
		}
		o, t := hr.Results[0].Median*1000, hr.Results[1].Median*1000
		oursMs += o
		theirsMs += t
		startMs += hr.Results[2].Median * 1000
		ratio += o / t

		p := pairedRuns(b, w.env, 60, oursCopies, floorCopies)
		pairedMs += p.a
		floorMs += p.b
		xFloor += p.ratio
	}
	b.StopTimer()
	if again, _, err := w.run(ctx, "", "credential-process", "r0"); err != nil || again != warm {
		b.Fatalf("cached answer changed during the benchmark (%v)", err)
	}
	if n := strings.Count(w.log.String(), "\n"); n != 0 {
		b.Fatalf("%d STS requests while the cache was warm", n)
	}
	var peak, catPeak float64
	for range 5 {
		peak = max(peak, peakRSS(b, w.env, binPath, "credential-process", "r0"))
		catPeak = max(catPeak, peakRSS(b, w.env, "/usr/bin/cat", same))
	}
	var inits []float64
	for range 5 {
		inits = append(inits, initMillis(b, w.env, binPath, "credential-process", "r0"))
	}
	slices.Sort(inits)
	n := float64(b.N)
	b.ReportMetric(inits[len(inits)/2], "mfabridge-init-ms")
	b.ReportMetric(oursMs/n, "mfabridge-ms")
	b.ReportMetric(theirsMs/n, "cat-ms")
	b.ReportMetric(startMs/n, "mfabridge-version-ms")
	b.ReportMetric(ratio/n, "x-floor")
	b.ReportMetric(pairedMs/n, "paired-mfabridge-ms")
	b.ReportMetric(floorMs/n, "gofloor-ms")
	b.ReportMetric(xFloor/n, "x-gofloor")
	b.ReportMetric(peak/(1<<20), "mfabridge-peak-MiB")
	b.ReportMetric(catPeak/(1<<20), "cat-peak-MiB")
}

// paired is the result of pairedRuns: the median wall time of each command
// (ms) and the median of the per-pair ratios a/b.
type paired struct{ a, b, ratio float64 }

// pairedRuns runs commands a and b n times each, interleaved (a b, b a,
// a b, …, after three warm-up pairs), output to /dev/null, and returns
// their medians and the median per-pair ratio. Each must exit 0. a and b
// are lists of equivalent command lines (copies of one executable): pair
// i runs a[i%len(a)] and b[i%len(b)].
func pairedRuns(tb testing.TB, env []string, n int, a, b [][]string) paired {
	tb.Helper()
	devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		tb.Fatal(err)
	}
	defer devnull.Close()
	once := func(argv []string) float64 {
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Env, cmd.Stdout, cmd.Stderr = env, devnull, devnull
		start := time.Now()
		if err := cmd.Run(); err != nil {
			tb.Fatalf("%s: %v", strings.Join(argv, " "), err)
		}
		return float64(time.Since(start).Nanoseconds()) / 1e6
	}
	var as, bs, rs []float64
	for i := range n + 3 {
		var ta, tb float64
		ai, bi := a[i%len(a)], b[i%len(b)]
		if i%2 == 0 {
			ta = once(ai)
			tb = once(bi)
		} else {
			tb = once(bi)
			ta = once(ai)
		}
		if i < 3 {
			continue
		}
		as, bs, rs = append(as, ta), append(bs, tb), append(rs, ta/tb)
	}
	return paired{median(as), median(bs), median(rs)}
}

// copyExecutable writes a new file dst with src's bytes, executable.
func copyExecutable(tb testing.TB, src, dst string) {
	tb.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o755); err != nil {
		tb.Fatal(err)
	}
}

func median(v []float64) float64 {
	v = slices.Clone(v)
	slices.Sort(v)
	if len(v)%2 == 0 {
		return (v[len(v)/2-1] + v[len(v)/2]) / 2
	}
	return v[len(v)/2]
}

// interpreter is an executable's ELF interpreter ("" if statically linked).
func interpreter(tb testing.TB, path string) string {
	tb.Helper()
	f, err := elf.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			b, err := io.ReadAll(p.Open())
			if err != nil {
				tb.Fatalf("%s: read PT_INTERP: %v", path, err)
			}
			return strings.TrimRight(string(b), "\x00")
		}
	}
	return ""
}

// cacheEntryFile is the cache entry holding the credentials with access key
// id key: the file a cached credential-process reads for its answer.
func cacheEntryFile(tb testing.TB, dir, key string) string {
	tb.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		tb.Fatal(err)
	}
	for _, name := range names {
		if b, err := os.ReadFile(name); err == nil && strings.Contains(string(b), `"`+key+`"`) {
			return name
		}
	}
	tb.Fatalf("no cache entry in %s holds %s", dir, key)
	return ""
}

// BenchmarkColdStart64: 64 concurrent `mfabridge credential-process`
// processes over 8 role profiles on one MFA device, with an empty cache and
// a fresh emulator each iteration. Codes are counted at the device (the
// CALCULATE APDUs in each process's --debug trace, redacted) and at STS
// (requests carrying a code, from the emulator's log). Target: 1 code,
// 1 GetSessionToken, 8 AssumeRole, 0 failures.
func BenchmarkColdStart64(b *testing.B) {
	const procs, roles = 64, 8
	var wall time.Duration
	var codes, stsCodes, gst, ar, failures float64
	for range b.N {
		b.StopTimer()
		w := newWorld(b, roles)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		cmds := make([]*exec.Cmd, procs)
		outs := make([]bytes.Buffer, procs)
		errs := make([]bytes.Buffer, procs)
		for i := range procs {
			cmds[i] = w.command(ctx, "", "--debug", "credential-process", fmt.Sprintf("r%d", i%roles))
			cmds[i].Stdout, cmds[i].Stderr = &outs[i], &errs[i]
		}
		b.StartTimer()
		start := time.Now()
		var wg sync.WaitGroup
		results := make([]error, procs)
		for i, cmd := range cmds {
			if err := cmd.Start(); err != nil {
				b.Fatal(err)
			}
			wg.Go(func() { results[i] = cmd.Wait() })
		}
		wg.Wait()
		wall += time.Since(start)
		b.StopTimer()
		cancel()
		for i, err := range results {
			if err != nil {
				failures++
				b.Logf("process %d (r%d): %v\n%s", i, i%roles, err, lastLines(errs[i].String(), 3))
				continue
			}
			c, perr := sts.ParseProcessOutput(outs[i].Bytes())
			if perr != nil || time.Until(c.Expiration) < awsconfig.MinRemaining {
				failures++
				b.Logf("process %d: answer %v, %v", i, c, perr)
			}
		}
		for i := range errs {
			codes += float64(calculateAPDUs(errs[i].String()))
		}
		entries, err := w.log.entries()
		if err != nil {
			b.Fatal(err)
		}
		t := tally(entries)
		stsCodes += float64(t["codes"])
		gst += float64(t["GetSessionToken ok"])
		ar += float64(t["AssumeRole ok"])
		failures += float64(t["failed"])
	}
	n := float64(b.N)
	b.ReportMetric(float64(wall.Microseconds())/n/1000, "wall-ms")
	b.ReportMetric(codes/n, "device-codes")
	b.ReportMetric(stsCodes/n, "sts-codes")
	b.ReportMetric(gst/n, "GetSessionToken")
	b.ReportMetric(ar/n, "AssumeRole")
	b.ReportMetric(failures/n, "failures")
}

// calculateAPDUs counts CALCULATE (INS A2) commands in a --debug trace:
// codes computed by the device. CALCULATE ALL (A4, used to list accounts
// with their touch flags) is not a code handed to anyone and is not counted.
func calculateAPDUs(trace string) int {
	n := 0
	for _, apdu := range traceCommands(trace) {
		if strings.HasPrefix(apdu, "00A2") {
			n++
		}
	}
	return n
}

// traceCommands are the command APDUs of a --debug trace (the text after
// `msg="> `, hex with redactions), in order.
func traceCommands(trace string) []string {
	var out []string
	for _, line := range strings.Split(trace, "\n") {
		if _, apdu, ok := strings.Cut(line, `msg="> `); ok {
			out = append(out, apdu)
		}
	}
	return out
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// TestCalculateAPDUs pins the trace format the cold-start count relies on.
func TestCalculateAPDUs(t *testing.T) {
	for _, tc := range []struct {
		trace string
		want  int
	}{
		{"", 0},
		{`time=x level=DEBUG msg="> 00A200012271"` + "\n" + `time=x level=DEBUG msg="< 760506<redacted 4 bytes>9000"`, 1},
		{`time=x level=DEBUG msg="> 00A400010A74"`, 0},
		{`msg="> 00A2"` + "\n" + `msg="> 00A2"` + "\nmfabridge: 00A2", 2},
	} {
		if got := calculateAPDUs(tc.trace); got != tc.want {
			t.Errorf("calculateAPDUs(%q) = %d, want %d", tc.trace, got, tc.want)
		}
	}
}
