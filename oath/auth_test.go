package oath

import (
	"bytes"
	"context"
	"crypto/hmac"
	"encoding/binary"
	"errors"
	"fmt"
	"testing"
	"time"
)

// miniCard is a small YKOATH applet written for these tests, independent
// of the client's encoders: it decodes commands with ParseTLVs and computes
// HMACs with crypto/hmac directly. The real software YubiKey lives in
// package simulator; see sim_test.go.
type miniCard struct {
	t         testing.TB
	salt      []byte
	chal      []byte // SELECT challenge while a password is set
	key       []byte // password key; nil = no password
	authed    bool
	creds     map[string]*miniCred
	tamper    bool // flip a bit of the VALIDATE answer
	rawTrunc  bool // answer truncated values reduced mod 10^digits (fixture style)
	lastHost  []byte
	setCodeOK int
}

type miniCred struct {
	kind    byte // type|alg
	digits  byte
	key     []byte
	counter uint64
}

func newMiniCard(t testing.TB) *miniCard {
	return &miniCard{t: t, salt: []byte{0x4B, 0xB7, 0xA7, 0xFA, 0xD7, 0xAF, 0x40, 0x1B}, creds: map[string]*miniCred{}}
}

func sw(data []byte, s uint16) []byte {
	return append(append([]byte(nil), data...), byte(s>>8), byte(s))
}

func (m *miniCard) Transmit(_ context.Context, apdu []byte) ([]byte, error) {
	if len(apdu) < 5 || int(apdu[4]) != len(apdu)-5 {
		return sw(nil, SWWrongLength), nil
	}
	ins, p1, p2, data := apdu[1], apdu[2], apdu[3], apdu[5:]
	if ins == InsSelect && p1 == 0x04 {
		m.authed = m.key == nil
		var out []byte
		out = AppendTLV(out, TagVersion, []byte{5, 4, 3})
		out = AppendTLV(out, TagName, m.salt)
		if m.key != nil {
			m.chal = []byte{9, 8, 7, 6, 5, 4, 3, 2}
			out = AppendTLV(out, TagChallenge, m.chal)
			out = AppendTLV(out, TagAlgorithm, []byte{byte(SHA1)})
		}
		return sw(out, SWOK), nil
	}
	tlvs, err := ParseTLVs(data)
	if err != nil {
		return sw(nil, SWWrongSyntax), nil
	}
	get := func(tag byte) []byte { return findTLV(tlvs, tag) }
	if !m.authed && ins != InsValidate && ins != InsReset {
		return sw(nil, SWAuthRequired), nil
	}
	mac := func(key, msg []byte) []byte {
		h := hmac.New(Algorithm(0x01).hash(), key)
		h.Write(msg)
		return h.Sum(nil)
	}
	switch ins {
	case InsValidate:
		if m.key == nil {
			return sw(nil, SWNoSuchObject), nil
		}
		if !hmac.Equal(get(TagResponse), mac(m.key, m.chal)) {
			return sw(nil, SWWrongSyntax), nil
		}
		host := get(TagChallenge)
		m.lastHost = host
		ans := mac(m.key, host)
		if m.tamper {
			ans[0] ^= 1
		}
		m.authed = true
		return sw(AppendTLV(nil, TagResponse, ans), SWOK), nil
	case InsSetCode:
		k := get(TagKey)
		if len(k) == 0 {
			m.key = nil
			return sw(nil, SWOK), nil
		}
		if len(k) != 17 || (k[0] != 0x21 && k[0] != 0x01) {
			return sw(nil, SWWrongSyntax), nil
		}
		if !hmac.Equal(get(TagResponse), mac(k[1:], get(TagChallenge))) {
			return sw(nil, SWNoSuchObject), nil
		}
		m.key = append([]byte(nil), k[1:]...)
		m.setCodeOK++
		return sw(nil, SWOK), nil
	case InsPut:
		k := get(TagKey)
		if len(k) < 2 {
			return sw(nil, SWWrongSyntax), nil
		}
		c := &miniCred{kind: k[0], digits: k[1], key: append([]byte(nil), k[2:]...)}
		if imf := get(TagIMF); imf != nil {
			c.counter = uint64(binary.BigEndian.Uint32(imf))
		}
		m.creds[string(get(TagName))] = c
		return sw(nil, SWOK), nil
	case InsCalculate:
		c := m.creds[string(get(TagName))]
		if c == nil {
			return sw(nil, SWNoSuchObject), nil
		}
		msg := get(TagChallenge)
		if Type(c.kind&0xF0) == HOTP {
			msg = binary.BigEndian.AppendUint64(nil, c.counter)
			c.counter++
		}
		h := hmac.New(Algorithm(c.kind&0x0F).hash(), c.key)
		h.Write(msg)
		full := h.Sum(nil)
		if p2 == 0 {
			return sw(AppendTLV(nil, TagResponse, append([]byte{c.digits}, full...)), SWOK), nil
		}
		off := full[len(full)-1] & 0x0F
		v := binary.BigEndian.Uint32(full[off:]) & 0x7FFFFFFF
		if m.rawTrunc {
			mod := uint32(1)
			for range c.digits {
				mod *= 10
			}
			v %= mod
		}
		return sw(AppendTLV(nil, TagTruncated, binary.BigEndian.AppendUint32([]byte{c.digits}, v)), SWOK), nil
	case InsList:
		var out []byte
		for name, c := range m.creds {
			out = AppendTLV(out, TagNameList, append([]byte{c.kind}, name...))
		}
		return sw(out, SWOK), nil
	}
	return sw(nil, SWInsNotSupported), nil
}

func TestPassword(t *testing.T) {
	ctx := context.Background()
	card := newMiniCard(t)
	c := NewClient(card)

	if err := c.Validate(ctx, make([]byte, 16)); !errors.Is(err, ErrNotSelected) {
		t.Errorf("Validate before SELECT: %v", err)
	}
	info, err := c.Select(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.Locked() || !c.Authenticated() {
		t.Fatal("fresh card locked")
	}
	if err := c.Validate(ctx, make([]byte, 16)); !errors.Is(err, ErrNoPassword) {
		t.Errorf("Validate without password: %v", err)
	}
	key := DeriveKey("hunter2", info.Salt)
	if err := c.SetCode(ctx, key); err != nil {
		t.Fatalf("SetCode: %v", err)
	}
	if !bytes.Equal(card.key, key) || card.setCodeOK != 1 {
		t.Fatalf("card key %x, want %x", card.key, key)
	}

	// Reselect: locked; LIST needs authentication.
	if info, err = c.Select(ctx); err != nil || !info.Locked() || c.Authenticated() {
		t.Fatalf("Select after SetCode: %+v, %v", info, err)
	}
	if _, err := c.List(ctx); !errors.Is(err, ErrAuthRequired) || errors.Is(err, ErrTouchTimeout) {
		t.Errorf("List while locked: %v", err)
	}
	if err := c.Unlock(ctx, "wrong"); !errors.Is(err, ErrWrongPassword) || err.Error() != "oath: validate: card answered 6A80 (wrong password)" {
		t.Errorf("Unlock with a wrong password: %v", err)
	}
	if c.Authenticated() {
		t.Error("authenticated after a wrong password")
	}
	if err := c.Unlock(ctx, "hunter2"); err != nil {
		t.Fatalf("Unlock: %v", err)
	}
	if !c.Authenticated() || len(card.lastHost) != 8 {
		t.Errorf("Authenticated = %v, host challenge %x", c.Authenticated(), card.lastHost)
	}
	if _, err := c.List(ctx); err != nil {
		t.Errorf("List after Unlock: %v", err)
	}

	// Mutual authentication: a card that cannot prove it knows the key.
	card.tamper = true
	if _, err := c.Select(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Unlock(ctx, "hunter2"); !errors.Is(err, ErrBadCardResponse) {
		t.Errorf("tampered VALIDATE answer: %v", err)
	}
	if c.Authenticated() {
		t.Error("authenticated after a tampered answer")
	}
	card.tamper = false

	// Clear the password.
	if _, err := c.Select(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Unlock(ctx, "hunter2"); err != nil {
		t.Fatal(err)
	}
	if err := c.ClearCode(ctx); err != nil {
		t.Fatal(err)
	}
	if info, err = c.Select(ctx); err != nil || info.Locked() {
		t.Errorf("after ClearCode: %+v, %v", info, err)
	}
	if err := c.Unlock(ctx, "anything"); err != nil {
		t.Errorf("Unlock without a password: %v", err)
	}
}

func TestValidateAnswers(t *testing.T) {
	key := DeriveKey("foobar", make([]byte, 8))
	chal := []byte{1, 2, 3, 4, 5, 6, 7, 8}
	host := bytes.Repeat([]byte{0xAA}, 8)
	good := hmacSum(SHA1, key, host)
	tests := []struct {
		name   string
		answer []byte
		want   error
	}{
		{"good", sw(AppendTLV(nil, TagResponse, good), SWOK), nil},
		{"flipped bit", sw(AppendTLV(nil, TagResponse, append([]byte{good[0] ^ 0x80}, good[1:]...)), SWOK), ErrBadCardResponse},
		{"short", sw(AppendTLV(nil, TagResponse, good[:19]), SWOK), ErrBadCardResponse},
		{"missing", sw(nil, SWOK), ErrBadCardResponse},
		{"echo of our response", sw(AppendTLV(nil, TagResponse, hmacSum(SHA1, key, chal)), SWOK), ErrBadCardResponse},
		{"garbage", sw([]byte{0x75, 0x30, 1}, SWOK), ErrBadCardResponse},
		{"wrong password", sw(nil, SWWrongSyntax), ErrWrongPassword},
		{"no password", sw(nil, SWNoSuchObject), ErrNoPassword},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			script := selectAPDU + "\n< 79 03 05 02 04 71 08 0000000000000000 74 08 0102030405060708 7B 01 01 9000\n" +
				fmt.Sprintf("> 00 A3 00 00 20 75 14 %X 74 08 %X\n< %X", hmacSum(SHA1, key, chal), host, tc.answer)
			c := NewClient(newReplay(t, script), WithRand(fixedRand(0xAA)))
			if _, err := c.Select(context.Background()); err != nil {
				t.Fatal(err)
			}
			err := c.Validate(context.Background(), key)
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Errorf("Validate = %v, want %v", err, tc.want)
			}
			if c.Authenticated() != (tc.want == nil) {
				t.Errorf("Authenticated = %v", c.Authenticated())
			}
		})
	}
}

// TestSetCodeAPDU pins the SET CODE encoding ykman uses.
func TestSetCodeAPDU(t *testing.T) {
	key := DeriveKey("foobar", make([]byte, 8))
	chal := bytes.Repeat([]byte{0x5A}, 8)
	script := fmt.Sprintf("> 00 03 00 00 33 73 11 21 %X 74 08 %X 75 14 %X\n< 9000", key, chal, hmacSum(SHA1, key, chal))
	if err := NewClient(newReplay(t, script), WithRand(fixedRand(0x5A))).SetCode(context.Background(), key); err != nil {
		t.Fatal(err)
	}
}

// RFC 4226 Appendix D and RFC 6238 Appendix B, computed by miniCard.
func TestRFCVectors(t *testing.T) {
	ctx := context.Background()
	for _, reduced := range []bool{false, true} {
		card := newMiniCard(t)
		card.rawTrunc = reduced
		c := NewClient(card)
		if _, err := c.Select(ctx); err != nil {
			t.Fatal(err)
		}
		secret20 := []byte("12345678901234567890")
		secret32 := []byte("12345678901234567890123456789012")
		secret64 := []byte("1234567890123456789012345678901234567890123456789012345678901234")
		puts := []PutRequest{
			{Name: "hotp", Type: HOTP, Algorithm: SHA1, Digits: 6, Key: secret20},
			{Name: "sha1", Type: TOTP, Algorithm: SHA1, Digits: 8, Key: secret20},
			{Name: "sha256", Type: TOTP, Algorithm: SHA256, Digits: 8, Key: secret32},
			{Name: "sha512", Type: TOTP, Algorithm: SHA512, Digits: 8, Key: secret64},
			{Name: "hotp5", Type: HOTP, Algorithm: SHA1, Digits: 6, Key: secret20, Counter: 5},
		}
		for _, p := range puts {
			if err := c.Put(ctx, p); err != nil {
				t.Fatal(err)
			}
		}
		hotp := []string{"755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871", "520489"}
		for i, want := range hotp {
			// The card advances its counter on every CALCULATE: each
			// counter value is asked once, alternating full and truncated
			// answers (only truncated ones for the reduced fixture).
			truncate := reduced || i%2 == 0
			var r Response
			var err error
			if truncate {
				r, err = c.CalculateHOTP(ctx, "hotp")
			} else {
				r, err = c.Calculate(ctx, "hotp", nil, false)
			}
			if err != nil || r.Code() != want {
				t.Errorf("HOTP count %d (truncate %v, reduced %v): %q, %v; want %s", i, truncate, reduced, r.Code(), err, want)
			}
			if truncate && !reduced && r.Truncated < 1_000_000 {
				t.Errorf("HOTP count %d: raw truncation %d looks reduced", i, r.Truncated)
			}
		}
		if r, err := c.CalculateHOTP(ctx, "hotp5"); err != nil || r.Code() != "254676" {
			t.Errorf("HOTP with IMF 5: %q, %v", r.Code(), err)
		}
		totp := []struct {
			unix                 int64
			sha1, sha256, sha512 string
		}{
			{59, "94287082", "46119246", "90693936"},
			{1111111109, "07081804", "68084774", "25091201"},
			{1111111111, "14050471", "67062674", "99943326"},
			{1234567890, "89005924", "91819424", "93441116"},
			{2000000000, "69279037", "90698825", "38618901"},
			{20000000000, "65353130", "77737706", "47863826"},
		}
		for _, v := range totp {
			chal := TOTPChallenge(time.Unix(v.unix, 0), 30*time.Second)
			for name, want := range map[string]string{"sha1": v.sha1, "sha256": v.sha256, "sha512": v.sha512} {
				for _, truncate := range []bool{true, false} {
					r, err := c.Calculate(ctx, name, chal, truncate)
					if err != nil || r.Code() != want {
						t.Errorf("TOTP %s T=%d truncate=%v reduced=%v: %q, %v; want %s", name, v.unix, truncate, reduced, r.Code(), err, want)
					}
				}
			}
		}
	}
}
