package device

import (
	"context"
	"errors"
	"io/fs"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mfabridge/mfabridge/oath"
	"github.com/mfabridge/mfabridge/simulator"
)

var rfcKey = []byte("12345678901234567890")

// memKey is a YubiKey over an in-memory simulated card.
func memKey(t *testing.T, fw string, hooks Hooks, opts ...simulator.Option) (*YubiKey, *simulator.Card) {
	t.Helper()
	v, err := simulator.ParseVersion(fw)
	if err != nil {
		t.Fatal(err)
	}
	st, err := simulator.NewState(12345678, v)
	if err != nil {
		t.Fatal(err)
	}
	card := simulator.New(st, opts...)
	open := func(context.Context) (oath.Transport, func() error, error) {
		card.PowerOn()
		return card, func() error { card.PowerOff(); return nil }, nil
	}
	return NewYubiKey(Info{Kind: "sim", Serial: 12345678}, open, hooks, nil), card
}

func TestYubiKeyPutCalculateList(t *testing.T) {
	ctx := context.Background()
	y, card := memKey(t, "5.4.3", Hooks{})
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(y.Put(ctx, Credential{Account: "rfc", Digits: 8}, rfcKey, PutOptions{}))
	must(y.Put(ctx, Credential{Issuer: "Example", Account: "slow", Period: time.Minute}, rfcKey, PutOptions{}))
	must(y.Put(ctx, Credential{Account: "counter", Type: oath.HOTP}, rfcKey, PutOptions{Counter: 1}))
	must(y.Put(ctx, Credential{Account: "touchy", Touch: true}, rfcKey, PutOptions{}))

	before := card.Stats()
	c, err := y.Calculate(ctx, "rfc", time.Unix(59, 0))
	if err != nil || c.Value != "94287082" {
		t.Fatalf("Calculate rfc = %q, %v", c.Value, err)
	}
	after := card.Stats()
	if n := after.Total - before.Total; n != 2 {
		t.Errorf("one code took %d APDUs, want SELECT + CALCULATE", n)
	}
	// period from the name: T=59 with a 60 s step is step 0
	c, err = y.Calculate(ctx, "60/Example:slow", time.Unix(59, 0))
	if err != nil || c.ValidTo.Sub(c.ValidFrom) != time.Minute {
		t.Fatalf("60 s account: %+v %v", c, err)
	}
	creds, err := y.List(ctx)
	if err != nil || len(creds) != 4 {
		t.Fatalf("List = %+v, %v", creds, err)
	}
	byName := map[string]Credential{}
	for _, cr := range creds {
		byName[cr.Name] = cr
	}
	if cr := byName["60/Example:slow"]; cr.Issuer != "Example" || cr.Account != "slow" || cr.Period != time.Minute {
		t.Errorf("parsed name: %+v", cr)
	}
	if !byName["touchy"].Touch || byName["rfc"].Touch || byName["counter"].Type != oath.HOTP {
		t.Errorf("touch/type: %+v", byName)
	}
	entries, err := y.CalculateAll(ctx, time.Unix(59, 0))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, e := range entries {
		if e.Code != nil {
			got[e.Name] = e.Code.Value
		} else {
			got[e.Name] = "-"
		}
	}
	slow, _ := y.Calculate(ctx, "60/Example:slow", time.Unix(59, 0))
	want := map[string]string{"rfc": "94287082", "60/Example:slow": slow.Value, "counter": "-", "touchy": "-"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("CalculateAll[%s] = %q, want %q", k, got[k], v)
		}
	}
	// HOTP with IMF 1: RFC 4226 counter 1 → 287082
	if c, err := y.Calculate(ctx, "counter", time.Now()); err != nil || c.Value[len(c.Value)-6:] != "287082" {
		t.Errorf("HOTP = %q, %v", c.Value, err)
	}
	if _, err := y.Calculate(ctx, "nope", time.Now()); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "YubiKey 12345678") && !strings.Contains(err.Error(), "simulated") {
		t.Errorf("unknown name: %v", err)
	}
	must(y.Rename(ctx, "rfc", "RFC:6238"))
	must(y.Delete(ctx, "RFC:6238"))
	if err := y.Delete(ctx, "RFC:6238"); !errors.Is(err, ErrNotFound) {
		t.Errorf("delete twice: %v", err)
	}
}

func TestYubiKeyFirmwareGates(t *testing.T) {
	ctx := context.Background()
	y, _ := memKey(t, "4.1.0", Hooks{})
	if err := y.Put(ctx, Credential{Account: "t", Touch: true}, rfcKey, PutOptions{}); !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "touch needs firmware 4.2.0") {
		t.Errorf("touch on 4.1.0: %v", err)
	}
	if err := y.Put(ctx, Credential{Account: "s", Algorithm: oath.SHA512}, rfcKey, PutOptions{}); !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "SHA512 needs firmware 4.3.1") {
		t.Errorf("SHA512 on 4.1.0: %v", err)
	}
	if err := y.Put(ctx, Credential{Account: "ok"}, rfcKey, PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := y.Rename(ctx, "ok", "new"); !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "5.3.1") {
		t.Errorf("rename on 4.1.0: %v", err)
	}
}

func TestYubiKeyPassword(t *testing.T) {
	ctx := context.Background()
	var asked atomic.Int32
	pw := "hunter2"
	hooks := Hooks{Password: func(context.Context, Info) (string, error) { asked.Add(1); return pw, nil }}
	y, _ := memKey(t, "5.4.3", hooks)
	if err := y.Put(ctx, Credential{Account: "a"}, rfcKey, PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := y.SetPassword(ctx, "hunter2"); err != nil {
		t.Fatal(err)
	}
	// A fresh process (new YubiKey value) asks once, then remembers the key.
	y2 := NewYubiKey(y.info, y.open, hooks, nil)
	for i := 0; i < 3; i++ {
		if _, err := y2.Calculate(ctx, "a", time.Unix(59, 0)); err != nil {
			t.Fatal(err)
		}
	}
	if n := asked.Load(); n != 1 {
		t.Errorf("password asked %d times, want 1", n)
	}
	pw = "wrong"
	y3 := NewYubiKey(y.info, y.open, hooks, nil)
	if _, err := y3.List(ctx); !errors.Is(err, ErrWrongPassword) {
		t.Errorf("wrong password: %v", err)
	}
	y4 := NewYubiKey(y.info, y.open, Hooks{}, nil)
	if _, err := y4.List(ctx); !errors.Is(err, ErrPasswordRequired) {
		t.Errorf("no prompt: %v", err)
	}
	pw = "hunter2"
	if err := y2.ClearPassword(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := y4.List(ctx); err != nil {
		t.Errorf("after clear: %v", err)
	}
}

func TestYubiKeyTouchNotice(t *testing.T) {
	ctx := context.Background()
	var mu sync.Mutex
	var events []string
	record := func(e string) { mu.Lock(); events = append(events, e); mu.Unlock() }
	shown := make(chan struct{}, 1)
	hooks := Hooks{Touch: func(Info) func() {
		record("show")
		select {
		case shown <- struct{}{}:
		default:
		}
		return func() { record("clear") }
	}}
	// The simulated user touches the key once the notice is up, as a
	// person does: no delay is guessed against TouchDelay.
	user := simulator.WithTouchFunc(func(ctx context.Context) (bool, error) {
		select {
		case <-shown:
			record("touch")
			return true, nil
		case <-ctx.Done():
			return false, ctx.Err()
		}
	})
	y, _ := memKey(t, "5.4.3", hooks, user)
	if err := y.Put(ctx, Credential{Account: "t", Touch: true}, rfcKey, PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := y.Put(ctx, Credential{Account: "quick"}, rfcKey, PutOptions{}); err != nil {
		t.Fatal(err)
	}
	// An answer without touch comes far within TouchDelay (microseconds
	// against a second).
	if _, err := y.Calculate(ctx, "quick", time.Now()); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	if len(events) != 0 {
		t.Errorf("a quick answer showed the notice: %v", events)
	}
	mu.Unlock()
	cctx, cancel := context.WithTimeout(ctx, time.Minute) // a bound on a hung test, not a synchronisation
	defer cancel()
	if _, err := y.Calculate(cctx, "t", time.Unix(59, 0)); err != nil {
		t.Fatalf("the notice never showed, so the user never touched: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if got := strings.Join(events, ","); got != "show,touch,clear" {
		t.Errorf("touch events = %v, want show, touch, then clear", got)
	}
}

func TestYubiKeyTouchTimeout(t *testing.T) {
	ctx := context.Background()
	y, _ := memKey(t, "5.4.3", Hooks{}, simulator.WithTouch(simulator.TouchPolicy{Mode: "timeout", Delay: 10 * time.Millisecond}))
	if err := y.Put(ctx, Credential{Account: "t", Touch: true}, rfcKey, PutOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err := y.Calculate(ctx, "t", time.Now())
	if !errors.Is(err, oath.ErrTouchTimeout) || errors.Is(err, ErrPasswordRequired) {
		t.Errorf("touch time-out: %v", err)
	}
}

// Many goroutines (each with its own OpenSim, as separate processes would
// be) share one state file: HOTP counters advance exactly once per code.
func TestSimSharedState(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "key.json")
	if _, err := simulator.Create(path, 999, simulator.Version{Major: 5, Minor: 4, Patch: 3}); err != nil {
		t.Fatal(err)
	}
	y, err := OpenSim(path, Hooks{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := y.Put(ctx, Credential{Account: "h", Type: oath.HOTP}, rfcKey, PutOptions{}); err != nil {
		t.Fatal(err)
	}
	const n = 10
	codes := make(chan string, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d, err := OpenSim(path, Hooks{}, nil)
			if err != nil {
				t.Error(err)
				return
			}
			c, err := d.Calculate(ctx, "h", time.Now())
			if err != nil {
				t.Error(err)
				return
			}
			codes <- c.Value
		}()
	}
	wg.Wait()
	close(codes)
	want := map[string]bool{"755224": true, "287082": true, "359152": true, "969429": true, "338314": true, "254676": true, "287922": true, "162583": true, "399871": true, "520489": true}
	for c := range codes {
		if !want[c] {
			t.Errorf("unexpected or repeated HOTP code %s", c)
		}
		delete(want, c)
	}
	if len(want) != 0 {
		t.Errorf("codes never produced: %v", want)
	}
	missing := filepath.Join(t.TempDir(), "missing.json")
	var me *SimMissingError
	if _, err := OpenSim(missing, Hooks{}, nil); !errors.As(err, &me) || me.Path != missing || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing state file: %v", err)
	}
}

// TestYubiKeyConcurrentInfo runs sessions and Info side by side on a key
// whose firmware is learnt from the first SELECT (go test -race finds an
// unguarded write).
func TestYubiKeyConcurrentInfo(t *testing.T) {
	ctx := context.Background()
	mem, _ := memKey(t, "5.4.3", Hooks{})
	// One session at a time reaches the card, as a PC/SC transaction
	// ensures; the YubiKey itself is shared.
	var card sync.Mutex
	open := func(ctx context.Context) (oath.Transport, func() error, error) {
		card.Lock()
		tr, release, err := mem.open(ctx)
		if err != nil {
			card.Unlock()
			return nil, nil, err
		}
		return tr, func() error { defer card.Unlock(); return release() }, nil
	}
	y := NewYubiKey(mem.info, open, Hooks{}, nil)
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			if _, err := y.List(ctx); err != nil {
				t.Error(err)
			}
		}()
		go func() {
			defer wg.Done()
			_ = y.Info().String()
		}()
	}
	wg.Wait()
	if fw := y.Info().Firmware; fw != "5.4.3" {
		t.Errorf("Info().Firmware = %q after a session, want 5.4.3", fw)
	}
}
