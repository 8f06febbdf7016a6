package piv

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"testing"
)

func readCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		t.Fatalf("%s: no PEM block", path)
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Real YubiKeys' attestation chains verify against the embedded Yubico
// roots (the 2018 one through the U2F root's path-length workaround); a
// slot certificate of one key with the F9 certificate of another does not.
func TestVerifyYubicoChains(t *testing.T) {
	dir := "testdata/attest/"
	f9, slot := readCert(t, dir+"ValidChain-f9.pem"), readCert(t, dir+"ValidChain-slot.pem")
	f9b, slotb := readCert(t, dir+"ValidChain2018-f9.pem"), readCert(t, dir+"ValidChain2018-slot.pem")
	for _, tt := range []struct {
		name     string
		f9, slot *x509.Certificate
		ok       bool
	}{
		{"ValidChain", f9, slot, true},
		{"ValidChain2018", f9b, slotb, true},
		{"F9 of A, slot of B", f9, slotb, false},
		{"F9 of B, slot of A", f9b, slot, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a, err := VerifyAttestation(tt.f9, tt.slot, VerifyOptions{})
			if !tt.ok {
				if !errors.Is(err, ErrAttestation) {
					t.Fatalf("VerifyAttestation = %v, want ErrAttestation", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if a.Slot != SlotAuthentication || a.Version.Major < 4 || a.PublicKey == nil {
				t.Errorf("attestation %+v", a)
			}
		})
	}
	// A caller's pool replaces Yubico's: a real chain fails against an empty one.
	if _, err := VerifyAttestation(f9, slot, VerifyOptions{Roots: x509.NewCertPool()}); !errors.Is(err, ErrAttestation) {
		t.Errorf("real chain against an empty root pool = %v", err)
	}
}
