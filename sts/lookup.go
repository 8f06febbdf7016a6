package sts

// Value returns one raw setting of a profile (config file, then the
// credentials file), as written; key is matched in lower case. doctor uses
// it to inspect credential_process lines without resolving the profile.
func (c *Config) Value(profile, key string) (string, bool) {
	m, ok := c.raw(profile)
	if !ok {
		return "", false
	}
	v, ok := m[key]
	return v, ok
}
