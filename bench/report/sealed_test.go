package main

import (
	"strings"
	"testing"
	"time"
)

// The sealed-key day rows (BenchmarkSealedKeyDay, bench/day_test.go).
func TestSealedKeyDayRows(t *testing.T) {
	const out = `BenchmarkTouchDay-2      	       1	11934333656 ns/op	       100.0 AssumeRole	         1.000 GetSessionToken	       100.0 awscli-touches	         1.000 mfabridge-touches	       960.0 uses
BenchmarkSealedKeyDay/pin-once-touch-cached-2         	       1	 725960049 ns/op	       100.0 AssumeRole	         1.000 key-opens	         1.000 mfa-sessions	         1.000 oath-touches	         1.000 pin-prompts	         1.000 pin-verifies	         1.000 pins/session	         1.000 piv-touches	         2.000 touches/session	       960.0 uses
BenchmarkSealedKeyDay/pin-once-touch-always-2         	       1	1037091368 ns/op	       100.0 AssumeRole	         1.000 key-opens	         1.000 mfa-sessions	         1.000 oath-touches	         1.000 pin-prompts	         1.000 pin-verifies	         1.000 pins/session	         1.000 piv-touches	         2.000 touches/session	       960.0 uses
`
	r := parse(out)
	checkTable(t, r, 1,
		"PIN once, touch cached): PIN entries / touches per MFA session (VERIFY with a PIN / OATH + PIV touches, at the simulator) | 1 / 2 (1 MFA session; OATH 1 + PIV 1 touches, sealed key opened 1×) | key in the credentials file (row above): touches 1, no PIN | 1 PIN, ≤ 2 touches per MFA session | met |",
		"| … the same, PIV touch always | 1 / 2 (1 MFA session; OATH 1 + PIV 1 touches, sealed key opened 1×) |",
	)
	// A PIN per role refresh is not met.
	bad := strings.Replace(out, "1.000 pins/session", "100.0 pins/session", 1)
	if r := parse(bad); !strings.Contains(render(r, 1, time.Unix(0, 0)), "| 100 / 2 (") || r.missed != 1 {
		t.Errorf("100 PINs per session not reported as missed (missed=%d)", r.missed)
	}
	// Three touches per session are not met either.
	bad = strings.Replace(out, "2.000 touches/session", "3.000 touches/session", 1)
	if r := parse(bad); !strings.Contains(render(r, 1, time.Unix(0, 0)), "| 1 / 3 (") || r.missed != 1 {
		t.Errorf("3 touches per session not reported as missed (missed=%d)", r.missed)
	}
}
