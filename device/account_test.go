package device

import (
	"errors"
	"strings"
	"testing"
)

func TestMatchAccount(t *testing.T) {
	const serial = "arn:aws:iam::123456789012:mfa/alice"
	tests := []struct {
		name   string
		serial string
		names  []string
		want   string
		err    error
	}{
		{"ykman style", serial, []string{"GitHub:alice", "Amazon Web Services:alice@123456789012"}, "Amazon Web Services:alice@123456789012", nil},
		{"exact serial", serial, []string{"AWS:alice@123456789012", serial}, serial, nil},
		{"case and path", "arn:aws:iam::123456789012:mfa/team/Alice", []string{"aws:alice@123456789012"}, "aws:alice@123456789012", nil},
		{"word boundary", serial, []string{"AWS:malice@123456789012"}, "", ErrNoAccount},
		{"account missing", serial, []string{"AWS:alice"}, "", ErrNoAccount},
		{"ambiguous", serial, []string{"AWS:alice@123456789012", "AWS-old:alice@123456789012"}, "", ErrAmbiguousAccount},
		{"hardware serial", "GAHT12345678", []string{"token GAHT12345678", "x"}, "token GAHT12345678", nil},
		{"empty device", serial, nil, "", ErrNoAccount},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, why, err := MatchAccount(tt.serial, tt.names)
			if !errors.Is(err, tt.err) || got != tt.want {
				t.Fatalf("got %q, %v; want %q, %v", got, err, tt.want, tt.err)
			}
			if err == nil && !strings.Contains(why, tt.want) {
				t.Errorf("reason %q does not name the account", why)
			}
			if err != nil && !strings.Contains(err.Error(), "mfabridge_account") {
				t.Errorf("error %q has no hint", err)
			}
		})
	}
}
