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
		Short: "List the YubiKeys over PC/SC: serial, firmware, reader, OATH accounts, password protection",
		Args:  args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			keys, err := device.ListYubiKeys(cmd.Context(), a.log)
			if err != nil {
				return err
			}
			if asJSON {
				return a.writeJSON(keys)
			}
			if len(keys) == 0 {
				fmt.Fprintln(a.stderr, "mfabridge: no YubiKey found (readers are present, but no card answered as a YubiKey)")
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
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", k.Serial, k.Firmware, accounts, pw, k.Reader)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}
