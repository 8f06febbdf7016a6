package enroll

import (
	"bytes"
	"context"
	"encoding/base32"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	awssts "github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/mfabridge/mfabridge/device"
	"github.com/mfabridge/mfabridge/simulator/stsemu"
	"github.com/mfabridge/mfabridge/sts"
	"github.com/mfabridge/mfabridge/sts/awsconfig"
	"github.com/mfabridge/mfabridge/sts/awsconfig/configfile"
)

// memStore is an in-memory OATHStore computing codes in software. It
// remembers every secret it was given, so tests can look for leaks.
type memStore struct {
	mu        sync.Mutex
	keys      map[string][]byte
	touch     map[string]bool
	seeds     []string // base32 of every secret put
	failPut   error
	failDel   error
	failCode  error
	codeCalls int
}

func newMemStore() *memStore {
	return &memStore{keys: map[string][]byte{}, touch: map[string]bool{}}
}

func (m *memStore) Accounts(context.Context) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for k := range m.keys {
		out = append(out, k)
	}
	sort.Strings(out)
	return out, nil
}

func (m *memStore) Put(_ context.Context, account string, secret []byte, touch bool) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.failPut != nil {
		return m.failPut
	}
	m.keys[account] = bytes.Clone(secret)
	m.touch[account] = touch
	m.seeds = append(m.seeds, base32.StdEncoding.EncodeToString(secret))
	return nil
}

func (m *memStore) Delete(_ context.Context, account string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.failDel != nil {
		return m.failDel
	}
	if _, ok := m.keys[account]; !ok {
		return fmt.Errorf("delete %q: %w", account, ErrNoOATHAccount)
	}
	delete(m.keys, account)
	return nil
}

func (m *memStore) Code(_ context.Context, account string, at time.Time) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.codeCalls++
	if m.failCode != nil {
		return "", m.failCode
	}
	k, ok := m.keys[account]
	if !ok {
		return "", fmt.Errorf("code %q: %w", account, ErrNoOATHAccount)
	}
	return totp.GenerateCodeCustom(base32.StdEncoding.EncodeToString(k), at, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix})
}

// tokens is the Provider's TokenFunc for profile p on the store: its
// mfabridge_account, else the account device.MatchAccount picks, as the
// CLI's device.Token does.
func (m *memStore) tokens(p *awsconfig.Profile) sts.TokenFunc {
	return func(ctx context.Context, at time.Time) (string, error) {
		acct := p.Account
		if acct == "" {
			names, err := m.Accounts(ctx)
			if err != nil {
				return "", err
			}
			if acct, _, err = device.MatchAccount(p.MFASerial, names); err != nil {
				return "", err
			}
		}
		return m.Code(ctx, acct, at)
	}
}

// failingIAM wraps an IAMAPI and refuses chosen calls with a transport-like error.
type failingIAM struct {
	IAMAPI
	fail  map[string]bool
	calls []string
	seeds []string // base32 seeds IAM handed out
}

var errNetwork = errors.New("connection reset by peer")

func (f *failingIAM) note(name string) error {
	f.calls = append(f.calls, name)
	if f.fail[name] {
		return errNetwork
	}
	return nil
}

func (f *failingIAM) CreateVirtualMFADevice(ctx context.Context, in *iam.CreateVirtualMFADeviceInput, o ...func(*iam.Options)) (*iam.CreateVirtualMFADeviceOutput, error) {
	if err := f.note("create"); err != nil {
		return nil, err
	}
	out, err := f.IAMAPI.CreateVirtualMFADevice(ctx, in, o...)
	if err == nil && out.VirtualMFADevice != nil {
		f.seeds = append(f.seeds, string(out.VirtualMFADevice.Base32StringSeed))
	}
	return out, err
}

func (f *failingIAM) EnableMFADevice(ctx context.Context, in *iam.EnableMFADeviceInput, o ...func(*iam.Options)) (*iam.EnableMFADeviceOutput, error) {
	if err := f.note("enable"); err != nil {
		return nil, err
	}
	return f.IAMAPI.EnableMFADevice(ctx, in, o...)
}

func (f *failingIAM) DeactivateMFADevice(ctx context.Context, in *iam.DeactivateMFADeviceInput, o ...func(*iam.Options)) (*iam.DeactivateMFADeviceOutput, error) {
	if err := f.note("deactivate"); err != nil {
		return nil, err
	}
	return f.IAMAPI.DeactivateMFADevice(ctx, in, o...)
}

func (f *failingIAM) DeleteVirtualMFADevice(ctx context.Context, in *iam.DeleteVirtualMFADeviceInput, o ...func(*iam.Options)) (*iam.DeleteVirtualMFADeviceOutput, error) {
	if err := f.note("delete"); err != nil {
		return nil, err
	}
	return f.IAMAPI.DeleteVirtualMFADevice(ctx, in, o...)
}

const iamProfiles = `# team settings
[profile alice]
region = us-east-1
mfa_serial = arn:aws:iam::111111111111:mfa/alice   
mfabridge_account = AWS:alice@111111111111

[profile prod]
role_arn = arn:aws:iam::222222222222:role/PrivilegedActionsRole
source_profile = alice
; keep this comment

[profile other]
region = eu-west-1
`

const iamCreds = `
[alice]
aws_access_key_id = AKIAALICE00000000001
aws_secret_access_key = alice-secret-access-key-0000000000000000
`

// iamWorld is an emulator with IAM for alice (simulator/stsemu/testdata).
type iamWorld struct {
	t          *testing.T
	clock      *fakeClock
	log        *lockedBuf
	slogBuf    *lockedBuf
	url        string
	dir        string // cache dir
	configFile string
	store      *memStore
	iam        *failingIAM
	ident      *awssts.Client
}

func newIAMWorld(t *testing.T) *iamWorld {
	t.Helper()
	return newIAMWorldConfig(t, "iam_self_mfa.json")
}

func newIAMWorldConfig(t *testing.T, name string) *iamWorld {
	t.Helper()
	cfg, err := stsemu.LoadConfig("../../simulator/stsemu/testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	w := &iamWorld{t: t, clock: newFakeClock(t0), log: &lockedBuf{}, slogBuf: &lockedBuf{}, dir: filepath.Join(t.TempDir(), "cache"), store: newMemStore()}
	srv, err := stsemu.New(cfg, stsemu.WithClock(w.clock.Now), stsemu.WithLog(w.log))
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	w.url = ts.URL
	w.configFile = filepath.Join(t.TempDir(), "config")
	if err := os.WriteFile(w.configFile, []byte(iamProfiles), 0o640); err != nil {
		t.Fatal(err)
	}
	// The old device's seed is on the key already.
	old, _ := base32.StdEncoding.DecodeString("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")
	w.store.keys["AWS:alice@111111111111"] = old
	p := w.profile("alice")
	ic, err := NewIAMClient(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	w.iam = &failingIAM{IAMAPI: ic, fail: map[string]bool{}}
	if w.ident, err = NewIdentityClient(p, nil); err != nil {
		t.Fatal(err)
	}
	return w
}

func (w *iamWorld) config() *awsconfig.Config {
	w.t.Helper()
	b, err := os.ReadFile(w.configFile)
	if err != nil {
		w.t.Fatal(err)
	}
	return mustConfig(w.t, string(b), iamCreds, map[string]string{"AWS_ENDPOINT_URL": w.url})
}

func (w *iamWorld) profile(name string) *awsconfig.Profile {
	w.t.Helper()
	p, err := w.config().ResolveSource(name)
	if err != nil {
		w.t.Fatal(err)
	}
	return p
}

func (w *iamWorld) enroller(hook func(EnrollStep) error) *Enroller {
	return NewEnroller(w.iam, w.ident, w.store, WithClock(w.clock.Now), WithStepHook(hook), WithSleep(w.clock.Sleep),
		WithLogger(slog.New(slog.NewTextHandler(w.slogBuf, &slog.HandlerOptions{Level: slog.LevelDebug}))))
}

// enabled lists alice's enabled devices.
func (w *iamWorld) enabled() []string {
	w.t.Helper()
	out, err := w.iam.IAMAPI.ListMFADevices(context.Background(), &iam.ListMFADevicesInput{})
	if err != nil {
		w.t.Fatal(err)
	}
	var s []string
	for _, d := range out.MFADevices {
		s = append(s, aws.ToString(d.SerialNumber))
	}
	return s
}

// exists reports whether a virtual device exists in IAM (enabled or not).
func (w *iamWorld) exists(serial string) bool {
	w.t.Helper()
	_, err := w.iam.IAMAPI.DeleteVirtualMFADevice(context.Background(), &iam.DeleteVirtualMFADeviceInput{SerialNumber: aws.String(serial)})
	if isCode(err, "AccessDenied") {
		// A policy that needs MFA to delete: creating the same name tells.
		name := serial[strings.LastIndexByte(serial, '/')+1:]
		_, err := w.iam.IAMAPI.CreateVirtualMFADevice(context.Background(), &iam.CreateVirtualMFADeviceInput{VirtualMFADeviceName: aws.String(name)})
		if err != nil && !isCode(err, "EntityAlreadyExists") {
			w.t.Fatal(err)
		}
		return err != nil
	}
	return !isCode(err, "NoSuchEntity")
}

// assume gets credentials for a profile through the Provider (the role in
// account 222222222222 needs MFA) and reports the error.
func (w *iamWorld) assume(profile string) error {
	w.t.Helper()
	b, _ := os.ReadFile(w.configFile)
	cfg := mustConfig(w.t, string(b), iamCreds, map[string]string{"AWS_ENDPOINT_URL": w.url})
	p, err := cfg.Resolve(profile)
	if err != nil {
		return err
	}
	pr, err := sts.NewProvider(p, w.store.tokens(p), w.dir, sts.WithClock(w.clock.Now), sts.WithSleep(w.clock.Sleep))
	if err != nil {
		return err
	}
	_, err = pr.Credentials(context.Background())
	return err
}

// noSeedLeak checks the cache dir, the config file, the emulator log, the
// debug log and extra texts for every seed the store received.
func (w *iamWorld) noSeedLeak(extra ...string) {
	w.t.Helper()
	texts := map[string]string{"emulator log": w.log.String(), "debug log": w.slogBuf.String()}
	for i, s := range extra {
		texts[fmt.Sprintf("output %d", i)] = s
	}
	if b, err := os.ReadFile(w.configFile); err == nil {
		texts["config"] = string(b)
	}
	_ = filepath.WalkDir(w.dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := os.ReadFile(path)
			texts[path] = string(b)
		}
		return nil
	})
	seeds := append(slices.Clone(w.store.seeds), w.iam.seeds...)
	if len(w.iam.seeds) == 0 {
		w.t.Fatal("no seed was created; the leak check would prove nothing")
	}
	for _, seed := range seeds {
		forms := []string{seed, strings.TrimRight(seed, "="), strings.ToLower(strings.TrimRight(seed, "=")), base64.StdEncoding.EncodeToString([]byte(seed))}
		for name, text := range texts {
			for _, f := range forms {
				if strings.Contains(text, f) {
					w.t.Errorf("%s contains the seed", name)
				}
			}
		}
	}
}

func (l *lockedBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestEnrollThenAssumeRole(t *testing.T) {
	w := newIAMWorld(t)
	res, err := w.enroller(nil).Enroll(context.Background(), EnrollRequest{DeviceName: "alice-yk", Touch: true})
	if err != nil {
		t.Fatal(err)
	}
	want := Enrolled{Serial: "arn:aws:iam::111111111111:mfa/alice-yk", User: "alice", AccountID: "111111111111", Account: "AWS:alice-yk@111111111111"}
	if *res != want {
		t.Fatalf("enrolled %+v, want %+v", *res, want)
	}
	if !w.store.touch[res.Account] {
		t.Error("touch not requested on PUT")
	}
	if got := w.enabled(); !slices.Contains(got, res.Serial) {
		t.Fatalf("enabled devices %v lack %s", got, res.Serial)
	}
	// The default account name is found from the serial (by the device
	// package, which the CLI hands the provider's code function).
	acct, _, err := device.MatchAccount(res.Serial, []string{"AWS:alice@111111111111", res.Account})
	if err != nil || acct != res.Account {
		t.Errorf("device.MatchAccount = %q, %v", acct, err)
	}
	// Point prod at the new device (as --write-config does) and assume the role with it.
	b, _ := os.ReadFile(w.configFile)
	out, err := awsconfig.SetProfileKeys(b, "prod", []awsconfig.Setting{{Key: "mfa_serial", Value: res.Serial}, {Key: "mfabridge_account", Value: res.Account}})
	if err != nil {
		t.Fatal(err)
	}
	if err := configfile.Write(w.configFile, out); err != nil {
		t.Fatal(err)
	}
	if err := w.assume("prod"); err != nil {
		t.Fatalf("assume the MFA role with the enrolled device: %v", err)
	}
	w.noSeedLeak()
}

func TestEnrollErrors(t *testing.T) {
	t.Run("account already on the device", func(t *testing.T) {
		w := newIAMWorld(t)
		_, err := w.enroller(nil).Enroll(context.Background(), EnrollRequest{Account: "AWS:alice@111111111111"})
		if !errors.Is(err, ErrAccountExists) {
			t.Fatalf("err = %v, want ErrAccountExists", err)
		}
		if len(w.iam.calls) != 0 {
			t.Errorf("IAM calls made: %v", w.iam.calls)
		}
	})
	t.Run("name taken in IAM", func(t *testing.T) {
		w := newIAMWorld(t)
		_, err := w.enroller(nil).Enroll(context.Background(), EnrollRequest{DeviceName: "alice", Account: "AWS:new"}) // device name "alice" exists
		var ee *EnrollError
		if !errors.As(err, &ee) || ee.Step != StepCreate || !errors.Is(err, ErrIAM) || !strings.Contains(err.Error(), "EntityAlreadyExists") {
			t.Fatalf("err = %v", err)
		}
		var taken *DeviceNameTakenError
		if !errors.As(err, &taken) || taken.Name != "alice" || taken.AccountID != "111111111111" || taken.Defaulted {
			t.Fatalf("err = %v, want a *DeviceNameTakenError for alice in 111111111111, not defaulted", err)
		}
		if !strings.Contains(err.Error(), `an IAM MFA device named "alice" already exists in account 111111111111`) {
			t.Errorf("err = %v", err)
		}
		if len(ee.RolledBack) != 0 || len(ee.Left) != 0 {
			t.Errorf("nothing to undo, got %+v", ee)
		}
	})
	// Issue 13 case 18: the default name is not the user name, which most
	// users' existing device has; a collision of the default says so.
	t.Run("default name beside the user's device", func(t *testing.T) {
		w := newIAMWorld(t)
		res, err := w.enroller(nil).Enroll(context.Background(), EnrollRequest{NameSuffix: "yk12345678"}) // "alice" exists
		if err != nil {
			t.Fatal(err)
		}
		if res.Serial != "arn:aws:iam::111111111111:mfa/alice-yk12345678" || res.Account != "AWS:alice-yk12345678@111111111111" {
			t.Errorf("enrolled %+v", res)
		}
		_, err = w.enroller(nil).Enroll(context.Background(), EnrollRequest{NameSuffix: "yk12345678", Account: "AWS:again"})
		var taken *DeviceNameTakenError
		if !errors.As(err, &taken) || taken.Name != "alice-yk12345678" || !taken.Defaulted {
			t.Fatalf("second enrollment: err = %v, want a defaulted *DeviceNameTakenError", err)
		}
	})
	t.Run("put fails", func(t *testing.T) {
		w := newIAMWorld(t)
		w.store.failPut = errors.New("the key is full")
		_, err := w.enroller(nil).Enroll(context.Background(), EnrollRequest{DeviceName: "alice-2"})
		var ee *EnrollError
		if !errors.As(err, &ee) || ee.Step != StepPut || len(ee.Left) != 0 {
			t.Fatalf("err = %v", err)
		}
		if w.exists("arn:aws:iam::111111111111:mfa/alice-2") {
			t.Error("IAM device not rolled back")
		}
	})
	t.Run("codes refused", func(t *testing.T) {
		w := newIAMWorld(t)
		enr := NewEnroller(w.iam, w.ident, w.store, WithClock(func() time.Time { return w.clock.Now().Add(-5 * time.Minute) }))
		_, err := enr.Enroll(context.Background(), EnrollRequest{DeviceName: "alice-2"})
		var ee *EnrollError
		if !errors.As(err, &ee) || ee.Step != StepEnable || !strings.Contains(err.Error(), "InvalidAuthenticationCode") {
			t.Fatalf("err = %v", err)
		}
		if w.exists("arn:aws:iam::111111111111:mfa/alice-2") || len(w.store.keys) != 1 {
			t.Errorf("not rolled back: accounts %v", w.store.keys)
		}
	})
	t.Run("keys not an IAM user", func(t *testing.T) {
		p := &awsconfig.Profile{Source: awsconfig.Source{Profile: "x", CredentialProcess: "vault"}}
		if _, err := NewIAMClient(p, nil); !errors.Is(err, ErrNeedLongTermKeys) {
			t.Fatalf("err = %v", err)
		}
	})
}

// TestEnrollInterrupted stops an enrollment after each step and checks the
// rollback leaves nothing behind, or names what is left with a command.
func TestEnrollInterrupted(t *testing.T) {
	const serial = "arn:aws:iam::111111111111:mfa/alice-2"
	for _, stop := range []EnrollStep{StepCreate, StepPut, StepEnable} {
		t.Run(string(stop), func(t *testing.T) {
			w := newIAMWorld(t)
			_, err := w.enroller(func(s EnrollStep) error {
				if s == stop {
					return ErrInterrupted
				}
				return nil
			}).Enroll(context.Background(), EnrollRequest{DeviceName: "alice-2", DeviceSpec: "sim:/tmp/key.json"})
			var ee *EnrollError
			if !errors.As(err, &ee) || ee.Step != stop || !errors.Is(err, ErrInterrupted) {
				t.Fatalf("err = %v", err)
			}
			if len(ee.Left) != 0 {
				t.Fatalf("left: %+v", ee.Left)
			}
			if w.exists(serial) || slices.Contains(w.enabled(), serial) {
				t.Error("IAM device left behind")
			}
			if _, ok := w.store.keys["AWS:alice-2@111111111111"]; ok {
				t.Error("OATH account left behind")
			}
			if _, ok := w.store.keys["AWS:alice@111111111111"]; !ok {
				t.Error("the existing account was touched")
			}
			w.noSeedLeak(err.Error())
		})
	}
	// Rollback itself fails: the error names what is left and how to finish.
	t.Run("rollback fails", func(t *testing.T) {
		w := newIAMWorld(t)
		w.iam.fail["deactivate"] = true
		_, err := w.enroller(func(s EnrollStep) error {
			if s == StepEnable {
				w.store.failDel = errors.New("key removed")
				return ErrInterrupted
			}
			return nil
		}).Enroll(context.Background(), EnrollRequest{DeviceName: "alice-2", DeviceSpec: "sim:/tmp/key.json"})
		var ee *EnrollError
		if !errors.As(err, &ee) || len(ee.Left) != 2 {
			t.Fatalf("err = %v", err)
		}
		msg := err.Error()
		want := []Leftover{
			{What: `OATH account "AWS:alice-2@111111111111" on the device`, Kind: LeftOATHAccount, Spec: "sim:/tmp/key.json", Account: "AWS:alice-2@111111111111"},
			{What: "IAM MFA device " + serial + " (enabled for alice)", Kind: LeftEnabledDevice, User: "alice", Serial: serial},
		}
		if !slices.Equal(ee.Left, want) {
			t.Errorf("left %+v, want %+v", ee.Left, want)
		}
		for _, l := range want {
			if !strings.Contains(msg, "left: "+l.What) {
				t.Errorf("error lacks %q:\n%s", l.What, msg)
			}
		}
		if !slices.Contains(w.enabled(), serial) {
			t.Error("the test meant the device to stay enabled")
		}
		w.noSeedLeak(msg)
	})
}

func TestRotate(t *testing.T) {
	w := newIAMWorld(t)
	const old = "arn:aws:iam::111111111111:mfa/alice"
	if err := w.assume("prod"); err != nil {
		t.Fatalf("old device before rotation: %v", err)
	}
	w.clock.Advance(30 * time.Second)
	res, err := w.enroller(nil).Rotate(context.Background(), w.dir, RotateRequest{Profile: "prod", ConfigFile: w.configFile,
		OldSerial: old, OldAccount: "AWS:alice@111111111111", DeviceName: "alice-2"})
	if err != nil {
		t.Fatal(err)
	}
	checkRotated(t, w, res.Serial, res.Account)
	if !slices.Equal(res.Profiles, []string{"alice"}) {
		t.Errorf("profiles switched = %v", res.Profiles)
	}
	w.noSeedLeak()
}

// checkRotated: only the new device is enabled and on the key, the config
// points at it, the old one no longer works, the new one does.
func checkRotated(t *testing.T, w *iamWorld, serial, account string) {
	t.Helper()
	const old = "arn:aws:iam::111111111111:mfa/alice"
	if got := w.enabled(); !slices.Equal(got, []string{serial}) {
		t.Errorf("enabled devices = %v, want only %s", got, serial)
	}
	if w.exists(old) {
		t.Error("old device still exists in IAM")
	}
	names, _ := w.store.Accounts(context.Background())
	if !slices.Equal(names, []string{account}) {
		t.Errorf("OATH accounts = %v, want only %s", names, account)
	}
	p := w.profile("prod")
	if p.MFASerial != serial || p.Account != account {
		t.Errorf("profile prod: serial %s account %s", p.MFASerial, p.Account)
	}
	b, _ := os.ReadFile(w.configFile)
	wantText := strings.Replace(strings.Replace(iamProfiles, old+"   ", serial+"   ", 1), "= AWS:alice@111111111111", "= "+account, 1)
	if string(b) != wantText {
		t.Errorf("config:\n%s\nwant:\n%s", b, wantText)
	}
	if fi, _ := os.Stat(w.configFile); fi.Mode().Perm() != 0o640 {
		t.Errorf("config mode %v", fi.Mode())
	}
	if _, err := os.Stat(JournalPath(w.dir, "prod")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("journal left: %v", err)
	}
	w.clock.Advance(31 * time.Second)
	if err := w.assume("prod"); err != nil {
		t.Errorf("new device: %v", err)
	}
	// The old device: its code is refused.
	w.clock.Advance(31 * time.Second)
	code, _ := totp.GenerateCode("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP", w.clock.Now())
	_, err := w.ident.GetSessionToken(context.Background(), &awssts.GetSessionTokenInput{SerialNumber: aws.String(old), TokenCode: aws.String(code)})
	if !isCode(err, "AccessDenied") {
		t.Errorf("old device after rotation: %v, want AccessDenied", err)
	}
}

// TestRotateInterrupted stops a rotation after every step: the profile's
// device always works at that point, and running rotate again finishes.
func TestRotateInterrupted(t *testing.T) {
	for _, stop := range []EnrollStep{StepCreate, StepPut, StepEnable, StepConfig, StepVerify, StepDeactivateOld, StepDeleteOld, StepRemoveOldOATH} {
		t.Run(string(stop), func(t *testing.T) {
			w := newIAMWorld(t)
			req := RotateRequest{Profile: "prod", ConfigFile: w.configFile, OldSerial: "arn:aws:iam::111111111111:mfa/alice",
				OldAccount: "AWS:alice@111111111111", DeviceName: "alice-2", DeviceSpec: "sim:/k"}
			_, err := w.enroller(func(s EnrollStep) error {
				if s == stop {
					return ErrInterrupted
				}
				return nil
			}).Rotate(context.Background(), w.dir, req)
			if !errors.Is(err, ErrInterrupted) {
				t.Fatalf("err = %v", err)
			}
			if _, err := os.Stat(JournalPath(w.dir, "prod")); err != nil {
				t.Fatalf("no journal after interruption: %v", err)
			}
			// Invariant: the profile's device is enabled and on the key.
			p := w.profile("prod")
			if !slices.Contains(w.enabled(), p.MFASerial) {
				t.Errorf("profile's serial %s not enabled (enabled: %v)", p.MFASerial, w.enabled())
			}
			acct := p.Account
			if _, ok := w.store.keys[acct]; !ok {
				t.Errorf("profile's account %q not on the key", acct)
			}
			w.clock.Advance(30 * time.Second)
			// The request names a different serial after the switch; the journal wins.
			req.OldSerial = p.MFASerial
			res, err := w.enroller(nil).Rotate(context.Background(), w.dir, req)
			if err != nil {
				t.Fatalf("resume: %v", err)
			}
			if !res.Resumed {
				t.Error("not reported as resumed")
			}
			checkRotated(t, w, res.Serial, res.Account)
			w.noSeedLeak()
		})
	}
}

// A rotation failing after the new device is enabled keeps the journal and
// says how to finish.
func TestRotateStoppedAfterEnable(t *testing.T) {
	w := newIAMWorld(t)
	w.iam.fail["deactivate"] = true
	req := RotateRequest{Profile: "prod", ConfigFile: w.configFile, OldSerial: "arn:aws:iam::111111111111:mfa/alice",
		OldAccount: "AWS:alice@111111111111", DeviceName: "alice-2"}
	_, err := w.enroller(nil).Rotate(context.Background(), w.dir, req)
	var re *RotateError
	if !errors.As(err, &re) || re.Step != StepDeactivateOld || !errors.Is(err, errNetwork) {
		t.Fatalf("err = %v", err)
	}
	if re.Profile != "prod" || !strings.Contains(err.Error(), "the new device arn:aws:iam::111111111111:mfa/alice-2 is enabled") {
		t.Errorf("the error does not say where the rotation stands: %v", err)
	}
	delete(w.iam.fail, "deactivate")
	w.clock.Advance(30 * time.Second)
	res, err := w.enroller(nil).Rotate(context.Background(), w.dir, req)
	if err != nil {
		t.Fatal(err)
	}
	checkRotated(t, w, res.Serial, res.Account)
}

func TestRotateRefusesUnknownSerial(t *testing.T) {
	w := newIAMWorld(t)
	_, err := w.enroller(nil).Rotate(context.Background(), w.dir, RotateRequest{Profile: "prod", ConfigFile: w.configFile,
		OldSerial: "arn:aws:iam::111111111111:mfa/nobody"})
	if err == nil || !strings.Contains(err.Error(), "no profile in") {
		t.Fatalf("err = %v", err)
	}
	if len(w.iam.calls) != 0 {
		t.Errorf("IAM calls: %v", w.iam.calls)
	}
}

// Ctrl-C during enrollment (the context is cancelled after the PUT): the
// enabling call fails, and the rollback still runs to completion.
func TestEnrollCancelledRollsBack(t *testing.T) {
	w := newIAMWorld(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, err := w.enroller(func(s EnrollStep) error {
		if s == StepPut {
			cancel()
		}
		return nil
	}).Enroll(ctx, EnrollRequest{DeviceName: "alice-2"})
	var ee *EnrollError
	if !errors.As(err, &ee) || ee.Step != StepEnable || !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	if len(ee.Left) != 0 || len(ee.RolledBack) != 2 {
		t.Fatalf("rollback: %+v", ee)
	}
	if w.exists("arn:aws:iam::111111111111:mfa/alice-2") {
		t.Error("IAM device left")
	}
	if _, ok := w.store.keys["AWS:alice-2@111111111111"]; ok {
		t.Error("OATH account left")
	}
}

// Profiles that match their OATH account by name keep working while a
// rotation is half done: the old account is pinned before the new one,
// whose name holds the same words, reaches the key.
func TestRotatePinsOldAccount(t *testing.T) {
	w := newIAMWorld(t)
	b, _ := os.ReadFile(w.configFile)
	noPin := strings.Replace(string(b), "mfabridge_account = AWS:alice@111111111111\n", "", 1)
	if err := os.WriteFile(w.configFile, []byte(noPin), 0o640); err != nil {
		t.Fatal(err)
	}
	req := RotateRequest{Profile: "prod", ConfigFile: w.configFile, OldSerial: "arn:aws:iam::111111111111:mfa/alice",
		OldAccount: "AWS:alice@111111111111", DeviceName: "alice-2"}
	_, err := w.enroller(func(s EnrollStep) error {
		if s == StepEnable {
			return ErrInterrupted
		}
		return nil
	}).Rotate(context.Background(), w.dir, req)
	if !errors.Is(err, ErrInterrupted) {
		t.Fatal(err)
	}
	names, _ := w.store.Accounts(context.Background())
	if _, _, err := device.MatchAccount("arn:aws:iam::111111111111:mfa/alice", names); !errors.Is(err, device.ErrAmbiguousAccount) {
		t.Fatalf("the test needs names that match ambiguously: %v %v", names, err)
	}
	if p := w.profile("prod"); p.Account != "AWS:alice@111111111111" {
		t.Errorf("old account not pinned: %q", p.Account)
	}
	w.clock.Advance(30 * time.Second)
	if err := w.assume("prod"); err != nil {
		t.Errorf("prod broken in mid-rotation: %v", err)
	}
	w.clock.Advance(30 * time.Second)
	res, err := w.enroller(nil).Rotate(context.Background(), w.dir, req)
	if err != nil {
		t.Fatal(err)
	}
	if p := w.profile("prod"); p.Account != res.Account || p.MFASerial != res.Serial {
		t.Errorf("after rotation: %s %s", p.MFASerial, p.Account)
	}
}

// AWS's "manage your own MFA device" policy denies DeactivateMFADevice and
// DeleteVirtualMFADevice without MFA: rotation removes the old device with
// the new device's MFA session, also when resumed after the verification.
func TestRotateUnderMFAGuardedPolicy(t *testing.T) {
	for _, stop := range []EnrollStep{"", StepVerify, StepDeactivateOld} {
		t.Run("stop after "+string(stop), func(t *testing.T) {
			w := newIAMWorldConfig(t, "iam_mfa_guarded.json")
			req := RotateRequest{Profile: "prod", ConfigFile: w.configFile, OldSerial: "arn:aws:iam::111111111111:mfa/alice",
				OldAccount: "AWS:alice@111111111111", DeviceName: "alice-2"}
			// Long-term keys alone may not deactivate.
			_, err := w.iam.IAMAPI.DeactivateMFADevice(context.Background(), &iam.DeactivateMFADeviceInput{UserName: aws.String("alice"), SerialNumber: aws.String(req.OldSerial)})
			if !isCode(err, "AccessDenied") {
				t.Fatalf("the policy should deny deactivation without MFA: %v", err)
			}
			res, err := w.enroller(func(s EnrollStep) error {
				if s == stop {
					return ErrInterrupted
				}
				return nil
			}).Rotate(context.Background(), w.dir, req)
			if stop != "" {
				if !errors.Is(err, ErrInterrupted) {
					t.Fatal(err)
				}
				w.clock.Advance(30 * time.Second)
				res, err = w.enroller(nil).Rotate(context.Background(), w.dir, req)
			}
			if err != nil {
				t.Fatal(err)
			}
			checkRotated(t, w, res.Serial, res.Account)
		})
	}
}

// A crash in the middle of a step: the journal says the step started
// (pending) but not that it finished, although it did. Resuming must cope
// with the step's effect being there already.
func TestRotateCrashMidStep(t *testing.T) {
	for _, mid := range []EnrollStep{StepCreate, StepPut, StepEnable, StepConfig, StepVerify, StepDeactivateOld, StepDeleteOld, StepRemoveOldOATH} {
		t.Run(string(mid), func(t *testing.T) {
			w := newIAMWorld(t)
			req := RotateRequest{Profile: "prod", ConfigFile: w.configFile, OldSerial: "arn:aws:iam::111111111111:mfa/alice",
				OldAccount: "AWS:alice@111111111111", DeviceName: "alice-2"}
			_, err := w.enroller(func(s EnrollStep) error {
				if s == mid {
					return ErrInterrupted
				}
				return nil
			}).Rotate(context.Background(), w.dir, req)
			if !errors.Is(err, ErrInterrupted) {
				t.Fatal(err)
			}
			path := JournalPath(w.dir, "prod")
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			j, err := parseJournal(b)
			if err != nil {
				t.Fatal(err)
			}
			if len(j.Done) == 0 || j.Done[len(j.Done)-1] != mid {
				t.Fatalf("journal done = %v", j.Done)
			}
			j.Done, j.Pending = j.Done[:len(j.Done)-1], mid
			b, _ = json.Marshal(j)
			if err := os.WriteFile(path, b, 0o600); err != nil {
				t.Fatal(err)
			}
			w.clock.Advance(30 * time.Second)
			res, err := w.enroller(nil).Rotate(context.Background(), w.dir, req)
			if err != nil {
				t.Fatalf("resume: %v", err)
			}
			checkRotated(t, w, res.Serial, res.Account)
			w.noSeedLeak()
		})
	}
}

func TestRotateOnePerProfile(t *testing.T) {
	w := newIAMWorld(t)
	cache, err := sts.OpenCache(w.dir)
	if err != nil {
		t.Fatal(err)
	}
	unlock, err := cache.LockSerial(context.Background(), "rotate:prod", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	_, err = w.enroller(nil).Rotate(context.Background(), w.dir, RotateRequest{Profile: "prod", ConfigFile: w.configFile,
		OldSerial: "arn:aws:iam::111111111111:mfa/alice", OldAccount: "AWS:alice@111111111111"})
	if !errors.Is(err, ErrRotationRunning) {
		t.Fatalf("err = %v", err)
	}
	if len(w.iam.calls) != 0 {
		t.Errorf("IAM calls: %v", w.iam.calls)
	}
}

// Under AWS's MFA-guarded self-service policy the long-term keys may create
// but not delete a device: a failed enrollment reports the device left
// and why.
func TestEnrollRollbackDeniedWithoutMFA(t *testing.T) {
	w := newIAMWorldConfig(t, "iam_mfa_guarded.json")
	w.store.failPut = errors.New("the key is full")
	_, err := w.enroller(nil).Enroll(context.Background(), EnrollRequest{DeviceName: "alice-2"})
	var ee *EnrollError
	if !errors.As(err, &ee) || len(ee.Left) != 1 {
		t.Fatalf("err = %v", err)
	}
	l := ee.Left[0]
	if l.Kind != LeftVirtualDevice || l.Serial != "arn:aws:iam::111111111111:mfa/alice-2" || !l.Denied || !strings.Contains(l.What, "policy requires MFA") {
		t.Errorf("leftover %+v", l)
	}
}

func TestDefaultDeviceName(t *testing.T) {
	long := strings.Repeat("u", 230)
	for _, tt := range []struct{ user, suffix, want string }{
		{"alice", "yk12345678", "alice-yk12345678"},
		{"alice", "", "alice-mfabridge"},
		{long, "yk1", long[:226]},
	} {
		if got := DefaultDeviceName(tt.user, tt.suffix); got != tt.want {
			t.Errorf("DefaultDeviceName(%q, %q) = %q, want %q", tt.user, tt.suffix, got, tt.want)
		}
	}
}
