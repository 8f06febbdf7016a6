// Package lazyre holds regular expressions that compile on first use, so
// that package init stays cheap: a cached credential-process runs in a few
// milliseconds, and compiling a dozen patterns at init took one of them
// (the STS emulator is linked into the mfabridge binary too).
package lazyre

import (
	"regexp"
	"sync"
)

// Regexp is a pattern compiled on its first MatchString. It is safe for
// concurrent use. An invalid pattern panics on first use, as
// regexp.MustCompile does: patterns are constants of the program.
type Regexp struct {
	once sync.Once
	pat  string
	re   *regexp.Regexp
}

// New returns a Regexp for pat without compiling it.
func New(pat string) *Regexp { return &Regexp{pat: pat} }

// MatchString reports whether s contains any match of the pattern.
func (l *Regexp) MatchString(s string) bool {
	l.once.Do(func() { l.re = regexp.MustCompile(l.pat) })
	return l.re.MatchString(s)
}
