package oath

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

const (
	selectAPDU   = `> 00 A4 04 00 07 A0 00 00 05 27 21 01`
	select524    = `< 79 03 05 02 04 71 08 4B B7 A7 FA D7 AF 40 1B 90 00`
	select433    = `< 79 03 04 03 03 71 08 7C 06 60 15 20 FC 3F 8F 90 00`
	helloKey     = "Hello!\xde\xad\xbe\xef"
	helloKeyHex  = `48656c6c6f21deadbeef00000000`
	lockedSelect = `< 79 03 05 02 04 71 08 4BB7A7FAD7AF401B 74 08 0102030405060708 7B 01 01 9000`
)

func TestSelect(t *testing.T) {
	tests := []struct {
		name      string
		answer    string
		version   string
		salt      string
		deviceID  string
		locked    bool
		challenge string
		alg       Algorithm
	}{
		{"yubikey 5.2.4", select524, "5.2.4", "4BB7A7FAD7AF401B", "M/cfhpywsjHw0W5SXdq9Bg", false, "", 0},
		{"yubikey 4.3.3", select433, "4.3.3", "7C06601520FC3F8F", "uwfwrNXtYHxVy4AdcMaAoA", false, "", 0},
		{"locked sha1", lockedSelect, "5.2.4", "4BB7A7FAD7AF401B", "M/cfhpywsjHw0W5SXdq9Bg", true, "0102030405060708", SHA1},
		// The old NEO applet sends a whole type byte in 7B.
		{"locked neo type byte", `< 79 03 00 02 01 71 08 0000000000000000 74 08 1111111111111111 7B 01 21 9000`,
			"0.2.1", "0000000000000000", "", true, "1111111111111111", SHA1},
		{"locked sha256 no 7B order", `< 7B 01 02 74 08 1111111111111111 71 08 0000000000000000 79 03 01 02 03 9000`,
			"1.2.3", "0000000000000000", "", true, "1111111111111111", SHA256},
		{"unknown tag skipped", `< 79 03 05 04 03 71 08 0000000000000000 7F 02 AABB 9000`,
			"5.4.3", "0000000000000000", "", false, "", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := NewClient(newReplay(t, selectAPDU+"\n"+tc.answer))
			info, err := c.Select(context.Background())
			if err != nil {
				t.Fatalf("Select: %v", err)
			}
			if got := info.VersionString(); got != tc.version {
				t.Errorf("version = %s, want %s", got, tc.version)
			}
			if got := fmt.Sprintf("%X", info.Salt); got != tc.salt {
				t.Errorf("salt = %s, want %s", got, tc.salt)
			}
			if tc.deviceID != "" && info.DeviceID() != tc.deviceID {
				t.Errorf("DeviceID = %s, want %s", info.DeviceID(), tc.deviceID)
			}
			if info.Locked() != tc.locked || c.Authenticated() == tc.locked {
				t.Errorf("Locked = %v, Authenticated = %v; want locked %v", info.Locked(), c.Authenticated(), tc.locked)
			}
			if got := fmt.Sprintf("%X", info.Challenge); got != tc.challenge {
				t.Errorf("challenge = %s, want %s", got, tc.challenge)
			}
			if !tc.locked && info.Challenge != nil {
				t.Errorf("challenge = %x, want nil", info.Challenge)
			}
			if info.Algorithm != tc.alg {
				t.Errorf("algorithm = %v, want %v", info.Algorithm, tc.alg)
			}
			if last := c.LastSelect(); last == nil || !bytes.Equal(last.Salt, info.Salt) {
				t.Errorf("LastSelect = %+v", last)
			}
		})
	}
}

func TestSelectErrors(t *testing.T) {
	tests := []struct {
		name   string
		answer string
		want   error
		text   string
	}{
		{"applet missing", `< 6A82`, ErrNotFound, "oath: select: card answered 6A82 (applet not found)"},
		{"no salt", `< 79 03 05 02 04 9000`, ErrMalformed, "oath: select: malformed YKOATH data: no salt in SELECT answer"},
		{"no version", `< 71 08 0000000000000000 9000`, ErrMalformed, ""},
		{"short version", `< 79 02 05 02 71 08 0000000000000000 9000`, ErrMalformed, ""},
		{"truncated", `< 79 03 05 02 9000`, ErrMalformed, ""},
		{"empty", `< 9000`, ErrMalformed, ""},
		{"no status word", `< 90`, ErrShortResponse, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := NewClient(newReplay(t, selectAPDU+"\n"+tc.answer))
			_, err := c.Select(context.Background())
			if !errors.Is(err, tc.want) {
				t.Fatalf("Select error = %v, want %v", err, tc.want)
			}
			if tc.text != "" && err.Error() != tc.text {
				t.Errorf("error text = %q, want %q", err.Error(), tc.text)
			}
			if c.LastSelect() != nil || c.Authenticated() {
				t.Errorf("failed SELECT left state behind")
			}
		})
	}
}

func TestDeriveKey(t *testing.T) {
	tests := []struct {
		password, salt, want string
	}{
		{"foobar", "0000000000000000", "b07da1e7de87f89a87a2b598eaa2188c"},
		// Computed with Python's hashlib.pbkdf2_hmac, which ykman uses.
		{"pässword", "4BB7A7FAD7AF401B", "db2fa372a891f4f880c548f918910c5a"},
		{"", "4BB7A7FAD7AF401B", "469edd2fd2eafea6ad2d3bd712ca1af0"},
	}
	for _, tc := range tests {
		key := DeriveKey(tc.password, mustHex(t, tc.salt))
		if len(key) != 16 {
			t.Fatalf("DeriveKey(%q) returned %d bytes", tc.password, len(key))
		}
		if hex.EncodeToString(key) != tc.want {
			t.Errorf("DeriveKey(%q, %s) = %x, want %s", tc.password, tc.salt, key, tc.want)
		}
	}
	if bytes.Equal(DeriveKey("foobar", make([]byte, 8)), DeriveKey("foobaz", make([]byte, 8))) {
		t.Error("different passwords gave the same key")
	}
}

// TestObservedAPDUs replays what ykman 4.0.9 was seen sending (ykoath.md).
func TestObservedAPDUs(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name   string
		script string
		run    func(*Client) error
	}{
		{"add", `
> 00 01 00 00 21 71 0d "Example:alice" 73 10 21 06 ` + helloKeyHex + `
< 9000`, func(c *Client) error {
			return c.Put(ctx, PutRequest{Name: "Example:alice", Type: TOTP, Algorithm: SHA1, Digits: 6, Key: []byte(helloKey)})
		}},
		{"touch add", `
> 00 01 00 00 23 71 0d "Example:alice" 73 10 22 08 ` + helloKeyHex + ` 78 02
< 9000`, func(c *Client) error {
			return c.Put(ctx, PutRequest{Name: "Example:alice", Type: TOTP, Algorithm: SHA256, Digits: 8, Key: []byte(helloKey), Touch: true})
		}},
		{"hotp add", `
> 00 01 00 00 27 71 0d "Example:alice" 73 10 11 06 ` + helloKeyHex + ` 7a 04 00000005
< 9000`, func(c *Client) error {
			return c.Put(ctx, PutRequest{Name: "Example:alice", Type: HOTP, Algorithm: SHA1, Digits: 6, Key: []byte(helloKey), Counter: 5})
		}},
		{"add 60s period", `
> 00 01 00 00 24 71 10 "60/Example:bob60" 73 10 21 06 ` + helloKeyHex + `
< 9000`, func(c *Client) error {
			return c.Put(ctx, PutRequest{Name: FormatName("Example", "bob60", time.Minute, TOTP), Type: TOTP, Algorithm: SHA1, Digits: 6, Key: []byte(helloKey)})
		}},
		{"rename", `
> 00 05 00 00 23 71 10 "60/Example:bob60" 71 0f "60/Example2:bob"
< 9000`, func(c *Client) error { return c.Rename(ctx, "60/Example:bob60", "60/Example2:bob") }},
		{"delete", `
> 00 02 00 00 0c 71 0a "sha512acct"
< 9000`, func(c *Client) error { return c.Delete(ctx, "sha512acct") }},
		{"reset", `
> 00 04 de ad 00
< 9000
` + selectAPDU + `
` + select524, func(c *Client) error {
			if err := c.Reset(ctx); err != nil {
				return err
			}
			if c.LastSelect() == nil || !c.Authenticated() {
				return errors.New("reset did not reselect")
			}
			return nil
		}},
		{"unset", `
> 00 03 00 00 02 73 00
< 9000`, func(c *Client) error { return c.ClearCode(ctx) }},
		{"list", `
> 00 A1 00 00 00
< 72 0e 21 "Example:alice" 72 05 13 "hotp" 9000`, func(c *Client) error {
			got, err := c.List(ctx)
			if err != nil {
				return err
			}
			want := []ListEntry{{"Example:alice", TOTP, SHA1}, {"hotp", HOTP, SHA512}}
			if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
				return fmt.Errorf("List = %+v", got)
			}
			return nil
		}},
		{"calculate totp truncated", `
> 00 A2 00 01 19 71 0d "Example:alice" 74 08 0000000000000001
< 76 05 06 4C93CF18 9000`, func(c *Client) error {
			r, err := c.Calculate(ctx, "Example:alice", TOTPChallenge(time.Unix(59, 0), 30*time.Second), true)
			if err != nil {
				return err
			}
			if r.Code() != "755224" {
				return fmt.Errorf("code = %s", r.Code())
			}
			return nil
		}},
		{"calculate hotp empty challenge", `
> 00 A2 00 01 08 71 04 "hotp" 74 00
< 76 05 06 4C93CF18 9000`, func(c *Client) error {
			r, err := c.CalculateHOTP(ctx, "hotp")
			if err != nil || r.Code() != "755224" {
				return fmt.Errorf("code %q, err %v", r.Code(), err)
			}
			return nil
		}},
		{"calculate all", `
> 00 A4 00 01 0A 74 08 0000000000000001
< 71 03 "tot" 76 05 06 4C93CF18 71 03 "hot" 77 01 08 71 03 "tch" 7C 01 06 9000`, func(c *Client) error {
			got, err := c.CalculateAll(ctx, TOTPChallenge(time.Unix(30, 0), 0), true)
			if err != nil {
				return err
			}
			if len(got) != 3 ||
				got[0].Name != "tot" || !got[0].HasCode() || got[0].Response.Code() != "755224" ||
				got[1].Name != "hot" || !got[1].HOTP || got[1].Touch || got[1].Response.Digits != 8 || got[1].HasCode() ||
				got[2].Name != "tch" || !got[2].Touch || got[2].HOTP || got[2].Response.Digits != 6 {
				return fmt.Errorf("CalculateAll = %+v", got)
			}
			return nil
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := NewClient(newReplay(t, tc.script))
			if err := tc.run(c); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestStatusWords(t *testing.T) {
	all := []error{ErrAuthRequired, ErrNoSuchObject, ErrWrongSyntax, ErrNoSpace, ErrNotFound, ErrWrongP1P2,
		ErrInsNotSupported, ErrClaNotSupported, ErrGeneric, ErrWrongLength, ErrConditions, ErrTouchTimeout,
		ErrWrongPassword, ErrNoPassword}
	tests := []struct {
		sw   string
		op   string // which call answers it
		want []error
		text string
	}{
		{"6982", "delete", []error{ErrAuthRequired}, "oath: delete: card answered 6982 (authentication required)"},
		{"6984", "calculate", []error{ErrNoSuchObject, ErrNoSuchCredential}, "oath: calculate: card answered 6984 (no such credential)"},
		{"6984", "delete", []error{ErrNoSuchObject}, "oath: delete: card answered 6984 (no such credential)"},
		{"6984", "set code", []error{ErrNoSuchObject}, "oath: set code: card answered 6984 (response mismatch)"},
		{"6A80", "put", []error{ErrWrongSyntax}, "oath: put: card answered 6A80 (wrong syntax)"},
		{"6A84", "put", []error{ErrNoSpace}, "oath: put: card answered 6A84 (no space left)"},
		{"6A82", "list", []error{ErrNotFound}, "oath: list: card answered 6A82 (applet not found)"},
		{"6B00", "reset", []error{ErrWrongP1P2}, "oath: reset: card answered 6B00 (wrong P1/P2)"},
		{"6D00", "rename", []error{ErrInsNotSupported}, "oath: rename: card answered 6D00 (instruction not supported)"},
		{"6E00", "list", []error{ErrClaNotSupported}, ""},
		{"6581", "put", []error{ErrGeneric}, "oath: put: card answered 6581 (generic error)"},
		{"6700", "calculate all", []error{ErrWrongLength}, "oath: calculate all: card answered 6700 (wrong length)"},
		{"6C10", "list", []error{ErrWrongLength}, ""},
		{"6985", "put", []error{ErrConditions}, ""},
		{"6F00", "list", nil, "oath: list: card answered 6F00 (unknown status)"},
	}
	ctx := context.Background()
	for _, tc := range tests {
		t.Run(tc.op+" "+tc.sw, func(t *testing.T) {
			c := NewClient(cardFunc(func([]byte) []byte { return mustHex(t, tc.sw) }), WithRand(fixedRand(1)))
			var err error
			switch tc.op {
			case "delete":
				err = c.Delete(ctx, "x")
			case "calculate":
				_, err = c.Calculate(ctx, "x", nil, true)
			case "calculate all":
				_, err = c.CalculateAll(ctx, nil, true)
			case "set code":
				err = c.SetCode(ctx, make([]byte, 16))
			case "put":
				err = c.Put(ctx, PutRequest{Name: "x", Type: TOTP, Algorithm: SHA1, Digits: 6, Key: []byte("k")})
			case "list":
				_, err = c.List(ctx)
			case "reset":
				err = c.Reset(ctx)
			case "rename":
				err = c.Rename(ctx, "x", "y")
			}
			var se *StatusError
			if !errors.As(err, &se) {
				t.Fatalf("error %v is not a *StatusError", err)
			}
			if got := fmt.Sprintf("%04X", se.SW); got != tc.sw {
				t.Errorf("SW = %s, want %s", got, tc.sw)
			}
			for _, s := range all {
				want := false
				for _, w := range tc.want {
					want = want || w == s
				}
				if errors.Is(err, s) != want {
					t.Errorf("errors.Is(%v, %v) = %v, want %v", err, s, !want, want)
				}
			}
			if tc.text != "" && err.Error() != tc.text {
				t.Errorf("text = %q, want %q", err.Error(), tc.text)
			}
		})
	}
}

func TestTouchTimeout(t *testing.T) {
	ctx := context.Background()
	// Unlocked card: a 6982 to CALCULATE is a touch time-out.
	c := NewClient(newReplay(t, selectAPDU+"\n"+select524+`
> 00 A2 00 01 0F 71 03 "tch" 74 08 0000000000000001
< 6982`))
	if _, err := c.Select(ctx); err != nil {
		t.Fatal(err)
	}
	_, err := c.Calculate(ctx, "tch", TOTPChallenge(time.Unix(30, 0), 30*time.Second), true)
	if !errors.Is(err, ErrTouchTimeout) || errors.Is(err, ErrAuthRequired) {
		t.Errorf("unlocked: err = %v, want a touch time-out only", err)
	}
	if err == nil || err.Error() != "oath: calculate: card answered 6982 (touch timed out)" {
		t.Errorf("text = %v", err)
	}

	// Locked, not validated: the same answer means authentication required.
	c = NewClient(newReplay(t, selectAPDU+"\n"+lockedSelect+`
> 00 A2 00 01 0F 71 03 "tch" 74 08 0000000000000001
< 6982`))
	if _, err := c.Select(ctx); err != nil {
		t.Fatal(err)
	}
	_, err = c.Calculate(ctx, "tch", TOTPChallenge(time.Unix(30, 0), 30*time.Second), true)
	if errors.Is(err, ErrTouchTimeout) || !errors.Is(err, ErrAuthRequired) {
		t.Errorf("locked: err = %v, want authentication required only", err)
	}

	// No SELECT seen: the client cannot tell, so it says what the card said.
	c = NewClient(cardFunc(func([]byte) []byte { return []byte{0x69, 0x82} }))
	_, err = c.Calculate(ctx, "tch", nil, true)
	if errors.Is(err, ErrTouchTimeout) || !errors.Is(err, ErrAuthRequired) {
		t.Errorf("no select: err = %v", err)
	}
}

// chunkedCard answers LIST and CALCULATE ALL with body, in chunks of at
// most chunk bytes with 61xx, as the applet does, and records the APDUs.
type chunkedCard struct {
	body  []byte
	chunk int
	rest  []byte
	apdus [][]byte
}

func (c *chunkedCard) Transmit(_ context.Context, apdu []byte) ([]byte, error) {
	c.apdus = append(c.apdus, append([]byte(nil), apdu...))
	switch apdu[1] {
	case InsList, InsCalculateAll:
		c.rest = c.body
	case InsSendRemaining:
	default:
		return []byte{0x6D, 0x00}, nil
	}
	n := min(c.chunk, len(c.rest))
	out := append([]byte(nil), c.rest[:n]...)
	c.rest = c.rest[n:]
	if len(c.rest) == 0 {
		return append(out, 0x90, 0x00), nil
	}
	return append(out, 0x61, byte(min(len(c.rest), 0xFF))), nil
}

func longName(i int) string {
	return fmt.Sprintf("Issuer-%02d:%s", i, strings.Repeat(string(rune('a'+i%26)), 50))
}

func TestContinuation(t *testing.T) {
	ctx := context.Background()
	var body []byte
	var want []string
	for i := range 40 {
		name := longName(i)
		want = append(want, name)
		body = AppendTLV(body, TagNameList, append([]byte{byte(TOTP) | byte(SHA256)}, name...))
	}
	for _, chunk := range []int{1, 7, 255, 256, len(body)} {
		t.Run(fmt.Sprint("chunk ", chunk), func(t *testing.T) {
			card := &chunkedCard{body: body, chunk: chunk}
			got, err := NewClient(card).List(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want) {
				t.Fatalf("got %d entries, want %d", len(got), len(want))
			}
			for i := range got {
				if got[i].Name != want[i] || got[i].Algorithm != SHA256 || got[i].Type != TOTP {
					t.Errorf("entry %d = %+v", i, got[i])
				}
			}
			wantAPDUs := (len(body) + chunk - 1) / chunk
			if len(card.apdus) != wantAPDUs {
				t.Errorf("sent %d APDUs, want %d", len(card.apdus), wantAPDUs)
			}
			for _, a := range card.apdus[1:] {
				if !bytes.Equal(a, []byte{0x00, 0xA5, 0x00, 0x00, 0x00}) {
					t.Errorf("continuation APDU %X, want 00A5000000", a)
				}
			}
		})
	}

	// CALCULATE ALL across chunks.
	body = nil
	for i := range 30 {
		body = AppendTLV(body, TagName, []byte(longName(i)))
		body = AppendTLV(body, TagTruncated, []byte{6, 0x4C, 0x93, 0xCF, byte(i)})
	}
	card := &chunkedCard{body: body, chunk: 0xFF}
	got, err := NewClient(card).CalculateAll(ctx, make([]byte, 8), true)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 30 || got[29].Name != longName(29) || got[29].Response.Truncated != 0x4C93CF1D {
		t.Errorf("CalculateAll over chunks: %d entries, last %+v", len(got), got[len(got)-1])
	}
}

func TestContinuationErrors(t *testing.T) {
	ctx := context.Background()
	// A card that never stops answering 61xx must not hang the client.
	endless := cardFunc(func([]byte) []byte { return append(bytes.Repeat([]byte{0x72}, 200), 0x61, 0xFF) })
	if _, err := NewClient(endless).List(ctx); !errors.Is(err, ErrResponseTooLong) {
		t.Errorf("endless 61xx: err = %v", err)
	}
	emptyRounds := cardFunc(func([]byte) []byte { return []byte{0x61, 0x10} })
	if _, err := NewClient(emptyRounds).List(ctx); !errors.Is(err, ErrResponseTooLong) {
		t.Errorf("61xx without data: err = %v", err)
	}
	// An error status after some data is still an error.
	n := 0
	failing := cardFunc(func([]byte) []byte {
		n++
		if n == 1 {
			return []byte{0x72, 0x02, 0x21, 'a', 0x61, 0x10}
		}
		return []byte{0x69, 0x82}
	})
	if _, err := NewClient(failing).List(ctx); !errors.Is(err, ErrAuthRequired) {
		t.Errorf("error after 61xx: err = %v", err)
	}
	// A cancelled context stops before transmitting.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := NewClient(endless).List(cctx); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: err = %v", err)
	}
}

func TestChaining(t *testing.T) {
	data := make([]byte, 600)
	for i := range data {
		data[i] = byte(i)
	}
	var apdus [][]byte
	card := cardFunc(func(apdu []byte) []byte {
		apdus = append(apdus, append([]byte(nil), apdu...))
		return []byte{0x90, 0x00}
	})
	if _, err := NewClient(card).Send(context.Background(), InsPut, 0, 0, data); err != nil {
		t.Fatal(err)
	}
	wantCLA := []byte{0x10, 0x10, 0x00}
	wantLen := []int{255, 255, 90}
	if len(apdus) != 3 {
		t.Fatalf("sent %d APDUs, want 3", len(apdus))
	}
	var joined []byte
	for i, a := range apdus {
		if a[0] != wantCLA[i] || a[1] != InsPut || int(a[4]) != wantLen[i] || len(a) != 5+wantLen[i] {
			t.Errorf("APDU %d: header %X, length %d", i, a[:5], len(a))
		}
		joined = append(joined, a[5:]...)
	}
	if !bytes.Equal(joined, data) {
		t.Error("chained blocks do not add up to the data")
	}

	// A card refusing a block stops the chain.
	apdus = nil
	refusing := cardFunc(func(apdu []byte) []byte {
		apdus = append(apdus, apdu)
		return []byte{0x6A, 0x80}
	})
	_, err := NewClient(refusing).Send(context.Background(), InsPut, 0, 0, data)
	if !errors.Is(err, ErrWrongSyntax) || len(apdus) != 1 {
		t.Errorf("refused chain: err %v after %d APDUs", err, len(apdus))
	}

	// Exactly 255 bytes is one APDU.
	apdus = nil
	if _, err := NewClient(card).Send(context.Background(), InsPut, 0, 0, data[:255]); err != nil || len(apdus) != 1 || apdus[0][0] != 0 {
		t.Errorf("255 bytes: err %v, %d APDUs", err, len(apdus))
	}
}

func TestPutValidation(t *testing.T) {
	good := PutRequest{Name: "a", Type: TOTP, Algorithm: SHA1, Digits: 6, Key: []byte("k")}
	tests := []struct {
		name   string
		mutate func(*PutRequest)
	}{
		{"empty name", func(r *PutRequest) { r.Name = "" }},
		{"long name", func(r *PutRequest) { r.Name = strings.Repeat("n", 65) }},
		{"bad type", func(r *PutRequest) { r.Type = 0x30 }},
		{"bad algorithm", func(r *PutRequest) { r.Algorithm = 4 }},
		{"5 digits", func(r *PutRequest) { r.Digits = 5 }},
		{"9 digits", func(r *PutRequest) { r.Digits = 9 }},
		{"empty key", func(r *PutRequest) { r.Key = nil }},
		{"totp counter", func(r *PutRequest) { r.Counter = 1 }},
	}
	card := cardFunc(func(apdu []byte) []byte {
		t.Errorf("invalid request reached the card: %X", apdu)
		return []byte{0x90, 0x00}
	})
	for _, tc := range tests {
		r := good
		tc.mutate(&r)
		err := NewClient(card).Put(context.Background(), r)
		if !errors.Is(err, ErrInvalidInput) || !strings.HasPrefix(err.Error(), "oath: put: ") {
			t.Errorf("%s: err = %v", tc.name, err)
		}
	}
	// 64 bytes is the limit, inclusive.
	ok := good
	ok.Name = strings.Repeat("n", 64)
	if _, err := ok.encode(); err != nil {
		t.Errorf("64-byte name: %v", err)
	}
	c := NewClient(card)
	for _, err := range []error{
		c.Delete(context.Background(), ""),
		c.Rename(context.Background(), "a", strings.Repeat("n", 65)),
		c.SetCode(context.Background(), make([]byte, 15)),
	} {
		if !errors.Is(err, ErrInvalidInput) {
			t.Errorf("err = %v, want ErrInvalidInput", err)
		}
	}
	if _, err := c.Calculate(context.Background(), "", nil, true); !errors.Is(err, ErrInvalidInput) {
		t.Errorf("calculate empty name: %v", err)
	}
}

func TestPrepareKey(t *testing.T) {
	long64 := bytes.Repeat([]byte{1}, 64)
	long65 := bytes.Repeat([]byte{1}, 65)
	long129 := bytes.Repeat([]byte{1}, 129)
	tests := []struct {
		name string
		alg  Algorithm
		key  []byte
		want int // length
		same bool
	}{
		{"short padded", SHA1, []byte("abc"), 14, false},
		{"14 kept", SHA1, bytes.Repeat([]byte{2}, 14), 14, true},
		{"64 kept", SHA1, long64, 64, true},
		{"65 sha1 hashed", SHA1, long65, 20, false},
		{"65 sha256 hashed", SHA256, long65, 32, false},
		{"65 sha512 kept", SHA512, long65, 65, true},
		{"129 sha512 hashed", SHA512, long129, 64, false},
	}
	for _, tc := range tests {
		got := PrepareKey(tc.alg, tc.key)
		if len(got) != tc.want || bytes.Equal(got, tc.key) != tc.same {
			t.Errorf("%s: PrepareKey = %d bytes %x", tc.name, len(got), got)
		}
		// Whatever the shape, the HMAC must not change (RFC 2104).
		msg := []byte("message")
		if !bytes.Equal(hmacSum(tc.alg, got, msg), hmacSum(tc.alg, tc.key, msg)) {
			t.Errorf("%s: prepared key computes another HMAC", tc.name)
		}
	}
	if got := PrepareKey(SHA1, []byte("abc")); !bytes.Equal(got, append([]byte("abc"), make([]byte, 11)...)) {
		t.Errorf("padding = %x", got)
	}
}

func TestTOTPChallenge(t *testing.T) {
	tests := []struct {
		t      time.Time
		period time.Duration
		want   string
	}{
		{time.Unix(59, 0), 30 * time.Second, "0000000000000001"},
		{time.Unix(1111111109, 0), 30 * time.Second, "00000000023523EC"},
		{time.Unix(20000000000, 0), 30 * time.Second, "0000000027BC86AA"},
		{time.Unix(119, 999), time.Minute, "0000000000000001"},
		{time.Unix(120, 0), time.Minute, "0000000000000002"},
		{time.Unix(59, 0), 0, "0000000000000001"},
		{time.Unix(-1, 0), 30 * time.Second, "FFFFFFFFFFFFFFFF"},
	}
	for _, tc := range tests {
		if got := fmt.Sprintf("%X", TOTPChallenge(tc.t, tc.period)); got != tc.want {
			t.Errorf("TOTPChallenge(%d, %v) = %s, want %s", tc.t.Unix(), tc.period, got, tc.want)
		}
	}
}

func TestTOTPStep(t *testing.T) {
	tests := []struct {
		unix   int64
		period time.Duration
		want   int64
	}{
		{59, 30 * time.Second, 1},
		{60, 30 * time.Second, 2},
		{59, 0, 1},
		{59, 500 * time.Millisecond, 1},
		{-1, 30 * time.Second, -1},
		{-30, 30 * time.Second, -1},
		{-31, 30 * time.Second, -2},
	}
	for _, tc := range tests {
		if got := TOTPStep(time.Unix(tc.unix, 0), tc.period); got != tc.want {
			t.Errorf("TOTPStep(%d, %v) = %d, want %d", tc.unix, tc.period, got, tc.want)
		}
	}
}

func TestResponseCode(t *testing.T) {
	full := mustHex(t, "1f8698690e02ca16618550ef7f19da8e945b555a") // RFC 4226 section 5.4
	tests := []struct {
		name string
		r    Response
		want string
	}{
		{"raw 31-bit", Response{Digits: 6, Truncated: 0x4C93CF18}, "755224"},
		{"raw with top bit", Response{Digits: 6, Truncated: 0xCC93CF18}, "755224"},
		{"already reduced", Response{Digits: 6, Truncated: 755224}, "755224"},
		{"reduced, zero-padded", Response{Digits: 8, Truncated: 4287082}, "04287082"},
		{"raw, zero-padded", Response{Digits: 6, Truncated: 1000042}, "000042"},
		{"full rfc 4226 5.4", Response{Digits: 6, Full: full}, "872921"},
		{"full, 8 digits", Response{Digits: 8, Full: full}, "57872921"},
		{"10 digits", Response{Digits: 10, Truncated: 0x7FFFFFFF}, "2147483647"},
		{"no digits", Response{Truncated: 5}, ""},
		{"too many digits", Response{Digits: 11, Truncated: 5}, ""},
		{"short full", Response{Digits: 6, Full: []byte{1, 2, 3}}, ""},
	}
	for _, tc := range tests {
		if got := tc.r.Code(); got != tc.want {
			t.Errorf("%s: Code() = %q, want %q", tc.name, got, tc.want)
		}
	}
}
