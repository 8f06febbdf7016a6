package sts

import (
	"encoding/json"
	"strconv"
)

// MarshalJSON writes the same bytes as encoding/json's reflection would for
// stepKey (field order, omitempty, string escaping: json.Marshal escapes
// the strings and compacts the result either way), so cache keys and file
// names do not change. It exists because building the reflection encoder
// of the struct on first use cost a cached credential-process about a
// tenth of a millisecond, a good part of its own work.
func (k stepKey) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 256)
	b = append(b, `{"action":`...)
	b = appendJSONString(b, string(k.Action))
	for _, f := range []struct{ name, v string }{
		{"serial", k.Serial}, {"role_arn", k.RoleARN}, {"external_id", k.ExternalID}, {"session_name", k.SessionName},
	} {
		if f.v != "" {
			b = append(b, `,"`+f.name+`":`...)
			b = appendJSONString(b, f.v)
		}
	}
	if k.Duration != 0 {
		b = append(b, `,"duration":`...)
		b = strconv.AppendInt(b, k.Duration, 10)
	}
	if k.MFA {
		b = append(b, `,"mfa":true`...)
	}
	b = append(b, `,"caller":`...)
	b = appendJSONString(b, k.Caller)
	return append(b, '}'), nil
}

// appendJSONString appends s as a JSON string, escaped as encoding/json
// escapes it (a plain string needs no reflection).
func appendJSONString(b []byte, s string) []byte {
	q, err := json.Marshal(s)
	if err != nil { // a string always encodes
		return strconv.AppendQuote(b, s)
	}
	return append(b, q...)
}
