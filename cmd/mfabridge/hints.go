package main

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/mfabridge/mfabridge/device"
	"github.com/mfabridge/mfabridge/device/piv"
	"github.com/mfabridge/mfabridge/internal/securefile"
	"github.com/mfabridge/mfabridge/pcsc"
	"github.com/mfabridge/mfabridge/sts"
	"github.com/mfabridge/mfabridge/sts/awsconfig"
	"github.com/mfabridge/mfabridge/sts/enroll"
	"github.com/mfabridge/mfabridge/sts/keystore"
)

// Errors are rendered as age renders them: the error on one line, then each
// piece of advice on a line of its own,
//
//	mfabridge: error: simulated YubiKey /tmp/k.json does not exist
//	mfabridge: hint: create it with `mfabridge sim init /tmp/k.json`
//
// Library packages return short errors with typed causes and no advice
// about this command, its flags or its environment variables; the advice
// lives here (hintTable), next to the command it names. Advice a library
// can give without knowing the CLI comes from the error itself (a Hint()
// method, or awsconfig.ProfileError's Hint field).

// hintError is an error with advice, rendered as a second
// "mfabridge: hint: …" line.
type hintError struct {
	err  error
	hint string
}

func (e hintError) Error() string { return e.err.Error() }
func (e hintError) Unwrap() error { return e.err }
func (e hintError) Hint() string  { return e.hint }

// printError renders err (see above) for goos. It is the one place that
// prints an error of the command.
func printError(w io.Writer, err error, goos string) {
	fmt.Fprintf(w, "mfabridge: error: %v\n", err)
	for _, h := range hintsFor(err, goos) {
		fmt.Fprintf(w, "mfabridge: hint: %s\n", h)
	}
}

// oneLine is err and its hints on one line, for where only one message
// reaches the user (the credential server's answer to an SDK).
func oneLine(err error, goos string) string {
	var b strings.Builder
	b.WriteString(err.Error())
	for _, h := range hintsFor(err, goos) {
		b.WriteString("; hint: ")
		b.WriteString(h)
	}
	return b.String()
}

// hinter is an error that carries its own advice.
type hinter interface{ Hint() string }

// hintsFor collects the advice for err: each error of its tree that
// carries a hint (outermost first), then the table's advice for its typed
// causes; each hint once.
func hintsFor(err error, goos string) []string {
	var hints []string
	add := func(h string) {
		if h != "" && !slices.Contains(hints, h) {
			hints = append(hints, h)
		}
	}
	walkErrors(err, func(e error) {
		if h, ok := e.(hinter); ok {
			add(h.Hint())
		}
		if pe, ok := e.(*awsconfig.ProfileError); ok {
			add(pe.Hint)
		}
	})
	for _, h := range hintTable(err, goos) {
		add(h)
	}
	return hints
}

// walkErrors calls f for err and every error it wraps, depth first.
func walkErrors(err error, f func(error)) {
	if err == nil {
		return
	}
	f(err)
	switch u := err.(type) {
	case interface{ Unwrap() error }:
		walkErrors(u.Unwrap(), f)
	case interface{ Unwrap() []error }:
		for _, e := range u.Unwrap() {
			walkErrors(e, f)
		}
	}
}

// ccidHint is said of every "plug in the YubiKey" advice.
const ccidHint = "(its CCID interface must be enabled, see `ykman config usb`)"

// hintTable maps typed causes of the libraries to the advice that names
// this command, its flags, its environment variables or other tools.
func hintTable(err error, goos string) []string {
	var hints []string
	add := func(format string, args ...any) { hints = append(hints, fmt.Sprintf(format, args...)) }

	// device
	if errors.Is(err, device.ErrNoDevice) {
		add("pass --device (yubikey, yubikey:SERIAL, sim:PATH, totp:env:VAR or process:COMMAND) or set MFABRIDGE_DEVICE")
	}
	var se *device.SpecError
	if errors.As(err, &se) {
		switch se.Kind {
		case "yubikey", "reader":
			add("see `mfabridge devices`")
		case "sim":
			add("create one with `mfabridge sim init PATH`")
		}
	}
	var sm *device.SimMissingError
	if errors.As(err, &sm) {
		add("create it with `mfabridge sim init %s`", sm.Path)
	}
	if errors.Is(err, device.ErrNoAccounts) {
		add("add one with `mfabridge accounts add`")
	}
	if errors.Is(err, device.ErrPasswordRequired) {
		if errors.Is(err, errNoTerminal) {
			add("set MFABRIDGE_OATH_PASSWORD, or run `mfabridge accounts password remember` once from a terminal")
		} else {
			add("set MFABRIDGE_OATH_PASSWORD, run from a terminal to be asked, or `mfabridge accounts password remember`")
		}
	}
	if errors.Is(err, device.ErrWrongPassword) {
		add("check MFABRIDGE_OATH_PASSWORD, or the password set with `ykman oath access change`")
	}

	// pcsc
	var multi *pcsc.MultipleKeysError
	if errors.As(err, &multi) {
		add("pick one with --device yubikey:SERIAL")
		if slices.Contains(multi.Serials, 0) {
			add("a card without a serial is chosen with --device reader:NAME (see `mfabridge devices`)")
		}
	}
	if a := pcscAdvice(goos, err); a != "" {
		hints = append(hints, a)
	}

	// sts
	switch {
	case errors.Is(err, sts.ErrTimeout):
		add("check the network and the endpoint (AWS_ENDPOINT_URL_STS, endpoint_url), or raise MFABRIDGE_STS_TIMEOUT")
	case errors.Is(err, sts.ErrTransport):
		add("check the network and the endpoint (AWS_ENDPOINT_URL_STS, endpoint_url)")
	case errors.Is(err, sts.ErrRegionScope):
		add("set the profile's region (or AWS_REGION) to the endpoint's region, or point endpoint_url / AWS_ENDPOINT_URL_STS at that region's endpoint (https://sts.REGION.amazonaws.com)")
	}
	var cde *sts.CacheDirError
	if errors.As(err, &cde) {
		if h := cacheDirAdvice(err); h != "" {
			add("%s", h)
		}
	}
	if errors.Is(err, sts.ErrNoCacheDir) {
		add("set MFABRIDGE_CACHE_DIR to a folder of your own")
	}

	// sts/awsconfig
	if errors.Is(err, awsconfig.ErrNoEnvironmentKeys) {
		add("export the IAM user's access keys in AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
	}

	// sts/enroll
	var pe *awsconfig.ProfileError
	if errors.Is(err, enroll.ErrNothingToRotate) && errors.As(err, &pe) {
		add("enroll a device first: mfabridge enroll --profile %s", pe.Profile)
	}
	var re *enroll.RotateError
	if errors.As(err, &re) {
		add("run `mfabridge rotate --profile %s` again to finish", re.Profile)
	}
	if errors.Is(err, enroll.ErrUserUnknown) {
		add("pass --user")
	}

	// sts/keystore (PIV card)
	var pinErr *keystore.PINError
	if errors.As(err, &pinErr) && errors.Is(err, piv.ErrBlocked) {
		add("unblock it with the PUK: `ykman --device %d piv access unblock-pin` (the OATH codes are not affected)", pinErr.Serial)
	}
	var ae *keystore.AlgorithmError
	if errors.As(err, &ae) {
		add("generate a P-256 key with `%s`", ykmanPIVGenerate(ae.Serial, ae.Slot))
	}
	var serr *keystore.SerialError
	if errors.As(err, &serr) {
		add("insert YubiKey %d, the key this profile's file was sealed to", serr.Want)
	}

	// sts/keystore (age file, OS keystore); what depends on the profile or
	// the store (no key stored, no terminal) is keys.go's keyHint
	switch {
	case errors.Is(err, keystore.ErrWrongPassphrase):
		add("check MFABRIDGE_KEYRING_PASSPHRASE or the passphrase typed: it must be the one the key was stored with")
	case errors.Is(err, keystore.ErrNoPassphrase):
		add("set MFABRIDGE_KEYRING_PASSPHRASE, or run mfabridge where it can ask on a terminal")
	case errors.Is(err, keystore.ErrBackend):
		add("is the OS keystore running and unlocked (Secret Service: gnome-keyring or KeePassXC in the desktop session)? On a machine without one, `--to age` keeps the key in a passphrase-encrypted file")
	}
	return hints
}

// cacheDirAdvice is what to do about a cache directory that
// securefile.CheckDir refused with err (an error and doctor's check say
// the same), or "".
func cacheDirAdvice(err error) string {
	const elsewhere = "or set MFABRIDGE_CACHE_DIR to a folder of your own"
	fix := securefile.FixOf(err)
	switch {
	case errors.Is(err, securefile.ErrLink):
		return "remove the link (mfabridge then creates a private folder), " + elsewhere
	case errors.Is(err, securefile.ErrForeign):
		return "remove it if it should be yours, " + elsewhere
	case errors.Is(err, securefile.ErrNotDir):
		return "move the file away, " + elsewhere
	case errors.Is(err, securefile.ErrShared):
		return "set MFABRIDGE_CACHE_DIR to a new folder (" + fix + "), which mfabridge creates private"
	case errors.Is(err, securefile.ErrNotPrivate) && fix != "":
		return "make it private (" + fix + "), " + elsewhere
	}
	return ""
}

// ykmanPIVGenerate is the ykman command that makes a P-256 key on the
// YubiKey with serial in a PIV slot, the kind of key mfabridge seals to.
func ykmanPIVGenerate(serial uint32, slot byte) string {
	return fmt.Sprintf("ykman --device %d piv keys generate -a ECCP256 %02x -", serial, slot)
}

// pcscAdvice is what a user can do about a PC/SC failure on goos: the
// advice for the pcsc sentinel (or *LibraryError) in err's chain, or "".
func pcscAdvice(goos string, err error) string {
	switch {
	case errors.Is(err, pcsc.ErrLibraryMissing):
		switch goos {
		case "linux":
			return "install pcsc-lite's library and daemon: `apt-get install libpcsclite1 pcscd` (Debian, Ubuntu), " +
				"`dnf install pcsc-lite` (Fedora), `pacman -S pcsclite` (Arch)"
		case "freebsd":
			return "install pcsc-lite: `pkg install pcsc-lite ccid`, then `sysrc pcscd_enable=YES && service pcscd start`"
		case "darwin":
			return "PC/SC is part of macOS (PCSC.framework), nothing to install: this system's copy is missing or damaged"
		case "windows":
			return "winscard.dll is part of Windows: this system's copy is missing or damaged (`sfc /scannow` repairs it)"
		}
		return "PC/SC is not supported on " + goos + ": use a simulated key (sim:) or a TOTP secret (totp:)"
	case errors.Is(err, pcsc.ErrLibraryUnusable):
		switch goos {
		case "linux":
			return "reinstall it for this machine (`apt-get install --reinstall libpcsclite1`, or your system's pcsc-lite package), " +
				"or use the mfabridge build for this machine's architecture"
		case "freebsd":
			return "reinstall it for this machine (`pkg install -f pcsc-lite`), or use the mfabridge build for this machine's architecture"
		case "darwin":
			return "use the mfabridge build for this Mac (darwin/arm64 on Apple silicon, darwin/amd64 on Intel)"
		case "windows":
			return "use the mfabridge build for this PC (windows/arm64 or windows/amd64); `sfc /scannow` repairs system files"
		}
		return ""
	case errors.Is(err, pcsc.ErrServiceNotRunning):
		switch goos {
		case "linux":
			return "start pcscd with `systemctl start pcscd` or `pcscd -f &` (package pcscd)"
		case "freebsd":
			return "start pcscd with `service pcscd onestart` (`sysrc pcscd_enable=YES` starts it at boot; package pcsc-lite)"
		case "darwin":
			return "macOS starts its smart card service when a reader is attached: plug in the YubiKey " + ccidHint +
				"; nothing needs installing"
		case "windows":
			return "Windows starts the Smart Card service (SCardSvr) when a reader is attached and stops it when the last one goes: " +
				"plug in the YubiKey " + ccidHint + "; if it is plugged in, check that the service is not disabled " +
				"(`sc config SCardSvr start= demand`, then `sc start SCardSvr`)"
		}
		return "start the PC/SC service"
	case errors.Is(err, pcsc.ErrNoReaders):
		return "plug in the YubiKey " + ccidHint
	case errors.Is(err, pcsc.ErrNoYubiKey):
		return "insert one " + ccidHint
	case errors.Is(err, pcsc.ErrCardRemoved), errors.Is(err, pcsc.ErrTimeout), errors.Is(err, pcsc.ErrNoStatusWord),
		errors.Is(err, pcsc.ErrCardUnreachable):
		return "reinsert it and try again"
	case errors.Is(err, pcsc.ErrCardReset):
		return "try again"
	case errors.Is(err, pcsc.ErrServiceLost):
		if goos == "linux" || goos == "freebsd" {
			return "check that pcscd is still running and try again"
		}
		return "try again"
	case errors.Is(err, pcsc.ErrServiceRefused):
		if goos == "linux" || goos == "freebsd" {
			return "try again; if it keeps refusing, pcscd's polkit policy denies this user access to the card"
		}
		return "try again"
	case errors.Is(err, pcsc.ErrReaderBusy):
		return "close it and try again (for example gpg's scdaemon: `gpgconf --kill scdaemon`)"
	case errors.Is(err, pcsc.ErrCardInUse):
		return "let it finish or close it, and try again"
	}
	return ""
}

// noticeText words a device's notice.
func noticeText(n device.Notice) string {
	switch n.Kind {
	case device.NoticeRememberedRefused:
		if n.Err != nil {
			return n.String() + "; run `mfabridge accounts password remember` to remember the new one"
		}
		return fmt.Sprintf("the OATH password remembered for %s was refused (changed elsewhere, e.g. by `ykman oath access change`?); "+
			"it is forgotten now; run `mfabridge accounts password remember` to remember the new one", n.Info)
	case device.NoticeRememberedNotUpdated:
		return n.String() + "; run `mfabridge accounts password forget`"
	}
	return n.String()
}

// leftoverFix is the command that finishes what a failed enrollment left.
func leftoverFix(l enroll.Leftover) string {
	var cmd string
	switch l.Kind {
	case enroll.LeftOATHAccount:
		cmd = "mfabridge accounts delete"
		if l.Spec != "" {
			cmd += " --device " + quoteArg(l.Spec)
		}
		cmd += " " + quoteArg(l.Account)
	case enroll.LeftEnabledDevice:
		cmd = "aws iam deactivate-mfa-device --user-name " + quoteArg(l.User) + " --serial-number " + quoteArg(l.Serial) +
			" && aws iam delete-virtual-mfa-device --serial-number " + quoteArg(l.Serial)
	case enroll.LeftVirtualDevice:
		cmd = "aws iam delete-virtual-mfa-device --serial-number " + quoteArg(l.Serial)
	default:
		return ""
	}
	if l.Denied {
		cmd += " (with MFA session credentials, e.g. through `mfabridge exec PROFILE --`)"
	}
	return cmd
}

// quoteArg quotes s for a POSIX shell when it needs it.
func quoteArg(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:/@=+,") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
