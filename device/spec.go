package device

import (
	"errors"
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

// ErrNoDevice: the specification is empty.
var ErrNoDevice = errors.New("no device given")

// SpecError is a device specification ParseSpec cannot use.
type SpecError struct {
	Spec    string // as given
	Kind    string // the kind it names, when that kind is known ("yubikey", "sim", …)
	Problem string // what is wrong with it
}

func (e *SpecError) Error() string { return fmt.Sprintf("device %q: %s", e.Spec, e.Problem) }

// ParseSpec parses a device specification. It fails with ErrNoDevice or a
// *SpecError.
func ParseSpec(s string) (Spec, error) {
	kind, rest, hasRest := strings.Cut(strings.TrimSpace(s), ":")
	switch kind {
	case "yubikey":
		if !hasRest {
			return Spec{Kind: "yubikey"}, nil
		}
		n, err := strconv.ParseUint(rest, 10, 32)
		if err != nil || n == 0 {
			return Spec{}, &SpecError{Spec: s, Kind: "yubikey", Problem: "the YubiKey serial must be a positive decimal number"}
		}
		return Spec{Kind: "yubikey", Serial: uint32(n)}, nil
	case "sim":
		if rest == "" {
			return Spec{}, &SpecError{Spec: s, Kind: "sim", Problem: "give the simulator's state file, as sim:PATH"}
		}
		return Spec{Kind: "sim", Path: rest}, nil
	case "totp":
		src, v, _ := strings.Cut(rest, ":")
		if src != "env" || v == "" {
			return Spec{}, &SpecError{Spec: s, Kind: "totp", Problem: "a software TOTP device is totp:env:VAR, with the secret in the environment variable VAR"}
		}
		return Spec{Kind: "totp", EnvVar: v}, nil
	case "process":
		if strings.TrimSpace(rest) == "" {
			return Spec{}, &SpecError{Spec: s, Kind: "process", Problem: "give the command that prints the code, as process:COMMAND"}
		}
		return Spec{Kind: "process", Command: rest}, nil
	case "reader":
		if strings.TrimSpace(rest) == "" {
			return Spec{}, &SpecError{Spec: s, Kind: "reader", Problem: "give part of the reader's name, as reader:NAME"}
		}
		return Spec{Kind: "reader", Reader: rest}, nil
	case "":
		return Spec{}, ErrNoDevice
	default:
		return Spec{}, &SpecError{Spec: s, Problem: fmt.Sprintf("unknown kind %q; use yubikey, yubikey:SERIAL, reader:NAME, sim:PATH, totp:env:VAR or process:COMMAND", kind)}
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
