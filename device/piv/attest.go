package piv

import (
	"context"
	"crypto"
	"crypto/x509"
	"embed"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Attestation (Yubico "PIV attestation"): the card signs, with its F9 key,
// a certificate for a key generated in a slot; the F9 key's certificate
// (object 5FFF01) chains to Yubico's attestation roots. A key imported from
// software cannot be attested, so a verified attestation proves that the
// key was made on a YubiKey (or, with the simulator's root, on that
// simulator: see VerifyOptions).

// ErrAttestation: the attestation does not chain to a trusted root, or its
// contents are not what a YubiKey writes.
var ErrAttestation = errors.New("attestation not verified")

func asAuth(err error, target **AuthError) bool { return errors.As(err, target) }

// Attest returns the slot's attestation certificate (Yubico ATTEST, firmware
// 4.3+). An empty slot, or one whose key was imported, gives ErrIncorrectData.
func (c *Client) Attest(ctx context.Context, slot Slot) (*x509.Certificate, error) {
	op := "attest " + slot.String()
	resp, err := c.exchange(ctx, op, "", insAttest, byte(slot), 0, nil)
	if err != nil {
		return nil, err
	}
	if len(resp) > 0 && resp[0] == 0x70 {
		// Some firmware wraps it as a certificate object; piv-go tolerates it.
		if v, err := unwrapTLV(resp, 0x70); err == nil {
			resp = v
		}
	}
	cert, err := x509.ParseCertificate(resp)
	if err != nil {
		return nil, fmt.Errorf("piv: %s: %w: %w", op, ErrMalformed, err)
	}
	return cert, nil
}

// AttestationCertificate returns the card's F9 certificate (object 5FFF01),
// the intermediate between a root and the slot attestations.
func (c *Client) AttestationCertificate(ctx context.Context) (*x509.Certificate, error) {
	return c.Certificate(ctx, SlotAttestation)
}

// Yubico's attestation extensions (OID arc 1.3.6.1.4.1.41482.3).
var (
	oidFirmware   = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 41482, 3, 3}
	oidSerial     = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 41482, 3, 7}
	oidPolicy     = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 41482, 3, 8}
	oidFormFactor = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 41482, 3, 9}
)

// Attestation is what a verified attestation certificate says.
type Attestation struct {
	Serial      uint32
	Version     Version
	PINPolicy   PINPolicy
	TouchPolicy TouchPolicy
	FormFactor  byte
	Slot        Slot             // from the subject "YubiKey PIV Attestation 9d"; 0 if absent
	PublicKey   crypto.PublicKey // the attested key
}

// VerifyOptions say which roots an attestation must chain to.
type VerifyOptions struct {
	// Roots replaces Yubico's roots (YubicoRoots) when not nil: for
	// example a pool holding only the simulator's root, which a caller
	// passes only when its user says to trust a simulated key.
	Roots *x509.CertPool
	// Intermediates are extra intermediate certificates (Yubico's are
	// added when Roots is nil).
	Intermediates *x509.CertPool
}

// VerifyAttestation checks that slotCert was signed by the F9 certificate
// attestCert and that attestCert chains to the roots (Yubico's unless opts
// says otherwise), and returns what slotCert attests.
func VerifyAttestation(attestCert, slotCert *x509.Certificate, opts VerifyOptions) (*Attestation, error) {
	if attestCert == nil || slotCert == nil {
		return nil, fmt.Errorf("piv: verify attestation: %w: missing certificate", ErrInvalidInput)
	}
	roots, inter := opts.Roots, x509.NewCertPool()
	if opts.Intermediates != nil {
		inter = opts.Intermediates.Clone()
	}
	if roots == nil {
		yr, err := yubicoPool(inter)
		if err != nil {
			return nil, err
		}
		roots = yr
	}
	// Some YubiKey 4 F9 certificates lack Basic Constraints (piv-go's
	// workaround): accept them as a CA for this one check, on a copy.
	f9 := *attestCert
	if !f9.BasicConstraintsValid {
		f9.BasicConstraintsValid, f9.IsCA = true, true
	}
	inter.AddCert(&f9)
	_, err := slotCert.Verify(x509.VerifyOptions{
		Roots:         roots,
		Intermediates: inter,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	})
	if err != nil {
		return nil, fmt.Errorf("piv: verify attestation: %w: %w", ErrAttestation, err)
	}
	if err := slotCert.CheckSignatureFrom(&f9); err != nil {
		return nil, fmt.Errorf("piv: verify attestation: %w: not signed by the card's attestation key: %w", ErrAttestation, err)
	}
	a, err := parseAttestation(slotCert)
	if err != nil {
		return nil, fmt.Errorf("piv: verify attestation: %w: %w", ErrAttestation, err)
	}
	return a, nil
}

// Check reports whether a verified attestation is for the key pub,
// generated in slot of the card with serial: a certificate of another
// card, slot or key (one replayed from elsewhere) is an error wrapping
// ErrAttestation. An attestation without a serial reads as serial 0 and
// one without a slot name as no slot, so it matches only a caller that
// asks for those; mfabridge always names the card's serial and the slot
// (YubiKeys omit neither since firmware 4.3).
func (a *Attestation) Check(serial uint32, slot Slot, pub crypto.PublicKey) error {
	switch {
	case a.Serial != serial:
		return fmt.Errorf("piv: check attestation: %w: it is for the key with serial %d, not %d", ErrAttestation, a.Serial, serial)
	case a.Slot != slot:
		return fmt.Errorf("piv: check attestation: %w: it is for slot %s, not %s", ErrAttestation, a.Slot, slot)
	}
	eq, ok := a.PublicKey.(interface{ Equal(crypto.PublicKey) bool })
	if !ok || pub == nil || !eq.Equal(pub) {
		return fmt.Errorf("piv: check attestation: %w: it attests another public key than the one in slot %s", ErrAttestation, slot)
	}
	return nil
}

func parseAttestation(cert *x509.Certificate) (*Attestation, error) {
	a := &Attestation{PublicKey: cert.PublicKey}
	for _, e := range cert.Extensions {
		switch {
		case e.Id.Equal(oidFirmware):
			if len(e.Value) != 3 {
				return nil, fmt.Errorf("firmware extension of %d bytes", len(e.Value))
			}
			a.Version = Version{e.Value[0], e.Value[1], e.Value[2]}
		case e.Id.Equal(oidSerial):
			var n int64
			if rest, err := asn1.Unmarshal(e.Value, &n); err != nil || len(rest) != 0 || n < 0 || n > 0xFFFFFFFF {
				return nil, fmt.Errorf("serial extension %x", e.Value)
			}
			a.Serial = uint32(n)
		case e.Id.Equal(oidPolicy):
			if len(e.Value) != 2 {
				return nil, fmt.Errorf("policy extension of %d bytes", len(e.Value))
			}
			a.PINPolicy, a.TouchPolicy = PINPolicy(e.Value[0]), TouchPolicy(e.Value[1])
		case e.Id.Equal(oidFormFactor):
			if len(e.Value) != 1 {
				return nil, fmt.Errorf("form factor extension of %d bytes", len(e.Value))
			}
			a.FormFactor = e.Value[0]
		}
	}
	const prefix = "YubiKey PIV Attestation "
	if s, ok := strings.CutPrefix(cert.Subject.CommonName, prefix); ok {
		if n, err := strconv.ParseUint(s, 16, 8); err == nil && Slot(n).Valid() {
			a.Slot = Slot(n)
		}
	}
	return a, nil
}

//go:embed certs/*.pem
var certFS embed.FS

// YubicoRoots returns Yubico's PIV attestation roots and intermediates,
// embedded from certs/ (see certs/README.md for where they come from).
func YubicoRoots() (roots, intermediates *x509.CertPool, err error) {
	intermediates = x509.NewCertPool()
	roots, err = yubicoPool(intermediates)
	if err != nil {
		return nil, nil, err
	}
	return roots, intermediates, nil
}

// yubicoPool returns Yubico's roots and adds Yubico's intermediates to inter.
func yubicoPool(inter *x509.CertPool) (*x509.CertPool, error) {
	roots := x509.NewCertPool()
	for _, name := range []string{"yubico-piv-root-ca-263751.pem", "yubico-u2f-root-ca-457200631.pem", "yubico-ca-1.pem"} {
		certs, err := readPEM(name)
		if err != nil {
			return nil, err
		}
		for _, c := range certs {
			if strings.Contains(c.Subject.CommonName, "U2F Root") {
				// The U2F root says pathlen 0, yet the key's F9
				// certificate sits between it and the slot's: allow one
				// (piv-go's workaround, RFC 5280 §4.2.1.9).
				c.MaxPathLen = 1
			}
			roots.AddCert(c)
		}
	}
	certs, err := readPEM("yubico-intermediate.pem")
	if err != nil {
		return nil, err
	}
	for _, c := range certs {
		inter.AddCert(c)
	}
	return roots, nil
}

func readPEM(name string) ([]*x509.Certificate, error) {
	b, err := certFS.ReadFile("certs/" + name)
	if err != nil {
		return nil, fmt.Errorf("piv: embedded root %s: %w", name, err)
	}
	var out []*x509.Certificate
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("piv: embedded root %s: %w", name, err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("piv: embedded root %s: no certificate", name)
	}
	return out, nil
}
