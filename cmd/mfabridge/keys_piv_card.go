package main

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mfabridge/mfabridge/device"
	"github.com/mfabridge/mfabridge/device/piv"
	"github.com/mfabridge/mfabridge/pcsc"
	"github.com/mfabridge/mfabridge/simulator"
	"github.com/mfabridge/mfabridge/sts/keystore"
)

// openPIVCardDevice is openPIVCard with our PIV client: the key with
// serial is a simulated YubiKey with that serial named by $MFABRIDGE_DEVICE
// or by one of devices (the profiles' mfabridge_device) as sim:PATH, else
// the YubiKey with that serial over PC/SC (unless $MFABRIDGE_DEVICE names
// a simulated key: PC/SC is then not tried). A profile's simulated key
// that cannot be opened is passed over (logged), so a stale one does not
// stand in the way of a real YubiKey; $MFABRIDGE_DEVICE's must open. One
// card session (PIV selected, OATH not) lasts until the close func; the
// PIN is asked only when a key operation needs it.
func openPIVCardDevice(a *app, ctx context.Context, serial uint32, devices []string) (keystore.Card, func() error, error) {
	env := a.getenv("MFABRIDGE_DEVICE")
	var (
		y      *device.YubiKey
		err    error
		others []string // the simulated keys with another serial
		envSim bool
	)
	seen := map[string]bool{}
	for i, spec := range append([]string{env}, devices...) {
		s, perr := device.ParseSpec(spec)
		if spec == "" || perr != nil || s.Kind != "sim" || seen[s.Path] {
			continue
		}
		seen[s.Path] = true
		envSim = envSim || i == 0
		from := "MFABRIDGE_DEVICE"
		if i > 0 {
			from = "a profile's mfabridge_device"
		}
		sim, err := device.OpenSim(s.Path, device.Hooks{}, a.log)
		if err != nil && i == 0 {
			return nil, nil, err
		}
		if err != nil {
			a.log.Debug("keys: passing over a profile's simulated YubiKey", "path", s.Path, "err", err)
			continue
		}
		if got := sim.Info().Serial; got != serial {
			others = append(others, fmt.Sprintf("simulated YubiKey %d in %s (%s)", got, s.Path, from))
			continue
		}
		y = sim
		break
	}
	switch {
	case y != nil:
	case envSim:
		return nil, nil, notFoundError{fmt.Sprintf("no YubiKey with serial %d: the simulated keys are %s", serial, strings.Join(others, ", "))}
	default:
		if y, err = device.OpenYubiKey(ctx, serial, device.Hooks{}, a.log); err != nil {
			return nil, nil, err
		}
	}
	c, release, err := y.OpenPIV(ctx)
	if err != nil && len(others) > 0 {
		err = fmt.Errorf("YubiKey %d: %w (the simulated keys named are %s)", serial, err, strings.Join(others, ", "))
	}
	if errors.Is(err, pcsc.ErrNoYubiKey) || errors.Is(err, pcsc.ErrNoReaders) {
		return nil, nil, fmt.Errorf("%w: %w", err, keystore.ErrNotFound)
	}
	if errors.Is(err, piv.ErrNotFound) || errors.Is(err, piv.ErrNotSupported) {
		return nil, nil, fmt.Errorf("YubiKey %d has no PIV applet (enable it with `ykman --device %d config usb --enable PIV`): %w", serial, serial, err)
	}
	if err != nil {
		return nil, nil, err
	}
	card, err := keystore.NewPIVCard(ctx, c, keystore.PIVCardHooks{
		PIN:        a.pivPIN,                                                  // keys.go
		PINRefused: a.forgetPIVPIN,                                            // keys.go
		Touch:      func(uint32) func() { return a.pivTouchNotice(y.Info()) }, // notify.go
	})
	if err != nil {
		return nil, nil, errors.Join(fmt.Errorf("YubiKey %d: %w", serial, err), release())
	}
	return card, release, nil
}

// notFoundError is a missing card: it matches keystore.ErrNotFound
// without repeating that sentinel's text (which speaks of access keys).
type notFoundError struct{ msg string }

func (e notFoundError) Error() string        { return e.msg }
func (e notFoundError) Is(target error) bool { return target == keystore.ErrNotFound }

// pivKeyCard is what checkAttestation needs of a *keystore.PIVCard.
type pivKeyCard interface {
	Serial() uint32
	Metadata(ctx context.Context, slot byte) (*piv.Metadata, error)
	Client() *piv.Client
}

// checkAttestation checks that the key in slot of card was generated on
// this YubiKey (issue 11): its attestation certificate, when the card has
// one, must chain to Yubico's attestation roots (a simulated key's to the
// simulator's, only with trustSim) and name this serial, slot and public
// key. A key without attestation (imported, or firmware before 4.3) is
// noted and accepted.
func (a *app) checkAttestation(ctx context.Context, card pivKeyCard, slot byte, trustSim bool) error {
	serial := card.Serial()
	md, err := card.Metadata(ctx, slot)
	if err != nil {
		return err
	}
	slotCert, err := card.Client().Attest(ctx, piv.Slot(slot))
	if errors.Is(err, piv.ErrIncorrectData) || errors.Is(err, piv.ErrNotSupported) {
		a.term.notice(fmt.Sprintf("note: the key in PIV slot %02x of YubiKey %d has no attestation (imported, or firmware before 4.3): it is not known to have been generated on the YubiKey", slot, serial))
		return nil
	}
	if err != nil {
		return fmt.Errorf("YubiKey %d: read the attestation of PIV slot %02x: %w", serial, slot, err)
	}
	f9, err := card.Client().AttestationCertificate(ctx)
	if err != nil {
		return fmt.Errorf("YubiKey %d: read the PIV attestation certificate: %w", serial, err)
	}
	var opts piv.VerifyOptions
	if f9.Issuer.CommonName == simulator.SimAttestRootCN {
		if !trustSim {
			return hintError{fmt.Errorf("YubiKey %d, PIV slot %02x: %w: it is attested by a simulated YubiKey (%q), not by Yubico", serial, slot, piv.ErrAttestation, f9.Issuer.CommonName),
				"a software key could pose as this YubiKey; if it is the simulated key you meant (mfabridge sim), pass --" + trustSimFlag}
		}
		// The simulator's root stays in its state file, not on the card:
		// the user vouches for the key, so its F9 certificate is the
		// anchor; the slot certificate must still be signed by it and
		// name this serial, slot and key.
		opts.Roots = x509.NewCertPool()
		opts.Roots.AddCert(f9)
	}
	att, err := piv.VerifyAttestation(f9, slotCert, opts)
	if err == nil {
		err = att.Check(serial, piv.Slot(slot), md.PublicKey)
	}
	if err != nil {
		return hintError{fmt.Errorf("YubiKey %d, PIV slot %02x: the key is not attested: %w", serial, slot, err),
			"mfabridge seals only to a key generated on the YubiKey: `" + ykmanPIVGenerate(serial, slot) + "` makes one"}
	}
	return nil
}

// simPIVGenerateCmd is `sim piv-generate PATH`: a P-256 key in a PIV slot
// of a simulated YubiKey (what `ykman piv keys generate` does on a real
// one), with the factory management key.
func (a *app) simPIVGenerateCmd() *cobra.Command {
	var slot, pinPolicy, touchPolicy string
	cmd := &cobra.Command{
		Use:   "piv-generate PATH",
		Short: "Generate a P-256 key in a PIV slot of the simulated YubiKey in PATH (as `ykman piv keys generate -a ECCP256` on a real key)",
		Args:  args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, argv []string) error {
			var s piv.Slot
			switch slot {
			case "9a":
				s = piv.SlotAuthentication
			case "9c":
				s = piv.SlotSignature
			case "9d":
				s = piv.SlotKeyManagement
			case "9e":
				s = piv.SlotCardAuthentication
			default:
				var n int
				if _, err := fmt.Sscanf(slot, "%x", &n); err != nil || n < 0x82 || n > 0x95 {
					return usageError{fmt.Errorf("--slot %q: want 9a, 9c, 9d, 9e or a retired slot 82..95", slot)}
				}
				s = piv.Slot(n)
			}
			opts := piv.KeyOptions{Algorithm: piv.AlgECCP256}
			var ok bool
			if opts.PINPolicy, ok = map[string]piv.PINPolicy{"default": piv.PINPolicyDefault, "never": piv.PINPolicyNever, "once": piv.PINPolicyOnce, "always": piv.PINPolicyAlways}[pinPolicy]; !ok {
				return usageError{fmt.Errorf("--pin-policy %q: want default, never, once or always", pinPolicy)}
			}
			if opts.TouchPolicy, ok = map[string]piv.TouchPolicy{"default": piv.TouchPolicyDefault, "never": piv.TouchPolicyNever, "always": piv.TouchPolicyAlways, "cached": piv.TouchPolicyCached}[touchPolicy]; !ok {
				return usageError{fmt.Errorf("--touch-policy %q: want default, never, always or cached", touchPolicy)}
			}
			y, err := device.OpenSim(argv[0], device.Hooks{}, a.log)
			if err != nil {
				return err
			}
			c, release, err := y.OpenPIV(cmd.Context())
			if err != nil {
				return err
			}
			_, err = c.GenerateKey(cmd.Context(), piv.DefaultManagementKey, s, opts)
			if rerr := release(); err == nil {
				err = rerr
			}
			if err != nil {
				return fmt.Errorf("simulated YubiKey %d: generate a key in slot %s: %w", y.Info().Serial, s, err)
			}
			fmt.Fprintf(a.stderr, "mfabridge: generated a P-256 key in PIV slot %s of simulated YubiKey %d\n", s, y.Info().Serial)
			return nil
		},
	}
	cmd.Flags().StringVar(&slot, "slot", "9d", "PIV slot: 9a, 9c, 9d, 9e or a retired slot 82..95")
	cmd.Flags().StringVar(&pinPolicy, "pin-policy", "default", "PIN policy: default (the slot's: once for 9d), never, once, always")
	cmd.Flags().StringVar(&touchPolicy, "touch-policy", "default", "touch policy: default (never), never, always, cached")
	return cmd
}
