package main

import (
	"encoding/hex"
	"errors"
	"fmt"
	"runtime"
	"time"

	"github.com/zalando/go-keyring"

	"github.com/mfabridge/mfabridge/device"
	"github.com/mfabridge/mfabridge/sts/keystore"
)

// Remembered OATH password keys live in the OS keystore under mfabridge's
// service (sts/keystore keeps access keys there as "profile:NAME"), one
// item per device id (what ykman keys remembered passwords by), account
// "oath:DEVICE_ID". The item holds the derived key in hex, never the
// password.
const oathKeyService = keystore.KeyringService

func oathKeyUser(deviceID string) string { return "oath:" + deviceID }

// keystoreTimeout bounds one keystore call: long enough to answer an
// unlock prompt of the desktop keyring, short enough that a hung Secret
// Service never hangs a credential_process.
const keystoreTimeout = 30 * time.Second

// osKeys is device.KeyStore in the OS keystore (go-keyring: the Secret
// Service over D-Bus on Linux and the BSDs, the Keychain on macOS, the
// Credential Manager on Windows).
type osKeys struct {
	timeout time.Duration
	// unavailable, when set, says why there is no keystore (no D-Bus
	// session bus): every call fails with it, and nothing is started.
	unavailable error
}

// oathKeys is the keystore of remembered OATH passwords:
// $MFABRIDGE_OATH_KEYSTORE "none" turns it off; otherwise the OS keystore.
// On Linux and the BSDs the Secret Service needs a D-Bus session bus: with
// none ($DBUS_SESSION_BUS_ADDRESS unset and no /run/user/UID/bus), the
// keystore is unavailable rather than letting the D-Bus library start a
// bus of its own (dbus-launch) that would outlive us.
func (a *app) oathKeys() device.KeyStore {
	if a.getenv("MFABRIDGE_OATH_KEYSTORE") == "none" {
		return nil
	}
	k := &osKeys{timeout: keystoreTimeout}
	switch runtime.GOOS {
	case "darwin", "windows":
	default:
		if a.sessionBus() == "" {
			k.unavailable = errors.New("no D-Bus session bus for the Secret Service (DBUS_SESSION_BUS_ADDRESS is not set)")
		}
	}
	return k
}

// call runs f with the time limit; a call still running at the limit is
// left behind (it ends with the process).
func (k *osKeys) call(what string, f func() error) error {
	if k.unavailable != nil {
		return fmt.Errorf("OS keystore: %w", k.unavailable)
	}
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		if errors.Is(err, keyring.ErrNotFound) {
			return device.ErrKeyNotRemembered
		}
		if err != nil {
			return fmt.Errorf("OS keystore: %s: %w", what, err)
		}
		return nil
	case <-time.After(k.timeout):
		return fmt.Errorf("OS keystore: %s: no answer within %s", what, k.timeout)
	}
}

func (k *osKeys) Load(id string) ([]byte, error) {
	var s string
	err := k.call("read", func() (err error) {
		s, err = keyring.Get(oathKeyService, oathKeyUser(id))
		return err
	})
	if err != nil {
		return nil, err
	}
	key, err := hex.DecodeString(s)
	if err != nil || len(key) != 16 {
		return nil, fmt.Errorf("OS keystore: the item %q of service %q is not a 16-byte key in hex; remove it with `mfabridge accounts password forget`", oathKeyUser(id), oathKeyService)
	}
	return key, nil
}

func (k *osKeys) Store(id string, key []byte) error {
	return k.call("store", func() error { return keyring.Set(oathKeyService, oathKeyUser(id), hex.EncodeToString(key)) })
}

func (k *osKeys) Forget(id string) error {
	return k.call("remove", func() error { return keyring.Delete(oathKeyService, oathKeyUser(id)) })
}
