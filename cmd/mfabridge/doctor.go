package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/mfabridge/mfabridge/device"
	"github.com/mfabridge/mfabridge/internal/securefile"
	"github.com/mfabridge/mfabridge/pcsc"
	"github.com/mfabridge/mfabridge/sts"
	"github.com/mfabridge/mfabridge/sts/awsconfig"
)

// doctor prints one line per check: ok, warn or fail, with the fix.
type doctor struct {
	a     *app
	fails int
}

func (d *doctor) report(status, what, fix string) {
	if status == "fail" {
		d.fails++
	}
	line := fmt.Sprintf("%-4s  %s", status, what)
	if fix != "" {
		line += "\n      fix: " + fix
	}
	fmt.Fprintln(d.a.stdout, line)
}

// hintsLine is the advice for err (see hintsFor) as one fix line.
func hintsLine(err error) string { return strings.Join(hintsFor(err, runtime.GOOS), "; ") }

func (a *app) doctorCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "doctor [PROFILE]",
		Short: "Check pcscd, keys, the profile chain, the device/account mapping, the cache, clock skew and credential_process lines",
		Args:  args(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, argv []string) error {
			d := &doctor{a: a}
			ctx := cmd.Context()
			cfg, err := awsconfig.LoadProfiles(a.getenv)
			if err != nil {
				d.report("fail", "AWS config: "+err.Error(), "fix the file named above")
			}
			var p *awsconfig.Profile
			name := profileArg(argv)
			if name == "" {
				name = a.getenv("AWS_PROFILE")
			}
			if cfg != nil && name != "" {
				p = d.profile(cfg, name)
			}
			usesYubiKey := p == nil || strings.HasPrefix(d.a.deviceSpec(p.Device), "yubikey")
			d.pcsc(ctx, usesYubiKey)
			if p != nil {
				d.account(ctx, p)
				d.skew(ctx, p)
			}
			d.cache()
			if cfg != nil {
				d.credentialProcess(cfg)
				d.plaintextKeys(cfg) // keys.go
			}
			if d.fails > 0 {
				return fmt.Errorf("%d check(s) failed", d.fails)
			}
			return nil
		},
	}
}

func (d *doctor) pcsc(ctx context.Context, needed bool) {
	bad := "warn"
	if needed {
		bad = "fail"
	}
	pctx, err := pcsc.Open(ctx)
	switch {
	case errors.Is(err, pcsc.ErrNotCompiled):
		d.report(bad, "PC/SC: this mfabridge was built without PC/SC support (CGO_ENABLED=0)", "rebuild with cgo and libpcsclite-dev to use YubiKeys; sim: and totp: devices work as is")
		return
	case err != nil:
		fix := hintsLine(err)
		if fix == "" {
			fix = "sudo apt-get install pcscd && sudo systemctl start pcscd (or run `pcscd -f &`)"
		}
		d.report(bad, "pcscd: "+err.Error(), fix)
		return
	}
	defer pctx.Close()
	readers, err := pctx.Readers()
	if err != nil || len(readers) == 0 {
		d.report(bad, "pcscd is running but sees no reader", "plug the YubiKey in (a USB YubiKey is its own reader)")
		return
	}
	d.report("ok", fmt.Sprintf("pcscd is running with %d reader(s): %s", len(readers), strings.Join(readers, "; ")), "")
	keys, err := device.ListYubiKeys(ctx, d.a.log)
	if err != nil {
		d.report(bad, "YubiKeys: "+err.Error(), hintsLine(err))
		return
	}
	if len(keys) == 0 {
		d.report(bad, "no reader holds a YubiKey", "insert the key; check `mfabridge devices`")
	}
	for _, k := range keys {
		switch {
		case k.Error != "":
			d.report("warn", fmt.Sprintf("YubiKey %d (%s, %s): %s", k.Serial, k.Firmware, k.Reader, k.Error), "")
		case k.Protected:
			d.report("ok", fmt.Sprintf("YubiKey %d, firmware %s, on %q: OATH password protected (set MFABRIDGE_OATH_PASSWORD or answer the prompt)", k.Serial, k.Firmware, k.Reader), "")
		default:
			d.report("ok", fmt.Sprintf("YubiKey %d, firmware %s, on %q: %d OATH account(s)", k.Serial, k.Firmware, k.Reader, k.Accounts), "")
		}
	}
}

func (d *doctor) profile(cfg *awsconfig.Config, name string) *awsconfig.Profile {
	p, err := cfg.Resolve(name)
	if err != nil {
		d.report("fail", fmt.Sprintf("profile %q: %v", name, err), hintsLine(err))
		return nil
	}
	pl, err := sts.MakePlan(p)
	if err != nil {
		d.report("fail", fmt.Sprintf("profile %q: %v", name, err), hintsLine(err))
		return nil
	}
	steps := make([]string, len(pl.Steps))
	for i, s := range pl.Steps {
		steps[i] = string(s.Action)
		if s.RoleARN != "" {
			steps[i] += " " + s.RoleARN
		}
	}
	d.report("ok", fmt.Sprintf("profile %q: %s from %s; mfa_serial %s", name, strings.Join(steps, " → "), pl.Source, p.MFASerial), "")
	if short := pl.ShortSession(); short != "" {
		d.report("warn", fmt.Sprintf("profile %q: %s", name, short), "set duration_seconds = 3600 (the default) in the role's profile unless the role must be short-lived")
	}
	return p
}

func (d *doctor) account(ctx context.Context, p *awsconfig.Profile) {
	spec := d.a.deviceSpec(p.Device)
	dev, err := d.a.openDevice(ctx, spec)
	if err != nil {
		d.report("fail", fmt.Sprintf("device %s: %v", spec, err), "set mfabridge_device in the profile, --device, or MFABRIDGE_DEVICE")
		return
	}
	defer dev.Close()
	if dev.Info().Kind == "process" { // no accounts; running it would spend a code
		d.report("ok", fmt.Sprintf("codes for %s come from %s (not run by doctor)", p.MFASerial, dev.Info()), "")
		return
	}
	names, err := accountNames(ctx, dev)
	if info := dev.Info(); err != nil && info.Kind == "yubikey" && info.Reader == "" {
		// The key was not found: discovery runs in the first operation.
		d.report("fail", fmt.Sprintf("device %s: %v", spec, err), "set mfabridge_device in the profile, --device, or MFABRIDGE_DEVICE")
		return
	}
	if err != nil {
		d.report("fail", fmt.Sprintf("%s: %v", dev.Info(), err), hintsLine(err))
		return
	}
	if p.Account != "" {
		for _, n := range names {
			if n == p.Account {
				d.report("ok", fmt.Sprintf("%s holds mfabridge_account %q", dev.Info(), p.Account), "")
				return
			}
		}
		d.report("fail", fmt.Sprintf("%s has no account %q (it holds: %s)", dev.Info(), p.Account, strings.Join(names, ", ")), "fix mfabridge_account, or add the account with `mfabridge accounts add`")
		return
	}
	_, why, err := device.MatchAccount(p.MFASerial, names)
	if err != nil {
		d.report("fail", fmt.Sprintf("%s: %v", dev.Info(), err), "set mfabridge_account = NAME in the profile")
		return
	}
	d.report("ok", fmt.Sprintf("%s: %s", dev.Info(), why), "")
}

// skew compares the STS endpoint's Date header with the local clock: TOTP
// codes depend on it.
func (d *doctor) skew(ctx context.Context, p *awsconfig.Profile) {
	endpoint := p.Endpoint
	if endpoint == "" {
		endpoint = "https://sts." + p.Region + ".amazonaws.com"
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader("Action=GetCallerIdentity&Version=2011-06-15"))
	if err != nil {
		d.report("warn", "clock: bad STS endpoint "+endpoint, "")
		return
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	before := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		d.report("warn", fmt.Sprintf("clock: could not reach %s to compare clocks: %v", endpoint, err), "")
		return
	}
	resp.Body.Close()
	server, err := http.ParseTime(resp.Header.Get("Date"))
	if err != nil {
		d.report("warn", "clock: "+endpoint+" sent no Date header", "")
		return
	}
	local := before.Add(time.Since(before) / 2)
	skew := local.Sub(server).Round(time.Second)
	if skew < 0 {
		skew = -skew
	}
	if skew > 30*time.Second {
		d.report("fail", fmt.Sprintf("clock: this machine is %s off %s; TOTP codes will be rejected", skew, endpoint), "sync the clock (timedatectl set-ntp true, or chronyc makestep)")
		return
	}
	d.report("ok", fmt.Sprintf("clock: within %s of %s", skew, endpoint), "")
}

// cache checks the cache directory and its files the way the credential
// cache does (internal/securefile): Unix mode and owner, or on Windows the
// owner SID and the DACL; never a link or a junction.
func (d *doctor) cache() {
	dir, err := sts.DefaultCacheDir(d.a.getenv)
	if err != nil {
		d.report("fail", "cache: "+err.Error(), "set MFABRIDGE_CACHE_DIR")
		return
	}
	err = securefile.CheckDir(dir, sts.IsCacheFile)
	fix := cacheDirAdvice(err) // hints.go: what an error would advise
	switch {
	case errors.Is(err, fs.ErrNotExist):
		d.report("ok", "cache "+dir+" does not exist yet (it is created private to you)", "")
		return
	case errors.Is(err, securefile.ErrLink):
		d.report("fail", "cache "+err.Error()+": it could send cached credentials elsewhere", fix)
		return
	case errors.Is(err, securefile.ErrForeign):
		d.report("fail", "cache "+err.Error()+": its owner could read or plant credentials", fix)
		return
	case errors.Is(err, securefile.ErrShared):
		// Issue 13 case 1: never advise chmod of a folder others use.
		d.report("fail", "cache "+err.Error()+": mfabridge will not use or change a folder others share", fix)
		return
	case errors.Is(err, securefile.ErrNotPrivate):
		d.report("fail", "cache "+err.Error()+": others can read cached credentials", fix)
		return
	case err != nil:
		if fix == "" {
			fix = "set MFABRIDGE_CACHE_DIR to a folder of your own"
		}
		d.report("fail", "cache: "+err.Error(), fix)
		return
	}
	loose := 0
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		err := securefile.Check(filepath.Join(dir, e.Name()))
		var se *securefile.Error
		if errors.As(err, &se) {
			loose++
		}
	}
	if loose > 0 {
		d.report("warn", fmt.Sprintf("cache %s: %d file(s) not private to you or not plain files (mfabridge ignores and replaces them)", dir, loose), "remove them from "+dir)
		return
	}
	d.report("ok", fmt.Sprintf("cache %s: private to you, %d entries", dir, len(entries)), "")
}

// credentialProcess checks every credential_process line that runs mfabridge.
func (d *doctor) credentialProcess(cfg *awsconfig.Config) {
	self, _ := os.Executable()
	self, _ = filepath.EvalSymlinks(self)
	for _, name := range cfg.Names() {
		line, ok := cfg.Value(name, "credential_process")
		if !ok || !awsconfig.IsSelfCommand(line) {
			continue
		}
		words := strings.Fields(line)
		bin := ""
		for i, w := range words {
			if filepath.Base(w) == "mfabridge" {
				bin = w
				words = words[i+1:]
				break
			}
		}
		path, err := exec.LookPath(bin)
		if err != nil {
			d.report("fail", fmt.Sprintf("profile %q: credential_process runs %q, which is not an executable: %v", name, bin, err), "use the full path of this binary: "+self)
			continue
		}
		if real, _ := filepath.EvalSymlinks(path); self != "" && real != self {
			d.report("warn", fmt.Sprintf("profile %q: credential_process runs %s, not this mfabridge (%s)", name, path, self), "point it at the binary you keep up to date")
		}
		if len(words) >= 2 && words[0] == "credential-process" {
			target := words[1]
			if target == name {
				d.report("fail", fmt.Sprintf("profile %q: its credential_process asks mfabridge for the same profile (endless loop)", name), "give mfabridge the profile holding role_arn and mfa_serial, not this one")
				continue
			}
			if _, err := cfg.Resolve(target); err != nil {
				d.report("fail", fmt.Sprintf("profile %q: credential_process asks for profile %q: %v", name, target, err), hintsLine(err))
				continue
			}
		}
		d.report("ok", fmt.Sprintf("profile %q: credential_process = %s", name, line), "")
	}
}
