package simulator

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"crypto/ecdh"
	"crypto/subtle"
	"encoding/binary"
	"io"
	"time"

	"github.com/mfabridge/mfabridge/oath"
)

// The PIV applet (NIST SP 800-73-4 Part 2, with Yubico's extensions), as
// piv.md describes it on the wire for ykman 4.0.9 and piv-go v2.6.0.
// Command chaining (CLA 10), extended APDUs and GET RESPONSE (C0) are
// handled by Card.handle before a command reaches pivCommand.

// Instructions (SP 800-73-4 Part 2 §3; Yubico PIV extensions).
const (
	insPIVVerify       = 0x20 // §3.2.1
	insPIVChangeRef    = 0x24 // §3.2.2
	insPIVResetRetry   = 0x2C // §3.2.3
	insPIVGenerate     = 0x47 // §3.3.2
	insPIVGeneralAuth  = 0x87 // §3.2.4
	insPIVGetData      = 0xCB // §3.1.2
	insPIVPutData      = 0xDB // §3.3.1
	insPIVGetMetadata  = 0xF7 // Yubico, firmware 5.3+
	insPIVSerial       = 0xF8 // Yubico, firmware 5+
	insPIVAttest       = 0xF9 // Yubico, firmware 4.3+
	insPIVSetRetries   = 0xFA // Yubico
	insPIVReset        = 0xFB // Yubico
	insPIVVersion      = 0xFD // Yubico
	insPIVImportKey    = 0xFE // Yubico
	insPIVSetMgmtKey   = 0xFF // Yubico
	pivDataP1P2        = 0x3FFF
	pivMaxObject       = 3063 // bytes of content in one data object (YubiKey 5)
	pivTouchCacheLimit = 15 * time.Second
)

// Status words beyond oath's (ISO 7816-4 §5.1.3; piv.md "Status words").
const (
	swPIVVerifyFail      uint16 = 0x63C0 // | tries left (at most 15)
	swPIVBlocked         uint16 = 0x6983
	swPIVRefNotFound     uint16 = 0x6A88
	swPIVWrongP1P2       uint16 = 0x6A86
	swPIVChainBroken     uint16 = 0x6883              // a chain (CLA 10) interrupted by another command
	swPIVNotFound               = oath.SWFileNotFound // 6A82
	swPIVSecurity               = oath.SWAuthRequired // 6982
	swPIVWrongData              = oath.SWWrongSyntax  // 6A80
	swPIVNoSpace                = oath.SWNoSpace      // 6A84
	swPIVConditions             = oath.SWConditionsNotMet
	swPIVInsNotSupported        = oath.SWInsNotSupported
)

// Key references (SP 800-73-4 Part 1 §5.1; Yubico's F9) and algorithms
// (SP 800-78-4 Table 6-2).
const (
	pivRefPIN    = 0x80
	pivRefPUK    = 0x81
	pivRefMgmt   = 0x9B
	pivRefAttest = 0xF9

	pivAlg3DES   = 0x03
	pivAlgAES128 = 0x08
	pivAlgAES192 = 0x0A
	pivAlgAES256 = 0x0C
	pivAlgP256   = 0x11
	pivAlgP384   = 0x14
)

// Policies (Yubico): PIN 00 default, 01 never, 02 once, 03 always; touch
// 00 default, 01 never, 02 always, 03 cached.
const (
	pinPolicyNever    = 0x01
	pinPolicyOnce     = 0x02
	pinPolicyAlways   = 0x03
	touchPolicyNever  = 0x01
	touchPolicyAlways = 0x02
	touchPolicyCached = 0x03
)

// pivClock is the clock of the touch cache; tests replace it.
var pivClock = time.Now

// pivSession is the applet's volatile state: lost on power-off, reset and
// SELECT of another applet, kept by a repeated SELECT of PIV.
type pivSession struct {
	pinOK    bool   // VERIFY succeeded
	pinFresh bool   // the previous command was a successful VERIFY (PIN policy always)
	mgmtOK   bool   // management key authenticated
	witness  []byte // step 1 of the management key authentication, awaiting step 2
	touched  map[byte]time.Time
}

func pivKeySlot(ref byte) bool {
	switch {
	case ref == 0x9A, ref == 0x9C, ref == 0x9D, ref == 0x9E:
		return true
	case ref >= 0x82 && ref <= 0x95: // retired key management 1–20
		return true
	}
	return false
}

// pivCertObject is the data object holding the certificate of slot ref.
func pivCertObject(ref byte) uint32 {
	switch ref {
	case 0x9A:
		return 0x5FC105
	case 0x9C:
		return 0x5FC10A
	case 0x9D:
		return 0x5FC10B
	case 0x9E:
		return 0x5FC101
	case pivRefAttest:
		return 0x5FFF01
	}
	return 0x5FC10D + uint32(ref-0x82)
}

// pivObjectTag: the objects GET DATA and PUT DATA know (SP 800-73-4 Part 1
// Table 3, Yubico's 5FFFxx).
func pivObjectTag(tag uint32) bool {
	return tag == 0x7E || tag == 0x7F61 || (tag >= 0x5FC101 && tag <= 0x5FC123) || (tag >= 0x5FFF00 && tag <= 0x5FFF15)
}

// pivPINProtected: objects GET DATA returns only after VERIFY.
func pivPINProtected(tag uint32) bool {
	switch tag {
	case 0x5FC103, 0x5FC108, 0x5FC109, 0x5FC121:
		return true
	}
	return false
}

func mgmtKeyLen(alg byte) (int, bool) {
	switch alg {
	case pivAlg3DES, pivAlgAES192:
		return 24, true
	case pivAlgAES128:
		return 16, true
	case pivAlgAES256:
		return 32, true
	}
	return 0, false
}

// pivSelect answers like a YubiKey 5: the application property template
// (61, with the PIV AID in 4F and the coexistent tag allocation authority 79).
func (c *Card) pivSelect() []byte {
	return []byte{
		0x61, 0x11,
		0x4F, 0x06, 0x00, 0x00, 0x10, 0x00, 0x01, 0x00,
		0x79, 0x07, 0x4F, 0x05, 0xA0, 0x00, 0x00, 0x03, 0x08,
	}
}

// pivDiscovery is a typical YubiKey's Discovery Object (7E): the PIV AID
// and the PIN usage policy 40 00 (PIV PIN only).
var pivDiscovery = []byte{
	0x7E, 0x12, 0x4F, 0x0B, 0xA0, 0x00, 0x00, 0x03, 0x08, 0x00, 0x00, 0x10, 0x00, 0x01, 0x00,
	0x5F, 0x2F, 0x02, 0x40, 0x00,
}

func (c *Card) pivCommand(ctx context.Context, cmd command) ([]byte, uint16, error) {
	fw := c.st.Firmware
	fresh := c.piv.pinFresh
	c.piv.pinFresh = false
	switch cmd.ins {
	case insPIVVersion:
		return []byte{fw.Major, fw.Minor, fw.Patch}, oath.SWOK, nil
	case insPIVSerial:
		if !fw.AtLeast(fwSerial) {
			return nil, swPIVInsNotSupported, nil
		}
		return binary.BigEndian.AppendUint32(nil, c.st.Serial), oath.SWOK, nil
	case insPIVVerify, insPIVChangeRef, insPIVResetRetry, insPIVGenerate, insPIVGeneralAuth,
		insPIVGetData, insPIVPutData, insPIVSetRetries, insPIVReset, insPIVImportKey, insPIVSetMgmtKey:
	case insPIVGetMetadata:
		if !fw.AtLeast(fwPIVMetadata) {
			return nil, swPIVInsNotSupported, nil
		}
	case insPIVAttest:
		if !fw.AtLeast(fwPIVAttest) {
			return nil, swPIVInsNotSupported, nil
		}
	default:
		return nil, swPIVInsNotSupported, nil
	}
	if c.st.PIV == nil {
		// The first PIV command of a state made before the applet existed
		// writes the factory state down.
		if sw := c.commit(func(st *State) uint16 { st.PIV = newPIVState(st.Firmware); return oath.SWOK }); sw != oath.SWOK {
			return nil, sw, nil
		}
	}
	switch cmd.ins {
	case insPIVVerify:
		return nil, c.pivVerify(cmd), nil
	case insPIVChangeRef:
		return nil, c.pivChangeRef(cmd), nil
	case insPIVResetRetry:
		return nil, c.pivResetRetry(cmd), nil
	case insPIVGenerate:
		data, sw := c.pivGenerate(cmd)
		return data, sw, nil
	case insPIVGeneralAuth:
		return c.pivGeneralAuth(ctx, cmd, fresh)
	case insPIVGetData:
		data, sw := c.pivGetData(cmd)
		return data, sw, nil
	case insPIVPutData:
		return nil, c.pivPutData(cmd), nil
	case insPIVGetMetadata:
		data, sw := c.pivMetadata(cmd)
		return data, sw, nil
	case insPIVAttest:
		data, sw := c.pivAttest(cmd)
		return data, sw, nil
	case insPIVSetRetries:
		return nil, c.pivSetRetries(cmd), nil
	case insPIVReset:
		return nil, c.pivReset(cmd), nil
	case insPIVImportKey:
		return nil, c.pivImport(cmd), nil
	default: // insPIVSetMgmtKey
		return nil, c.pivSetMgmtKey(cmd), nil
	}
}

// triesSW is 63Cx with x the tries left, at most 15.
func triesSW(n int) uint16 { return swPIVVerifyFail | uint16(min(n, 15)) }

// pinFormat checks a new PIN or PUK: 8 bytes, 6–8 characters then FF
// padding (SP 800-73-4 Part 2 §2.4.3).
func pinFormat(b []byte) bool {
	if len(b) != 8 {
		return false
	}
	n := bytes.IndexByte(b, 0xFF)
	if n < 0 {
		n = 8
	}
	if n < 6 {
		return false
	}
	for _, x := range b[n:] {
		if x != 0xFF {
			return false
		}
	}
	return true
}

// pivVerify: VERIFY PIN (P2 80). Empty data asks for the status; P1 FF
// clears it. A wrong value spends a try (saved before answering) and
// answers 63Cx; at 0 tries 6983 without touching the counter.
func (c *Card) pivVerify(cmd command) uint16 {
	p := c.st.PIV
	if cmd.p2 != pivRefPIN || (cmd.p1 != 0x00 && cmd.p1 != 0xFF) {
		return swPIVWrongP1P2
	}
	if cmd.p1 == 0xFF {
		if len(cmd.data) != 0 {
			return swPIVWrongData
		}
		c.piv.pinOK = false
		return oath.SWOK
	}
	if len(cmd.data) == 0 {
		switch {
		case c.piv.pinOK:
			return oath.SWOK
		case p.PINTries == 0:
			return swPIVBlocked
		}
		return triesSW(p.PINTries)
	}
	if len(cmd.data) != 8 {
		return swPIVWrongData
	}
	if p.PINTries == 0 {
		return swPIVBlocked
	}
	if subtle.ConstantTimeCompare(cmd.data, p.PIN) != 1 {
		c.piv.pinOK = false
		left := p.PINTries - 1
		if sw := c.commit(func(st *State) uint16 { st.PIV.PINTries = left; return oath.SWOK }); sw != oath.SWOK {
			return sw
		}
		return triesSW(left)
	}
	if p.PINTries != p.PINMax {
		if sw := c.commit(func(st *State) uint16 { st.PIV.PINTries = st.PIV.PINMax; return oath.SWOK }); sw != oath.SWOK {
			return sw
		}
	}
	c.piv.pinOK, c.piv.pinFresh = true, true
	return oath.SWOK
}

// pivChangeRef: CHANGE REFERENCE DATA of the PIN (80) or PUK (81): old ‖ new.
// The old value is checked first, so an all-FF block is a wrong value
// (ykman's reset relies on it), and only then the new value's format.
func (c *Card) pivChangeRef(cmd command) uint16 {
	if cmd.p1 != 0 || (cmd.p2 != pivRefPIN && cmd.p2 != pivRefPUK) {
		return swPIVWrongP1P2
	}
	if len(cmd.data) != 16 {
		return swPIVWrongData
	}
	isPIN := cmd.p2 == pivRefPIN
	return c.checkRef(isPIN, cmd.data[:8], func(p *PIVState) uint16 {
		if !pinFormat(cmd.data[8:]) {
			return swPIVWrongData
		}
		if isPIN {
			p.PIN = bytes.Clone(cmd.data[8:])
		} else {
			p.PUK = bytes.Clone(cmd.data[8:])
		}
		return oath.SWOK
	})
}

// pivResetRetry: RESET RETRY COUNTER of the PIN with the PUK: PUK ‖ new PIN.
func (c *Card) pivResetRetry(cmd command) uint16 {
	if cmd.p1 != 0 || cmd.p2 != pivRefPIN {
		return swPIVWrongP1P2
	}
	if len(cmd.data) != 16 {
		return swPIVWrongData
	}
	return c.checkRef(false, cmd.data[:8], func(p *PIVState) uint16 {
		if !pinFormat(cmd.data[8:]) {
			return swPIVWrongData
		}
		p.PIN, p.PINTries = bytes.Clone(cmd.data[8:]), p.PINMax
		return oath.SWOK
	})
}

// checkRef checks old against the PIN or the PUK, spending a try when it
// is wrong, and on success restores that counter and applies then.
func (c *Card) checkRef(isPIN bool, old []byte, then func(p *PIVState) uint16) uint16 {
	p := c.st.PIV
	tries, want := p.PUKTries, p.PUK
	if isPIN {
		tries, want = p.PINTries, p.PIN
	}
	if tries == 0 {
		return swPIVBlocked
	}
	if subtle.ConstantTimeCompare(old, want) != 1 {
		if isPIN {
			c.piv.pinOK = false
		}
		if sw := c.commit(func(st *State) uint16 {
			if isPIN {
				st.PIV.PINTries--
			} else {
				st.PIV.PUKTries--
			}
			return oath.SWOK
		}); sw != oath.SWOK {
			return sw
		}
		return triesSW(tries - 1)
	}
	return c.commit(func(st *State) uint16 {
		if isPIN {
			st.PIV.PINTries = st.PIV.PINMax
		} else {
			st.PIV.PUKTries = st.PIV.PUKMax
		}
		return then(st.PIV)
	})
}

// resolvePolicies turns 00 (default) into the slot's default (piv.md:
// PIN 9A once, 9C always, 9D once, 9E never, retired once; touch never).
func resolvePolicies(ref, pin, touch byte) (byte, byte, bool) {
	if pin > pinPolicyAlways || touch > touchPolicyCached {
		return 0, 0, false
	}
	if pin == 0 {
		switch ref {
		case 0x9C:
			pin = pinPolicyAlways
		case 0x9E:
			pin = pinPolicyNever
		default:
			pin = pinPolicyOnce
		}
	}
	if touch == 0 {
		touch = touchPolicyNever
	}
	return pin, touch, true
}

// pivGenerate: GENERATE ASYMMETRIC KEY PAIR, P2 the slot, data
// AC L 80 01 alg [AA 01 pin] [AB 01 touch]; answers 7F49 L 86 L 04‖X‖Y.
func (c *Card) pivGenerate(cmd command) ([]byte, uint16) {
	if cmd.p1 != 0 || !pivKeySlot(cmd.p2) {
		return nil, swPIVWrongP1P2
	}
	if !c.piv.mgmtOK {
		return nil, swPIVSecurity
	}
	tmpl, ok := berOnly(cmd.data, 0xAC)
	if !ok {
		return nil, swPIVWrongData
	}
	m, ok := berMap(tmpl)
	if !ok {
		return nil, swPIVWrongData
	}
	alg, pin, touch, ok := keyTemplate(m)
	if !ok {
		return nil, swPIVWrongData
	}
	pin, touch, ok = resolvePolicies(cmd.p2, pin, touch)
	if !ok {
		return nil, swPIVWrongData
	}
	curve := ecdh.P256()
	if alg == pivAlgP384 {
		curve = ecdh.P384()
	}
	priv, err := curve.GenerateKey(c.rand)
	if err != nil {
		return nil, oath.SWGenericError
	}
	k := PIVKey{Alg: alg, Private: priv.Bytes(), PINPolicy: pin, TouchPolicy: touch, Origin: 1}
	if sw := c.commit(func(st *State) uint16 { st.PIV.Keys[refKey(cmd.p2)] = k; return oath.SWOK }); sw != oath.SWOK {
		return nil, sw
	}
	pt := appendBER(nil, 0x86, priv.PublicKey().Bytes())
	return appendBER(nil, 0x7F49, pt), oath.SWOK
}

// keyTemplate reads 80 alg (P-256 or P-384 only) and the optional AA/AB
// policy bytes.
func keyTemplate(m map[uint32][]byte) (alg, pin, touch byte, ok bool) {
	for tag, v := range m {
		if len(v) != 1 {
			return 0, 0, 0, false
		}
		switch tag {
		case 0x80:
			alg = v[0]
		case 0xAA:
			pin = v[0]
		case 0xAB:
			touch = v[0]
		case 0x06: // IMPORT's private scalar, handled by the caller
		default:
			return 0, 0, 0, false
		}
	}
	if alg != pivAlgP256 && alg != pivAlgP384 {
		// RSA and the 5.7 curves are not simulated.
		return 0, 0, 0, false
	}
	return alg, pin, touch, true
}

// pivImport: IMPORT ASYMMETRIC KEY (Yubico), P1 alg, P2 slot, data
// 06 L <scalar> [AA 01 pin] [AB 01 touch]. EC keys only.
func (c *Card) pivImport(cmd command) uint16 {
	if !pivKeySlot(cmd.p2) {
		return swPIVWrongP1P2
	}
	if !c.piv.mgmtOK {
		return swPIVSecurity
	}
	m, ok := berMap(cmd.data)
	if !ok {
		return swPIVWrongData
	}
	d := m[0x06]
	delete(m, 0x06)
	m[0x80] = []byte{cmd.p1}
	alg, pin, touch, ok := keyTemplate(m)
	if !ok {
		return swPIVWrongData
	}
	pin, touch, ok = resolvePolicies(cmd.p2, pin, touch)
	if !ok {
		return swPIVWrongData
	}
	k := PIVKey{Alg: alg, Private: bytes.Clone(d), PINPolicy: pin, TouchPolicy: touch, Origin: 2}
	if _, err := k.ecdh(); err != nil {
		return swPIVWrongData
	}
	return c.commit(func(st *State) uint16 { st.PIV.Keys[refKey(cmd.p2)] = k; return oath.SWOK })
}

// pivGeneralAuth: GENERAL AUTHENTICATE, P1 algorithm, P2 key reference,
// data 7C L <80 witness | 81 challenge | 82 response | 85 exponentiation>.
func (c *Card) pivGeneralAuth(ctx context.Context, cmd command, fresh bool) ([]byte, uint16, error) {
	dyn, ok := berOnly(cmd.data, 0x7C)
	if !ok {
		return nil, swPIVWrongData, nil
	}
	m, ok := berMap(dyn)
	if !ok {
		return nil, swPIVWrongData, nil
	}
	if cmd.p2 == pivRefMgmt {
		return c.pivMgmtAuth(ctx, cmd.p1, m)
	}
	if !pivKeySlot(cmd.p2) {
		return nil, swPIVWrongP1P2, nil
	}
	k, ok := c.st.PIV.key(cmd.p2)
	if !ok || k.Alg != cmd.p1 {
		return nil, swPIVWrongData, nil // ykman reads 6A80 as "no key"
	}
	resp, hasResp := m[0x82]
	chal, hasChal := m[0x81]
	peer, hasPeer := m[0x85]
	if !hasResp || len(resp) != 0 || hasChal == hasPeer || len(m) != 2 {
		return nil, swPIVWrongData, nil
	}
	priv, err := k.ecdh()
	if err != nil {
		return nil, oath.SWGenericError, nil
	}
	size := len(k.Private)
	var peerKey *ecdh.PublicKey
	if hasPeer {
		// Uncompressed points only; NewPublicKey refuses points off the curve.
		if len(peer) != 1+2*size || peer[0] != 0x04 {
			return nil, swPIVWrongData, nil
		}
		if peerKey, err = priv.Curve().NewPublicKey(peer); err != nil {
			return nil, swPIVWrongData, nil
		}
	} else if len(chal) == 0 || len(chal) > size {
		return nil, swPIVWrongData, nil
	}
	switch k.PINPolicy {
	case pinPolicyOnce:
		if !c.piv.pinOK {
			return nil, swPIVSecurity, nil
		}
	case pinPolicyAlways:
		if !c.piv.pinOK || !fresh {
			return nil, swPIVSecurity, nil
		}
	}
	if sw, err := c.pivTouch(ctx, cmd.p2, k.TouchPolicy); err != nil || sw != oath.SWOK {
		return nil, sw, err
	}
	var out []byte
	if hasPeer {
		if out, err = priv.ECDH(peerKey); err != nil {
			return nil, swPIVWrongData, nil
		}
	} else {
		if out, err = signDigest(c.rand, k, chal); err != nil {
			return nil, oath.SWGenericError, nil
		}
	}
	return appendBER(nil, 0x7C, appendBER(nil, 0x82, out)), oath.SWOK, nil
}

// pivTouch waits for the simulated user's touch unless the policy or the
// touch cache (15 s per key) makes it unnecessary. ref 9B is the
// management key with touch (asked at every authentication).
func (c *Card) pivTouch(ctx context.Context, ref, policy byte) (uint16, error) {
	now := pivClock()
	switch policy {
	case touchPolicyAlways:
	case touchPolicyCached:
		if t, ok := c.piv.touched[ref]; ok && now.Sub(t) < pivTouchCacheLimit && !now.Before(t) {
			return oath.SWOK, nil
		}
	default:
		return oath.SWOK, nil
	}
	c.stats.PIVTouches++
	sw, err := c.waitTouch(ctx)
	if err != nil || sw != oath.SWOK {
		return sw, err
	}
	if policy == touchPolicyCached {
		if c.piv.touched == nil {
			c.piv.touched = map[byte]time.Time{}
		}
		c.piv.touched[ref] = pivClock()
	}
	return oath.SWOK, nil
}

// mgmtCipher is the management key's block cipher (one ECB block per step).
func mgmtCipher(alg byte, key []byte) (cipher.Block, error) {
	if alg == pivAlg3DES {
		return des.NewTripleDESCipher(key)
	}
	return aes.NewCipher(key)
}

// pivMgmtAuth is the mutual authentication with the management key (piv.md
// "Management key"): step 1 `80 00` → the card's encrypted witness; step 2
// `80 <W> 81 <C>` → `82 E_K(C)` if W was right.
func (c *Card) pivMgmtAuth(ctx context.Context, alg byte, m map[uint32][]byte) ([]byte, uint16, error) {
	p := c.st.PIV
	if alg != p.MgmtAlg {
		return nil, swPIVWrongP1P2, nil
	}
	block, err := mgmtCipher(p.MgmtAlg, p.MgmtKey)
	if err != nil {
		return nil, oath.SWGenericError, nil
	}
	b := block.BlockSize()
	wit, hasWit := m[0x80]
	chal, hasChal := m[0x81]
	switch {
	case hasWit && len(wit) == 0 && len(m) == 1:
		c.piv.mgmtOK = false
		w := make([]byte, b)
		if _, err := io.ReadFull(c.rand, w); err != nil {
			return nil, oath.SWGenericError, nil
		}
		c.piv.witness = w
		enc := make([]byte, b)
		block.Encrypt(enc, w)
		return appendBER(nil, 0x7C, appendBER(nil, 0x80, enc)), oath.SWOK, nil
	case hasWit && hasChal && len(m) == 2:
		want := c.piv.witness
		c.piv.witness, c.piv.mgmtOK = nil, false
		if want == nil || len(wit) != b || len(chal) != b || subtle.ConstantTimeCompare(wit, want) != 1 {
			return nil, swPIVSecurity, nil
		}
		if p.MgmtTouch {
			if sw, err := c.pivTouch(ctx, pivRefMgmt, touchPolicyAlways); err != nil || sw != oath.SWOK {
				return nil, sw, err
			}
		}
		c.piv.mgmtOK = true
		enc := make([]byte, b)
		block.Encrypt(enc, chal)
		return appendBER(nil, 0x7C, appendBER(nil, 0x82, enc)), oath.SWOK, nil
	}
	c.piv.witness, c.piv.mgmtOK = nil, false
	return nil, swPIVWrongData, nil
}

// pivDataTag reads GET/PUT DATA's `5C L <tag>` (3 bytes, or 7E).
func pivDataTag(v []byte) (uint32, bool) {
	switch len(v) {
	case 1:
		return uint32(v[0]), v[0] == 0x7E
	case 2:
		t := uint32(v[0])<<8 | uint32(v[1])
		return t, t == 0x7F61
	case 3:
		t := uint32(v[0])<<16 | uint32(v[1])<<8 | uint32(v[2])
		return t, pivObjectTag(t)
	}
	return 0, false
}

// pivGetData: GET DATA, `5C L tag` → `53 L content` (Discovery: its 7E
// template). Absent objects answer exactly 6A82: ykman 4.0.9 relies on it.
func (c *Card) pivGetData(cmd command) ([]byte, uint16) {
	if uint16(cmd.p1)<<8|uint16(cmd.p2) != pivDataP1P2 {
		return nil, swPIVWrongP1P2
	}
	v, ok := berOnly(cmd.data, 0x5C)
	if !ok {
		return nil, swPIVWrongData
	}
	tag, ok := pivDataTag(v)
	if !ok {
		return nil, swPIVNotFound
	}
	if tag == 0x7E {
		return bytes.Clone(pivDiscovery), oath.SWOK
	}
	if pivPINProtected(tag) && !c.piv.pinOK {
		return nil, swPIVSecurity
	}
	if tag == 0x5FFF01 {
		if sw := c.ensureAttest(); sw != oath.SWOK {
			return nil, sw
		}
	}
	content, ok := c.st.PIV.Objects[objKey(tag)]
	if !ok {
		return nil, swPIVNotFound
	}
	return appendBER(nil, 0x53, content), oath.SWOK
}

// pivPutData: PUT DATA, `5C L tag 53 L content`; `53 00` deletes.
func (c *Card) pivPutData(cmd command) uint16 {
	if uint16(cmd.p1)<<8|uint16(cmd.p2) != pivDataP1P2 {
		return swPIVWrongP1P2
	}
	if !c.piv.mgmtOK {
		return swPIVSecurity
	}
	items, ok := parseBER(cmd.data)
	if !ok || len(items) != 2 || items[0].tag != 0x5C || items[1].tag != 0x53 {
		return swPIVWrongData
	}
	tag, ok := pivDataTag(items[0].value)
	if !ok || tag == 0x7E {
		return swPIVWrongData
	}
	content := items[1].value
	if len(content) > pivMaxObject {
		return swPIVNoSpace
	}
	if tag == 0x5FFF01 {
		if sw := c.ensureAttest(); sw != oath.SWOK {
			return sw
		}
	}
	return c.commit(func(st *State) uint16 {
		if len(content) == 0 {
			delete(st.PIV.Objects, objKey(tag))
		} else {
			st.PIV.Objects[objKey(tag)] = bytes.Clone(content)
		}
		return oath.SWOK
	})
}

// pivMetadata: GET METADATA (Yubico), P2 the reference. TLVs 01 algorithm,
// 02 policy, 03 origin, 04 public key, 05 is-default, 06 retries.
func (c *Card) pivMetadata(cmd command) ([]byte, uint16) {
	p := c.st.PIV
	if cmd.p1 != 0 {
		return nil, swPIVWrongP1P2
	}
	ref := cmd.p2
	var out []byte
	isDefault := func(d bool) []byte {
		if d {
			return []byte{1}
		}
		return []byte{0}
	}
	switch {
	case ref == pivRefPIN || ref == pivRefPUK:
		lim, tries, def := p.PINMax, p.PINTries, bytes.Equal(p.PIN, pivDefaultPIN)
		if ref == pivRefPUK {
			lim, tries, def = p.PUKMax, p.PUKTries, bytes.Equal(p.PUK, pivDefaultPUK)
		}
		out = appendBER(out, 0x01, []byte{0xFF})
		out = appendBER(out, 0x05, isDefault(def))
		out = appendBER(out, 0x06, []byte{byte(lim), byte(tries)})
	case ref == pivRefMgmt:
		touch := byte(touchPolicyNever)
		if p.MgmtTouch {
			touch = touchPolicyAlways
		}
		out = appendBER(out, 0x01, []byte{p.MgmtAlg})
		out = appendBER(out, 0x02, []byte{0x00, touch})
		out = appendBER(out, 0x05, isDefault(bytes.Equal(p.MgmtKey, pivDefaultMgmtKey)))
	case pivKeySlot(ref) || ref == pivRefAttest:
		if ref == pivRefAttest {
			if sw := c.ensureAttest(); sw != oath.SWOK {
				return nil, sw
			}
			p = c.st.PIV
		}
		k, ok := p.key(ref)
		if !ok {
			return nil, swPIVRefNotFound
		}
		priv, err := k.ecdh()
		if err != nil {
			return nil, oath.SWGenericError
		}
		out = appendBER(out, 0x01, []byte{k.Alg})
		out = appendBER(out, 0x02, []byte{k.PINPolicy, k.TouchPolicy})
		out = appendBER(out, 0x03, []byte{k.Origin})
		out = appendBER(out, 0x04, appendBER(nil, 0x86, priv.PublicKey().Bytes()))
	default:
		return nil, swPIVRefNotFound
	}
	return out, oath.SWOK
}

// pivSetRetries: SET PIN RETRIES (Yubico), P1 PIN tries, P2 PUK tries;
// needs the management key and the PIN; resets both to their defaults.
func (c *Card) pivSetRetries(cmd command) uint16 {
	if !c.piv.mgmtOK || !c.piv.pinOK {
		return swPIVSecurity
	}
	if cmd.p1 == 0 || cmd.p2 == 0 {
		return swPIVWrongP1P2
	}
	return c.commit(func(st *State) uint16 {
		p := st.PIV
		p.PIN, p.PUK = bytes.Clone(pivDefaultPIN), bytes.Clone(pivDefaultPUK)
		p.PINMax, p.PINTries, p.PUKMax, p.PUKTries = int(cmd.p1), int(cmd.p1), int(cmd.p2), int(cmd.p2)
		return oath.SWOK
	})
}

// pivReset: RESET (Yubico), only with PIN and PUK both blocked. Keeps the
// attestation key and certificate.
func (c *Card) pivReset(cmd command) uint16 {
	p := c.st.PIV
	if cmd.p1 != 0 || cmd.p2 != 0 {
		return swPIVWrongP1P2
	}
	if p.PINTries != 0 || p.PUKTries != 0 {
		return swPIVConditions
	}
	sw := c.commit(func(st *State) uint16 {
		old := st.PIV
		st.PIV = newPIVState(st.Firmware)
		st.PIV.AttestRootKey, st.PIV.AttestRootCert = old.AttestRootKey, old.AttestRootCert
		if k, ok := old.key(pivRefAttest); ok {
			st.PIV.Keys[refKey(pivRefAttest)] = k
		}
		if cert, ok := old.Objects[objKey(0x5FFF01)]; ok {
			st.PIV.Objects[objKey(0x5FFF01)] = cert
		}
		return oath.SWOK
	})
	if sw == oath.SWOK {
		c.piv = pivSession{}
	}
	return sw
}

// pivSetMgmtKey: SET MANAGEMENT KEY (Yubico), P1 FF, P2 FF (or FE: touch
// required), data `alg 9B len key`.
func (c *Card) pivSetMgmtKey(cmd command) uint16 {
	if cmd.p1 != 0xFF || (cmd.p2 != 0xFF && cmd.p2 != 0xFE) {
		return swPIVWrongP1P2
	}
	if !c.piv.mgmtOK {
		return swPIVSecurity
	}
	d := cmd.data
	if len(d) < 3 || d[1] != pivRefMgmt || int(d[2]) != len(d)-3 {
		return swPIVWrongData
	}
	alg, key := d[0], d[3:]
	n, ok := mgmtKeyLen(alg)
	if !ok || len(key) != n || (alg != pivAlg3DES && !c.st.Firmware.AtLeast(fwPIVAES)) {
		return swPIVWrongData
	}
	if _, err := mgmtCipher(alg, key); err != nil {
		return swPIVWrongData
	}
	return c.commit(func(st *State) uint16 {
		st.PIV.MgmtAlg, st.PIV.MgmtKey, st.PIV.MgmtTouch = alg, bytes.Clone(key), cmd.p2 == 0xFE
		return oath.SWOK
	})
}
