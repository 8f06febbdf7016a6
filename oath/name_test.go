package oath

import (
	"testing"
	"time"
)

func TestParseName(t *testing.T) {
	tests := []struct {
		name            string
		typ             Type
		issuer, account string
		period          time.Duration
	}{
		{"20/Issuer:name", TOTP, "Issuer", "name", 20 * time.Second},
		{"weird/Issuer:name", TOTP, "weird/Issuer", "name", 30 * time.Second},
		{"60/Example:bob60", TOTP, "Example", "bob60", time.Minute},
		{"Example:alice", TOTP, "Example", "alice", 30 * time.Second},
		{"alice", TOTP, "", "alice", 30 * time.Second},
		{"30/alice", TOTP, "", "alice", 30 * time.Second},
		{"15/alice", TOTP, "", "alice", 15 * time.Second},
		{"0/Iss:acct", TOTP, "Iss", "acct", 0},
		{"Issuer:", TOTP, "", "Issuer:", 30 * time.Second}, // the account cannot be empty
		{":account", TOTP, "", ":account", 30 * time.Second},
		{"a:b:c", TOTP, "a", "b:c", 30 * time.Second},
		{"20/", TOTP, "", "20/", 30 * time.Second},
		{"20/:x", TOTP, "", ":x", 20 * time.Second},
		{"", TOTP, "", "", 30 * time.Second},
		{"99999999999999999999/Iss:acct", TOTP, "99999999999999999999/Iss", "acct", 30 * time.Second},
		{"20/Issuer:name", HOTP, "20/Issuer", "name", 0},
		{"Issuer:", HOTP, "Issuer", "", 0},
		{"a:b:c", HOTP, "a", "b:c", 0},
		{"hotp", HOTP, "", "hotp", 0},
		{":x", HOTP, "", "x", 0}, // empty issuer, as ykman splits it
	}
	for _, tc := range tests {
		issuer, account, period := ParseName(tc.name, tc.typ)
		if issuer != tc.issuer || account != tc.account || period != tc.period {
			t.Errorf("ParseName(%q, %v) = (%q, %q, %v), want (%q, %q, %v)",
				tc.name, tc.typ, issuer, account, period, tc.issuer, tc.account, tc.period)
		}
	}
}

func TestFormatName(t *testing.T) {
	tests := []struct {
		issuer, account string
		period          time.Duration
		typ             Type
		want            string
	}{
		{"Example", "bob60", time.Minute, TOTP, "60/Example:bob60"},
		{"Issuer", "name", 20 * time.Second, TOTP, "20/Issuer:name"},
		{"Example", "alice", 30 * time.Second, TOTP, "Example:alice"},
		{"", "alice", 30 * time.Second, TOTP, "alice"},
		{"", "alice", 15 * time.Second, TOTP, "15/alice"},
		{"Example", "alice", time.Minute, HOTP, "Example:alice"},
		{"weird/Issuer", "name", 30 * time.Second, TOTP, "weird/Issuer:name"},
	}
	for _, tc := range tests {
		got := FormatName(tc.issuer, tc.account, tc.period, tc.typ)
		if got != tc.want {
			t.Errorf("FormatName(%q, %q, %v, %v) = %q, want %q", tc.issuer, tc.account, tc.period, tc.typ, got, tc.want)
		}
		// Round trip, for the names the table builds.
		issuer, account, period := ParseName(got, tc.typ)
		wantPeriod := tc.period
		if tc.typ == HOTP {
			wantPeriod = 0
		}
		if issuer != tc.issuer || account != tc.account || period != wantPeriod {
			t.Errorf("ParseName(%q) = (%q, %q, %v), want the formatted parts back", got, issuer, account, period)
		}
	}
}
