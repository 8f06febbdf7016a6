package simulator

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/binary"
	"hash"
	"io"
	"os"
	"time"

	"github.com/mfabridge/mfabridge/oath"
)

const challengeLen = 8

func (c *Card) locked() bool { return len(c.st.PasswordKey) != 0 && !c.authed }

// oathSelect answers 79 version, 71 salt and, with a password, 74 challenge
// and 7B algorithm. Every SELECT issues a fresh challenge.
func (c *Card) oathSelect() ([]byte, uint16) {
	fw := c.st.Firmware
	out := oath.AppendTLV(nil, oath.TagVersion, []byte{fw.Major, fw.Minor, fw.Patch})
	out = oath.AppendTLV(out, oath.TagName, c.st.Salt)
	if len(c.st.PasswordKey) != 0 {
		chal := make([]byte, challengeLen)
		if _, err := io.ReadFull(c.rand, chal); err != nil {
			c.selected = appletNone
			return nil, oath.SWGenericError
		}
		c.challenge = chal
		out = oath.AppendTLV(out, oath.TagChallenge, chal)
		out = oath.AppendTLV(out, oath.TagAlgorithm, []byte{byte(oath.SHA1)})
	}
	return out, oath.SWOK
}

// p1p2Zero reports whether an instruction that takes no parameters got
// P1 = P2 = 00. Yubico's reference applet answers 6B00 otherwise for PUT,
// DELETE, SET CODE, LIST and VALIDATE (issue 13 case 23: the simulator
// accepted any P1/P2); RENAME, which came later, is held to the same rule.
func p1p2Zero(cmd command) bool { return cmd.p1 == 0 && cmd.p2 == 0 }

func (c *Card) oathCommand(ctx context.Context, cmd command) ([]byte, uint16, error) {
	switch cmd.ins {
	case oath.InsValidate:
		if !p1p2Zero(cmd) {
			return nil, oath.SWWrongP1P2, nil
		}
		data, sw := c.oathValidate(cmd)
		return data, sw, nil
	case oath.InsReset:
		return nil, c.oathReset(cmd), nil
	case oath.InsPut, oath.InsDelete, oath.InsSetCode, oath.InsRename,
		oath.InsList, oath.InsCalculate, oath.InsCalculateAll:
		// As in the reference, authentication is checked before P1/P2.
		if c.locked() {
			return nil, oath.SWAuthRequired, nil
		}
		if cmd.ins != oath.InsCalculate && cmd.ins != oath.InsCalculateAll && !p1p2Zero(cmd) {
			return nil, oath.SWWrongP1P2, nil
		}
	default:
		return nil, oath.SWInsNotSupported, nil
	}
	switch cmd.ins {
	case oath.InsPut:
		return nil, c.oathPut(cmd), nil
	case oath.InsDelete:
		return nil, c.oathDelete(cmd), nil
	case oath.InsSetCode:
		return nil, c.oathSetCode(cmd), nil
	case oath.InsRename:
		return nil, c.oathRename(cmd), nil
	case oath.InsList:
		return c.oathList(), oath.SWOK, nil
	case oath.InsCalculate:
		return c.oathCalculate(ctx, cmd)
	default: // oath.InsCalculateAll
		data, sw := c.oathCalculateAll(cmd)
		return data, sw, nil
	}
}

// tlvs parses data into a tag → values map, keeping the order of repeated
// tags. ok is false on malformed TLVs.
func tlvs(data []byte) (map[byte][][]byte, bool) {
	items, err := oath.ParseTLVs(data)
	if err != nil {
		return nil, false
	}
	m := make(map[byte][][]byte, len(items))
	for _, it := range items {
		m[it.Tag] = append(m[it.Tag], it.Value)
	}
	return m, true
}

// one returns the single value of tag, or ok=false when it is absent or
// repeated.
func one(m map[byte][][]byte, tag byte) ([]byte, bool) {
	if len(m[tag]) != 1 {
		return nil, false
	}
	return m[tag][0], true
}

func onlyTags(m map[byte][][]byte, allowed ...byte) bool {
	for tag := range m {
		ok := false
		for _, a := range allowed {
			ok = ok || tag == a
		}
		if !ok {
			return false
		}
	}
	return true
}

func validName(name []byte) bool { return len(name) >= 1 && len(name) <= oath.MaxNameLen }

// oathPut: 71 name, 73 <type|alg> <digits> <key>, optional 78 prop, 7A imf.
func (c *Card) oathPut(cmd command) uint16 {
	m, ok := tlvs(cmd.data)
	if !ok || !onlyTags(m, oath.TagName, oath.TagKey, oath.TagProperty, oath.TagIMF) {
		return oath.SWWrongSyntax
	}
	name, ok1 := one(m, oath.TagName)
	key, ok2 := one(m, oath.TagKey)
	if !ok1 || !ok2 || !validName(name) || len(key) < 2 || len(m[oath.TagProperty]) > 1 || len(m[oath.TagIMF]) > 1 {
		return oath.SWWrongSyntax
	}
	cred := Credential{
		Name:      string(name),
		Type:      oath.Type(key[0] & 0xF0),
		Algorithm: oath.Algorithm(key[0] & 0x0F),
		Digits:    int(key[1]),
		Key:       append(HexBytes{}, key[2:]...),
	}
	if p, ok := one(m, oath.TagProperty); ok {
		cred.Props = p[0]
	}
	if imf, ok := one(m, oath.TagIMF); ok {
		if len(imf) != 4 {
			return oath.SWWrongSyntax
		}
		cred.Counter = uint64(binary.BigEndian.Uint32(imf))
	}
	if checkCredential(cred, c.st.Firmware) != nil {
		return oath.SWWrongSyntax
	}
	return c.commit(func(st *State) uint16 {
		if i := st.find(name); i >= 0 {
			st.Credentials[i] = cred // same name overwrites, in place
			return oath.SWOK
		}
		// Capacity: MaxCredentials (32), what Yubico documents for the
		// YubiKey 5's OATH applet, whatever the names' length. The reference
		// applet instead refuses a PUT that would make its LIST answer exceed
		// its 2048-byte send buffer (32 names of 64 bytes need 2144); a
		// YubiKey 5 is known to hold 32 such names, so the count decides
		// here (issue 13 case 23).
		if len(st.Credentials) >= MaxCredentials {
			return oath.SWNoSpace
		}
		st.Credentials = append(st.Credentials, cred)
		return oath.SWOK
	})
}

func (c *Card) oathDelete(cmd command) uint16 {
	m, ok := tlvs(cmd.data)
	name, ok1 := one(m, oath.TagName)
	if !ok || !ok1 || !onlyTags(m, oath.TagName) {
		return oath.SWWrongSyntax
	}
	return c.commit(func(st *State) uint16 {
		i := st.find(name)
		if i < 0 {
			return oath.SWNoSuchObject
		}
		st.Credentials = append(st.Credentials[:i], st.Credentials[i+1:]...)
		return oath.SWOK
	})
}

// oathRename: 71 old, 71 new (firmware 5.3.1+).
func (c *Card) oathRename(cmd command) uint16 {
	if !c.st.Firmware.AtLeast(fwRename) {
		return oath.SWInsNotSupported
	}
	m, ok := tlvs(cmd.data)
	if !ok || !onlyTags(m, oath.TagName) || len(m[oath.TagName]) != 2 {
		return oath.SWWrongSyntax
	}
	from, to := m[oath.TagName][0], m[oath.TagName][1]
	if !validName(to) {
		return oath.SWWrongSyntax
	}
	return c.commit(func(st *State) uint16 {
		i := st.find(from)
		if i < 0 {
			return oath.SWNoSuchObject
		}
		if st.find(to) >= 0 {
			return oath.SWWrongSyntax
		}
		st.Credentials[i].Name = string(to)
		return oath.SWOK
	})
}

// oathSetCode sets (73 <alg> <key>, 74 chal, 75 HMAC(key, chal)) or clears
// (73 00) the password.
func (c *Card) oathSetCode(cmd command) uint16 {
	m, ok := tlvs(cmd.data)
	if !ok || !onlyTags(m, oath.TagKey, oath.TagChallenge, oath.TagResponse) {
		return oath.SWWrongSyntax
	}
	key, ok := one(m, oath.TagKey)
	if !ok {
		return oath.SWWrongSyntax
	}
	if len(key) == 0 {
		return c.commit(func(st *State) uint16 {
			st.PasswordKey = nil
			return oath.SWOK
		})
	}
	chal, ok1 := one(m, oath.TagChallenge)
	resp, ok2 := one(m, oath.TagResponse)
	// The type byte is 0x21 from ykman (TOTP|SHA1) and 0x01 from other
	// clients; only SHA1 passwords exist.
	if !ok1 || !ok2 || (key[0] != 0x21 && key[0] != 0x01) || len(key) != 17 || len(chal) == 0 {
		return oath.SWWrongSyntax
	}
	pw := append(HexBytes{}, key[1:]...)
	if !hmac.Equal(resp, hmacSum(oath.SHA1, pw, chal)) {
		return oath.SWNoSuchObject
	}
	sw := c.commit(func(st *State) uint16 {
		st.PasswordKey = pw
		return oath.SWOK
	})
	if sw == oath.SWOK {
		// The client has just proved it knows the key: the session stays open.
		c.authed = true
	}
	return sw
}

// oathValidate: 75 HMAC(key, select challenge), 74 host challenge →
// 75 HMAC(key, host challenge).
func (c *Card) oathValidate(cmd command) ([]byte, uint16) {
	if len(c.st.PasswordKey) == 0 {
		return nil, oath.SWNoSuchObject
	}
	m, ok := tlvs(cmd.data)
	if !ok {
		return nil, oath.SWWrongSyntax
	}
	resp, ok1 := one(m, oath.TagResponse)
	chal, ok2 := one(m, oath.TagChallenge)
	if !ok1 || !ok2 || len(chal) == 0 || c.challenge == nil {
		return nil, oath.SWWrongSyntax
	}
	if !hmac.Equal(resp, hmacSum(oath.SHA1, c.st.PasswordKey, c.challenge)) {
		c.authed = false
		return nil, oath.SWWrongSyntax
	}
	c.authed = true
	return oath.AppendTLV(nil, oath.TagResponse, hmacSum(oath.SHA1, c.st.PasswordKey, chal)), oath.SWOK
}

// oathReset wipes the applet: new salt, no credentials, no password.
func (c *Card) oathReset(cmd command) uint16 {
	if cmd.p1 != 0xDE || cmd.p2 != 0xAD {
		return oath.SWWrongP1P2
	}
	salt := make([]byte, saltLen)
	if _, err := io.ReadFull(c.rand, salt); err != nil {
		return oath.SWGenericError
	}
	sw := c.commit(func(st *State) uint16 {
		st.Salt = salt
		st.PasswordKey = nil
		st.Credentials = []Credential{}
		return oath.SWOK
	})
	if sw == oath.SWOK {
		c.authed = false
		c.challenge = nil
	}
	return sw
}

// oathList answers 72 (len+1) <type|alg> <name> per credential.
func (c *Card) oathList() []byte {
	var out []byte
	for _, cr := range c.st.Credentials {
		v := append([]byte{byte(cr.Type) | byte(cr.Algorithm)}, cr.Name...)
		out = oath.AppendTLV(out, oath.TagNameList, v)
	}
	return out
}

// oathCalculate: 71 name, 74 challenge; P2 00 full, 01 truncated.
func (c *Card) oathCalculate(ctx context.Context, cmd command) ([]byte, uint16, error) {
	if cmd.p1 != 0 || cmd.p2 > 1 {
		return nil, oath.SWWrongP1P2, nil
	}
	m, ok := tlvs(cmd.data)
	if !ok || !onlyTags(m, oath.TagName, oath.TagChallenge) {
		return nil, oath.SWWrongSyntax, nil
	}
	name, ok := one(m, oath.TagName)
	if !ok {
		return nil, oath.SWWrongSyntax, nil
	}
	i := c.st.find(name)
	if i < 0 {
		return nil, oath.SWNoSuchObject, nil
	}
	cred := c.st.Credentials[i]
	chal, hasChal := one(m, oath.TagChallenge)
	if cred.Type == oath.TOTP && !hasChal {
		return nil, oath.SWWrongSyntax, nil
	}
	if cred.Increasing() && challengeLess(chal, cred.LastChallenge) {
		return nil, oath.SWAuthRequired, nil // as the applet: 6982
	}
	if cred.Touch() {
		if sw, err := c.waitTouch(ctx); err != nil || sw != oath.SWOK {
			return nil, sw, err
		}
	}
	if cred.Increasing() && !bytes.Equal(chal, cred.LastChallenge) {
		if sw := c.commit(func(st *State) uint16 {
			st.Credentials[i].LastChallenge = bytes.Clone(chal)
			return oath.SWOK
		}); sw != oath.SWOK {
			return nil, sw, nil
		}
	}
	if cred.Type == oath.HOTP {
		// The card's own counter, not the host challenge (ykman sends 74 00).
		chal = binary.BigEndian.AppendUint64(nil, cred.Counter)
		if sw := c.commit(func(st *State) uint16 {
			st.Credentials[i].Counter++
			return oath.SWOK
		}); sw != oath.SWOK {
			return nil, sw, nil
		}
	}
	return codeTLV(cred, chal, cmd.p2 == 1), oath.SWOK, nil
}

// waitTouch plays the simulated user. It holds the card's lock, as a real
// key is busy while it blinks.
func (c *Card) waitTouch(ctx context.Context) (uint16, error) {
	if c.touchFunc != nil {
		switch touched, err := c.touchFunc(ctx); {
		case err != nil:
			return 0, err
		case !touched:
			return oath.SWAuthRequired, nil
		}
		return oath.SWOK, nil
	}
	p := c.touchPolicy()
	if p.Mode == "" || p.Mode == TouchApprove {
		return oath.SWOK, nil
	}
	if p.Mode == TouchRelease {
		c.logger().Debug("simulator: waiting for touch", "mode", p.Mode, "release", p.Release)
		return waitRelease(ctx, p.Release)
	}
	c.logger().Debug("simulator: waiting for touch", "mode", p.Mode, "delay", p.Delay)
	t := time.NewTimer(p.Delay)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return 0, ctx.Err()
	case <-t.C:
	}
	if p.Mode == TouchTimeout {
		return oath.SWAuthRequired, nil
	}
	return oath.SWOK, nil
}

// waitRelease plays the user of TouchPolicy.Release: it waits until the
// test writes the release file (touched: 9000) or its ".timeout" sibling
// (not touched in time: 6982), removing the one it acts on. It polls: a
// file is a signal that reaches a card in another process on every system.
func waitRelease(ctx context.Context, path string) (uint16, error) {
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		// Remove succeeds for one taker only: two cards waiting on the
		// same file do not both act on it.
		if os.Remove(path) == nil {
			return oath.SWOK, nil
		}
		if os.Remove(path+".timeout") == nil {
			return oath.SWAuthRequired, nil
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-tick.C:
		}
	}
}

// oathCalculateAll: 74 challenge; per credential 71 name then 75/76 (TOTP),
// 77 (HOTP) or 7C (touch), without waiting for a touch.
func (c *Card) oathCalculateAll(cmd command) ([]byte, uint16) {
	if cmd.p1 != 0 || cmd.p2 > 1 {
		return nil, oath.SWWrongP1P2
	}
	m, ok := tlvs(cmd.data)
	if !ok || !onlyTags(m, oath.TagChallenge) {
		return nil, oath.SWWrongSyntax
	}
	chal, ok := one(m, oath.TagChallenge)
	if !ok {
		return nil, oath.SWWrongSyntax
	}
	// An only-increasing credential refuses a lower challenge, and like the
	// applet the whole command fails; the others answer.
	var raise []int
	for i, cr := range c.st.Credentials {
		if cr.Increasing() && !cr.Touch() {
			if challengeLess(chal, cr.LastChallenge) {
				return nil, oath.SWAuthRequired
			}
			if !bytes.Equal(chal, cr.LastChallenge) {
				raise = append(raise, i)
			}
		}
	}
	if len(raise) > 0 {
		if sw := c.commit(func(st *State) uint16 {
			for _, i := range raise {
				st.Credentials[i].LastChallenge = bytes.Clone(chal)
			}
			return oath.SWOK
		}); sw != oath.SWOK {
			return nil, sw
		}
	}
	var out []byte
	for _, cr := range c.st.Credentials {
		out = oath.AppendTLV(out, oath.TagName, []byte(cr.Name))
		switch {
		case cr.Touch():
			out = oath.AppendTLV(out, oath.TagTouch, []byte{byte(cr.Digits)})
		case cr.Type == oath.HOTP:
			out = oath.AppendTLV(out, oath.TagHOTP, []byte{byte(cr.Digits)})
		default:
			out = append(out, codeTLV(cr, chal, cmd.p2 == 1)...)
		}
	}
	return out, oath.SWOK
}

// challengeLess compares TOTP challenges as big-endian numbers of any
// length (leading zero bytes do not count), as the applet does.
func challengeLess(a, b []byte) bool {
	a, b = bytes.TrimLeft(a, "\x00"), bytes.TrimLeft(b, "\x00")
	if len(a) != len(b) {
		return len(a) < len(b)
	}
	return bytes.Compare(a, b) < 0
}

// codeTLV computes 75 <digits> <hmac> or, truncated, 76 05 <digits> <raw
// 31-bit value> as real keys answer (RFC 4226 5.3 without the modulo).
func codeTLV(cr Credential, msg []byte, truncate bool) []byte {
	sum := hmacSum(cr.Algorithm, cr.Key, msg)
	if !truncate {
		return oath.AppendTLV(nil, oath.TagResponse, append([]byte{byte(cr.Digits)}, sum...))
	}
	off := int(sum[len(sum)-1] & 0x0F)
	v := binary.BigEndian.Uint32(sum[off:off+4]) & 0x7FFFFFFF
	return oath.AppendTLV(nil, oath.TagTruncated, binary.BigEndian.AppendUint32([]byte{byte(cr.Digits)}, v))
}

func hmacSum(alg oath.Algorithm, key, msg []byte) []byte {
	var h func() hash.Hash
	switch alg {
	case oath.SHA256:
		h = sha256.New
	case oath.SHA512:
		h = sha512.New
	default:
		h = sha1.New
	}
	m := hmac.New(h, key)
	m.Write(msg)
	return m.Sum(nil)
}
