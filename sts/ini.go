package sts

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

// iniSyntaxError reports a malformed line.
type iniSyntaxError struct {
	File string
	Line int
	Msg  string
}

func (e *iniSyntaxError) Error() string {
	return fmt.Sprintf("parse %s:%d: %s", e.File, e.Line, e.Msg)
}

// parseINI parses the AWS flavour of INI. It never panics on any input; lines
// that make no sense produce an *iniSyntaxError naming the line.
func parseINI(name string, data []byte) (*iniFile, error) {
	f := &iniFile{sections: map[string]map[string]string{}}
	var cur map[string]string
	parent := "" // key whose value continues in indented sub-keys
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
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
				return nil, &iniSyntaxError{name, n, "section header without ]"}
			}
			sec := strings.Join(strings.Fields(line[1:end]), " ")
			if sec == "" {
				return nil, &iniSyntaxError{name, n, "empty section name"}
			}
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
			return nil, &iniSyntaxError{name, n, "expected key = value"}
		}
		if cur == nil {
			return nil, &iniSyntaxError{name, n, "key outside any section"}
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
			return nil, &iniSyntaxError{name, n, "empty key"}
		}
		if indented && parent != "" {
			cur[parent+"."+key] = val
			continue
		}
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
