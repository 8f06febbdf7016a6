package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/mfabridge/mfabridge/device"
)

// openRemembering opens the device for remember / forget.
func (a *app) openRemembering(cmd *cobra.Command, dev string) (device.Device, device.Remembering, error) {
	d, err := a.openDevice(cmd.Context(), dev)
	if err != nil {
		return nil, nil, err
	}
	r, ok := d.(device.Remembering)
	if !ok {
		d.Close()
		return nil, nil, fmt.Errorf("%s: %w: only a YubiKey (or sim:PATH) has an OATH password", d.Info(), device.ErrUnsupported)
	}
	return d, r, nil
}

func (a *app) passwordRememberCmd(dev *string) *cobra.Command {
	return &cobra.Command{
		Use:   "remember",
		Short: "Check the OATH password and remember its derived key (not the password) in the OS keystore",
		Long: `remember asks for the OATH password (on the terminal, or the first line of
standard input), checks it against the key, and stores the key derived from it
in the OS keystore (Secret Service, macOS Keychain, Windows Credential Manager)
under the key's device id, as ykman does. A locked key then opens without a
prompt and without MFABRIDGE_OATH_PASSWORD. If the password is later changed
elsewhere, the remembered key is refused once, forgotten, and you are asked
again. MFABRIDGE_OATH_KEYSTORE=none turns the keystore off.`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			d, r, err := a.openRemembering(cmd, *dev)
			if err != nil {
				return err
			}
			defer d.Close()
			var pw string
			if isTerminal(a.stdin) {
				pw, err = a.term.readSecret(ctx, fmt.Sprintf("OATH password for %s: ", d.Info()))
			} else {
				pw, err = readLine(a.stdin)
			}
			if err != nil {
				return fmt.Errorf("read the OATH password: %w", err)
			}
			if pw == "" {
				return usageError{errors.New("the password is empty; give it on the terminal or as the first line of standard input")}
			}
			if err := r.RememberPassword(ctx, pw); err != nil {
				if errors.Is(err, device.ErrNoKeyStore) {
					return fmt.Errorf("%w: MFABRIDGE_OATH_KEYSTORE is none", err)
				}
				return err
			}
			fmt.Fprintf(a.stderr, "mfabridge: the OATH password of %s is remembered in the OS keystore\n", d.Info())
			return nil
		},
	}
}

func (a *app) passwordForgetCmd(dev *string) *cobra.Command {
	return &cobra.Command{
		Use:   "forget",
		Short: "Remove the remembered OATH password key of the device from the OS keystore",
		Args:  args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			d, r, err := a.openRemembering(cmd, *dev)
			if err != nil {
				return err
			}
			defer d.Close()
			err = r.ForgetPassword(cmd.Context())
			if errors.Is(err, device.ErrKeyNotRemembered) {
				fmt.Fprintf(a.stderr, "mfabridge: no OATH password was remembered for %s\n", d.Info())
				return nil
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stderr, "mfabridge: the remembered OATH password of %s is forgotten\n", d.Info())
			return nil
		},
	}
}
