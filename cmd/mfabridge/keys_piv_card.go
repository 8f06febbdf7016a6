package main

import (
	"context"
	"crypto/ecdh"
	"crypto/ecdsa"
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
// a simulated key: it then is the only device). One card session (PIV
// selected, OATH not) lasts until the close func; the PIN is asked only
// when a key operation needs it.
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
		sim, err := device.OpenSim(s.Path, device.Hooks{}, a.log)
		if err != nil {
			return nil, nil, err
		}
		if got := sim.Info().Serial; got != serial {
			others = append(others, fmt.Sprintf("simulated YubiKey %d in %s", got, s.Path))
			continue
		}
		y = sim
		break
	}
	switch {
	case y != nil:
	case envSim:
		return nil, nil, notFoundError{fmt.Sprintf("no YubiKey with serial %d: the device (MFABRIDGE_DEVICE) is %s", serial, strings.Join(others, ", "))}
	default:
		if y, err = device.OpenYubiKey(ctx, serial, device.Hooks{}, a.log); err != nil {
			return nil, nil, err
		}
	}
	c, release, err := y.OpenPIV(ctx)
	if err != nil && len(others) > 0 {
		err = fmt.Errorf("YubiKey %d: %w (the profile's device is %s)", serial, err, strings.Join(others, ", "))
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
	got, err := c.Serial(ctx)
	if err != nil {
		return nil, nil, errors.Join(fmt.Errorf("YubiKey %d: read PIV serial: %w", serial, err), release())
	}
	return &pivCard{a: a, c: c, serial: got}, release, nil
}

// notFoundError is a missing card or key: it matches keystore.ErrNotFound
// without repeating that sentinel's text (which speaks of access keys).
type notFoundError struct{ msg string }

func (e notFoundError) Error() string        { return e.msg }
func (e notFoundError) Is(target error) bool { return target == keystore.ErrNotFound }

// pivCard is a card session as a keystore.Card.
type pivCard struct {
	a        *app
	c        *piv.Client
	serial   uint32
	verified bool // the PIN was verified in this session
}

func (p *pivCard) Serial() uint32 { return p.serial }

// metadata reads the slot's key; an empty slot wraps keystore.ErrNotFound.
func (p *pivCard) metadata(ctx context.Context, slot byte) (*piv.Metadata, *ecdh.PublicKey, error) {
	md, err := p.c.Metadata(ctx, slot)
	if errors.Is(err, piv.ErrNotFound) {
		return nil, nil, notFoundError{fmt.Sprintf("YubiKey %d has no key in PIV slot %02x", p.serial, slot)}
	}
	if err != nil {
		return nil, nil, fmt.Errorf("YubiKey %d, PIV slot %02x: %w", p.serial, slot, err)
	}
	ec, ok := md.PublicKey.(*ecdsa.PublicKey)
	if !ok || md.Algorithm != piv.AlgECCP256 {
		return nil, nil, fmt.Errorf("YubiKey %d, PIV slot %02x: the key is not P-256 (algorithm %02x): generate one with `ykman --device %d piv keys generate -a ECCP256 %02x -`", p.serial, slot, byte(md.Algorithm), p.serial, slot)
	}
	pub, err := ec.ECDH()
	if err != nil {
		return nil, nil, fmt.Errorf("YubiKey %d, PIV slot %02x: %w", p.serial, slot, err)
	}
	return md, pub, nil
}

func (p *pivCard) PublicKey(ctx context.Context, slot byte) (*ecdh.PublicKey, error) {
	_, pub, err := p.metadata(ctx, slot)
	return pub, err
}

// ECDH verifies the PIN when the key's policy asks for it (once per
// session; before every use for policy "always"), then lets the card
// compute the shared secret.
func (p *pivCard) ECDH(ctx context.Context, slot byte, peer *ecdh.PublicKey) ([]byte, error) {
	md, _, err := p.metadata(ctx, slot)
	if err != nil {
		return nil, err
	}
	if md.PINPolicy != piv.PINPolicyNever && (!p.verified || md.PINPolicy == piv.PINPolicyAlways) {
		if err := p.verifyPIN(ctx); err != nil {
			return nil, err
		}
	}
	if md.TouchPolicy == piv.TouchPolicyAlways || md.TouchPolicy == piv.TouchPolicyCached {
		defer p.a.pivTouchNotice(p.serial)() // notify.go
	}
	return p.c.ECDH(ctx, piv.Slot(slot), peer)
}

// checkPIN verifies the PIN now if the slot's key will need it.
func (p *pivCard) checkPIN(ctx context.Context, slot byte) error {
	md, _, err := p.metadata(ctx, slot)
	if err != nil {
		return err
	}
	if md.PINPolicy == piv.PINPolicyNever || p.verified {
		return nil
	}
	return p.verifyPIN(ctx)
}

// checkAttestation checks that the key in slot was generated on this
// YubiKey (issue 11): its attestation certificate, when the card has one,
// must chain to Yubico's attestation roots (a simulated key's to the
// simulator's, only with trustSim) and name this serial, slot and public
// key. A key without attestation (imported, or firmware before 4.3) is
// noted and accepted.
func (p *pivCard) checkAttestation(ctx context.Context, slot byte, trustSim bool) error {
	md, _, err := p.metadata(ctx, slot)
	if err != nil {
		return err
	}
	slotCert, err := p.c.Attest(ctx, piv.Slot(slot))
	if errors.Is(err, piv.ErrIncorrectData) || errors.Is(err, piv.ErrNotSupported) {
		p.a.term.notice(fmt.Sprintf("note: the key in PIV slot %02x of YubiKey %d has no attestation (imported, or firmware before 4.3): it is not known to have been generated on the YubiKey", slot, p.serial))
		return nil
	}
	if err != nil {
		return fmt.Errorf("YubiKey %d: read the attestation of PIV slot %02x: %w", p.serial, slot, err)
	}
	f9, err := p.c.AttestationCertificate(ctx)
	if err != nil {
		return fmt.Errorf("YubiKey %d: read the PIV attestation certificate: %w", p.serial, err)
	}
	var opts piv.VerifyOptions
	if f9.Issuer.CommonName == simulator.SimAttestRootCN {
		if !trustSim {
			return hintError{fmt.Errorf("YubiKey %d, PIV slot %02x: %w: it is attested by a simulated YubiKey (%q), not by Yubico", p.serial, slot, piv.ErrAttestation, f9.Issuer.CommonName),
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
		err = att.Check(p.serial, piv.Slot(slot), md.PublicKey)
	}
	if err != nil {
		return hintError{fmt.Errorf("YubiKey %d, PIV slot %02x: the key is not attested: %w", p.serial, slot, err),
			fmt.Sprintf("mfabridge seals only to a key generated on the YubiKey: `ykman --device %d piv keys generate -a ECCP256 %02x -` makes one", p.serial, slot)}
	}
	return nil
}

func (p *pivCard) verifyPIN(ctx context.Context) error {
	pin, err := p.a.pivPIN(ctx, p.serial)
	if err != nil {
		return err
	}
	err = p.c.VerifyPIN(ctx, pin)
	if err != nil {
		p.a.forgetPIVPIN(p.serial)
	}
	var ae *piv.AuthError
	switch {
	case errors.Is(err, piv.ErrBlocked):
		return hintError{fmt.Errorf("the PIV PIN of YubiKey %d is blocked: %w", p.serial, err),
			fmt.Sprintf("unblock it with the PUK: `ykman --device %d piv access unblock-pin` (the OATH codes are not affected)", p.serial)}
	case errors.As(err, &ae):
		return fmt.Errorf("verify the PIV PIN of YubiKey %d: %w (at 0 the PIN is blocked and only the PUK unblocks it)", p.serial, err)
	case err != nil:
		return fmt.Errorf("verify the PIV PIN of YubiKey %d: %w", p.serial, err)
	}
	p.verified = true
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
