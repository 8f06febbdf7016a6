package pcsc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"time"
)

// busyWait is how long Connect retries a reader held exclusively by
// another program before giving up with ErrReaderBusy.
var busyWait = 3 * time.Second

// Option configures a Context.
type Option func(*Context)

// WithLogger sets a logger for debug messages (connects, probe results).
// APDU contents are never logged here; package oath traces them redacted.
func WithLogger(l *slog.Logger) Option {
	return func(c *Context) {
		if l != nil {
			c.log = l
		}
	}
}

// Context is a connection to the PC/SC service. It is safe for concurrent use.
type Context struct {
	w   winscard
	h   uintptr // SCARDCONTEXT
	log *slog.Logger

	mu     sync.Mutex
	closed bool
}

// Open connects to the PC/SC service, loading the platform's PC/SC library
// on first use. It fails with a *LibraryError (ErrLibraryMissing,
// ErrLibraryUnusable) when that library cannot be loaded, and with an error
// wrapping ErrServiceNotRunning when the service is not reachable.
func Open(ctx context.Context, opts ...Option) (*Context, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("connect to %s: %w", serviceName(runtime.GOOS), err)
	}
	w, err := loadWinSCard()
	if err != nil {
		return nil, err
	}
	h, err := w.establishContext()
	if err != nil {
		return nil, wrap("connect to "+serviceName(runtime.GOOS), err)
	}
	c := &Context{w: w, h: h, log: slog.New(slog.DiscardHandler)}
	for _, o := range opts {
		o(c)
	}
	return c, nil
}

// wrap turns a scardError into a *PCSCError; other errors get op as context.
func wrap(op string, err error) error {
	var se scardError
	if errors.As(err, &se) {
		return &PCSCError{Op: op, Code: uint32(se)}
	}
	return fmt.Errorf("%s: %w", op, err)
}

func isCode(err error, code uint32) bool {
	var se scardError
	return errors.As(err, &se) && uint32(se) == code
}

// Readers lists the reader names known to pcscd. It fails with an error
// wrapping ErrNoReaders when there are none.
func (c *Context) Readers() ([]string, error) {
	rs, err := c.w.listReaders(c.h)
	if err != nil {
		return nil, wrap("list readers", err)
	}
	if len(rs) == 0 {
		return nil, &PCSCError{Op: "list readers", Code: codeNoReadersAvailable}
	}
	return rs, nil
}

// Connect opens the card in reader in shared mode. While another program
// holds the reader exclusively it retries with backoff for a few seconds,
// then fails with an error wrapping ErrReaderBusy. While another program
// keeps a transaction open on the card, pcsc-lite holds the connect back:
// after txWait Connect fails with an error wrapping ErrCardInUse. An empty
// reader fails with ErrNoYubiKey; ctx cancels the waits.
func (c *Context) Connect(ctx context.Context, reader string) (*Card, error) {
	op := fmt.Sprintf("connect to reader %q", reader)
	deadline := time.Now().Add(busyWait)
	delay := 25 * time.Millisecond
	for {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
		r, err := c.connectOnce(ctx, reader)
		if err == nil {
			c.log.Debug("pcsc: connected", "reader", reader)
			return &Card{w: c.w, sc: r.sc, h: r.h, proto: r.proto, reader: reader, sem: make(chan struct{}, 1)}, nil
		}
		if errors.Is(err, ErrCardInUse) || ctx.Err() != nil && errors.Is(err, ctx.Err()) {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
		left := time.Until(deadline)
		if !isCode(err, codeSharingViolation) || left <= 0 {
			return nil, wrap(op, err)
		}
		c.log.Debug("pcsc: reader busy, retrying", "reader", reader, "delay", delay)
		t := time.NewTimer(min(delay, left))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("%s: %w", op, ctx.Err())
		case <-t.C:
		}
		delay = min(2*delay, 400*time.Millisecond)
	}
}

type connectResult struct {
	sc, h uintptr // the card's SCARDCONTEXT and SCARDHANDLE
	proto uint32
	err   error
}

// connectOnce is one SCardConnect in shared mode, on a PC/SC context of the
// card's own: pcsc-lite serialises every call on a context, so a card call
// that waits (for a touch, for another program's transaction) must not hold
// up the Context's other cards and reader listing. pcsc-lite makes the
// connect wait while another program holds a transaction on the card, with
// no time limit: connectOnce gives up after txWait (ErrCardInUse) or when ctx
// ends, and a connection granted after that is dropped in the background.
func (c *Context) connectOnce(ctx context.Context, reader string) (connectResult, error) {
	res := make(chan connectResult, 1)
	var mu sync.Mutex
	abandoned := false
	go func() {
		sc, err := c.w.establishContext()
		if err != nil {
			res <- connectResult{err: err}
			return
		}
		h, proto, err := c.w.connect(sc, reader, shareShared)
		mu.Lock()
		defer mu.Unlock()
		if err != nil || abandoned {
			if err == nil {
				_ = c.w.disconnect(h, leaveCard)
			}
			_ = c.w.releaseContext(sc)
			if abandoned {
				return
			}
		}
		res <- connectResult{sc, h, proto, err}
	}()
	t := time.NewTimer(txWait)
	defer t.Stop()
	var why error
	select {
	case r := <-res:
		return r, r.err
	case <-t.C:
		why = fmt.Errorf("waited %v: %w", txWait, ErrCardInUse)
	case <-ctx.Done():
		why = ctx.Err()
	}
	mu.Lock()
	defer mu.Unlock()
	select {
	case r := <-res: // arrived meanwhile
		return r, r.err
	default:
		abandoned = true
		return connectResult{}, why
	}
}

// Close releases the PC/SC context. Cards it connected have their own
// contexts (see connectOnce) and stay usable.
func (c *Context) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	c.mu.Unlock()
	if err := c.w.releaseContext(c.h); err != nil {
		return wrap("release PC/SC context", err)
	}
	return nil
}

// Card is a shared-mode connection to the card in one reader. It satisfies
// oath.Transport. It has a PC/SC context of its own and stays usable after
// the Context that connected it is closed. Wrap each operation in
// Begin/End. Methods are safe for concurrent use but serialised.
type Card struct {
	w      winscard
	sc     uintptr // the card's own SCARDCONTEXT, see connectOnce
	h      uintptr // SCARDHANDLE
	proto  uint32  // the active protocol, for SCARD_IO_REQUEST; guarded by sem
	reader string
	sem    chan struct{} // held while a call is in the PC/SC library

	mu     sync.Mutex
	inTx   bool
	closed bool
}

// acquire waits for exclusive use of the handle; an abandoned transmit may
// still hold it.
func (k *Card) acquire(ctx context.Context) error {
	select {
	case k.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (k *Card) release() { <-k.sem }

// Reader returns the PC/SC reader name.
func (k *Card) Reader() string { return k.reader }

// txWait bounds how long Begin waits while another program holds a
// transaction on the card (pcsc-lite itself would wait forever).
var txWait = 10 * time.Second

// Begin starts a transaction: other programs cannot interleave APDUs until
// End. While another program holds a transaction on the same card,
// pcsc-lite makes Begin wait for it: Begin waits up to txWait, then fails
// with an error wrapping ErrCardInUse; ctx ends the wait sooner. PC/SC cannot
// interrupt that wait, so an abandoned Begin stays pending in the background
// and Close ends its transaction once it arrives. A card reset by another
// program since Connect is reconnected once (pcsc-lite insists on that
// acknowledgement).
func (k *Card) Begin(ctx context.Context) error {
	op := fmt.Sprintf("begin transaction on %q", k.reader)
	if err := k.acquire(ctx); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	res := make(chan error, 1)
	go func() {
		err := k.w.beginTransaction(k.h)
		if isCode(err, codeResetCard) {
			// Another program reset the card since we connected: pcsc-lite
			// wants us to acknowledge that with a reconnect first.
			var proto uint32
			if proto, err = k.w.reconnect(k.h, shareShared, leaveCard); err == nil {
				k.proto = proto
				err = k.w.beginTransaction(k.h)
			}
		}
		if err == nil {
			// Recorded even when the caller gave up: Close then ends it.
			k.mu.Lock()
			k.inTx = true
			k.mu.Unlock()
		}
		k.release()
		res <- err
	}()
	t := time.NewTimer(txWait)
	defer t.Stop()
	select {
	case err := <-res:
		if err != nil {
			return wrap(op, err)
		}
		return nil
	case <-t.C:
		return fmt.Errorf("%s: waited %v: %w", op, txWait, ErrCardInUse)
	case <-ctx.Done():
		return fmt.Errorf("%s: %w", op, ctx.Err())
	}
}

// End ends the transaction started by Begin, leaving the card powered.
func (k *Card) End() error {
	if err := k.acquire(context.Background()); err != nil {
		return err
	}
	defer k.release()
	k.mu.Lock()
	k.inTx = false
	k.mu.Unlock()
	if err := k.w.endTransaction(k.h, leaveCard); err != nil {
		return wrap(fmt.Sprintf("end transaction on %q", k.reader), err)
	}
	return nil
}

type transmitResult struct {
	resp []byte
	err  error
}

// Transmit sends one APDU and returns the answer including SW1 SW2; status
// words are not interpreted. Errors wrap ErrCardRemoved, ErrTimeout,
// ErrServiceNotRunning, ... (see the package doc). PC/SC cannot interrupt a
// transmit, so when ctx ends first (a cancelled wait for touch) Transmit
// returns ctx's error at once and the handle stays busy until the card
// answers; Close then completes in the background.
func (k *Card) Transmit(ctx context.Context, apdu []byte) ([]byte, error) {
	op := fmt.Sprintf("transmit to %q", k.reader)
	if err := k.acquire(ctx); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	cmd := append([]byte(nil), apdu...)
	res := make(chan transmitResult, 1)
	go func() {
		resp, err := k.w.transmit(k.h, k.proto, cmd)
		// Free the handle before answering, so that a Close right after
		// Transmit finds it idle and completes synchronously.
		k.release()
		res <- transmitResult{resp, err}
	}()
	select {
	case r := <-res:
		if r.err != nil {
			if isCode(r.err, codeNotTransacted) || isCode(r.err, codeCommError) {
				if k.confirmRemoved(ctx) {
					return nil, &PCSCError{Op: op, Code: codeRemovedCard}
				}
			}
			return nil, wrap(op, r.err)
		}
		if len(r.resp) < 2 {
			// Every card answer ends in SW1 SW2. vpcd reports a card
			// pulled out while it works as success with no bytes at all.
			if k.confirmRemoved(ctx) {
				return nil, &PCSCError{Op: op, Code: codeRemovedCard}
			}
			return nil, fmt.Errorf("%s: %w", op, ErrNoStatusWord)
		}
		return r.resp, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("%s: %w", op, ctx.Err())
	}
}

// removalWait bounds how long a failed transmit waits for pcscd to confirm
// that the card is gone: pcscd polls presence about every 0.4 s.
const removalWait = 1500 * time.Millisecond

// confirmRemoved tells a card pulled out during a transmit from other
// transmit failures. The reader driver reports only "could not transmit"
// (SCARD_E_NOT_TRANSACTED); pcscd learns of the removal at its next
// presence poll, so ask for the card status until it knows.
func (k *Card) confirmRemoved(ctx context.Context) bool {
	if err := k.acquire(ctx); err != nil {
		return false
	}
	defer k.release()
	deadline := time.Now().Add(removalWait)
	for {
		st, err := k.w.status(k.h)
		switch {
		case err != nil:
			var se scardError
			if errors.As(err, &se) && (errors.Is(sentinelFor(uint32(se)), ErrCardRemoved) || uint32(se) == codeNoSmartcard) {
				return true
			}
			return false
		case st.absent:
			return true
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return false
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// ATR returns the card's answer to reset.
func (k *Card) ATR() ([]byte, error) {
	if err := k.acquire(context.Background()); err != nil {
		return nil, err
	}
	defer k.release()
	st, err := k.w.status(k.h)
	if err != nil {
		return nil, wrap(fmt.Sprintf("read status of %q", k.reader), err)
	}
	return st.atr, nil
}

// Close ends a pending transaction and disconnects, leaving the card powered
// (other programs may be using it). If an abandoned transmit still waits for
// the card, this happens in the background once it returns.
func (k *Card) Close() error {
	k.mu.Lock()
	if k.closed {
		k.mu.Unlock()
		return nil
	}
	k.closed = true
	k.mu.Unlock()
	select {
	case k.sem <- struct{}{}:
		defer k.release()
		return k.disconnect()
	default:
		go func() {
			k.sem <- struct{}{}
			defer k.release()
			_ = k.disconnect()
		}()
		return nil
	}
}

func (k *Card) disconnect() error {
	k.mu.Lock()
	inTx := k.inTx
	k.inTx = false
	k.mu.Unlock()
	var errs []error
	if inTx {
		if err := k.w.endTransaction(k.h, leaveCard); err != nil {
			errs = append(errs, wrap(fmt.Sprintf("end transaction on %q", k.reader), err))
		}
	}
	if err := k.w.disconnect(k.h, leaveCard); err != nil {
		errs = append(errs, wrap(fmt.Sprintf("disconnect from %q", k.reader), err))
	}
	if err := k.w.releaseContext(k.sc); err != nil {
		errs = append(errs, wrap("release PC/SC context", err))
	}
	return errors.Join(errs...)
}

type probed struct {
	info KeyInfo
	card *Card
}

// probeResult is what probing every reader found.
type probeResult struct {
	found    []probed
	busy     []error // readers held by another program (exclusively, or in a long transaction)
	firstErr error   // the first other failure, reported when nothing was found
}

func (r *probeResult) closeAll(except int) {
	for i, p := range r.found {
		if i != except && p.card != nil {
			p.card.Close()
		}
	}
}

// orError is the error to report when no key matched: a busy reader or
// another failure explain more than "no YubiKey".
func (r *probeResult) orError(notFound error) error {
	switch {
	case len(r.busy) > 0:
		return r.busy[0]
	case r.firstErr != nil:
		return r.firstErr
	}
	return notFound
}

// probeAll identifies the YubiKey in every reader. With keep, the cards of
// the keys found stay connected and the caller must close them. A reader
// that fails is skipped (and remembered) so that one odd card does not hide
// the others; only a lost pcscd or ctx ends the search.
// probeAll probes every reader. With want != 0 it stops at the key with that
// serial and asks only for serials (fewer APDUs); firmware is then empty.
func (c *Context) probeAll(ctx context.Context, keep bool, want uint32) (*probeResult, error) {
	readers, err := c.Readers()
	if err != nil {
		return nil, err
	}
	res := &probeResult{}
	for _, r := range readers {
		info, card, err := c.probeReader(ctx, r, want != 0)
		switch {
		case err == nil:
		case errors.Is(err, ErrServiceNotRunning), ctx.Err() != nil:
			res.closeAll(-1)
			return nil, err
		case errors.Is(err, ErrReaderBusy), errors.Is(err, ErrCardInUse):
			res.busy = append(res.busy, err)
			continue
		case errors.Is(err, errNotYubiKey), errors.Is(err, ErrNoYubiKey), errors.Is(err, ErrCardRemoved):
			c.log.Debug("pcsc: skipping reader", "reader", r, "reason", err)
			continue
		default:
			c.log.Debug("pcsc: skipping reader", "reader", r, "err", err)
			if res.firstErr == nil {
				res.firstErr = err
			}
			continue
		}
		c.log.Debug("pcsc: found YubiKey", "reader", r, "serial", info.Serial, "firmware", info.Firmware)
		if !keep {
			card.Close()
			card = nil
		}
		res.found = append(res.found, probed{info, card})
		if want != 0 && info.Serial == want {
			break
		}
	}
	return res, nil
}

func (c *Context) probeReader(ctx context.Context, reader string, serialOnly bool) (KeyInfo, *Card, error) {
	card, err := c.Connect(ctx, reader)
	if err != nil {
		return KeyInfo{}, nil, err
	}
	if err := card.Begin(ctx); err != nil {
		card.Close()
		return KeyInfo{}, nil, err
	}
	prober := probeKey
	if serialOnly {
		prober = probeSerial
	}
	serial, fw, perr := prober(ctx, card)
	if err := card.End(); err != nil && perr == nil {
		perr = err
	}
	if perr != nil {
		card.Close()
		return KeyInfo{}, nil, fmt.Errorf("identify card in %q: %w", reader, perr)
	}
	return KeyInfo{Reader: reader, Serial: serial, Firmware: fw}, card, nil
}

// Keys lists the YubiKeys present, probing the card in every reader (PIV
// GET SERIAL, else management READ CONFIG, else the OTP applet) and
// skipping empty readers and other cards. It fails with ErrNoReaders when
// there is no reader at all, and, when no key was found, with ErrReaderBusy
// if some reader stayed exclusively held by another program.
func (c *Context) Keys(ctx context.Context) ([]KeyInfo, error) {
	res, err := c.probeAll(ctx, false, 0)
	if err != nil {
		return nil, fmt.Errorf("list YubiKeys: %w", err)
	}
	if len(res.found) == 0 {
		if err := res.orError(nil); err != nil {
			return nil, fmt.Errorf("list YubiKeys: %w", err)
		}
	}
	keys := make([]KeyInfo, len(res.found))
	for i, p := range res.found {
		keys[i] = p.info
	}
	return keys, nil
}

// OpenKey connects to the YubiKey with this serial; serial 0 means the only
// YubiKey present. Errors: ErrNoYubiKey (none, or none with that serial),
// *MultipleKeysError (serial 0 and several keys), ErrReaderBusy (the key
// may be in a reader another program holds), and the errors of Readers.
// The card is returned outside a transaction.
func (c *Context) OpenKey(ctx context.Context, serial uint32) (*Card, KeyInfo, error) {
	res, err := c.probeAll(ctx, true, serial)
	if err != nil {
		return nil, KeyInfo{}, fmt.Errorf("open YubiKey: %w", err)
	}
	serials := make([]uint32, len(res.found))
	pick := -1
	for i, p := range res.found {
		serials[i] = p.info.Serial
		if serial != 0 && p.info.Serial == serial && pick < 0 {
			pick = i
		}
	}
	if serial == 0 {
		switch len(res.found) {
		case 0:
			return nil, KeyInfo{}, fmt.Errorf("open YubiKey: %w", res.orError(ErrNoYubiKey))
		case 1:
			pick = 0
		default:
			res.closeAll(-1)
			return nil, KeyInfo{}, &MultipleKeysError{Serials: serials}
		}
	}
	if pick < 0 {
		res.closeAll(-1)
		err := res.orError(ErrNoYubiKey)
		if len(serials) == 0 {
			return nil, KeyInfo{}, fmt.Errorf("open YubiKey with serial %d: %w", serial, err)
		}
		what := "present"
		if len(res.busy) > 0 {
			what = "also present" // the one asked for may be in the busy reader
		}
		return nil, KeyInfo{}, fmt.Errorf("open YubiKey with serial %d (%s: %s): %w", serial, what, joinSerials(serials), err)
	}
	res.closeAll(pick)
	return res.found[pick].card, res.found[pick].info, nil
}
