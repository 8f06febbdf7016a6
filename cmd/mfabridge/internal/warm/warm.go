// Package warm answers a cached `mfabridge credential-process [PROFILE]`
// from its init function, before the rest of mfabridge is initialised.
//
// The AWS CLI and SDKs run credential_process once per command, and most
// runs are served from the cache. Starting mfabridge costs more than the
// answer: its AWS SDK, cobra, age, D-Bus and HTTP packages (some 130) are
// initialised first, about a millisecond, more than the work itself (issue
// 12). Go initialises packages in import-path order, each after the
// packages it imports (the Go spec, "Package initialization", since Go
// 1.21), so this package, which imports only the SDK-free half of the
// credentials provider (sts/stepcache), sts/awsconfig and the standard
// library, runs its init before anything that needs net/http: the AWS
// SDK, cobra and package main's own imports come after. The CLI script
// warm_path.txt checks that order (GODEBUG=inittrace=1).
//
// It serves only the plain form, `credential-process` with at most one
// argument and no flag, and only when the cache holds an answer that the
// credentials provider would hand out (sts/stepcache.Lookup: the same
// plan, cache keys, directory and entry checks, target check and expiry
// margin as sts.Provider.Credentials' first check), printing exactly
// what the command prints. Anything else falls through, having written
// nothing, to the normal start of mfabridge, which does the same lookup
// again and reports any error as usual: a flag (--debug, --help), more
// arguments, a profile that cannot be read or resolved, an invalid
// $MFABRIDGE_STS_TIMEOUT, a cache directory or entry that cannot be
// trusted, a miss. The one exception is a write to stdout that fails part
// way: the answer cannot be printed again, so it exits with status 1.
//
// Like package main, of which it is a part, it reads environment
// variables, prints and exits; nothing else imports it.
package warm

import (
	"io"
	"os"
	"strings"
	"time"

	"github.com/mfabridge/mfabridge/sts/awsconfig"
	"github.com/mfabridge/mfabridge/sts/stepcache"
)

func init() {
	served, err := Serve(os.Args[1:], os.Getenv, os.Stdout, time.Now())
	if err != nil {
		os.Stderr.WriteString("mfabridge: error: " + err.Error() + "\n") // as printError (hints.go)
		os.Exit(1)
	}
	if served {
		os.Exit(0)
	}
}

// PlainForm reports whether args (the command line without the program
// name) is the plain form `credential-process [PROFILE]`, and its profile
// ("": the default). A flag (--debug, --help, --) or a second argument is
// not: cobra parses those.
func PlainForm(args []string) (profile string, ok bool) {
	if len(args) == 0 || len(args) > 2 || args[0] != "credential-process" {
		return "", false
	}
	if len(args) == 2 {
		if strings.HasPrefix(args[1], "-") {
			return "", false
		}
		profile = args[1]
	}
	return profile, true
}

// STSTimeout parses a value of $MFABRIDGE_STS_TIMEOUT: a positive duration.
func STSTimeout(v string) (time.Duration, bool) {
	d, err := time.ParseDuration(v)
	return d, err == nil && d > 0
}

// Serve prints the cached answer of the command line args (without the
// program name) to w, as `mfabridge credential-process [PROFILE]` prints
// it, and reports whether it did. It writes nothing and returns false,
// nil whenever the normal start must answer instead; err is a write to w
// that failed after part of the answer was written.
func Serve(args []string, getenv func(string) string, w io.Writer, now time.Time) (served bool, err error) {
	name, ok := PlainForm(args)
	if !ok {
		return false, nil
	}
	if v := getenv("MFABRIDGE_STS_TIMEOUT"); v != "" {
		// The command refuses a bad value even on a cache hit.
		if _, ok := STSTimeout(v); !ok {
			return false, nil
		}
	}
	cfg, err := awsconfig.LoadProfiles(getenv)
	if err != nil {
		return false, nil
	}
	p, err := cfg.Resolve(name)
	if err != nil {
		return false, nil
	}
	dir, err := stepcache.DefaultCacheDir(getenv)
	if err != nil {
		return false, nil
	}
	c, err := stepcache.Lookup(p, dir, now)
	if err != nil || c == nil {
		return false, nil
	}
	n, err := w.Write(append(c.ProcessOutput(), '\n'))
	if err != nil && n == 0 {
		return false, nil // the normal start fails the same way and says so
	}
	return true, err
}
