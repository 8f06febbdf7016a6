// Package piv is a client of the PIV applet of a YubiKey (NIST SP 800-73-4
// with Yubico's extensions) over any Transport: a PC/SC card (package pcsc)
// or the software YubiKey of package simulator. It needs no cgo.
//
// It lives beside the OATH client's users under device/ rather than at the
// top level: the design card's top level (cmd device oath pcsc sts
// simulator testdata) stays as it is, and PIV is one more thing the device
// layer does with a YubiKey. Like oath, it imports nothing of ours, and its
// Transport is the same one-method interface, so one card session (one
// PC/SC transaction) can serve PIV and then OATH. Selecting OATH drops the
// PIV applet's verified PIN: do the PIV work first.
//
// Error contract: a status word other than 9000 is a *StatusError whose
// Unwrap gives a typed cause: ErrNotFound (6A82, 6A88), ErrSecurityStatus
// (6982: PIN, management key or touch missing), ErrIncorrectData (6A80,
// also an empty slot), ErrWrongParameters, ErrConditions, ErrNotSupported,
// … A rejected PIN or PUK is an *AuthError (errors.As) with the tries left;
// a blocked one also matches ErrBlocked. Answers that do not parse wrap
// ErrMalformed; input refused before sending wraps ErrInvalidInput; a card
// that fails the management key's mutual authentication gives ErrCardAuth.
// Transport failures are wrapped as they come.
package piv

import (
	"bytes"
	"context"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/subtle"
	"crypto/x509"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
)

// Transport sends one command APDU and returns the card's raw answer (data
// then SW1 SW2). It does not interpret status words; it fails only when the
// exchange itself failed. oath.Transport, *pcsc.Card and *simulator.Card
// have this method.
type Transport interface {
	Transmit(ctx context.Context, apdu []byte) ([]byte, error)
}

// Instructions (SP 800-73-4 Part 2 §3; Yubico's PIV extensions).
const (
	insVerify      = 0x20
	insChangeRef   = 0x24
	insResetRetry  = 0x2C
	insGenerate    = 0x47
	insGeneralAuth = 0x87
	insSelect      = 0xA4
	insGetData     = 0xCB
	insPutData     = 0xDB
	insMetadata    = 0xF7
	insSerial      = 0xF8
	insAttest      = 0xF9
	insReset       = 0xFB
	insVersion     = 0xFD
	insImportKey   = 0xFE
	insSetMgmtKey  = 0xFF
)

// AID is the PIV application identifier prefix both ykman and piv-go
// select (SP 800-73-4 Part 1 §2.2).
var AID = []byte{0xA0, 0x00, 0x00, 0x03, 0x08}

// Key references (SP 800-73-4 Part 1 §5.1, Table 4).
const (
	refPIN  = 0x80
	refPUK  = 0x81
	refMgmt = 0x9B
)

// Slot is a PIV key reference that holds an asymmetric key.
type Slot byte

// The slots (SP 800-73-4 Part 1 Table 4); retired key management slots
// 82–95 through RetiredSlot.
const (
	SlotAuthentication     Slot = 0x9A
	SlotSignature          Slot = 0x9C
	SlotKeyManagement      Slot = 0x9D
	SlotCardAuthentication Slot = 0x9E
	SlotAttestation        Slot = 0xF9 // Yubico's attestation key
)

// RetiredSlot returns retired key management slot n (1–20: 82–95).
func RetiredSlot(n int) (Slot, error) {
	if n < 1 || n > 20 {
		return 0, fmt.Errorf("piv: %w: retired slot %d, want 1–20", ErrInvalidInput, n)
	}
	return Slot(0x81 + n), nil
}

// Valid reports whether s names a key slot (9A 9C 9D 9E 82–95 F9).
func (s Slot) Valid() bool {
	return s == 0x9A || s == 0x9C || s == 0x9D || s == 0x9E || s == 0xF9 || (s >= 0x82 && s <= 0x95)
}

func (s Slot) String() string { return fmt.Sprintf("%02x", byte(s)) }

// Object is the data object that holds the slot's certificate.
func (s Slot) Object() uint32 {
	switch s {
	case SlotAuthentication:
		return 0x5FC105
	case SlotSignature:
		return 0x5FC10A
	case SlotKeyManagement:
		return 0x5FC10B
	case SlotCardAuthentication:
		return 0x5FC101
	case SlotAttestation:
		return 0x5FFF01
	}
	return 0x5FC10D + uint32(s-0x82)
}

// Algorithm identifiers (SP 800-78-4 Table 6-2; Yubico).
type Algorithm byte

const (
	Alg3DES     Algorithm = 0x03
	AlgAES128   Algorithm = 0x08
	AlgAES192   Algorithm = 0x0A
	AlgAES256   Algorithm = 0x0C
	AlgRSA1024  Algorithm = 0x06
	AlgRSA2048  Algorithm = 0x07
	AlgECCP256  Algorithm = 0x11
	AlgECCP384  Algorithm = 0x14
	AlgPIN      Algorithm = 0xFF // the "algorithm" of the PIN and PUK in metadata
	algNotGiven Algorithm = 0
)

// PINPolicy and TouchPolicy are Yubico's key policies; 0 means the slot's
// default when generating.
type (
	PINPolicy   byte
	TouchPolicy byte
)

const (
	PINPolicyDefault   PINPolicy   = 0x00
	PINPolicyNever     PINPolicy   = 0x01
	PINPolicyOnce      PINPolicy   = 0x02
	PINPolicyAlways    PINPolicy   = 0x03
	TouchPolicyDefault TouchPolicy = 0x00
	TouchPolicyNever   TouchPolicy = 0x01
	TouchPolicyAlways  TouchPolicy = 0x02
	TouchPolicyCached  TouchPolicy = 0x03
)

// DefaultManagementKey is the factory management key (3DES before firmware
// 5.7, AES-192 from 5.7: the same 24 bytes).
var DefaultManagementKey = []byte{
	1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8,
}

// Factory PIN and PUK.
const (
	DefaultPIN = "123456"
	DefaultPUK = "12345678"
)

// Version is the PIV applet's firmware version.
type Version struct{ Major, Minor, Patch uint8 }

func (v Version) String() string { return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch) }

// AtLeast reports whether v is o or newer.
func (v Version) AtLeast(o Version) bool {
	if v.Major != o.Major {
		return v.Major > o.Major
	}
	if v.Minor != o.Minor {
		return v.Minor > o.Minor
	}
	return v.Patch >= o.Patch
}

// Client speaks PIV over a Transport. It is not safe for concurrent use.
type Client struct {
	t       Transport
	log     *slog.Logger
	rand    io.Reader
	framing Framing
	version *Version // from GET VERSION, cached
}

// Option configures a Client.
type Option func(*Client)

// WithLogger traces every APDU at debug level ("> 00A4…" / "< …9000"), with
// PINs, keys, challenges, signatures and shared secrets redacted.
func WithLogger(l *slog.Logger) Option { return func(c *Client) { c.log = l } }

// WithRand sets the source of management key challenges (crypto/rand by default).
func WithRand(r io.Reader) Option { return func(c *Client) { c.rand = r } }

// WithFraming chooses short (the default), extended or automatic framing.
func WithFraming(f Framing) Option { return func(c *Client) { c.framing = f } }

// NewClient returns a Client using t. It sends nothing until called.
func NewClient(t Transport, opts ...Option) *Client {
	c := &Client{t: t, rand: rand.Reader}
	for _, o := range opts {
		o(c)
	}
	return c
}

// Select selects the PIV applet (00 A4 04 00 05 A0 00 00 03 08). A card
// without it gives ErrNotFound.
func (c *Client) Select(ctx context.Context) error {
	apdu := append([]byte{0x00, insSelect, 0x04, 0x00, byte(len(AID))}, AID...)
	resp, sw, err := c.transmit(ctx, "select", insSelect, apdu)
	if err != nil {
		return err
	}
	for empty := 0; sw>>8 == 0x61 && empty < maxEmptyRounds; empty++ {
		if resp, sw, err = c.transmit(ctx, "select", insSelect, buildAPDU(0, insGetResponse, 0, 0, nil, false)); err != nil {
			return err
		}
	}
	_ = resp // the application property template: nothing in it is needed
	if sw != 0x9000 {
		return statusError("select PIV applet", "", sw)
	}
	return nil
}

// Version returns the applet's firmware version (GET VERSION, cached).
func (c *Client) Version(ctx context.Context) (Version, error) {
	if c.version != nil {
		return *c.version, nil
	}
	resp, err := c.exchange(ctx, "get version", "", insVersion, 0, 0, nil)
	if err != nil {
		return Version{}, err
	}
	if len(resp) != 3 {
		return Version{}, fmt.Errorf("piv: get version: %w: %d bytes, want 3", ErrMalformed, len(resp))
	}
	c.version = &Version{resp[0], resp[1], resp[2]}
	return *c.version, nil
}

// Serial returns the key's serial number (GET SERIAL, firmware 5+).
func (c *Client) Serial(ctx context.Context) (uint32, error) {
	resp, err := c.exchange(ctx, "get serial", "", insSerial, 0, 0, nil)
	if err != nil {
		return 0, err
	}
	if len(resp) != 4 {
		return 0, fmt.Errorf("piv: get serial: %w: %d bytes, want 4", ErrMalformed, len(resp))
	}
	return binary.BigEndian.Uint32(resp), nil
}

// encodePIN pads a 6–8 byte PIN or PUK with FF to 8 bytes (SP 800-73-4
// Part 2 §2.4.3).
func encodePIN(what, pin string) ([]byte, error) {
	if len(pin) < 6 || len(pin) > 8 {
		return nil, fmt.Errorf("piv: %w: a %s has 6 to 8 characters, got %d", ErrInvalidInput, what, len(pin))
	}
	if bytes.IndexByte([]byte(pin), 0xFF) >= 0 {
		return nil, fmt.Errorf("piv: %w: a %s cannot contain byte FF", ErrInvalidInput, what)
	}
	b := bytes.Repeat([]byte{0xFF}, 8)
	copy(b, pin)
	return b, nil
}

// VerifyPIN verifies the PIN. A wrong PIN gives an *AuthError with the
// tries left; a blocked one matches ErrBlocked.
func (c *Client) VerifyPIN(ctx context.Context, pin string) error {
	b, err := encodePIN("PIN", pin)
	if err != nil {
		return err
	}
	_, err = c.exchange(ctx, "verify PIN", "PIN", insVerify, 0, refPIN, b)
	clear(b)
	return err
}

// PINVerified asks the card whether the PIN is verified in this session
// (an empty VERIFY), without spending a try. A blocked PIN is an error.
func (c *Client) PINVerified(ctx context.Context) (bool, error) {
	_, err := c.exchange(ctx, "PIN status", "PIN", insVerify, 0, refPIN, nil)
	var ae *AuthError
	switch {
	case err == nil:
		return true, nil
	case asAuth(err, &ae) && ae.Retries > 0:
		return false, nil
	}
	return false, err
}

// PINRetries returns the PIN's tries left (GET METADATA on 5.3+, else the
// empty VERIFY, which reads 9000 when verified: -1 then, unknown).
func (c *Client) PINRetries(ctx context.Context) (int, error) {
	v, err := c.Version(ctx)
	if err != nil {
		return 0, err
	}
	if v.AtLeast(Version{5, 3, 0}) {
		md, err := c.Metadata(ctx, refPIN)
		if err != nil {
			return 0, err
		}
		return md.RetriesLeft, nil
	}
	_, err = c.exchange(ctx, "PIN status", "PIN", insVerify, 0, refPIN, nil)
	var ae *AuthError
	switch {
	case err == nil:
		return -1, nil
	case asAuth(err, &ae):
		return ae.Retries, nil
	}
	return 0, err
}

// ChangePIN replaces the PIN (CHANGE REFERENCE DATA 80).
func (c *Client) ChangePIN(ctx context.Context, old, new string) error {
	return c.changeRef(ctx, "change PIN", "PIN", insChangeRef, refPIN, "PIN", old, new)
}

// ChangePUK replaces the PUK (CHANGE REFERENCE DATA 81).
func (c *Client) ChangePUK(ctx context.Context, old, new string) error {
	return c.changeRef(ctx, "change PUK", "PUK", insChangeRef, refPUK, "PUK", old, new)
}

// Unblock sets a new PIN with the PUK and restores the PIN's tries (RESET
// RETRY COUNTER). A wrong PUK gives an *AuthError about the PUK.
func (c *Client) Unblock(ctx context.Context, puk, newPIN string) error {
	return c.changeRef(ctx, "unblock PIN", "PUK", insResetRetry, refPIN, "PIN", puk, newPIN)
}

func (c *Client) changeRef(ctx context.Context, op, what string, ins, ref byte, newWhat, old, new string) error {
	a, err := encodePIN(what, old)
	if err != nil {
		return err
	}
	b, err := encodePIN(newWhat, new)
	if err != nil {
		return err
	}
	data := append(a, b...)
	_, err = c.exchange(ctx, op, what, ins, 0, ref, data)
	clear(data)
	return err
}

// Origin says where a key came from.
type Origin byte

const (
	OriginGenerated Origin = 0x01
	OriginImported  Origin = 0x02
)

// Metadata is Yubico's GET METADATA answer (firmware 5.3+). Fields that the
// answer does not carry stay zero.
type Metadata struct {
	Algorithm    Algorithm
	PINPolicy    PINPolicy
	TouchPolicy  TouchPolicy
	Origin       Origin
	PublicKey    crypto.PublicKey // *ecdsa.PublicKey for EC slots
	IsDefault    bool             // PIN, PUK, management key: still the factory value
	RetriesTotal int              // PIN, PUK
	RetriesLeft  int
}

// Metadata reads GET METADATA for a reference: a Slot, or 0x80 (PIN), 0x81
// (PUK), 0x9B (management key). An empty slot gives ErrNotFound.
func (c *Client) Metadata(ctx context.Context, ref byte) (*Metadata, error) {
	op := fmt.Sprintf("get metadata %02x", ref)
	resp, err := c.exchange(ctx, op, "", insMetadata, 0, ref, nil)
	if err != nil {
		return nil, err
	}
	md, err := parseMetadata(resp)
	if err != nil {
		return nil, fmt.Errorf("piv: %s: %w", op, err)
	}
	return md, nil
}

func parseMetadata(b []byte) (*Metadata, error) {
	m, err := tlvMap(b)
	if err != nil {
		return nil, err
	}
	var md Metadata
	if v, ok := m[0x01]; ok {
		if len(v) != 1 {
			return nil, fmt.Errorf("%w: algorithm of %d bytes", ErrMalformed, len(v))
		}
		md.Algorithm = Algorithm(v[0])
	}
	if v, ok := m[0x02]; ok {
		if len(v) != 2 {
			return nil, fmt.Errorf("%w: policy of %d bytes", ErrMalformed, len(v))
		}
		md.PINPolicy, md.TouchPolicy = PINPolicy(v[0]), TouchPolicy(v[1])
	}
	if v, ok := m[0x03]; ok {
		if len(v) != 1 {
			return nil, fmt.Errorf("%w: origin of %d bytes", ErrMalformed, len(v))
		}
		md.Origin = Origin(v[0])
	}
	if v, ok := m[0x05]; ok {
		if len(v) != 1 {
			return nil, fmt.Errorf("%w: default flag of %d bytes", ErrMalformed, len(v))
		}
		md.IsDefault = v[0] != 0
	}
	if v, ok := m[0x06]; ok {
		if len(v) != 2 {
			return nil, fmt.Errorf("%w: retries of %d bytes", ErrMalformed, len(v))
		}
		md.RetriesTotal, md.RetriesLeft = int(v[0]), int(v[1])
	}
	if v, ok := m[0x04]; ok && (md.Algorithm == AlgECCP256 || md.Algorithm == AlgECCP384) {
		pt, err := tlvMap(v)
		if err != nil {
			return nil, err
		}
		if md.PublicKey, err = parsePoint(md.Algorithm, pt[0x86]); err != nil {
			return nil, err
		}
	}
	return &md, nil
}

func curveOf(alg Algorithm) (elliptic.Curve, ecdh.Curve, error) {
	switch alg {
	case AlgECCP256:
		return elliptic.P256(), ecdh.P256(), nil
	case AlgECCP384:
		return elliptic.P384(), ecdh.P384(), nil
	}
	return nil, nil, fmt.Errorf("piv: %w: algorithm %#02x is not a supported curve (P-256 11, P-384 14)", ErrInvalidInput, byte(alg))
}

func parsePoint(alg Algorithm, pt []byte) (*ecdsa.PublicKey, error) {
	curve, _, err := curveOf(alg)
	if err != nil {
		return nil, err
	}
	pub, err := ecdsa.ParseUncompressedPublicKey(curve, pt)
	if err != nil {
		return nil, fmt.Errorf("%w: public key: %w", ErrMalformed, err)
	}
	return pub, nil
}

// AuthenticateManagementKey proves the management key to the card (mutual
// authentication with witness and challenge, SP 800-73-4 Part 2 §3.2.4,
// piv.md "Management key"). The key's algorithm comes from GET METADATA on
// firmware 5.3+, else it is 3DES. A wrong key is a *StatusError matching
// ErrSecurityStatus; a card that cannot prove the key gives ErrCardAuth.
func (c *Client) AuthenticateManagementKey(ctx context.Context, key []byte) error {
	const op = "authenticate management key"
	alg := Alg3DES
	v, err := c.Version(ctx)
	if err != nil {
		return err
	}
	if v.AtLeast(Version{5, 3, 0}) {
		md, err := c.Metadata(ctx, refMgmt)
		if err != nil {
			return err
		}
		alg = md.Algorithm
	}
	block, err := mgmtCipher(alg, key)
	if err != nil {
		return fmt.Errorf("piv: %s: %w", op, err)
	}
	n := block.BlockSize()
	resp, err := c.exchange(ctx, op, "", insGeneralAuth, byte(alg), refMgmt, AppendTLV(nil, 0x7C, AppendTLV(nil, 0x80, nil)))
	if err != nil {
		return err
	}
	m, err := dynAuth(resp)
	if err != nil {
		return fmt.Errorf("piv: %s: %w", op, err)
	}
	encWitness := m[0x80]
	if len(encWitness) != n {
		return fmt.Errorf("piv: %s: %w: witness of %d bytes, want %d", op, ErrMalformed, len(encWitness), n)
	}
	witness := make([]byte, n)
	block.Decrypt(witness, encWitness)
	chal := make([]byte, n)
	if _, err := io.ReadFull(c.rand, chal); err != nil {
		return fmt.Errorf("piv: %s: challenge: %w", op, err)
	}
	dyn := AppendTLV(AppendTLV(nil, 0x80, witness), 0x81, chal)
	resp, err = c.exchange(ctx, op, "", insGeneralAuth, byte(alg), refMgmt, AppendTLV(nil, 0x7C, dyn))
	if err != nil {
		return err
	}
	if m, err = dynAuth(resp); err != nil {
		return fmt.Errorf("piv: %s: %w", op, err)
	}
	want := make([]byte, n)
	block.Encrypt(want, chal)
	if subtle.ConstantTimeCompare(m[0x82], want) != 1 {
		return fmt.Errorf("piv: %s: %w", op, ErrCardAuth)
	}
	return nil
}

// dynAuth unwraps a GENERAL AUTHENTICATE answer: 7C L <TLVs>.
func dynAuth(resp []byte) (map[uint32][]byte, error) {
	v, err := unwrapTLV(resp, 0x7C)
	if err != nil {
		return nil, err
	}
	return tlvMap(v)
}

func mgmtCipher(alg Algorithm, key []byte) (cipher.Block, error) {
	want := map[Algorithm]int{Alg3DES: 24, AlgAES128: 16, AlgAES192: 24, AlgAES256: 32}[alg]
	if want == 0 {
		return nil, fmt.Errorf("%w: management key algorithm %#02x unknown", ErrInvalidInput, byte(alg))
	}
	if len(key) != want {
		return nil, fmt.Errorf("%w: management key of %d bytes, the card's %s key has %d", ErrInvalidInput, len(key), algName(alg), want)
	}
	if alg == Alg3DES {
		return des.NewTripleDESCipher(key)
	}
	return aes.NewCipher(key)
}

func algName(a Algorithm) string {
	switch a {
	case Alg3DES:
		return "3DES"
	case AlgAES128:
		return "AES-128"
	case AlgAES192:
		return "AES-192"
	case AlgAES256:
		return "AES-256"
	case AlgECCP256:
		return "P-256"
	case AlgECCP384:
		return "P-384"
	}
	return fmt.Sprintf("algorithm %#02x", byte(a))
}

// SetManagementKey replaces the management key (Yubico SET MANAGEMENT KEY);
// the session must have authenticated with the current one. touch makes
// the card ask for a touch at every authentication.
func (c *Client) SetManagementKey(ctx context.Context, alg Algorithm, key []byte, touch bool) error {
	if _, err := mgmtCipher(alg, key); err != nil {
		return fmt.Errorf("piv: set management key: %w", err)
	}
	p2 := byte(0xFF)
	if touch {
		p2 = 0xFE
	}
	data := append([]byte{byte(alg), refMgmt, byte(len(key))}, key...)
	_, err := c.exchange(ctx, "set management key", "", insSetMgmtKey, 0xFF, p2, data)
	clear(data)
	return err
}

// KeyOptions describe a key to generate.
type KeyOptions struct {
	Algorithm   Algorithm   // AlgECCP256 or AlgECCP384
	PINPolicy   PINPolicy   // 0: the slot's default
	TouchPolicy TouchPolicy // 0: the slot's default (never)
}

// GenerateKey authenticates with the management key mgmtKey, then makes a
// new key pair in slot on the card and returns its public key (an
// *ecdsa.PublicKey). The slot's certificate is left as it was.
func (c *Client) GenerateKey(ctx context.Context, mgmtKey []byte, slot Slot, opts KeyOptions) (*ecdsa.PublicKey, error) {
	op := "generate key " + slot.String()
	if !slot.Valid() || slot == SlotAttestation {
		return nil, fmt.Errorf("piv: %s: %w: not a key slot", op, ErrInvalidInput)
	}
	if _, _, err := curveOf(opts.Algorithm); err != nil {
		return nil, fmt.Errorf("piv: %s: %w", op, err)
	}
	if opts.PINPolicy > PINPolicyAlways || opts.TouchPolicy > TouchPolicyCached {
		return nil, fmt.Errorf("piv: %s: %w: PIN policy %d, touch policy %d", op, ErrInvalidInput, opts.PINPolicy, opts.TouchPolicy)
	}
	if err := c.AuthenticateManagementKey(ctx, mgmtKey); err != nil {
		return nil, err
	}
	tmpl := AppendTLV(nil, 0x80, []byte{byte(opts.Algorithm)})
	if opts.PINPolicy != PINPolicyDefault {
		tmpl = AppendTLV(tmpl, 0xAA, []byte{byte(opts.PINPolicy)})
	}
	if opts.TouchPolicy != TouchPolicyDefault {
		tmpl = AppendTLV(tmpl, 0xAB, []byte{byte(opts.TouchPolicy)})
	}
	resp, err := c.exchange(ctx, op, "", insGenerate, 0, byte(slot), AppendTLV(nil, 0xAC, tmpl))
	if err != nil {
		return nil, err
	}
	v, err := unwrapTLV(resp, 0x7F49)
	if err != nil {
		return nil, fmt.Errorf("piv: %s: %w", op, err)
	}
	m, err := tlvMap(v)
	if err != nil {
		return nil, fmt.Errorf("piv: %s: %w", op, err)
	}
	pub, err := parsePoint(opts.Algorithm, m[0x86])
	if err != nil {
		return nil, fmt.Errorf("piv: %s: %w", op, err)
	}
	return pub, nil
}

// ECDH computes the shared secret of the key in slot and peer (GENERAL
// AUTHENTICATE with 85): the x-coordinate of the shared point, as Go's
// crypto/ecdh gives it. The PIN must be verified first if the key's policy
// says so; the card may wait for a touch.
func (c *Client) ECDH(ctx context.Context, slot Slot, peer *ecdh.PublicKey) ([]byte, error) {
	op := "ecdh " + slot.String()
	var alg Algorithm
	switch peer.Curve() {
	case ecdh.P256():
		alg = AlgECCP256
	case ecdh.P384():
		alg = AlgECCP384
	default:
		return nil, fmt.Errorf("piv: %s: %w: peer key is not on P-256 or P-384", op, ErrInvalidInput)
	}
	dyn := AppendTLV(AppendTLV(nil, 0x82, nil), 0x85, peer.Bytes())
	resp, err := c.exchange(ctx, op, "", insGeneralAuth, byte(alg), byte(slot), AppendTLV(nil, 0x7C, dyn))
	if err != nil {
		return nil, err
	}
	m, err := dynAuth(resp)
	if err != nil {
		return nil, fmt.Errorf("piv: %s: %w", op, err)
	}
	secret := m[0x82]
	if want := (len(peer.Bytes()) - 1) / 2; len(secret) != want {
		return nil, fmt.Errorf("piv: %s: %w: shared secret of %d bytes, want %d", op, ErrMalformed, len(secret), want)
	}
	return bytes.Clone(secret), nil
}

// Sign signs digest with the EC key in slot (GENERAL AUTHENTICATE with 81)
// and returns the ASN.1 DER signature. A digest longer than the curve's
// field is truncated to it, as ECDSA does.
func (c *Client) Sign(ctx context.Context, slot Slot, alg Algorithm, digest []byte) ([]byte, error) {
	op := "sign " + slot.String()
	curve, _, err := curveOf(alg)
	if err != nil {
		return nil, fmt.Errorf("piv: %s: %w", op, err)
	}
	if size := (curve.Params().BitSize + 7) / 8; len(digest) > size {
		digest = digest[:size]
	}
	if len(digest) == 0 {
		return nil, fmt.Errorf("piv: %s: %w: empty digest", op, ErrInvalidInput)
	}
	dyn := AppendTLV(AppendTLV(nil, 0x82, nil), 0x81, digest)
	resp, err := c.exchange(ctx, op, "", insGeneralAuth, byte(alg), byte(slot), AppendTLV(nil, 0x7C, dyn))
	if err != nil {
		return nil, err
	}
	m, err := dynAuth(resp)
	if err != nil {
		return nil, fmt.Errorf("piv: %s: %w", op, err)
	}
	if len(m[0x82]) == 0 {
		return nil, fmt.Errorf("piv: %s: %w: no signature", op, ErrMalformed)
	}
	return bytes.Clone(m[0x82]), nil
}

// dataTag encodes GET/PUT DATA's tag list: 5C L tag (7E alone, 7F61 two bytes).
func dataTag(tag uint32) []byte {
	switch {
	case tag <= 0xFF:
		return AppendTLV(nil, 0x5C, []byte{byte(tag)})
	case tag <= 0xFFFF:
		return AppendTLV(nil, 0x5C, []byte{byte(tag >> 8), byte(tag)})
	}
	return AppendTLV(nil, 0x5C, []byte{byte(tag >> 16), byte(tag >> 8), byte(tag)})
}

// GetData reads a data object (GET DATA) and returns the content of its 53
// wrapper. An absent object gives ErrNotFound.
func (c *Client) GetData(ctx context.Context, tag uint32) ([]byte, error) {
	op := fmt.Sprintf("get data %X", tag)
	resp, err := c.exchange(ctx, op, "", insGetData, 0x3F, 0xFF, dataTag(tag))
	if err != nil {
		return nil, err
	}
	if tag == 0x7E {
		return resp, nil // the Discovery Object comes as its own 7E template
	}
	v, err := unwrapTLV(resp, 0x53)
	if err != nil {
		return nil, fmt.Errorf("piv: %s: %w", op, err)
	}
	return v, nil
}

// PutData writes a data object (PUT DATA); empty content deletes it. The
// session must have authenticated with the management key.
func (c *Client) PutData(ctx context.Context, tag uint32, content []byte) error {
	data := AppendTLV(dataTag(tag), 0x53, content)
	_, err := c.exchange(ctx, fmt.Sprintf("put data %X", tag), "", insPutData, 0x3F, 0xFF, data)
	return err
}

// Certificate reads the certificate stored for slot (70 L cert 71 … FE …).
func (c *Client) Certificate(ctx context.Context, slot Slot) (*x509.Certificate, error) {
	obj, err := c.GetData(ctx, slot.Object())
	if err != nil {
		return nil, err
	}
	cert, err := parseCertObject(obj)
	if err != nil {
		return nil, fmt.Errorf("piv: certificate %s: %w", slot, err)
	}
	return cert, nil
}

func parseCertObject(obj []byte) (*x509.Certificate, error) {
	m, err := tlvMap(obj)
	if err != nil {
		return nil, err
	}
	der, ok := m[0x70]
	if !ok {
		return nil, fmt.Errorf("%w: certificate object without tag 70", ErrMalformed)
	}
	if info := m[0x71]; len(info) == 1 && info[0] != 0 {
		return nil, fmt.Errorf("%w: compressed certificate (71 %02X) not supported", ErrMalformed, info[0])
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return cert, nil
}

// PutCertificate stores cert for slot (uncompressed, with the LRC tag); the
// session must have authenticated with the management key.
func (c *Client) PutCertificate(ctx context.Context, slot Slot, cert *x509.Certificate) error {
	obj := AppendTLV(nil, 0x70, cert.Raw)
	obj = AppendTLV(obj, 0x71, []byte{0})
	obj = AppendTLV(obj, 0xFE, nil)
	return c.PutData(ctx, slot.Object(), obj)
}

// Reset resets the PIV applet (Yubico RESET): keys, certificates, PIN, PUK
// and management key back to the factory state. The card refuses
// (ErrConditions) unless PIN and PUK are both blocked.
func (c *Client) Reset(ctx context.Context) error {
	_, err := c.exchange(ctx, "reset", "", insReset, 0, 0, nil)
	return err
}
