package awsconfig

import (
	"regexp"
	"sync"
)

// lazyRegexp compiles its pattern on first use: package init stays cheap,
// which matters for a cached credential-process that runs in milliseconds.
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
