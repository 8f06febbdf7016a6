package awsconfig

import (
	"fmt"
	"slices"
	"strings"
)

// Credentials-file helpers for sts/keystore: the shared credentials file
// names its sections after the profile itself ("[alice]", not
// "[profile alice]"), so these work on the section named exactly profile.
// Every byte outside the lines they change is kept, as in SetProfileKeys.

// CredentialsKeys returns the values of keys (lower-case, e.g.
// "aws_access_key_id") in section profile of a credentials file's text; a
// key that is absent maps to "". ok reports whether the section exists.
// A file the AWS CLI would refuse (repeated section or key) is an error.
func CredentialsKeys(data []byte, profile string, keys ...string) (vals map[string]string, ok bool, err error) {
	f, err := parseINI("credentials", data)
	if err != nil {
		return nil, false, fmt.Errorf("read credentials: %w", err)
	}
	sec, ok := f.sections[profile]
	vals = make(map[string]string, len(keys))
	for _, k := range keys {
		vals[k] = sec[k]
	}
	return vals, ok, nil
}

// CredentialsSections lists the sections of a credentials file's text that
// set key, with key's value, in file order.
func CredentialsSections(data []byte, key string) ([][2]string, error) {
	f, err := parseINI("credentials", data)
	if err != nil {
		return nil, fmt.Errorf("read credentials: %w", err)
	}
	var out [][2]string
	for _, name := range f.order {
		if v := f.sections[name][key]; v != "" {
			out = append(out, [2]string{name, v})
		}
	}
	return out, nil
}

// RemoveCredentialsKeys deletes every line that sets one of keys
// (case-insensitive) in the sections named profile, with its line ending,
// and returns the new text and how many lines it removed. The section
// header and every other line stay byte for byte. Lines are classified as
// parseINI reads them (an indented line is a key of its own unless it
// continues a key with an empty value), and the result is parsed again: if
// the profile would still set one of keys, or the text does not parse,
// nothing is returned but the error.
func RemoveCredentialsKeys(data []byte, profile string, keys ...string) ([]byte, int, error) {
	return removeSectionKeys("credentials", data, profile, []string{profile}, keys)
}

// RemoveProfileKeys is RemoveCredentialsKeys for a config file: it deletes
// the lines setting one of keys in the profile's sections ("[profile
// NAME]", or "[default]" and "[profile default]" for default), keeping
// every other byte.
func RemoveProfileKeys(data []byte, profile string, keys ...string) ([]byte, int, error) {
	return removeSectionKeys("config", data, profile, profileSections(profile), keys)
}

// removeSectionKeys drops the lines setting keys in the sections named by
// any of names, then checks the result as RemoveCredentialsKeys says.
func removeSectionKeys(file string, data []byte, profile string, names, keys []string) ([]byte, int, error) {
	drop := map[string]bool{}
	for _, k := range keys {
		drop[strings.ToLower(k)] = true
	}
	lines := splitConfigLines(data)
	out := lines[:0:0]
	in, parent, n := false, "", 0
	for i, l := range lines {
		if l.header {
			in, parent = slices.Contains(names, l.section), ""
			out = append(out, l)
			continue
		}
		t := strings.TrimSpace(l.raw)
		if i == 0 {
			t = strings.TrimSpace(strings.TrimPrefix(l.raw, "\ufeff"))
		}
		eq := strings.IndexAny(t, "=:")
		if t == "" || t[0] == '#' || t[0] == ';' || eq < 0 {
			out = append(out, l)
			continue
		}
		indented := l.raw[0] == ' ' || l.raw[0] == '\t'
		if indented && parent != "" {
			out = append(out, l) // a sub-key of parent
			continue
		}
		key := strings.ToLower(strings.TrimSpace(t[:eq]))
		parent = ""
		if iniValue(l.raw) == "" {
			parent = key
		}
		if in && drop[key] {
			n++
			continue
		}
		out = append(out, l)
	}
	if n == 0 {
		return data, 0, nil
	}
	res := joinConfigLines(out)
	f, err := parseINI(file, res)
	if err != nil {
		return nil, 0, fmt.Errorf("remove keys of %s: %w", profile, err)
	}
	for _, name := range names {
		for _, k := range keys {
			if f.sections[name][strings.ToLower(k)] != "" {
				return nil, 0, fmt.Errorf("remove keys of %s: %w: %s is still set after removing its lines; edit the file by hand", profile, ErrBadProfileValue, k)
			}
		}
	}
	return res, n, nil
}

// SetCredentialsKeys sets keys in section profile of a credentials file's
// text: existing lines get the new value (key as written and spacing kept),
// missing ones are added after the section's last non-blank line, and a
// missing section is appended at the end. Values must not contain line
// breaks.
func SetCredentialsKeys(data []byte, profile string, settings []Setting) ([]byte, error) {
	for _, s := range settings {
		if strings.ContainsAny(s.Key+s.Value, "\r\n") || strings.TrimSpace(s.Key) == "" {
			return nil, fmt.Errorf("set credentials keys: %w: key %q: empty key or line break", ErrBadProfileValue, s.Key)
		}
	}
	if profile == "" || strings.ContainsAny(profile, "[]\r\n#;") || strings.TrimSpace(profile) != profile {
		return nil, fmt.Errorf("set credentials keys: %w: profile name %q", ErrBadProfileValue, profile)
	}
	return setSectionKeys(data, []string{profile}, settings), nil
}
