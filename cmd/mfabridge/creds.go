package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/mfabridge/mfabridge/cmd/mfabridge/internal/warm"
	"github.com/mfabridge/mfabridge/device"
	"github.com/mfabridge/mfabridge/sts"
	"github.com/mfabridge/mfabridge/sts/awsconfig"
)

// tokenSource is the code source of one profile: its Code is the
// provider's sts.TokenFunc. The device (the profile's mfabridge_device, else
// $MFABRIDGE_DEVICE, else the only YubiKey) is opened on the first code, so
// a credential served from the cache opens nothing; it stays open, with the
// OATH account chosen, for the life of the command.
type tokenSource struct {
	a      *app
	p      *awsconfig.Profile
	chosen func(account, why string) // see device.WithChosen

	mu  sync.Mutex
	tok *device.Token
}

// token returns the profile's device.Token, opening the device on first use.
func (t *tokenSource) token(ctx context.Context) (*device.Token, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.tok != nil {
		return t.tok, nil
	}
	d, err := t.a.openDevice(ctx, t.p.Device)
	if err != nil {
		return nil, err
	}
	opts := []device.TokenOption{device.WithChosen(t.chosen)}
	if t.p.Account != "" {
		opts = append(opts, device.WithAccount(t.p.Account))
	}
	t.tok = device.NewToken(d, t.p.MFASerial, opts...)
	return t.tok, nil
}

// Code computes the profile's code for the TOTP step holding at (the
// sts.TokenFunc). A failed account match is reported as it is (it names
// the serial, the accounts and the fix); other failures say which code.
func (t *tokenSource) Code(ctx context.Context, at time.Time) (string, error) {
	tok, err := t.token(ctx)
	if err != nil {
		return "", fmt.Errorf("compute code for %s: %w", t.p.MFASerial, err)
	}
	c, err := tok.Code(ctx, at)
	if ae := (*device.AccountMatchError)(nil); errors.As(err, &ae) {
		return "", ae
	}
	if err != nil {
		return "", fmt.Errorf("compute code for %s: %w", t.p.MFASerial, err)
	}
	return c.Value, nil
}

func (t *tokenSource) close() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.tok != nil {
		t.tok.Device().Close()
	}
}

// newTokenSource is the code source for p; the account chosen by matching
// the serial is shown as a terminal notice.
func (a *app) newTokenSource(p *awsconfig.Profile) *tokenSource {
	return &tokenSource{a: a, p: p, chosen: func(_, why string) { a.term.notice(why) }}
}

// profile loads the AWS config and resolves one profile ("" = $AWS_PROFILE,
// else "default").
func (a *app) profile(name string) (*awsconfig.Profile, error) {
	cfg, err := awsconfig.LoadProfiles(a.getenv)
	if err != nil {
		return nil, err
	}
	return cfg.Resolve(name)
}

// provider builds the credential provider for a profile. The caller closes
// the returned token source.
func (a *app) provider(p *awsconfig.Profile) (*sts.Provider, *tokenSource, error) {
	dir, err := sts.DefaultCacheDir(a.getenv)
	if err != nil {
		return nil, nil, err
	}
	timeout := sts.DefaultCallTimeout
	if v := a.getenv("MFABRIDGE_STS_TIMEOUT"); v != "" {
		d, ok := warm.STSTimeout(v)
		if !ok {
			return nil, nil, fmt.Errorf("MFABRIDGE_STS_TIMEOUT=%q: want a positive duration, such as 30s (the default)", v)
		}
		timeout = d
	}
	ts := a.newTokenSource(p)
	pr, err := sts.NewProvider(p, ts.Code, dir,
		// a source profile's credential_process gets our environment, plus
		// the lock held meanwhile; a held lock in ours is one of a calling
		// mfabridge (issue 13 case 11)
		sts.WithEnviron(os.Environ()),
		sts.WithUI(sts.UI{Notify: a.term.notice}), sts.WithLogger(a.log), sts.WithCallTimeout(timeout),
		sts.WithSourceKeys(a.sourceKeys(p.Device))) // keys.go: mfabridge_keys
	if err != nil {
		return nil, nil, err
	}
	return pr, ts, nil
}

// credentials returns credentials for a profile: from the cache when
// possible (no device, no network), else through the device and STS.
func (a *app) credentials(ctx context.Context, name string) (*sts.Credentials, *awsconfig.Profile, error) {
	p, err := a.profile(name)
	if err != nil {
		return nil, nil, err
	}
	pr, ts, err := a.provider(p)
	if err != nil {
		return nil, nil, err
	}
	defer ts.close()
	c, err := pr.Credentials(ctx)
	if err != nil {
		return nil, nil, err
	}
	return c, p, nil
}

func profileArg(argv []string) string {
	if len(argv) == 1 {
		return argv[0]
	}
	return ""
}

func (a *app) planCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "plan [PROFILE]",
		Short: "Print the STS calls, durations and touches a profile needs on a cold cache, without making them",
		Args:  args(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, argv []string) error {
			p, err := a.profile(profileArg(argv))
			if err != nil {
				return err
			}
			pl, err := sts.MakePlan(p)
			if err != nil {
				return err
			}
			fmt.Fprint(a.stdout, pl.String())
			return nil
		},
	}
}

func (a *app) credentialProcessCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "credential-process [PROFILE]",
		Short: "Print credentials as the AWS credential_process JSON (Version 1) and nothing else",
		Long: `Use it from ~/.aws/config:

    [profile prod-cp]
    credential_process = /usr/local/bin/mfabridge credential-process prod

Cached credentials with at least 15 minutes left are served without touching
the device or the network. Prompts go to the terminal (/dev/tty), never to
stdout or stderr, which the AWS CLI captures.`,
		Args: args(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, argv []string) error { return a.credentialProcess(cmd.Context(), argv) },
	}
}

// credentialProcess is the credential-process command's action (also run
// without cobra by the warm path, fast.go).
func (a *app) credentialProcess(ctx context.Context, argv []string) error {
	c, _, err := a.credentials(ctx, profileArg(argv))
	if err != nil {
		return err
	}
	return a.writeProcessOutput(c)
}

// writeProcessOutput prints credentials as credential_process JSON.
func (a *app) writeProcessOutput(c *sts.Credentials) error {
	_, err := fmt.Fprintf(a.stdout, "%s\n", c.ProcessOutput())
	return err
}

func (a *app) exportCmd() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "export [PROFILE]",
		Short: "Print credentials as shell exports (env), JSON, or credential_process JSON",
		Args:  args(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, argv []string) error {
			switch format {
			case "env", "json", "credential-process":
			default:
				return usageError{fmt.Errorf("--format %q: want env, json or credential-process", format)}
			}
			c, p, err := a.credentials(cmd.Context(), profileArg(argv))
			if err != nil {
				return err
			}
			region := p.Region
			switch format {
			case "env":
				for _, kv := range credentialEnv(c, region) {
					fmt.Fprintf(a.stdout, "export %s\n", shellQuote(kv))
				}
			case "json":
				return a.writeJSON(map[string]string{
					"AccessKeyId": c.AccessKeyID, "SecretAccessKey": c.SecretAccessKey,
					"SessionToken": c.SessionToken, "Expiration": c.Expiration.UTC().Format(time.RFC3339),
					"Region": region,
				})
			default:
				return a.writeProcessOutput(c)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&format, "format", "env", "env, json or credential-process")
	return cmd
}

// credentialEnv is the environment that hands credentials to a program.
func credentialEnv(c *sts.Credentials, region string) []string {
	env := []string{
		"AWS_ACCESS_KEY_ID=" + c.AccessKeyID,
		"AWS_SECRET_ACCESS_KEY=" + c.SecretAccessKey,
	}
	if c.SessionToken != "" {
		env = append(env, "AWS_SESSION_TOKEN="+c.SessionToken)
	}
	if !c.Expiration.IsZero() {
		env = append(env, "AWS_CREDENTIAL_EXPIRATION="+c.Expiration.UTC().Format(time.RFC3339))
	}
	if region != "" {
		env = append(env, "AWS_REGION="+region, "AWS_DEFAULT_REGION="+region)
	}
	return env
}

// shellQuote quotes NAME=VALUE for POSIX shells.
func shellQuote(kv string) string {
	name, v, _ := strings.Cut(kv, "=")
	q := "'"
	for _, r := range v {
		if r == '\'' {
			q += `'\''`
		} else {
			q += string(r)
		}
	}
	return name + "=" + q + "'"
}

func (a *app) codeCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "code [PROFILE]",
		Short: "Print the current code of the profile's MFA device and account, with the seconds it stays valid",
		Args:  args(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, argv []string) error {
			ctx := cmd.Context()
			p, err := a.profile(profileArg(argv))
			if err != nil {
				return err
			}
			ts := &tokenSource{a: a, p: p, chosen: func(_, why string) { a.log.Debug("account chosen", "why", why) }}
			defer ts.close()
			tok, err := ts.token(ctx)
			if err != nil {
				return err
			}
			now := time.Now()
			c, err := tok.Code(ctx, now)
			if ae := (*device.AccountMatchError)(nil); errors.As(err, &ae) {
				return fmt.Errorf("profile %q: %w", p.Name, ae)
			}
			if err != nil {
				return err
			}
			account := tok.Account()
			left := int(c.ValidTo.Sub(now).Round(time.Second) / time.Second)
			if asJSON {
				return a.writeJSON(map[string]any{"profile": p.Name, "mfa_serial": p.MFASerial, "account": account, "code": c.Value, "seconds_left": left})
			}
			fmt.Fprintf(a.stdout, "%s\t%ds\n", c.Value, left)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}
