package device

import (
	"encoding/base32"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/pquerna/otp"

	"github.com/mfabridge/mfabridge/oath"
)

// Secret is an OATH secret as a user supplies it: a bare base32 string or an
// otpauth:// URI. Fields the input did not set are zero.
type Secret struct {
	Key       []byte
	FromURI   bool
	Type      oath.Type
	Issuer    string
	Account   string
	Algorithm oath.Algorithm
	Digits    int
	Period    time.Duration
	Counter   uint32
}

// ErrBadSecret is wrapped by every ParseSecret error. The messages never
// contain the secret itself.
var ErrBadSecret = errors.New("invalid OATH secret")

// ParseSecret parses a base32 secret (case, spaces and padding are ignored)
// or an otpauth://totp/… or otpauth://hotp/… URI.
func ParseSecret(s string) (Secret, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Secret{}, fmt.Errorf("%w: it is empty; give a base32 secret or an otpauth:// URI", ErrBadSecret)
	}
	if strings.HasPrefix(strings.ToLower(s), "otpauth:") {
		return parseOTPAuth(s)
	}
	key, err := decodeBase32(s)
	if err != nil {
		return Secret{}, err
	}
	return Secret{Key: key}, nil
}

func decodeBase32(s string) ([]byte, error) {
	clean := strings.ToUpper(strings.NewReplacer(" ", "", "-", "", "\t", "", "=", "").Replace(s))
	key, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(clean)
	if err != nil {
		// The position is safe to report; the content is not.
		var ce base32.CorruptInputError
		if errors.As(err, &ce) {
			return nil, fmt.Errorf("%w: not base32 (bad character or length at position %d); base32 uses A–Z and 2–7", ErrBadSecret, int64(ce))
		}
		return nil, fmt.Errorf("%w: not base32", ErrBadSecret)
	}
	if len(key) == 0 {
		return nil, fmt.Errorf("%w: it decodes to no bytes", ErrBadSecret)
	}
	return key, nil
}

func parseOTPAuth(s string) (Secret, error) {
	u, err := url.Parse(s)
	if err != nil {
		return Secret{}, fmt.Errorf("%w: the otpauth URI does not parse", ErrBadSecret)
	}
	var sec Secret
	sec.FromURI = true
	switch strings.ToLower(u.Host) {
	case "totp":
		sec.Type = oath.TOTP
	case "hotp":
		sec.Type = oath.HOTP
	default:
		return Secret{}, fmt.Errorf("%w: otpauth URI type %q; want totp or hotp", ErrBadSecret, u.Host)
	}
	k, err := otp.NewKeyFromURL(s)
	if err != nil {
		return Secret{}, fmt.Errorf("%w: the otpauth URI does not parse", ErrBadSecret)
	}
	q := u.Query()
	if q.Get("secret") == "" {
		return Secret{}, fmt.Errorf("%w: the otpauth URI has no secret parameter", ErrBadSecret)
	}
	if sec.Key, err = decodeBase32(q.Get("secret")); err != nil {
		return Secret{}, err
	}
	sec.Issuer = k.Issuer()
	sec.Account = k.AccountName()
	if a := q.Get("algorithm"); a != "" {
		switch strings.ToUpper(a) {
		case "SHA1":
			sec.Algorithm = oath.SHA1
		case "SHA256":
			sec.Algorithm = oath.SHA256
		case "SHA512":
			sec.Algorithm = oath.SHA512
		default:
			return Secret{}, fmt.Errorf("%w: otpauth algorithm %q; want SHA1, SHA256 or SHA512", ErrBadSecret, a)
		}
	}
	if d := q.Get("digits"); d != "" {
		n, err := strconv.Atoi(d)
		if err != nil || n < 6 || n > 8 {
			return Secret{}, fmt.Errorf("%w: otpauth digits %q; want 6, 7 or 8", ErrBadSecret, d)
		}
		sec.Digits = n
	}
	if p := q.Get("period"); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 3600 {
			return Secret{}, fmt.Errorf("%w: otpauth period %q; want seconds between 1 and 3600", ErrBadSecret, p)
		}
		sec.Period = time.Duration(n) * time.Second
	}
	if c := q.Get("counter"); c != "" {
		n, err := strconv.ParseUint(c, 10, 32)
		if err != nil {
			return Secret{}, fmt.Errorf("%w: otpauth counter %q is not a number below 2^32", ErrBadSecret, c)
		}
		sec.Counter = uint32(n)
	}
	return sec, nil
}
