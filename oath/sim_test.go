package oath_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"strings"
	"testing"
	"time"

	"github.com/mfabridge/mfabridge/oath"
	"github.com/mfabridge/mfabridge/simulator"
)

// End-to-end tests of the client against the software YubiKey of package
// simulator, which implements the applet from the protocol notes
// independently of this package's encoders.

func newSim(t *testing.T, fw string, opts ...simulator.Option) (*simulator.Card, *oath.Client, *oath.SelectInfo) {
	t.Helper()
	v, err := simulator.ParseVersion(fw)
	if err != nil {
		t.Fatal(err)
	}
	st, err := simulator.NewState(12345678, v)
	if err != nil {
		t.Fatal(err)
	}
	card := simulator.New(st, opts...)
	c := oath.NewClient(card)
	info, err := c.Select(context.Background())
	if err != nil {
		t.Fatalf("Select: %v", err)
	}
	if info.VersionString() != fw {
		t.Fatalf("SELECT version %s, want %s", info.VersionString(), fw)
	}
	if !bytes.Equal(info.Salt, st.Salt) {
		t.Fatalf("SELECT salt %x, state salt %x", info.Salt, st.Salt)
	}
	return card, c, info
}

func TestSimInstructions(t *testing.T) {
	ctx := context.Background()
	card, c, info := newSim(t, "5.4.3")
	if info.Locked() || len(info.DeviceID()) != 22 {
		t.Fatalf("fresh card: %+v, id %q", info, info.DeviceID())
	}

	secret := []byte("12345678901234567890")
	puts := []oath.PutRequest{
		{Name: "Example:alice", Type: oath.TOTP, Algorithm: oath.SHA1, Digits: 6, Key: secret},
		{Name: oath.FormatName("Example", "bob60", time.Minute, oath.TOTP), Type: oath.TOTP, Algorithm: oath.SHA256, Digits: 8, Key: secret},
		{Name: "Example:counter", Type: oath.HOTP, Algorithm: oath.SHA1, Digits: 6, Key: secret, Counter: 5},
		{Name: "Example:touch", Type: oath.TOTP, Algorithm: oath.SHA1, Digits: 6, Key: secret, Touch: true},
		{Name: "short-key", Type: oath.TOTP, Algorithm: oath.SHA1, Digits: 6, Key: []byte("Hello!\xde\xad\xbe\xef")},
	}
	for _, p := range puts {
		if err := c.Put(ctx, p); err != nil {
			t.Fatalf("Put %s: %v", p.Name, err)
		}
	}
	list, err := c.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != len(puts) {
		t.Fatalf("List = %+v", list)
	}
	for i, e := range list {
		if e.Name != puts[i].Name || e.Type != puts[i].Type || e.Algorithm != puts[i].Algorithm {
			t.Errorf("List[%d] = %+v, want %+v", i, e, puts[i])
		}
	}
	// The short key was padded to 14 bytes on the card.
	if k := card.Snapshot().Credentials[4].Key; len(k) != 14 {
		t.Errorf("stored short key has %d bytes", len(k))
	}

	at := time.Unix(59, 0)
	all, err := c.CalculateAll(ctx, oath.TOTPChallenge(at, 30*time.Second), true)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"Example:alice": "287082", "short-key": ""}
	for _, e := range all {
		switch e.Name {
		case "Example:counter":
			if !e.HOTP || e.Response.Digits != 6 {
				t.Errorf("HOTP entry %+v", e)
			}
		case "Example:touch":
			if !e.Touch || e.Response.Digits != 6 {
				t.Errorf("touch entry %+v", e)
			}
		default:
			if !e.HasCode() || len(e.Response.Code()) != e.Response.Digits {
				t.Errorf("entry %+v", e)
			}
			if w := want[e.Name]; w != "" && e.Response.Code() != w {
				t.Errorf("%s: %s, want %s", e.Name, e.Response.Code(), w)
			}
		}
	}
	if len(all) != len(puts) {
		t.Errorf("CalculateAll: %d entries", len(all))
	}
	// A 60 s credential is computed with its own period, as ykman does.
	_, _, period := oath.ParseName(puts[1].Name, oath.TOTP)
	r, err := c.Calculate(ctx, puts[1].Name, oath.TOTPChallenge(at, period), true)
	if err != nil || r.Code() != totpRef(secret, sha256Hash, 8, 0) {
		t.Errorf("60 s credential: %q, %v", r.Code(), err)
	}
	// HOTP with IMF 5: RFC 4226 counts 5 and 6.
	for _, w := range []string{"254676", "287922"} {
		if r, err := c.CalculateHOTP(ctx, "Example:counter"); err != nil || r.Code() != w {
			t.Errorf("HOTP: %q, %v; want %s", r.Code(), err, w)
		}
	}
	if r, err := c.Calculate(ctx, "Example:touch", oath.TOTPChallenge(at, 30*time.Second), true); err != nil || r.Code() != "287082" {
		t.Errorf("touch credential (approved at once): %q, %v", r.Code(), err)
	}

	// Overwrite, rename, delete.
	over := puts[0]
	over.Digits = 8
	if err := c.Put(ctx, over); err != nil {
		t.Fatal(err)
	}
	if r, err := c.Calculate(ctx, over.Name, oath.TOTPChallenge(at, 30*time.Second), true); err != nil || r.Code() != "94287082" {
		t.Errorf("overwritten credential: %q, %v", r.Code(), err)
	}
	if err := c.Rename(ctx, "Example:alice", "Other:alice"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Calculate(ctx, "Example:alice", make([]byte, 8), true); !errors.Is(err, oath.ErrNoSuchCredential) {
		t.Errorf("old name after rename: %v", err)
	}
	if err := c.Rename(ctx, "nope", "nope2"); !errors.Is(err, oath.ErrNoSuchObject) {
		t.Errorf("rename unknown: %v", err)
	}
	if err := c.Delete(ctx, "Other:alice"); err != nil {
		t.Fatal(err)
	}
	err = c.Delete(ctx, "Other:alice")
	if !errors.Is(err, oath.ErrNoSuchCredential) || err.Error() != "oath: delete: card answered 6984 (no such credential)" {
		t.Errorf("delete twice: %v", err)
	}
	if list, _ := c.List(ctx); len(list) != len(puts)-1 {
		t.Errorf("after delete: %+v", list)
	}

	// Reset: empty, new salt, still usable.
	oldID := info.DeviceID()
	if err := c.Reset(ctx); err != nil {
		t.Fatal(err)
	}
	if c.LastSelect() == nil || c.LastSelect().DeviceID() == oldID {
		t.Errorf("device id unchanged by reset")
	}
	if list, err := c.List(ctx); err != nil || len(list) != 0 {
		t.Errorf("after reset: %+v, %v", list, err)
	}
	// A wrong P1/P2 reset is refused (raw command).
	if _, err := c.Send(ctx, oath.InsReset, 0, 0, nil); !errors.Is(err, oath.ErrWrongP1P2) {
		t.Errorf("reset 0000: %v", err)
	}
}

func TestSimFirmwareLimits(t *testing.T) {
	ctx := context.Background()
	_, c, _ := newSim(t, "5.2.4")
	if err := c.Put(ctx, oath.PutRequest{Name: "a", Type: oath.TOTP, Algorithm: oath.SHA1, Digits: 6, Key: []byte("k")}); err != nil {
		t.Fatal(err)
	}
	if err := c.Rename(ctx, "a", "b"); !errors.Is(err, oath.ErrInsNotSupported) {
		t.Errorf("rename on 5.2.4: %v", err)
	}
	// Capacity: 32 credentials, then 6A84.
	for i := 1; i < simulator.MaxCredentials; i++ {
		if err := c.Put(ctx, oath.PutRequest{Name: fmt.Sprint("cred", i), Type: oath.TOTP, Algorithm: oath.SHA1, Digits: 6, Key: []byte("k")}); err != nil {
			t.Fatalf("put %d: %v", i, err)
		}
	}
	err := c.Put(ctx, oath.PutRequest{Name: "one-too-many", Type: oath.TOTP, Algorithm: oath.SHA1, Digits: 6, Key: []byte("k")})
	if !errors.Is(err, oath.ErrNoSpace) {
		t.Errorf("33rd credential: %v", err)
	}
	// SHA512 on a YubiKey 4.2: refused by the card.
	_, c4, _ := newSim(t, "4.2.6")
	err = c4.Put(ctx, oath.PutRequest{Name: "s", Type: oath.TOTP, Algorithm: oath.SHA512, Digits: 6, Key: []byte("k")})
	if !errors.Is(err, oath.ErrWrongSyntax) {
		t.Errorf("SHA512 on 4.2.6: %v", err)
	}
}

func TestSimRFCVectors(t *testing.T) {
	ctx := context.Background()
	_, c, _ := newSim(t, "5.4.3")
	s20 := []byte("12345678901234567890")
	s32 := []byte("12345678901234567890123456789012")
	s64 := []byte("1234567890123456789012345678901234567890123456789012345678901234")
	for _, p := range []oath.PutRequest{
		{Name: "sha1", Type: oath.TOTP, Algorithm: oath.SHA1, Digits: 8, Key: s20},
		{Name: "sha256", Type: oath.TOTP, Algorithm: oath.SHA256, Digits: 8, Key: s32},
		{Name: "sha512", Type: oath.TOTP, Algorithm: oath.SHA512, Digits: 8, Key: s64},
		{Name: "hotp", Type: oath.HOTP, Algorithm: oath.SHA1, Digits: 6, Key: s20},
		// A 100-byte SHA256 secret is pre-hashed by PrepareKey; codes must
		// still be those of the raw secret.
		{Name: "long", Type: oath.TOTP, Algorithm: oath.SHA256, Digits: 8, Key: bytes.Repeat(s20, 5)},
	} {
		if err := c.Put(ctx, p); err != nil {
			t.Fatalf("Put %s: %v", p.Name, err)
		}
	}
	vectors := []struct {
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
	for _, v := range vectors {
		chal := oath.TOTPChallenge(time.Unix(v.unix, 0), 30*time.Second)
		for _, truncate := range []bool{true, false} {
			for name, want := range map[string]string{"sha1": v.sha1, "sha256": v.sha256, "sha512": v.sha512} {
				r, err := c.Calculate(ctx, name, chal, truncate)
				if err != nil || r.Code() != want {
					t.Errorf("%s T=%d truncate=%v: %q, %v; want %s", name, v.unix, truncate, r.Code(), err, want)
				}
			}
			all, err := c.CalculateAll(ctx, chal, truncate)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range all {
				if w := map[string]string{"sha1": v.sha1, "sha256": v.sha256, "sha512": v.sha512}[e.Name]; w != "" && e.Response.Code() != w {
					t.Errorf("CalculateAll %s T=%d truncate=%v: %q, want %s", e.Name, v.unix, truncate, e.Response.Code(), w)
				}
			}
		}
		r, err := c.Calculate(ctx, "long", chal, true)
		if w := totpRef(bytes.Repeat(s20, 5), sha256Hash, 8, uint64(v.unix/30)); err != nil || r.Code() != w {
			t.Errorf("long secret T=%d: %q, %v; want %s", v.unix, r.Code(), err, w)
		}
	}
	for i, want := range []string{"755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871", "520489"} {
		r, err := c.Calculate(ctx, "hotp", nil, i%2 == 0)
		if err != nil || r.Code() != want {
			t.Errorf("HOTP count %d: %q, %v; want %s", i, r.Code(), err, want)
		}
	}
}

func TestSimPassword(t *testing.T) {
	ctx := context.Background()
	card, c, info := newSim(t, "5.4.3")
	if err := c.Put(ctx, oath.PutRequest{Name: "a", Type: oath.TOTP, Algorithm: oath.SHA1, Digits: 6, Key: []byte("k")}); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(ctx, make([]byte, 16)); !errors.Is(err, oath.ErrNoPassword) {
		t.Errorf("Validate without password: %v", err)
	}
	if err := c.SetCode(ctx, oath.DeriveKey("correct horse", info.Salt)); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(card.Snapshot().PasswordKey, oath.DeriveKey("correct horse", info.Salt)) {
		t.Error("card holds another key")
	}
	// Still authenticated after SET CODE.
	if _, err := c.List(ctx); err != nil {
		t.Errorf("List after SetCode: %v", err)
	}

	info, err := c.Select(ctx)
	if err != nil || !info.Locked() || c.Authenticated() {
		t.Fatalf("reselect: %+v, %v", info, err)
	}
	for name, call := range map[string]func() error{
		"list":          func() error { _, err := c.List(ctx); return err },
		"calculate":     func() error { _, err := c.Calculate(ctx, "a", make([]byte, 8), true); return err },
		"calculate all": func() error { _, err := c.CalculateAll(ctx, make([]byte, 8), true); return err },
		"delete":        func() error { return c.Delete(ctx, "a") },
		"put": func() error {
			return c.Put(ctx, oath.PutRequest{Name: "b", Type: oath.TOTP, Algorithm: oath.SHA1, Digits: 6, Key: []byte("k")})
		},
		"clear code": func() error { return c.ClearCode(ctx) },
	} {
		if err := call(); !errors.Is(err, oath.ErrAuthRequired) || errors.Is(err, oath.ErrTouchTimeout) {
			t.Errorf("%s while locked: %v", name, err)
		}
	}
	if err := c.Unlock(ctx, "wrong horse"); !errors.Is(err, oath.ErrWrongPassword) {
		t.Errorf("wrong password: %v", err)
	}
	// A wrong VALIDATE does not consume the session's challenge.
	if err := c.Unlock(ctx, "correct horse"); err != nil {
		t.Fatalf("Unlock: %v", err)
	}
	if list, err := c.List(ctx); err != nil || len(list) != 1 {
		t.Errorf("List after Unlock: %+v, %v", list, err)
	}
	// Every SELECT locks again, with a new challenge.
	info2, err := c.Select(ctx)
	if err != nil || !info2.Locked() || bytes.Equal(info2.Challenge, info.Challenge) {
		t.Errorf("second select: %+v, %v", info2, err)
	}
	if _, err := c.List(ctx); !errors.Is(err, oath.ErrAuthRequired) {
		t.Errorf("List after reselect: %v", err)
	}
	if err := c.Unlock(ctx, "correct horse"); err != nil {
		t.Fatal(err)
	}
	if err := c.ClearCode(ctx); err != nil {
		t.Fatal(err)
	}
	if info, err := c.Select(ctx); err != nil || info.Locked() {
		t.Errorf("after ClearCode: %+v, %v", info, err)
	}
	if _, err := c.List(ctx); err != nil {
		t.Errorf("List without password: %v", err)
	}
	// Reset removes a password too.
	if err := c.SetCode(ctx, oath.DeriveKey("x", info.Salt)); err != nil {
		t.Fatal(err)
	}
	if err := c.Reset(ctx); err != nil {
		t.Fatal(err)
	}
	if c.LastSelect().Locked() {
		t.Error("locked after reset")
	}
}

func TestSimChunking(t *testing.T) {
	ctx := context.Background()
	card, c, _ := newSim(t, "5.4.3")
	var names []string
	for i := range 30 {
		name := fmt.Sprintf("%02d/%s:%s", 10+i, strings.Repeat("I", 20), strings.Repeat(string(rune('a'+i)), 64-24))
		if len(name) != 64 {
			t.Fatalf("name of %d bytes", len(name))
		}
		names = append(names, name)
		if err := c.Put(ctx, oath.PutRequest{Name: name, Type: oath.TOTP, Algorithm: oath.SHA512, Digits: 8, Key: []byte(name)}); err != nil {
			t.Fatal(err)
		}
	}
	before := card.Stats().ByINS[oath.InsSendRemaining]
	list, err := c.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 30 {
		t.Fatalf("List: %d entries", len(list))
	}
	for i, e := range list {
		if e.Name != names[i] {
			t.Errorf("List[%d] = %q", i, e.Name)
		}
	}
	afterList := card.Stats().ByINS[oath.InsSendRemaining]
	if afterList-before < 7 { // 30 × 67 bytes in chunks of 255
		t.Errorf("LIST took %d SEND REMAINING, want at least 7", afterList-before)
	}
	// Full SHA512 responses: 30 × (66 + 67) bytes.
	all, err := c.CalculateAll(ctx, oath.TOTPChallenge(time.Unix(59, 0), 30*time.Second), false)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 30 {
		t.Fatalf("CalculateAll: %d entries", len(all))
	}
	for i, e := range all {
		if e.Name != names[i] || len(e.Response.Full) != 64 || len(e.Response.Code()) != 8 {
			t.Errorf("entry %d: %q, %d-byte response", i, e.Name, len(e.Response.Full))
		}
	}
	if card.Stats().ByINS[oath.InsSendRemaining]-afterList < 15 {
		t.Errorf("CALCULATE ALL took %d SEND REMAINING", card.Stats().ByINS[oath.InsSendRemaining]-afterList)
	}

	// Small chunks (a card with another buffer size).
	card2, c2, _ := newSim(t, "5.4.3", simulator.WithChunkSize(16))
	for _, n := range names[:5] {
		if err := c2.Put(ctx, oath.PutRequest{Name: n, Type: oath.HOTP, Algorithm: oath.SHA1, Digits: 6, Key: []byte("k")}); err != nil {
			t.Fatal(err)
		}
	}
	if list, err := c2.List(ctx); err != nil || len(list) != 5 || list[4].Name != names[4] {
		t.Errorf("List in 16-byte chunks: %d entries, %v", len(list), err)
	}
	if card2.Stats().ByINS[oath.InsSendRemaining] < 20 {
		t.Errorf("16-byte chunks: %d SEND REMAINING", card2.Stats().ByINS[oath.InsSendRemaining])
	}
}

// TestSimChaining sends a VALIDATE with a 300-byte host challenge: the
// command is chained (CLA 10) and the card must answer HMAC(key, all 300).
func TestSimChaining(t *testing.T) {
	ctx := context.Background()
	card, c, info := newSim(t, "5.4.3")
	key := oath.DeriveKey("pw", info.Salt)
	if err := c.SetCode(ctx, key); err != nil {
		t.Fatal(err)
	}
	info, err := c.Select(ctx)
	if err != nil {
		t.Fatal(err)
	}
	host := bytes.Repeat([]byte{0x42, 0x17, 0x99}, 100)
	var data []byte
	data = oath.AppendTLV(data, oath.TagResponse, hmacSHA1(key, info.Challenge))
	data = oath.AppendTLV(data, oath.TagChallenge, host)
	if len(data) <= 255 {
		t.Fatalf("data of %d bytes would not be chained", len(data))
	}
	total := card.Stats().Total
	answer, err := c.Send(ctx, oath.InsValidate, 0, 0, data)
	if err != nil {
		t.Fatalf("chained VALIDATE: %v", err)
	}
	if want := oath.AppendTLV(nil, oath.TagResponse, hmacSHA1(key, host)); !bytes.Equal(answer, want) {
		t.Errorf("answer %x, want %x", answer, want)
	}
	if n := card.Stats().Total - total; n != 2 {
		t.Errorf("chained VALIDATE took %d APDUs, want 2", n)
	}
	// The card is now authenticated (Send does not tell the client).
	if list, err := c.List(ctx); err != nil || len(list) != 0 {
		t.Errorf("List after chained VALIDATE: %v", err)
	}
}

func TestSimTouch(t *testing.T) {
	ctx := context.Background()
	put := oath.PutRequest{Name: "touch", Type: oath.TOTP, Algorithm: oath.SHA1, Digits: 6, Key: []byte("12345678901234567890"), Touch: true}
	chal := oath.TOTPChallenge(time.Unix(59, 0), 30*time.Second)

	// Nobody touches: the card answers 6982.
	noTouch := simulator.WithTouchFunc(func(context.Context) (bool, error) { return false, nil })
	_, c, _ := newSim(t, "5.4.3", noTouch)
	if err := c.Put(ctx, put); err != nil {
		t.Fatal(err)
	}
	_, err := c.Calculate(ctx, "touch", chal, true)
	if !errors.Is(err, oath.ErrTouchTimeout) || errors.Is(err, oath.ErrAuthRequired) {
		t.Errorf("touch time-out: %v", err)
	}
	all, err := c.CalculateAll(ctx, chal, true)
	if err != nil || len(all) != 1 || !all[0].Touch || all[0].HasCode() {
		t.Errorf("CalculateAll with a touch credential: %+v, %v", all, err)
	}

	// The user touches while the card waits; the client waits for it.
	waiting, touch := make(chan struct{}), make(chan struct{})
	_, c, _ = newSim(t, "5.4.3", simulator.WithTouchFunc(func(ctx context.Context) (bool, error) {
		close(waiting)
		select {
		case <-touch:
			return true, nil
		case <-ctx.Done():
			return false, ctx.Err()
		}
	}))
	if err := c.Put(ctx, put); err != nil {
		t.Fatal(err)
	}
	type result struct {
		r   oath.Response
		err error
	}
	done := make(chan result, 1)
	go func() { r, err := c.Calculate(ctx, "touch", chal, true); done <- result{r, err} }()
	<-waiting
	select {
	case res := <-done:
		t.Fatalf("Calculate returned before the touch: %q, %v", res.r.Code(), res.err)
	default:
	}
	close(touch)
	if res := <-done; res.err != nil || res.r.Code() != "287082" {
		t.Errorf("touched: %q, %v", res.r.Code(), res.err)
	}

	// Giving up while the card waits: the context's error comes back.
	waiting = make(chan struct{})
	_, c, _ = newSim(t, "5.4.3", simulator.WithTouchFunc(func(ctx context.Context) (bool, error) {
		close(waiting)
		<-ctx.Done()
		return false, ctx.Err()
	}))
	if err := c.Put(ctx, put); err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() { <-waiting; cancel() }()
	if _, err := c.Calculate(cctx, "touch", chal, true); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled touch wait: %v, want context.Canceled", err)
	}

	// Touch on a locked, unvalidated card is an authentication error, not
	// a touch time-out.
	_, c, info := newSim(t, "5.4.3", simulator.WithTouch(simulator.TouchPolicy{Mode: simulator.TouchTimeout, Delay: time.Millisecond}))
	if err := c.Put(ctx, put); err != nil {
		t.Fatal(err)
	}
	if err := c.SetCode(ctx, oath.DeriveKey("pw", info.Salt)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Select(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Calculate(ctx, "touch", chal, true); !errors.Is(err, oath.ErrAuthRequired) || errors.Is(err, oath.ErrTouchTimeout) {
		t.Errorf("locked touch credential: %v", err)
	}
	if err := c.Unlock(ctx, "pw"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Calculate(ctx, "touch", chal, true); !errors.Is(err, oath.ErrTouchTimeout) {
		t.Errorf("unlocked touch time-out: %v", err)
	}
}

func hmacSHA1(key, msg []byte) []byte {
	m := hmac.New(sha1.New, key)
	m.Write(msg)
	return m.Sum(nil)
}

var sha256Hash = sha256.New

// totpRef is RFC 4226 computed independently of the client and the card.
func totpRef(key []byte, h func() hash.Hash, digits int, counter uint64) string {
	m := hmac.New(h, key)
	m.Write(binary.BigEndian.AppendUint64(nil, counter))
	sum := m.Sum(nil)
	off := sum[len(sum)-1] & 0x0F
	v := binary.BigEndian.Uint32(sum[off:]) & 0x7FFFFFFF
	mod := uint32(1)
	for range digits {
		mod *= 10
	}
	return fmt.Sprintf("%0*d", digits, v%mod)
}
