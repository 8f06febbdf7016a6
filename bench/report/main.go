// Command report runs mfabridge's comparison benchmarks (package bench and
// the pcscd ones of package pcsc) several times and prints one table: for
// each figure the median over the runs with min and max, next to its
// comparison measured in the same runs, the target and whether it is met.
// The table is also written as Markdown (bench/latest.md by default).
//
//	go run ./bench/report [-count 5] [-o bench/latest.md]
//
// With -in FILE it parses benchmark output saved earlier instead of running.
package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

func main() {
	count := flag.Int("count", 5, "runs of each benchmark")
	out := flag.String("o", "bench/latest.md", "Markdown file to write")
	in := flag.String("in", "", "parse this saved benchmark output instead of running the benchmarks")
	goTool := flag.String("go", filepath.Join(runtime.GOROOT(), "bin", "go"), "go command")
	flag.Parse()

	var raw bytes.Buffer
	var runErr error
	if *in != "" {
		b, err := os.ReadFile(*in)
		if err != nil {
			fmt.Fprintln(os.Stderr, "report:", err)
			os.Exit(1)
		}
		raw.Write(b)
	} else {
		runErr = runBenchmarks(*goTool, *count, &raw)
	}
	res := parse(raw.String())
	md := render(res, *count, time.Now().UTC())
	fmt.Print(md)
	if err := os.WriteFile(*out, []byte(md+"\n<details><summary>raw benchmark output</summary>\n\n```\n"+benchLines(raw.String())+"```\n</details>\n"), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "report:", err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "report: wrote %s\n", *out)
	if runErr != nil {
		fmt.Fprintln(os.Stderr, "report:", runErr)
		os.Exit(1)
	}
	if res.missed > 0 {
		fmt.Fprintf(os.Stderr, "report: %d target(s) not met (see the table)\n", res.missed)
	}
}

// runBenchmarks runs both packages' benchmarks, echoing their output to
// stderr as it comes.
func runBenchmarks(goTool string, count int, raw *bytes.Buffer) error {
	runs := [][]string{
		{"test", "-run", "^$", "-bench", ".", "-benchtime", "1x", "-count", strconv.Itoa(count), "-timeout", "30m", "./bench"},
		{"test", "-run", "^$", "-bench", "^BenchmarkStackCodeVsYkman$", "-benchtime", "3x", "-count", strconv.Itoa(count), "-timeout", "30m", "./pcsc"},
	}
	var errs []error
	for _, args := range runs {
		fmt.Fprintf(os.Stderr, "report: go %s\n", strings.Join(args, " "))
		cmd := exec.Command(goTool, args...)
		cmd.Stdout = io.MultiWriter(raw, os.Stderr)
		cmd.Stderr = io.MultiWriter(raw, os.Stderr)
		if err := cmd.Run(); err != nil {
			errs = append(errs, fmt.Errorf("go %s: %w", strings.Join(args, " "), err))
		}
	}
	return errors.Join(errs...)
}

// results holds every metric value by benchmark and unit, and skip reasons.
type results struct {
	vals   map[string]map[string][]float64
	skips  map[string]string
	missed int
}

func parse(out string) *results {
	r := &results{vals: map[string]map[string][]float64{}, skips: map[string]string{}}
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	lastSkip := ""
	for sc.Scan() {
		line := sc.Text()
		if name, ok := strings.CutPrefix(strings.TrimSpace(line), "--- SKIP: "); ok {
			lastSkip = benchName(strings.Fields(name)[0])
			continue
		}
		if lastSkip != "" {
			if reason := strings.TrimSpace(line); reason != "" && !strings.HasPrefix(reason, "---") {
				if _, msg, ok := strings.Cut(reason, ": "); ok {
					reason = msg
				}
				r.skips[lastSkip] = reason
			}
			lastSkip = ""
			continue
		}
		f := strings.Fields(line)
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		if _, err := strconv.Atoi(f[1]); err != nil {
			continue
		}
		name := benchName(f[0])
		if r.vals[name] == nil {
			r.vals[name] = map[string][]float64{}
		}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				break
			}
			r.vals[name][f[i+1]] = append(r.vals[name][f[i+1]], v)
		}
	}
	return r
}

// benchName drops the -GOMAXPROCS suffix.
func benchName(s string) string {
	if i := strings.LastIndex(s, "-"); i > 0 {
		if _, err := strconv.Atoi(s[i+1:]); err == nil {
			return s[:i]
		}
	}
	return s
}

// stat is median, min and max of one metric; n == 0 when not measured.
type stat struct {
	med, min, max float64
	n             int
}

func (r *results) stat(bench, unit string) stat {
	v := slices.Clone(r.vals[bench][unit])
	if len(v) == 0 {
		return stat{}
	}
	slices.Sort(v)
	med := v[len(v)/2]
	if len(v)%2 == 0 {
		med = (v[len(v)/2-1] + v[len(v)/2]) / 2
	}
	return stat{med: med, min: v[0], max: v[len(v)-1], n: len(v)}
}

func (s stat) fmt(format string) string {
	if s.n == 0 {
		return "not measured"
	}
	if s.min == s.max {
		return fmt.Sprintf(format, s.med)
	}
	return fmt.Sprintf(format+" ("+format+"–"+format+")", s.med, s.min, s.max)
}

// row is one line of the table.
type row struct {
	what, ours, theirs, target, verdict string
}

func (r *results) verdict(bench string, ok bool, detail string) string {
	if len(r.vals[bench]) == 0 {
		if why := r.skips[bench]; why != "" {
			return "not measured: " + why
		}
		return "not measured"
	}
	if ok {
		return "met" + detail
	}
	r.missed++
	return "**not met**" + detail
}

// measured is the result of a figure without a target.
func (r *results) measured(bench string) string {
	if len(r.vals[bench]) == 0 {
		return r.verdict(bench, true, "")
	}
	return "measured"
}

func render(r *results, count int, now time.Time) string {
	const cp, pc, cold, day = "BenchmarkCredentialProcessCached", "BenchmarkStackCodeVsYkman", "BenchmarkColdStart64", "BenchmarkTouchDay"
	var rows []row

	ours, cat := r.stat(cp, "mfabridge-ms"), r.stat(cp, "cat-ms")
	ratio := r.stat(cp, "x-floor")
	rows = append(rows, row{
		"cached `credential-process`, wall time",
		ours.fmt("%.2f ms"),
		"`cat` of a same-size file: " + cat.fmt("%.2f ms") +
			"; `mfabridge --version` (start-up, no work): " + r.stat(cp, "mfabridge-version-ms").fmt("%.2f ms") +
			", of which package initialisation: " + r.stat(cp, "mfabridge-init-ms").fmt("%.1f ms"),
		"≤ 2.5× `cat`",
		r.verdict(cp, ratio.med <= 2.5, fmt.Sprintf(": %.1f× `cat`", ratio.med)),
	})
	xg := r.stat(cp, "x-gofloor")
	rows = append(rows, row{
		"cached `credential-process` against the Go floor, paired median",
		r.stat(cp, "paired-mfabridge-ms").fmt("%.2f ms"),
		"Go floor (`bench/floor`: reads and prints the cache entry, linked dynamically as mfabridge is): " +
			r.stat(cp, "gofloor-ms").fmt("%.2f ms"),
		"≤ 1.25×",
		r.verdict(cp, xg.n > 0 && xg.med <= 1.25, ": "+xg.fmt("%.2f×")),
	})
	peak := r.stat(cp, "mfabridge-peak-MiB")
	rows = append(rows, row{
		"cached `credential-process`, peak RSS",
		peak.fmt("%.1f MiB"), "`cat`: " + r.stat(cp, "cat-peak-MiB").fmt("%.1f MiB"),
		"< 20 MiB", r.verdict(cp, peak.max < 20, ""),
	})

	o, t, sp := r.stat(pc, "mfabridge-ms"), r.stat(pc, "ykman-ms"), r.stat(pc, "speedup")
	rows = append(rows, row{
		"one code via pcscd + vpcd, wall time",
		"`mfabridge accounts code`: " + o.fmt("%.1f ms"),
		"`ykman --device SERIAL oath accounts code --single NAME`: " + t.fmt("%.0f ms"),
		"10× faster", r.verdict(pc, sp.med >= 10, fmt.Sprintf(": %.0f× faster", sp.med)),
	})
	rows = append(rows, row{
		"APDUs per code (counted at the simulator, all readers)",
		r.stat(pc, "mfabridge-apdus").fmt("%.0f"), "ykman: " + r.stat(pc, "ykman-apdus").fmt("%.0f"),
		"—", r.measured(pc),
	})

	gst, ar, fail := r.stat(cold, "GetSessionToken"), r.stat(cold, "AssumeRole"), r.stat(cold, "failures")
	dc, sc := r.stat(cold, "device-codes"), r.stat(cold, "sts-codes")
	rows = append(rows, row{
		"cold start, 8 role profiles, 64 concurrent `credential-process` processes: wall time",
		r.stat(cold, "wall-ms").fmt("%.0f ms"), "—", "—", r.measured(cold),
	})
	rows = append(rows, row{
		"… codes computed (device CALCULATE / codes sent to STS)",
		dc.fmt("%.0f") + " / " + sc.fmt("%.0f"), "—", "1",
		r.verdict(cold, dc.max == 1 && dc.min == 1 && sc.max == 1 && sc.min == 1, ""),
	})
	rows = append(rows, row{
		"… STS calls by action",
		"GetSessionToken " + gst.fmt("%.0f") + ", AssumeRole " + ar.fmt("%.0f"), "—", "1 GetSessionToken, 8 AssumeRole",
		r.verdict(cold, gst.min == 1 && gst.max == 1 && ar.min == 8 && ar.max == 8, ""),
	})
	rows = append(rows, row{
		"… failures", fail.fmt("%.0f"), "—", "0", r.verdict(cold, fail.max == 0, ""),
	})

	mt, at := r.stat(day, "mfabridge-touches"), r.stat(day, "awscli-touches")
	rows = append(rows, row{
		"touches, 10 role profiles, 8-hour day (fake clock, each profile used every 5 min)",
		mt.fmt("%.0f"), "AWS CLI `mfa_serial` flow (a prompt per role per 1 h expiry, refreshed under 15 min left): " + at.fmt("%.0f"),
		"1", r.verdict(day, mt.max == 1, ""),
	})
	// BenchmarkSealedKeyDay (bench/day_test.go): the same day with the
	// source key sealed to the PIV applet, counted at the simulated key.
	for _, sealed := range []struct{ bench, what string }{
		{"BenchmarkSealedKeyDay/pin-once-touch-cached", "… the same day, source key sealed to the simulated key's PIV slot 9d " +
			"(`mfabridge_keys = piv:SERIAL`, PIN once, touch cached): PIN entries / touches per MFA session " +
			"(VERIFY with a PIN / OATH + PIV touches, at the simulator)"},
		{"BenchmarkSealedKeyDay/pin-once-touch-always", "… the same, PIV touch always"},
	} {
		ps, ts := r.stat(sealed.bench, "pins/session"), r.stat(sealed.bench, "touches/session")
		sess := r.stat(sealed.bench, "mfa-sessions")
		rows = append(rows, row{
			sealed.what,
			ps.fmt("%.0f") + " / " + ts.fmt("%.0f") + " (" + sess.fmt("%.0f") + " MFA session; OATH " +
				r.stat(sealed.bench, "oath-touches").fmt("%.0f") + " + PIV " + r.stat(sealed.bench, "piv-touches").fmt("%.0f") +
				" touches, sealed key opened " + r.stat(sealed.bench, "key-opens").fmt("%.0f") + "×)",
			"key in the credentials file (row above): touches " + mt.fmt("%.0f") + ", no PIN",
			"1 PIN, ≤ 2 touches per MFA session",
			r.verdict(sealed.bench, sess.min >= 1 && ps.min == 1 && ps.max == 1 && ts.max <= 2, ""),
		})
	}

	var b strings.Builder
	fmt.Fprintf(&b, "## Benchmarks\n\nMeasured %s on %s (%d CPUs, %s); each figure is the median of %d runs, (min–max) when they differ.\n\n",
		now.Format("2006-01-02 15:04 UTC"), cpuModel(), runtime.NumCPU(), runtime.Version(), count)
	b.WriteString("| measurement | mfabridge | compared with (same runs) | target | result |\n|---|---|---|---|---|\n")
	for _, rw := range rows {
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", rw.what, rw.ours, rw.theirs, rw.target, rw.verdict)
	}
	return b.String()
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}

// benchLines keeps the benchmark result lines and skip notices.
func benchLines(out string) string {
	var b strings.Builder
	for _, line := range strings.Split(out, "\n") {
		t := strings.TrimSpace(line)
		if strings.HasPrefix(t, "Benchmark") || strings.HasPrefix(t, "--- SKIP") || strings.HasPrefix(t, "--- FAIL") ||
			strings.HasPrefix(t, "ok ") || strings.HasPrefix(t, "FAIL") || strings.HasPrefix(t, "cpu:") {
			b.WriteString(line + "\n")
		}
	}
	return b.String()
}
