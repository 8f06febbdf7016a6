package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/spf13/cobra"

	"github.com/mfabridge/mfabridge/simulator/stsemu"
)

func (a *app) simSTSCmd() *cobra.Command {
	var (
		configPath  string
		listen      string
		readTimeout time.Duration
	)
	cmd := &cobra.Command{
		Use:   "sts --config FILE",
		Short: "Run a local STS emulator that enforces MFA policy (prints its URL first on stdout)",
		Long: `sts serves the STS Query API (GetSessionToken, AssumeRole, GetCallerIdentity)
with SigV4 verification, TOTP MFA devices, and identity / trust policies with
aws:MultiFactorAuthPresent and aws:MultiFactorAuthAge conditions, as configured
in FILE. The first line of stdout is its URL; each request is logged as one
JSON line on stderr. Point clients at it with --endpoint-url (AWS CLI) or
AWS_ENDPOINT_URL_STS (SDKs, mfabridge).`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if configPath == "" {
				return usageError{errors.New("--config FILE is required (see `mfabridge sim sts --help` for the format)")}
			}
			cfg, err := stsemu.LoadConfig(configPath)
			if err != nil {
				return err
			}
			srv, err := stsemu.New(cfg, stsemu.WithLog(a.stderr))
			if err != nil {
				return err
			}
			host, _, err := net.SplitHostPort(listen)
			if err != nil {
				return usageError{fmt.Errorf("--listen %q: want HOST:PORT, e.g. 127.0.0.1:0", listen)}
			}
			if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
				return usageError{fmt.Errorf("--listen %q: the emulator serves on loopback addresses only", listen)}
			}
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return fmt.Errorf("listen on %s: %w", listen, err)
			}
			if readTimeout <= 0 {
				return usageError{fmt.Errorf("--read-timeout %v: want a positive duration, e.g. 30s", readTimeout)}
			}
			hs := stsemu.HTTPServer(srv, stsemu.Timeouts{ReadHeader: readTimeout, Read: readTimeout})
			fmt.Fprintf(a.stdout, "http://%s\n", ln.Addr())
			errc := make(chan error, 1)
			go func() { errc <- hs.Serve(ln) }()
			select {
			case err := <-errc:
				return fmt.Errorf("serve: %w", err)
			case <-cmd.Context().Done():
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				return hs.Shutdown(ctx)
			}
		},
	}
	cmd.Flags().StringVar(&configPath, "config", "", "emulator configuration (JSON: accounts, users, access keys, MFA devices, roles, policies)")
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:0", "address to serve on (loopback only; port 0 picks a free one)")
	cmd.Flags().DurationVar(&readTimeout, "read-timeout", stsemu.DefaultTimeouts.Read, "drop a client that has not sent its whole request (headers and body) within this time")
	return cmd
}
