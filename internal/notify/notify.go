// Package notify shows desktop notifications for callers that have no
// terminal (IDEs, desktop apps, a credential server): the freedesktop
// notification service over the D-Bus session bus on Linux and the BSDs,
// `osascript` on macOS, a toast through Windows PowerShell on Windows
// (toast.go says how, and why it is safe).
//
// Nothing here blocks its caller: Show returns at once and the notice is
// sent in the background; Close waits at most the time limit. (Only a
// caller that waits for the attempt to end, Shown.Wait, waits for the
// time limit, which is longer for a toast: PowerShell starts slowly.) A missing,
// hung or refusing notification service is reported through the failed
// callback, never as a hang.
//
// Error contract: the failed callback gets ErrUnavailable (no session bus,
// no notification service, no PowerShell to start), ErrUnsupported (no
// desktop notifications on this platform), or an error saying what the
// service answered; errors from the time limit wrap
// context.DeadlineExceeded.
//
// The package reads no environment variables: the caller passes the bus
// address.
package notify

import (
	"context"
	"errors"
	"log/slog"
	"runtime"
	"sync"
	"time"
)

var (
	// ErrUnavailable: there is no notification service to talk to.
	ErrUnavailable = errors.New("no desktop notification service")
	// ErrUnsupported: this platform's notifications are not supported.
	ErrUnsupported = errors.New("desktop notifications are not supported on this platform")
)

// DefaultTimeout bounds each exchange with the notification service.
const DefaultTimeout = 2 * time.Second

// DefaultCloseWait: a working service answers Notify within milliseconds;
// waiting longer for a stuck one would only delay the caller's code.
const DefaultCloseWait = 500 * time.Millisecond

// Options configure a Notifier.
type Options struct {
	// BusAddress is the D-Bus session bus address (Linux, BSDs); empty:
	// notifications are unavailable there.
	BusAddress string
	// Timeout bounds connecting plus each call; 0 means DefaultTimeout.
	Timeout time.Duration
	// AppName names the sender in the notification ("mfabridge").
	AppName string
	// Expire is how long the service may show a notice that is never
	// closed (the process died); 0 means one minute.
	Expire time.Duration
	// CloseWait is how long Close waits for a notice still being sent
	// (the key answered first); 0 means DefaultCloseWait. A notice shown
	// after that is withdrawn as soon as it is up, if the process lives.
	CloseWait time.Duration
	// Logger gets debug lines; nil is silent.
	Logger *slog.Logger
	// GOOS chooses the platform (tests); empty means runtime.GOOS.
	GOOS string
}

// backend sends and withdraws notices on one platform.
type backend interface {
	show(ctx context.Context, title, body string) (handle, error)
}

// handle is one shown notice; close withdraws it.
type handle interface {
	close(ctx context.Context) error
}

// Notifier shows desktop notifications.
type Notifier struct {
	b       backend
	timeout time.Duration // Options.Timeout: withdrawing a notice
	// showTimeout is show's time limit: Options.Timeout, or more for a
	// backend that starts a program slower than that (Windows PowerShell,
	// cold: toastStartTimeout). The caller is not held longer (Show returns
	// at once, Close waits closeWait), only its fallback comes later.
	showTimeout time.Duration
	closeWait   time.Duration
	pending     sync.WaitGroup // show goroutines still running (Drain)
	log         *slog.Logger
}

// New returns a Notifier for the platform.
func New(o Options) *Notifier {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.CloseWait <= 0 {
		o.CloseWait = min(DefaultCloseWait, o.Timeout)
	}
	if o.Expire <= 0 {
		o.Expire = time.Minute
	}
	if o.AppName == "" {
		o.AppName = "mfabridge"
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.GOOS == "" {
		o.GOOS = runtime.GOOS
	}
	n := &Notifier{timeout: o.Timeout, showTimeout: o.Timeout, closeWait: o.CloseWait, log: o.Logger}
	switch o.GOOS {
	case "darwin":
		n.b = osascript{}
	case "windows":
		n.b = &toast{path: powerShellPath(), app: o.AppName, expire: o.Expire, procAttr: hideConsole}
		n.showTimeout = max(o.Timeout, toastStartTimeout)
	case "plan9", "js", "wasip1":
		n.b = unsupported{}
	default:
		n.b = &freedesktop{address: o.BusAddress, app: o.AppName, expire: o.Expire, timeout: o.Timeout}
	}
	return n
}

// Shown is a notice being shown.
type Shown struct {
	n    *Notifier
	done chan struct{} // closed when the attempt to show has ended

	mu     sync.Mutex
	h      handle // nil until shown, and when showing failed
	closed bool   // Close was called
}

// Show starts showing a notice and returns at once. failed (may be nil)
// is called, from another goroutine, if the notice could not be shown.
func (n *Notifier) Show(title, body string, failed func(error)) *Shown {
	s := &Shown{n: n, done: make(chan struct{})}
	n.pending.Add(1)
	go func() {
		defer n.pending.Done() // after a late withdraw too
		defer close(s.done)
		ctx, cancel := context.WithTimeout(context.Background(), n.showTimeout)
		defer cancel()
		h, err := n.b.show(ctx, title, body)
		if err != nil {
			n.log.Debug("notify: not shown", "err", err)
			if failed != nil {
				failed(err)
			}
			return
		}
		s.mu.Lock()
		late := s.closed
		s.h = h
		s.mu.Unlock()
		if late { // Close gave up waiting for us: withdraw it now
			s.withdraw()
		}
	}()
	return s
}

// Close withdraws the notice. It waits at most Options.CloseWait for the
// notice to be shown and the time limit to withdraw it, so it never hangs;
// a notice shown after Close gave up is withdrawn as soon as it is shown.
func (s *Shown) Close() {
	if s == nil {
		return
	}
	t := time.NewTimer(s.n.closeWait)
	defer t.Stop()
	select {
	case <-s.done:
	case <-t.C:
	}
	s.mu.Lock()
	s.closed = true
	h := s.h
	s.mu.Unlock()
	if h != nil {
		s.withdraw()
	}
}

func (s *Shown) withdraw() {
	s.mu.Lock()
	h := s.h
	s.h = nil
	s.mu.Unlock()
	if h == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.n.timeout)
	defer cancel()
	if err := h.close(ctx); err != nil {
		s.n.log.Debug("notify: not closed", "err", err)
	}
}

// Drain waits, at most d, for every notice still being shown, and for the
// withdrawal of those shown after Close gave up waiting for them. A
// process calls it before it exits, so that a notice that arrived late is
// still taken off the desktop rather than left there until it expires.
func (n *Notifier) Drain(d time.Duration) {
	if n == nil {
		return
	}
	done := make(chan struct{})
	go func() {
		n.pending.Wait()
		close(done)
	}()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		n.log.Debug("notify: gave up waiting for the notification service", "after", d)
	}
}

// Wait blocks until the attempt to show has ended (tests).
func (s *Shown) Wait() { <-s.done }

type unsupported struct{}

func (unsupported) show(context.Context, string, string) (handle, error) {
	return nil, ErrUnsupported
}
