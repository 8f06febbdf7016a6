package main

import (
	"strings"
	"testing"
	"time"
)

const sample = `goos: linux
BenchmarkCredentialProcessCached-2   	       1	 355263116 ns/op	         0.9344 cat-ms	         1.391 cat-peak-MiB	         1.893 gocat-ms	         7.340 mfabridge-ms	        12.80 mfabridge-peak-MiB	         7.856 x-floor	         2.9 gofloor-ms	         3.6 paired-mfabridge-ms	         1.24 x-gofloor
BenchmarkCredentialProcessCached-2   	       1	 355263116 ns/op	         1.0 cat-ms	         1.391 cat-peak-MiB	         1.9 gocat-ms	         2.0 mfabridge-ms	        12.80 mfabridge-peak-MiB	         2.0 x-floor	         3.0 gofloor-ms	         3.7 paired-mfabridge-ms	         1.23 x-gofloor
BenchmarkCredentialProcessCached-2   	       1	 355263116 ns/op	         1.0 cat-ms	         1.391 cat-peak-MiB	         1.9 gocat-ms	         2.2 mfabridge-ms	        12.80 mfabridge-peak-MiB	         2.2 x-floor	         3.1 gofloor-ms	         3.9 paired-mfabridge-ms	         1.26 x-gofloor
BenchmarkColdStart64-2   	       1	1692960864 ns/op	         8.000 AssumeRole	         1.000 GetSessionToken	         1.000 device-codes	         0 failures	         1.000 sts-codes	      1693 wall-ms
BenchmarkTouchDay-2      	       1	11934333656 ns/op	       100.0 AssumeRole	         1.000 GetSessionToken	       100.0 awscli-touches	         1.000 mfabridge-touches	       960.0 uses
--- SKIP: BenchmarkStackCodeVsYkman
    bench_test.go:22: skipping real-stack test: pcscd is not installed
PASS
`

func TestParseAndRender(t *testing.T) {
	r := parse(sample)
	for _, tc := range []struct {
		bench, unit   string
		med, min, max float64
		n             int
	}{
		{"BenchmarkCredentialProcessCached", "x-floor", 2.2, 2.0, 7.856, 3},
		{"BenchmarkCredentialProcessCached", "mfabridge-peak-MiB", 12.8, 12.8, 12.8, 3},
		{"BenchmarkColdStart64", "failures", 0, 0, 0, 1},
		{"BenchmarkTouchDay", "awscli-touches", 100, 100, 100, 1},
		{"BenchmarkStackCodeVsYkman", "speedup", 0, 0, 0, 0},
	} {
		s := r.stat(tc.bench, tc.unit)
		if s.med != tc.med || s.min != tc.min || s.max != tc.max || s.n != tc.n {
			t.Errorf("%s %s = %+v, want med %v min %v max %v n %d", tc.bench, tc.unit, s, tc.med, tc.min, tc.max, tc.n)
		}
	}
	if got := r.skips["BenchmarkStackCodeVsYkman"]; got != "skipping real-stack test: pcscd is not installed" {
		t.Errorf("skip reason %q", got)
	}
	checkTable(t, r, 3,
		"| cached `credential-process`, wall time | 2.20 ms (2.00 ms–7.34 ms) |",
		"| met: 2.2× `cat`",
		"| cached `credential-process` against the Go floor, paired median | 3.70 ms (3.60 ms–3.90 ms) |",
		"| ≤ 1.25× | met: 1.24× (1.23×–1.26×) |",
		"not measured: skipping real-stack test: pcscd is not installed",
		"| 1 | AWS CLI `mfa_serial` flow (a prompt per role per 1 h expiry, refreshed under 15 min left): 100 | 1 | met |",
		"| … failures | 0 | — | 0 | met |",
	)
	// A median above the target is reported as not met.
	r3 := parse(strings.ReplaceAll(sample, "1.24 x-gofloor", "1.30 x-gofloor"))
	if md := render(r3, 3, time.Unix(0, 0)); !strings.Contains(md, "| ≤ 1.25× | **not met**: 1.26× (1.23×–1.30×) |") || r3.missed != 1 {
		t.Errorf("Go floor median 1.26 not reported as missed (missed=%d):\n%s", r3.missed, md)
	}
	r2 := parse(strings.ReplaceAll(sample, "2.2 x-floor", "9.0 x-floor"))
	if md := render(r2, 3, time.Unix(0, 0)); !strings.Contains(md, "**not met**: 7.9× `cat`") || r2.missed != 1 {
		t.Errorf("median 7.9 not reported as missed (missed=%d):\n%s", r2.missed, md)
	}
}

func TestBenchName(t *testing.T) {
	for in, want := range map[string]string{
		"BenchmarkX-2":     "BenchmarkX",
		"BenchmarkX":       "BenchmarkX",
		"BenchmarkX/a-b-8": "BenchmarkX/a-b",
		"BenchmarkX/a-b":   "BenchmarkX/a-b",
	} {
		if got := benchName(in); got != want {
			t.Errorf("benchName(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzParse: any benchmark output parses and renders without panicking.
func FuzzParse(f *testing.F) {
	f.Add(sample)
	f.Add("BenchmarkX-2 1 2 ns/op 3")
	f.Add("--- SKIP: BenchmarkY\n")
	f.Add("--- SKIP: \n")
	f.Fuzz(func(t *testing.T, s string) {
		render(parse(s), 1, time.Unix(0, 0))
		benchLines(s)
	})
}

// checkTable renders r for count runs and fails for each row of want the
// table lacks, or if a target is reported as missed.
func checkTable(t *testing.T, r *results, count int, want ...string) {
	t.Helper()
	md := render(r, count, time.Unix(0, 0))
	for _, w := range want {
		if !strings.Contains(md, w) {
			t.Errorf("table lacks %q:\n%s", w, md)
		}
	}
	if r.missed != 0 {
		t.Errorf("missed = %d, want 0", r.missed)
	}
}
