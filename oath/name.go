package oath

import (
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// DefaultPeriod is the TOTP step a name without a period prefix means.
const DefaultPeriod = 30 * time.Second

// totpName is ykman's TOTP_ID_PATTERN (yubikit oath.py).
// Compiled on first use: package init stays cheap for a cached
// credential-process, which links this package but names no account.
var totpName = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^((\d+)/)?(([^:]+):)?(.+)$`) })

// maxPeriodSeconds bounds a period prefix; larger numbers are not read as
// a period (ykman would accept any integer; time.Duration cannot).
const maxPeriodSeconds = 1 << 32

// ParseName splits a credential name the way ykman does
// ([period "/"][issuer ":"]account). For TOTP it uses the pattern
// ^((\d+)/)?(([^:]+):)?(.+)$ with a default period of 30 s; for HOTP it
// splits on the first ':' only and the period is 0. An empty issuer means
// none.
//
// Where ykman and Go differ (a period prefix too large for a Duration, a
// name with a newline, which Python's '.' and '$' treat differently), the
// whole name before the first ':' becomes the issuer and the period is
// 30 s, so FormatName gives the name back.
func ParseName(name string, typ Type) (issuer, account string, period time.Duration) {
	if typ != TOTP {
		if i := strings.IndexByte(name, ':'); i >= 0 {
			return name[:i], name[i+1:], 0
		}
		return "", name, 0
	}
	m := totpName().FindStringSubmatch(name)
	if m == nil {
		return "", name, DefaultPeriod
	}
	period = DefaultPeriod
	if m[2] != "" {
		n, err := strconv.ParseUint(m[2], 10, 64)
		if err != nil || n > maxPeriodSeconds {
			// Not a usable period: read the name without one.
			return splitIssuer(name)
		}
		period = time.Duration(n) * time.Second
	}
	return m[4], m[5], period
}

// issuerName is totpName without the period.
var issuerName = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^(([^:]+):)?(.+)$`) })

// splitIssuer applies issuerName to name, with the default period.
func splitIssuer(name string) (string, string, time.Duration) {
	if m := issuerName().FindStringSubmatch(name); m != nil {
		return m[2], m[3], DefaultPeriod
	}
	return "", name, DefaultPeriod
}

// FormatName builds a credential name the way ykman does: the period
// prefix only for TOTP with a period other than 30 s, then "issuer:" when
// there is an issuer, then the account.
func FormatName(issuer, account string, period time.Duration, typ Type) string {
	var b strings.Builder
	if typ == TOTP && period != DefaultPeriod {
		b.WriteString(strconv.FormatInt(int64(period/time.Second), 10))
		b.WriteByte('/')
	}
	if issuer != "" {
		b.WriteString(issuer)
		b.WriteByte(':')
	}
	b.WriteString(account)
	return b.String()
}
