package enroll

import (
	"context"
	"encoding/base32"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	awssts "github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/mfabridge/mfabridge/sts"
	"github.com/mfabridge/mfabridge/sts/awsconfig"
)

// IAMAPI is the part of the IAM client that enrollment and rotation use;
// *iam.Client satisfies it.
//
// Error contract: IAM refusals are smithy.APIError values (NoSuchEntity,
// EntityAlreadyExists, InvalidAuthenticationCode, DeleteConflict,
// LimitExceeded, AccessDenied …); anything else is a transport failure.
type IAMAPI interface {
	CreateVirtualMFADevice(ctx context.Context, in *iam.CreateVirtualMFADeviceInput, optFns ...func(*iam.Options)) (*iam.CreateVirtualMFADeviceOutput, error)
	EnableMFADevice(ctx context.Context, in *iam.EnableMFADeviceInput, optFns ...func(*iam.Options)) (*iam.EnableMFADeviceOutput, error)
	DeactivateMFADevice(ctx context.Context, in *iam.DeactivateMFADeviceInput, optFns ...func(*iam.Options)) (*iam.DeactivateMFADeviceOutput, error)
	DeleteVirtualMFADevice(ctx context.Context, in *iam.DeleteVirtualMFADeviceInput, optFns ...func(*iam.Options)) (*iam.DeleteVirtualMFADeviceOutput, error)
	ListMFADevices(ctx context.Context, in *iam.ListMFADevicesInput, optFns ...func(*iam.Options)) (*iam.ListMFADevicesOutput, error)
}

// IdentityAPI is the part of the STS client enrollment uses: who the keys
// belong to, and a GetSessionToken to prove a new device works.
// *sts.Client satisfies it; errors as for API.
type IdentityAPI interface {
	GetCallerIdentity(ctx context.Context, in *awssts.GetCallerIdentityInput, optFns ...func(*awssts.Options)) (*awssts.GetCallerIdentityOutput, error)
	GetSessionToken(ctx context.Context, in *awssts.GetSessionTokenInput, optFns ...func(*awssts.Options)) (*awssts.GetSessionTokenOutput, error)
}

// OATHStore is the token side of enrollment: the CLI implements it with a
// device.Manager.
//
// Error contract: errors must not contain the secret; Delete of an
// account that does not exist returns an error wrapping ErrNoOATHAccount.
type OATHStore interface {
	// Accounts lists the OATH account names on the device.
	Accounts(ctx context.Context) ([]string, error)
	// Put stores a TOTP secret (SHA-1, 6 digits, 30 s) under account.
	Put(ctx context.Context, account string, secret []byte, touch bool) error
	// Delete removes an account.
	Delete(ctx context.Context, account string) error
	// Code computes the code of account for the TOTP step holding at.
	Code(ctx context.Context, account string, at time.Time) (string, error)
}

// Enrollment errors.
var (
	// ErrNoOATHAccount is what OATHStore.Delete wraps for a missing account.
	ErrNoOATHAccount = errors.New("no such OATH account")
	// ErrAccountExists: the OATH account name is already on the device
	// (a PUT would overwrite it).
	ErrAccountExists = errors.New("OATH account already on the device")
	// ErrNeedLongTermKeys: IAM calls need the profile's long-term keys.
	ErrNeedLongTermKeys = errors.New("enrollment needs long-term access keys")
	// ErrInterrupted is returned by a step hook to simulate an interruption.
	ErrInterrupted = errors.New("interrupted")
	// ErrIAM wraps every refused IAM call.
	ErrIAM = errors.New("IAM call failed")
	// ErrUserUnknown: no IAM user was named, and the caller's identity
	// names none (the keys are a role's, or the ARN has no user name).
	ErrUserUnknown = errors.New("the IAM user must be named")
)

// EnrollStep names an enrollment or rotation step, in order.
type EnrollStep string

// Enrollment steps (Enroll), then the rotation steps that follow them
// (Rotate).
const (
	StepCreate        EnrollStep = "create"             // IAM CreateVirtualMFADevice
	StepPut           EnrollStep = "put"                // OATH PUT of the seed
	StepEnable        EnrollStep = "enable"             // IAM EnableMFADevice with two consecutive codes
	StepConfig        EnrollStep = "config"             // profiles switched to the new serial
	StepVerify        EnrollStep = "verify"             // GetSessionToken with a code of the new device
	StepDeactivateOld EnrollStep = "deactivate-old"     // IAM DeactivateMFADevice of the old serial
	StepDeleteOld     EnrollStep = "delete-old"         // IAM DeleteVirtualMFADevice of the old serial
	StepRemoveOldOATH EnrollStep = "remove-old-account" // OATH DELETE of the old account
)

// Option configures an Enroller.
type Option func(*Enroller)

// WithClock sets the clock used for the enabling codes.
func WithClock(now func() time.Time) Option {
	return func(e *Enroller) { e.now = now }
}

// WithStepHook installs a hook called after each completed step; an error
// from it stops the operation there as if the process had been
// interrupted (fault injection for tests).
func WithStepHook(hook func(EnrollStep) error) Option {
	return func(e *Enroller) { e.hook = hook }
}

// WithLogger sets a debug logger (never given secrets or codes).
func WithLogger(l *slog.Logger) Option {
	return func(e *Enroller) { e.log = l }
}

// WithSleep sets how the Enroller waits for a fresh TOTP step when a
// verification code is refused; it must return ctx.Err() when cancelled.
func WithSleep(sleep func(ctx context.Context, d time.Duration) error) Option {
	return func(e *Enroller) { e.sleep = sleep }
}

// Enroller puts AWS virtual MFA devices on an OATH device.
type Enroller struct {
	iam   IAMAPI
	ident IdentityAPI
	store OATHStore
	now   func() time.Time
	hook  func(EnrollStep) error
	log   *slog.Logger
	sleep func(ctx context.Context, d time.Duration) error
}

// NewEnroller builds an Enroller. ident may be nil when the IAM user is
// always given and no rotation is done.
func NewEnroller(iamAPI IAMAPI, ident IdentityAPI, store OATHStore, opts ...Option) *Enroller {
	e := &Enroller{iam: iamAPI, ident: ident, store: store, now: time.Now,
		log: slog.New(slog.DiscardHandler), sleep: sleepCtx}
	for _, o := range opts {
		o(e)
	}
	return e
}

// NewIAMClient builds the IAM client for a profile: its long-term source
// keys, its region and IAMEndpoint. Retries are off: EnableMFADevice must
// not resend codes, and a failed call is reported, not repeated blindly.
func NewIAMClient(p *awsconfig.Profile, hc sts.HTTPClient) (*iam.Client, error) {
	if !p.Source.LongTerm() {
		return nil, &awsconfig.ProfileError{Profile: p.Source.Profile, Err: ErrNeedLongTermKeys,
			Detail: "IAM refuses session credentials obtained without MFA", Hint: "point the profile (or its source_profile) at access keys of the IAM user"}
	}
	if hc == nil {
		hc = awshttp.NewBuildableClient()
	}
	o := iam.Options{Region: p.Region, HTTPClient: hc, RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(p.Source.AccessKeyID, p.Source.SecretAccessKey, "")}
	if p.IAMEndpoint != "" {
		o.BaseEndpoint = aws.String(p.IAMEndpoint)
	}
	return iam.New(o), nil
}

// NewIdentityClient builds the STS client enrollment uses (GetCallerIdentity,
// verification GetSessionToken) with the profile's long-term source keys.
func NewIdentityClient(p *awsconfig.Profile, hc sts.HTTPClient) (*awssts.Client, error) {
	if !p.Source.LongTerm() {
		return nil, &awsconfig.ProfileError{Profile: p.Source.Profile, Err: ErrNeedLongTermKeys,
			Hint: "point the profile (or its source_profile) at access keys of the IAM user"}
	}
	if hc == nil {
		hc = awshttp.NewBuildableClient()
	}
	o := awssts.Options{Region: p.Region, HTTPClient: hc, RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(p.Source.AccessKeyID, p.Source.SecretAccessKey, "")}
	if p.Endpoint != "" {
		o.BaseEndpoint = aws.String(p.Endpoint)
	}
	return awssts.New(o), nil
}

// EnrollRequest says what to enroll.
type EnrollRequest struct {
	// User is the IAM user; empty: the owner of the keys (GetCallerIdentity).
	User string
	// DeviceName is the virtual MFA device's name; empty: USER-NameSuffix
	// (DefaultDeviceName). It is not the bare user name: most users already
	// have a device of that name (the console's default), and names are
	// unique per account (issue 13 case 18).
	DeviceName string
	// NameSuffix tells this key apart in the default DeviceName: the CLI
	// passes "yk" and the key's serial ("yk12345678"); empty: "mfabridge".
	NameSuffix string
	// Account is the OATH account name; empty: "AWS:DEVICENAME@ACCOUNTID",
	// which the CLI's account matching (device.MatchAccount) finds from the serial.
	Account string
	// Touch makes the OATH account require a touch for each code (the
	// enabling codes then need two touches).
	Touch bool
	// DeviceSpec names the device in the commands of an EnrollError.
	DeviceSpec string
}

// DefaultDeviceName is the device name enroll uses without one: the user
// name and suffix ("mfabridge" when empty) joined by "-", cut to IAM's 226
// characters.
func DefaultDeviceName(user, suffix string) string {
	if suffix == "" {
		suffix = "mfabridge"
	}
	name := user + "-" + suffix
	if len(name) > maxDeviceName {
		name = name[:maxDeviceName]
	}
	return name
}

// maxDeviceName is IAM's limit on VirtualMFADeviceName.
const maxDeviceName = 226

// DeviceNameTakenError is CreateVirtualMFADevice's EntityAlreadyExists: a
// virtual MFA device of that name exists in the account (names are unique
// per account and path, whoever the device belongs to).
type DeviceNameTakenError struct {
	Name      string // the name asked for
	AccountID string // the AWS account holding it
	Defaulted bool   // the name was the default, not given by the caller
	Err       error  // the refused call (wraps ErrIAM)
}

func (e *DeviceNameTakenError) Error() string {
	return fmt.Sprintf("an IAM MFA device named %q already exists in account %s: %v", e.Name, e.AccountID, e.Err)
}

func (e *DeviceNameTakenError) Unwrap() error { return e.Err }

// Enrolled is a completed enrollment.
type Enrolled struct {
	Serial    string // the new device's ARN: the profile's mfa_serial
	User      string // IAM user it is enabled for
	AccountID string // AWS account
	Account   string // OATH account name on the device
}

// LeftoverKind says what a Leftover is, and so which fields it fills.
type LeftoverKind int

const (
	// LeftOATHAccount: the OATH account Account on the device Spec.
	LeftOATHAccount LeftoverKind = iota + 1
	// LeftEnabledDevice: the IAM MFA device Serial, still enabled for
	// User (to deactivate, then delete).
	LeftEnabledDevice
	// LeftVirtualDevice: the IAM virtual MFA device Serial (to delete).
	LeftVirtualDevice
)

// Leftover is something a failed operation could not undo: what it is, in
// words and in fields from which a caller can spell out the commands that
// finish the job.
type Leftover struct {
	What    string
	Kind    LeftoverKind
	Spec    string // LeftOATHAccount: the device specification, may be empty
	Account string // LeftOATHAccount: the OATH account name
	User    string // LeftEnabledDevice: the IAM user
	Serial  string // LeftEnabledDevice, LeftVirtualDevice: the device ARN
	// Denied: IAM refused the cleanup (AccessDenied), likely because the
	// policy requires MFA: it takes MFA session credentials.
	Denied bool
}

// EnrollError is a failed or interrupted enrollment: the step that failed,
// what was rolled back, and what is left.
type EnrollError struct {
	Step       EnrollStep
	Err        error
	RolledBack []string
	Left       []Leftover
}

func (e *EnrollError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "enroll: %s: %v", e.Step, e.Err)
	if len(e.RolledBack) > 0 {
		fmt.Fprintf(&b, "; rolled back: %s", strings.Join(e.RolledBack, ", "))
	}
	for _, l := range e.Left {
		fmt.Fprintf(&b, "; left: %s", l.What)
	}
	return b.String()
}

func (e *EnrollError) Unwrap() error { return e.Err }

// caller resolves the IAM user and account ID.
func (e *Enroller) caller(ctx context.Context, user string) (string, string, error) {
	if e.ident == nil {
		return "", "", errors.New("find IAM user: no STS client")
	}
	out, err := e.ident.GetCallerIdentity(ctx, &awssts.GetCallerIdentityInput{})
	if err != nil {
		return "", "", fmt.Errorf("find IAM user: %w", iamErr(err))
	}
	arn := aws.ToString(out.Arn)
	if user == "" {
		// arn:aws:iam::ACCOUNT:user/PATH/NAME
		i := strings.Index(arn, ":user/")
		if i < 0 || !strings.HasPrefix(arn, "arn:") {
			return "", "", fmt.Errorf("find IAM user: the keys belong to %s, not to an IAM user: %w", arn, ErrUserUnknown)
		}
		res := arn[i+len(":user/"):]
		user = res[strings.LastIndexByte(res, '/')+1:]
		if user == "" {
			return "", "", fmt.Errorf("find IAM user: no user name in %s: %w", arn, ErrUserUnknown)
		}
	}
	return user, aws.ToString(out.Account), nil
}

// iamErr wraps a refused IAM/STS call so errors.Is(err, ErrIAM) holds,
// keeping the SDK error (code and message) in the chain. The text is
// "CODE: message" as AWS sent it.
func iamErr(err error) error {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return &awsCallError{code: ae.ErrorCode(), msg: ae.ErrorMessage(), err: err}
	}
	return err
}

type awsCallError struct {
	code, msg string
	err       error
}

func (e *awsCallError) Error() string   { return e.code + ": " + strings.TrimSpace(e.msg) }
func (e *awsCallError) Unwrap() []error { return []error{ErrIAM, e.err} }

// isCode reports whether err is a refused call with that error code.
func isCode(err error, code string) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && ae.ErrorCode() == code
}

// done records a completed step (journal, may be nil) and then calls the
// step hook.
func (e *Enroller) done(s EnrollStep, res *Enrolled, journal func(EnrollStep, *Enrolled, bool) error) error {
	if journal != nil {
		if err := journal(s, res, true); err != nil {
			return err
		}
	}
	return e.step(s)
}

func (e *Enroller) step(s EnrollStep) error {
	e.log.Debug("enroll step done", "step", s)
	if e.hook != nil {
		if err := e.hook(s); err != nil {
			return fmt.Errorf("after step %s: %w", s, err)
		}
	}
	return nil
}

// cleanupCtx is the context for rollback: it survives the cancellation
// (Ctrl-C) that may have caused the failure, for a bounded time.
func cleanupCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
}

// Enroll creates a virtual MFA device in IAM, stores its seed on the OATH
// device, and enables it with two codes computed at once from the device
// for the current and the next time step. The seed is held only in memory
// (and zeroed after the PUT); it never reaches a file, a log or an error.
//
// On failure it rolls back what it did (OATH account deleted, IAM device
// deactivated and deleted) and returns an *EnrollError listing what could
// not be undone, each with the command to finish by hand.
func (e *Enroller) Enroll(ctx context.Context, req EnrollRequest) (*Enrolled, error) {
	user, acctID, err := e.caller(ctx, req.User)
	if err != nil {
		return nil, &EnrollError{Step: StepCreate, Err: err}
	}
	res, _, err := e.enroll(ctx, req, user, acctID, nil)
	return res, err
}

// enroll runs the three enrollment steps. journal (may be nil) is called
// before each step (done false) and after it (done true) with what is known
// so far, so that a rotation can record it. On failure it rolls back,
// except when a journal is kept and the step hook interrupted: then the
// state is left for the rotation to resume, as after a crash.
func (e *Enroller) enroll(ctx context.Context, req EnrollRequest, user, acctID string, journal func(s EnrollStep, res *Enrolled, done bool) error) (*Enrolled, *EnrollError, error) {
	name := req.DeviceName
	if name == "" {
		name = DefaultDeviceName(user, req.NameSuffix)
	}
	res := &Enrolled{User: user, AccountID: acctID, Account: req.Account}
	if res.Account == "" {
		res.Account = "AWS:" + name + "@" + acctID
	}
	if len(res.Account) > 64 {
		return nil, nil, &EnrollError{Step: StepCreate, Err: fmt.Errorf("OATH account name %q is longer than 64 bytes; pass a shorter one", res.Account)}
	}
	names, err := e.store.Accounts(ctx)
	if err != nil {
		return nil, nil, &EnrollError{Step: StepCreate, Err: fmt.Errorf("list OATH accounts: %w", err)}
	}
	for _, n := range names {
		if n == res.Account {
			return nil, nil, &EnrollError{Step: StepCreate, Err: fmt.Errorf("%w: %q (choose another name, or delete it first)", ErrAccountExists, n)}
		}
	}

	var (
		created, stored, enabled bool
	)
	fail := func(s EnrollStep, err error) (*Enrolled, *EnrollError, error) {
		ee := &EnrollError{Step: s, Err: err}
		if journal != nil && errors.Is(err, ErrInterrupted) {
			return nil, ee, ee // the rotation journal resumes from here
		}
		e.rollback(ctx, ee, res, req.DeviceSpec, created, stored, enabled)
		return nil, ee, ee
	}
	if journal != nil {
		if err := journal(StepCreate, res, false); err != nil {
			return fail(StepCreate, err)
		}
	}

	out, err := e.iam.CreateVirtualMFADevice(ctx, &iam.CreateVirtualMFADeviceInput{VirtualMFADeviceName: aws.String(name)})
	if isCode(err, "EntityAlreadyExists") {
		return fail(StepCreate, fmt.Errorf("create virtual MFA device %q: %w", name, &DeviceNameTakenError{Name: name,
			AccountID: acctID, Defaulted: req.DeviceName == "", Err: iamErr(err)}))
	}
	if err != nil {
		return fail(StepCreate, fmt.Errorf("create virtual MFA device %q: %w", name, iamErr(err)))
	}
	if out.VirtualMFADevice == nil || aws.ToString(out.VirtualMFADevice.SerialNumber) == "" {
		return fail(StepCreate, fmt.Errorf("create virtual MFA device %q: %w: answer without a serial number", name, ErrIAM))
	}
	created = true
	res.Serial = aws.ToString(out.VirtualMFADevice.SerialNumber)
	seed := out.VirtualMFADevice.Base32StringSeed
	key, derr := decodeSeed(seed)
	clear(seed)
	if derr != nil {
		return fail(StepCreate, fmt.Errorf("create virtual MFA device %q: %w", name, derr))
	}
	if err := e.done(StepCreate, res, journal); err != nil {
		clear(key)
		return fail(StepCreate, err)
	}

	if journal != nil {
		if err := journal(StepPut, res, false); err != nil {
			clear(key)
			return fail(StepPut, err)
		}
	}
	err = e.store.Put(ctx, res.Account, key, req.Touch)
	clear(key)
	if err != nil {
		// A failed PUT may still have written (an answer lost on the way
		// back): try to delete the account too.
		stored = true
		return fail(StepPut, fmt.Errorf("store the seed as OATH account %q: %w", res.Account, err))
	}
	stored = true
	if err := e.done(StepPut, res, journal); err != nil {
		return fail(StepPut, err)
	}

	if journal != nil {
		if err := journal(StepEnable, res, false); err != nil {
			return fail(StepEnable, err)
		}
	}
	enabled = true // from here a rollback tries to deactivate
	if err := e.enable(ctx, res); err != nil {
		return fail(StepEnable, err)
	}
	if err := e.done(StepEnable, res, journal); err != nil {
		return fail(StepEnable, err)
	}
	return res, nil, nil
}

// enable computes the codes for now and now+30 s and enables the device.
func (e *Enroller) enable(ctx context.Context, res *Enrolled) error {
	now := e.now()
	c1, err := e.store.Code(ctx, res.Account, now)
	if err != nil {
		return fmt.Errorf("compute the first enabling code: %w", err)
	}
	c2, err := e.store.Code(ctx, res.Account, now.Add(30*time.Second))
	if err != nil {
		return fmt.Errorf("compute the second enabling code: %w", err)
	}
	_, err = e.iam.EnableMFADevice(ctx, &iam.EnableMFADeviceInput{UserName: aws.String(res.User),
		SerialNumber: aws.String(res.Serial), AuthenticationCode1: aws.String(c1), AuthenticationCode2: aws.String(c2)})
	if err != nil {
		return fmt.Errorf("enable %s for %s: %w", res.Serial, res.User, iamErr(err))
	}
	return nil
}

// decodeSeed reads Base32StringSeed (the SDK's []byte holds base32 text,
// padded or not, possibly lower case). Errors never quote the seed.
func decodeSeed(b []byte) ([]byte, error) {
	s := strings.ToUpper(strings.TrimRight(strings.TrimSpace(string(b)), "="))
	key, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(s)
	if err != nil || len(key) < 10 {
		return nil, fmt.Errorf("%w: Base32StringSeed is not base32 text of at least 10 bytes", ErrIAM)
	}
	return key, nil
}

// rollback undoes the enrollment steps done, newest first, recording in ee
// what was undone and what is left.
func (e *Enroller) rollback(ctx context.Context, ee *EnrollError, res *Enrolled, spec string, created, stored, enabled bool) {
	ctx, cancel := cleanupCtx(ctx)
	defer cancel()
	if stored {
		err := e.store.Delete(ctx, res.Account)
		switch {
		case err == nil:
			ee.RolledBack = append(ee.RolledBack, fmt.Sprintf("OATH account %q deleted", res.Account))
		case errors.Is(err, ErrNoOATHAccount):
		default:
			e.log.Debug("rollback: delete OATH account", "err", err)
			ee.Left = append(ee.Left, Leftover{What: fmt.Sprintf("OATH account %q on the device", res.Account),
				Kind: LeftOATHAccount, Spec: spec, Account: res.Account})
		}
	}
	if !created {
		return
	}
	if enabled {
		_, err := e.iam.DeactivateMFADevice(ctx, &iam.DeactivateMFADeviceInput{UserName: aws.String(res.User), SerialNumber: aws.String(res.Serial)})
		switch {
		case err == nil:
			ee.RolledBack = append(ee.RolledBack, "IAM device "+res.Serial+" deactivated")
		case isCode(err, "NoSuchEntity"): // never enabled
		default:
			e.log.Debug("rollback: deactivate", "err", err)
			ee.Left = append(ee.Left, Leftover{What: "IAM MFA device " + res.Serial + " (enabled for " + res.User + ")" + deniedNote(err),
				Kind: LeftEnabledDevice, User: res.User, Serial: res.Serial, Denied: isCode(err, "AccessDenied")})
			return
		}
	}
	_, err := e.iam.DeleteVirtualMFADevice(ctx, &iam.DeleteVirtualMFADeviceInput{SerialNumber: aws.String(res.Serial)})
	switch {
	case err == nil:
		ee.RolledBack = append(ee.RolledBack, "IAM device "+res.Serial+" deleted")
	case isCode(err, "NoSuchEntity"):
	default:
		e.log.Debug("rollback: delete device", "err", err)
		ee.Left = append(ee.Left, Leftover{What: "IAM virtual MFA device " + res.Serial + deniedNote(err),
			Kind: LeftVirtualDevice, Serial: res.Serial, Denied: isCode(err, "AccessDenied")})
	}
}

// deniedNote explains an AccessDenied cleanup: policies modelled on AWS's
// "manage your own MFA device" example allow DeactivateMFADevice and
// DeleteVirtualMFADevice only to callers signed in with MFA.
func deniedNote(err error) string {
	if isCode(err, "AccessDenied") {
		return " (IAM refused the cleanup, likely because the policy requires MFA)"
	}
	return ""
}
