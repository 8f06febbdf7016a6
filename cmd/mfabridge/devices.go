package main

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/mfabridge/mfabridge/device"
)

func (a *app) devicesCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "devices",
		Short: "List the YubiKeys (and other OATH cards) over PC/SC: serial, firmware, reader, OATH accounts, password protection",
		Long: `devices lists every card over PC/SC that answers as a YubiKey or has an OATH
(YKOATH) applet. A card with only the OATH applet (Yubico's ykneo-oath on a
NEO-era key, other YKOATH tokens) shows no serial and no firmware ("-"):
--device yubikey uses it when it is the only such card, and --device
reader:NAME picks it by (part of) its reader's name.`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			keys, err := device.ListYubiKeys(cmd.Context(), a.log)
			if err != nil {
				return err
			}
			if asJSON {
				return a.writeJSON(keys)
			}
			if len(keys) == 0 {
				fmt.Fprintln(a.stderr, "mfabridge: no YubiKey found (readers are present, but no card answered as a YubiKey or an OATH card)")
				return nil
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "SERIAL\tFIRMWARE\tACCOUNTS\tPASSWORD\tREADER")
			for _, k := range keys {
				accounts := fmt.Sprint(k.Accounts)
				if k.Protected {
					accounts = "?"
				}
				pw := "no"
				if k.Protected {
					pw = "yes"
				}
				if k.Error != "" {
					accounts, pw = "error: "+k.Error, "-"
				}
				serial, fw := fmt.Sprint(k.Serial), k.Firmware
				if k.Serial == 0 {
					serial = "-"
				}
				if fw == "" {
					fw = "-"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", serial, fw, accounts, pw, k.Reader)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			for _, k := range keys {
				if k.OATHOnly {
					fmt.Fprintf(a.stderr, "mfabridge: the card in %q has only an OATH applet (version %s): no YubiKey serial or firmware to show; use it with --device \"reader:%s\" (or --device yubikey while it is the only card)\n", k.Reader, k.OATHVersion, k.Reader)
				}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}
