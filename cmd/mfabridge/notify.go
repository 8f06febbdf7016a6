package main

import (
	"fmt"
	"os"
	"strconv"
	"sync"

	"github.com/mfabridge/mfabridge/device"
	"github.com/mfabridge/mfabridge/internal/notify"
)

// Touch, password and PIN notices for callers without a terminal (an IDE,
// a desktop app, a credential server), for OATH codes and for access keys
// sealed to a PIV key. $MFABRIDGE_NOTIFY chooses:
//
//	auto      the terminal when one can be opened, else a desktop
//	          notification, else a line on stderr (the default)
//	desktop   a desktop notification, else the terminal
//	terminal  the terminal only (stderr without one), as before
//	none      no touch notice at all
//
// A desktop notice (D-Bus, macOS Notification Center, a Windows toast
// through PowerShell) is sent in the background and withdrawn when the key
// answers; a missing or hung notification service never holds the code
// and falls back silently (after notify.DefaultTimeout; a toast may take
// PowerShell's start-up, up to five seconds).

var notifyModes = map[string]bool{"auto": true, "desktop": true, "terminal": true, "none": true}

// notifyMode is $MFABRIDGE_NOTIFY, checked.
func (a *app) notifyMode() (string, error) {
	m := a.getenv("MFABRIDGE_NOTIFY")
	if m == "" {
		return "auto", nil
	}
	if !notifyModes[m] {
		return "auto", usageError{fmt.Errorf("MFABRIDGE_NOTIFY=%q: want auto, desktop, terminal or none", m)}
	}
	return m, nil
}

// sessionBus is the D-Bus session bus address: $DBUS_SESSION_BUS_ADDRESS,
// else the systemd user bus socket when it exists; "" for none. (The D-Bus
// library would otherwise start a bus of its own with dbus-launch.)
func (a *app) sessionBus() string {
	if addr := a.getenv("DBUS_SESSION_BUS_ADDRESS"); addr != "" && addr != "autolaunch:" {
		return addr
	}
	if p := "/run/user/" + strconv.Itoa(os.Getuid()) + "/bus"; fileExists(p) {
		return "unix:path=" + p
	}
	return ""
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// desktop is the app's notifier, made on first use.
func (a *app) desktop() *notify.Notifier {
	a.notifyOnce.Do(func() {
		a.notifier = notify.New(notify.Options{BusAddress: a.sessionBus(), Logger: a.log})
	})
	return a.notifier
}

// drainNotices lets a desktop notice that the service put up after the
// key had already answered be withdrawn before the process exits, waiting
// at most notify.DefaultTimeout for a slow service.
func (a *app) drainNotices() {
	if a.notifier != nil {
		a.notifier.Drain(notify.DefaultTimeout)
	}
}

// available reports whether the terminal can be opened.
func (t *terminal) available() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.file() != nil
}

// touchHook is device.Hooks.Touch for the chosen mode.
func (a *app) touchHook() func(device.Info) func() {
	return a.touchNotice(func(info device.Info) string {
		return fmt.Sprintf("mfabridge is waiting for a touch on %s to compute an MFA code", info)
	})
}

// touchNotice is a touch notice for the chosen mode (nil for none): the
// terminal's prompt, or a desktop notification whose text body gives,
// falling back to the terminal when it cannot be shown. The returned func
// of a notice clears it.
func (a *app) touchNotice(body func(device.Info) string) func(device.Info) func() {
	mode, _ := a.notifyMode() // checked in openDevice and keyStore
	switch mode {
	case "none":
		return nil
	case "terminal":
		return a.term.touch
	}
	return func(info device.Info) func() {
		if mode == "auto" && a.term.available() {
			return a.term.touch(info)
		}
		var (
			mu       sync.Mutex
			closed   bool
			fallback func()
		)
		sh := a.desktop().Show("Touch your YubiKey", body(info),
			func(err error) {
				a.log.Debug("desktop notice not shown; using the terminal", "err", err)
				mu.Lock()
				defer mu.Unlock()
				if !closed {
					fallback = a.term.touch(info)
				}
			})
		return func() {
			// The key has answered: a fallback not started yet never
			// starts (no late "touch your key"); one started is cleared.
			mu.Lock()
			closed = true
			mu.Unlock()
			sh.Close()
			mu.Lock()
			defer mu.Unlock()
			if fallback != nil {
				fallback()
			}
		}
	}
}

// pivTouchNotice arms the touch notice for a PIV key operation on the
// YubiKey with serial whose key may wait for a touch (touch policy always
// or cached): as for OATH, it is shown only if the card has not answered
// after device.TouchDelay, and the returned func (call it when the card
// answers) withdraws it.
func (a *app) pivTouchNotice(info device.Info) (answered func()) {
	show := a.touchNotice(func(info device.Info) string {
		return fmt.Sprintf("mfabridge is waiting for a touch on %s to open the AWS access key sealed to it", info)
	})
	if show == nil {
		return func() {}
	}
	return device.TouchNotice(show, info)
}

// pivPINNotice tells a user without a terminal that the PIV PIN is needed
// and how to give it (the command then fails with errNoTerminal).
func (a *app) pivPINNotice(serial uint32) {
	a.desktopNotice("YubiKey PIV PIN needed", fmt.Sprintf("mfabridge needs the PIV PIN of YubiKey %d to open the AWS access key sealed to it, and has no terminal to ask on: run the same command once in a terminal (the session it gets is cached), or set MFABRIDGE_PIV_PIN for the program that runs mfabridge", serial))
}

// desktopNotice shows a notice that needs no withdrawing (a password is
// needed and cannot be asked for), when the mode allows and there is no
// terminal; it waits at most notify.DefaultTimeout.
func (a *app) desktopNotice(title, body string) {
	mode, _ := a.notifyMode()
	if mode == "none" || mode == "terminal" || (mode == "auto" && a.term.available()) {
		return
	}
	a.desktop().Show(title, body, nil).Wait()
}
