// Package oath is a client of the YubiKey OATH applet (YKOATH) over any
// Transport: a PC/SC card or the software YubiKey of package simulator.
//
// A Client follows the applet's session rules: every SELECT clears the
// authentication and issues a new challenge; while a password is set, every
// instruction but VALIDATE and RESET needs a successful VALIDATE since the
// last SELECT. Status words become *StatusError values that match the
// package sentinels with errors.Is.
package oath

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"
)

// Client talks YKOATH over a Transport. It is not safe for concurrent use.
type Client struct {
	t    Transport
	log  *slog.Logger
	rand io.Reader

	sel *SelectInfo // answer of the last SELECT; nil before the first
	// authed: the session may use every instruction, because VALIDATE
	// succeeded since the last SELECT or the card had no password then.
	authed bool
}

// Option configures a Client.
type Option func(*Client)

// WithLogger traces every APDU at Debug level as "> 00A4…" / "< …9000",
// with keys, the challenges and responses of VALIDATE and SET CODE, and
// computed responses (codes) redacted. CALCULATE challenges are shown: a
// TOTP challenge is the time step, derived from the clock.
func WithLogger(l *slog.Logger) Option {
	return func(c *Client) { c.log = l }
}

// WithRand sets the source of host challenges (VALIDATE, SET CODE);
// crypto/rand by default. Tests use it to replay fixed exchanges.
func WithRand(r io.Reader) Option {
	return func(c *Client) { c.rand = r }
}

// NewClient returns a Client using t. It sends nothing until called.
func NewClient(t Transport, opts ...Option) *Client {
	c := &Client{t: t, rand: rand.Reader}
	for _, o := range opts {
		o(c)
	}
	return c
}

// SelectInfo is the OATH applet's answer to SELECT.
type SelectInfo struct {
	Version   [3]byte   // applet version, e.g. 5.2.4
	Salt      []byte    // PBKDF2 salt and source of the device id
	Challenge []byte    // nil when no password is set
	Algorithm Algorithm // hash of the password key; meaningful only with a Challenge
}

// VersionString formats Version as "5.2.4".
func (s *SelectInfo) VersionString() string {
	return fmt.Sprintf("%d.%d.%d", s.Version[0], s.Version[1], s.Version[2])
}

// Locked reports whether a password is set: the card then needs VALIDATE
// before anything else.
func (s *SelectInfo) Locked() bool { return s.Challenge != nil }

// DeviceID is the id ykman keys remembered passwords by: standard base64,
// without padding, of the first 16 bytes of SHA-256(salt).
func (s *SelectInfo) DeviceID() string {
	sum := sha256.Sum256(s.Salt)
	return base64.RawStdEncoding.EncodeToString(sum[:16])
}

func (s *SelectInfo) clone() *SelectInfo {
	c := *s
	c.Salt = append([]byte(nil), s.Salt...)
	if s.Challenge != nil {
		c.Challenge = append([]byte{}, s.Challenge...)
	}
	return &c
}

// LastSelect returns a copy of the answer of the last SELECT, or nil.
func (c *Client) LastSelect() *SelectInfo {
	if c.sel == nil {
		return nil
	}
	return c.sel.clone()
}

// Authenticated reports whether the session needs no VALIDATE: one
// succeeded since the last SELECT, or the card had no password then.
func (c *Client) Authenticated() bool { return c.authed }

// Select selects the OATH applet (00 A4 04 00 07 A0 00 00 05 27 21 01, no
// Le, as ykman sends it). It clears the session's authentication.
func (c *Client) Select(ctx context.Context) (*SelectInfo, error) {
	c.sel, c.authed = nil, false
	resp, err := c.exchange(ctx, "select", InsSelect, 0x04, 0x00, AIDOATH)
	if err != nil {
		return nil, err
	}
	info, err := parseSelect(resp)
	if err != nil {
		return nil, fmt.Errorf("oath: select: %w", err)
	}
	c.sel = info
	c.authed = !info.Locked()
	return info.clone(), nil
}

// Validate authenticates the session with key (see DeriveKey), mutually:
// it answers the SELECT challenge and checks the card's answer to a fresh
// host challenge. A wrong key fails with an error matching
// ErrWrongPassword; a card that cannot prove it knows the key fails with
// ErrBadCardResponse.
func (c *Client) Validate(ctx context.Context, key []byte) error {
	if c.sel == nil {
		return fmt.Errorf("oath: validate: %w", ErrNotSelected)
	}
	if !c.sel.Locked() {
		return fmt.Errorf("oath: validate: %w", ErrNoPassword)
	}
	alg := c.sel.Algorithm
	if alg.hash() == nil {
		return fmt.Errorf("oath: validate: %w: card asks for unknown algorithm %#02x", ErrBadCardResponse, byte(alg))
	}
	resp := hmacSum(alg, key, c.sel.Challenge)
	host := make([]byte, 8)
	if _, err := io.ReadFull(c.rand, host); err != nil {
		return fmt.Errorf("oath: validate: read random challenge: %w", err)
	}
	var data []byte
	data = AppendTLV(data, TagResponse, resp)
	data = AppendTLV(data, TagChallenge, host)
	answer, err := c.exchange(ctx, "validate", InsValidate, 0, 0, data)
	if err != nil {
		return err
	}
	tlvs, err := ParseTLVs(answer)
	if err != nil {
		return fmt.Errorf("oath: validate: %w: %w", ErrBadCardResponse, err)
	}
	got := findTLV(tlvs, TagResponse)
	want := hmacSum(alg, key, host)
	if !hmac.Equal(got, want) {
		return fmt.Errorf("oath: validate: %w", ErrBadCardResponse)
	}
	c.authed = true
	return nil
}

// Unlock derives the key of password with the salt of the last SELECT
// (selecting first if there was none) and validates it. It returns nil at
// once when the card has no password.
func (c *Client) Unlock(ctx context.Context, password string) error {
	if c.sel == nil {
		if _, err := c.Select(ctx); err != nil {
			return err
		}
	}
	if !c.sel.Locked() {
		return nil
	}
	key, err := deriveKey(password, c.sel.Salt)
	if err != nil {
		return fmt.Errorf("oath: unlock: %w", err)
	}
	return c.Validate(ctx, key)
}

// ListEntry is one credential as LIST reports it.
type ListEntry struct {
	Name      string
	Type      Type
	Algorithm Algorithm
}

// List returns the stored credentials.
func (c *Client) List(ctx context.Context) ([]ListEntry, error) {
	resp, err := c.exchange(ctx, "list", InsList, 0, 0, nil)
	if err != nil {
		return nil, err
	}
	entries, err := parseList(resp)
	if err != nil {
		return nil, fmt.Errorf("oath: list: %w", err)
	}
	return entries, nil
}

// Response is a computed OATH response.
type Response struct {
	Digits int
	// Truncated is the 4-byte truncated value of a truncated response:
	// either the raw 31-bit dynamic truncation (real YubiKeys) or a value
	// already reduced modulo 10^Digits (some fixtures); Code accepts both.
	Truncated uint32
	// Full is the whole HMAC of a full (untruncated) response, else nil.
	Full []byte
}

// Code formats the response as an OTP: (v & 0x7FFFFFFF) mod 10^Digits,
// zero-padded to Digits. For a full response v is the RFC 4226 dynamic
// truncation of Full. It returns "" when there is nothing to format.
func (r Response) Code() string {
	if r.Digits <= 0 || r.Digits > 10 {
		return ""
	}
	v := r.Truncated
	if r.Full != nil {
		var ok bool
		if v, ok = dynamicTruncate(r.Full); !ok {
			return ""
		}
	}
	mod := uint64(1)
	for range r.Digits {
		mod *= 10
	}
	return fmt.Sprintf("%0*d", r.Digits, uint64(v&0x7FFFFFFF)%mod)
}

// dynamicTruncate is RFC 4226 section 5.3: the offset is the low nibble of
// the last byte; the top bit of the 4 bytes there is cleared by the caller.
func dynamicTruncate(h []byte) (uint32, bool) {
	if len(h) < 20 {
		return 0, false
	}
	off := int(h[len(h)-1] & 0x0F)
	if off+4 > len(h) {
		return 0, false
	}
	return binary.BigEndian.Uint32(h[off : off+4]), true
}

// Calculate computes the response of credential name to challenge (see
// TOTPChallenge; empty for HOTP, whose counter the card keeps). truncate
// asks for the 4-byte truncated value instead of the full HMAC.
//
// When the session is authenticated, a 6982 answer means the card waited
// for a touch that never came: the error then matches ErrTouchTimeout.
func (c *Client) Calculate(ctx context.Context, name string, challenge []byte, truncate bool) (Response, error) {
	if err := checkName(name); err != nil {
		return Response{}, fmt.Errorf("oath: calculate: %w", err)
	}
	if len(challenge) > 64 {
		return Response{}, fmt.Errorf("oath: calculate: %w: challenge of %d bytes", ErrInvalidInput, len(challenge))
	}
	var data []byte
	data = AppendTLV(data, TagName, []byte(name))
	data = AppendTLV(data, TagChallenge, challenge)
	var p2 byte
	if truncate {
		p2 = 0x01
	}
	resp, err := c.exchange(ctx, "calculate", InsCalculate, 0, p2, data)
	if err != nil {
		// The applet answers 6982 both without authentication and when
		// the touch it waited for never came; only the client knows
		// which, from the session state.
		var se *StatusError
		if errors.As(err, &se) && se.SW == SWAuthRequired && c.authed {
			se.touchTimeout = true
		}
		return Response{}, err
	}
	r, err := parseCalculate(resp)
	if err != nil {
		return Response{}, fmt.Errorf("oath: calculate: %w", err)
	}
	return r, nil
}

// CalculateHOTP computes the next code of an HOTP credential: an empty
// challenge, as ykman sends it; the card advances its counter.
func (c *Client) CalculateHOTP(ctx context.Context, name string) (Response, error) {
	return c.Calculate(ctx, name, []byte{}, true)
}

// CalcEntry is one credential of a CALCULATE ALL answer. HOTP and touch
// credentials carry no response, only their digits: compute them with
// Calculate.
type CalcEntry struct {
	Name     string
	Response Response
	HOTP     bool // 77: HOTP credential, not computed
	Touch    bool // 7C: touch required, not computed
}

// HasCode reports whether the entry carries a computed response.
func (e CalcEntry) HasCode() bool { return !e.HOTP && !e.Touch }

// CalculateAll computes every TOTP credential without touch for challenge
// (usually TOTPChallenge(now, DefaultPeriod); the card does not know the
// periods) and lists HOTP and touch credentials without computing them.
func (c *Client) CalculateAll(ctx context.Context, challenge []byte, truncate bool) ([]CalcEntry, error) {
	if len(challenge) > 64 {
		return nil, fmt.Errorf("oath: calculate all: %w: challenge of %d bytes", ErrInvalidInput, len(challenge))
	}
	data := AppendTLV(nil, TagChallenge, challenge)
	var p2 byte
	if truncate {
		p2 = 0x01
	}
	resp, err := c.exchange(ctx, "calculate all", InsCalculateAll, 0, p2, data)
	if err != nil {
		return nil, err
	}
	entries, err := parseCalculateAll(resp)
	if err != nil {
		return nil, fmt.Errorf("oath: calculate all: %w", err)
	}
	return entries, nil
}

// TOTPChallenge is the TOTP moving factor for t: TOTPStep(t, period) as
// 8 bytes big-endian (RFC 6238 section 4.2).
func TOTPChallenge(t time.Time, period time.Duration) []byte {
	return binary.BigEndian.AppendUint64(nil, uint64(TOTPStep(t, period)))
}

// TOTPStep is the number of the TOTP time step holding t: floor(unix /
// period), negative before 1970. The period counts in whole seconds; under
// one second (ParseName yields 0 for a "0/" prefix) means DefaultPeriod.
func TOTPStep(t time.Time, period time.Duration) int64 {
	p := int64(period / time.Second)
	if p <= 0 {
		p = int64(DefaultPeriod / time.Second)
	}
	u := t.Unix()
	step := u / p
	if u%p < 0 { // floor for times before 1970
		step--
	}
	return step
}

// PutRequest describes a credential to store.
type PutRequest struct {
	Name       string // as FormatName builds it; at most 64 bytes
	Type       Type
	Algorithm  Algorithm
	Digits     int    // 6 to 8
	Key        []byte // the raw secret; Put applies PrepareKey
	Touch      bool   // require touch (firmware 4.2+)
	Increasing bool   // only-increasing challenges
	Counter    uint32 // HOTP initial moving factor; sent (7A) when non-zero
}

// Put stores a credential, overwriting one with the same name.
func (c *Client) Put(ctx context.Context, req PutRequest) error {
	data, err := req.encode()
	if err != nil {
		return fmt.Errorf("oath: put: %w", err)
	}
	_, err = c.exchange(ctx, "put", InsPut, 0, 0, data)
	return err
}

func (req PutRequest) encode() ([]byte, error) {
	if err := checkName(req.Name); err != nil {
		return nil, err
	}
	if req.Type != HOTP && req.Type != TOTP {
		return nil, fmt.Errorf("%w: unknown type %#02x", ErrInvalidInput, byte(req.Type))
	}
	if req.Algorithm.hash() == nil {
		return nil, fmt.Errorf("%w: unknown algorithm %#02x", ErrInvalidInput, byte(req.Algorithm))
	}
	if req.Digits < 6 || req.Digits > 8 {
		return nil, fmt.Errorf("%w: %d digits, want 6 to 8", ErrInvalidInput, req.Digits)
	}
	if len(req.Key) == 0 {
		return nil, fmt.Errorf("%w: empty secret", ErrInvalidInput)
	}
	if req.Counter != 0 && req.Type != HOTP {
		return nil, fmt.Errorf("%w: an initial counter is for HOTP credentials only", ErrInvalidInput)
	}
	key := PrepareKey(req.Algorithm, req.Key)
	keyVal := make([]byte, 0, 2+len(key))
	keyVal = append(keyVal, byte(req.Type)|byte(req.Algorithm), byte(req.Digits))
	keyVal = append(keyVal, key...)

	var data []byte
	data = AppendTLV(data, TagName, []byte(req.Name))
	data = AppendTLV(data, TagKey, keyVal)
	var prop byte
	if req.Increasing {
		prop |= PropIncreasing
	}
	if req.Touch {
		prop |= PropTouch
	}
	if prop != 0 {
		data = AppendProperty(data, prop)
	}
	if req.Counter != 0 {
		data = AppendTLV(data, TagIMF, binary.BigEndian.AppendUint32(nil, req.Counter))
	}
	return data, nil
}

// Delete removes the credential name.
func (c *Client) Delete(ctx context.Context, name string) error {
	if err := checkName(name); err != nil {
		return fmt.Errorf("oath: delete: %w", err)
	}
	_, err := c.exchange(ctx, "delete", InsDelete, 0, 0, AppendTLV(nil, TagName, []byte(name)))
	return err
}

// Rename renames credential oldName to newName (firmware 5.3.1+).
func (c *Client) Rename(ctx context.Context, oldName, newName string) error {
	if err := checkName(oldName); err != nil {
		return fmt.Errorf("oath: rename: %w", err)
	}
	if err := checkName(newName); err != nil {
		return fmt.Errorf("oath: rename: %w", err)
	}
	var data []byte
	data = AppendTLV(data, TagName, []byte(oldName))
	data = AppendTLV(data, TagName, []byte(newName))
	_, err := c.exchange(ctx, "rename", InsRename, 0, 0, data)
	return err
}

// SetCode sets the password key (16 bytes, see DeriveKey), as ykman does:
// 73 11 21 <key> 74 08 <challenge> 75 14 HMAC-SHA1(key, challenge). The
// session stays authenticated.
func (c *Client) SetCode(ctx context.Context, key []byte) error {
	if len(key) != keyLen {
		return fmt.Errorf("oath: set code: %w: key of %d bytes, want %d", ErrInvalidInput, len(key), keyLen)
	}
	chal := make([]byte, 8)
	if _, err := io.ReadFull(c.rand, chal); err != nil {
		return fmt.Errorf("oath: set code: read random challenge: %w", err)
	}
	keyVal := append([]byte{byte(TOTP) | byte(SHA1)}, key...)
	var data []byte
	data = AppendTLV(data, TagKey, keyVal)
	data = AppendTLV(data, TagChallenge, chal)
	data = AppendTLV(data, TagResponse, hmacSum(SHA1, key, chal))
	if _, err := c.exchange(ctx, "set code", InsSetCode, 0, 0, data); err != nil {
		return err
	}
	return nil
}

// ClearCode removes the password (73 00).
func (c *Client) ClearCode(ctx context.Context) error {
	_, err := c.exchange(ctx, "clear code", InsSetCode, 0, 0, AppendTLV(nil, TagKey, nil))
	return err
}

// Reset erases every credential and the password (00 04 DE AD), then
// selects the applet again, as yubikit does: the salt, and so the device
// id, change. LastSelect has the new answer.
func (c *Client) Reset(ctx context.Context) error {
	c.sel, c.authed = nil, false
	if _, err := c.exchange(ctx, "reset", InsReset, 0xDE, 0xAD, nil); err != nil {
		return err
	}
	if _, err := c.Select(ctx); err != nil {
		return fmt.Errorf("oath: reset: %w", err)
	}
	return nil
}

// Send is the raw escape hatch: one logical command (chained when data is
// over 255 bytes, 61xx answers followed) whose answer data is returned
// when the card says 9000, a *StatusError otherwise. It does not track the
// session: prefer the typed methods.
func (c *Client) Send(ctx context.Context, ins, p1, p2 byte, data []byte) ([]byte, error) {
	return c.exchange(ctx, insName(ins), ins, p1, p2, data)
}

// MaxNameLen is the longest credential name the applet stores, in bytes.
const MaxNameLen = 64

func checkName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: empty credential name", ErrInvalidInput)
	case len(name) > MaxNameLen:
		return fmt.Errorf("%w: credential name of %d bytes, at most %d", ErrInvalidInput, len(name), MaxNameLen)
	}
	return nil
}

func findTLV(tlvs []TLV, tag byte) []byte {
	for _, t := range tlvs {
		if t.Tag == tag {
			return t.Value
		}
	}
	return nil
}
