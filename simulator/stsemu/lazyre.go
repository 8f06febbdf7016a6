package stsemu

import (
	"regexp"
	"sync"
)

// lazyRegexp compiles its pattern on first use, so that linking the
// emulator into the mfabridge binary costs nothing at start-up for the
// commands that never use it (a cached credential-process runs in a few
// milliseconds; compiling a dozen patterns at init took one of them).
type lazyRegexp struct {
	once sync.Once
	pat  string
	re   *regexp.Regexp
}

func lazyRE(pat string) *lazyRegexp { return &lazyRegexp{pat: pat} }

func (l *lazyRegexp) MatchString(s string) bool {
	l.once.Do(func() { l.re = regexp.MustCompile(l.pat) })
	return l.re.MatchString(s)
}
