package device

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/mfabridge/mfabridge/oath"
)

// OpenFunc starts one card session for one operation: it returns the card's
// transport and a release func that ends the session (ends the PC/SC
// transaction, or saves and unlocks a simulator state file). The card is never
// held between operations.
type OpenFunc func(ctx context.Context) (t oath.Transport, release func() error, err error)

// YubiKey is a YubiKey OATH applet reached through any oath.Transport: a real
// key over PC/SC or the in-process simulator.
type YubiKey struct {
	open  OpenFunc
	hooks Hooks
	log   *slog.Logger

	// mu guards the fields below: sessions run concurrently (the
	// credential server answers requests in parallel).
	mu       sync.Mutex
	info     Info   // as given, completed by discovery (see found)
	key      []byte // derived password key, remembered for this process only
	keyID    string // device id (from the salt) the key belongs to
	firmware string // from the first SELECT, when info has no firmware
}

// identifiedError is an open failure that already says which key it is
// about (discovery errors name the serial and the readers): session
// returns it without the device prefix.
type identifiedError struct{ err error }

func (e *identifiedError) Error() string { return e.err.Error() }
func (e *identifiedError) Unwrap() error { return e.err }

// TouchDelay is how long a calculation may run before the touch notice is
// shown: a credential without touch answers well within it.
const TouchDelay = time.Second

// NewYubiKey returns a Device (and Manager) over open. A nil logger is silent.
func NewYubiKey(info Info, open OpenFunc, hooks Hooks, log *slog.Logger) *YubiKey {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &YubiKey{info: info, open: open, hooks: hooks, log: log}
}

// Info describes the key. When the key was opened without its firmware
// version, the version comes from the first session's SELECT.
func (y *YubiKey) Info() Info {
	y.mu.Lock()
	defer y.mu.Unlock()
	info := y.info
	if info.Firmware == "" {
		info.Firmware = y.firmware
	}
	return info
}

// found completes the key's description with what discovery learnt.
func (y *YubiKey) found(serial uint32, firmware, reader string) {
	y.mu.Lock()
	defer y.mu.Unlock()
	y.info.Serial, y.info.Reader = serial, reader
	if firmware != "" {
		y.info.Firmware = firmware
	}
}

// Close releases nothing: no card is held between operations.
func (y *YubiKey) Close() error { return nil }

// session runs fn in one card session: SELECT, VALIDATE when the applet is
// password protected, fn, release.
func (y *YubiKey) session(ctx context.Context, fn func(c *oath.Client, sel *oath.SelectInfo) error) (err error) {
	return y.sessionWith(ctx, true, fn)
}

// rawSession is session without VALIDATE: fn sees the applet locked.
func (y *YubiKey) rawSession(ctx context.Context, fn func(c *oath.Client, sel *oath.SelectInfo) error) (err error) {
	return y.sessionWith(ctx, false, fn)
}

func (y *YubiKey) sessionWith(ctx context.Context, unlock bool, fn func(c *oath.Client, sel *oath.SelectInfo) error) (err error) {
	t, release, err := y.open(ctx)
	if err != nil {
		if ie := (*identifiedError)(nil); errors.As(err, &ie) {
			return ie.err
		}
		return fmt.Errorf("%s: %w", y.Info(), err)
	}
	defer func() {
		if rerr := release(); rerr != nil && err == nil {
			err = fmt.Errorf("%s: %w", y.Info(), rerr)
		}
	}()
	c := oath.NewClient(t, oath.WithLogger(y.log))
	sel, err := c.Select(ctx)
	if err != nil {
		return fmt.Errorf("%s: select OATH applet: %w", y.Info(), err)
	}
	y.mu.Lock()
	if y.info.Firmware == "" && y.firmware == "" {
		y.firmware = sel.VersionString()
	}
	y.mu.Unlock()
	if unlock && sel.Locked() {
		if err := y.unlock(ctx, c, sel); err != nil {
			return err
		}
	}
	if err := fn(c, sel); err != nil {
		return fmt.Errorf("%s: %w", y.Info(), err)
	}
	return nil
}

func (y *YubiKey) unlock(ctx context.Context, c *oath.Client, sel *oath.SelectInfo) error {
	info := y.Info()
	id := sel.DeviceID()
	y.mu.Lock()
	key, keyID := y.key, y.keyID
	y.mu.Unlock()
	if key != nil && keyID == id {
		if err := c.Validate(ctx, key); err == nil {
			return nil
		} else if !errors.Is(err, oath.ErrWrongPassword) {
			return fmt.Errorf("%s: validate password: %w", info, err)
		}
		// The password changed under us: ask again. The failed VALIDATE
		// does not lock the applet out, but the challenge is spent.
		var err error
		if sel, err = c.Select(ctx); err != nil {
			return fmt.Errorf("%s: select OATH applet: %w", info, err)
		}
	}
	var note string
	if key == nil || keyID != id {
		ok, next, n, err := y.unlockRemembered(ctx, c, sel)
		if ok || err != nil {
			return err
		}
		sel, note = next, n
	}
	if y.hooks.Password == nil {
		return fmt.Errorf("%s: %w%s", info, ErrPasswordRequired, note)
	}
	pw, err := y.hooks.Password(ctx, info)
	if err != nil {
		return fmt.Errorf("%s: read OATH password: %w", info, err)
	}
	key = oath.DeriveKey(pw, sel.Salt)
	if err := c.Validate(ctx, key); err != nil {
		if errors.Is(err, oath.ErrWrongPassword) {
			return fmt.Errorf("%s: %w: the key refused it", info, ErrWrongPassword)
		}
		return fmt.Errorf("%s: validate password: %w", info, err)
	}
	y.mu.Lock()
	y.key, y.keyID = key, id
	y.mu.Unlock()
	return nil
}

// List returns the credentials with type, algorithm, digits and touch.
func (y *YubiKey) List(ctx context.Context) ([]Credential, error) {
	var out []Credential
	err := y.session(ctx, func(c *oath.Client, _ *oath.SelectInfo) error {
		entries, err := c.List(ctx)
		if err != nil {
			return fmt.Errorf("list accounts: %w", err)
		}
		// CALCULATE ALL tells touch and digits, which LIST does not.
		all, err := c.CalculateAll(ctx, oath.TOTPChallenge(time.Now(), oath.DefaultPeriod), true)
		if err != nil {
			return fmt.Errorf("calculate all: %w", err)
		}
		extra := make(map[string]oath.CalcEntry, len(all))
		for _, e := range all {
			extra[e.Name] = e
		}
		for _, e := range entries {
			out = append(out, credentialOf(e, extra[e.Name]))
		}
		return nil
	})
	return out, err
}

func credentialOf(e oath.ListEntry, calc oath.CalcEntry) Credential {
	issuer, account, period := oath.ParseName(e.Name, e.Type)
	cr := Credential{Name: e.Name, Issuer: issuer, Account: account, Type: e.Type, Algorithm: e.Algorithm, Period: period}
	cr.Touch = calc.Touch
	cr.Digits = calc.Response.Digits
	return cr
}

// Calculate computes one code with SELECT + CALCULATE (+ VALIDATE when the
// applet is password protected): nothing else is sent, so a code costs the
// fewest APDUs. The period comes from the name's "period/" prefix.
func (y *YubiKey) Calculate(ctx context.Context, name string, at time.Time) (Code, error) {
	var code Code
	err := y.session(ctx, func(c *oath.Client, _ *oath.SelectInfo) (err error) {
		code, err = y.calculateCode(ctx, c, name, at)
		return err
	})
	return code, err
}

// calculateChosen is Calculate for a Token, in one card session: SELECT,
// VALIDATE when needed, LIST only when account is empty (choose then picks
// the account from the names), CALCULATE. It returns the account used.
func (y *YubiKey) calculateChosen(ctx context.Context, account string, choose func([]string) (string, error), at time.Time) (Code, string, error) {
	var code Code
	err := y.session(ctx, func(c *oath.Client, _ *oath.SelectInfo) (err error) {
		if account == "" {
			entries, err := c.List(ctx)
			if err != nil {
				return fmt.Errorf("list accounts: %w", err)
			}
			names := make([]string, len(entries))
			for i, e := range entries {
				names[i] = e.Name
			}
			if account, err = choose(names); err != nil {
				return err
			}
		}
		code, err = y.calculateCode(ctx, c, account, at)
		return err
	})
	return code, account, err
}

// calculateCode computes the code of name for the step holding at; the
// period comes from the name's "period/" prefix.
func (y *YubiKey) calculateCode(ctx context.Context, c *oath.Client, name string, at time.Time) (Code, error) {
	_, _, period := oath.ParseName(name, oath.TOTP)
	r, err := y.calculate(ctx, c, name, oath.TOTPChallenge(at, period))
	if err != nil {
		return Code{}, err
	}
	from, to := stepBounds(at, period)
	return Code{Value: r.Code(), ValidFrom: from, ValidTo: to}, nil
}

// TouchNotice arms a touch notice for a card operation that is about to
// start: show is called with info if the card has not answered after
// TouchDelay, and the returned func (call it when the card has answered)
// cancels the notice, or clears it (show's result) if it was shown. A notice
// due at the very moment of the answer is never shown late.
func TouchNotice(show func(Info) func(), info Info) (answered func()) {
	var (
		mu    sync.Mutex
		over  bool
		clear func()
	)
	t := time.AfterFunc(TouchDelay, func() {
		mu.Lock()
		defer mu.Unlock()
		if !over {
			clear = show(info)
		}
	})
	return func() {
		t.Stop()
		mu.Lock()
		defer mu.Unlock()
		over = true
		if clear != nil {
			clear()
		}
	}
}

// calculate sends one CALCULATE, showing the touch notice if the card has
// not answered after TouchDelay (only touch credentials take that long).
func (y *YubiKey) calculate(ctx context.Context, c *oath.Client, name string, chal []byte) (oath.Response, error) {
	if y.hooks.Touch != nil {
		defer TouchNotice(y.hooks.Touch, y.Info())()
	}
	r, err := c.Calculate(ctx, name, chal, true)
	switch {
	case err == nil:
		return r, nil
	case errors.Is(err, oath.ErrNoSuchObject):
		return r, fmt.Errorf("%w %q on the key", ErrNotFound, name)
	case errors.Is(err, oath.ErrTouchTimeout):
		return r, fmt.Errorf("calculate %q: %w: the key was not touched in time; run again and touch the key when it blinks", name, err)
	default:
		return r, fmt.Errorf("calculate %q: %w", name, err)
	}
}

// Entry is one credential with its code, when the device computes it
// without being asked (nil for touch and HOTP credentials).
type Entry struct {
	Credential
	Code *Code
}

// CalculateAll computes every code the device gives without a touch: one
// CALCULATE ALL for 30-second credentials, then one CALCULATE for each TOTP
// credential with another period (as ykman does).
func (y *YubiKey) CalculateAll(ctx context.Context, at time.Time) ([]Entry, error) {
	var out []Entry
	err := y.session(ctx, func(c *oath.Client, _ *oath.SelectInfo) error {
		list, err := c.List(ctx)
		if err != nil {
			return fmt.Errorf("list accounts: %w", err)
		}
		all, err := c.CalculateAll(ctx, oath.TOTPChallenge(at, oath.DefaultPeriod), true)
		if err != nil {
			return fmt.Errorf("calculate all: %w", err)
		}
		byName := make(map[string]oath.CalcEntry, len(all))
		for _, e := range all {
			byName[e.Name] = e
		}
		for _, le := range list {
			ce := byName[le.Name]
			e := Entry{Credential: credentialOf(le, ce)}
			if le.Type == oath.TOTP && !ce.Touch && !ce.HOTP {
				var r oath.Response
				if e.Period == oath.DefaultPeriod && ce.HasCode() {
					r = ce.Response
				} else if r, err = c.Calculate(ctx, le.Name, oath.TOTPChallenge(at, e.Period), true); err != nil {
					return fmt.Errorf("calculate %q: %w", le.Name, err)
				}
				from, to := stepBounds(at, e.Period)
				e.Code = &Code{Value: r.Code(), ValidFrom: from, ValidTo: to}
				e.Digits = r.Digits
			}
			out = append(out, e)
		}
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, err
}

// Put stores a credential. Firmware limits are checked first so the error
// says which feature the key lacks.
func (y *YubiKey) Put(ctx context.Context, cred Credential, secret []byte, opts PutOptions) error {
	if cred.Type == 0 {
		cred.Type = oath.TOTP
	}
	if cred.Algorithm == 0 {
		cred.Algorithm = oath.SHA1
	}
	if cred.Digits == 0 {
		cred.Digits = 6
	}
	if cred.Period == 0 {
		cred.Period = oath.DefaultPeriod
	}
	if cred.Name == "" {
		cred.Name = oath.FormatName(cred.Issuer, cred.Account, cred.Period, cred.Type)
	}
	return y.session(ctx, func(c *oath.Client, sel *oath.SelectInfo) error {
		fw := sel.Version
		if cred.Touch && !atLeast(fw, 4, 2, 0) {
			return fmt.Errorf("add %q: %w: touch needs firmware 4.2.0 or later (this key has %s)", cred.Name, ErrUnsupported, sel.VersionString())
		}
		if cred.Algorithm == oath.SHA512 && !atLeast(fw, 4, 3, 1) {
			return fmt.Errorf("add %q: %w: SHA512 needs firmware 4.3.1 or later (this key has %s)", cred.Name, ErrUnsupported, sel.VersionString())
		}
		err := c.Put(ctx, oath.PutRequest{
			Name: cred.Name, Type: cred.Type, Algorithm: cred.Algorithm, Digits: cred.Digits,
			Key: secret, Touch: cred.Touch, Counter: opts.Counter,
		})
		if errors.Is(err, oath.ErrNoSpace) {
			return fmt.Errorf("add %q: %w: the key is full; delete an account first", cred.Name, err)
		}
		if err != nil {
			return fmt.Errorf("add %q: %w", cred.Name, err)
		}
		return nil
	})
}

// Delete removes a credential.
func (y *YubiKey) Delete(ctx context.Context, name string) error {
	return y.session(ctx, func(c *oath.Client, _ *oath.SelectInfo) error {
		if err := c.Delete(ctx, name); err != nil {
			if errors.Is(err, oath.ErrNoSuchObject) {
				return fmt.Errorf("delete: %w %q", ErrNotFound, name)
			}
			return fmt.Errorf("delete %q: %w", name, err)
		}
		return nil
	})
}

// Rename renames a credential (firmware 5.3.1 and later).
func (y *YubiKey) Rename(ctx context.Context, oldName, newName string) error {
	return y.session(ctx, func(c *oath.Client, sel *oath.SelectInfo) error {
		if !atLeast(sel.Version, 5, 3, 1) {
			return fmt.Errorf("rename %q: %w: renaming needs firmware 5.3.1 or later (this key has %s); delete and add it again instead", oldName, ErrUnsupported, sel.VersionString())
		}
		if err := c.Rename(ctx, oldName, newName); err != nil {
			if errors.Is(err, oath.ErrNoSuchObject) {
				return fmt.Errorf("rename: %w %q", ErrNotFound, oldName)
			}
			return fmt.Errorf("rename %q to %q: %w", oldName, newName, err)
		}
		return nil
	})
}

// SetPassword sets (or changes) the OATH password.
func (y *YubiKey) SetPassword(ctx context.Context, password string) error {
	if password == "" {
		return errors.New("the new password is empty; use `accounts password clear` to remove the password")
	}
	return y.session(ctx, func(c *oath.Client, sel *oath.SelectInfo) error {
		key := oath.DeriveKey(password, sel.Salt)
		if err := c.SetCode(ctx, key); err != nil {
			return fmt.Errorf("set password: %w", err)
		}
		y.mu.Lock()
		y.key, y.keyID = key, sel.DeviceID()
		y.mu.Unlock()
		y.rememberedChanged(sel.DeviceID(), key)
		return nil
	})
}

// ClearPassword removes the OATH password.
func (y *YubiKey) ClearPassword(ctx context.Context) error {
	return y.session(ctx, func(c *oath.Client, sel *oath.SelectInfo) error {
		if err := c.ClearCode(ctx); err != nil {
			return fmt.Errorf("clear password: %w", err)
		}
		y.rememberedChanged(sel.DeviceID(), nil)
		return nil
	})
}

func atLeast(v [3]byte, major, minor, patch byte) bool {
	if v[0] != major {
		return v[0] > major
	}
	if v[1] != minor {
		return v[1] > minor
	}
	return v[2] >= patch
}
