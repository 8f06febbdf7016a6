package enroll

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	awssts "github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/mfabridge/mfabridge/sts"
	"github.com/mfabridge/mfabridge/sts/awsconfig"
	"github.com/mfabridge/mfabridge/sts/awsconfig/configfile"
)

// RotateRequest says which device to replace.
type RotateRequest struct {
	Profile    string // the profile asked for (names the journal)
	ConfigFile string // AWS config file whose mfa_serial lines are switched
	User       string // IAM user; empty: the owner of the keys
	OldSerial  string // the device being replaced (the profile's mfa_serial)
	// OldAccount is the old device's OATH account on this device; empty
	// when it is not on it (nothing to delete there).
	OldAccount string
	DeviceSpec string // names the device in messages and commands
	Touch      bool
	DeviceName string // new virtual device name; empty: USER-YYYYMMDDhhmmss
	Account    string // new OATH account name; empty: as for Enroll
}

// Rotated is a completed rotation.
type Rotated struct {
	Enrolled
	OldSerial string
	Profiles  []string // profiles switched to the new serial
	Resumed   bool     // an interrupted rotation was finished
	Notes     []string // things done differently than planned, for the user
}

// ErrRotationRunning: another process is rotating the same profile.
var ErrRotationRunning = errors.New("another rotation of this profile is running")

// ErrNothingToRotate: the profile has no mfa_serial, so no device is
// enrolled to rotate. It wraps awsconfig.ErrNoMFASerial.
var ErrNothingToRotate = fmt.Errorf("nothing to rotate: %w", awsconfig.ErrNoMFASerial)

// RotateError is a rotation stopped after the new device was enabled: the
// user has a working device and the journal lets `mfabridge rotate` resume.
type RotateError struct {
	Profile   string
	Step      EnrollStep // the step that did not complete
	NewSerial string
	OldSerial string
	Err       error
}

func (e *RotateError) Error() string {
	return fmt.Sprintf("rotate profile %q: stopped at step %s: %v; the new device %s is enabled, the old device %s is not yet removed",
		e.Profile, e.Step, e.Err, e.NewSerial, e.OldSerial)
}

func (e *RotateError) Unwrap() error { return e.Err }

// rotateJournal is the rotation state file: 0600 in the cache directory,
// replaced atomically after every step. It never holds the seed or a code.
type rotateJournal struct {
	Version    int          `json:"version"`
	Profile    string       `json:"profile"`
	ConfigFile string       `json:"config_file"`
	User       string       `json:"user"`
	AccountID  string       `json:"account_id"`
	OldSerial  string       `json:"old_serial"`
	OldAccount string       `json:"old_account,omitempty"`
	DeviceSpec string       `json:"device,omitempty"`
	Touch      bool         `json:"touch,omitempty"`
	NewName    string       `json:"new_name"`
	NewSerial  string       `json:"new_serial,omitempty"`
	NewAccount string       `json:"new_account,omitempty"`
	Profiles   []string     `json:"profiles,omitempty"`
	Done       []EnrollStep `json:"done"`
	Pending    EnrollStep   `json:"pending,omitempty"` // started, not known to be complete
	Started    time.Time    `json:"started"`
}

func (j *rotateJournal) has(s EnrollStep) bool { return slices.Contains(j.Done, s) }

func journalName(profile string) string {
	return "rotate-" + sts.CacheKey(struct{ Profile string }{profile}) + ".json"
}

// parseJournal reads a journal; it never panics on any input.
func parseJournal(b []byte) (*rotateJournal, error) {
	var j rotateJournal
	if err := json.Unmarshal(b, &j); err != nil {
		return nil, fmt.Errorf("parse rotation journal: %w", err)
	}
	if j.Version != sts.CacheVersion || j.Profile == "" || j.OldSerial == "" || j.NewName == "" || j.User == "" || j.AccountID == "" {
		return nil, errors.New("parse rotation journal: incomplete journal")
	}
	for _, s := range append(slices.Clone(j.Done), j.Pending) {
		switch s {
		case "", StepCreate, StepPut, StepEnable, StepConfig, StepVerify, StepDeactivateOld, StepDeleteOld, StepRemoveOldOATH:
		default:
			return nil, fmt.Errorf("parse rotation journal: unknown step %q", clip(string(s), 32))
		}
	}
	return &j, nil
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// JournalPath returns the rotation journal file of a profile in cacheDir
// (it exists only while a rotation is unfinished).
func JournalPath(cacheDir, profile string) string {
	return filepath.Join(cacheDir, journalName(profile))
}

// Rotate replaces the profile's MFA device with a new virtual device on the
// OATH device, in an order that never leaves the user without a working
// device:
//
//  1. create the new IAM device, 2. put its seed on the key under a new
//     account name, 3. enable it (two consecutive codes) — a failure here
//     rolls back steps 1–3, and the old device was never touched;
//  4. switch every profile of ConfigFile whose mfa_serial is the old serial
//     (and its mfabridge_account), 5. verify the new device with a
//     GetSessionToken (its step enters the replay ledger), 6. deactivate the
//     old device, 7. delete it from IAM (virtual devices only), 8. delete the
//     old OATH account.
//
// Each step is recorded in a journal in cacheDir (before: pending; after:
// done). After an interruption, Rotate with the same profile resumes: an
// enrollment cut short before its seed reached the key is deleted and
// started again (the seed exists nowhere else); one whose seed is on the
// key is enabled; later steps are idempotent and simply run again. Errors
// after step 3 are *RotateError (resume by running again); before, an
// *EnrollError after rollback.
func (e *Enroller) Rotate(ctx context.Context, cacheDir string, req RotateRequest) (*Rotated, error) {
	cache, err := sts.OpenCache(cacheDir)
	if err != nil {
		return nil, fmt.Errorf("rotate: %w", err)
	}
	unlock, err := lockRotation(ctx, cache, req)
	if err != nil {
		return nil, err
	}
	defer unlock()
	jname := journalName(req.Profile)
	j, err := readJournal(cache, jname, req)
	if err != nil {
		return nil, err
	}
	res := &Rotated{Resumed: j != nil}
	save := func() error {
		b, err := json.MarshalIndent(j, "", "  ")
		if err != nil {
			return fmt.Errorf("write rotation journal: %w", err)
		}
		return cache.WriteAtomic(jname, b)
	}

	if j == nil {
		if j, err = e.startRotation(ctx, req); err != nil {
			return nil, err
		}
		if err := save(); err != nil {
			return nil, fmt.Errorf("rotate profile %q: %w", req.Profile, err)
		}
	}
	res.OldSerial = j.OldSerial
	res.User, res.AccountID = j.User, j.AccountID

	if !j.has(StepEnable) {
		if err := e.rotateEnroll(ctx, j, save); err != nil {
			var ee *EnrollError
			if errors.As(err, &ee) && !errors.Is(err, ErrInterrupted) {
				// Rolled back: nothing of the new device is left to resume.
				if rerr := os.Remove(cache.Path(jname)); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
					return nil, errors.Join(err, fmt.Errorf("remove rotation journal: %w", rerr))
				}
			}
			return nil, err
		}
	}
	res.Serial, res.Account = j.NewSerial, j.NewAccount

	if res, err = e.replaceOld(ctx, cache, j, res, save); err != nil {
		return nil, err
	}
	res.Profiles = j.Profiles
	if err := os.Remove(cache.Path(jname)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("rotate profile %q: done, but remove the journal: %w", j.Profile, err)
	}
	return res, nil
}

// lockRotation takes the lock of req.Profile's rotation. One rotation per
// profile at a time: a second one fails at once (ErrRotationRunning)
// instead of starting over when the first removes the journal.
func lockRotation(ctx context.Context, cache *sts.Cache, req RotateRequest) (func(), error) {
	lctx, cancel := context.WithCancel(ctx)
	busy := false
	unlock, err := cache.LockSerial(lctx, "rotate:"+req.Profile, func() { busy = true; cancel() })
	cancel()
	if busy {
		return nil, fmt.Errorf("rotate profile %q: %w", req.Profile, ErrRotationRunning)
	}
	if err != nil {
		return nil, fmt.Errorf("rotate profile %q: %w", req.Profile, err)
	}
	return unlock, nil
}

// readJournal reads the journal of an unfinished rotation of req.Profile
// (jname in the cache); nil when there is none.
func readJournal(cache *sts.Cache, jname string, req RotateRequest) (*rotateJournal, error) {
	var j *rotateJournal
	if b, err := cache.ReadTrusted(jname); err == nil {
		if j, err = parseJournal(b); err != nil {
			return nil, fmt.Errorf("rotate profile %q: %w (remove %s to start over)", req.Profile, err, cache.Path(jname))
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("rotate profile %q: %w", req.Profile, err)
	}
	return j, nil
}

// startRotation begins a new rotation: it checks that ConfigFile holds the
// old serial, pins the old account in the profiles that use it, finds the
// IAM user and names the new device. It returns the new journal, not yet
// saved.
func (e *Enroller) startRotation(ctx context.Context, req RotateRequest) (*rotateJournal, error) {
	if req.OldSerial == "" {
		return nil, &awsconfig.ProfileError{Profile: req.Profile, Err: ErrNothingToRotate}
	}
	data, err := os.ReadFile(req.ConfigFile)
	if err != nil {
		return nil, fmt.Errorf("rotate profile %q: %w", req.Profile, err)
	}
	if _, changed, _ := awsconfig.ReplaceMFASerial(data, req.OldSerial, req.OldSerial, ""); len(changed) == 0 {
		return nil, fmt.Errorf("rotate profile %q: no profile in %s has mfa_serial = %s; rotate edits that file, so move mfa_serial there first", req.Profile, req.ConfigFile, req.OldSerial)
	}
	// Pin the old account first: the new account's name also holds the
	// user and account words that profiles without mfabridge_account
	// match on, and they must keep working until they are switched.
	if req.OldAccount != "" {
		out, _, err := awsconfig.ReplaceMFASerial(data, req.OldSerial, req.OldSerial, req.OldAccount)
		if err != nil {
			return nil, fmt.Errorf("rotate profile %q: %w", req.Profile, err)
		}
		if string(out) != string(data) {
			if err := configfile.Write(req.ConfigFile, out); err != nil {
				return nil, fmt.Errorf("rotate profile %q: pin mfabridge_account: %w", req.Profile, err)
			}
		}
	}
	user, acctID, err := e.caller(ctx, req.User)
	if err != nil {
		return nil, fmt.Errorf("rotate profile %q: %w", req.Profile, err)
	}
	name := req.DeviceName
	if name == "" {
		name = user + "-" + e.now().UTC().Format("20060102-150405")
	}
	j := &rotateJournal{Version: sts.CacheVersion, Profile: req.Profile, ConfigFile: req.ConfigFile, User: user, AccountID: acctID,
		OldSerial: req.OldSerial, OldAccount: req.OldAccount, DeviceSpec: req.DeviceSpec, Touch: req.Touch,
		NewName: name, NewAccount: req.Account, Done: []EnrollStep{}, Started: e.now().UTC()}
	return j, nil
}

// replaceOld runs steps 4–8 of a rotation whose new device is enabled:
// switch the config, verify the new device, deactivate and delete the old
// one, remove its OATH account. Each step is recorded in the journal before
// and after; a failure is a *RotateError.
func (e *Enroller) replaceOld(ctx context.Context, cache *sts.Cache, j *rotateJournal, res *Rotated, save func() error) (*Rotated, error) {
	stop := func(s EnrollStep, err error) (*Rotated, error) {
		return nil, &RotateError{Profile: j.Profile, Step: s, NewSerial: j.NewSerial, OldSerial: j.OldSerial, Err: err}
	}
	// Removing the old device uses the MFA session from the verification:
	// the usual "manage your own MFA" policies (AWS's example among them)
	// deny DeactivateMFADevice to callers without MFA. A resumed rotation
	// without that session tries the long-term keys first and, if IAM
	// refuses, gets a new MFA session with the new device and tries again.
	var mfa *aws.Credentials
	withMFA := func(call func(o ...func(*iam.Options)) error) error {
		opts := func() []func(*iam.Options) {
			if mfa == nil {
				return nil
			}
			c := *mfa
			return []func(*iam.Options){func(o *iam.Options) {
				o.Credentials = credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, c.SessionToken)
			}}
		}
		err := call(opts()...)
		if mfa == nil && isCode(err, "AccessDenied") {
			var verr error
			if mfa, verr = e.verify(ctx, cache, j); verr != nil {
				return errors.Join(err, verr)
			}
			err = call(opts()...)
		}
		return err
	}
	for _, st := range []EnrollStep{StepConfig, StepVerify, StepDeactivateOld, StepDeleteOld, StepRemoveOldOATH} {
		if j.has(st) {
			continue
		}
		j.Pending = st
		if err := save(); err != nil {
			return stop(st, err)
		}
		var err error
		switch st {
		case StepConfig:
			err = e.switchConfig(j)
		case StepVerify:
			mfa, err = e.verify(ctx, cache, j)
		case StepDeactivateOld:
			err = e.deactivateOld(ctx, j, withMFA)
		case StepDeleteOld:
			err = e.deleteOld(ctx, j, res, withMFA)
		case StepRemoveOldOATH:
			err = e.removeOldOATH(ctx, j, res)
		}
		if err != nil {
			return stop(st, err)
		}
		j.Done = append(j.Done, st)
		j.Pending = ""
		if err := save(); err != nil {
			return stop(st, err)
		}
		if err := e.step(st); err != nil {
			return stop(st, err)
		}
	}
	return res, nil
}

// withMFAFunc makes an IAM call with the MFA session of a rotation (see
// replaceOld).
type withMFAFunc func(call func(o ...func(*iam.Options)) error) error

// deactivateOld deactivates the old device (step 6); one already
// deactivated is fine.
func (e *Enroller) deactivateOld(ctx context.Context, j *rotateJournal, withMFA withMFAFunc) error {
	err := withMFA(func(o ...func(*iam.Options)) error {
		_, err := e.iam.DeactivateMFADevice(ctx, &iam.DeactivateMFADeviceInput{UserName: aws.String(j.User), SerialNumber: aws.String(j.OldSerial)}, o...)
		return err
	})
	if isCode(err, "NoSuchEntity") {
		err = nil // already deactivated (an earlier run, or by hand)
	}
	if err != nil {
		err = fmt.Errorf("deactivate %s: %w", j.OldSerial, iamErr(err))
	}
	return err
}

// deleteOld deletes the old virtual device from IAM (step 7); a hardware
// device is only noted, one already deleted is fine.
func (e *Enroller) deleteOld(ctx context.Context, j *rotateJournal, res *Rotated, withMFA withMFAFunc) error {
	if !strings.HasPrefix(j.OldSerial, "arn:") {
		res.Notes = append(res.Notes, "the old device "+j.OldSerial+" is a hardware device: deactivated, not deleted")
		return nil
	}
	err := withMFA(func(o ...func(*iam.Options)) error {
		_, err := e.iam.DeleteVirtualMFADevice(ctx, &iam.DeleteVirtualMFADeviceInput{SerialNumber: aws.String(j.OldSerial)}, o...)
		return err
	})
	if isCode(err, "NoSuchEntity") {
		err = nil
	}
	if err != nil {
		err = fmt.Errorf("delete %s: %w", j.OldSerial, iamErr(err))
	}
	return err
}

// removeOldOATH deletes the old device's OATH account from the key (step
// 8); none known is only noted, one already gone is fine.
func (e *Enroller) removeOldOATH(ctx context.Context, j *rotateJournal, res *Rotated) error {
	if j.OldAccount == "" {
		res.Notes = append(res.Notes, "no OATH account of the old device was found on this device; nothing removed there")
		return nil
	}
	err := e.store.Delete(ctx, j.OldAccount)
	if errors.Is(err, ErrNoOATHAccount) {
		err = nil
	}
	if err != nil {
		err = fmt.Errorf("delete the old OATH account %q: %w", j.OldAccount, err)
	}
	return err
}

// rotateEnroll runs (or resumes) the enrollment part of a rotation.
func (e *Enroller) rotateEnroll(ctx context.Context, j *rotateJournal, save func() error) error {
	req := EnrollRequest{DeviceName: j.NewName, Account: j.NewAccount, Touch: j.Touch, DeviceSpec: j.DeviceSpec}
	serial := j.NewSerial
	if serial == "" {
		serial = "arn:aws:iam::" + j.AccountID + ":mfa/" + j.NewName
	}
	res := &Enrolled{Serial: serial, User: j.User, AccountID: j.AccountID, Account: j.NewAccount}
	if res.Account == "" {
		res.Account = "AWS:" + j.NewName + "@" + j.AccountID
	}

	if j.has(StepPut) {
		// The seed is on the key: enable it (unless an earlier run did).
		j.Pending = StepEnable
		if err := save(); err != nil {
			return err
		}
		if !e.isEnabled(ctx, j.User, serial) {
			if err := e.enable(ctx, res); err != nil {
				ee := &EnrollError{Step: StepEnable, Err: err}
				e.rollback(ctx, ee, res, j.DeviceSpec, true, true, true)
				return ee
			}
		}
		j.Done = append(j.Done, StepEnable)
		j.Pending = ""
		if err := save(); err != nil {
			return err
		}
		return e.step(StepEnable)
	}

	if j.Pending != "" || j.has(StepCreate) {
		// Cut short before the seed was safely on the key: the seed is
		// lost, so remove what may exist and start again.
		ee := &EnrollError{Step: j.Pending}
		e.rollback(ctx, ee, res, j.DeviceSpec, true, j.Pending == StepPut, true)
		if len(ee.Left) > 0 {
			ee.Err = errors.New("could not clean up an interrupted enrollment")
			return ee
		}
		j.Done, j.Pending, j.NewSerial = []EnrollStep{}, "", ""
		if err := save(); err != nil {
			return err
		}
	}
	journal := func(s EnrollStep, r *Enrolled, done bool) error {
		j.NewSerial, j.NewAccount = r.Serial, r.Account
		if done {
			j.Done = append(j.Done, s)
			j.Pending = ""
		} else {
			j.Pending = s
		}
		return save()
	}
	_, _, err := e.enroll(ctx, req, j.User, j.AccountID, journal)
	return err
}

// isEnabled reports whether serial is listed as enabled for user.
func (e *Enroller) isEnabled(ctx context.Context, user, serial string) bool {
	out, err := e.iam.ListMFADevices(ctx, &iam.ListMFADevicesInput{UserName: aws.String(user)})
	if err != nil {
		return false
	}
	for _, d := range out.MFADevices {
		if aws.ToString(d.SerialNumber) == serial {
			return true
		}
	}
	return false
}

// switchConfig points every profile using the old serial at the new one.
func (e *Enroller) switchConfig(j *rotateJournal) error {
	data, err := os.ReadFile(j.ConfigFile)
	if err != nil {
		return fmt.Errorf("switch profiles: %w", err)
	}
	out, changed, err := awsconfig.ReplaceMFASerial(data, j.OldSerial, j.NewSerial, j.NewAccount)
	if err != nil {
		return fmt.Errorf("switch profiles: %w", err)
	}
	if len(changed) == 0 {
		if strings.Contains(string(data), j.NewSerial) {
			return nil // switched by an earlier run
		}
		return fmt.Errorf("switch profiles: no profile in %s has mfa_serial = %s any more", j.ConfigFile, j.OldSerial)
	}
	if err := configfile.Write(j.ConfigFile, out); err != nil {
		return fmt.Errorf("switch profiles: %w", err)
	}
	j.Profiles = changed
	return nil
}

// verify proves the new device works with a GetSessionToken (900 s) and
// returns the MFA session's credentials, kept in memory only. Its code is
// chosen as the Provider's (freshStepCode): the step enters the replay
// ledger before the code is sent; if the code is refused (AWS may count the
// enabling codes as spent, and IAM changes take a moment to reach STS) it
// waits for the next step once.
func (e *Enroller) verify(ctx context.Context, cache *sts.Cache, j *rotateJournal) (*aws.Credentials, error) {
	if e.ident == nil {
		return nil, errors.New("verify the new device: no STS client")
	}
	unlock, err := cache.LockSerial(ctx, j.NewSerial, nil)
	if err != nil {
		return nil, fmt.Errorf("verify the new device: %w", err)
	}
	defer unlock()
	notify := func(format string, args ...any) {
		e.log.Debug("verify the new device: " + fmt.Sprintf(format, args...))
	}
	compute := func(ctx context.Context, at time.Time) (string, error) {
		code, err := e.store.Code(ctx, j.NewAccount, at)
		if err != nil {
			return "", fmt.Errorf("compute code for %s: %w", j.NewSerial, err)
		}
		return code, nil
	}
	for attempt := 0; ; attempt++ {
		code, _, _, err := cache.FreshStepCode(ctx, j.NewSerial, e.now, e.sleep, notify, compute)
		if err != nil {
			return nil, fmt.Errorf("verify the new device: %w", err)
		}
		out, err := e.ident.GetSessionToken(ctx, &awssts.GetSessionTokenInput{DurationSeconds: aws.Int32(900),
			SerialNumber: aws.String(j.NewSerial), TokenCode: aws.String(code)})
		if err == nil {
			c, err := sts.FromSDK(out.Credentials)
			if err != nil {
				return nil, fmt.Errorf("verify the new device %s: GetSessionToken: %w", j.NewSerial, err)
			}
			return &aws.Credentials{AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey,
				SessionToken: c.SessionToken}, nil
		}
		if attempt == 0 && isCode(err, "AccessDenied") {
			continue // next step, once
		}
		return nil, fmt.Errorf("verify the new device %s with GetSessionToken: %w", j.NewSerial, iamErr(err))
	}
}
