package awsconfig

import (
	"testing"

	"github.com/mfabridge/mfabridge/internal/ststest"
)

// testConfig has four 1-hour roles, one 2-hour role and a session profile,
// all on one MFA device.
const testConfig = ststest.Config

const testCredentials = ststest.Credentials

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
