package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/signal"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mfabridge/mfabridge/device"
	"github.com/mfabridge/mfabridge/sts/awsconfig"
)

// exitStatus carries a child's exit status out of a command: run returns it
// without printing anything.
type exitStatus int

func (e exitStatus) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// credentialVars are removed from a child's environment before mfabridge
// sets its own, so no stale or conflicting credential source survives.
var credentialVars = []string{
	"AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
	"AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_CREDENTIAL_EXPIRATION",
	"AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
	"AWS_CONTAINER_AUTHORIZATION_TOKEN", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
	"AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN", "AWS_ROLE_SESSION_NAME",
}

// secretVars are the variables mfabridge may read a secret from; they are
// removed from a child's environment too (with the TOTP seed variable of a
// totp:env:VAR device, see (*app).secretVarsOf).
var secretVars = []string{"MFABRIDGE_OATH_PASSWORD", "MFABRIDGE_PIV_PIN", "MFABRIDGE_KEYRING_PASSPHRASE"}

// secretVarsOf is secretVars plus the variable holding the TOTP seed when
// the profile's device (mfabridge_device, else $MFABRIDGE_DEVICE) is
// totp:env:VAR.
func (a *app) secretVarsOf(p *awsconfig.Profile) []string {
	out := append([]string(nil), secretVars...)
	if s, err := device.ParseSpec(a.deviceSpec(p.Device)); err == nil && s.Kind == "totp" {
		out = append(out, s.EnvVar)
	}
	return out
}

// childEnv is base without credentialVars and drop, plus add (whose names
// replace any in base).
func childEnv(base, add, drop []string) []string {
	dropped := map[string]bool{}
	for _, v := range credentialVars {
		dropped[v] = true
	}
	for _, v := range drop {
		dropped[v] = true
	}
	for _, kv := range add {
		name, _, _ := strings.Cut(kv, "=")
		dropped[name] = true
	}
	out := make([]string, 0, len(base)+len(add))
	for _, kv := range base {
		name, _, _ := strings.Cut(kv, "=")
		if !dropped[name] {
			out = append(out, kv)
		}
	}
	return append(out, add...)
}

func (a *app) execCmd() *cobra.Command {
	var server bool
	cmd := &cobra.Command{
		Use:   "exec PROFILE -- CMD [ARGS...]",
		Short: "Run CMD with the profile's credentials in its environment and return its exit status",
		Long: `exec runs CMD with AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN,
AWS_CREDENTIAL_EXPIRATION and AWS_REGION / AWS_DEFAULT_REGION set, and AWS_PROFILE
and other credential variables removed. Signals are forwarded to CMD (on
Windows, Ctrl-C and Ctrl-Break reach CMD through the console); mfabridge
exits with CMD's exit status.

With --server, CMD instead gets a local credential server
(AWS_CONTAINER_CREDENTIALS_FULL_URI + AWS_CONTAINER_AUTHORIZATION_TOKEN), so a
long-running command keeps working past expiry: mfabridge refreshes through the
device as needed.`,
		Args: args(func(cmd *cobra.Command, argv []string) error {
			switch {
			case cmd.ArgsLenAtDash() == -1 && len(argv) >= 2:
				return fmt.Errorf("put `--` between PROFILE and the command (mfabridge exec %s -- %s …): without it, the command's flags are read as mfabridge's", argv[0], argv[1])
			case cmd.ArgsLenAtDash() != 1 || len(argv) < 2:
				return errors.New("want PROFILE -- CMD [ARGS...]")
			}
			return nil
		}),
		RunE: func(cmd *cobra.Command, argv []string) error {
			ctx := cmd.Context()
			// A typo in the command costs no touch and no STS call.
			if _, err := exec.LookPath(argv[1]); err != nil {
				return a.cannotRun(argv[1], err)
			}
			p, err := a.profile(argv[0])
			if err != nil {
				return err
			}
			region, err := a.childRegion(p)
			if err != nil {
				return err
			}
			var env []string
			if server {
				cs, err := a.startCredentialServer(ctx, p)
				if err != nil {
					return err
				}
				defer cs.close()
				env = append(cs.env(), regionEnv(region)...)
			} else {
				c, _, err := a.credentials(ctx, argv[0])
				if err != nil {
					return err
				}
				env = credentialEnv(c, region)
			}
			return a.runChild(argv[1:], childEnv(os.Environ(), env, a.secretVarsOf(p)))
		},
	}
	// A flag mfabridge does not know is most likely the command's, given
	// without `--` (exec PROFILE ls -l).
	cmd.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageError{fmt.Errorf("%w: if it belongs to the command, put `--` before the command (usage: %s)", err, c.UseLine())}
	})
	cmd.Flags().BoolVar(&server, "server", false, "serve credentials to CMD from a local endpoint that refreshes them, instead of fixed variables")
	return cmd
}

// childRegion is the region a child gets, in the order of the AWS SDKs
// (aws-sdk-go-v2 config: AWS_REGION, then AWS_DEFAULT_REGION, then the
// shared config's region of the profile itself; a source_profile's region is
// not inherited, as in the SDKs and botocore). "" when none is set: the child
// then gets no region variable, as the SDK would have none.
func (a *app) childRegion(p *awsconfig.Profile) (string, error) {
	for _, v := range []string{"AWS_REGION", "AWS_DEFAULT_REGION"} {
		if r := a.getenv(v); r != "" {
			return r, nil
		}
	}
	cfg, err := awsconfig.LoadProfiles(a.getenv)
	if err != nil {
		return "", err
	}
	r, _ := cfg.Value(p.Name, "region")
	return r, nil
}

// regionEnv sets both region variables (the SDKs read AWS_REGION, the AWS
// CLI and botocore AWS_DEFAULT_REGION); nothing for "".
func regionEnv(region string) []string {
	if region == "" {
		return nil
	}
	return []string{"AWS_REGION=" + region, "AWS_DEFAULT_REGION=" + region}
}

// runChild runs argv with env, forwarding signals (Unix; on Windows the
// console delivers Ctrl-C and Ctrl-Break to the child itself, and mfabridge
// only outlives them), and returns its exit status as an exitStatus error
// (nil for 0).
func (a *app) runChild(argv []string, env []string) error {
	path, err := exec.LookPath(argv[0])
	if err != nil {
		return a.cannotRun(argv[0], err)
	}
	c := exec.Command(path, argv[1:]...)
	c.Env = env
	c.Stdin, c.Stdout, c.Stderr = a.stdin, a.stdout, a.stderr
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, childSignals...)
	defer signal.Stop(sigs)
	if err := c.Start(); err != nil {
		return a.cannotRun(argv[0], err)
	}
	done := make(chan struct{})
	go func() {
		for {
			select {
			case s := <-sigs:
				forwardSignal(c.Process, s)
			case <-done:
				return
			}
		}
	}()
	err = c.Wait()
	close(done)
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return exitStatus(childExitCode(ee))
	}
	if err != nil {
		return fmt.Errorf("run %q: %w", argv[0], err)
	}
	return nil
}

// cannotRun reports a command that could not be started and returns the
// status a POSIX shell gives: 127 when it is not found, 126 when it is found
// but cannot be executed (no permission, a directory, not a program).
func (a *app) cannotRun(name string, err error) error {
	status, why := 126, "cannot execute"
	if errors.Is(err, exec.ErrNotFound) || errors.Is(err, fs.ErrNotExist) {
		status, why = 127, "command not found"
	}
	fmt.Fprintf(a.stderr, "mfabridge: error: run %q: %s: %v\n", name, why, err)
	return exitStatus(status)
}
