package main

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awssts "github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	"github.com/spf13/cobra"

	"github.com/mfabridge/mfabridge/device"
	"github.com/mfabridge/mfabridge/oath"
	"github.com/mfabridge/mfabridge/simulator"
	"github.com/mfabridge/mfabridge/simulator/stsemu"
	"github.com/mfabridge/mfabridge/sts"
	"github.com/mfabridge/mfabridge/sts/awsconfig"
)

// demoSTS is the seeds' cross-account setup: alice in 111111111111 with a
// virtual MFA device; roles in 222222222222 that trust her only with MFA.
//
//go:embed demo_sts.json
var demoSTS []byte

const (
	demoSerial   = "arn:aws:iam::111111111111:mfa/alice"
	demoSecret   = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
	demoRole     = "arn:aws:iam::222222222222:role/PrivilegedActionsRole"
	demoKeyID    = "AKIAALICE00000000001"
	demoKeyValue = "alice-secret-access-key-0000000000000000"
)

func (a *app) demoCmd() *cobra.Command {
	var keep bool
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Show the whole path on a simulated YubiKey and a local STS: code, AssumeRole with MFA, a second role without a new touch, a denied call",
		Args:  args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			dir, err := os.MkdirTemp("", "mfabridge-demo-")
			if err != nil {
				return fmt.Errorf("make a temporary folder: %w", err)
			}
			if !keep {
				defer os.RemoveAll(dir)
			}
			return a.demo(cmd.Context(), dir)
		},
	}
	cmd.Flags().BoolVar(&keep, "keep", false, "keep the temporary folder (simulated key, AWS config, cache) for a look afterwards")
	return cmd
}

func (a *app) demo(ctx context.Context, dir string) error {
	say := func(format string, args ...any) { fmt.Fprintf(a.stdout, format+"\n", args...) }
	say("mfabridge demo: a simulated YubiKey and a local STS emulator, end to end (no hardware, no AWS account)")
	say("working in %s\n", dir)

	// 1. The key.
	keyPath := filepath.Join(dir, "yubikey.json")
	card, err := simulator.Create(keyPath, 12345678, simulator.Version{Major: 5, Minor: 4, Patch: 3})
	if err != nil {
		return err
	}
	spec := "sim:" + keyPath
	hooks := a.hooks()
	dev, err := device.OpenSim(keyPath, hooks, a.log)
	if err != nil {
		return err
	}
	sec, err := device.ParseSecret(demoSecret)
	if err != nil {
		return err
	}
	cred := device.Credential{Issuer: "AWS", Account: "alice@111111111111", Type: oath.TOTP, Algorithm: oath.SHA1, Digits: 6, Period: 30 * time.Second, Touch: true}
	if err := dev.Put(ctx, cred, sec.Key, device.PutOptions{}); err != nil {
		return err
	}
	say("1. simulated YubiKey %d (firmware %s): stored the virtual MFA device %s", card.Serial(), card.Firmware(), demoSerial)
	say("   as OATH account \"AWS:alice@111111111111\", touch required")

	// 2. The STS emulator.
	cfg, err := stsemu.ParseConfig(demoSTS)
	if err != nil {
		return err
	}
	logf, err := os.Create(filepath.Join(dir, "sts.log"))
	if err != nil {
		return err
	}
	defer logf.Close()
	emu, err := stsemu.New(cfg, stsemu.WithLog(logf))
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("listen on 127.0.0.1: %w", err)
	}
	hs := stsemu.HTTPServer(emu, stsemu.DefaultTimeouts)
	go hs.Serve(ln)
	defer hs.Close()
	url := "http://" + ln.Addr().String()
	say("2. local STS at %s: account 111111111111 holds user alice; in 222222222222,", url)
	say("   PrivilegedActionsRole and AuditRole trust 111111111111 only with aws:MultiFactorAuthPresent")

	// The AWS config a user would write.
	config := fmt.Sprintf(`[profile alice]
region = us-east-1

[profile prod]
role_arn = %s
source_profile = alice
mfa_serial = %s
mfabridge_device = %s

[profile audit]
role_arn = arn:aws:iam::222222222222:role/AuditRole
source_profile = alice
mfa_serial = %s
mfabridge_device = %s
`, demoRole, demoSerial, spec, demoSerial, spec)
	creds := fmt.Sprintf("[alice]\naws_access_key_id = %s\naws_secret_access_key = %s\n", demoKeyID, demoKeyValue)
	for name, body := range map[string]string{"config": config, "credentials": creds} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			return err
		}
	}
	env := map[string]string{
		"AWS_CONFIG_FILE":             filepath.Join(dir, "config"),
		"AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "credentials"),
		"AWS_ENDPOINT_URL_STS":        url,
		"MFABRIDGE_CACHE_DIR":         filepath.Join(dir, "cache"),
	}
	getenv := func(k string) string {
		if v, ok := env[k]; ok {
			return v
		}
		if strings.HasPrefix(k, "AWS_") {
			return "" // nothing from the user's own AWS setup
		}
		return a.getenv(k)
	}
	cfgs, err := awsconfig.LoadProfiles(getenv)
	if err != nil {
		return err
	}

	// 3. A code.
	now := time.Now()
	code, err := dev.Calculate(ctx, "AWS:alice@111111111111", now)
	if err != nil {
		return err
	}
	say("3. the code from the device: %s (valid %ds more; mfabridge never sends one code twice)", code.Value, int(code.ValidTo.Sub(now).Seconds()))

	// 4. The role, with MFA.
	var codes atomic.Int32 // codes read from the device, over all profiles
	stsClient := func(c aws.CredentialsProvider) *awssts.Client {
		return awssts.New(awssts.Options{Region: "us-east-1", Credentials: c, BaseEndpoint: aws.String(url)})
	}
	get := func(profile string) (*sts.Credentials, string, error) {
		p, err := cfgs.Resolve(profile)
		if err != nil {
			return nil, "", err
		}
		ts := a.newTokenSource(p)
		defer ts.close()
		count := func(ctx context.Context, at time.Time) (string, error) {
			codes.Add(1)
			return ts.Code(ctx, at)
		}
		pr, err := sts.NewProvider(p, count, env["MFABRIDGE_CACHE_DIR"], sts.WithUI(sts.UI{Notify: a.term.notice}))
		if err != nil {
			return nil, "", err
		}
		if profile == "prod" {
			for _, line := range strings.Split(strings.TrimRight(pr.Plan().String(), "\n"), "\n") {
				say("   | %s", line)
			}
		}
		c, err := pr.Credentials(ctx)
		if err != nil {
			return nil, "", err
		}
		id, err := stsClient(pr).GetCallerIdentity(ctx, &awssts.GetCallerIdentityInput{})
		if err != nil {
			return nil, "", fmt.Errorf("get-caller-identity with the new credentials: %w", err)
		}
		return c, aws.ToString(id.Arn), nil
	}
	say("4. profile prod, planned:")
	c, arn, err := get("prod")
	if err != nil {
		return err
	}
	say("   credentials: %.8s… (secret and session token withheld), expire %s", c.AccessKeyID, c.Expiration.UTC().Format(time.RFC3339))
	say("   get-caller-identity: %s", arn)
	say("   codes read from the device: %d", codes.Load())

	// 5. A second role: no new touch.
	_, arn, err = get("audit")
	if err != nil {
		return err
	}
	say("5. a second role, profile audit: %s", arn)
	say("   codes read from the device: still %d (the MFA session is shared by every role on this serial)", codes.Load())

	// 6. Without MFA: denied.
	static := credentials.NewStaticCredentialsProvider(demoKeyID, demoKeyValue, "")
	_, err = stsClient(static).AssumeRole(ctx, &awssts.AssumeRoleInput{RoleArn: aws.String(demoRole), RoleSessionName: aws.String("no-mfa")})
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return fmt.Errorf("the call without MFA was not refused as expected: %v", err)
	}
	say("6. the same role with alice's keys but no MFA: refused")
	say("   %s: %s", ae.ErrorCode(), ae.ErrorMessage())
	say("\ndone. Try it yourself: mfabridge sim init, mfabridge accounts add, mfabridge sim sts --config FILE (see README.md)")
	return nil
}
