package device

import (
	"fmt"
	"strconv"
	"strings"
)

// Spec is a parsed device specification, as given to --device,
// MFABRIDGE_DEVICE or a profile's mfabridge_device:
//
//	yubikey            the only YubiKey present
//	yubikey:SERIAL     the YubiKey with this serial number
//	sim:PATH           a simulated YubiKey whose state lives in PATH
//	totp:env:VAR       a software TOTP secret (base32 or otpauth:// URI) in $VAR
//	process:COMMAND    the code COMMAND prints (a password manager's CLI;
//	                   aws-vault's mfa_process), run by the platform shell
//	reader:NAME        the OATH card (YubiKey or other YKOATH card) in the
//	                   PC/SC reader whose name contains NAME (ignoring case),
//	                   as ykman --reader
type Spec struct {
	Kind    string // "yubikey", "sim", "totp", "reader" or "process"
	Serial  uint32 // yubikey: 0 means "the only one"
	Path    string // sim
	EnvVar  string // totp
	Reader  string // reader: part of the reader's name
	Command string // process
}

// ParseSpec parses a device specification.
func ParseSpec(s string) (Spec, error) {
	kind, rest, hasRest := strings.Cut(strings.TrimSpace(s), ":")
	switch kind {
	case "yubikey":
		if !hasRest {
			return Spec{Kind: "yubikey"}, nil
		}
		n, err := strconv.ParseUint(rest, 10, 32)
		if err != nil || n == 0 {
			return Spec{}, fmt.Errorf("device %q: the YubiKey serial must be a positive decimal number (see `mfabridge devices`)", s)
		}
		return Spec{Kind: "yubikey", Serial: uint32(n)}, nil
	case "sim":
		if rest == "" {
			return Spec{}, fmt.Errorf("device %q: give the simulator's state file, as sim:PATH (create one with `mfabridge sim init PATH`)", s)
		}
		return Spec{Kind: "sim", Path: rest}, nil
	case "totp":
		src, v, _ := strings.Cut(rest, ":")
		if src != "env" || v == "" {
			return Spec{}, fmt.Errorf("device %q: a software TOTP device is totp:env:VAR, with the secret in the environment variable VAR", s)
		}
		return Spec{Kind: "totp", EnvVar: v}, nil
	case "process":
		if strings.TrimSpace(rest) == "" {
			return Spec{}, fmt.Errorf("device %q: give the command that prints the code, as process:COMMAND", s)
		}
		return Spec{Kind: "process", Command: rest}, nil
	case "reader":
		if strings.TrimSpace(rest) == "" {
			return Spec{}, fmt.Errorf("device %q: give part of the reader's name, as reader:NAME (see `mfabridge devices`)", s)
		}
		return Spec{Kind: "reader", Reader: rest}, nil
	case "":
		return Spec{}, fmt.Errorf("no device given: pass --device (yubikey, yubikey:SERIAL, sim:PATH, totp:env:VAR or process:COMMAND) or set MFABRIDGE_DEVICE")
	default:
		return Spec{}, fmt.Errorf("device %q: unknown kind %q; use yubikey, yubikey:SERIAL, reader:NAME, sim:PATH, totp:env:VAR or process:COMMAND", s, kind)
	}
}

// String formats the spec back into its textual form.
func (s Spec) String() string {
	switch s.Kind {
	case "yubikey":
		if s.Serial != 0 {
			return "yubikey:" + strconv.FormatUint(uint64(s.Serial), 10)
		}
		return "yubikey"
	case "sim":
		return "sim:" + s.Path
	case "totp":
		return "totp:env:" + s.EnvVar
	case "process":
		return "process:" + s.Command
	case "reader":
		return "reader:" + s.Reader
	}
	return s.Kind
}

// String describes the device for messages: "YubiKey 12345678",
// "simulated YubiKey 12345678 (PATH)", "TOTP secret in $VAR",
// "code process \"COMMAND\"".
func (i Info) String() string {
	switch i.Kind {
	case "yubikey":
		if i.Serial != 0 {
			return fmt.Sprintf("YubiKey %d", i.Serial)
		}
		if i.Reader != "" {
			// No serial known: an OATH-only card, or a key opened by reader.
			return fmt.Sprintf("OATH card in reader %q", i.Reader)
		}
		return "YubiKey"
	case "sim":
		return fmt.Sprintf("simulated YubiKey %d (%s)", i.Serial, i.Path)
	case "totp":
		return "TOTP secret in $" + i.Path
	case "process":
		return "code process " + quoteCommand(i.Path)
	}
	return i.Kind
}
