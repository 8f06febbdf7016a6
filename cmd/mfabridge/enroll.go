package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/mfabridge/mfabridge/device"
	"github.com/mfabridge/mfabridge/oath"
	"github.com/mfabridge/mfabridge/sts"
	"github.com/mfabridge/mfabridge/sts/awsconfig"
	"github.com/mfabridge/mfabridge/sts/awsconfig/configfile"
	"github.com/mfabridge/mfabridge/sts/enroll"
)

// oathStore implements enroll.OATHStore with a device that stores
// credentials (a YubiKey or the simulator).
type oathStore struct {
	d device.Device
	m device.Manager
}

func (s *oathStore) Accounts(ctx context.Context) ([]string, error) {
	return accountNames(ctx, s.d)
}

func (s *oathStore) Put(ctx context.Context, account string, secret []byte, touch bool) error {
	return s.m.Put(ctx, device.Credential{Name: account, Type: oath.TOTP, Algorithm: oath.SHA1, Digits: 6,
		Period: 30 * time.Second, Touch: touch}, secret, device.PutOptions{})
}

func (s *oathStore) Delete(ctx context.Context, account string) error {
	err := s.m.Delete(ctx, account)
	if errors.Is(err, device.ErrNotFound) || errors.Is(err, oath.ErrNoSuchCredential) {
		return fmt.Errorf("%w: %w", enroll.ErrNoOATHAccount, err)
	}
	return err
}

func (s *oathStore) Code(ctx context.Context, account string, at time.Time) (string, error) {
	c, err := s.d.Calculate(ctx, account, at)
	if err != nil {
		return "", err
	}
	return c.Value, nil
}

// enrollSetup is what enroll and rotate share: the profile, the IAM and
// STS clients, and the device.
type enrollSetup struct {
	cfg     *awsconfig.Config
	p       *awsconfig.Profile
	spec    string
	dev     device.Device
	store   *oathStore
	enroler *enroll.Enroller
}

func (a *app) enrollSetup(ctx context.Context, profile, devFlag string) (*enrollSetup, error) {
	if profile == "" {
		return nil, usageError{errors.New("--profile is required")}
	}
	cfg, err := awsconfig.LoadProfiles(a.getenv)
	if err != nil {
		return nil, err
	}
	p, err := cfg.ResolveSource(profile)
	if err != nil {
		return nil, err
	}
	if err := a.loadSourceKeys(ctx, p); err != nil { // keys.go: mfabridge_keys
		return nil, err
	}
	ic, err := enroll.NewIAMClient(p, nil)
	if err != nil {
		return nil, err
	}
	sc, err := enroll.NewIdentityClient(p, nil)
	if err != nil {
		return nil, err
	}
	spec := devFlag
	if spec == "" {
		spec = p.Device
	}
	spec = a.deviceSpec(spec)
	d, m, err := a.openManager(ctx, spec)
	if err != nil {
		return nil, err
	}
	st := &oathStore{d: d, m: m}
	return &enrollSetup{cfg: cfg, p: p, spec: spec, dev: d, store: st,
		enroler: enroll.NewEnroller(ic, sc, st, enroll.WithLogger(a.log))}, nil
}

// printLeftovers spells out, one per line, what a failed enrollment rolled
// back and what it left, and returns the error to end with: the failed
// step and its cause (the lines above carry the rest).
func (a *app) printLeftovers(err error) error {
	var ee *enroll.EnrollError
	if !errors.As(err, &ee) {
		return err
	}
	for _, r := range ee.RolledBack {
		fmt.Fprintf(a.stderr, "mfabridge: rolled back: %s\n", r)
	}
	for _, l := range ee.Left {
		fmt.Fprintf(a.stderr, "mfabridge: LEFT: %s\n  finish with: %s\n", l.What, leftoverFix(l))
	}
	if len(ee.Left) == 0 && len(ee.RolledBack) > 0 {
		fmt.Fprintln(a.stderr, "mfabridge: nothing is left of the failed enrollment")
	}
	err = fmt.Errorf("enrollment failed at step %s: %w", ee.Step, ee.Err)
	var taken *enroll.DeviceNameTakenError
	if errors.As(err, &taken) {
		hint := fmt.Sprintf("pass --name with a device name not yet used in account %s, e.g. --name %s-2", taken.AccountID, taken.Name)
		if taken.Defaulted {
			hint = fmt.Sprintf("%q is the default name for this user and key: it is likely enrolled already (`aws iam list-virtual-mfa-devices`); otherwise %s", taken.Name, hint)
		}
		return hintError{err: err, hint: hint}
	}
	return err
}

// keyNameSuffix is the default device name's suffix for a key: "yk" and its
// serial, or empty (sts then uses "mfabridge") when it has none.
func keyNameSuffix(info device.Info) string {
	if info.Serial == 0 {
		return ""
	}
	return fmt.Sprintf("yk%d", info.Serial)
}

func (a *app) enrollCmd() *cobra.Command {
	var (
		profile, user, dev, account, name string
		touch, writeConfig                bool
	)
	cmd := &cobra.Command{
		Use:   "enroll --profile PROFILE",
		Short: "Create an AWS virtual MFA device and put it on the YubiKey in one step",
		Long: `enroll creates a virtual MFA device in IAM (with the profile's long-term
access keys), stores its seed in the device's OATH applet, and enables it with
two consecutive codes computed at once. The seed exists only in memory and on
the device. It prints the new mfa_serial; --write-config adds mfa_serial,
mfabridge_device and mfabridge_account to the profile. A failure rolls back
(IAM device deleted, OATH account removed) or says what is left and how to
finish.`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			s, err := a.enrollSetup(ctx, profile, dev)
			if err != nil {
				return err
			}
			defer s.dev.Close()
			if touch {
				a.term.notice("the account requires touch: touch the key for each of the two enabling codes")
			}
			before, err := s.store.Accounts(ctx)
			if err != nil {
				return err
			}
			res, err := s.enroler.Enroll(ctx, enroll.EnrollRequest{User: user, DeviceName: name, NameSuffix: keyNameSuffix(s.dev.Info()),
				Account: account, Touch: touch, DeviceSpec: s.spec})
			if err != nil {
				return a.printLeftovers(err)
			}
			if err := a.pinAccounts(s, before, res, writeConfig); err != nil {
				return err
			}
			fmt.Fprintln(a.stdout, res.Serial)
			fmt.Fprintf(a.stderr, "mfabridge: enrolled %s for IAM user %s as OATH account %q on %s\n", res.Serial, res.User, res.Account, s.dev.Info())
			settings := []awsconfig.Setting{{Key: "mfa_serial", Value: res.Serial}, {Key: "mfabridge_device", Value: s.spec}, {Key: "mfabridge_account", Value: res.Account}}
			if !writeConfig {
				fmt.Fprintf(a.stderr, "mfabridge: add to profile %q in %s (or rerun with --write-config next time):\n", profile, s.cfg.ConfigFile)
				for _, st := range settings {
					fmt.Fprintf(a.stderr, "  %s = %s\n", st.Key, st.Value)
				}
				return nil
			}
			if err := writeProfile(s.cfg.ConfigFile, profile, settings); err != nil {
				fmt.Fprintf(a.stderr, "mfabridge: the device is enrolled and enabled, but the config was not changed; add to profile %q by hand:\n", profile)
				for _, st := range settings {
					fmt.Fprintf(a.stderr, "  %s = %s\n", st.Key, st.Value)
				}
				return err
			}
			fmt.Fprintf(a.stderr, "mfabridge: profile %q in %s now uses it\n", profile, s.cfg.ConfigFile)
			if old := s.p.MFASerial; old != "" && old != res.Serial {
				fmt.Fprintf(a.stderr, "mfabridge: the previous device %s stays enabled in IAM (`mfabridge rotate` replaces a device and removes the old one)\n", old)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&profile, "profile", "", "AWS profile whose access keys manage the IAM user (required)")
	f.StringVar(&user, "user", "", "IAM user to enroll (default: the owner of the profile's access keys)")
	f.StringVar(&dev, "device", "", "device: yubikey, yubikey:SERIAL or sim:PATH (default: the profile's mfabridge_device, $MFABRIDGE_DEVICE, else the only YubiKey)")
	f.StringVar(&account, "account", "", "OATH account name (default AWS:NAME@ACCOUNT_ID)")
	f.StringVar(&name, "name", "", "name of the IAM virtual MFA device (default: USER-ykSERIAL, e.g. alice-yk12345678, so as not to collide with the user's existing device)")
	f.BoolVar(&touch, "touch", false, "require a touch for every code")
	f.BoolVar(&writeConfig, "write-config", false, "add mfa_serial, mfabridge_device and mfabridge_account to the profile in the AWS config file")
	return cmd
}

// pinAccounts deals with profiles that found their OATH account by
// matching names (no mfabridge_account) and that the new account makes
// ambiguous: "AWS:alice-2@1111…" also holds the words "alice" and the
// account ID of arn:…:mfa/alice. With --write-config it pins their
// current account in mfabridge_account; otherwise it says what to add.
func (a *app) pinAccounts(s *enrollSetup, before []string, res *enroll.Enrolled, write bool) error {
	after := append(append([]string{}, before...), res.Account)
	for _, name := range s.cfg.Names() {
		p, err := s.cfg.Resolve(name)
		if err != nil || p.Account != "" || p.MFASerial == res.Serial || (p.Device != "" && p.Device != s.spec) {
			continue
		}
		old, _, err := device.MatchAccount(p.MFASerial, before)
		if err != nil {
			continue
		}
		if _, _, err := device.MatchAccount(p.MFASerial, after); !errors.Is(err, device.ErrAmbiguousAccount) {
			continue
		}
		if !write {
			fmt.Fprintf(a.stderr, "mfabridge: profile %q now matches two OATH accounts; add to it: mfabridge_account = %s\n", name, old)
			continue
		}
		if err := writeProfile(s.cfg.ConfigFile, name, []awsconfig.Setting{{Key: "mfabridge_account", Value: old}}); err != nil {
			return err
		}
		fmt.Fprintf(a.stderr, "mfabridge: profile %q: pinned mfabridge_account = %s (the new account's name would have matched its mfa_serial too)\n", name, old)
	}
	return nil
}

// writeProfile sets keys in a profile of the AWS config file, keeping the
// rest of the file byte for byte.
func writeProfile(path, profile string, settings []awsconfig.Setting) error {
	if path == "" {
		return errors.New("write config: no AWS config file (set AWS_CONFIG_FILE, or HOME: USERPROFILE on Windows)")
	}
	data, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("write config: %w", err)
	}
	out, err := awsconfig.SetProfileKeys(data, profile, settings)
	if err != nil {
		return fmt.Errorf("write config: %w", err)
	}
	return configfile.Write(path, out)
}

func (a *app) rotateCmd() *cobra.Command {
	var (
		profile, user, dev, account, name string
		touch                             bool
	)
	cmd := &cobra.Command{
		Use:   "rotate --profile PROFILE",
		Short: "Replace the profile's MFA device with a new one on the YubiKey, never leaving it without a working device",
		Long: `rotate enrolls a new virtual MFA device on the key (as enroll does), switches
every profile of the AWS config file that used the old serial, checks the new
device with a GetSessionToken, then deactivates and deletes the old device and
removes its OATH account. Progress is journaled in the cache directory (never
the seed): if rotate is interrupted, run it again to finish.`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			s, err := a.enrollSetup(ctx, profile, dev)
			if err != nil {
				return err
			}
			defer s.dev.Close()
			dir, err := sts.DefaultCacheDir(a.getenv)
			if err != nil {
				return err
			}
			oldAccount := s.p.Account
			if oldAccount == "" && s.p.MFASerial != "" {
				names, err := s.store.Accounts(ctx)
				if err != nil {
					return err
				}
				if acct, _, err := device.MatchAccount(s.p.MFASerial, names); err == nil {
					oldAccount = acct
				}
			}
			if _, err := os.Stat(enroll.JournalPath(dir, profile)); err == nil {
				a.term.notice("resuming an interrupted rotation of profile " + profile)
			}
			res, err := s.enroler.Rotate(ctx, dir, enroll.RotateRequest{Profile: profile, ConfigFile: s.cfg.ConfigFile, User: user,
				OldSerial: s.p.MFASerial, OldAccount: oldAccount, DeviceSpec: s.spec, Touch: touch, DeviceName: name, Account: account})
			if err != nil {
				return a.printLeftovers(err)
			}
			fmt.Fprintln(a.stdout, res.Serial)
			fmt.Fprintf(a.stderr, "mfabridge: %s is now the MFA device of %s (OATH account %q); profiles switched: %s\n",
				res.Serial, res.User, res.Account, strings.Join(res.Profiles, ", "))
			fmt.Fprintf(a.stderr, "mfabridge: old device %s deactivated and removed\n", res.OldSerial)
			for _, n := range res.Notes {
				fmt.Fprintf(a.stderr, "mfabridge: note: %s\n", n)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&profile, "profile", "", "AWS profile whose MFA device to replace (required)")
	f.StringVar(&user, "user", "", "IAM user (default: the owner of the profile's access keys)")
	f.StringVar(&dev, "device", "", "device: yubikey, yubikey:SERIAL or sim:PATH (default: the profile's mfabridge_device, $MFABRIDGE_DEVICE, else the only YubiKey)")
	f.StringVar(&account, "account", "", "OATH account name for the new device (default AWS:NAME@ACCOUNT_ID)")
	f.StringVar(&name, "name", "", "name of the new IAM virtual MFA device (default USER-YYYYMMDD-HHMMSS)")
	f.BoolVar(&touch, "touch", false, "require a touch for every code of the new device")
	return cmd
}
