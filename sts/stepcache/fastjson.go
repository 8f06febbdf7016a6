package stepcache

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"time"
)

// The JSON of the warm path without reflection. encoding/json builds a
// type's encoder or decoder on first use, which cost a cached
// credential-process about a tenth of a millisecond for the entry alone,
// once per process (issue 12). These functions write and read the same
// bytes for the common case and leave the rest to encoding/json, so what
// they produce or accept never differs from it; fastjson_test.go fuzzes
// both against it.

// plain reports whether encoding/json writes s as it is between quotes:
// printable ASCII other than `"`, `\` and the HTML-escaped `<`, `>`, `&`.
func plain(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20 || c > 0x7e, c == '"', c == '\\', c == '<', c == '>', c == '&':
			return false
		}
	}
	return true
}

// appendJSONString appends s as a JSON string, escaped as encoding/json
// escapes it.
func appendJSONString(b []byte, s string) []byte {
	if plain(s) {
		b = append(b, '"')
		b = append(b, s...)
		return append(b, '"')
	}
	q, err := json.Marshal(s)
	if err != nil { // a string always encodes
		return strconv.AppendQuote(b, s)
	}
	return append(b, q...)
}

// stepCacheKey is CacheKey(k): json.Marshal of a Marshaler compacts and
// HTML-escapes its output, which MarshalJSON's already is.
func stepCacheKey(k StepKey) string {
	b, _ := k.MarshalJSON()
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// parseCanonical parses an entry written by json.Marshal (the field order,
// no spaces, the omitted empty fields) whose strings need no escapes. ok
// is false for anything else, which ParseEntry leaves to encoding/json.
func parseCanonical(b []byte) (e Entry, ok bool) {
	p := canon{b: b, ok: true}
	p.lit(`{"version":` + strconv.Itoa(CacheVersion) + `,"action":`)
	e.Version = CacheVersion
	e.Action = Action(p.str())
	p.lit(`,"target":`)
	e.Target = p.str()
	p.lit(`,"credentials":{"access_key_id":`)
	e.Credentials.AccessKeyID = p.str()
	p.lit(`,"secret_access_key":`)
	e.Credentials.SecretAccessKey = p.str()
	if p.maybe(`,"session_token":`) {
		e.Credentials.SessionToken = p.str()
	}
	if p.maybe(`,"expiration":`) {
		e.Credentials.Expiration = p.time()
	}
	p.lit(`}`)
	if p.maybe(`,"mfa_time":`) {
		e.MFATime = p.time()
	}
	if p.maybe(`,"for":{"action":`) {
		k := &StepKey{Action: Action(p.str())}
		for _, f := range []struct {
			name string
			v    *string
		}{{`,"serial":`, &k.Serial}, {`,"role_arn":`, &k.RoleARN}, {`,"external_id":`, &k.ExternalID}, {`,"session_name":`, &k.SessionName}} {
			if p.maybe(f.name) {
				*f.v = p.str()
			}
		}
		if p.maybe(`,"duration":`) {
			k.Duration = p.int()
		}
		k.MFA = p.maybe(`,"mfa":true`)
		p.lit(`,"caller":`)
		k.Caller = p.str()
		p.lit(`}`)
		e.For = k
	}
	p.lit(`}`)
	if !p.ok || p.i != len(b) {
		return Entry{}, false
	}
	return e, true
}

// canon reads canonical JSON; the first mismatch clears ok and every
// later read returns zero values.
type canon struct {
	b  []byte
	i  int
	ok bool
}

func (p *canon) maybe(s string) bool {
	if !p.ok || len(p.b)-p.i < len(s) || string(p.b[p.i:p.i+len(s)]) != s {
		return false
	}
	p.i += len(s)
	return true
}

func (p *canon) lit(s string) {
	if !p.maybe(s) {
		p.ok = false
	}
}

// quoted returns the next string with its quotes; plain strings only.
func (p *canon) quoted() []byte {
	if !p.ok || p.i >= len(p.b) || p.b[p.i] != '"' {
		p.ok = false
		return nil
	}
	for j := p.i + 1; j < len(p.b); j++ {
		switch c := p.b[j]; {
		case c == '"':
			q := p.b[p.i : j+1]
			p.i = j + 1
			return q
		case c < 0x20 || c > 0x7e || c == '\\':
			p.ok = false
			return nil
		}
	}
	p.ok = false
	return nil
}

func (p *canon) str() string {
	if q := p.quoted(); q != nil {
		return string(q[1 : len(q)-1])
	}
	return ""
}

// time decodes as encoding/json does: time.Time's UnmarshalJSON.
func (p *canon) time() time.Time {
	var t time.Time
	if q := p.quoted(); q == nil || t.UnmarshalJSON(q) != nil {
		p.ok = false
		return time.Time{}
	}
	return t
}

// int reads an integer as encoding/json writes one: no sign but a minus,
// no leading zero, no fraction or exponent.
func (p *canon) int() int64 {
	j := p.i
	if j < len(p.b) && p.b[j] == '-' {
		j++
	}
	start := j
	for j < len(p.b) && p.b[j] >= '0' && p.b[j] <= '9' {
		j++
	}
	if !p.ok || j == start || (p.b[start] == '0' && j-start > 1) || (p.b[start] == '0' && start > p.i) {
		p.ok = false
		return 0
	}
	n, err := strconv.ParseInt(string(p.b[p.i:j]), 10, 64)
	if err != nil {
		p.ok = false
		return 0
	}
	p.i = j
	return n
}
