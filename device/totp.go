package device

import (
	"context"
	"encoding/base32"
	"fmt"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/mfabridge/mfabridge/oath"
)

// softTOTP is a software TOTP device: a secret held in an environment
// variable (base32 or an otpauth:// URI). It has exactly one credential.
type softTOTP struct {
	info Info
	cred Credential
	b32  string
}

// NewTOTP makes a software TOTP device from the value of the environment
// variable envVar (the caller reads the environment). The value is a base32
// secret or an otpauth://totp/ URI; the credential is named after the URI's
// issuer and account, or after the variable.
func NewTOTP(envVar, value string) (Device, error) {
	info := Info{Kind: "totp", Path: envVar}
	if value == "" {
		return nil, fmt.Errorf("%s: $%s is empty or unset; put a base32 secret or an otpauth:// URI in it", info, envVar)
	}
	sec, err := ParseSecret(value)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", info, err)
	}
	if sec.FromURI && sec.Type != oath.TOTP {
		return nil, fmt.Errorf("%s: the otpauth URI is for HOTP; a software device computes TOTP codes only", info)
	}
	cred := Credential{
		Type: oath.TOTP, Algorithm: sec.Algorithm, Digits: sec.Digits, Period: sec.Period,
		Issuer: sec.Issuer, Account: sec.Account,
	}
	if cred.Algorithm == 0 {
		cred.Algorithm = oath.SHA1
	}
	if cred.Digits == 0 {
		cred.Digits = 6
	}
	if cred.Period == 0 {
		cred.Period = oath.DefaultPeriod
	}
	if cred.Account == "" {
		cred.Account = envVar
	}
	cred.Name = oath.FormatName(cred.Issuer, cred.Account, cred.Period, oath.TOTP)
	return &softTOTP{
		info: info,
		cred: cred,
		b32:  base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(sec.Key),
	}, nil
}

func (d *softTOTP) Info() Info { return d.info }

func (d *softTOTP) List(context.Context) ([]Credential, error) {
	return []Credential{d.cred}, nil
}

func (d *softTOTP) Calculate(ctx context.Context, name string, at time.Time) (Code, error) {
	if name != d.cred.Name && name != "" {
		return Code{}, fmt.Errorf("%s: %w %q; it holds only %q", d.info, ErrNotFound, name, d.cred.Name)
	}
	alg := map[oath.Algorithm]otp.Algorithm{oath.SHA1: otp.AlgorithmSHA1, oath.SHA256: otp.AlgorithmSHA256, oath.SHA512: otp.AlgorithmSHA512}[d.cred.Algorithm]
	code, err := totp.GenerateCodeCustom(d.b32, at, totp.ValidateOpts{
		Period:    uint(d.cred.Period / time.Second),
		Digits:    otp.Digits(d.cred.Digits),
		Algorithm: alg,
	})
	if err != nil {
		return Code{}, fmt.Errorf("%s: compute code: %w", d.info, err)
	}
	from, to := stepBounds(at, d.cred.Period)
	return Code{Value: code, ValidFrom: from, ValidTo: to}, nil
}

func (d *softTOTP) Close() error { return nil }

// stepBounds returns the start and end of the TOTP step holding t, with
// the period rules of oath.TOTPStep.
func stepBounds(t time.Time, period time.Duration) (time.Time, time.Time) {
	p := period.Truncate(time.Second)
	if p <= 0 {
		p = oath.DefaultPeriod
	}
	start := time.Unix(oath.TOTPStep(t, period)*int64(p/time.Second), 0)
	return start, start.Add(p)
}
