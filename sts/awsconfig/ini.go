package awsconfig

import (
	"bufio"
	"bytes"
	"fmt"
	"strings"
)

// iniFile is the parsed form of an AWS shared config or credentials file.
// Section names are kept as written between the brackets (trimmed), keys are
// lower-cased. Indented lines after a key with an empty value form a
// sub-section ("sts =\n  endpoint_url = …" in a [services x] section); they
// are stored as "parent.child" keys.
type iniFile struct {
	sections map[string]map[string]string
	order    []string
}

// INISyntaxError reports a malformed line.
type INISyntaxError struct {
	File string
	Line int
	Msg  string
}

func (e *INISyntaxError) Error() string {
	return fmt.Sprintf("parse %s:%d: %s", e.File, e.Line, e.Msg)
}

// parseINI parses the AWS flavour of INI. It never panics on any input; lines
// that make no sense produce an *INISyntaxError naming the line.
//
// A section header repeated verbatim, or a key repeated within one section
// (keys compare case-insensitively), is an error naming both lines: the AWS
// CLI (v1 1.45 and v2 2.9, through Python's configparser in strict mode)
// refuses such a file with "Unable to parse config file", where a
// last-one-wins reading would silently pick a role or key the user may not
// mean. As in configparser, headers that differ only in spacing
// ("[profile x]", "[ profile  x ]") are not duplicates, and repeated
// sub-keys of an indented block are not checked (botocore keeps the last).
func parseINI(name string, data []byte) (*iniFile, error) {
	f := &iniFile{sections: map[string]map[string]string{}}
	var cur map[string]string
	parent := ""                // key whose value continues in indented sub-keys
	headers := map[string]int{} // section header as written → its line
	var keys map[string]int     // keys of the current section → their line
	curHeader := ""
	sc := bufio.NewScanner(bytes.NewReader(data))
	// The data is in memory already: a buffer the size of the file (up to
	// 64 KiB; it grows to 1 MiB for a longer line) spares a cached
	// credential-process zeroing 64 KiB twice (issue 12).
	sc.Buffer(make([]byte, 0, min(len(data)+1, 64*1024)), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		raw := sc.Text()
		if n == 1 {
			raw = strings.TrimPrefix(raw, "\ufeff")
		}
		line := strings.TrimSpace(raw)
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		indented := raw[0] == ' ' || raw[0] == '\t'
		if line[0] == '[' {
			end := strings.IndexByte(line, ']')
			if end < 0 {
				return nil, &INISyntaxError{name, n, "section header without ]"}
			}
			sec := strings.Join(strings.Fields(line[1:end]), " ")
			if sec == "" {
				return nil, &INISyntaxError{name, n, "empty section name"}
			}
			curHeader = line[:end+1]
			if first, dup := headers[curHeader]; dup {
				return nil, &INISyntaxError{name, n, fmt.Sprintf("section %s repeats the one at line %d (the AWS CLI refuses duplicate sections too)", curHeader, first)}
			}
			headers[curHeader] = n
			keys = map[string]int{}
			if _, ok := f.sections[sec]; !ok {
				f.sections[sec] = map[string]string{}
				f.order = append(f.order, sec)
			}
			cur = f.sections[sec]
			parent = ""
			continue
		}
		eq := strings.IndexAny(line, "=:")
		if eq < 0 {
			return nil, &INISyntaxError{name, n, "expected key = value"}
		}
		if cur == nil {
			return nil, &INISyntaxError{name, n, "key outside any section"}
		}
		key := strings.ToLower(strings.TrimSpace(line[:eq]))
		val := strings.TrimSpace(line[eq+1:])
		// Inline comments need whitespace before them, as in botocore.
		for _, c := range []string{" #", " ;", "\t#", "\t;"} {
			if i := strings.Index(val, c); i >= 0 {
				val = strings.TrimSpace(val[:i])
			}
		}
		if key == "" {
			return nil, &INISyntaxError{name, n, "empty key"}
		}
		if indented && parent != "" {
			cur[parent+"."+key] = val
			continue
		}
		if first, dup := keys[key]; dup {
			return nil, &INISyntaxError{name, n, fmt.Sprintf("key %q repeats line %d in section %s (the AWS CLI refuses duplicate keys too)", key, first, curHeader)}
		}
		keys[key] = n
		cur[key] = val
		parent = ""
		if val == "" {
			parent = key
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	return f, nil
}
