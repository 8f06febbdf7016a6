package keystore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	awssts "github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	"github.com/gofrs/flock"
)

// AccessKeyIAM is the part of the IAM client access-key rotation uses;
// *iam.Client satisfies it. Every call is made with the MFA session's
// credentials (through the per-call options), because the usual "manage
// your own keys" policies deny key changes without MFA.
//
// Error contract: IAM refusals are smithy.APIError values (NoSuchEntity,
// LimitExceeded, AccessDenied …); anything else is a transport failure.
type AccessKeyIAM interface {
	CreateAccessKey(ctx context.Context, in *iam.CreateAccessKeyInput, optFns ...func(*iam.Options)) (*iam.CreateAccessKeyOutput, error)
	UpdateAccessKey(ctx context.Context, in *iam.UpdateAccessKeyInput, optFns ...func(*iam.Options)) (*iam.UpdateAccessKeyOutput, error)
	DeleteAccessKey(ctx context.Context, in *iam.DeleteAccessKeyInput, optFns ...func(*iam.Options)) (*iam.DeleteAccessKeyOutput, error)
	ListAccessKeys(ctx context.Context, in *iam.ListAccessKeysInput, optFns ...func(*iam.Options)) (*iam.ListAccessKeysOutput, error)
}

// CallerIdentityAPI checks a key with GetCallerIdentity (signed with the
// key given in the per-call options); *sts.Client satisfies it.
type CallerIdentityAPI interface {
	GetCallerIdentity(ctx context.Context, in *awssts.GetCallerIdentityInput, optFns ...func(*awssts.Options)) (*awssts.GetCallerIdentityOutput, error)
}

// SessionFunc returns MFA session credentials for the profile, obtained
// with the key the store holds now (cmd: the credentials provider's
// GetSessionToken with a code). It is called at most once per Rotate.
type SessionFunc func(ctx context.Context) (aws.Credentials, error)

// RotateStep names an access-key rotation step, in order.
type RotateStep string

const (
	StepCreateKey     RotateStep = "create-key"         // IAM CreateAccessKey (MFA session)
	StepStoreKey      RotateStep = "store-key"          // Store.Put of the new key
	StepVerifyKey     RotateStep = "verify-key"         // GetCallerIdentity with the stored new key
	StepDeactivateOld RotateStep = "deactivate-old-key" // IAM UpdateAccessKey Inactive
	StepDeleteOld     RotateStep = "delete-old-key"     // IAM DeleteAccessKey
)

var rotateSteps = []RotateStep{StepCreateKey, StepStoreKey, StepVerifyKey, StepDeactivateOld, StepDeleteOld}

var (
	// ErrRotationRunning: another process is rotating this profile's key.
	ErrRotationRunning = errors.New("another key rotation of this profile is running")
	// ErrInterrupted is what a step hook returns to simulate a crash.
	ErrInterrupted = errors.New("interrupted")
	// ErrTwoKeys: the IAM user already has two access keys, so no new one
	// can be created; rotation never deletes a key it did not create.
	ErrTwoKeys = errors.New("the IAM user already has two access keys")
	// ErrNotLongTerm: the profile holds session credentials, not an
	// access key that can be rotated.
	ErrNotLongTerm = errors.New("not a long-term access key")
)

// RotateKeyError is a rotation stopped part-way; running Rotate again
// resumes it from the journal. The user always has a working key: the old
// one until the new one is stored and verified, the new one after.
type RotateKeyError struct {
	Profile  string
	Step     RotateStep
	OldKeyID string
	NewKeyID string // empty before the new key exists
	Err      error
}

func (e *RotateKeyError) Error() string {
	return fmt.Sprintf("rotate access key of %s: stopped at step %s (old key %s, new key %s): %v; run the rotation again to finish",
		e.Profile, e.Step, e.OldKeyID, orNone(e.NewKeyID), e.Err)
}

func (e *RotateKeyError) Unwrap() error { return e.Err }

func orNone(s string) string {
	if s == "" {
		return "none yet"
	}
	return s
}

// KeyRotated is a completed rotation.
type KeyRotated struct {
	Profile, User, OldKeyID, NewKeyID string
	Resumed                           bool
	// Removed lists keys created by an interrupted attempt whose secret was
	// lost before it was stored, deleted before creating the new one.
	Removed []string
}

// keyJournal is the rotation's state: 0600, replaced atomically after
// every step, never holding a secret.
type keyJournal struct {
	Version  int          `json:"version"`
	Profile  string       `json:"profile"`
	User     string       `json:"user"`
	UserARN  string       `json:"user_arn"`
	OldKeyID string       `json:"old_key_id"`
	Before   []string     `json:"keys_before"` // the user's key ids when the rotation started
	NewKeyID string       `json:"new_key_id,omitempty"`
	Done     []RotateStep `json:"done"`
	Pending  RotateStep   `json:"pending,omitempty"`
	Started  time.Time    `json:"started"`
}

const keyJournalVersion = 1

func parseKeyJournal(b []byte) (*keyJournal, error) {
	var j keyJournal
	if err := json.Unmarshal(b, &j); err != nil {
		return nil, fmt.Errorf("parse key rotation journal: %w", err)
	}
	if j.Version != keyJournalVersion || j.Profile == "" || j.User == "" || j.UserARN == "" || j.OldKeyID == "" {
		return nil, errors.New("parse key rotation journal: incomplete journal")
	}
	for _, s := range append(slices.Clone(j.Done), j.Pending) {
		if s != "" && !slices.Contains(rotateSteps, s) {
			return nil, fmt.Errorf("parse key rotation journal: unknown step %q", s)
		}
	}
	return &j, nil
}

func (j *keyJournal) has(s RotateStep) bool { return slices.Contains(j.Done, s) }

// KeyRotator replaces a profile's access key: create a new key with the
// MFA session, store it, verify it with GetCallerIdentity, deactivate and
// delete the old one.
type KeyRotator struct {
	store   Store
	iam     AccessKeyIAM
	ident   CallerIdentityAPI
	session SessionFunc
	dir     string
	o       options
}

// NewKeyRotator returns a rotator for keys in store; journals live in dir
// (cmd: the cache folder), one per profile while a rotation is unfinished.
func NewKeyRotator(store Store, iamAPI AccessKeyIAM, ident CallerIdentityAPI, session SessionFunc, dir string, opts ...Option) *KeyRotator {
	return &KeyRotator{store: store, iam: iamAPI, ident: ident, session: session, dir: dir, o: buildOptions(opts)}
}

// WithStepHook calls hook after each completed rotation step (tests make
// it return ErrInterrupted to stop there).
func WithStepHook(hook func(RotateStep) error) Option {
	return func(o *options) { o.stepHook = hook }
}

// WithSleep sets how the rotator waits between checks of a new key (IAM
// is eventually consistent: a new key may take seconds to authenticate).
func WithSleep(sleep func(context.Context, time.Duration) error) Option {
	return func(o *options) {
		if sleep != nil {
			o.sleep = sleep
		}
	}
}

// KeyJournalPath is the rotation journal of profile in dir.
func KeyJournalPath(dir, profile string) string {
	return filepath.Join(dir, "keyrotate-"+profile+".json")
}

// verifyAttempts bounds how long Rotate waits for a new key to work:
// 1+2+4+8+16 s, the delay AWS documents for IAM changes to propagate.
const verifyAttempts = 6

// Rotate rotates profile's key, or resumes an interrupted rotation. The
// order never leaves the user without a working key:
//
//  1. create the new key (IAM, MFA session) — the secret exists only in
//     memory until step 2; if the run dies in between, the next run finds
//     the orphan (a key that is neither the old one nor stored) and
//     deletes it before creating another;
//  2. store it (replacing the old key in the store);
//  3. verify it: GetCallerIdentity with the key read back from the store
//     must name the same IAM user (retried while IAM propagates);
//  4. deactivate the old key, 5. delete it (NoSuchEntity: already done).
//
// Errors after step 1 are *RotateKeyError; run Rotate again to resume.
func (r *KeyRotator) Rotate(ctx context.Context, profile string) (*KeyRotated, error) {
	if err := checkProfile("rotate key", profile); err != nil {
		return nil, err
	}
	if err := ensureDir(r.dir); err != nil {
		return nil, fmt.Errorf("rotate key of %s: %w", profile, err)
	}
	lock := flock.New(filepath.Join(r.dir, "keyrotate-"+profile+".lock"))
	ok, err := lock.TryLock()
	if err != nil {
		return nil, fmt.Errorf("rotate key of %s: %w", profile, err)
	}
	if !ok {
		return nil, fmt.Errorf("rotate key of %s: %w", profile, ErrRotationRunning)
	}
	defer lock.Unlock()

	jpath := KeyJournalPath(r.dir, profile)
	res := &KeyRotated{Profile: profile}
	var j *keyJournal
	if b, err := readPrivate(jpath); err == nil {
		if j, err = parseKeyJournal(b); err != nil {
			return nil, fmt.Errorf("rotate key of %s: %w (remove %s to start over)", profile, err, jpath)
		}
		res.Resumed = true
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("rotate key of %s: %w", profile, err)
	}
	save := func() error {
		b, err := json.MarshalIndent(j, "", "  ")
		if err != nil {
			return err
		}
		if err := writePrivate(jpath, b); err != nil {
			return fmt.Errorf("write key rotation journal: %w", err)
		}
		return nil
	}

	var mfa *aws.Credentials
	withMFA := func() ([]func(*iam.Options), error) {
		if mfa == nil {
			if r.session == nil {
				return nil, errors.New("no MFA session function")
			}
			c, err := r.session(ctx)
			if err != nil {
				return nil, fmt.Errorf("MFA session: %w", err)
			}
			mfa = &c
		}
		c := *mfa
		return []func(*iam.Options){func(o *iam.Options) {
			o.Credentials = credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, c.SessionToken)
		}}, nil
	}

	if j == nil {
		old, err := r.store.Get(ctx, profile)
		if err != nil {
			return nil, fmt.Errorf("rotate key of %s: %w", profile, err)
		}
		if old.SessionToken != "" || !strings.HasPrefix(old.AccessKeyID, "AKIA") {
			return nil, fmt.Errorf("rotate key of %s: %w: %s", profile, ErrNotLongTerm, old.AccessKeyID)
		}
		arn, err := r.identity(ctx, old)
		if err != nil {
			return nil, fmt.Errorf("rotate key of %s: the current key %s does not work: %w", profile, old.AccessKeyID, err)
		}
		user, ok := userFromARN(arn)
		if !ok {
			return nil, fmt.Errorf("rotate key of %s: the key belongs to %s, not an IAM user", profile, arn)
		}
		opts, err := withMFA()
		if err != nil {
			return nil, fmt.Errorf("rotate key of %s: %w", profile, err)
		}
		before, err := r.listKeys(ctx, user, opts)
		if err != nil {
			return nil, fmt.Errorf("rotate key of %s: %w", profile, err)
		}
		if len(before) >= 2 {
			return nil, fmt.Errorf("rotate key of %s: %w (%s): delete the one that is not %s first", profile, ErrTwoKeys, strings.Join(before, ", "), old.AccessKeyID)
		}
		j = &keyJournal{Version: keyJournalVersion, Profile: profile, User: user, UserARN: arn, OldKeyID: old.AccessKeyID,
			Before: before, Done: []RotateStep{}, Started: r.o.now().UTC()}
		if err := save(); err != nil {
			return nil, fmt.Errorf("rotate key of %s: %w", profile, err)
		}
	}
	res.User, res.OldKeyID = j.User, j.OldKeyID
	stop := func(s RotateStep, err error) (*KeyRotated, error) {
		return nil, &RotateKeyError{Profile: profile, Step: s, OldKeyID: j.OldKeyID, NewKeyID: j.NewKeyID, Err: err}
	}

	var fresh *Key // the new key between steps 1 and 2, in memory only
	for _, st := range rotateSteps {
		if j.has(st) {
			continue
		}
		resumedHere := j.Pending == st
		j.Pending = st
		if err := save(); err != nil {
			return stop(st, err)
		}
		var err error
		switch st {
		case StepCreateKey:
			var stored string
			fresh, stored, err = r.create(ctx, j, resumedHere, res, withMFA)
			if err == nil && stored != "" {
				// The previous run stored the new key but died before
				// journaling it.
				j.NewKeyID = stored
				j.Done = append(j.Done, StepCreateKey, StepStoreKey)
				j.Pending = ""
				if err := save(); err != nil {
					return stop(st, err)
				}
				continue
			}
		case StepStoreKey:
			if fresh == nil {
				// Cannot happen: create is journaled done only with the
				// store step in the same run.
				err = errors.New("the new key's secret is not in memory")
				break
			}
			err = r.store.Put(ctx, profile, *fresh)
		case StepVerifyKey:
			err = r.verify(ctx, j)
		case StepDeactivateOld:
			var opts []func(*iam.Options)
			if opts, err = withMFA(); err == nil {
				_, err = r.iam.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: aws.String(j.User), AccessKeyId: aws.String(j.OldKeyID), Status: types.StatusTypeInactive}, opts...)
				if isAPICode(err, "NoSuchEntity") {
					err = nil // deleted already (an earlier run, or by hand)
				}
			}
		case StepDeleteOld:
			var opts []func(*iam.Options)
			if opts, err = withMFA(); err == nil {
				_, err = r.iam.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String(j.User), AccessKeyId: aws.String(j.OldKeyID)}, opts...)
				if isAPICode(err, "NoSuchEntity") {
					err = nil
				}
			}
		}
		if err != nil {
			return stop(st, err)
		}
		if st == StepCreateKey {
			// The secret is only in memory: store it in the same run, and
			// journal create+store together once it is stored.
			j.NewKeyID = fresh.AccessKeyID
			if err := save(); err != nil {
				return stop(st, err)
			}
			if err := r.hook(st); err != nil {
				return stop(st, err)
			}
			continue
		}
		if st == StepStoreKey {
			j.Done = append(j.Done, StepCreateKey)
			fresh = nil
		}
		j.Done = append(j.Done, st)
		j.Pending = ""
		if err := save(); err != nil {
			return stop(st, err)
		}
		if err := r.hook(st); err != nil {
			return stop(st, err)
		}
	}
	res.NewKeyID = j.NewKeyID
	if err := os.Remove(jpath); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("rotate key of %s: done, but remove the journal: %w", profile, err)
	}
	r.o.logger.Debug("access key rotated", "profile", profile, "old", j.OldKeyID, "new", j.NewKeyID)
	return res, nil
}

func (r *KeyRotator) hook(s RotateStep) error {
	if r.o.stepHook == nil {
		return nil
	}
	return r.o.stepHook(s)
}

// create makes the new key. On a resumed create (the previous run died
// between CreateAccessKey and journaling the stored key) it first looks at
// what exists: a new key already in the store is kept (stored names it,
// nothing is created); keys that were neither there before nor stored are
// deleted, since their secret is lost.
func (r *KeyRotator) create(ctx context.Context, j *keyJournal, resumed bool, res *KeyRotated, withMFA func() ([]func(*iam.Options), error)) (fresh *Key, stored string, err error) {
	opts, err := withMFA()
	if err != nil {
		return nil, "", err
	}
	if resumed || j.NewKeyID != "" {
		cur, err := r.store.Get(ctx, j.Profile)
		if err != nil {
			return nil, "", fmt.Errorf("read the stored key: %w", err)
		}
		now, err := r.listKeys(ctx, j.User, opts)
		if err != nil {
			return nil, "", err
		}
		for _, id := range now {
			if slices.Contains(j.Before, id) || id == cur.AccessKeyID {
				continue
			}
			if _, err := r.iam.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String(j.User), AccessKeyId: aws.String(id)}, opts...); err != nil && !isAPICode(err, "NoSuchEntity") {
				return nil, "", fmt.Errorf("delete the key %s left by an interrupted rotation: %w", id, err)
			}
			res.Removed = append(res.Removed, id)
		}
		if !slices.Contains(j.Before, cur.AccessKeyID) && slices.Contains(now, cur.AccessKeyID) {
			return nil, cur.AccessKeyID, nil
		}
		j.NewKeyID = ""
	}
	out, err := r.iam.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(j.User)}, opts...)
	if err != nil {
		return nil, "", fmt.Errorf("create access key: %w", err)
	}
	ak := out.AccessKey
	if ak == nil || aws.ToString(ak.AccessKeyId) == "" || aws.ToString(ak.SecretAccessKey) == "" {
		return nil, "", errors.New("create access key: IAM answered without a key")
	}
	k := Key{AccessKeyID: aws.ToString(ak.AccessKeyId), SecretAccessKey: aws.ToString(ak.SecretAccessKey)}
	if ak.CreateDate != nil {
		k.Created = *ak.CreateDate
	}
	return &k, "", nil
}

// verify reads the new key back from the store and checks it names the
// same IAM user, waiting for IAM to propagate a fresh key.
func (r *KeyRotator) verify(ctx context.Context, j *keyJournal) error {
	k, err := r.store.Get(ctx, j.Profile)
	if err != nil {
		return fmt.Errorf("read the new key back: %w", err)
	}
	if k.AccessKeyID != j.NewKeyID {
		return fmt.Errorf("the store holds %s, not the new key %s", k.AccessKeyID, j.NewKeyID)
	}
	delay := time.Second
	for attempt := 1; ; attempt++ {
		arn, err := r.identity(ctx, k)
		if err == nil {
			if arn != j.UserARN {
				return fmt.Errorf("the new key belongs to %s, not %s", arn, j.UserARN)
			}
			return nil
		}
		if attempt == verifyAttempts || !isAPICode(err, "InvalidClientTokenId") {
			return fmt.Errorf("verify the new key %s: %w", k.AccessKeyID, err)
		}
		if err := r.o.sleep(ctx, delay); err != nil {
			return err
		}
		delay *= 2
	}
}

func (r *KeyRotator) identity(ctx context.Context, k Key) (string, error) {
	out, err := r.ident.GetCallerIdentity(ctx, &awssts.GetCallerIdentityInput{}, func(o *awssts.Options) {
		o.Credentials = credentials.NewStaticCredentialsProvider(k.AccessKeyID, k.SecretAccessKey, k.SessionToken)
	})
	if err != nil {
		return "", err
	}
	return aws.ToString(out.Arn), nil
}

func (r *KeyRotator) listKeys(ctx context.Context, user string, opts []func(*iam.Options)) ([]string, error) {
	var ids []string
	in := &iam.ListAccessKeysInput{UserName: aws.String(user)}
	for {
		out, err := r.iam.ListAccessKeys(ctx, in, opts...)
		if err != nil {
			return nil, fmt.Errorf("list access keys of %s: %w", user, err)
		}
		for _, m := range out.AccessKeyMetadata {
			ids = append(ids, aws.ToString(m.AccessKeyId))
		}
		if !out.IsTruncated || out.Marker == nil {
			return ids, nil
		}
		in.Marker = out.Marker
	}
}

// userFromARN returns NAME of arn:aws:iam::ACCOUNT:user/[PATH/]NAME.
func userFromARN(arn string) (string, bool) {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[2] != "iam" || !strings.HasPrefix(parts[5], "user/") {
		return "", false
	}
	p := parts[5]
	return p[strings.LastIndexByte(p, '/')+1:], true
}

func isAPICode(err error, code string) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && ae.ErrorCode() == code
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
