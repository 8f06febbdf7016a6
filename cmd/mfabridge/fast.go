package main

import (
	"context"
	"log/slog"

	"github.com/mfabridge/mfabridge/cmd/mfabridge/internal/warm"
)

// The warm path. `credential-process [PROFILE]`, as credential_process
// lines in ~/.aws/config call it, runs once per AWS CLI or SDK call, and
// most calls are served from the cache in a few milliseconds; building
// cobra's command tree (every command, its flags and help text, and the
// version string from the build info) is a noticeable part of that. So
// run recognises that plain form and runs the command's action without
// the tree. Anything else (a flag, --help, a second argument) goes to
// cobra, which gives the same answer for the plain form. A cache hit of
// the plain form never gets here: package internal/warm answers it from
// its init, before this package's imports are initialised.

// fastCredentialProcess reports whether args is the plain
// `credential-process [PROFILE]` form; if so it runs it and returns its
// error, exactly as the cobra command's RunE would.
func (a *app) fastCredentialProcess(ctx context.Context, args []string) (err error, ok bool) {
	if _, ok := warm.PlainForm(args); !ok {
		return nil, false
	}
	a.setLogger() // what the root command's PersistentPreRun does
	return a.credentialProcess(ctx, args[1:]), true
}

// setLogger builds the --debug logger: debug lines with --debug, else
// warnings only.
func (a *app) setLogger() {
	level := slog.LevelWarn
	if a.debug {
		level = slog.LevelDebug
	}
	a.log = slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: level}))
}
