package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/mfabridge/mfabridge/simulator"
)

func (a *app) simServeCmd() *cobra.Command {
	var addr string
	cmd := &cobra.Command{
		Use:   "serve PATH",
		Short: "Attach a simulated YubiKey to pcscd's vpcd virtual reader, so PC/SC clients (mfabridge, ykman) see a real card",
		Long: `serve connects the simulated YubiKey in PATH to the vpcd driver inside pcscd
(Debian package vsmartcard-vpcd; its slots listen on 127.0.0.1:35963 and :35964).
State changes made by any client are saved to PATH; the card survives power
cycles and pcscd restarts (serve reconnects). Stop it with Ctrl-C or SIGTERM.
While served, use the key through PC/SC (--device yubikey:SERIAL), not as sim:PATH.`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, argv []string) error {
			card, err := simulator.Open(argv[0], simulator.WithLogger(a.log))
			if err != nil {
				return fmt.Errorf("open simulated YubiKey: %w", err)
			}
			fmt.Fprintf(a.stderr, "mfabridge: serving simulated YubiKey %d (firmware %s) to vpcd at %s\n", card.Serial(), card.Firmware(), addr)
			err = simulator.ServeVPCD(cmd.Context(), card, addr,
				simulator.WithVPCDLogger(a.log),
				simulator.WithVPCDConnState(func(up bool) {
					if up {
						a.log.Info("connected to vpcd", "addr", addr)
					} else {
						a.log.Info("vpcd connection lost; reconnecting", "addr", addr)
					}
				}))
			if err != nil {
				return fmt.Errorf("serve on vpcd %s: %w", addr, err)
			}
			fmt.Fprintln(a.stderr, "mfabridge: stopped")
			return nil
		},
	}
	cmd.Flags().StringVar(&addr, "vpcd", "127.0.0.1:35963", "vpcd slot address HOST:PORT (the second slot is port 35964)")
	return cmd
}
