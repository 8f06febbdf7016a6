package keystore

import (
	"context"
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	awssts "github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	"github.com/gofrs/flock"
	"github.com/pquerna/otp/totp"

	"github.com/mfabridge/mfabridge/simulator/stsemu"
)

// The emulator's user alice (simulator/stsemu/testdata/iam_access_keys.json)
// may manage her own access keys only with MFA.
const (
	emuAliceKey    = "AKIAALICE00000000001"
	emuAliceSecret = "alice-secret-access-key-0000000000000000"
	emuAliceSerial = "arn:aws:iam::111111111111:mfa/alice"
	emuAliceTOTP   = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
	emuAliceARN    = "arn:aws:iam::111111111111:user/alice"
)

type emuClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *emuClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *emuClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type rotEnv struct {
	url    string
	clock  *emuClock
	store  Store
	iam    *iam.Client
	sts    *awssts.Client
	dir    string
	slept  []time.Duration
	mfaGot int
}

func newRotEnv(t *testing.T, store Store) *rotEnv {
	t.Helper()
	cfg, err := stsemu.LoadConfig("../../simulator/stsemu/testdata/iam_access_keys.json")
	if err != nil {
		t.Fatal(err)
	}
	e := &rotEnv{clock: &emuClock{t: time.Date(2026, 12, 2, 8, 0, 5, 0, time.UTC)}, store: store, dir: filepath.Join(t.TempDir(), "journal")} // made by the store, owner-only (a Wine temp dir is Everyone-readable)
	srv, err := stsemu.New(cfg, stsemu.WithClock(e.clock.Now))
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	e.url = ts.URL
	// The clients' own credentials are never used: every call names its
	// key through per-call options.
	none := credentials.NewStaticCredentialsProvider("AKIANOTUSED000000000", "x", "")
	e.iam = iam.New(iam.Options{Region: "us-east-1", BaseEndpoint: aws.String(e.url), Credentials: none, RetryMaxAttempts: 1})
	e.sts = awssts.New(awssts.Options{Region: "us-east-1", BaseEndpoint: aws.String(e.url), Credentials: none, RetryMaxAttempts: 1})
	if err := store.Put(ctx, "alice", Key{AccessKeyID: emuAliceKey, SecretAccessKey: emuAliceSecret}); err != nil {
		t.Fatal(err)
	}
	return e
}

// session is cmd's part: an MFA GetSessionToken with the key the store
// holds now, with a code of a fresh TOTP step.
func (e *rotEnv) session(ctx context.Context) (aws.Credentials, error) {
	e.mfaGot++
	k, err := e.store.Get(ctx, "alice")
	if err != nil {
		return aws.Credentials{}, err
	}
	e.clock.Advance(30 * time.Second)
	code, err := totp.GenerateCode(emuAliceTOTP, e.clock.Now())
	if err != nil {
		return aws.Credentials{}, err
	}
	out, err := e.sts.GetSessionToken(ctx, &awssts.GetSessionTokenInput{SerialNumber: aws.String(emuAliceSerial), TokenCode: aws.String(code)},
		func(o *awssts.Options) {
			o.Credentials = credentials.NewStaticCredentialsProvider(k.AccessKeyID, k.SecretAccessKey, "")
		})
	if err != nil {
		return aws.Credentials{}, err
	}
	c := out.Credentials
	return aws.Credentials{AccessKeyID: *c.AccessKeyId, SecretAccessKey: *c.SecretAccessKey, SessionToken: *c.SessionToken}, nil
}

func (e *rotEnv) rotator(iamAPI AccessKeyIAM, opts ...Option) *KeyRotator {
	if iamAPI == nil {
		iamAPI = e.iam
	}
	opts = append([]Option{WithSleep(func(_ context.Context, d time.Duration) error { e.slept = append(e.slept, d); return nil })}, opts...)
	return NewKeyRotator(e.store, iamAPI, e.sts, e.session, e.dir, opts...)
}

// works reports whether k authenticates (GetCallerIdentity as alice).
func (e *rotEnv) works(k Key) bool {
	out, err := e.sts.GetCallerIdentity(ctx, &awssts.GetCallerIdentityInput{}, func(o *awssts.Options) {
		o.Credentials = credentials.NewStaticCredentialsProvider(k.AccessKeyID, k.SecretAccessKey, "")
	})
	return err == nil && aws.ToString(out.Arn) == emuAliceARN
}

// checkEnd asserts the end state of a rotation: the old key is refused,
// the stored key works and is the only key IAM lists, no journal is left.
func (e *rotEnv) checkEnd(t *testing.T, res *KeyRotated) {
	t.Helper()
	k, err := e.store.Get(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if k.AccessKeyID == emuAliceKey || k.AccessKeyID != res.NewKeyID || res.OldKeyID != emuAliceKey || res.User != "alice" {
		t.Fatalf("stored %s, result %+v", k.AccessKeyID, res)
	}
	if e.works(Key{AccessKeyID: emuAliceKey, SecretAccessKey: emuAliceSecret}) {
		t.Error("the old key still works")
	}
	if !e.works(k) {
		t.Error("the stored new key does not work")
	}
	mfa, err := e.session(ctx)
	if err != nil {
		t.Fatal(err)
	}
	out, err := e.iam.ListAccessKeys(ctx, &iam.ListAccessKeysInput{}, func(o *iam.Options) {
		o.Credentials = credentials.NewStaticCredentialsProvider(mfa.AccessKeyID, mfa.SecretAccessKey, mfa.SessionToken)
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.AccessKeyMetadata) != 1 || aws.ToString(out.AccessKeyMetadata[0].AccessKeyId) != k.AccessKeyID {
		t.Errorf("IAM lists %d keys, want only %s", len(out.AccessKeyMetadata), k.AccessKeyID)
	}
	if _, err := os.Stat(KeyJournalPath(e.dir, "alice")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("journal left: %v", err)
	}
}

func TestRotateKey(t *testing.T) {
	for name, s := range stores(t) {
		t.Run(name, func(t *testing.T) {
			e := newRotEnv(t, s)
			res, err := e.rotator(nil).Rotate(ctx, "alice")
			if err != nil {
				t.Fatal(err)
			}
			if res.Resumed || len(res.Removed) != 0 || e.mfaGot != 1 {
				t.Errorf("result %+v, %d MFA sessions", res, e.mfaGot)
			}
			e.checkEnd(t, res)
		})
	}
}

// An interruption after any step resumes, on the next run, to the same end
// state; between the runs the store always holds a working key.
func TestRotateKeyResumesAfterEachStep(t *testing.T) {
	for _, stop := range rotateSteps {
		t.Run(string(stop), func(t *testing.T) {
			e := newRotEnv(t, NewKeyring(&memKeyring{}))
			hook := func(s RotateStep) error {
				if s == stop {
					return ErrInterrupted
				}
				return nil
			}
			_, err := e.rotator(nil, WithStepHook(hook)).Rotate(ctx, "alice")
			var re *RotateKeyError
			if !errors.As(err, &re) || re.Step != stop || !errors.Is(err, ErrInterrupted) || re.OldKeyID != emuAliceKey {
				t.Fatalf("interrupted run: %v", err)
			}
			if k, _ := e.store.Get(ctx, "alice"); !e.works(k) {
				t.Fatalf("after %s the stored key %s does not work", stop, k.AccessKeyID)
			}
			if _, err := os.Stat(KeyJournalPath(e.dir, "alice")); err != nil {
				t.Fatalf("no journal after the interruption: %v", err)
			}
			if k, _ := e.store.Get(ctx, "alice"); k.AccessKeyID != emuAliceKey {
				assertNoSecret(t, e.dir, k.SecretAccessKey) // the journal names keys, never secrets
			}
			res, err := e.rotator(nil).Rotate(ctx, "alice")
			if err != nil {
				t.Fatal(err)
			}
			if !res.Resumed {
				t.Error("not reported as resumed")
			}
			if stop == StepCreateKey && len(res.Removed) != 1 {
				t.Errorf("the key created before the interruption was not removed: %v", res.Removed)
			}
			e.checkEnd(t, res)
		})
	}
}

// lossyIAM creates the key and then reports a failure, as when the answer
// is lost: the secret of that key is gone.
type lossyIAM struct {
	*iam.Client
	created []string
}

func (l *lossyIAM) CreateAccessKey(ctx context.Context, in *iam.CreateAccessKeyInput, o ...func(*iam.Options)) (*iam.CreateAccessKeyOutput, error) {
	out, err := l.Client.CreateAccessKey(ctx, in, o...)
	if err != nil {
		return nil, err
	}
	l.created = append(l.created, aws.ToString(out.AccessKey.AccessKeyId))
	return nil, errors.New("connection reset")
}

func TestRotateKeyLostCreateAnswer(t *testing.T) {
	e := newRotEnv(t, NewKeyring(&memKeyring{}))
	lossy := &lossyIAM{Client: e.iam}
	_, err := e.rotator(lossy).Rotate(ctx, "alice")
	var re *RotateKeyError
	if !errors.As(err, &re) || re.Step != StepCreateKey || len(lossy.created) != 1 {
		t.Fatalf("lossy run: %v (created %v)", err, lossy.created)
	}
	res, err := e.rotator(nil).Rotate(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Removed, lossy.created) {
		t.Errorf("removed %v, want the orphan %v", res.Removed, lossy.created)
	}
	e.checkEnd(t, res)
}

// putThenFail stores the key and then reports a failure: the next run
// finds the new key stored and does not create a third one.
type putThenFail struct {
	Store
	fail bool
}

func (p *putThenFail) Put(ctx context.Context, profile string, k Key) error {
	if err := p.Store.Put(ctx, profile, k); err != nil {
		return err
	}
	if p.fail {
		p.fail = false
		return errors.New("disk full after rename")
	}
	return nil
}

func TestRotateKeyStoredButNotJournaled(t *testing.T) {
	st := &putThenFail{Store: NewKeyring(&memKeyring{})}
	e := newRotEnv(t, st)
	st.fail = true
	_, err := e.rotator(nil).Rotate(ctx, "alice")
	var re *RotateKeyError
	if !errors.As(err, &re) || re.Step != StepStoreKey {
		t.Fatalf("first run: %v", err)
	}
	stored, _ := st.Get(ctx, "alice")
	res, err := e.rotator(nil).Rotate(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if res.NewKeyID != stored.AccessKeyID || len(res.Removed) != 0 {
		t.Errorf("result %+v, stored %s", res, stored.AccessKeyID)
	}
	e.checkEnd(t, res)
}

// IAM is eventually consistent: a new key refused at first is tried again
// after 1 s, 2 s, …
type slowNewKey struct {
	CallerIdentityAPI
	refuse int
}

func (s *slowNewKey) GetCallerIdentity(ctx context.Context, in *awssts.GetCallerIdentityInput, o ...func(*awssts.Options)) (*awssts.GetCallerIdentityOutput, error) {
	var opts awssts.Options
	for _, f := range o {
		f(&opts)
	}
	c, _ := opts.Credentials.Retrieve(ctx)
	if c.AccessKeyID != emuAliceKey && s.refuse > 0 {
		s.refuse--
		return nil, &smithy.GenericAPIError{Code: "InvalidClientTokenId", Message: "The security token included in the request is invalid"}
	}
	return s.CallerIdentityAPI.GetCallerIdentity(ctx, in, o...)
}

func TestRotateKeyWaitsForPropagation(t *testing.T) {
	e := newRotEnv(t, NewKeyring(&memKeyring{}))
	r := e.rotator(nil)
	r.ident = &slowNewKey{CallerIdentityAPI: e.sts, refuse: 2}
	res, err := r.Rotate(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(e.slept, []time.Duration{time.Second, 2 * time.Second}) {
		t.Errorf("slept %v", e.slept)
	}
	e.checkEnd(t, res)

	// A key that never works: the rotation stops at verify, the old key is
	// untouched, and the stored new key... is the only one the store has,
	// so the error tells the user to run again.
	e2 := newRotEnv(t, NewKeyring(&memKeyring{}))
	r2 := e2.rotator(nil)
	r2.ident = &slowNewKey{CallerIdentityAPI: e2.sts, refuse: 100}
	_, err = r2.Rotate(ctx, "alice")
	var re *RotateKeyError
	if !errors.As(err, &re) || re.Step != StepVerifyKey || len(e2.slept) != verifyAttempts-1 {
		t.Fatalf("never-working key: %v, slept %v", err, e2.slept)
	}
	if !e2.works(Key{AccessKeyID: emuAliceKey, SecretAccessKey: emuAliceSecret}) {
		t.Fatal("the old key was disabled before the new one was verified")
	}
}

func TestRotateKeyRefusals(t *testing.T) {
	e := newRotEnv(t, NewKeyring(&memKeyring{}))
	// A second key the user made by hand: rotation refuses and names both.
	mfa, err := e.session(ctx)
	if err != nil {
		t.Fatal(err)
	}
	withMFA := func(o *iam.Options) {
		o.Credentials = credentials.NewStaticCredentialsProvider(mfa.AccessKeyID, mfa.SecretAccessKey, mfa.SessionToken)
	}
	other, err := e.iam.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{}, withMFA)
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.rotator(nil).Rotate(ctx, "alice")
	if !errors.Is(err, ErrTwoKeys) {
		t.Fatalf("two keys: %v", err)
	}
	if _, err := os.Stat(KeyJournalPath(e.dir, "alice")); !errors.Is(err, os.ErrNotExist) {
		t.Error("journal written for a refused rotation")
	}
	if _, err := e.iam.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{AccessKeyId: other.AccessKey.AccessKeyId}, withMFA); err != nil {
		t.Fatal(err)
	}
	// Another process rotating the same profile.
	l := flock.New(filepath.Join(e.dir, "keyrotate-alice.lock"))
	if ok, err := l.TryLock(); !ok || err != nil {
		t.Fatal(ok, err)
	}
	if _, err := e.rotator(nil).Rotate(ctx, "alice"); !errors.Is(err, ErrRotationRunning) {
		t.Fatalf("concurrent: %v", err)
	}
	l.Unlock()
	// Session credentials are not rotated.
	if err := e.store.Put(ctx, "sess", Key{AccessKeyID: "ASIAALICE00000000001", SecretAccessKey: "x", SessionToken: "t"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.rotator(nil).Rotate(ctx, "sess"); !errors.Is(err, ErrNotLongTerm) {
		t.Fatalf("session key: %v", err)
	}
	// A store without the profile.
	if _, err := e.rotator(nil).Rotate(ctx, "nobody"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("no key: %v", err)
	}
}

// The journal parser never panics and accepts only complete journals with
// known steps.
func FuzzParseKeyJournal(f *testing.F) {
	f.Add([]byte(`{"version":1,"profile":"alice","user":"alice","user_arn":"arn:aws:iam::1:user/alice","old_key_id":"AKIA1","keys_before":["AKIA1"],"done":["create-key","store-key"],"pending":"verify-key"}`))
	f.Add([]byte(`{"version":1,"profile":"alice","done":["reboot"]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		j, err := parseKeyJournal(b)
		if err != nil {
			return
		}
		for _, s := range append(slices.Clone(j.Done), j.Pending) {
			if s != "" && !slices.Contains(rotateSteps, s) {
				t.Fatalf("accepted step %q", s)
			}
		}
		if j.Profile == "" || j.OldKeyID == "" || j.UserARN == "" {
			t.Fatal("accepted an incomplete journal")
		}
	})
}
