//go:build linux

package pcsc

// The real-stack harness: pcscd in the foreground with a reader config
// folder of its own (vpcd on two free ports under a YubiKey-like name), two
// simulated YubiKeys attached through simulator.ServeVPCD, and Yubico's
// ykman as an independent client. Every pcscd-starting test lives in this
// one package: Debian's pcscd serves only /run/pcscd/pcscd.comm, so two
// packages testing in parallel would fight over it.
//
// The stack starts lazily, on the first test that needs it (fuzzing and
// benchmarks never start pcscd), and TestMain stops everything it started
// by PID. When pcscd / vpcd are missing or another pcscd runs, the stack
// tests skip with the reason; with CI set in the environment they fail.

import (
	"context"
	"encoding/base32"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/mfabridge/mfabridge/oath"
	"github.com/mfabridge/mfabridge/simulator"
)

const (
	pcscdSocket   = "/run/pcscd/pcscd.comm"
	pcscdPIDFile  = "/run/pcscd/pcscd.pid"
	vpcdDriver    = "/usr/lib/pcsc/drivers/serial/libifdvpcd.so"
	friendlyName  = "Yubico YubiKey OTP+FIDO+CCID"
	serialA       = 11111111
	serialB       = 22222222
	stackDeadline = 15 * time.Second
)

var firmware = simulator.Version{Major: 5, Minor: 4, Patch: 3}

// rfcSecret is RFC 6238's SHA1 test secret; nothing real.
var rfcSecret = []byte("12345678901234567890")

func TestMain(m *testing.M) {
	code := m.Run()
	if cliPath != "" && os.Getenv("MFABRIDGE_TEST_CLI") == "" {
		os.RemoveAll(filepath.Dir(cliPath))
	}
	if stack != nil {
		if err := stack.shutdown(); err != nil {
			fmt.Fprintln(os.Stderr, "pcsc stack teardown:", err)
			if code == 0 {
				code = 1
			}
		}
	}
	os.Exit(code)
}

// apduTrace, when set, sees every command APDU a card gets (with the slot
// index), e.g. to count them by instruction.
var apduTrace atomic.Pointer[func(slot int, apdu []byte)]

// slot is one vpcd reader with a simulated card attached (or not).
type slot struct {
	index  int
	port   int
	reader string
	card   *simulator.Card
	apdus  atomic.Int64 // APDUs seen by the bridge (the hook)

	mu     sync.Mutex // guards cancel and done: tests pull cards from goroutines
	cancel context.CancelFunc
	done   chan struct{}
}

type testStack struct {
	dir      string
	confDir  string
	pcscd    string
	logPath  string
	basePort int
	cmd      *exec.Cmd
	exited   chan struct{}
	slots    [2]*slot
}

var (
	stackOnce sync.Once
	stack     *testStack
	stackSkip string // why the stack cannot run here
	stackErr  error  // the stack should run but failed to start
)

// skipOrFail skips with reason, or fails when CI is set: CI must run them.
func skipOrFail(t testing.TB, reason string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("real-stack test cannot run in CI: %s", reason)
	}
	t.Skipf("skipping real-stack test: %s", reason)
}

// otherPCSCD reports a pcscd that this test run did not start.
func otherPCSCD() string {
	if c, err := net.DialTimeout("unix", pcscdSocket, time.Second); err == nil {
		c.Close()
		return "another pcscd is running (" + pcscdSocket + " answers); stop it to run these tests"
	}
	if b, err := os.ReadFile(pcscdPIDFile); err == nil {
		var pid int
		if _, err := fmt.Sscan(string(b), &pid); err == nil && pid > 0 && syscall.Kill(pid, 0) == nil {
			return fmt.Sprintf("another pcscd is running (pid %d); stop it to run these tests", pid)
		}
	}
	return ""
}

// debugStack: MFABRIDGE_PCSCD_DEBUG=1 runs pcscd with APDU logging and
// keeps its folder (test secrets only ever reach that log).
func debugStack() bool { return os.Getenv("MFABRIDGE_PCSCD_DEBUG") != "" }

func findPCSCD() (string, string) {
	path, err := exec.LookPath("pcscd")
	if err != nil {
		if _, err := os.Stat("/usr/sbin/pcscd"); err != nil {
			return "", "pcscd is not installed (apt-get install pcscd)"
		}
		path = "/usr/sbin/pcscd"
	}
	if _, err := os.Stat(vpcdDriver); err != nil {
		return "", "the vpcd driver is not installed (apt-get install vsmartcard-vpcd)"
	}
	return path, ""
}

// needStack starts the stack once and returns it with both keys attached.
func needStack(t testing.TB) *testStack {
	t.Helper()
	stackOnce.Do(func() {
		path, reason := findPCSCD()
		if reason == "" {
			reason = otherPCSCD()
		}
		if reason != "" {
			stackSkip = reason
			return
		}
		stack, stackErr = startStack(path)
	})
	if stackSkip != "" {
		skipOrFail(t, stackSkip)
	}
	if stackErr != nil {
		t.Fatalf("start pcscd + vpcd stack: %v", stackErr)
	}
	// Earlier tests may have swapped cards: put the standard ones back.
	for _, s := range stack.slots {
		if !s.attached() {
			stack.attach(t, s.index, s.card)
		}
	}
	return stack
}

func freePortPair() (int, error) {
	for range 50 {
		l1, err := net.Listen("tcp", ":0")
		if err != nil {
			return 0, err
		}
		p := l1.Addr().(*net.TCPAddr).Port
		l2, err := net.Listen("tcp", fmt.Sprintf(":%d", p+1))
		l1.Close()
		if err == nil {
			l2.Close()
			return p, nil
		}
	}
	return 0, errors.New("no two consecutive free TCP ports")
}

func startStack(pcscd string) (*testStack, error) {
	dir, err := os.MkdirTemp("", "mfabridge-pcsc-")
	if err != nil {
		return nil, err
	}
	s := &testStack{dir: dir, confDir: filepath.Join(dir, "reader.conf.d"), pcscd: pcscd,
		logPath: filepath.Join(dir, "pcscd.log")}
	fail := func(err error) (*testStack, error) {
		s.shutdown()
		return nil, err
	}
	if s.basePort, err = freePortPair(); err != nil {
		return fail(err)
	}
	// A copy of Debian's /etc/reader.conf.d/vpcd on our ports. vpcd listens
	// on the port in DEVICENAME for slot 0 and on the next one for slot 1.
	conf := fmt.Sprintf("FRIENDLYNAME %q\nDEVICENAME   /dev/null:0x%X\nLIBPATH      %s\nCHANNELID    0x%X\n",
		friendlyName, s.basePort, vpcdDriver, s.basePort)
	if err := os.MkdirAll(s.confDir, 0o755); err != nil {
		return fail(err)
	}
	if err := os.WriteFile(filepath.Join(s.confDir, "vpcd"), []byte(conf), 0o644); err != nil {
		return fail(err)
	}
	for i, serial := range []uint32{serialA, serialB} {
		card, err := simulator.Create(filepath.Join(dir, fmt.Sprintf("key%d.json", i)), serial, firmware)
		if err != nil {
			return fail(err)
		}
		s.slots[i] = &slot{index: i, port: s.basePort + i, card: card,
			reader: fmt.Sprintf("%s 00 %02d", friendlyName, i)}
	}
	if err := s.startPCSCD(); err != nil {
		return fail(err)
	}
	for i, sl := range s.slots {
		if err := s.attachErr(i, sl.card); err != nil {
			return fail(err)
		}
	}
	return s, nil
}

// startPCSCD runs pcscd in the foreground and waits for both vpcd readers.
func (s *testStack) startPCSCD() error {
	logf, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	args := []string{"--foreground", "--config", s.confDir}
	if debugStack() {
		args = append(args, "--debug", "--apdu")
	}
	cmd := exec.Command(s.pcscd, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start pcscd: %w", err)
	}
	s.cmd, s.exited = cmd, make(chan struct{})
	go func() { cmd.Wait(); close(s.exited) }()

	deadline := time.Now().Add(stackDeadline)
	for time.Now().Before(deadline) {
		select {
		case <-s.exited:
			return fmt.Errorf("pcscd exited early (%v): %s", cmd.ProcessState, s.logTail())
		default:
		}
		if rs, err := listReaders(); err == nil && len(rs) >= 2 {
			for _, sl := range s.slots {
				if !slices.Contains(rs, sl.reader) {
					return fmt.Errorf("pcscd lists readers %q, missing %q", rs, sl.reader)
				}
			}
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("pcscd did not list the vpcd readers within %v: %s", stackDeadline, s.logTail())
}

func listReaders() ([]string, error) {
	l, err := loadLib()
	if err != nil {
		return nil, err
	}
	c, err := l.establishContext()
	if err != nil {
		return nil, err
	}
	defer l.releaseContext(c)
	return l.listReaders(c)
}

// otherProgram is another PC/SC client with a context of its own (as ykman
// or gpg's scdaemon would be), connected to one reader.
type otherProgram struct {
	l      *lib
	ctx, h uintptr
}

func connectOther(t testing.TB, reader string, share uint32) *otherProgram {
	t.Helper()
	l, err := loadLib()
	if err != nil {
		t.Fatal(err)
	}
	c, err := l.establishContext()
	if err != nil {
		t.Fatal(err)
	}
	h, _, err := l.connect(c, reader, share)
	if err != nil {
		l.releaseContext(c)
		t.Fatal(err)
	}
	return &otherProgram{l: l, ctx: c, h: h}
}

func (o *otherProgram) begin() error      { return o.l.beginTransaction(o.h) }
func (o *otherProgram) end() error        { return o.l.endTransaction(o.h, leaveCard) }
func (o *otherProgram) disconnect() error { return o.l.disconnect(o.h, leaveCard) }
func (o *otherProgram) release() error    { return o.l.releaseContext(o.ctx) }

// stopPCSCD stops the pcscd we started, by PID.
func (s *testStack) stopPCSCD() error {
	if s.cmd == nil {
		return nil
	}
	defer func() { s.cmd = nil }()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return fmt.Errorf("stop pcscd: %w", err)
	}
	select {
	case <-s.exited:
	case <-time.After(5 * time.Second):
		s.cmd.Process.Kill()
		<-s.exited
		return fmt.Errorf("pcscd (pid %d) ignored SIGTERM for 5s; killed", s.cmd.Process.Pid)
	}
	// pcscd removes its socket on exit; wait so the next start is clean.
	for range 100 {
		if _, err := os.Stat(pcscdSocket); errors.Is(err, os.ErrNotExist) {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil
}

func (s *testStack) logTail() string {
	b, _ := os.ReadFile(s.logPath)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return strings.TrimSpace(string(b))
}

func (s *testStack) shutdown() error {
	var errs []error
	for _, sl := range s.slots {
		if sl != nil {
			sl.detachNoWait()
		}
	}
	errs = append(errs, s.stopPCSCD())
	if debugStack() {
		fmt.Fprintf(os.Stderr, "pcsc stack: kept %s (pcscd.log has every APDU)\n", s.dir)
	} else {
		errs = append(errs, os.RemoveAll(s.dir))
	}
	return errors.Join(errs...)
}

// attach connects card to slot i and waits until pcscd sees it.
func (s *testStack) attach(t testing.TB, i int, card *simulator.Card) {
	t.Helper()
	if err := s.attachErr(i, card); err != nil {
		t.Fatal(err)
	}
}

// attachTouchCard puts a key (serialB) with one touch account, "touch",
// and the given touch policy in slot 1, its state in path; the usual key
// returns when the test ends.
func (s *testStack) attachTouchCard(t *testing.T, path string, policy simulator.TouchPolicy, opts ...simulator.Option) {
	t.Helper()
	card, err := simulator.Create(path, serialB, firmware, append([]simulator.Option{simulator.WithTouch(policy)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	local := oath.NewClient(card)
	if _, err := local.Select(ctx); err != nil {
		t.Fatal(err)
	}
	err = local.Put(ctx, oath.PutRequest{Name: "touch", Type: oath.TOTP, Algorithm: oath.SHA1, Digits: 6, Key: rfcSecret, Touch: true})
	if err != nil {
		t.Fatal(err)
	}
	s.attach(t, 1, card)
	t.Cleanup(func() { s.attach(t, 1, s.slots[1].card) })
}

func (s *testStack) attachErr(i int, card *simulator.Card) error {
	sl := s.slots[i]
	if sl.attached() {
		// pcscd polls presence every 0.4 s: wait until it has seen the
		// old card go, or the new one would inherit a dead connection.
		sl.detachNoWait()
		if err := waitPresence(sl.reader, false); err != nil {
			return err
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	sl.mu.Lock()
	sl.cancel, sl.done = cancel, done
	sl.mu.Unlock()
	go func() {
		defer close(done)
		simulator.ServeVPCD(ctx, card, fmt.Sprintf("127.0.0.1:%d", sl.port),
			simulator.WithVPCDBackoff(20*time.Millisecond, 200*time.Millisecond),
			simulator.WithVPCDHook(func(apdu, resp []byte) {
				sl.apdus.Add(1)
				if f := apduTrace.Load(); f != nil {
					(*f)(sl.index, apdu)
				}
			}))
	}()
	return waitPresence(sl.reader, true)
}

// detach pulls the card out of slot i (closes the vpcd connection) and
// waits until pcscd has noticed.
func (s *testStack) detach(t *testing.T, i int) {
	t.Helper()
	s.slots[i].detachNoWait()
	if err := waitPresence(s.slots[i].reader, false); err != nil {
		t.Fatal(err)
	}
}

func (sl *slot) attached() bool {
	sl.mu.Lock()
	defer sl.mu.Unlock()
	return sl.cancel != nil
}

func (sl *slot) detachNoWait() {
	sl.mu.Lock()
	cancel, done := sl.cancel, sl.done
	sl.cancel = nil
	sl.mu.Unlock()
	if cancel == nil {
		return
	}
	cancel()
	<-done
}

// waitPresence waits until pcscd reports a card in reader (or none).
func waitPresence(reader string, present bool) error {
	l, err := loadLib()
	if err != nil {
		return fmt.Errorf("wait for card in %q: %w", reader, err)
	}
	c, err := l.establishContext()
	if err != nil {
		return fmt.Errorf("wait for card in %q: %w", reader, err)
	}
	defer l.releaseContext(c)
	deadline := time.Now().Add(stackDeadline)
	rs := []readerState{{reader: reader, currentState: stateUnaware}}
	for time.Now().Before(deadline) {
		if err := l.getStatusChange(c, 200*time.Millisecond, rs); err != nil && err != scardError(codeTimeout) {
			return fmt.Errorf("wait for card in %q: %w", reader, err)
		}
		if (rs[0].eventState&statePresent != 0) == present {
			return nil
		}
		rs[0].currentState = rs[0].eventState &^ stateChanged
	}
	return fmt.Errorf("card in %q: present=%v not reached within %v", reader, present, stackDeadline)
}

// session opens the key with serial over PC/SC inside one transaction.
func session(t testing.TB, serial uint32, f func(ctx context.Context, c *oath.Client, k *Card, info KeyInfo)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	pc, err := Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	k, info, err := pc.OpenKey(ctx, serial)
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	if err := k.Begin(ctx); err != nil {
		t.Fatal(err)
	}
	defer k.End()
	f(ctx, oath.NewClient(k), k, info)
}

// putTOTP stores an 8-digit SHA1 TOTP account with the RFC 6238 secret.
func putTOTP(t testing.TB, ctx context.Context, c *oath.Client, name string) {
	t.Helper()
	if _, err := c.Select(ctx); err != nil {
		t.Fatal(err)
	}
	err := c.Put(ctx, oath.PutRequest{Name: name, Type: oath.TOTP, Algorithm: oath.SHA1, Digits: 8, Key: rfcSecret})
	if err != nil {
		t.Fatal(err)
	}
}

func TestStackReadersAndKeys(t *testing.T) {
	s := needStack(t)
	ctx := context.Background()
	pc, err := Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	rs, err := pc.Readers()
	if err != nil {
		t.Fatal(err)
	}
	for _, sl := range s.slots {
		if !slices.Contains(rs, sl.reader) {
			t.Errorf("Readers() = %q, missing %q", rs, sl.reader)
		}
	}
	keys, err := pc.Keys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []KeyInfo{
		{Reader: s.slots[0].reader, Serial: serialA, Firmware: "5.4.3"},
		{Reader: s.slots[1].reader, Serial: serialB, Firmware: "5.4.3"},
	}
	if !slices.Equal(keys, want) {
		t.Errorf("Keys() = %+v, want %+v", keys, want)
	}
	for _, k := range keys {
		if strings.Contains(k.Reader, fmt.Sprint(k.Serial)) {
			t.Errorf("reader name %q contains the serial: the test would not prove probing", k.Reader)
		}
	}
}

func TestStackOpenKey(t *testing.T) {
	s := needStack(t)
	ctx := context.Background()
	pc, err := Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()

	_, _, err = pc.OpenKey(ctx, 0)
	var multi *MultipleKeysError
	if !errors.As(err, &multi) || !slices.Equal(multi.Serials, []uint32{serialA, serialB}) {
		t.Fatalf("OpenKey(0) with two keys = %v, want MultipleKeysError{%d %d}", err, serialA, serialB)
	}
	if !strings.Contains(err.Error(), "11111111, 22222222") {
		t.Errorf("error %q does not list the serials", err)
	}
	_, _, err = pc.OpenKey(ctx, 33333333)
	if !errors.Is(err, ErrNoYubiKey) || !strings.Contains(err.Error(), "33333333") {
		t.Fatalf("OpenKey(unknown serial) = %v, want ErrNoYubiKey naming it", err)
	}
	k, info, err := pc.OpenKey(ctx, serialB)
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	if info.Serial != serialB || k.Reader() != s.slots[1].reader {
		t.Errorf("OpenKey(%d) = %+v on %q", serialB, info, k.Reader())
	}
	atr, err := k.ATR()
	if err != nil || fmt.Sprintf("%X", atr) != "3BFD1300008131FE158073C021C057597562694B657940" {
		t.Errorf("ATR() = %X, %v", atr, err)
	}

	// With one key removed, 0 means "the only key".
	s.detach(t, 0)
	defer s.attach(t, 0, s.slots[0].card)
	k2, info, err := pc.OpenKey(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	k2.Close()
	if info.Serial != serialB {
		t.Errorf("OpenKey(0) with one key = %+v", info)
	}
}

// A code over PC/SC equals the in-process card's answer for the same time,
// and costs SELECT + CALCULATE (+ VALIDATE) after discovery.
func TestStackCodeMatchesInProcess(t *testing.T) {
	s := needStack(t)
	sl := s.slots[0]
	at := time.Unix(59, 0)
	chal := oath.TOTPChallenge(at, 30*time.Second)
	ctx := context.Background()

	local := oath.NewClient(sl.card)
	putTOTP(t, ctx, local, "RFC:sha1")
	want, err := local.Calculate(ctx, "RFC:sha1", chal, true)
	if err != nil {
		t.Fatal(err)
	}
	if want.Code() != "94287082" { // RFC 6238 Appendix B, T=59, SHA1
		t.Fatalf("in-process code %s, want 94287082", want.Code())
	}

	for _, password := range []string{"", "hunter2"} {
		name := "no password"
		if password != "" {
			name = "password"
			if _, err := local.Select(ctx); err != nil {
				t.Fatal(err)
			}
			info := local.LastSelect()
			if err := local.SetCode(ctx, oath.DeriveKey(password, info.Salt)); err != nil {
				t.Fatal(err)
			}
		}
		t.Run(name, func(t *testing.T) {
			session(t, serialA, func(ctx context.Context, c *oath.Client, k *Card, info KeyInfo) {
				before := sl.apdus.Load()
				if _, err := c.Select(ctx); err != nil {
					t.Fatal(err)
				}
				wantAPDUs := int64(2)
				if password != "" {
					if err := c.Unlock(ctx, password); err != nil {
						t.Fatal(err)
					}
					wantAPDUs = 3
				}
				got, err := c.Calculate(ctx, "RFC:sha1", chal, true)
				if err != nil {
					t.Fatal(err)
				}
				if got.Code() != want.Code() {
					t.Errorf("code over PC/SC %s, in-process %s", got.Code(), want.Code())
				}
				if n := sl.apdus.Load() - before; n != wantAPDUs {
					t.Errorf("%d APDUs for one code, want %d", n, wantAPDUs)
				}
			})
		})
	}
	// Leave the key as found: no password, no accounts.
	if _, err := local.Select(ctx); err != nil {
		t.Fatal(err)
	}
	if err := local.Unlock(ctx, "hunter2"); err != nil {
		t.Fatal(err)
	}
	if err := local.ClearCode(ctx); err != nil {
		t.Fatal(err)
	}
	if err := local.Delete(ctx, "RFC:sha1"); err != nil {
		t.Fatal(err)
	}
}

// A second program holding the reader exclusively: Connect retries, then
// gives ErrReaderBusy; once released, it connects.
func TestStackReaderBusy(t *testing.T) {
	s := needStack(t)
	old := busyWait
	busyWait = 600 * time.Millisecond
	defer func() { busyWait = old }()

	h := connectOther(t, s.slots[0].reader, shareExclusive)
	defer h.release()
	held := true
	defer func() {
		if held {
			h.disconnect()
		}
	}()

	ctx := context.Background()
	pc, err := Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	start := time.Now()
	_, err = pc.Connect(ctx, s.slots[0].reader)
	if !errors.Is(err, ErrReaderBusy) {
		t.Fatalf("Connect to an exclusively held reader = %v, want ErrReaderBusy", err)
	}
	if d := time.Since(start); d < 400*time.Millisecond {
		t.Errorf("gave up after %v, want retries for about %v", d, busyWait)
	}
	if !strings.Contains(err.Error(), "held exclusively by another program") {
		t.Errorf("error %q does not say what is wrong", err)
	}
	// Discovery still finds the other key, and names the busy reader when
	// asked for the held one.
	if _, _, err := pc.OpenKey(ctx, serialA); !errors.Is(err, ErrReaderBusy) {
		t.Errorf("OpenKey(held key) = %v, want ErrReaderBusy", err)
	}
	k, _, err := pc.OpenKey(ctx, 0)
	if err != nil {
		t.Fatalf("OpenKey(0) with one key held elsewhere = %v", err)
	}
	k.Close()

	// Released during the backoff (once Connect has met the busy reader
	// and says it is retrying): Connect succeeds.
	busy := &busySignal{ch: make(chan struct{})}
	watched, err := Open(ctx, WithLogger(slog.New(busy)))
	if err != nil {
		t.Fatal(err)
	}
	defer watched.Close()
	released := make(chan error, 1)
	go func() {
		<-busy.ch
		released <- h.disconnect()
	}()
	held = false
	busyWait = 3 * time.Second
	k, err = watched.Connect(ctx, s.slots[0].reader)
	select {
	case <-busy.ch: // logged synchronously, before Connect's next try
	default:
		t.Fatalf("Connect = %v, %v without meeting the busy reader", k, err)
	}
	if rerr := <-released; rerr != nil {
		t.Fatalf("release the reader: %v", rerr)
	}
	if err != nil {
		t.Fatalf("Connect after release = %v", err)
	}
	k.Close()
}

// busySignal is a slog handler that closes ch when Connect logs that the
// reader is busy and it is retrying.
type busySignal struct {
	once sync.Once
	ch   chan struct{}
}

func (b *busySignal) Enabled(context.Context, slog.Level) bool { return true }
func (b *busySignal) Handle(_ context.Context, r slog.Record) error {
	if r.Message == "pcsc: reader busy, retrying" {
		b.once.Do(func() { close(b.ch) })
	}
	return nil
}
func (b *busySignal) WithAttrs([]slog.Attr) slog.Handler { return b }
func (b *busySignal) WithGroup(string) slog.Handler      { return b }

// A second program keeping a transaction open on the card: pcsc-lite would
// make Connect and Begin wait for it forever. Begin and Connect give up
// after txWait with ErrCardInUse (or sooner on ctx), discovery names the
// busy reader, Close does not block on the abandoned calls, and once the
// other program ends its transaction the key works again.
func TestStackTransactionHeld(t *testing.T) {
	s := needStack(t)
	old := txWait
	txWait = 500 * time.Millisecond
	defer func() { txWait = old }()
	reader := s.slots[0].reader

	ctx := context.Background()
	pc, err := Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	// Connected before the other program starts its transaction.
	k, err := pc.Connect(ctx, reader)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := pc.Connect(ctx, reader)
	if err != nil {
		t.Fatal(err)
	}

	h := connectOther(t, reader, shareShared)
	defer h.release()
	defer h.disconnect()
	if err := h.begin(); err != nil {
		t.Fatal(err)
	}
	held := true
	defer func() {
		if held {
			h.end()
		}
	}()

	wantInUse := func(what string, err error, start time.Time) {
		t.Helper()
		if !errors.Is(err, ErrCardInUse) {
			t.Fatalf("%s while another program holds a transaction = %v, want ErrCardInUse", what, err)
		}
		if d := time.Since(start); d < 400*time.Millisecond || d > 5*time.Second {
			t.Errorf("%s gave up after %v, want about %v", what, d, txWait)
		}
		for _, want := range []string{reader, "busy"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%s: error %q does not mention %q", what, err, want)
			}
		}
	}
	start := time.Now()
	wantInUse("Begin", k.Begin(ctx), start)
	start = time.Now()
	_, err = pc.Connect(ctx, reader)
	wantInUse("Connect", err, start)
	start = time.Now()
	_, _, err = pc.OpenKey(ctx, serialA)
	wantInUse("OpenKey", err, start)

	// A ctx that ends first ends the wait.
	cctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	err = k2.Begin(cctx)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Begin with an expiring ctx = %v, want context.DeadlineExceeded", err)
	}
	cctx, cancel = context.WithTimeout(ctx, 100*time.Millisecond)
	_, err = pc.Connect(cctx, reader)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Connect with an expiring ctx = %v, want context.DeadlineExceeded", err)
	}

	// What a user sees: the CLI (default wait) gives up with the reason.
	start = time.Now()
	_, stderr, err := cli(t, t.TempDir(), "", "accounts", "list", "--device", fmt.Sprintf("yubikey:%d", serialA))
	if err == nil || !strings.Contains(stderr, "another program has kept the YubiKey busy") || !strings.Contains(stderr, reader) ||
		!strings.Contains(stderr, "(also present: 22222222)") || !strings.Contains(stderr, "\nmfabridge: hint: let it finish or close it, and try again\n") {
		t.Errorf("accounts list while another program holds a transaction: %v\n%s", err, stderr)
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("the CLI gave up after %v", d)
	}
	t.Logf("the CLI said: %s", stderr)

	// The abandoned calls are still pending in pcsc-lite: Close does not
	// wait for them; they are ended in the background once granted.
	closeStart := time.Now()
	k.Close()
	k2.Close()
	if d := time.Since(closeStart); d > time.Second {
		t.Errorf("Close with a pending Begin blocked for %v", d)
	}
	if err := h.end(); err != nil {
		t.Fatal(err)
	}
	held = false
	txWait = 5 * time.Second
	k3, _, err := pc.OpenKey(ctx, serialA)
	if err != nil {
		t.Fatalf("OpenKey after the other program ended its transaction = %v", err)
	}
	defer k3.Close()
	if err := k3.Begin(ctx); err != nil {
		t.Fatalf("Begin after the abandoned ones were closed = %v", err)
	}
	if _, err := oath.NewClient(k3).Select(ctx); err != nil {
		t.Fatal(err)
	}
	k3.End()
}

// A wait for touch is cancellable: Transmit returns with the context's
// error without the card's answer, Close does not wait for it, and the key
// works afterwards. The simulated user touches only when the test says so,
// after all of that: nothing here races a delay.
func TestStackCancelTouchWait(t *testing.T) {
	s := needStack(t)
	user := newTestUser(t)
	s.attachTouchCard(t, filepath.Join(t.TempDir(), "k.json"), simulator.TouchPolicy{}, user.option())

	pc, err := Open(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	k, _, err := pc.OpenKey(context.Background(), serialB)
	if err != nil {
		t.Fatal(err)
	}
	if err := k.Begin(context.Background()); err != nil {
		t.Fatal(err)
	}
	c := oath.NewClient(k)
	if _, err := c.Select(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { <-user.waiting; cancel() }() // the card blinks: give up
	// The card answers only after user.touch below, so returning at all
	// proves the wait was abandoned; returnsBy's bound only turns a hang
	// into a failure.
	err = returnsBy(t, "Calculate after its context was cancelled", func() error {
		_, err := c.Calculate(ctx, "touch", oath.TOTPChallenge(time.Now(), 30*time.Second), true)
		return err
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Calculate given up during the touch wait = %v, want context.Canceled", err)
	}
	if err := returnsBy(t, "Close with the abandoned transmit pending", k.Close); err != nil {
		t.Errorf("Close = %v", err)
	}
	if err := returnsBy(t, "Context.Close with the abandoned transmit pending", pc.Close); err != nil {
		t.Errorf("Context.Close = %v", err)
	}
	// Once the card has answered, a new session gets the code.
	user.touch()
	session(t, serialB, func(ctx context.Context, c *oath.Client, k *Card, info KeyInfo) {
		if _, err := c.Select(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Calculate(ctx, "touch", oath.TOTPChallenge(time.Now(), 30*time.Second), true); err != nil {
			t.Fatal(err)
		}
	})
}

// returnsBy runs f and returns its error, failing the test if f has not
// returned after 10 s: for calls that must not wait for a card that never
// answers.
func returnsBy(t *testing.T, what string, f func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: still waiting after 10 s (for a card that does not answer until touched)", what)
		return nil
	}
}

// testUser is a simulated user the test drives: waiting is closed when the
// card first waits for a touch; the card is touched (now and later) once
// touch is called. A wait the card gives up (its context) returns the
// context's error.
type testUser struct {
	waiting chan struct{}
	ready   chan struct{}
	once    sync.Once
	sawWait sync.Once
}

func newTestUser(t *testing.T) *testUser {
	u := &testUser{waiting: make(chan struct{}), ready: make(chan struct{})}
	t.Cleanup(u.touch) // never leave the card blocked
	return u
}

func (u *testUser) option() simulator.Option {
	return simulator.WithTouchFunc(func(ctx context.Context) (bool, error) {
		u.sawWait.Do(func() { close(u.waiting) })
		select {
		case <-u.ready:
			return true, nil
		case <-ctx.Done():
			return false, ctx.Err()
		}
	})
}

func (u *testUser) touch() { u.once.Do(func() { close(u.ready) }) }

// The card leaves the reader while it waits for a touch during CALCULATE:
// the error says so, and the card's state file is intact.
func TestStackCardRemovedMidCalculate(t *testing.T) {
	s := needStack(t)
	path := filepath.Join(t.TempDir(), "touchy.json")
	user := newTestUser(t) // never touches before the test ends
	s.attachTouchCard(t, path, simulator.TouchPolicy{}, user.option())
	ctx := context.Background()

	session(t, serialB, func(ctx context.Context, c *oath.Client, k *Card, info KeyInfo) {
		if _, err := c.Select(ctx); err != nil {
			t.Fatal(err)
		}
		go func() {
			<-user.waiting            // the card blinks
			s.slots[1].detachNoWait() // pull the key out
		}()
		start := time.Now()
		_, err := c.Calculate(ctx, "touch", oath.TOTPChallenge(time.Now(), 30*time.Second), true)
		if !errors.Is(err, ErrCardRemoved) {
			t.Fatalf("Calculate with the card pulled = %v, want ErrCardRemoved", err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("noticed the removal after %v", d)
		}
		t.Logf("error: %v", err)
	})

	// No state was corrupted: the file still opens with the account.
	reopened, err := simulator.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	l2 := oath.NewClient(reopened)
	if _, err := l2.Select(ctx); err != nil {
		t.Fatal(err)
	}
	list, err := l2.List(ctx)
	if err != nil || len(list) != 1 || list[0].Name != "touch" {
		t.Errorf("after removal: List() = %+v, %v", list, err)
	}
}

// A touch that never comes answers 6982: its own error, not "removed".
func TestStackTouchTimeout(t *testing.T) {
	s := needStack(t)
	s.attachTouchCard(t, filepath.Join(t.TempDir(), "k.json"), simulator.TouchPolicy{Mode: simulator.TouchTimeout, Delay: 300 * time.Millisecond})
	session(t, serialB, func(ctx context.Context, c *oath.Client, k *Card, info KeyInfo) {
		if _, err := c.Select(ctx); err != nil {
			t.Fatal(err)
		}
		_, err := c.Calculate(ctx, "touch", oath.TOTPChallenge(time.Now(), 30*time.Second), true)
		if !errors.Is(err, oath.ErrTouchTimeout) || errors.Is(err, ErrCardRemoved) {
			t.Fatalf("Calculate without touch = %v, want oath.ErrTouchTimeout", err)
		}
		// The session goes on.
		if _, err := c.List(ctx); err != nil {
			t.Errorf("List after a touch time-out = %v", err)
		}
	})
}

// Wrong password over PC/SC: its own error; the key still works after.
func TestStackWrongPassword(t *testing.T) {
	s := needStack(t)
	card, err := simulator.Create(filepath.Join(t.TempDir(), "k.json"), serialB, firmware)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	local := oath.NewClient(card)
	putTOTP(t, ctx, local, "acct")
	if err := local.SetCode(ctx, oath.DeriveKey("right", local.LastSelect().Salt)); err != nil {
		t.Fatal(err)
	}
	s.attach(t, 1, card)
	defer s.attach(t, 1, s.slots[1].card)
	session(t, serialB, func(ctx context.Context, c *oath.Client, k *Card, info KeyInfo) {
		if _, err := c.Select(ctx); err != nil {
			t.Fatal(err)
		}
		if err := c.Unlock(ctx, "wrong"); !errors.Is(err, oath.ErrWrongPassword) {
			t.Fatalf("Unlock(wrong) = %v, want oath.ErrWrongPassword", err)
		}
		if _, err := c.Select(ctx); err != nil {
			t.Fatal(err)
		}
		if err := c.Unlock(ctx, "right"); err != nil {
			t.Fatalf("Unlock(right) after a wrong try = %v", err)
		}
		if _, err := c.Calculate(ctx, "acct", oath.TOTPChallenge(time.Now(), 30*time.Second), true); err != nil {
			t.Fatal(err)
		}
	})
}

// ykman runs Yubico's CLI with input on stdin (secrets and passwords never
// go into argv, nor into the test log).
func ykman(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	out, err := ykmanErr(t, stdin, args...)
	if err != nil {
		t.Fatalf("ykman %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func ykmanErr(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, ykmanPath(t), args...)
	cmd.Stdin = strings.NewReader(stdin)
	// A HOME of its own: ykman may remember passwords there.
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir(), "XDG_CONFIG_HOME="+t.TempDir())
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func ykmanPath(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("ykman")
	if err != nil {
		skipOrFail(t, "ykman is not installed (apt-get install yubikey-manager)")
	}
	return p
}

func TestStackYkmanList(t *testing.T) {
	needStack(t)
	ykmanPath(t)
	out := ykman(t, "", "list")
	for _, want := range []string{
		"YubiKey 5 NFC (5.4.3) [OTP+FIDO+CCID] Serial: 11111111",
		"YubiKey 5 NFC (5.4.3) [OTP+FIDO+CCID] Serial: 22222222",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("ykman list lacks %q:\n%s", want, out)
		}
	}
}

// codesNow computes the 6-digit TOTP codes of names over PC/SC and asks
// ykman for all codes within the same 30 s period (retrying across a
// period boundary). It returns ours and ykman's, by name.
func codesNow(t *testing.T, serial uint32, password string, names ...string) (ours, theirs map[string]string) {
	t.Helper()
	for range 3 {
		start := time.Now()
		ours, theirs = map[string]string{}, map[string]string{}
		session(t, serial, func(ctx context.Context, c *oath.Client, k *Card, info KeyInfo) {
			if _, err := c.Select(ctx); err != nil {
				t.Fatal(err)
			}
			if password != "" {
				if err := c.Unlock(ctx, password); err != nil {
					t.Fatal(err)
				}
			}
			for _, name := range names {
				r, err := c.Calculate(ctx, name, oath.TOTPChallenge(start, 30*time.Second), true)
				if err != nil {
					t.Fatal(err)
				}
				ours[name] = r.Code()
			}
		})
		stdin := ""
		if password != "" {
			stdin = password + "\n"
		}
		out := ykman(t, stdin, "--device", fmt.Sprint(serial), "oath", "accounts", "code")
		for _, line := range strings.Split(out, "\n") {
			f := strings.Fields(line)
			if len(f) >= 2 {
				theirs[strings.Join(f[:len(f)-1], " ")] = f[len(f)-1]
			}
		}
		if start.Unix()/30 == time.Now().Unix()/30 {
			return ours, theirs
		}
	}
	t.Fatal("could not stay within one TOTP period")
	return nil, nil
}

func sameCodes(t *testing.T, ours, theirs map[string]string) {
	t.Helper()
	for name, code := range ours {
		if theirs[name] != code {
			t.Errorf("%s: mfabridge %s, ykman %q", name, code, theirs[name])
		}
	}
}

// ykman and mfabridge read each other's accounts with equal codes; every
// change ykman makes through vpcd lands in the simulator's state file.
// ykman runs are kept few: each costs a Python start-up (0.4-2 s).
func TestStackYkmanOATH(t *testing.T) {
	s := needStack(t)
	ykmanPath(t)
	dev := fmt.Sprint(serialB)
	secret := base32.StdEncoding.EncodeToString(rfcSecret)
	ctx := context.Background()

	// ykman adds, mfabridge lists it; mfabridge adds, ykman computes both.
	ykman(t, secret+"\n", "--device", dev, "oath", "accounts", "add", "-i", "Example", "alice")
	session(t, serialB, func(ctx context.Context, c *oath.Client, k *Card, info KeyInfo) {
		if _, err := c.Select(ctx); err != nil {
			t.Fatal(err)
		}
		list, err := c.List(ctx)
		if err != nil || len(list) != 1 || list[0].Name != "Example:alice" || list[0].Type != oath.TOTP {
			t.Fatalf("List() after ykman add = %+v, %v", list, err)
		}
		err = c.Put(ctx, oath.PutRequest{Name: "AWS:bob", Type: oath.TOTP, Algorithm: oath.SHA256, Digits: 6, Key: rfcSecret})
		if err != nil {
			t.Fatal(err)
		}
	})
	ours, theirs := codesNow(t, serialB, "", "Example:alice", "AWS:bob")
	sameCodes(t, ours, theirs)

	// rename and delete by ykman: its list and the state file agree.
	ykman(t, "", "--device", dev, "oath", "accounts", "rename", "-f", "AWS:bob", "AWS:robert")
	ykman(t, "", "--device", dev, "oath", "accounts", "delete", "-f", "Example:alice")
	if out := ykman(t, "", "--device", dev, "oath", "accounts", "list"); strings.TrimSpace(out) != "AWS:robert" {
		t.Errorf("ykman list after rename+delete:\n%s", out)
	}
	saved, err := simulator.Open(s.slots[1].card.Path())
	if err != nil {
		t.Fatal(err)
	}
	l := oath.NewClient(saved)
	if _, err := l.Select(ctx); err != nil {
		t.Fatal(err)
	}
	if list, err := l.List(ctx); err != nil || len(list) != 1 || list[0].Name != "AWS:robert" {
		t.Fatalf("state file after ykman rename+delete: %+v, %v", list, err)
	}

	// A password set by ykman: mfabridge needs it and refuses a wrong one.
	ykman(t, "s3cret\n", "--device", dev, "oath", "access", "change")
	session(t, serialB, func(ctx context.Context, c *oath.Client, k *Card, info KeyInfo) {
		sel, err := c.Select(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !sel.Locked() {
			t.Fatal("not locked after ykman oath access change")
		}
		if _, err := c.List(ctx); !errors.Is(err, oath.ErrAuthRequired) {
			t.Errorf("List() while locked = %v, want ErrAuthRequired", err)
		}
		if err := c.Unlock(ctx, "nope"); !errors.Is(err, oath.ErrWrongPassword) {
			t.Errorf("Unlock(wrong) = %v", err)
		}
	})
	ours, theirs = codesNow(t, serialB, "s3cret", "AWS:robert")
	sameCodes(t, ours, theirs)
	if out, err := ykmanErr(t, "wrong\n", "--device", dev, "oath", "accounts", "list"); err == nil {
		t.Errorf("ykman accepted a wrong password:\n%s", out)
	}
	ykman(t, "s3cret\n", "--device", dev, "oath", "access", "change", "--clear")

	// Leave the key as found.
	session(t, serialB, func(ctx context.Context, c *oath.Client, k *Card, info KeyInfo) {
		if sel, err := c.Select(ctx); err != nil || sel.Locked() {
			t.Fatalf("after ykman --clear: %+v, %v", sel, err)
		}
		if err := c.Delete(ctx, "AWS:robert"); err != nil {
			t.Fatal(err)
		}
	})
}

var (
	cliOnce sync.Once
	cliPath string
	cliErr  error
)

// buildCLI builds cmd/mfabridge once per test run, or uses the binary
// named by MFABRIDGE_TEST_CLI (make test-dist-stack: the release binary
// that make dist built).
func buildCLI(t testing.TB) string {
	t.Helper()
	cliOnce.Do(func() {
		if p := os.Getenv("MFABRIDGE_TEST_CLI"); p != "" {
			if fi, err := os.Stat(p); err != nil || !fi.Mode().IsRegular() {
				cliErr = fmt.Errorf("MFABRIDGE_TEST_CLI=%s: not a binary: %v", p, err)
				return
			}
			cliPath = p
			return
		}
		goTool := filepath.Join(runtime.GOROOT(), "bin", "go")
		if _, err := os.Stat(goTool); err != nil {
			if goTool, err = exec.LookPath("go"); err != nil {
				cliErr = errors.New("no go tool to build cmd/mfabridge")
				return
			}
		}
		dir, err := os.MkdirTemp("", "mfabridge-cli-")
		if err != nil {
			cliErr = err
			return
		}
		cliPath = filepath.Join(dir, "mfabridge")
		out, err := exec.Command(goTool, "build", "-o", cliPath, "github.com/mfabridge/mfabridge/cmd/mfabridge").CombinedOutput()
		if err != nil {
			cliErr = fmt.Errorf("build cmd/mfabridge: %v\n%s", err, out)
		}
	})
	if cliErr != nil {
		t.Fatal(cliErr)
	}
	return cliPath
}

// cli runs the mfabridge binary with a clean environment of its own.
func cli(t *testing.T, home, stdin string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, buildCLI(t), args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "MFABRIDGE_TTY=none"}
	cmd.Stdin = strings.NewReader(stdin)
	var o, e strings.Builder
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	return o.String(), e.String(), err
}

// The whole chain with the real binary: `mfabridge sim serve` attaches a
// key file to vpcd, ykman writes to it, `mfabridge accounts code` reads it
// through device -> pcsc -> pcscd, and SIGTERM stops serve cleanly with
// every change on disk.
func TestStackCLISimServe(t *testing.T) {
	s := needStack(t)
	ykmanPath(t)
	bin := buildCLI(t)
	home := t.TempDir()
	path := filepath.Join(t.TempDir(), "served.json")
	if _, stderr, err := cli(t, home, "", "sim", "init", path, "--serial", "33333333"); err != nil {
		t.Fatalf("sim init: %v\n%s", err, stderr)
	}

	sl := s.slots[1]
	sl.detachNoWait()
	if err := waitPresence(sl.reader, false); err != nil {
		t.Fatal(err)
	}
	defer s.attach(t, 1, sl.card)
	serve := exec.Command(bin, "sim", "serve", path, "--vpcd", fmt.Sprintf("127.0.0.1:%d", sl.port))
	serve.Env = []string{"HOME=" + home, "MFABRIDGE_TTY=none"}
	var serveErr strings.Builder
	serve.Stderr = &serveErr
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- serve.Wait() }()
	defer func() {
		if serve.ProcessState == nil {
			serve.Process.Kill()
			<-exited
		}
	}()
	if err := waitPresence(sl.reader, true); err != nil {
		t.Fatalf("%v; serve said: %s", err, serveErr.String())
	}

	out, stderr, err := cli(t, home, "", "devices")
	if err != nil || !strings.Contains(out, "11111111") || !strings.Contains(out, "33333333") {
		t.Errorf("devices: %v\n%s\n%s", err, out, stderr)
	}
	secret := base32.StdEncoding.EncodeToString(rfcSecret)
	ykman(t, secret+"\n", "--device", "33333333", "oath", "accounts", "add", "-d", "8", "-i", "RFC", "sha1")
	out, stderr, err = cli(t, home, "", "devices", "--json")
	if err != nil || !strings.Contains(out, `"serial": 33333333,
    "firmware": "5.4.3",`) || !regexp.MustCompile(`"serial": 33333333,[^}]*"accounts": 1,\s*"password_protected": false`).MatchString(out) {
		t.Errorf("devices --json after ykman added one account to 33333333: %v\n%s\n%s", err, out, stderr)
	}
	out, stderr, err = cli(t, home, "", "accounts", "code", "--device", "yubikey:33333333", "--at", "59", "RFC:sha1")
	if err != nil || strings.TrimSpace(out) != "94287082" {
		t.Errorf("accounts code of ykman's account at T=59: %q, %v\n%s", out, err, stderr)
	}
	_, stderr, err = cli(t, home, "", "accounts", "list", "--device", "yubikey")
	if err == nil || !strings.Contains(stderr, "several YubiKeys: 11111111, 33333333") {
		t.Errorf("accounts list with two keys and no serial: %v\n%s", err, stderr)
	}

	if err := serve.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("sim serve after SIGTERM: %v\n%s", err, serveErr.String())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("sim serve ignored SIGTERM for 5 s")
	}
	if err := waitPresence(sl.reader, false); err != nil {
		t.Fatal(err)
	}
	saved, err := simulator.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	c := oath.NewClient(saved)
	if _, err := c.Select(context.Background()); err != nil {
		t.Fatal(err)
	}
	if list, err := c.List(context.Background()); err != nil || len(list) != 1 || list[0].Name != "RFC:sha1" {
		t.Errorf("state file after serve stopped: %+v, %v", list, err)
	}
}

// pcscd stops (the service is gone for open contexts and new ones) and
// comes back: the bridges reconnect and both keys are found again.
func TestStackPCSCDRestart(t *testing.T) {
	s := needStack(t)
	ctx := context.Background()
	pc, err := Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	// State made through PC/SC before the restart must survive it (the
	// bridge powers the card off when pcscd goes away).
	session(t, serialA, func(ctx context.Context, c *oath.Client, k *Card, info KeyInfo) {
		putTOTP(t, ctx, c, "survivor")
	})
	if err := s.stopPCSCD(); err != nil {
		t.Fatal(err)
	}
	if _, err := pc.Keys(ctx); !errors.Is(err, ErrServiceNotRunning) {
		t.Errorf("Keys() on a context whose pcscd stopped = %v, want ErrServiceNotRunning", err)
	}
	if _, err := Open(ctx); !errors.Is(err, ErrServiceNotRunning) {
		t.Errorf("Open() with pcscd stopped = %v, want ErrServiceNotRunning", err)
	}
	if err := s.startPCSCD(); err != nil {
		t.Fatal(err)
	}
	for _, sl := range s.slots {
		if err := waitPresence(sl.reader, true); err != nil {
			t.Fatal(err)
		}
	}
	pc2, err := Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer pc2.Close()
	keys, err := pc2.Keys(ctx)
	if err != nil || len(keys) != 2 {
		t.Fatalf("Keys() after restart = %+v, %v", keys, err)
	}
	session(t, serialA, func(ctx context.Context, c *oath.Client, k *Card, info KeyInfo) {
		if _, err := c.Select(ctx); err != nil {
			t.Fatal(err)
		}
		if err := c.Delete(ctx, "survivor"); err != nil {
			t.Errorf("account made before the pcscd restart: %v", err)
		}
	})
}

// BenchmarkStackCode measures one code over PC/SC as a CLI run would get
// it: connect to pcscd, find the key by serial, SELECT, CALCULATE, close.
// (ykman takes about 0.43 s for the same on an idle machine.)
func BenchmarkStackCode(b *testing.B) {
	s := needStack(b)
	sl := s.slots[0]
	ctx := context.Background()
	local := oath.NewClient(sl.card)
	putTOTP(b, ctx, local, "bench")
	defer func() {
		if _, err := local.Select(ctx); err == nil {
			local.Delete(ctx, "bench")
		}
	}()
	chal := oath.TOTPChallenge(time.Unix(59, 0), 30*time.Second)
	before := sl.apdus.Load()
	b.ResetTimer()
	for range b.N {
		session(b, serialA, func(ctx context.Context, c *oath.Client, k *Card, info KeyInfo) {
			if _, err := c.Select(ctx); err != nil {
				b.Fatal(err)
			}
			r, err := c.Calculate(ctx, "bench", chal, true)
			if err != nil || r.Code() != "94287082" {
				b.Fatalf("code %q, %v", r.Code(), err)
			}
		})
	}
	b.StopTimer()
	b.ReportMetric(float64(sl.apdus.Load()-before)/float64(b.N), "apdus/op")
}
