package awsconfig

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"unicode"
)

// Setting is one key = value line for SetProfileKeys.
type Setting struct {
	Key, Value string
}

// configLine is one line of a config file, with its line ending.
type configLine struct {
	raw     string // the line without its ending
	eol     string // "\n", "\r\n", or at the end of the file "" (none) or "\r" (a CRLF cut short)
	section string // normalised section name of a header line, else ""
	header  bool
	key     string // lower-cased key of a top-level key line, else ""
}

func splitConfigLines(data []byte) []configLine {
	var out []configLine
	s := string(data)
	for len(s) > 0 {
		var l configLine
		i := strings.IndexByte(s, '\n')
		if i < 0 {
			l.raw, s = s, ""
			if strings.HasSuffix(l.raw, "\r") { // a CRLF cut short at the end of the file
				l.raw, l.eol = l.raw[:len(l.raw)-1], "\r"
			}
		} else {
			l.raw, l.eol, s = s[:i], "\n", s[i+1:]
			if strings.HasSuffix(l.raw, "\r") {
				l.raw, l.eol = l.raw[:len(l.raw)-1], "\r\n"
			}
		}
		t := strings.TrimSpace(strings.TrimPrefix(l.raw, "\ufeff"))
		switch {
		case t == "" || t[0] == '#' || t[0] == ';':
		case t[0] == '[':
			if end := strings.IndexByte(t, ']'); end > 0 {
				l.header = true
				l.section = strings.Join(strings.Fields(t[1:end]), " ")
			}
		case l.raw[0] != ' ' && l.raw[0] != '\t':
			if eq := strings.IndexAny(t, "=:"); eq > 0 {
				l.key = strings.ToLower(strings.TrimSpace(t[:eq]))
			}
		}
		out = append(out, l)
	}
	return out
}

func joinConfigLines(lines []configLine) []byte {
	var b bytes.Buffer
	for _, l := range lines {
		b.WriteString(l.raw)
		b.WriteString(l.eol)
	}
	return b.Bytes()
}

// profileSections are the config-file section names of a profile.
func profileSections(profile string) []string {
	if profile == "default" {
		return []string{"default", "profile default"}
	}
	return []string{"profile " + profile}
}

// setValue rewrites a key line's value, keeping everything before it (key
// as written, spacing) and after it (trailing spaces, inline comment).
func setValue(l configLine, value string) configLine {
	eq := strings.IndexAny(l.raw, "=:")
	prefix := l.raw[:eq+1]
	rest := l.raw[eq+1:]
	ws := rest[:len(rest)-len(strings.TrimLeft(rest, " \t"))]
	rest = rest[len(ws):]
	end := len(rest) // where the value ends, as parseINI reads it
	for _, c := range []string{" #", " ;", "\t#", "\t;"} {
		if i := strings.Index(rest, c); i >= 0 && i < end {
			end = i
		}
	}
	end = len(strings.TrimRight(rest[:end], " \t"))
	l.raw = prefix + ws + value + rest[end:]
	return l
}

// SetProfileKeys edits the text of an AWS config file: in the profile's
// section ("[profile NAME]", or "[default]" for default) each setting
// replaces the value of every top-level line with that key (keeping the key
// as written and the spacing before the value) or, when absent, is
// appended after the section's last non-blank line. A missing section is
// appended at the end of the file. Every other byte, line endings and
// comments included, is kept. Values must not contain line breaks.
func SetProfileKeys(data []byte, profile string, settings []Setting) ([]byte, error) {
	for _, s := range settings {
		if strings.ContainsAny(s.Key+s.Value, "\r\n") || strings.TrimSpace(s.Key) == "" {
			return nil, fmt.Errorf("set profile keys: %w: key %q: empty key or line break", ErrBadProfileValue, s.Key)
		}
	}
	if profile == "" || strings.IndexFunc(profile, func(r rune) bool {
		return unicode.IsSpace(r) || unicode.IsControl(r) || strings.ContainsRune("[]#;", r)
	}) >= 0 {
		return nil, fmt.Errorf("set profile keys: %w: profile name %q", ErrBadProfileValue, profile)
	}
	return setSectionKeys(data, profileSections(profile), settings), nil
}

// setSectionKeys sets settings in the last section named by any of names
// (names[0] is the header a missing section gets), keeping every other
// byte: existing keys get the new value, missing ones go after the
// section's last non-blank line. SetProfileKeys and SetCredentialsKeys
// validate their input, then share this.
func setSectionKeys(data []byte, names []string, settings []Setting) []byte {
	lines := splitConfigLines(data)
	eol := "\n"
	for _, l := range lines {
		if l.eol == "\n" || l.eol == "\r\n" {
			eol = l.eol
			break
		}
	}
	// The section to edit: the last header naming the profile (the
	// parser merges repeated sections, later keys winning).
	start := -1
	for i, l := range lines {
		if l.header && slices.Contains(names, l.section) {
			start = i
		}
	}
	if start < 0 {
		if n := len(lines); n > 0 {
			terminate(&lines[n-1], eol)
		}
		if len(lines) > 0 && strings.TrimSpace(lines[len(lines)-1].raw) != "" {
			lines = append(lines, configLine{eol: eol})
		}
		lines = append(lines, configLine{raw: "[" + names[0] + "]", eol: eol, header: true, section: names[0]})
		for _, s := range settings {
			lines = append(lines, configLine{raw: s.Key + " = " + s.Value, eol: eol, key: strings.ToLower(s.Key)})
		}
		return joinConfigLines(lines)
	}
	end := len(lines) // first line after the section
	for i := start + 1; i < len(lines); i++ {
		if lines[i].header {
			end = i
			break
		}
	}
	var missing []Setting
	for _, s := range settings {
		found := false
		for i := start + 1; i < end; i++ {
			if lines[i].key == strings.ToLower(s.Key) {
				lines[i] = setValue(lines[i], s.Value)
				found = true
			}
		}
		if !found {
			missing = append(missing, s)
		}
	}
	if len(missing) == 0 {
		return joinConfigLines(lines)
	}
	last := start // last non-blank line of the section
	for i := start + 1; i < end; i++ {
		if strings.TrimSpace(lines[i].raw) != "" {
			last = i
		}
	}
	terminate(&lines[last], eol)
	add := make([]configLine, 0, len(missing))
	for _, s := range missing {
		add = append(add, configLine{raw: s.Key + " = " + s.Value, eol: eol, key: strings.ToLower(s.Key)})
	}
	out := append(append(append([]configLine{}, lines[:last+1]...), add...), lines[last+1:]...)
	return joinConfigLines(out)
}

// ReplaceMFASerial switches every profile section of a config file whose
// mfa_serial is oldSerial to newSerial, and sets mfabridge_account to
// account in those sections (when account is not empty). It returns the
// new text and the profile sections changed; other bytes are kept.
func ReplaceMFASerial(data []byte, oldSerial, newSerial, account string) ([]byte, []string, error) {
	lines := splitConfigLines(data)
	var sections []string
	cur := ""
	for _, l := range lines {
		if l.header {
			cur = l.section
			continue
		}
		if l.key == "mfa_serial" && cur != "" && iniValue(l.raw) == oldSerial {
			if len(sections) == 0 || sections[len(sections)-1] != cur {
				sections = append(sections, cur)
			}
		}
	}
	out := data
	var changed []string
	for _, sec := range sections {
		name := strings.TrimPrefix(sec, "profile ")
		if sec == "profile default" {
			name = "default"
		}
		settings := []Setting{{"mfa_serial", newSerial}}
		if account != "" {
			settings = append(settings, Setting{"mfabridge_account", account})
		}
		var err error
		if out, err = SetProfileKeys(out, name, settings); err != nil {
			return nil, nil, fmt.Errorf("replace mfa_serial: %w", err)
		}
		changed = append(changed, name)
	}
	return out, changed, nil
}

// iniValue is the value of a key line as parseINI reads it.
func iniValue(raw string) string {
	t := strings.TrimSpace(raw)
	eq := strings.IndexAny(t, "=:")
	if eq < 0 {
		return ""
	}
	val := strings.TrimSpace(t[eq+1:])
	for _, c := range []string{" #", " ;", "\t#", "\t;"} {
		if i := strings.Index(val, c); i >= 0 {
			val = strings.TrimSpace(val[:i])
		}
	}
	return val
}

// terminate gives the file's last line an end of line when a line is
// added after it: eol, or "\r\n" to complete a lone "\r".
func terminate(l *configLine, eol string) {
	switch l.eol {
	case "":
		l.eol = eol
	case "\r":
		l.eol = "\r\n"
	}
}
