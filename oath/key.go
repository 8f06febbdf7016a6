package oath

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"hash"
)

// Password key derivation (YKOATH spec, "SET CODE"; yubikit oath.py
// derive_key): PBKDF2-HMAC-SHA1 over the UTF-8 password with the salt of
// the SELECT answer, 1000 iterations, 16 bytes.
const (
	keyLen     = 16
	pbkdf2Iter = 1000
)

// minKeyLen is HMAC_MINIMUM_KEY_SIZE of the applet: shorter secrets are
// padded with zeros (which does not change the HMAC, RFC 2104 section 2).
const minKeyLen = 14

// DeriveKey derives the 16-byte OATH password key from password and the
// salt of the SELECT answer. It returns nil only if the platform refuses
// PBKDF2-HMAC-SHA1 (a FIPS 140-only mode).
func DeriveKey(password string, salt []byte) []byte {
	key, err := deriveKey(password, salt)
	if err != nil {
		return nil
	}
	return key
}

func deriveKey(password string, salt []byte) ([]byte, error) {
	return pbkdf2.Key(sha1.New, password, salt, pbkdf2Iter, keyLen)
}

// hash returns the constructor of the algorithm's hash, or nil.
func (a Algorithm) hash() func() hash.Hash {
	switch a {
	case SHA1:
		return sha1.New
	case SHA256:
		return sha256.New
	case SHA512:
		return sha512.New
	}
	return nil
}

// blockSize is the HMAC block size of the algorithm's hash.
func (a Algorithm) blockSize() int {
	if a == SHA512 {
		return 128
	}
	return 64
}

// String names the algorithm like ykman does.
func (a Algorithm) String() string {
	switch a {
	case SHA1:
		return "SHA1"
	case SHA256:
		return "SHA256"
	case SHA512:
		return "SHA512"
	}
	return "Algorithm(" + hexByte(byte(a)) + ")"
}

// String names the type like ykman does.
func (t Type) String() string {
	switch t {
	case HOTP:
		return "HOTP"
	case TOTP:
		return "TOTP"
	}
	return "Type(" + hexByte(byte(t)) + ")"
}

func hexByte(b byte) string {
	const digits = "0123456789abcdef"
	return "0x" + string([]byte{digits[b>>4], digits[b&0x0F]})
}

// PrepareKey shapes a secret the way ykman does before PUT: a secret longer
// than the hash's block size (64 bytes; 128 for SHA512) is replaced by its
// hash, as HMAC itself would do (RFC 2104 section 2); one shorter than 14
// bytes is padded with zeros. The result computes the same HMACs.
func PrepareKey(alg Algorithm, key []byte) []byte {
	if h := alg.hash(); h != nil && len(key) > alg.blockSize() {
		d := h()
		d.Write(key)
		key = d.Sum(nil)
	}
	out := append([]byte(nil), key...)
	for len(out) < minKeyLen {
		out = append(out, 0)
	}
	return out
}

// hmacSum is HMAC with the algorithm's hash; SHA1 for unknown algorithms
// (callers check them first).
func hmacSum(alg Algorithm, key, msg []byte) []byte {
	h := alg.hash()
	if h == nil {
		h = sha1.New
	}
	m := hmac.New(h, key)
	m.Write(msg)
	return m.Sum(nil)
}
