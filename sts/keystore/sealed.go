package keystore

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Sealed file format, version 1 (all integers big-endian):
//
//	magic      8  "MFABSEAL"
//	version    1  1
//	serial     4  the PIV card's serial
//	slot       1  0x9D or a retired key-management slot 0x82–0x95
//	recipient 65  the card key's public point (uncompressed SEC1, P-256)
//	ephemeral 65  the sealer's ephemeral public point (uncompressed SEC1)
//	created    8  Unix seconds when the key was stored
//	idlen      1  then the access key id (not secret; List shows it)
//	proflen    1  then the profile name (a file cannot pose as another profile's)
//	ciphertext    AES-256-GCM of the JSON payload, 16-byte tag included
//
// key = HKDF-SHA256(IKM = x-coordinate of ECDH(card key, ephemeral),
// salt = ephemeral ‖ recipient, info = "mfabridge piv-p256 sealed key v1"),
// 32 bytes; the nonce is 12 zero bytes (every key is fresh, as in
// age-plugin-yubikey); the associated data is every header byte before the
// ciphertext, so serial, slot, points, id and profile are authenticated.
// The payload is {"secret_access_key": …, "session_token": …}.
const (
	sealMagic      = "MFABSEAL"
	SealVersion    = 1
	pointLen       = 65
	sealFixedLen   = len(sealMagic) + 1 + 4 + 1 + pointLen + pointLen + 8
	sealInfo       = "mfabridge piv-p256 sealed key v1"
	gcmTagLen      = 16
	maxSealedBytes = 64 << 10
)

var (
	ErrNotSealed = errors.New("not an mfabridge sealed key file")
	ErrTruncated = errors.New("sealed key file truncated")
	ErrTampered  = errors.New("sealed key file corrupt or tampered with")
)

// VersionError: the file was written by a newer mfabridge.
type VersionError struct{ Version, Supported int }

func (e *VersionError) Error() string {
	return fmt.Sprintf("sealed key file format version %d is newer than this mfabridge supports (%d)", e.Version, e.Supported)
}

// SlotError: a slot that may not hold a sealing key.
type SlotError struct{ Slot byte }

func (e *SlotError) Error() string {
	return fmt.Sprintf("PIV slot %02x cannot hold a sealing key: use 9d or a retired slot 82-95", e.Slot)
}

// ValidSealingSlot reports whether slot is 9D (key management) or a retired
// key-management slot 82–95.
func ValidSealingSlot(slot byte) bool { return slot == 0x9d || slot >= 0x82 && slot <= 0x95 }

// SerialError: the file is sealed to a card that is not the one present.
// Found is 0 when no card was found.
type SerialError struct{ Want, Found uint32 }

func (e *SerialError) Error() string {
	if e.Found == 0 {
		return fmt.Sprintf("the key is sealed to the PIV key with serial %d, which is not present", e.Want)
	}
	return fmt.Sprintf("the key is sealed to the PIV key with serial %d, not %d", e.Want, e.Found)
}

// KeyMismatchError: the card's key in the slot is not the one the file was
// sealed to (the key was replaced, or the file names another slot).
type KeyMismatchError struct {
	Serial uint32
	Slot   byte
}

func (e *KeyMismatchError) Error() string {
	return fmt.Sprintf("the key in slot %02x of PIV key %d is not the one this file was sealed to (replaced, or another slot)", e.Slot, e.Serial)
}

// Sealed is a parsed sealed file.
type Sealed struct {
	Version     int
	Serial      uint32
	Slot        byte
	Recipient   *ecdh.PublicKey
	Ephemeral   *ecdh.PublicKey
	Created     time.Time
	AccessKeyID string
	Profile     string
	header      []byte // the authenticated header bytes
	ciphertext  []byte
}

// Recipient is the card key a file is sealed to; sealing needs only this
// (no card, no PIN).
type Recipient struct {
	Serial    uint32
	Slot      byte
	PublicKey *ecdh.PublicKey // P-256
}

type sealedPayload struct {
	Secret string `json:"secret_access_key"`
	Token  string `json:"session_token,omitempty"`
}

// Seal encrypts k for profile to r. k.Created must be set (the stores stamp
// it).
func Seal(r Recipient, profile string, k Key) ([]byte, error) {
	if !ValidSealingSlot(r.Slot) {
		return nil, fmt.Errorf("seal key of %s: %w", profile, &SlotError{r.Slot})
	}
	if r.PublicKey == nil || r.PublicKey.Curve() != ecdh.P256() {
		return nil, fmt.Errorf("seal key of %s: recipient is not a P-256 public key", profile)
	}
	if len(k.AccessKeyID) > 255 || len(profile) > 255 {
		return nil, fmt.Errorf("seal key of %s: %w: key id or profile longer than 255 bytes", profile, ErrBadKey)
	}
	eph, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("seal key of %s: %w", profile, err)
	}
	shared, err := eph.ECDH(r.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("seal key of %s: %w", profile, err)
	}
	var h bytes.Buffer
	h.WriteString(sealMagic)
	h.WriteByte(SealVersion)
	h.Write(binary.BigEndian.AppendUint32(nil, r.Serial))
	h.WriteByte(r.Slot)
	h.Write(r.PublicKey.Bytes())
	h.Write(eph.PublicKey().Bytes())
	h.Write(binary.BigEndian.AppendUint64(nil, uint64(k.Created.Unix())))
	h.WriteByte(byte(len(k.AccessKeyID)))
	h.WriteString(k.AccessKeyID)
	h.WriteByte(byte(len(profile)))
	h.WriteString(profile)
	aead, err := sealAEAD(shared, eph.PublicKey().Bytes(), r.PublicKey.Bytes())
	if err != nil {
		return nil, fmt.Errorf("seal key of %s: %w", profile, err)
	}
	pt, err := json.Marshal(sealedPayload{Secret: k.SecretAccessKey, Token: k.SessionToken})
	if err != nil {
		return nil, fmt.Errorf("seal key of %s: %w", profile, err)
	}
	defer clear(pt)
	hdr := h.Bytes()
	return aead.Seal(hdr, make([]byte, aead.NonceSize()), pt, hdr), nil
}

func sealAEAD(shared, eph, rcpt []byte) (cipher.AEAD, error) {
	salt := append(append([]byte{}, eph...), rcpt...)
	key, err := hkdf.Key(sha256.New, shared, salt, sealInfo, 32)
	if err != nil {
		return nil, err
	}
	defer clear(key)
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// ParseSealed reads a sealed file's header without a card. It never
// panics; see the package doc for its errors.
func ParseSealed(data []byte) (*Sealed, error) {
	if len(data) < len(sealMagic) {
		if bytes.HasPrefix([]byte(sealMagic), data) && len(data) > 0 {
			return nil, ErrTruncated
		}
		return nil, ErrNotSealed
	}
	if string(data[:len(sealMagic)]) != sealMagic {
		return nil, ErrNotSealed
	}
	p := data[len(sealMagic):]
	if len(p) < 1 {
		return nil, ErrTruncated
	}
	if v := int(p[0]); v != SealVersion {
		if v > SealVersion {
			return nil, &VersionError{Version: v, Supported: SealVersion}
		}
		return nil, fmt.Errorf("%w: format version %d", ErrTampered, v)
	}
	if len(data) < sealFixedLen {
		return nil, ErrTruncated
	}
	s := &Sealed{Version: SealVersion}
	p = data[len(sealMagic)+1:]
	s.Serial = binary.BigEndian.Uint32(p)
	s.Slot = p[4]
	p = p[5:]
	if !ValidSealingSlot(s.Slot) {
		return nil, &SlotError{s.Slot}
	}
	var err error
	if s.Recipient, err = ecdh.P256().NewPublicKey(p[:pointLen]); err != nil {
		return nil, fmt.Errorf("%w: recipient point: %v", ErrTampered, err)
	}
	if s.Ephemeral, err = ecdh.P256().NewPublicKey(p[pointLen : 2*pointLen]); err != nil {
		return nil, fmt.Errorf("%w: ephemeral point: %v", ErrTampered, err)
	}
	p = p[2*pointLen:]
	s.Created = time.Unix(int64(binary.BigEndian.Uint64(p)), 0).UTC()
	p = p[8:]
	var id, prof string
	var ok bool
	if id, p, ok = lenPrefixed(p); !ok {
		return nil, ErrTruncated
	}
	if prof, p, ok = lenPrefixed(p); !ok {
		return nil, ErrTruncated
	}
	if len(p) < gcmTagLen {
		return nil, ErrTruncated
	}
	s.AccessKeyID, s.Profile = id, prof
	s.header = data[:len(data)-len(p)]
	s.ciphertext = p
	return s, nil
}

func lenPrefixed(p []byte) (string, []byte, bool) {
	if len(p) < 1 || len(p) < 1+int(p[0]) {
		return "", nil, false
	}
	n := int(p[0])
	return string(p[1 : 1+n]), p[1+n:], true
}

// Card is the part of a PIV client that opening a sealed file needs. The
// implementation handles the PIN (and touch) as the key's policy requires;
// the PIV client on the piv branch is meant to satisfy it.
//
// Error contract: PublicKey returns an error wrapping ErrNotFound for an
// empty slot; ECDH returns the x-coordinate of the shared point (32 bytes,
// as crypto/ecdh does) or the card's error (wrong PIN, blocked PIN, no
// touch), which Open passes on wrapped.
type Card interface {
	Serial() uint32
	PublicKey(ctx context.Context, slot byte) (*ecdh.PublicKey, error)
	ECDH(ctx context.Context, slot byte, peer *ecdh.PublicKey) ([]byte, error)
}

// Open decrypts s with card: the card must have s's serial and hold s's
// recipient key in s's slot.
func (s *Sealed) Open(ctx context.Context, card Card) (Key, error) {
	if got := card.Serial(); got != s.Serial {
		return Key{}, &SerialError{Want: s.Serial, Found: got}
	}
	pub, err := card.PublicKey(ctx, s.Slot)
	if errors.Is(err, ErrNotFound) {
		return Key{}, &KeyMismatchError{Serial: s.Serial, Slot: s.Slot}
	}
	if err != nil {
		return Key{}, fmt.Errorf("read public key of slot %02x: %w", s.Slot, err)
	}
	if !pub.Equal(s.Recipient) {
		return Key{}, &KeyMismatchError{Serial: s.Serial, Slot: s.Slot}
	}
	shared, err := card.ECDH(ctx, s.Slot, s.Ephemeral)
	if err != nil {
		return Key{}, fmt.Errorf("ecdh with slot %02x of PIV key %d: %w", s.Slot, s.Serial, err)
	}
	defer clear(shared)
	aead, err := sealAEAD(shared, s.Ephemeral.Bytes(), s.Recipient.Bytes())
	if err != nil {
		return Key{}, err
	}
	pt, err := aead.Open(nil, make([]byte, aead.NonceSize()), s.ciphertext, s.header)
	if err != nil {
		return Key{}, ErrTampered
	}
	defer clear(pt)
	var pl sealedPayload
	if err := json.Unmarshal(pt, &pl); err != nil || pl.Secret == "" {
		return Key{}, fmt.Errorf("%w: payload", ErrTampered)
	}
	return Key{AccessKeyID: s.AccessKeyID, SecretAccessKey: pl.Secret, SessionToken: pl.Token, Created: s.Created}, nil
}
