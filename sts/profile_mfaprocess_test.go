package sts

import (
	"testing"

	"github.com/mfabridge/mfabridge/sts/awsconfig"
)

// TestResolveMFAProcess: aws-vault's mfa_process is read as the device
// process:COMMAND, inherited from the source profile like
// mfabridge_device; an explicit mfabridge_device wins.
func TestResolveMFAProcess(t *testing.T) {
	const creds = "[base]\naws_access_key_id = AKIAEXAMPLE000000001\naws_secret_access_key = s\n"
	const config = `[profile base]
mfa_serial = arn:aws:iam::123456789012:mfa/alice
mfa_process = op item get "AWS alice" --otp

[profile admin]
source_profile = base
role_arn = arn:aws:iam::210987654321:role/admin

[profile pinned]
source_profile = base
role_arn = arn:aws:iam::210987654321:role/admin
mfabridge_device = yubikey:12345678
`
	cfg, err := awsconfig.ParseProfiles([]byte(config), []byte(creds), func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{
		"base":   `process:op item get "AWS alice" --otp`,
		"admin":  `process:op item get "AWS alice" --otp`,
		"pinned": "yubikey:12345678",
	} {
		p, err := cfg.Resolve(name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if p.Device != want {
			t.Errorf("%s: device %q, want %q", name, p.Device, want)
		}
	}
}
