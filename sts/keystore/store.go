package keystore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/mfabridge/mfabridge/internal/lazyre"
)

// Key is a long-term access key pair (SessionToken is set only when a
// profile holds session credentials).
type Key struct {
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string
	// Created is when the key was stored (or created in IAM, when known);
	// zero when the store does not know (the credentials file).
	Created time.Time
}

// String shows the key id only.
func (k Key) String() string { return k.AccessKeyID + " (secret redacted)" }

// LogValue keeps the secret and token out of logs.
func (k Key) LogValue() slog.Value {
	return slog.GroupValue(slog.String("access_key_id", k.AccessKeyID), slog.Time("created", k.Created))
}

// Entry is one line of List: never the secret.
type Entry struct {
	Profile     string
	AccessKeyID string
	Created     time.Time // zero when unknown
}

// Store keeps one access key per profile.
//
// Get returns ErrNotFound when the profile has no key in the store; Put
// replaces any key the profile had; Delete returns ErrNotFound when there
// was nothing to delete; List returns the entries sorted by profile. See the
// package doc for the other errors.
type Store interface {
	Get(ctx context.Context, profile string) (Key, error)
	Put(ctx context.Context, profile string, k Key) error
	Delete(ctx context.Context, profile string) error
	List(ctx context.Context) ([]Entry, error)
}

var (
	ErrNotFound        = errors.New("no access key stored")
	ErrBadProfile      = errors.New("bad profile name")
	ErrBadKey          = errors.New("bad access key")
	ErrNoPassphrase    = errors.New("no passphrase")
	ErrWrongPassphrase = errors.New("wrong passphrase")
	ErrUnsafeFile      = errors.New("unsafe key file")
	ErrBackend         = errors.New("keystore backend failed")
)

// Passphrase returns the passphrase of an AgeFile (cmd prompts on the
// terminal or reads its environment variable). confirm is true when the
// passphrase will encrypt a new file, so a prompt can ask twice.
type Passphrase func(ctx context.Context, confirm bool) (string, error)

// Option configures any store.
type Option func(*options)

type options struct {
	logger     *slog.Logger
	now        func() time.Time
	workFactor int
	stepHook   func(RotateStep) error
	sleep      func(context.Context, time.Duration) error
}

func buildOptions(opts []Option) options {
	o := options{logger: slog.New(slog.DiscardHandler), now: time.Now, workFactor: 18, sleep: sleepCtx}
	for _, f := range opts {
		f(&o)
	}
	return o
}

// WithLogger sets the logger (default: discard). Secrets are never logged.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) {
		if l != nil {
			o.logger = l
		}
	}
}

// WithClock sets the clock that stamps Key.Created on Put when it is zero.
func WithClock(now func() time.Time) Option {
	return func(o *options) {
		if now != nil {
			o.now = now
		}
	}
}

// WithScryptWorkFactor sets the scrypt work factor (log2 N) of files an
// AgeFile writes and the largest it accepts when reading (default 18,
// age's default, about a second). Tests lower it.
func WithScryptWorkFactor(logN int) Option {
	return func(o *options) {
		if logN > 0 {
			o.workFactor = logN
		}
	}
}

// Profile names become file names and keyring entries: letters, digits and
// _ . @ + = , - only, 1–64 of them, not starting with a dot.
// The patterns compile on first use: a bounded repetition such as {12,124}
// is unrolled by the compiler, which cost every process that links this
// package (a cached credential-process among them) milliseconds at init.
var profileRe = lazyre.New(`^[A-Za-z0-9_@+=,-][A-Za-z0-9_.@+=,-]{0,63}$`)

func checkProfile(op, profile string) error {
	if !profileRe.MatchString(profile) {
		return fmt.Errorf("%s: %w: %q: use 1-64 letters, digits or _.@+=,- (not starting with a dot)", op, ErrBadProfile, profile)
	}
	return nil
}

var keyIDRe = lazyre.New(`^(AKIA|ASIA)[A-Z0-9]{12,124}$`)

func checkKey(op, profile string, k Key) error {
	switch {
	case !keyIDRe.MatchString(k.AccessKeyID):
		return fmt.Errorf("%s %s: %w: access key id must be AKIA or ASIA followed by 12-124 upper-case letters or digits", op, profile, ErrBadKey)
	case k.SecretAccessKey == "" || len(k.SecretAccessKey) > 1024 || strings.IndexFunc(k.SecretAccessKey, badSecretRune) >= 0:
		return fmt.Errorf("%s %s: %w: secret access key must be 1-1024 printable characters without spaces", op, profile, ErrBadKey)
	case len(k.SessionToken) > 8192 || strings.IndexFunc(k.SessionToken, badSecretRune) >= 0:
		return fmt.Errorf("%s %s: %w: session token must be printable characters without spaces", op, profile, ErrBadKey)
	}
	return nil
}

func badSecretRune(r rune) bool { return r <= ' ' || r == 0x7f }

// stamp fills Created from the clock when the caller left it zero.
func (o *options) stamp(k Key) Key {
	if k.Created.IsZero() {
		k.Created = o.now()
	}
	k.Created = k.Created.UTC().Truncate(time.Second)
	return k
}

// Move copies profile's key from one store to another, reads it back from
// the destination and compares, then deletes it from the source. If the
// final delete fails the key is in both stores and the error says so.
func Move(ctx context.Context, from, to Store, profile string) error {
	k, err := from.Get(ctx, profile)
	if err != nil {
		return fmt.Errorf("move key of %s: %w", profile, err)
	}
	if err := to.Put(ctx, profile, k); err != nil {
		return fmt.Errorf("move key of %s: %w", profile, err)
	}
	got, err := to.Get(ctx, profile)
	if err != nil {
		return fmt.Errorf("move key of %s: read back: %w", profile, err)
	}
	if got.AccessKeyID != k.AccessKeyID || got.SecretAccessKey != k.SecretAccessKey || got.SessionToken != k.SessionToken {
		return fmt.Errorf("move key of %s: %w: the destination returned another key; the source is kept", profile, ErrBackend)
	}
	if err := from.Delete(ctx, profile); err != nil {
		return fmt.Errorf("move key of %s: stored in the destination, but removing it from the source failed: %w", profile, err)
	}
	return nil
}
