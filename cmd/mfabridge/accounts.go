package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/mfabridge/mfabridge/device"
	"github.com/mfabridge/mfabridge/oath"
)

// hooks wires the device UI callbacks to the terminal and the environment.
func (a *app) hooks() device.Hooks {
	return device.Hooks{
		Touch: a.touchHook(),
		Password: func(ctx context.Context, info device.Info) (string, error) {
			if pw := a.getenv("MFABRIDGE_OATH_PASSWORD"); pw != "" {
				return pw, nil
			}
			pw, err := a.term.readSecret(ctx, fmt.Sprintf("OATH password for %s: ", info))
			if errors.Is(err, errNoTerminal) {
				a.desktopNotice("OATH password needed", fmt.Sprintf("mfabridge needs the OATH password of %s and has no terminal to ask on: run `mfabridge accounts password remember` in a terminal", info))
				return "", fmt.Errorf("%w and there is %w", device.ErrPasswordRequired, errNoTerminal) // hints.go advises
			}
			return pw, err
		},
		Keys:   a.oathKeys(),
		Notice: func(n device.Notice) { a.term.notice(noticeText(n)) },
	}
}

// deviceSpec is --device, else $MFABRIDGE_DEVICE, else the only YubiKey.
func (a *app) deviceSpec(flag string) string {
	if flag != "" {
		return flag
	}
	if s := a.getenv("MFABRIDGE_DEVICE"); s != "" {
		return s
	}
	return "yubikey"
}

func (a *app) openDevice(ctx context.Context, flag string) (device.Device, error) {
	po, err := a.processOptions()
	if err != nil {
		return nil, err
	}
	if _, err := a.notifyMode(); err != nil {
		return nil, err
	}
	return device.Open(ctx, a.deviceSpec(flag), device.Options{Getenv: a.getenv, Hooks: a.hooks(), Logger: a.log, Process: po})
}

// accountNames lists the names of the OATH accounts on d.
func accountNames(ctx context.Context, d device.Device) ([]string, error) {
	creds, err := d.List(ctx)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(creds))
	for i, c := range creds {
		names[i] = c.Name
	}
	return names, nil
}

func (a *app) openManager(ctx context.Context, flag string) (device.Device, device.Manager, error) {
	d, err := a.openDevice(ctx, flag)
	if err != nil {
		return nil, nil, err
	}
	m, ok := d.(device.Manager)
	if !ok {
		d.Close()
		why := "a software TOTP device holds one fixed secret"
		if d.Info().Kind == "process" {
			why = "a code process only prints codes"
		}
		return nil, nil, fmt.Errorf("%s: %w: %s; use a YubiKey or sim:PATH", d.Info(), device.ErrUnsupported, why)
	}
	return d, m, nil
}

// parseTime reads --at: Unix seconds or RFC 3339.
func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Now(), nil
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.Unix(n, 0), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, usageError{fmt.Errorf("--at %q: want Unix seconds (1700000000) or RFC 3339 (2026-11-22T07:30:00Z)", s)}
	}
	return t, nil
}

type credJSON struct {
	Name      string `json:"name"`
	Issuer    string `json:"issuer,omitempty"`
	Account   string `json:"account"`
	Type      string `json:"type"`
	Algorithm string `json:"algorithm,omitempty"`
	Digits    int    `json:"digits,omitempty"`
	Period    int    `json:"period,omitempty"`
	Touch     bool   `json:"touch"`
}

func toJSON(c device.Credential) credJSON {
	j := credJSON{Name: c.Name, Issuer: c.Issuer, Account: c.Account, Type: typeName(c.Type),
		Algorithm: algName(c.Algorithm), Digits: c.Digits, Touch: c.Touch}
	if c.Type == oath.TOTP {
		j.Period = int(c.Period / time.Second)
	}
	return j
}

func typeName(t oath.Type) string {
	if t == oath.HOTP {
		return "hotp"
	}
	return "totp"
}

func algName(a oath.Algorithm) string {
	switch a {
	case oath.SHA1:
		return "SHA1"
	case oath.SHA256:
		return "SHA256"
	case oath.SHA512:
		return "SHA512"
	}
	return ""
}

func (a *app) writeJSON(v any) error {
	enc := json.NewEncoder(a.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func (a *app) accountsCmd() *cobra.Command {
	var dev string
	cmd := &cobra.Command{
		Use:   "accounts",
		Short: "List, read and manage the OATH accounts on a device",
	}
	cmd.PersistentFlags().StringVar(&dev, "device", "", "device: yubikey, yubikey:SERIAL, sim:PATH, totp:env:VAR or process:COMMAND (default $MFABRIDGE_DEVICE, else the only YubiKey)")

	var listJSON bool
	list := &cobra.Command{
		Use:   "list",
		Short: "List the accounts on the device",
		Args:  args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			d, err := a.openDevice(cmd.Context(), dev)
			if err != nil {
				return err
			}
			defer d.Close()
			creds, err := d.List(cmd.Context())
			if err != nil {
				return err
			}
			if listJSON {
				out := make([]credJSON, 0, len(creds))
				for _, c := range creds {
					out = append(out, toJSON(c))
				}
				return a.writeJSON(out)
			}
			for _, c := range creds {
				fmt.Fprintln(a.stdout, c.Name)
			}
			return nil
		},
	}
	list.Flags().BoolVar(&listJSON, "json", false, "print JSON")

	var (
		at       string
		codeJSON bool
	)
	code := &cobra.Command{
		Use:   "code [NAME]",
		Short: "Print the code of NAME (exact, or the only substring match), or of every account",
		Args:  args(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, argv []string) error {
			t, err := parseTime(at)
			if err != nil {
				return err
			}
			d, err := a.openDevice(cmd.Context(), dev)
			if err != nil {
				return err
			}
			defer d.Close()
			if len(argv) == 1 {
				return a.codeOne(cmd.Context(), d, argv[0], t, codeJSON)
			}
			entries, err := device.CalculateAll(cmd.Context(), d, t)
			if err != nil {
				return err
			}
			if codeJSON {
				type entryJSON struct {
					credJSON
					Code      string `json:"code,omitempty"`
					ValidFrom string `json:"valid_from,omitempty"`
					ValidTo   string `json:"valid_to,omitempty"`
				}
				out := make([]entryJSON, 0, len(entries))
				for _, e := range entries {
					j := entryJSON{credJSON: toJSON(e.Credential)}
					if e.Code != nil {
						j.Code, j.ValidFrom, j.ValidTo = e.Code.Value, rfc3339(e.Code.ValidFrom), rfc3339(e.Code.ValidTo)
					}
					out = append(out, j)
				}
				return a.writeJSON(out)
			}
			for _, e := range entries {
				v := "[hotp]"
				switch {
				case e.Code != nil:
					v = e.Code.Value
				case e.Touch:
					v = "[touch]"
				}
				fmt.Fprintf(a.stdout, "%s\t%s\n", e.Name, v)
			}
			return nil
		},
	}
	code.Flags().StringVar(&at, "at", "", "compute codes for this moment (Unix seconds or RFC 3339) instead of now")
	code.Flags().BoolVar(&codeJSON, "json", false, "print JSON")

	cmd.AddCommand(list, code, a.accountsAddCmd(&dev), a.accountsDeleteCmd(&dev), a.accountsRenameCmd(&dev), a.accountsPasswordCmd(&dev))
	return cmd
}

func rfc3339(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// codeOne prints the code for query. An exact name costs only SELECT +
// CALCULATE; anything else lists the accounts and picks the only match.
func (a *app) codeOne(ctx context.Context, d device.Device, query string, t time.Time, asJSON bool) error {
	name := query
	c, err := d.Calculate(ctx, name, t)
	if errors.Is(err, device.ErrNotFound) {
		creds, lerr := d.List(ctx)
		if lerr != nil {
			return lerr
		}
		cred, merr := device.Match(creds, query)
		if merr != nil {
			return fmt.Errorf("%s: %w", d.Info(), merr)
		}
		name = cred.Name
		c, err = d.Calculate(ctx, name, t)
	}
	if err != nil {
		return err
	}
	if asJSON {
		return a.writeJSON(map[string]string{"name": name, "code": c.Value, "valid_from": rfc3339(c.ValidFrom), "valid_to": rfc3339(c.ValidTo)})
	}
	fmt.Fprintln(a.stdout, c.Value)
	return nil
}

func (a *app) accountsAddCmd(dev *string) *cobra.Command {
	var (
		issuer, algorithm string
		digits, period    int
		touch, hotp       bool
		counter           uint32
	)
	cmd := &cobra.Command{
		Use:   "add NAME",
		Short: "Add an account; the secret (base32 or otpauth:// URI) is read from standard input, never from arguments",
		Args:  args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, argv []string) error {
			ctx := cmd.Context()
			// Check the flags before reading the secret, so a typo costs nothing.
			fl := cmd.Flags()
			var alg oath.Algorithm
			if fl.Changed("algorithm") {
				switch strings.ToUpper(algorithm) {
				case "SHA1":
					alg = oath.SHA1
				case "SHA256":
					alg = oath.SHA256
				case "SHA512":
					alg = oath.SHA512
				default:
					return usageError{fmt.Errorf("--algorithm %q: want SHA1, SHA256 or SHA512", algorithm)}
				}
			}
			if fl.Changed("digits") && (digits < 6 || digits > 8) {
				return usageError{fmt.Errorf("--digits %d: want 6, 7 or 8", digits)}
			}
			if fl.Changed("period") && (period < 1 || period > 3600) {
				return usageError{fmt.Errorf("--period %d: want seconds between 1 and 3600", period)}
			}
			if hotp && fl.Changed("period") {
				return usageError{errors.New("--period applies to TOTP accounts only, not with --hotp")}
			}

			var line string
			var err error
			if isTerminal(a.stdin) {
				line, err = a.term.readSecret(ctx, "secret (base32 or otpauth:// URI): ")
			} else {
				line, err = readLine(a.stdin)
			}
			if err != nil {
				return fmt.Errorf("read the secret from standard input: %w", err)
			}
			sec, err := device.ParseSecret(line)
			if err != nil {
				return fmt.Errorf("%w (pipe it on standard input, e.g. `printf %%s \"$SECRET\" | mfabridge accounts add NAME`)", err)
			}
			cred := device.Credential{Account: argv[0], Issuer: sec.Issuer, Type: oath.TOTP, Algorithm: oath.SHA1, Digits: 6, Period: 30 * time.Second}
			if sec.FromURI {
				cred.Type = sec.Type
				if sec.Algorithm != 0 {
					cred.Algorithm = sec.Algorithm
				}
				if sec.Digits != 0 {
					cred.Digits = sec.Digits
				}
				if sec.Period != 0 {
					cred.Period = sec.Period
				}
				if !fl.Changed("counter") {
					counter = sec.Counter
				}
			}
			if fl.Changed("issuer") {
				cred.Issuer = issuer
			}
			if hotp {
				cred.Type = oath.HOTP
			}
			if alg != 0 {
				cred.Algorithm = alg
			}
			if fl.Changed("digits") {
				cred.Digits = digits
			}
			if fl.Changed("period") {
				cred.Period = time.Duration(period) * time.Second
			}
			if cred.Type != oath.HOTP && counter != 0 {
				return usageError{errors.New("--counter applies to HOTP accounts only: add --hotp")}
			}
			cred.Touch = touch
			cred.Name = oath.FormatName(cred.Issuer, cred.Account, cred.Period, cred.Type)
			if len(cred.Name) > 64 {
				return usageError{fmt.Errorf("the account name %q is %d bytes; a YubiKey stores at most 64", cred.Name, len(cred.Name))}
			}
			d, m, err := a.openManager(ctx, *dev)
			if err != nil {
				return err
			}
			defer d.Close()
			if err := m.Put(ctx, cred, sec.Key, device.PutOptions{Counter: counter}); err != nil {
				return err
			}
			fmt.Fprintf(a.stderr, "mfabridge: added %q to %s\n", cred.Name, d.Info())
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&issuer, "issuer", "", "issuer, stored as ISSUER:NAME")
	f.IntVar(&digits, "digits", 6, "code length: 6, 7 or 8")
	f.StringVar(&algorithm, "algorithm", "SHA1", "HMAC algorithm: SHA1, SHA256 or SHA512")
	f.IntVar(&period, "period", 30, "TOTP period in seconds")
	f.BoolVar(&touch, "touch", false, "require a touch for every code")
	f.BoolVar(&hotp, "hotp", false, "counter-based (HOTP) instead of time-based")
	f.Uint32Var(&counter, "counter", 0, "HOTP initial counter")
	return cmd
}

// onAccount opens the device, resolves query to one stored name (exact, or
// the only substring match) and runs fn on it.
func (a *app) onAccount(ctx context.Context, dev, query string, fn func(d device.Device, m device.Manager, name string) error) error {
	d, m, err := a.openManager(ctx, dev)
	if err != nil {
		return err
	}
	defer d.Close()
	creds, err := d.List(ctx)
	if err != nil {
		return err
	}
	c, err := device.Match(creds, query)
	if err != nil {
		return fmt.Errorf("%s: %w", d.Info(), err)
	}
	return fn(d, m, c.Name)
}

func (a *app) accountsDeleteCmd(dev *string) *cobra.Command {
	return &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete an account (exact name, or the only substring match)",
		Args:  args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, argv []string) error {
			return a.onAccount(cmd.Context(), *dev, argv[0], func(d device.Device, m device.Manager, name string) error {
				if err := m.Delete(cmd.Context(), name); err != nil {
					return err
				}
				fmt.Fprintf(a.stderr, "mfabridge: deleted %q from %s\n", name, d.Info())
				return nil
			})
		},
	}
}

func (a *app) accountsRenameCmd(dev *string) *cobra.Command {
	return &cobra.Command{
		Use:   "rename NAME NEW_NAME",
		Short: "Rename an account (NEW_NAME is the full stored name, e.g. Issuer:account)",
		Args:  args(cobra.ExactArgs(2)),
		RunE: func(cmd *cobra.Command, argv []string) error {
			if len(argv[1]) > oath.MaxNameLen || argv[1] == "" {
				return usageError{fmt.Errorf("the new name must be 1 to %d bytes, not %d", oath.MaxNameLen, len(argv[1]))}
			}
			return a.onAccount(cmd.Context(), *dev, argv[0], func(d device.Device, m device.Manager, name string) error {
				if err := m.Rename(cmd.Context(), name, argv[1]); err != nil {
					return err
				}
				fmt.Fprintf(a.stderr, "mfabridge: renamed %q to %q on %s\n", name, argv[1], d.Info())
				return nil
			})
		},
	}
}

func (a *app) accountsPasswordCmd(dev *string) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "password",
		Short: "Set, clear, remember or forget the OATH applet's password",
	}
	set := &cobra.Command{
		Use:   "set",
		Short: "Set a new password, read from the terminal (twice) or the first line of standard input",
		Args:  args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			var pw string
			if isTerminal(a.stdin) {
				p1, err := a.term.readSecret(ctx, "new OATH password: ")
				if err != nil {
					return err
				}
				p2, err := a.term.readSecret(ctx, "repeat it: ")
				if err != nil {
					return err
				}
				if p1 != p2 {
					return errors.New("the two passwords differ; nothing was changed")
				}
				pw = p1
			} else {
				var err error
				if pw, err = readLine(a.stdin); err != nil {
					return fmt.Errorf("read the new password from standard input: %w", err)
				}
			}
			if pw == "" {
				return usageError{errors.New("the new password is empty; to remove the password use `accounts password clear`")}
			}
			d, m, err := a.openManager(ctx, *dev)
			if err != nil {
				return err
			}
			defer d.Close()
			if err := m.SetPassword(ctx, pw); err != nil {
				return err
			}
			fmt.Fprintf(a.stderr, "mfabridge: password set on %s\n", d.Info())
			return nil
		},
	}
	clear := &cobra.Command{
		Use:   "clear",
		Short: "Remove the password (the current one is needed)",
		Args:  args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			d, m, err := a.openManager(cmd.Context(), *dev)
			if err != nil {
				return err
			}
			defer d.Close()
			if err := m.ClearPassword(cmd.Context()); err != nil {
				return err
			}
			fmt.Fprintf(a.stderr, "mfabridge: password removed from %s\n", d.Info())
			return nil
		},
	}
	cmd.AddCommand(set, clear, a.passwordRememberCmd(dev), a.passwordForgetCmd(dev))
	return cmd
}
