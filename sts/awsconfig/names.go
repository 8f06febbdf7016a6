package awsconfig

// charRun matches a whole string of lo to hi characters, each an ASCII
// word character ([0-9A-Za-z_]) or one of extra: the regular expression
// ^[\w<extra>]{lo,hi}$ without compiling it. Compiling the {9,256}
// repetition cost a cached credential-process about a millisecond (the
// compiler unrolls it into 256 copies), more than all its other work.
type charRun struct {
	extra  string
	lo, hi int
}

// MatchString reports whether s is a run of the allowed characters of
// allowed length. Every allowed character is one byte, so the byte length
// is the character count of any string that can match.
func (r charRun) MatchString(s string) bool {
	if len(s) < r.lo || len(s) > r.hi {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !r.allowed(s[i]) {
			return false
		}
	}
	return true
}

func (r charRun) allowed(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '_':
		return true
	}
	for i := 0; i < len(r.extra); i++ {
		if r.extra[i] == c {
			return true
		}
	}
	return false
}
