package main

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/mfabridge/mfabridge/device"
	"github.com/mfabridge/mfabridge/internal/securefile"
	"github.com/mfabridge/mfabridge/pcsc"
	"github.com/mfabridge/mfabridge/sts"
	"github.com/mfabridge/mfabridge/sts/awsconfig"
	"github.com/mfabridge/mfabridge/sts/enroll"
	"github.com/mfabridge/mfabridge/sts/keystore"
)

// TestHintTable: each typed cause of the libraries, wrapped as callers
// wrap it, gets the advice it had in the library's text before issue 12.
func TestHintTable(t *testing.T) {
	wrap := func(err error) error { return fmt.Errorf("get credentials for profile \"p\": %w", err) }
	shared := &securefile.Error{Path: "/tmp", Err: securefile.ErrShared, Fix: "use a folder of its own, e.g. /tmp/mfabridge"}
	private := &securefile.Error{Path: "/c", Err: securefile.ErrNotPrivate, Fix: "chmod 700 /c"}
	for _, tt := range []struct {
		name string
		err  error
		want []string
	}{
		{"no device", device.ErrNoDevice,
			[]string{"pass --device (yubikey, yubikey:SERIAL, sim:PATH, totp:env:VAR or process:COMMAND) or set MFABRIDGE_DEVICE"}},
		{"bad serial", &device.SpecError{Spec: "yubikey:x", Kind: "yubikey"}, []string{"see `mfabridge devices`"}},
		{"bad reader", &device.SpecError{Spec: "reader:", Kind: "reader"}, []string{"see `mfabridge devices`"}},
		{"bad sim", &device.SpecError{Spec: "sim:", Kind: "sim"}, []string{"create one with `mfabridge sim init PATH`"}},
		{"bad totp", &device.SpecError{Spec: "totp:", Kind: "totp"}, nil},
		{"sim missing", wrap(&device.SimMissingError{Path: "/k.json"}), []string{"create it with `mfabridge sim init /k.json`"}},
		{"no accounts", fmt.Errorf("%w %q: %w", device.ErrNotFound, "x", device.ErrNoAccounts), []string{"add one with `mfabridge accounts add`"}},
		{"other account", fmt.Errorf("%w %q", device.ErrNotFound, "x"), nil},
		{"password", wrap(fmt.Errorf("sim 1: %w", device.ErrPasswordRequired)),
			[]string{"set MFABRIDGE_OATH_PASSWORD, run from a terminal to be asked, or `mfabridge accounts password remember`"}},
		{"password, no terminal", fmt.Errorf("sim 1: read OATH password: %w", fmt.Errorf("%w and there is %w", device.ErrPasswordRequired, errNoTerminal)),
			[]string{"set MFABRIDGE_OATH_PASSWORD, or run `mfabridge accounts password remember` once from a terminal"}},
		{"wrong password", fmt.Errorf("sim 1: %w: the key refused it", device.ErrWrongPassword),
			[]string{"check MFABRIDGE_OATH_PASSWORD, or the password set with `ykman oath access change`"}},
		{"several keys", wrap(&pcsc.MultipleKeysError{Serials: []uint32{1, 2}}), []string{"pick one with --device yubikey:SERIAL"}},
		{"wrong passphrase", wrap(keystore.ErrWrongPassphrase),
			[]string{"check MFABRIDGE_KEYRING_PASSPHRASE or the passphrase typed: it must be the one the key was stored with"}},
		{"no passphrase", wrap(keystore.ErrNoPassphrase), []string{"set MFABRIDGE_KEYRING_PASSPHRASE, or run mfabridge where it can ask on a terminal"}},
		{"no OS keystore", wrap(keystore.ErrBackend), []string{"is the OS keystore running and unlocked (Secret Service: gnome-keyring or KeePassXC in the desktop session)? On a machine without one, `--to age` keeps the key in a passphrase-encrypted file"}},
		{"sealed to another key", wrap(&keystore.SerialError{Want: 7, Found: 8}), []string{"insert YubiKey 7, the key this profile's file was sealed to"}},
		{"several keys, one without serial", &pcsc.MultipleKeysError{Serials: []uint32{1, 0}},
			[]string{"pick one with --device yubikey:SERIAL", "a card without a serial is chosen with --device reader:NAME (see `mfabridge devices`)"}},
		{"sts timeout", wrap(&sts.CallError{Kind: sts.ErrTimeout, Err: errors.New("deadline")}),
			[]string{"check the network and the endpoint (AWS_ENDPOINT_URL_STS, endpoint_url), or raise MFABRIDGE_STS_TIMEOUT"}},
		{"sts unreachable", &sts.CallError{Kind: sts.ErrTransport, Err: errors.New("refused")},
			[]string{"check the network and the endpoint (AWS_ENDPOINT_URL_STS, endpoint_url)"}},
		{"region scope", &sts.CallError{Kind: sts.ErrRegionScope, Err: errors.New("x")},
			[]string{"set the profile's region (or AWS_REGION) to the endpoint's region, or point endpoint_url / AWS_ENDPOINT_URL_STS at that region's endpoint (https://sts.REGION.amazonaws.com)"}},
		{"clock skew: the library's own fix", wrap(&sts.CallError{Kind: sts.ErrClockSkew, Fix: "synchronise the clock (NTP)"}),
			[]string{"synchronise the clock (NTP)"}},
		{"shared cache dir", fmt.Errorf("open cache: %w", &sts.CacheDirError{Err: shared}),
			[]string{"set MFABRIDGE_CACHE_DIR to a new folder (use a folder of its own, e.g. /tmp/mfabridge), which mfabridge creates private"}},
		{"cache dir a link", &sts.CacheDirError{Err: &securefile.Error{Err: securefile.ErrLink}},
			[]string{"remove the link (mfabridge then creates a private folder), or set MFABRIDGE_CACHE_DIR to a folder of your own"}},
		{"cache dir not private", &sts.CacheDirError{Err: private},
			[]string{"make it private (chmod 700 /c), or set MFABRIDGE_CACHE_DIR to a folder of your own"}},
		{"cache dir owned by another", &sts.CacheDirError{Err: &securefile.Error{Err: securefile.ErrForeign}},
			[]string{"remove it if it should be yours, or set MFABRIDGE_CACHE_DIR to a folder of your own"}},
		{"cache file not private: no cache-dir advice", private, nil},
		{"no cache dir", fmt.Errorf("default cache dir: %w: HOME is not set", sts.ErrNoCacheDir), []string{"set MFABRIDGE_CACHE_DIR to a folder of your own"}},
		{"profile hint", wrap(&awsconfig.ProfileError{Profile: "prd", Err: awsconfig.ErrUnknownProfile, Hint: `did you mean "prod"?`}),
			[]string{`did you mean "prod"?`}},
		{"environment keys", &awsconfig.ProfileError{Profile: "p", Err: awsconfig.ErrNoEnvironmentKeys},
			[]string{"export the IAM user's access keys in AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"}},
		{"nothing to rotate", &awsconfig.ProfileError{Profile: "prod", Err: enroll.ErrNothingToRotate},
			[]string{"enroll a device first: mfabridge enroll --profile prod"}},
		{"no mfa_serial elsewhere", &awsconfig.ProfileError{Profile: "prod", Err: awsconfig.ErrNoMFASerial}, nil},
		{"rotation stopped", wrap(&enroll.RotateError{Profile: "prod", Step: enroll.StepDeactivateOld, Err: errors.New("x")}),
			[]string{"run `mfabridge rotate --profile prod` again to finish"}},
		{"user unknown", fmt.Errorf("find IAM user: no user name in arn: %w", enroll.ErrUserUnknown), []string{"pass --user"}},
		{"hintError first, then the table, each once", hintError{hintError{device.ErrNoDevice, "h"}, "h"},
			[]string{"h", "pass --device (yubikey, yubikey:SERIAL, sim:PATH, totp:env:VAR or process:COMMAND) or set MFABRIDGE_DEVICE"}},
		{"joined errors", errors.Join(device.ErrWrongPassword, &enroll.RotateError{Profile: "a"}),
			[]string{"check MFABRIDGE_OATH_PASSWORD, or the password set with `ykman oath access change`", "run `mfabridge rotate --profile a` again to finish"}},
		{"no typed cause", errors.New("plain"), nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := hintsFor(tt.err, "linux")
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("hintsFor(%v)\n got %q\nwant %q", tt.err, got, tt.want)
			}
		})
	}
}

// TestPCSCAdvicePerOS: the advice pcsc's sentinels carried, per OS.
func TestPCSCAdvicePerOS(t *testing.T) {
	missing := &pcsc.LibraryError{Library: "x", Problem: "not found", Missing: true}
	unusable := &pcsc.LibraryError{Library: "x", Problem: "wrong"}
	for _, tt := range []struct {
		goos  string
		cause error
		want  []string
	}{
		{"linux", pcsc.ErrServiceNotRunning, []string{"systemctl start pcscd", "pcscd -f"}},
		{"freebsd", pcsc.ErrServiceNotRunning, []string{"service pcscd"}},
		{"darwin", pcsc.ErrServiceNotRunning, []string{"when a reader is attached", "nothing needs installing", "ykman config usb"}},
		{"windows", pcsc.ErrServiceNotRunning, []string{"Smart Card service (SCardSvr)", "when a reader is attached", "sc start SCardSvr"}},
		{"plan9", pcsc.ErrServiceNotRunning, []string{"start the PC/SC service"}},
		{"linux", missing, []string{"apt-get install libpcsclite1 pcscd"}},
		{"linux", pcsc.ErrLibraryMissing, []string{"apt-get install libpcsclite1 pcscd"}},
		{"freebsd", missing, []string{"pkg install pcsc-lite"}},
		{"darwin", missing, []string{"part of macOS", "nothing to install"}},
		{"windows", missing, []string{"winscard.dll is part of Windows"}},
		{"plan9", missing, []string{"PC/SC is not supported on plan9"}},
		{"linux", unusable, []string{"--reinstall libpcsclite1", "architecture"}},
		{"darwin", unusable, []string{"darwin/arm64"}},
		{"windows", unusable, []string{"windows/arm64"}},
		{"linux", pcsc.ErrReaderBusy, []string{"gpgconf --kill scdaemon"}},
		{"linux", pcsc.ErrNoReaders, []string{"plug in the YubiKey (its CCID interface must be enabled, see `ykman config usb`)"}},
		{"linux", pcsc.ErrNoYubiKey, []string{"insert one (its CCID"}},
		{"linux", pcsc.ErrCardRemoved, []string{"reinsert it and try again"}},
		{"linux", pcsc.ErrCardInUse, []string{"let it finish or close it"}},
		{"linux", &pcsc.PCSCError{Op: "transmit", Code: 0x80100016}, []string{"reinsert it and try again"}}, // SCARD_E_NOT_TRANSACTED
		{"linux", &pcsc.PCSCError{Op: "transmit", Code: 0x80100068}, []string{"try again"}},                 // SCARD_W_RESET_CARD
		{"linux", &pcsc.PCSCError{Op: "transmit", Code: 0x80100013}, []string{"check that pcscd is still running"}},
		{"windows", &pcsc.PCSCError{Op: "transmit", Code: 0x8010002F}, []string{"try again"}},
		{"linux", &pcsc.PCSCError{Op: "connect", Code: 0x8010006A}, []string{"try again", "polkit policy"}},
		{"darwin", &pcsc.PCSCError{Op: "connect", Code: 0x8010006A}, []string{"try again"}},
	} {
		err := fmt.Errorf("connect to pcscd: %w", tt.cause)
		got := pcscAdvice(tt.goos, err)
		for _, w := range tt.want {
			if !strings.Contains(got, w) {
				t.Errorf("pcscAdvice(%s, %v) = %q, lacks %q", tt.goos, tt.cause, got, w)
			}
		}
		if h := hintsFor(err, tt.goos); len(h) != 1 || h[0] != got {
			t.Errorf("hintsFor(%v) = %q, want the advice alone", err, h)
		}
	}
	if got := pcscAdvice("linux", errors.New("other")); got != "" {
		t.Errorf("advice for a foreign error = %q", got)
	}
}

// TestPrintError: the error on one line, each hint on its own; a hint
// is never part of the error line.
func TestPrintError(t *testing.T) {
	var b bytes.Buffer
	printError(&b, hintError{fmt.Errorf("open: %w", &device.SimMissingError{Path: "/k.json"}), "first"}, "linux")
	want := "mfabridge: error: open: simulated YubiKey /k.json does not exist\n" +
		"mfabridge: hint: first\n" +
		"mfabridge: hint: create it with `mfabridge sim init /k.json`\n"
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
	if got, want := oneLine(&device.SimMissingError{Path: "/k"}, "linux"), "simulated YubiKey /k does not exist; hint: create it with `mfabridge sim init /k`"; got != want {
		t.Errorf("oneLine = %q, want %q", got, want)
	}
	b.Reset()
	printError(&b, errors.New("plain"), "linux")
	if b.String() != "mfabridge: error: plain\n" {
		t.Errorf("got %q", b.String())
	}
}

// TestNoticeText: the device's typed notices get the wording (and the
// commands) they had in the device package.
func TestNoticeText(t *testing.T) {
	info := device.Info{Kind: "sim", Serial: 12, Path: "/k"}
	for _, tt := range []struct {
		n    device.Notice
		want string
	}{
		{device.Notice{Kind: device.NoticeRememberedRefused, Info: info},
			"the OATH password remembered for " + info.String() + " was refused (changed elsewhere, e.g. by `ykman oath access change`?); " +
				"it is forgotten now; run `mfabridge accounts password remember` to remember the new one"},
		{device.Notice{Kind: device.NoticeRememberedRefused, Info: info, Err: errors.New("locked")},
			"the OATH password remembered for " + info.String() + " was refused, and removing it failed: locked; " +
				"run `mfabridge accounts password remember` to remember the new one"},
		{device.Notice{Kind: device.NoticeRememberedNotUpdated, Info: info, Err: errors.New("locked")},
			"the remembered OATH password for " + info.String() + " could not be updated (locked); run `mfabridge accounts password forget`"},
	} {
		if got := noticeText(tt.n); got != tt.want {
			t.Errorf("noticeText(%v)\n got %q\nwant %q", tt.n, got, tt.want)
		}
	}
}

// TestLeftoverFix: the commands that finish a failed enrollment, as
// sts/enroll spelt them before issue 12.
func TestLeftoverFix(t *testing.T) {
	serial := "arn:aws:iam::111111111111:mfa/alice-2"
	for _, tt := range []struct {
		l    enroll.Leftover
		want string
	}{
		{enroll.Leftover{Kind: enroll.LeftOATHAccount, Spec: "sim:/tmp/key.json", Account: "AWS:alice-2@111111111111"},
			"mfabridge accounts delete --device sim:/tmp/key.json AWS:alice-2@111111111111"},
		{enroll.Leftover{Kind: enroll.LeftOATHAccount, Account: "it's"}, `mfabridge accounts delete 'it'\''s'`},
		{enroll.Leftover{Kind: enroll.LeftEnabledDevice, User: "alice", Serial: serial},
			"aws iam deactivate-mfa-device --user-name alice --serial-number " + serial + " && aws iam delete-virtual-mfa-device --serial-number " + serial},
		{enroll.Leftover{Kind: enroll.LeftVirtualDevice, Serial: serial, Denied: true},
			"aws iam delete-virtual-mfa-device --serial-number " + serial + " (with MFA session credentials, e.g. through `mfabridge exec PROFILE --`)"},
	} {
		if got := leftoverFix(tt.l); got != tt.want {
			t.Errorf("leftoverFix(%+v)\n got %q\nwant %q", tt.l, got, tt.want)
		}
	}
}
