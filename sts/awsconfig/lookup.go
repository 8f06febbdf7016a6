package awsconfig

import "strings"

// Value returns one raw setting of a profile as written, without resolving
// the profile; the credentials file wins over the config file, as in
// Resolve. key is matched case-insensitively. doctor uses it to inspect
// credential_process lines.
func (c *Config) Value(profile, key string) (string, bool) {
	m, ok := c.raw(profile)
	if !ok {
		return "", false
	}
	v, ok := m[strings.ToLower(key)]
	return v, ok
}
