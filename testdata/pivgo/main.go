// Command pivgo is a third-party check of the simulator's PIV applet: it
// uses github.com/go-piv/piv-go/v2 (cgo, libpcsclite) through pcscd, as a
// real PIV client would, and prints what it saw as JSON on stdout.
//
// It lives in a module of its own under testdata so that piv-go never
// becomes a dependency of mfabridge (pcsc/piv_stack_test.go builds and runs
// it). Usage:
//
//	pivgo -reader NAME -slot 9d -peer HEX -root FILE   (the PIN on stdin)
//
// It generates a P-256 key (PIN once, touch never) with the default
// management key, reads the slot's attestation and the F9 certificate,
// verifies them with piv-go's Verifier against the root in FILE (the
// simulator's, never Yubico's), and does ECDH with the peer public key
// (uncompressed hex).
package main

import (
	"bufio"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/go-piv/piv-go/v2/piv"
)

type result struct {
	Serial           uint32 `json:"serial"`
	Version          string `json:"version"`
	Public           string `json:"public"`             // uncompressed point, hex
	Attestation      []byte `json:"attestation"`        // slot attestation certificate, DER
	AttestationCert  []byte `json:"attestation_cert"`   // F9 certificate, DER
	AttestedSerial   uint32 `json:"attested_serial"`    // from piv-go's Verifier
	AttestedPIN      int    `json:"attested_pin"`       // piv.PINPolicy
	AttestedTouch    int    `json:"attested_touch"`     // piv.TouchPolicy
	AttestedSlot     string `json:"attested_slot"`      // "9d"
	Shared           string `json:"shared"`             // ECDH x-coordinate, hex
	YubicoRootsError string `json:"yubico_roots_error"` // piv.Verify with Yubico's roots must fail
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "pivgo:", err)
		os.Exit(1)
	}
}

func run() error {
	reader := flag.String("reader", "", "PC/SC reader name")
	slotHex := flag.String("slot", "9d", "slot (9a, 9c, 9d, 9e or 82–95)")
	peerHex := flag.String("peer", "", "peer P-256 public key, uncompressed, hex")
	rootFile := flag.String("root", "", "PEM file of the attestation root to trust")
	flag.Parse()
	pin, err := bufio.NewReader(os.Stdin).ReadString('\n')
	if err != nil && !errors.Is(err, os.ErrClosed) && pin == "" {
		return fmt.Errorf("read PIN from stdin: %w", err)
	}
	pin = strings.TrimSpace(pin)

	n, err := strconv.ParseUint(*slotHex, 16, 32)
	if err != nil {
		return fmt.Errorf("slot %q: %w", *slotHex, err)
	}
	var slot piv.Slot
	switch uint32(n) {
	case piv.SlotAuthentication.Key:
		slot = piv.SlotAuthentication
	case piv.SlotSignature.Key:
		slot = piv.SlotSignature
	case piv.SlotKeyManagement.Key:
		slot = piv.SlotKeyManagement
	case piv.SlotCardAuthentication.Key:
		slot = piv.SlotCardAuthentication
	default:
		s, ok := piv.RetiredKeyManagementSlot(uint32(n))
		if !ok {
			return fmt.Errorf("slot %q: not a key slot", *slotHex)
		}
		slot = s
	}
	peerBytes, err := hex.DecodeString(*peerHex)
	if err != nil {
		return fmt.Errorf("peer key: %w", err)
	}
	peer, err := ecdh.P256().NewPublicKey(peerBytes)
	if err != nil {
		return fmt.Errorf("peer key: %w", err)
	}
	rootPEM, err := os.ReadFile(*rootFile)
	if err != nil {
		return err
	}
	blk, _ := pem.Decode(rootPEM)
	if blk == nil {
		return fmt.Errorf("%s: no PEM block", *rootFile)
	}
	root, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		return err
	}

	yk, err := piv.Open(*reader)
	if err != nil {
		return fmt.Errorf("open %q: %w", *reader, err)
	}
	defer yk.Close()

	var out result
	v := yk.Version()
	out.Version = fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch)
	if out.Serial, err = yk.Serial(); err != nil {
		return fmt.Errorf("serial: %w", err)
	}
	pub, err := yk.GenerateKey(piv.DefaultManagementKey, slot, piv.Key{
		Algorithm:   piv.AlgorithmEC256,
		PINPolicy:   piv.PINPolicyOnce,
		TouchPolicy: piv.TouchPolicyNever,
	})
	if err != nil {
		return fmt.Errorf("generate key: %w", err)
	}
	ecPub, ok := pub.(*ecdsa.PublicKey)
	if !ok {
		return fmt.Errorf("generated key is %T, want *ecdsa.PublicKey", pub)
	}
	ep, err := ecPub.ECDH()
	if err != nil {
		return err
	}
	out.Public = hex.EncodeToString(ep.Bytes())

	slotCert, err := yk.Attest(slot)
	if err != nil {
		return fmt.Errorf("attest: %w", err)
	}
	f9, err := yk.AttestationCertificate()
	if err != nil {
		return fmt.Errorf("attestation certificate: %w", err)
	}
	out.Attestation, out.AttestationCert = slotCert.Raw, f9.Raw
	roots := x509.NewCertPool()
	roots.AddCert(root)
	a, err := (&piv.Verifier{Roots: roots}).Verify(f9, slotCert)
	if err != nil {
		return fmt.Errorf("verify attestation with the given root: %w", err)
	}
	out.AttestedSerial, out.AttestedPIN, out.AttestedTouch = a.Serial, int(a.PINPolicy), int(a.TouchPolicy)
	out.AttestedSlot = a.Slot.String()
	if _, err := piv.Verify(f9, slotCert); err != nil {
		out.YubicoRootsError = err.Error()
	}

	priv, err := yk.PrivateKey(slot, pub, piv.KeyAuth{PIN: pin})
	if err != nil {
		return fmt.Errorf("private key: %w", err)
	}
	ecPriv, ok := priv.(*piv.ECDSAPrivateKey)
	if !ok {
		return fmt.Errorf("private key is %T, want *piv.ECDSAPrivateKey", priv)
	}
	shared, err := ecPriv.ECDH(peer)
	if err != nil {
		return fmt.Errorf("ecdh: %w", err)
	}
	out.Shared = hex.EncodeToString(shared)
	return json.NewEncoder(os.Stdout).Encode(out)
}
