package simulator

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
	"math/big"
	"time"

	"github.com/mfabridge/mfabridge/oath"
)

// Attestation (Yubico "PIV attestation"; piv.md "ATTEST"). A YubiKey's chain
// is Yubico root → Yubico intermediate → the key's F9 certificate (object
// 5FFF01) → the slot's attestation certificate. The simulator keeps the same
// shape with a root of its own, made at first use and kept in the state.
// Every name in the chain above the slot certificate says it is the
// simulator's and not Yubico's, and nothing Yubico signed is involved: a
// client that trusts only Yubico's roots rejects a simulated key, as it must.

// Names of the simulator's attestation chain.
const (
	SimAttestRootCN = "mfabridge simulator PIV attestation root CA - NOT Yubico"
	SimAttestF9CN   = "mfabridge simulator PIV attestation - NOT Yubico"
	simAttestOrg    = "mfabridge simulator (software YubiKey, no hardware)"
)

// Yubico's attestation extensions (OID arc 1.3.6.1.4.1.41482.3).
var (
	oidYubicoFirmware   = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 41482, 3, 3}
	oidYubicoSerial     = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 41482, 3, 7}
	oidYubicoPolicy     = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 41482, 3, 8}
	oidYubicoFormFactor = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 41482, 3, 9}
)

// Validity of every certificate in the chain, as Yubico's (fixed dates).
var (
	attestNotBefore = time.Date(2016, 3, 14, 0, 0, 0, 0, time.UTC)
	attestNotAfter  = time.Date(2052, 4, 17, 0, 0, 0, 0, time.UTC)
)

// certObject wraps a DER certificate as a PIV certificate object:
// 70 L cert 71 01 00 (uncompressed) FE 00 (LRC).
func certObject(der []byte) []byte {
	out := appendBER(nil, 0x70, der)
	out = appendBER(out, 0x71, []byte{0})
	return appendBER(out, 0xFE, nil)
}

func (c *Card) serialNumber() (*big.Int, error) {
	b := make([]byte, 16)
	if _, err := io.ReadFull(c.rand, b); err != nil {
		return nil, err
	}
	b[0] &= 0x7F
	b[0] |= 0x40 // positive, 16 bytes, never zero
	return new(big.Int).SetBytes(b), nil
}

func ecdsaKey(k PIVKey) (*ecdsa.PrivateKey, error) {
	curve := elliptic.P256()
	if k.Alg == pivAlgP384 {
		curve = elliptic.P384()
	}
	return ecdsa.ParseRawPrivateKey(curve, k.Private)
}

// signDigest signs digest (at most the field size; shorter input is taken
// as is, as ecdsa.SignASN1 does) and returns the DER signature.
func signDigest(r io.Reader, k PIVKey, digest []byte) ([]byte, error) {
	priv, err := ecdsaKey(k)
	if err != nil {
		return nil, err
	}
	return ecdsa.SignASN1(r, priv, digest)
}

// ensureAttest makes the simulator's attestation root, the F9 key and its
// certificate (object 5FFF01) if the state has none yet, and saves them.
func (c *Card) ensureAttest() uint16 {
	p := c.st.PIV
	if _, ok := p.key(pivRefAttest); ok && len(p.AttestRootCert) != 0 {
		return oath.SWOK
	}
	root, rootCert, f9, f9Cert, err := c.newAttestChain()
	if err != nil {
		return oath.SWGenericError
	}
	return c.commit(func(st *State) uint16 {
		st.PIV.AttestRootKey, st.PIV.AttestRootCert = root.Bytes(), rootCert
		st.PIV.Keys[refKey(pivRefAttest)] = PIVKey{Alg: pivAlgP256, Private: f9.Bytes(),
			PINPolicy: pinPolicyNever, TouchPolicy: touchPolicyNever, Origin: 2}
		st.PIV.Objects[objKey(0x5FFF01)] = certObject(f9Cert)
		return oath.SWOK
	})
}

func (c *Card) newAttestChain() (root *ecdh.PrivateKey, rootDER []byte, f9 *ecdh.PrivateKey, f9DER []byte, err error) {
	if root, err = ecdh.P256().GenerateKey(c.rand); err != nil {
		return
	}
	if f9, err = ecdh.P256().GenerateKey(c.rand); err != nil {
		return
	}
	rootKey, err := ecdsaKey(PIVKey{Alg: pivAlgP256, Private: root.Bytes()})
	if err != nil {
		return
	}
	f9Key, err := ecdsaKey(PIVKey{Alg: pivAlgP256, Private: f9.Bytes()})
	if err != nil {
		return
	}
	sn, err := c.serialNumber()
	if err != nil {
		return
	}
	rootTmpl := &x509.Certificate{
		SerialNumber:          sn,
		Subject:               pkix.Name{CommonName: SimAttestRootCN, Organization: []string{simAttestOrg}},
		NotBefore:             attestNotBefore,
		NotAfter:              attestNotAfter,
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            1,
	}
	if rootDER, err = x509.CreateCertificate(rand.Reader, rootTmpl, rootTmpl, &rootKey.PublicKey, rootKey); err != nil {
		return
	}
	rootCert, err := x509.ParseCertificate(rootDER)
	if err != nil {
		return
	}
	if sn, err = c.serialNumber(); err != nil {
		return
	}
	f9Tmpl := &x509.Certificate{
		SerialNumber: sn,
		Subject: pkix.Name{CommonName: SimAttestF9CN, Organization: []string{simAttestOrg},
			SerialNumber: fmt.Sprint(c.st.Serial)},
		NotBefore:             attestNotBefore,
		NotAfter:              attestNotAfter,
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	f9DER, err = x509.CreateCertificate(rand.Reader, f9Tmpl, rootCert, &f9Key.PublicKey, rootKey)
	return
}

// pivAttest: ATTEST (Yubico), P1 the slot → a DER certificate for the
// slot's public key signed by the F9 key. Only generated keys: an empty
// or imported slot answers 6A80.
func (c *Card) pivAttest(cmd command) ([]byte, uint16) {
	if cmd.p2 != 0 || !pivKeySlot(cmd.p1) {
		return nil, swPIVWrongP1P2
	}
	k, ok := c.st.PIV.key(cmd.p1)
	if !ok || k.Origin != 1 {
		return nil, swPIVWrongData
	}
	if sw := c.ensureAttest(); sw != oath.SWOK {
		return nil, sw
	}
	der, err := c.attestCert(cmd.p1, k)
	if err != nil {
		return nil, oath.SWGenericError
	}
	return der, oath.SWOK
}

func (c *Card) attestCert(ref byte, k PIVKey) ([]byte, error) {
	p := c.st.PIV
	f9, _ := p.key(pivRefAttest)
	f9Key, err := ecdsaKey(f9)
	if err != nil {
		return nil, err
	}
	f9Cert, err := parseCertObject(p.Objects[objKey(0x5FFF01)])
	if err != nil {
		return nil, err
	}
	slotKey, err := ecdsaKey(k)
	if err != nil {
		return nil, err
	}
	serial, err := asn1.Marshal(int64(c.st.Serial))
	if err != nil {
		return nil, err
	}
	fw := c.st.Firmware
	sn, err := c.serialNumber()
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: sn,
		Subject:      pkix.Name{CommonName: fmt.Sprintf("YubiKey PIV Attestation %02x", ref)},
		NotBefore:    attestNotBefore,
		NotAfter:     attestNotAfter,
		ExtraExtensions: []pkix.Extension{
			{Id: oidYubicoFirmware, Value: []byte{fw.Major, fw.Minor, fw.Patch}},
			{Id: oidYubicoSerial, Value: serial},
			{Id: oidYubicoPolicy, Value: []byte{k.PINPolicy, k.TouchPolicy}},
			{Id: oidYubicoFormFactor, Value: []byte{c.st.FormFactor}},
		},
	}
	return x509.CreateCertificate(rand.Reader, tmpl, f9Cert, &slotKey.PublicKey, f9Key)
}

// parseCertObject reads the certificate out of a certificate object.
func parseCertObject(obj []byte) (*x509.Certificate, error) {
	m, ok := berMap(obj)
	if !ok || m[0x70] == nil {
		return nil, errors.New("certificate object without tag 70")
	}
	return x509.ParseCertificate(m[0x70])
}

// PIVAttestationRoot returns the simulator's PIV attestation root
// certificate (made now if the card has none yet, and saved). It is the
// only root a simulated key's attestation verifies against; it is not
// Yubico's, and a caller trusts it only when its user says so.
func (c *Card) PIVAttestationRoot() (*x509.Certificate, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.st.PIV == nil {
		if sw := c.commit(func(st *State) uint16 { st.PIV = newPIVState(st.Firmware); return oath.SWOK }); sw != oath.SWOK {
			return nil, fmt.Errorf("simulator: save the PIV state: status %04X", sw)
		}
	}
	if sw := c.ensureAttest(); sw != oath.SWOK {
		return nil, fmt.Errorf("simulator: make the PIV attestation root: status %04X", sw)
	}
	return x509.ParseCertificate(bytes.Clone(c.st.PIV.AttestRootCert))
}
