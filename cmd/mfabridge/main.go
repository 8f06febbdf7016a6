// Command mfabridge turns a hardware MFA token (a YubiKey's OATH applet, a
// software TOTP secret, or a simulated YubiKey) into AWS temporary
// credentials. It is the only package of the module that reads environment
// variables, prints, or exits.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"sync"
	"syscall"

	"github.com/spf13/cobra"

	// A cached `credential-process [PROFILE]` is answered by this
	// package's init, before the packages below are initialised.
	_ "github.com/mfabridge/mfabridge/cmd/mfabridge/internal/warm"
	"github.com/mfabridge/mfabridge/internal/notify"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv))
}

// app is what every command shares: the standard streams, the environment,
// the terminal and the --debug logger.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
	debug          bool
	log            *slog.Logger
	term           *terminal
	notifyOnce     sync.Once         // see desktop (notify.go)
	notifier       *notify.Notifier  // desktop notices
	keyPass        string            // age-file passphrase once read (keys.go)
	pivPINs        map[uint32]string // PIV PINs once typed, by serial (keys.go)
}

// usageError marks errors in how the command was called (exit status 2).
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// run executes the command line and returns the exit status.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	a := &app{stdin: stdin, stdout: stdout, stderr: stderr, getenv: getenv, term: openTerminal(getenv, stderr)}
	defer a.term.close()
	defer a.drainNotices() // notify.go
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err, fast := a.fastCredentialProcess(ctx, args) // fast.go
	if !fast {
		root := a.rootCmd()
		root.SetArgs(args)
		root.SetIn(stdin)
		root.SetOut(stdout)
		root.SetErr(stderr)
		err = root.ExecuteContext(ctx)
	}
	if err == nil {
		return 0
	}
	var es exitStatus
	if errors.As(err, &es) {
		return int(es)
	}
	printError(stderr, err, runtime.GOOS) // hints.go
	var ue usageError
	if errors.As(err, &ue) {
		return 2
	}
	return 1
}

func (a *app) rootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "mfabridge",
		Short: "Turn a YubiKey (or TOTP secret) into MFA-gated AWS credentials",
		Long: `mfabridge reads TOTP codes from a YubiKey's OATH applet over PC/SC (or a
software TOTP secret, or a simulated YubiKey) and feeds them into AWS STS
AssumeRole / GetSessionToken, caching sessions so one touch serves many roles.`,
		Version:       buildVersionInfo().flagVersion(), // version.go
		SilenceErrors: true,
		SilenceUsage:  true,
		PersistentPreRun: func(cmd *cobra.Command, _ []string) {
			a.setLogger()
		},
	}
	root.PersistentFlags().BoolVar(&a.debug, "debug", false, "log debug details (APDU trace with secrets redacted) to stderr")
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return usageError{fmt.Errorf("%w (see `%s --help`)", err, cmd.CommandPath())}
	})
	root.AddCommand(a.simCmd(), a.accountsCmd(), a.devicesCmd(), a.planCmd(), a.credentialProcessCmd(), a.exportCmd(), a.codeCmd(), a.execCmd(), a.serveCmd(), a.demoCmd(), a.doctorCmd(), a.enrollCmd(), a.rotateCmd(), a.versionCmd())
	root.AddCommand(a.loginCmd()) // login.go
	root.AddCommand(a.keysCmd())  // keys.go
	return root
}

// args wraps a cobra positional-argument check so that its failure is a
// usage error with a pointer to --help.
func args(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := check(cmd, args); err != nil {
			return usageError{fmt.Errorf("%s: %w (usage: %s)", cmd.CommandPath(), err, cmd.UseLine())}
		}
		return nil
	}
}
