//go:build linux

package pcsc

// The card and pcscd part of the fault and load suite (the rest is
// bench/soak_test.go): `mfabridge accounts code` and `accounts list`
// processes hammer a simulated YubiKey through pcscd + vpcd while the card
// is pulled and re-inserted and pcscd is restarted. After each fault: every
// code handed out was right, requests succeed again within seconds, the
// card's state file is intact, and no output holds the secret.

import (
	"context"
	"encoding/base32"
	"encoding/hex"
	"flag"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mfabridge/mfabridge/oath"
	"github.com/mfabridge/mfabridge/simulator"
)

var soakFor = flag.Duration("soak", 0, "run the card and pcscd fault suite for this long instead of the short version (make soak)")

func TestStackSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns hundreds of processes")
	}
	s := needStack(t)
	buildCLI(t)
	sl := s.slots[0]
	ctx := context.Background()
	const name = "Soak:rfc"
	local := oath.NewClient(sl.card)
	putTOTP(t, ctx, local, name)
	defer func() {
		if _, err := local.Select(ctx); err == nil {
			local.Delete(ctx, name)
		}
	}()
	home := t.TempDir()
	dev := fmt.Sprintf("yubikey:%d", serialA)

	var (
		mu       sync.Mutex
		requests int
		failures = map[string]int{}
		examples = map[string]string{}
		bad      []string
		outputs  []string
		round    string
		// touchNotices counts "touch your YubiKey" notices, though the
		// account needs no touch.
		touchNotices int
	)
	request := func(i int) bool {
		args := []string{"accounts", "code", "--device", dev, "--at", "59", name}
		if i%4 == 3 {
			args = []string{"accounts", "list", "--device", dev}
		}
		stdout, stderr, err := cli(t, home, "", args...)
		mu.Lock()
		defer mu.Unlock()
		requests++
		outputs = append(outputs, stdout, stderr)
		if strings.Contains(stderr, "touch your YubiKey") {
			// The account needs no touch: the notice came from a card
			// that stopped answering for a second (see the summary).
			touchNotices++
		}
		if err != nil {
			msg := errorLine(stderr)
			cause := round + ": " + classifyCardError(msg)
			failures[cause]++
			if _, ok := examples[cause]; !ok {
				examples[cause] = msg
			}
			return false
		}
		if args[1] == "code" && strings.TrimSpace(stdout) != "94287082" {
			bad = append(bad, fmt.Sprintf("%s: code %q, want 94287082 (RFC 6238, T=59)", round, stdout))
		}
		if args[1] == "list" && !strings.Contains(stdout, name) {
			bad = append(bad, fmt.Sprintf("%s: list %q lacks %s", round, stdout, name))
		}
		return true
	}

	// load runs workers until stop is closed, then until each has had a
	// success (recovery), giving up after 20 s.
	load := func(fault func()) {
		var stop atomic.Bool
		var wg sync.WaitGroup
		for w := range 3 {
			wg.Go(func() {
				for i := w; !stop.Load(); i += 3 {
					request(i)
				}
				deadline := time.Now().Add(20 * time.Second)
				for i := 0; ; i++ {
					if request(i * 4) {
						return
					}
					if time.Now().After(deadline) {
						mu.Lock()
						bad = append(bad, fmt.Sprintf("%s: no successful request within 20 s after the fault", round))
						mu.Unlock()
						return
					}
					time.Sleep(200 * time.Millisecond)
				}
			})
		}
		time.Sleep(500 * time.Millisecond)
		fault()
		time.Sleep(300 * time.Millisecond)
		stop.Store(true)
		wg.Wait()
		// The state file is intact and still holds the account.
		saved, err := simulator.Open(sl.card.Path())
		if err != nil {
			bad = append(bad, fmt.Sprintf("%s: state file: %v", round, err))
			return
		}
		c := oath.NewClient(saved)
		if _, err := c.Select(ctx); err != nil {
			bad = append(bad, fmt.Sprintf("%s: state file select: %v", round, err))
		} else if list, err := c.List(ctx); err != nil || !strings.Contains(fmt.Sprint(list), name) {
			bad = append(bad, fmt.Sprintf("%s: state file lists %v, %v", round, list, err))
		}
	}

	faults := []struct {
		name string
		run  func()
	}{
		{"card removed and re-inserted", func() {
			// Out for a second, as a hand pulls and re-inserts a key.
			sl.detachNoWait()
			time.Sleep(time.Second)
			if err := s.attachErr(0, sl.card); err != nil {
				t.Fatal(err)
			}
		}},
		{"card pulled and put back within 0.3 s (faster than pcscd's presence poll)", func() {
			sl.detachNoWait()
			time.Sleep(300 * time.Millisecond)
			if err := s.attachErr(0, sl.card); err != nil {
				t.Fatal(err)
			}
		}},
		{"pcscd restarted", func() {
			if err := s.stopPCSCD(); err != nil {
				t.Fatal(err)
			}
			if err := s.startPCSCD(); err != nil {
				t.Fatal(err)
			}
			for _, o := range s.slots {
				if err := waitPresence(o.reader, true); err != nil {
					t.Fatal(err)
				}
			}
		}},
	}
	start := time.Now()
	deadline := start.Add(*soakFor)
	rounds := 0
	for {
		for _, f := range faults {
			mu.Lock()
			round = f.name
			mu.Unlock()
			load(f.run)
			rounds++
		}
		if time.Now().After(deadline) {
			break
		}
	}

	secrets := []string{string(rfcSecret), hex.EncodeToString(rfcSecret), strings.ToUpper(hex.EncodeToString(rfcSecret)),
		base32.StdEncoding.EncodeToString(rfcSecret)}
	for _, out := range outputs {
		for _, sec := range secrets {
			if strings.Contains(out, sec) {
				bad = append(bad, fmt.Sprintf("the account's secret in output: %q", out))
			}
		}
	}
	var b strings.Builder
	total := 0
	causes := make([]string, 0, len(failures))
	for c, n := range failures {
		causes = append(causes, c)
		total += n
	}
	sort.Strings(causes)
	fmt.Fprintf(&b, "stack soak: %s, %d rounds, %d requests (accounts code / list over pcscd), %d failures by cause:\n",
		time.Since(start).Round(time.Second), rounds, requests, total)
	for _, c := range causes {
		fmt.Fprintf(&b, "  %4d  %s\n        e.g. %s\n", failures[c], c, examples[c])
	}
	fmt.Fprintf(&b, "stack soak: %d requests showed the touch notice for an account that needs no touch (a card that stopped answering)\n", touchNotices)
	fmt.Fprintf(&b, "stack soak: invariants (every code right, recovery within 20 s, state file intact, no secret in output): %d violations\n", len(bad))
	t.Log("\n" + b.String())
	if len(bad) > 0 {
		t.Errorf("%d invariant violations:\n%s", len(bad), strings.Join(bad, "\n"))
	}
	for c := range failures {
		if strings.Contains(c, ": other: ") {
			t.Errorf("a failure a user could not place: %s (e.g. %s)", c, examples[c])
		}
	}
}

// errorLine is the CLI's error in its stderr s: the last
// "mfabridge: error: " line (its hints follow it), else the last
// non-empty line.
func errorLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.HasPrefix(lines[i], "mfabridge: error: ") {
			return strings.TrimSpace(lines[i])
		}
	}
	return strings.TrimSpace(lines[len(lines)-1])
}

// classifyCardError reduces a CLI error line to its cause.
func classifyCardError(msg string) string {
	l := strings.ToLower(msg)
	for _, c := range []struct{ word, cause string }{
		{"refused the connection", "pcscd restarted meanwhile"},
		{"pcscd", "pcscd not running"},
		{"service", "pcscd not running"},
		{"removed", "card removed"},
		{"no yubikey", "YubiKey not found"},
		{"reset", "card reset"},
		{"could not reach the yubikey", "YubiKey not answering"},
		{"without a status word", "card answer cut off"},
		{"not connected", "card not connected"},
	} {
		if strings.Contains(l, c.word) {
			return c.cause
		}
	}
	if len(msg) > 80 {
		msg = msg[:80] + "…"
	}
	return "other: " + msg
}
