// Package device is the one plug point between the CLI / STS layers and
// anything that yields OATH codes: a YubiKey (over PC/SC or the in-process
// simulator, both through oath.Transport) or a software TOTP secret.
//
// Token binds a Device to an MFA serial: it chooses the OATH account
// (MatchAccount, unless the profile pins one) and computes the code of the
// TOTP step its caller asks for, in one card session per code. The CLI
// hands Token.Code to the credentials provider as its code function, so
// the provider never learns that devices exist.
package device

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/mfabridge/mfabridge/oath"
)

// Credential describes one OATH account stored on a device.
type Credential struct {
	Name      string         // full name as stored, e.g. "60/Issuer:account"
	Issuer    string         // parsed from Name, ykman's rules
	Account   string         // parsed from Name
	Type      oath.Type      // oath.TOTP or oath.HOTP
	Algorithm oath.Algorithm // as reported by LIST
	Digits    int            // 0 when the device has not said
	Period    time.Duration  // TOTP only; 30 s unless the name says otherwise
	Touch     bool           // known only from CALCULATE ALL (7C answer)
}

// Code is one computed OTP.
type Code struct {
	Value     string
	ValidFrom time.Time // start of the TOTP step (zero for HOTP)
	ValidTo   time.Time // end of the TOTP step (zero for HOTP)
}

// Info identifies a device.
type Info struct {
	Kind     string // "yubikey", "sim", "totp"
	Serial   uint32 // 0 when the device has none
	Firmware string // "5.4.3"; empty when unknown
	Reader   string // PC/SC reader name, empty otherwise
	Path     string // sim state file, empty otherwise
}

// Hooks are the UI callbacks a device may need. A nil field means "don't
// prompt": a password-protected device then fails with ErrPasswordRequired.
type Hooks struct {
	// Touch is called when a touch-required calculation has not answered
	// after about a second; the returned func is called when it answers
	// (or fails). It may be nil.
	Touch func(Info) (done func())
	// Password returns the OATH password for the device; it is called at
	// most once per operation, and only when the device asks for one.
	Password func(ctx context.Context, info Info) (string, error)
	// Keys, when set, remembers password keys (see KeyStore): a locked
	// applet is first opened with the remembered key, and Password is
	// asked only when there is none or the applet refuses it.
	Keys KeyStore
	// Notice reports something the user should know that is not an
	// error (a remembered password was refused and forgotten); the caller
	// words it (n.String is a plain wording). It may be nil.
	Notice func(n Notice)
}

// NoticeKind says what a Notice is about.
type NoticeKind int

const (
	// NoticeRememberedRefused: the applet refused the remembered password
	// key, which is forgotten now (Err is nil) or could not be forgotten
	// (Err says why).
	NoticeRememberedRefused NoticeKind = iota + 1
	// NoticeRememberedNotUpdated: the password was set or cleared through
	// this device, but the remembered key could not be replaced or removed
	// (Err says why).
	NoticeRememberedNotUpdated
)

// Notice is an event a device reports through Hooks.Notice.
type Notice struct {
	Kind NoticeKind
	Info Info  // the device
	Err  error // what failed, when something did
}

// String is a plain wording of n, without advice.
func (n Notice) String() string {
	switch n.Kind {
	case NoticeRememberedRefused:
		if n.Err != nil {
			return fmt.Sprintf("the OATH password remembered for %s was refused, and removing it failed: %v", n.Info, n.Err)
		}
		return fmt.Sprintf("the OATH password remembered for %s was refused; it is forgotten now", n.Info)
	case NoticeRememberedNotUpdated:
		return fmt.Sprintf("the remembered OATH password for %s could not be updated (%v)", n.Info, n.Err)
	}
	return fmt.Sprintf("%s: notice %d", n.Info, n.Kind)
}

// Device yields OATH codes.
//
// Error contract: errors wrap oath sentinels where the card said so
// (oath.ErrAuthRequired, oath.ErrNoSuchCredential, oath.ErrTouchTimeout …),
// ErrPasswordRequired / ErrWrongPassword for password problems, and
// ErrNotFound when a name matches no credential (with ErrNoAccounts when
// the device holds none). Every error says which device (kind and serial)
// it came from, and none says what to do about it: advice is the caller's.
type Device interface {
	Info() Info
	// List returns the stored credentials.
	List(ctx context.Context) ([]Credential, error)
	// Calculate computes the code of the credential with exactly this name
	// for time at (TOTP); HOTP credentials advance their counter.
	Calculate(ctx context.Context, name string, at time.Time) (Code, error)
	// Close releases the device.
	Close() error
}

// Manager is implemented by devices that store credentials (YubiKeys and
// the simulator), not by software TOTP.
type Manager interface {
	Put(ctx context.Context, cred Credential, secret []byte, opts PutOptions) error
	Delete(ctx context.Context, name string) error
	Rename(ctx context.Context, oldName, newName string) error
	SetPassword(ctx context.Context, password string) error
	ClearPassword(ctx context.Context) error
}

// PutOptions are the optional parts of a PUT.
type PutOptions struct {
	Counter uint32 // HOTP initial moving factor
}

var (
	ErrPasswordRequired = errors.New("the OATH applet is password protected")
	ErrWrongPassword    = errors.New("wrong OATH password")
	ErrNotFound         = errors.New("no such account")
	ErrAmbiguous        = errors.New("more than one account matches")
	ErrUnsupported      = errors.New("not supported by this device")
	// ErrNoAccounts: the device holds no OATH account at all (it comes
	// with ErrNotFound).
	ErrNoAccounts = errors.New("the device holds no accounts")
)
