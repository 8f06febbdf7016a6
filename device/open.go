package device

import (
	"context"
	"log/slog"
	"time"

	"github.com/mfabridge/mfabridge/oath"
	"github.com/mfabridge/mfabridge/simulator"
)

// Options configure Open. The CLI fills them: library code reads no
// environment variables itself.
type Options struct {
	Getenv  func(string) string // for totp:env:VAR; nil reads nothing
	Hooks   Hooks
	Logger  *slog.Logger // APDU trace at debug level; nil is silent
	Sim     []simulator.Option
	Process ProcessOptions // for process:COMMAND
}

// Open opens the device named by spec (see ParseSpec).
func Open(ctx context.Context, spec string, opts Options) (Device, error) {
	s, err := ParseSpec(spec)
	if err != nil {
		return nil, err
	}
	switch s.Kind {
	case "sim":
		return OpenSim(s.Path, opts.Hooks, opts.Logger, opts.Sim...)
	case "totp":
		v := ""
		if opts.Getenv != nil {
			v = opts.Getenv(s.EnvVar)
		}
		return NewTOTP(s.EnvVar, v)
	case "process":
		return NewProcess(s.Command, opts.Process)
	case "reader":
		return OpenReader(ctx, s.Reader, opts.Hooks, opts.Logger)
	default:
		return OpenYubiKey(ctx, s.Serial, opts.Hooks, opts.Logger)
	}
}

// CalculateAll returns every credential with its code where one is computed
// without asking (not for touch or HOTP credentials).
func CalculateAll(ctx context.Context, d Device, at time.Time) ([]Entry, error) {
	if cl, ok := d.(interface {
		CalculateAll(context.Context, time.Time) ([]Entry, error)
	}); ok {
		return cl.CalculateAll(ctx, at)
	}
	creds, err := d.List(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Entry, 0, len(creds))
	for _, c := range creds {
		e := Entry{Credential: c}
		if !c.Touch && c.Type != oath.HOTP {
			code, err := d.Calculate(ctx, c.Name, at)
			if err != nil {
				return nil, err
			}
			e.Code = &code
		}
		out = append(out, e)
	}
	return out, nil
}
