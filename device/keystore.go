package device

import (
	"context"
	"errors"
	"fmt"

	"github.com/mfabridge/mfabridge/oath"
)

// KeyStore remembers the derived key of an OATH password (never the
// password itself), per device id: oath.SelectInfo.DeviceID, the id ykman
// keys remembered passwords by, which changes when the applet is reset.
// The CLI backs it with the OS keystore (Secret Service, macOS Keychain,
// Windows Credential Manager); the device package only calls it.
//
// Error contract: Load and Forget return an error wrapping
// ErrKeyNotRemembered when nothing is stored for the id; any other error
// means the store could not be used (no keystore, locked, timed out), and
// is never taken to mean "no key".
type KeyStore interface {
	Load(deviceID string) ([]byte, error)
	Store(deviceID string, key []byte) error
	Forget(deviceID string) error
}

var (
	// ErrKeyNotRemembered: the KeyStore holds no key for the device.
	ErrKeyNotRemembered = errors.New("no remembered OATH password")
	// ErrNoKeyStore: remembering was asked for, but no KeyStore is set.
	ErrNoKeyStore = errors.New("no keystore to remember the OATH password in")
	// ErrNotProtected: the applet has no password, so there is nothing to
	// remember.
	ErrNotProtected = errors.New("the OATH applet has no password")
)

// Remembering is implemented by devices whose OATH password can be
// remembered (YubiKeys and the simulator).
type Remembering interface {
	// RememberPassword checks password against the applet (VALIDATE) and
	// stores its derived key in the Hooks' KeyStore.
	RememberPassword(ctx context.Context, password string) error
	// ForgetPassword removes the remembered key; ErrKeyNotRemembered when
	// there was none. It needs no password.
	ForgetPassword(ctx context.Context) error
}

var _ Remembering = (*YubiKey)(nil)

// RememberPassword validates password on the applet and stores the
// derived key for this device in Hooks.Keys.
func (y *YubiKey) RememberPassword(ctx context.Context, password string) error {
	if y.hooks.Keys == nil {
		return fmt.Errorf("%s: %w", y.Info(), ErrNoKeyStore)
	}
	return y.rawSession(ctx, func(c *oath.Client, sel *oath.SelectInfo) error {
		if !sel.Locked() {
			return fmt.Errorf("remember password: %w: nothing to remember", ErrNotProtected)
		}
		key := oath.DeriveKey(password, sel.Salt)
		if err := c.Validate(ctx, key); err != nil {
			if errors.Is(err, oath.ErrWrongPassword) {
				return fmt.Errorf("remember password: %w: the key refused it, nothing was stored", ErrWrongPassword)
			}
			return fmt.Errorf("remember password: validate: %w", err)
		}
		if err := y.hooks.Keys.Store(sel.DeviceID(), key); err != nil {
			return fmt.Errorf("remember password: %w", err)
		}
		y.mu.Lock()
		y.key, y.keyID = key, sel.DeviceID()
		y.mu.Unlock()
		return nil
	})
}

// ForgetPassword removes this device's remembered key from Hooks.Keys.
func (y *YubiKey) ForgetPassword(ctx context.Context) error {
	if y.hooks.Keys == nil {
		return fmt.Errorf("%s: %w", y.Info(), ErrNoKeyStore)
	}
	return y.rawSession(ctx, func(_ *oath.Client, sel *oath.SelectInfo) error {
		if err := y.hooks.Keys.Forget(sel.DeviceID()); err != nil {
			return fmt.Errorf("forget password: %w", err)
		}
		return nil
	})
}

// unlockRemembered tries the key remembered for the applet. ok: the
// applet is open. A key the applet refuses is forgotten (it would be
// refused every time) and Hooks.Notice says so once; sel is then the
// answer of a fresh SELECT (the failed VALIDATE spent the challenge).
// note says why the store could not be read, for the error a caller
// without a password prompt gets.
func (y *YubiKey) unlockRemembered(ctx context.Context, c *oath.Client, sel *oath.SelectInfo) (ok bool, next *oath.SelectInfo, note string, err error) {
	if y.hooks.Keys == nil {
		return false, sel, "", nil
	}
	info, id := y.Info(), sel.DeviceID()
	key, lerr := y.hooks.Keys.Load(id)
	switch {
	case errors.Is(lerr, ErrKeyNotRemembered):
		return false, sel, "", nil
	case lerr != nil:
		y.log.Debug("oath: remembered password not read", "device", info.String(), "err", lerr)
		return false, sel, fmt.Sprintf(" (no remembered password could be read: %v)", lerr), nil
	}
	verr := c.Validate(ctx, key)
	if verr == nil {
		y.mu.Lock()
		y.key, y.keyID = key, id
		y.mu.Unlock()
		return true, sel, "", nil
	}
	if !errors.Is(verr, oath.ErrWrongPassword) {
		return false, sel, "", fmt.Errorf("%s: validate remembered password: %w", info, verr)
	}
	n := Notice{Kind: NoticeRememberedRefused, Info: info}
	if ferr := y.hooks.Keys.Forget(id); ferr != nil && !errors.Is(ferr, ErrKeyNotRemembered) {
		n.Err = ferr
	}
	if y.hooks.Notice != nil {
		y.hooks.Notice(n)
	}
	if next, err = c.Select(ctx); err != nil {
		return false, sel, "", fmt.Errorf("%s: select OATH applet: %w", info, err)
	}
	return false, next, " (the remembered one was refused and forgotten)", nil
}

// rememberedChanged keeps a remembered key in step with a password set
// or cleared through this device: the new key replaces a remembered one
// (nil key: forgotten). Nothing is stored when nothing was remembered.
func (y *YubiKey) rememberedChanged(id string, key []byte) {
	ks := y.hooks.Keys
	if ks == nil {
		return
	}
	if _, err := ks.Load(id); err != nil {
		return
	}
	var err error
	if key == nil {
		err = ks.Forget(id)
	} else {
		err = ks.Store(id, key)
	}
	if err != nil && y.hooks.Notice != nil {
		y.hooks.Notice(Notice{Kind: NoticeRememberedNotUpdated, Info: y.Info(), Err: err})
	}
}
