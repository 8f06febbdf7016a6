package main

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/mfabridge/mfabridge/simulator"
)

func (a *app) simCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "sim",
		Short: "Simulated YubiKeys and a local STS, for tests and demos without hardware or AWS",
	}
	cmd.AddCommand(a.simInitCmd(), a.simServeCmd(), a.simSTSCmd(), a.simPIVGenerateCmd())
	return cmd
}

// parseTouchPolicy reads --touch-policy: approve, delay:DURATION,
// timeout:DURATION or release:FILE.
func parseTouchPolicy(s string) (simulator.TouchPolicy, error) {
	mode, d, _ := strings.Cut(s, ":")
	p := simulator.TouchPolicy{Mode: mode}
	switch mode {
	case "release":
		if d == "" {
			return p, fmt.Errorf("--touch-policy %q: want release:FILE", s)
		}
		// The state file keeps it: a path that means the same from any
		// working directory.
		abs, err := filepath.Abs(d)
		if err != nil {
			return p, fmt.Errorf("--touch-policy %q: %w", s, err)
		}
		p.Release = abs
		return p, nil
	case "approve":
		if d != "" {
			return p, fmt.Errorf("--touch-policy %q: approve takes no duration", s)
		}
		return p, nil
	case "delay", "timeout":
		dur, err := time.ParseDuration(d)
		if err != nil || dur < 0 {
			return p, fmt.Errorf("--touch-policy %q: want %s:DURATION, e.g. %s:2s", s, mode, mode)
		}
		p.Delay = dur
		return p, nil
	}
	return p, fmt.Errorf("--touch-policy %q: want approve, delay:DURATION, timeout:DURATION or release:FILE", s)
}

func randomSerial() uint32 {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		return 10000000
	}
	return 10000000 + binary.BigEndian.Uint32(b[:])%90000000
}

func (a *app) simInitCmd() *cobra.Command {
	var (
		serial      uint32
		firmware    string
		touchPolicy string
	)
	cmd := &cobra.Command{
		Use:   "init PATH",
		Short: "Create a simulated YubiKey whose state (mode 0600) lives in PATH; prints its device spec",
		Args:  args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, argv []string) error {
			path := argv[0]
			fw, err := simulator.ParseVersion(firmware)
			if err != nil {
				return usageError{fmt.Errorf("--firmware %q: %w (want X.Y.Z, e.g. 5.4.3)", firmware, err)}
			}
			tp, err := parseTouchPolicy(touchPolicy)
			if err != nil {
				return usageError{err}
			}
			if !cmd.Flags().Changed("serial") {
				serial = randomSerial()
			} else if serial == 0 {
				return usageError{errors.New("--serial must be a positive number")}
			}
			card, err := simulator.Create(path, serial, fw, simulator.WithTouch(tp))
			if err != nil {
				if errors.Is(err, fs.ErrExist) {
					return fmt.Errorf("%s already exists: pick another path, or delete it to start over", path)
				}
				return fmt.Errorf("create simulated YubiKey: %w", err)
			}
			fmt.Fprintf(a.stderr, "mfabridge: created simulated YubiKey %d (firmware %s) in %s\n", card.Serial(), card.Firmware(), path)
			fmt.Fprintf(a.stdout, "sim:%s\n", path)
			return nil
		},
	}
	cmd.Flags().Uint32Var(&serial, "serial", 0, "serial number (default: random 8 digits)")
	cmd.Flags().StringVar(&firmware, "firmware", "5.4.3", "firmware version X.Y.Z (gates touch, SHA512, rename)")
	cmd.Flags().StringVar(&touchPolicy, "touch-policy", "approve", "what a touch credential does: approve, delay:DURATION, timeout:DURATION, or release:FILE (tests: touched when FILE appears, timed out when FILE.timeout does)")
	return cmd
}
