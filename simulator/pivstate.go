package simulator

import (
	"bytes"
	"crypto/ecdh"
	"fmt"
	"maps"
	"strconv"
)

// PIV persistent state (piv.md, "What the simulator persists"). In the state
// file it is the "piv" object; a file without it is a card whose PIV applet
// is as it left the factory (the section appears at the first PIV command):
//
//	"piv": {
//	  "pin": "313233343536ffff", "pin_tries": 3, "pin_max": 3,
//	  "puk": "3132333435363738", "puk_tries": 3, "puk_max": 3,
//	  "mgmt_alg": 3, "mgmt_key": "0102…0708", "mgmt_touch": false,
//	  "keys": {"9d": {"alg": 17, "private": "…", "pin_policy": 2, "touch_policy": 3, "origin": 1}},
//	  "objects": {"5fc10b": "70…"},
//	  "attest_root_key": "…", "attest_root_cert": "…"
//	}
//
// The attestation key lives in keys["f9"] and its certificate in
// objects["5fff01"]; both are signed into being by the simulator's own
// attestation root (attest_root_*), which is NOT Yubico's: a simulated key's
// attestation verifies only against that root, which the card hands out
// (Card.PIVAttestationRoot) for callers that choose to trust it.
type PIVState struct {
	PIN      HexBytes `json:"pin"` // 8 bytes, FF-padded
	PINTries int      `json:"pin_tries"`
	PINMax   int      `json:"pin_max"`
	PUK      HexBytes `json:"puk"`
	PUKTries int      `json:"puk_tries"`
	PUKMax   int      `json:"puk_max"`

	MgmtAlg   byte     `json:"mgmt_alg"` // 03 3DES, 08/0A/0C AES-128/192/256
	MgmtKey   HexBytes `json:"mgmt_key"`
	MgmtTouch bool     `json:"mgmt_touch,omitempty"`

	Keys    map[string]PIVKey   `json:"keys"`    // by key reference, lower-case hex ("9d")
	Objects map[string]HexBytes `json:"objects"` // by object tag, lower-case hex ("5fc10b"); the content of tag 53

	AttestRootKey  HexBytes `json:"attest_root_key,omitempty"`  // P-256 scalar of the simulator's attestation root
	AttestRootCert HexBytes `json:"attest_root_cert,omitempty"` // its self-signed DER certificate
}

// PIVKey is an asymmetric key in a PIV slot.
type PIVKey struct {
	Alg         byte     `json:"alg"`          // 11 P-256, 14 P-384
	Private     HexBytes `json:"private"`      // the scalar, big-endian
	PINPolicy   byte     `json:"pin_policy"`   // 01 never, 02 once, 03 always (resolved, never 00)
	TouchPolicy byte     `json:"touch_policy"` // 01 never, 02 always, 03 cached (resolved)
	Origin      byte     `json:"origin"`       // 01 generated, 02 imported
}

// PIV defaults (piv.md, "PIN and PUK" and "Management key").
var (
	pivDefaultPIN     = []byte{'1', '2', '3', '4', '5', '6', 0xFF, 0xFF}
	pivDefaultPUK     = []byte{'1', '2', '3', '4', '5', '6', '7', '8'}
	pivDefaultMgmtKey = []byte{
		1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8,
	}
	fwPIVMetadata = Version{5, 3, 0} // GET METADATA
	fwPIVAES      = Version{5, 4, 0} // AES management keys
	fwPIVAESMgmt  = Version{5, 7, 0} // AES-192 is the default management key type
	fwPIVAttest   = Version{4, 3, 0} // ATTEST
)

const pivDefaultTries = 3

// newPIVState is a PIV applet as it leaves the factory, before the
// attestation key is made (that happens at first use: see ensureAttest).
func newPIVState(fw Version) *PIVState {
	alg := byte(pivAlg3DES)
	if fw.AtLeast(fwPIVAESMgmt) {
		alg = pivAlgAES192
	}
	return &PIVState{
		PIN: bytes.Clone(pivDefaultPIN), PINTries: pivDefaultTries, PINMax: pivDefaultTries,
		PUK: bytes.Clone(pivDefaultPUK), PUKTries: pivDefaultTries, PUKMax: pivDefaultTries,
		MgmtAlg: alg, MgmtKey: bytes.Clone(pivDefaultMgmtKey),
		Keys: map[string]PIVKey{}, Objects: map[string]HexBytes{},
	}
}

func (p *PIVState) clone() *PIVState {
	if p == nil {
		return nil
	}
	out := *p
	out.PIN, out.PUK, out.MgmtKey = bytes.Clone(p.PIN), bytes.Clone(p.PUK), bytes.Clone(p.MgmtKey)
	out.AttestRootKey, out.AttestRootCert = bytes.Clone(p.AttestRootKey), bytes.Clone(p.AttestRootCert)
	out.Keys = make(map[string]PIVKey, len(p.Keys))
	for k, v := range p.Keys {
		v.Private = bytes.Clone(v.Private)
		out.Keys[k] = v
	}
	out.Objects = make(map[string]HexBytes, len(p.Objects))
	for k, v := range maps.All(p.Objects) {
		out.Objects[k] = bytes.Clone(v)
	}
	return &out
}

func refKey(ref byte) string   { return fmt.Sprintf("%02x", ref) }
func objKey(tag uint32) string { return fmt.Sprintf("%x", tag) }
func (p *PIVState) key(ref byte) (PIVKey, bool) {
	k, ok := p.Keys[refKey(ref)]
	return k, ok
}

// validate checks what Open must refuse: wrong lengths, tries beyond their
// limits, unknown algorithms and policies, private keys off their curve.
func (p *PIVState) validate() error {
	if len(p.PIN) != 8 || len(p.PUK) != 8 {
		return fmt.Errorf("piv: PIN and PUK must be 8 bytes (FF-padded), got %d and %d", len(p.PIN), len(p.PUK))
	}
	if p.PINMax < 1 || p.PINMax > 255 || p.PUKMax < 1 || p.PUKMax > 255 {
		return fmt.Errorf("piv: PIN/PUK retry limits %d/%d, want 1–255", p.PINMax, p.PUKMax)
	}
	if p.PINTries < 0 || p.PINTries > p.PINMax || p.PUKTries < 0 || p.PUKTries > p.PUKMax {
		return fmt.Errorf("piv: PIN/PUK tries %d/%d outside 0–%d/0–%d", p.PINTries, p.PUKTries, p.PINMax, p.PUKMax)
	}
	if n, ok := mgmtKeyLen(p.MgmtAlg); !ok || len(p.MgmtKey) != n {
		return fmt.Errorf("piv: management key type %#02x with %d bytes", p.MgmtAlg, len(p.MgmtKey))
	}
	for ref, k := range p.Keys {
		r, err := strconv.ParseUint(ref, 16, 8)
		if err != nil || refKey(byte(r)) != ref || (!pivKeySlot(byte(r)) && byte(r) != pivRefAttest) {
			return fmt.Errorf("piv: key in unknown slot %q", ref)
		}
		if _, err := k.ecdh(); err != nil {
			return fmt.Errorf("piv: key %s: %w", ref, err)
		}
		if k.PINPolicy < 1 || k.PINPolicy > 3 || k.TouchPolicy < 1 || k.TouchPolicy > 3 || k.Origin < 1 || k.Origin > 2 {
			return fmt.Errorf("piv: key %s: policy %d/%d or origin %d out of range", ref, k.PINPolicy, k.TouchPolicy, k.Origin)
		}
	}
	for tag, v := range p.Objects {
		t, err := strconv.ParseUint(tag, 16, 32)
		if err != nil || objKey(uint32(t)) != tag || !pivObjectTag(uint32(t)) {
			return fmt.Errorf("piv: unknown data object %q", tag)
		}
		if len(v) > pivMaxObject {
			return fmt.Errorf("piv: data object %s is %d bytes, the card holds %d", tag, len(v), pivMaxObject)
		}
	}
	if len(p.AttestRootKey) != 0 {
		if _, err := ecdh.P256().NewPrivateKey(p.AttestRootKey); err != nil {
			return fmt.Errorf("piv: attestation root key: %w", err)
		}
	}
	return nil
}

// ecdh returns the key as an ecdh key (both algorithms are NIST curves).
func (k PIVKey) ecdh() (*ecdh.PrivateKey, error) {
	var curve ecdh.Curve
	switch k.Alg {
	case pivAlgP256:
		curve = ecdh.P256()
	case pivAlgP384:
		curve = ecdh.P384()
	default:
		return nil, fmt.Errorf("algorithm %#02x is not simulated (P-256 11, P-384 14)", k.Alg)
	}
	return curve.NewPrivateKey(k.Private)
}
