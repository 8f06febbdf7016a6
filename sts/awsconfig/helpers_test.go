package awsconfig

import "testing"

// testConfig has four 1-hour roles, one 2-hour role and a session profile,
// all on one MFA device.
const testConfig = `
[default]
region = eu-west-1

[profile base]
mfa_serial = arn:aws:iam::123456789012:mfa/alice

[profile r1]
role_arn = arn:aws:iam::210987654321:role/r1
source_profile = base
mfa_serial = arn:aws:iam::123456789012:mfa/alice

[profile r2]
role_arn = arn:aws:iam::210987654321:role/r2
source_profile = base
mfa_serial = arn:aws:iam::123456789012:mfa/alice
duration_seconds = 1800

[profile r3]
role_arn = arn:aws:iam::210987654321:role/r3
source_profile = base

[profile r4]
role_arn = arn:aws:iam::210987654321:role/r4
source_profile = base
external_id = ext-4

[profile long]
role_arn = arn:aws:iam::210987654321:role/long
source_profile = base
duration_seconds = 7200

[profile long2]
role_arn = arn:aws:iam::210987654321:role/long2
source_profile = base
duration_seconds = 7200

[profile aged]
mfa_serial = arn:aws:iam::123456789012:mfa/alice
source_profile = base
role_arn = arn:aws:iam::210987654321:role/aged
mfabridge_mfa_max_age = 1800
`

const testCredentials = `
[base]
aws_access_key_id = AKIAEXAMPLEBASE00001
aws_secret_access_key = basesecret
`

type testEnv map[string]string

func (e testEnv) get(k string) string { return e[k] }

func mustConfig(t testing.TB, config, creds string, env map[string]string) *Config {
	t.Helper()
	c, err := ParseProfiles([]byte(config), []byte(creds), testEnv(env).get)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func mustResolve(t testing.TB, c *Config, name string) *Profile {
	t.Helper()
	p, err := c.Resolve(name)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
