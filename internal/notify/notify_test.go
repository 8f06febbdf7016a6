package notify

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/mfabridge/mfabridge/internal/dbustest"
)

var inCI = os.Getenv("CI") != ""

// server is a fake notification service on a test bus.
type server struct {
	mu      sync.Mutex
	shown   map[uint32]string // id → summary, while shown
	log     []string          // "notify SUMMARY|BODY|urgency", "close ID"
	next    uint32
	hang    chan struct{} // when set, Notify never answers until it is closed
	slow    chan struct{} // when set, Notify answers once it is closed
	changed chan struct{}
}

func (s *server) Notify(app string, replaces uint32, icon, summary, body string, actions []string, hints map[string]dbus.Variant, expire int32) (uint32, *dbus.Error) {
	if s.hang != nil {
		<-s.hang
		return 0, dbus.MakeFailedError(errors.New("too late"))
	}
	if s.slow != nil {
		<-s.slow
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.next++
	s.shown[s.next] = summary
	u, _ := hints["urgency"].Value().(byte)
	s.log = append(s.log, "notify "+summary+"|"+body+"|"+string('0'+u)+"|"+app)
	s.signal()
	return s.next, nil
}

func (s *server) CloseNotification(id uint32) *dbus.Error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.shown, id)
	s.log = append(s.log, "close "+string('0'+rune(id)))
	s.signal()
	return nil
}

func (s *server) signal() {
	select {
	case s.changed <- struct{}{}:
	default:
	}
}

func (s *server) snapshot() (map[uint32]string, []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := map[uint32]string{}
	for k, v := range s.shown {
		m[k] = v
	}
	return m, append([]string(nil), s.log...)
}

// serve owns the notification name on the bus at addr.
func serve(t *testing.T, addr string, s *server) {
	t.Helper()
	s.shown, s.changed = map[uint32]string{}, make(chan struct{}, 1)
	conn, err := dbus.Connect(addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if err := conn.Export(s, fdoPath, fdoName); err != nil {
		t.Fatal(err)
	}
	if r, err := conn.RequestName(fdoName, dbus.NameFlagDoNotQueue); err != nil || r != dbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("own %s: %v %v", fdoName, r, err)
	}
}

func TestShowAndClose(t *testing.T) {
	addr := dbustest.Start(t, inCI)
	s := &server{}
	serve(t, addr, s)
	n := New(Options{BusAddress: addr, GOOS: "linux"})
	var failed error
	sh := n.Show("touch your YubiKey", "YubiKey 12345678 waits for a touch", func(err error) { failed = err })
	sh.Wait()
	if failed != nil {
		t.Fatal(failed)
	}
	shown, log := s.snapshot()
	if len(shown) != 1 || len(log) != 1 || log[0] != "notify touch your YubiKey|YubiKey 12345678 waits for a touch|2|mfabridge" {
		t.Fatalf("shown %v, log %q", shown, log)
	}
	sh.Close()
	if shown, log := s.snapshot(); len(shown) != 0 || len(log) != 2 || log[1] != "close 1" {
		t.Fatalf("after Close: shown %v, log %q", shown, log)
	}
}

// TestCloseBeforeShown: Close right after Show (the key answered at once)
// withdraws the notice once it is up; nothing is left on screen.
func TestCloseBeforeShown(t *testing.T) {
	addr := dbustest.Start(t, inCI)
	s := &server{}
	serve(t, addr, s)
	n := New(Options{BusAddress: addr, GOOS: "linux"})
	for range 5 {
		n.Show("t", "b", nil).Close()
	}
	if shown, log := s.snapshot(); len(shown) != 0 || len(log) != 10 {
		t.Fatalf("shown %v, log %q", shown, log)
	}
}

// TestLateShowWithdrawn: the key answered (Close) while the service was
// still busy with Notify; Close returns without waiting the whole time
// limit, and the notice is withdrawn as soon as it is up.
func TestLateShowWithdrawn(t *testing.T) {
	addr := dbustest.Start(t, inCI)
	s := &server{slow: make(chan struct{})}
	serve(t, addr, s)
	n := New(Options{BusAddress: addr, GOOS: "linux", Timeout: 10 * time.Second, CloseWait: 50 * time.Millisecond})
	sh := n.Show("t", "b", func(err error) { t.Errorf("failed: %v", err) })
	start := time.Now()
	sh.Close()
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("Close took %v", d)
	}
	close(s.slow) // the service gets to it now
	deadline := time.After(10 * time.Second)
	for {
		shown, log := s.snapshot()
		if len(log) == 2 && len(shown) == 0 && log[1] == "close 1" {
			return
		}
		select {
		case <-s.changed:
		case <-deadline:
			t.Fatalf("the late notice was not withdrawn: shown %v, log %q", shown, log)
		}
	}
}

// TestDrainWithdrawsLateNotice: a process that is about to exit drains
// the notifier; a notice that the service put up after Close gave up is
// withdrawn before Drain returns (without Drain, the process would exit
// and leave it on the desktop until it expires).
func TestDrainWithdrawsLateNotice(t *testing.T) {
	addr := dbustest.Start(t, inCI)
	s := &server{slow: make(chan struct{})}
	serve(t, addr, s)
	n := New(Options{BusAddress: addr, GOOS: "linux", Timeout: 10 * time.Second, CloseWait: 50 * time.Millisecond})
	sh := n.Show("t", "b", func(err error) { t.Errorf("failed: %v", err) })
	sh.Close() // the key answered first: Close gives up after CloseWait
	if _, log := s.snapshot(); len(log) != 0 {
		t.Fatalf("the service answered before it was let: %q", log)
	}
	close(s.slow) // the service gets to it now
	n.Drain(10 * time.Second)
	if shown, log := s.snapshot(); len(shown) != 0 || len(log) != 2 || log[1] != "close 1" {
		t.Fatalf("after Drain: shown %v, log %q; want the late notice withdrawn", shown, log)
	}
}

// TestDrainBounded: a service that never answers does not hold Drain
// past its limit.
func TestDrainBounded(t *testing.T) {
	addr := dbustest.Start(t, inCI)
	s := &server{hang: make(chan struct{})}
	t.Cleanup(func() { close(s.hang) })
	serve(t, addr, s)
	n := New(Options{BusAddress: addr, GOOS: "linux", Timeout: time.Minute, CloseWait: 10 * time.Millisecond})
	n.Show("t", "b", nil).Close()
	done := make(chan struct{})
	go func() { n.Drain(50 * time.Millisecond); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("Drain did not return at its limit")
	}
}

// TestNoService: a bus without a notification service, no bus at all, a
// service that never answers, and a socket that never speaks D-Bus: each
// fails through the callback within the time limit; Show and Close never
// block past it.
func TestNoService(t *testing.T) {
	addr := dbustest.Start(t, inCI)
	hungAddr := dbustest.Start(t, inCI)
	hung := &server{hang: make(chan struct{})}
	serve(t, hungAddr, hung)
	t.Cleanup(func() { close(hung.hang) })

	dir, err := os.MkdirTemp("", "notify")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "mute")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() { // accept and never answer
		var held []net.Conn
		for {
			c, err := l.Accept()
			if err != nil {
				for _, c := range held {
					c.Close()
				}
				return
			}
			held = append(held, c)
		}
	}()

	const limit = 300 * time.Millisecond
	tests := []struct {
		name    string
		addr    string
		want    error
		wantMsg string
	}{
		{"no service", addr, ErrUnavailable, "ServiceUnknown"},
		{"no bus", "", ErrUnavailable, "no D-Bus session bus"},
		{"bus socket gone", "unix:path=" + filepath.Join(dir, "nothing"), ErrUnavailable, "connect"},
		{"service hangs", hungAddr, context.DeadlineExceeded, "notify: no answer"},
		{"bus never speaks", "unix:path=" + sock, context.DeadlineExceeded, "connect to the session bus"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := New(Options{BusAddress: tt.addr, Timeout: limit, CloseWait: limit / 3, GOOS: "linux"})
			start := time.Now()
			errc := make(chan error, 1)
			sh := n.Show("t", "b", func(err error) { errc <- err })
			if d := time.Since(start); d > 50*time.Millisecond {
				t.Errorf("Show blocked for %v", d)
			}
			sh.Close()
			if d := time.Since(start); d >= limit {
				t.Errorf("Show+Close took %v: Close waited for the %v limit", d, limit)
			}
			select {
			case err := <-errc:
				if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.wantMsg) {
					t.Fatalf("error %v, want %v (%q)", err, tt.want, tt.wantMsg)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("failed was never called")
			}
		})
	}
}

func TestUnsupported(t *testing.T) {
	errc := make(chan error, 1)
	New(Options{GOOS: "plan9"}).Show("t", "b", func(err error) { errc <- err }).Close()
	if err := <-errc; !errors.Is(err, ErrUnsupported) {
		t.Fatalf("error %v", err)
	}
}
