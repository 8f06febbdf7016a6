package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	awssts "github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/spf13/cobra"

	"github.com/mfabridge/mfabridge/sts"
	"github.com/mfabridge/mfabridge/sts/awsconfig"
	"github.com/mfabridge/mfabridge/sts/awsconfig/configfile"
	"github.com/mfabridge/mfabridge/sts/keystore"
)

// Where a source profile's long-term access key lives (issue 11):
// mfabridge_keys = keyring | age | piv:SERIAL in its config section, else
// the plaintext credentials file. The keys commands move keys between
// stores; the credentials provider reads a stored key through
// sts.WithSourceKeys (sourceKeys below) only when an STS call needs it.

// storeCredentialsFile names the plaintext credentials file in messages and
// `keys list` (it has no mfabridge_keys value).
const storeCredentialsFile = "credentials-file"

// configDir is mfabridge's configuration folder: MFABRIDGE_CONFIG_DIR, else
// the system's user configuration folder + "mfabridge" (as
// os.UserConfigDir finds it, from our environment):
//
//   - Windows: %AppData%\mfabridge
//   - macOS: $HOME/Library/Application Support/mfabridge
//   - others: $XDG_CONFIG_HOME/mfabridge (if absolute), else $HOME/.config/mfabridge
func configDir(goos string, getenv func(string) string) (string, error) {
	if d := getenv("MFABRIDGE_CONFIG_DIR"); d != "" {
		return d, nil
	}
	switch goos {
	case "windows":
		if d := getenv("AppData"); d != "" {
			return filepath.Join(d, "mfabridge"), nil
		}
		return "", errors.New("config dir: neither MFABRIDGE_CONFIG_DIR nor AppData is set")
	case "darwin", "ios":
		if h := getenv("HOME"); h != "" {
			return filepath.Join(h, "Library", "Application Support", "mfabridge"), nil
		}
	default:
		if d := getenv("XDG_CONFIG_HOME"); d != "" && filepath.IsAbs(d) {
			return filepath.Join(d, "mfabridge"), nil
		}
		if h := getenv("HOME"); h != "" {
			return filepath.Join(h, ".config", "mfabridge"), nil
		}
	}
	return "", errors.New("config dir: neither MFABRIDGE_CONFIG_DIR nor HOME is set")
}

// keysDir is where the file-based stores keep their files (kind "age" or
// "piv").
func (a *app) keysDir(kind string) (string, error) {
	d, err := configDir(runtime.GOOS, a.getenv)
	if err != nil {
		return "", err
	}
	return filepath.Join(d, "keys", kind), nil
}

// agePassphrase is the passphrase of the age-file store: from
// MFABRIDGE_KEYRING_PASSPHRASE, else asked on the terminal (twice when it
// will encrypt). It is kept in memory for the rest of the process, so one
// command asks once.
func (a *app) agePassphrase(ctx context.Context, confirm bool) (string, error) {
	if a.keyPass != "" {
		return a.keyPass, nil
	}
	if p := a.getenv("MFABRIDGE_KEYRING_PASSPHRASE"); p != "" {
		a.keyPass = p
		return p, nil
	}
	p, err := a.term.readSecret(ctx, "mfabridge: passphrase of the encrypted key file: ")
	if err != nil {
		return "", fmt.Errorf("read passphrase: %w", err) // keyHint advises
	}
	if confirm {
		again, err := a.term.readSecret(ctx, "mfabridge: the same passphrase again: ")
		if err != nil {
			return "", err
		}
		if again != p {
			return "", errors.New("read passphrase: the two passphrases differ; nothing was stored")
		}
	}
	a.keyPass = p
	return p, nil
}

// pivPIN is the PIV PIN for the card opener: MFABRIDGE_PIV_PIN (CI), else
// asked on the terminal once per process and key (import checks it, then
// reads the sealed file back).
func (a *app) pivPIN(ctx context.Context, serial uint32) (string, error) {
	if p := a.getenv("MFABRIDGE_PIV_PIN"); p != "" {
		return p, nil
	}
	if p, ok := a.pivPINs[serial]; ok {
		return p, nil
	}
	p, err := a.term.readSecret(ctx, fmt.Sprintf("mfabridge: PIV PIN of YubiKey %d: ", serial))
	if errors.Is(err, errNoTerminal) {
		a.pivPINNotice(serial) // notify.go
	}
	if err != nil {
		return "", fmt.Errorf("read PIV PIN: %w", err) // keyHint advises
	}
	if a.pivPINs == nil {
		a.pivPINs = map[uint32]string{}
	}
	a.pivPINs[serial] = p
	return p, nil
}

// forgetPIVPIN drops a PIN the card refused, so the next try asks again.
func (a *app) forgetPIVPIN(serial uint32) { delete(a.pivPINs, serial) }

// unattestedTestCard is a test's software card (keys_piv_test.go): it has
// no attestation to check, and says so, so that no other card that cannot
// be checked is sealed to.
type unattestedTestCard interface{ unattestedTestCard() }

// openPIVCard is the PIV client's plug point: find the card with serial,
// open one session on it with the PIN from pivPIN (as its policy asks) and
// return it as a keystore.Card (keys_piv_card.go; tests swap it).
var openPIVCard = openPIVCardDevice

// pivSlot is the slot `keys import/add --to piv:SERIAL` seals to unless
// --slot says otherwise.
const pivSlot = 0x9d

// pivUse says how keyStore reaches and checks a PIV card.
type pivUse struct {
	// seal: the store will be written; the PIV store then reads the
	// recipient key from the card and checks its attestation.
	seal bool
	// trustSim (--trust-simulator-attestation): accept a simulated
	// YubiKey's attestation chain, which Yubico's roots refuse.
	trustSim bool
	// devices are the device settings (mfabridge_device) of the profiles
	// involved: a sim:PATH among them is where piv:SERIAL may live.
	devices []string
	// slot is the PIV slot to seal to (9d or 82-95); 0: 9d.
	slot byte
}

// keyStore returns the store an mfabridge_keys value names ("" is the
// credentials file of cfg; cfg may be nil for the other stores).
func (a *app) keyStore(ctx context.Context, cfg *awsconfig.Config, spec string, use pivUse) (keystore.Store, error) {
	opts := []keystore.Option{keystore.WithLogger(a.log)}
	if spec == "" || spec == storeCredentialsFile {
		if cfg == nil {
			return nil, errors.New("key store: no credentials file")
		}
		return keystore.NewCredentialsFile(cfg.CredentialsFile, opts...), nil
	}
	kind, serial, err := awsconfig.ParseKeyStore(spec)
	if err != nil {
		return nil, err
	}
	switch kind {
	case awsconfig.KeyStoreKeyring:
		return keystore.NewKeyring(nil, opts...), nil
	case awsconfig.KeyStoreAge:
		dir, err := a.keysDir("age")
		if err != nil {
			return nil, err
		}
		return keystore.NewAgeFile(dir, a.agePassphrase, opts...), nil
	default: // piv
		// The card's touch and PIN notices follow MFABRIDGE_NOTIFY:
		// checked here as openDevice checks it for the OATH path.
		if _, err := a.notifyMode(); err != nil {
			return nil, err
		}
		dir, err := a.keysDir("piv")
		if err != nil {
			return nil, err
		}
		opener := func(ctx context.Context, serial uint32) (keystore.Card, func() error, error) {
			return openPIVCard(a, ctx, serial, use.devices)
		}
		var rcpt *keystore.Recipient
		if use.seal {
			slot := use.slot
			if slot == 0 {
				slot = pivSlot
			}
			card, closeCard, err := opener(ctx, serial)
			if errors.Is(err, keystore.ErrNotFound) {
				return nil, hintError{fmt.Errorf("PIV card %d: %w", serial, err),
					fmt.Sprintf("insert YubiKey %d (a simulated one: MFABRIDGE_DEVICE=sim:PATH, or the profile's mfabridge_device = sim:PATH), or name the serial of the key present: `mfabridge devices` lists them", serial)}
			}
			if err != nil {
				return nil, keyHint(err, "", spec)
			}
			pub, err := card.PublicKey(ctx, slot)
			if errors.Is(err, keystore.ErrNotFound) {
				closeCard()
				return nil, hintError{err,
					fmt.Sprintf("generate one first: %s (a simulated key: mfabridge sim piv-generate PATH --slot %02x)", ykmanPIVGenerate(serial, slot), slot)}
			}
			if err != nil {
				closeCard()
				return nil, fmt.Errorf("PIV card %d: read the key of slot %02x: %w", serial, slot, err)
			}
			switch pc := card.(type) {
			case *keystore.PIVCard:
				// The key must be one a YubiKey made (or a simulated
				// one the user trusts): checked before anything is sealed.
				if err := a.checkAttestation(ctx, pc, slot, use.trustSim); err != nil {
					closeCard()
					return nil, err
				}
				// The store reads the sealed file back: a missing, wrong
				// or blocked PIN fails here, before anything is written.
				if err := pc.CheckPIN(ctx, slot); err != nil {
					closeCard()
					return nil, keyHint(err, "", spec)
				}
			case unattestedTestCard: // keys_piv_test.go's software card
			default:
				closeCard()
				return nil, fmt.Errorf("PIV card %d: cannot check where the key of slot %02x was made (a %T, not a PIV card)", serial, slot, card)
			}
			closeCard()
			rcpt = &keystore.Recipient{Serial: serial, Slot: slot, PublicKey: pub}
		}
		return keystore.NewPIVStore(dir, rcpt, opener, opts...)
	}
}

// sourceKeys returns the provider's sts.WithSourceKeys function: the
// source profile's key from the store its mfabridge_keys names, in memory
// only. device is the profile's mfabridge_device (where a piv:SERIAL
// store may find a simulated key).
func (a *app) sourceKeys(device string) sts.SourceKeysFunc {
	return func(ctx context.Context, src awsconfig.Source) (aws.Credentials, error) {
		return a.readSourceKeys(ctx, src, device)
	}
}

func (a *app) readSourceKeys(ctx context.Context, src awsconfig.Source, device string) (aws.Credentials, error) {
	st, err := a.keyStore(ctx, nil, src.KeyStore, pivUse{devices: []string{device}})
	if err != nil {
		return aws.Credentials{}, err
	}
	k, err := st.Get(ctx, src.Profile)
	if err != nil {
		return aws.Credentials{}, keyHint(err, src.Profile, src.KeyStore)
	}
	return aws.Credentials{AccessKeyID: k.AccessKeyID, SecretAccessKey: k.SecretAccessKey, SessionToken: k.SessionToken, Source: "mfabridge " + src.KeyStore}, nil
}

// keyHint adds the advice for a store's failures that depends on the
// profile or the store: no key stored for the profile, no terminal to ask
// for the passphrase or PIN on. The store's other typed failures get
// theirs from hintsFor (hints.go), wherever they are reported.
func keyHint(err error, profile, store string) error {
	switch {
	case errors.Is(err, keystore.ErrNotFound):
		return hintError{err, fmt.Sprintf("profile %q says mfabridge_keys = %s, but that store has no key for it: `mfabridge keys import %s --to %s` moves it from the credentials file, `mfabridge keys add %s --to %s` stores a new one", profile, store, profile, store, profile, store)}
	case errors.Is(err, errNoTerminal) && strings.HasPrefix(store, awsconfig.KeyStoreAge):
		return hintError{err, "set MFABRIDGE_KEYRING_PASSPHRASE, or run mfabridge where it can ask on a terminal"}
	case errors.Is(err, errNoTerminal) && strings.HasPrefix(store, awsconfig.KeyStorePIV):
		return hintError{err, "set MFABRIDGE_PIV_PIN, or run mfabridge where it can ask on a terminal"}
	}
	return err
}

// profileStore is where a profile's key is now: its mfabridge_keys, else
// the credentials file.
func profileStore(cfg *awsconfig.Config, profile string) string {
	if v, ok := cfg.Value(profile, awsconfig.KeysKey); ok && v != "" {
		return v
	}
	return ""
}

func storeName(spec string) string {
	if spec == "" {
		return storeCredentialsFile
	}
	return spec
}

// setProfileStore writes mfabridge_keys = spec into the profile's section
// of the config file (every other byte kept).
func setProfileStore(cfg *awsconfig.Config, profile, spec string) error {
	data, err := os.ReadFile(cfg.ConfigFile)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("set %s of profile %q: %w", awsconfig.KeysKey, profile, err)
	}
	out, err := awsconfig.SetProfileKeys(data, profile, []awsconfig.Setting{{Key: awsconfig.KeysKey, Value: spec}})
	if err != nil {
		return err
	}
	if err := configfile.Write(cfg.ConfigFile, out); err != nil {
		return fmt.Errorf("set %s of profile %q: %w", awsconfig.KeysKey, profile, err)
	}
	return nil
}

// clearProfileStore deletes the mfabridge_keys line from the profile's
// section of the config file (every other byte kept), so the profile reads
// its key from the credentials file again.
func clearProfileStore(cfg *awsconfig.Config, profile string) error {
	data, err := os.ReadFile(cfg.ConfigFile)
	if err != nil {
		return fmt.Errorf("remove %s of profile %q: %w", awsconfig.KeysKey, profile, err)
	}
	out, n, err := awsconfig.RemoveProfileKeys(data, profile, awsconfig.KeysKey)
	if err != nil || n == 0 {
		return err
	}
	if err := configfile.Write(cfg.ConfigFile, out); err != nil {
		return fmt.Errorf("remove %s of profile %q: %w", awsconfig.KeysKey, profile, err)
	}
	return nil
}

// destFlags are the flags of the commands that store a key somewhere new
// (keys import, keys add): --to, --slot and --trust-simulator-attestation.
type destFlags struct {
	to       string
	trustSim bool
	slotFlag string
	slot     byte // parsed slotFlag
}

func (d *destFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&d.to, "to", awsconfig.KeyStoreKeyring, "store: keyring, age or piv:SERIAL")
	cmd.Flags().BoolVar(&d.trustSim, trustSimFlag, false, trustSimUsage)
	cmd.Flags().StringVar(&d.slotFlag, "slot", "9d", "with --to piv:SERIAL: the PIV slot whose P-256 key seals it, 9d or a retired slot 82..95")
}

// parse validates --to (the credentials file is no destination) and --slot.
func (d *destFlags) parse() error {
	if _, _, err := awsconfig.ParseKeyStore(d.to); err != nil {
		return usageError{fmt.Errorf("--to: %w", err)}
	}
	slot, err := parseSealSlot(d.slotFlag)
	d.slot = slot
	return err
}

// pivUse is how the destination store of profile is opened.
func (d *destFlags) pivUse(cfg *awsconfig.Config, profile string) pivUse {
	return pivUse{seal: true, trustSim: d.trustSim, devices: profileDevices(cfg, profile), slot: d.slot}
}

func (a *app) keysCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "keys",
		Short: "Keep source profiles' long-term access keys out of ~/.aws/credentials (OS keystore, age file, PIV-sealed)",
		Long: `keys moves a source profile's long-term access key out of the plaintext
credentials file into a store, named by mfabridge_keys in the profile's
section of ~/.aws/config:

  keyring      the OS keystore (Secret Service, macOS Keychain, Windows Credential Manager)
  age          an age file encrypted to a passphrase (MFABRIDGE_KEYRING_PASSPHRASE or asked)
  piv:SERIAL   a file sealed to a P-256 key in slot 9d (or a retired slot: --slot) of that YubiKey (PIN: MFABRIDGE_PIV_PIN or asked)

mfabridge reads the key only when an STS call needs it: once per MFA session.`,
	}
	cmd.AddCommand(a.keysImportCmd(), a.keysAddCmd(), a.keysListCmd(), a.keysRemoveCmd(), a.keysRotateCmd())
	return cmd
}

const trustSimFlag = "trust-simulator-attestation"

const trustSimUsage = "accept a simulated YubiKey's PIV attestation (mfabridge sim), which Yubico's roots refuse"

// trustSimHelp ends the help of the commands that seal to a PIV key.
const trustSimHelp = `

With --to piv:SERIAL the key in the slot (--slot, default 9d) must be attested: its attestation
certificate (if the card has one: not for an imported key, nor before
firmware 4.3) must chain to Yubico's PIV attestation root and name this
serial, that slot and this public key, so a software key cannot pose as a
YubiKey. A simulated YubiKey (mfabridge sim) attests with a root of its own:
it is accepted only with --trust-simulator-attestation.`

func (a *app) keysImportCmd() *cobra.Command {
	var dest destFlags
	cmd := &cobra.Command{
		Use:   "import PROFILE [--to keyring|age|piv:SERIAL]",
		Short: "Move a profile's access key from where it is (usually ~/.aws/credentials) into a store",
		Long: `import moves the profile's key into the store: it is written there, read
back and compared, then removed from the credentials file (every other byte
of that file is kept; no backup copy is written), and mfabridge_keys is set
in the profile's section of the config file.` + trustSimHelp,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, argv []string) error {
			ctx := cmd.Context()
			profile, to := argv[0], dest.to
			if err := dest.parse(); err != nil {
				return err
			}
			cfg, err := awsconfig.LoadProfiles(a.getenv)
			if err != nil {
				return err
			}
			from := profileStore(cfg, profile)
			if from == to {
				if k, err := keystore.NewCredentialsFile(cfg.CredentialsFile).Get(ctx, profile); err == nil {
					return fmt.Errorf("import key of %s: mfabridge_keys is %s already, yet %s still holds key %s: remove its lines by hand after checking which key is current (`mfabridge keys list`)", profile, to, cfg.CredentialsFile, k.AccessKeyID)
				}
				return fmt.Errorf("import key of %s: its key is in %s already", profile, to)
			}
			src, err := a.keyStore(ctx, cfg, from, pivUse{devices: profileDevices(cfg, profile)})
			if err != nil {
				return err
			}
			if _, err := src.Get(ctx, profile); err != nil {
				if errors.Is(err, keystore.ErrNotFound) && from == "" {
					return hintError{fmt.Errorf("import key of %s: %w", profile, err),
						fmt.Sprintf("%s has no aws_access_key_id in section [%s]; `mfabridge keys add %s --to %s` stores a key given on standard input", cfg.CredentialsFile, profile, profile, to)}
				}
				return keyHint(fmt.Errorf("import key of %s: %w", profile, err), profile, storeName(from))
			}
			dst, err := a.keyStore(ctx, cfg, to, dest.pivUse(cfg, profile))
			if err != nil {
				return err
			}
			if err := keystore.Move(ctx, src, dst, profile); err != nil {
				return keyHint(err, profile, to)
			}
			if err := setProfileStore(cfg, profile, to); err != nil {
				// Put the key back where mfabridge will look for it.
				if berr := keystore.Move(ctx, dst, src, profile); berr != nil {
					return fmt.Errorf("%w; moving the key back to %s failed too: %w (the key is in %s: set %s = %s in [profile %s] by hand)", err, storeName(from), berr, to, awsconfig.KeysKey, to, profile)
				}
				return fmt.Errorf("%w (the key was moved back to %s)", err, storeName(from))
			}
			fmt.Fprintf(a.stderr, "mfabridge: moved the access key of %s from %s to %s; %s = %s set in %s\n", profile, storeName(from), to, awsconfig.KeysKey, to, cfg.ConfigFile)
			return nil
		},
	}
	dest.register(cmd)
	return cmd
}

func (a *app) keysAddCmd() *cobra.Command {
	var dest destFlags
	cmd := &cobra.Command{
		Use:   "add PROFILE [--to keyring|age|piv:SERIAL]",
		Short: "Store an access key read from standard input (key id, then secret, one per line) for a profile",
		Long: `add reads the access key id and the secret access key from standard input,
one per line (on a terminal it asks for each, the secret without echo), never
from the command line. It stores them and sets mfabridge_keys on the
profile.` + trustSimHelp,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, argv []string) error {
			ctx := cmd.Context()
			profile, to := argv[0], dest.to
			if err := dest.parse(); err != nil {
				return err
			}
			cfg, err := awsconfig.LoadProfiles(a.getenv)
			if err != nil {
				return err
			}
			if k, err := keystore.NewCredentialsFile(cfg.CredentialsFile).Get(ctx, profile); err == nil {
				return hintError{fmt.Errorf("add key of %s: %s holds key %s for it", profile, cfg.CredentialsFile, k.AccessKeyID),
					fmt.Sprintf("`mfabridge keys import %s --to %s` moves that key instead", profile, to)}
			}
			k, err := a.readKey(ctx)
			if err != nil {
				return err
			}
			dst, err := a.keyStore(ctx, cfg, to, dest.pivUse(cfg, profile))
			if err != nil {
				return err
			}
			if err := dst.Put(ctx, profile, k); err != nil {
				return keyHint(fmt.Errorf("add key of %s: %w", profile, err), profile, to)
			}
			if profileStore(cfg, profile) != to {
				if err := setProfileStore(cfg, profile, to); err != nil {
					return err
				}
			}
			fmt.Fprintf(a.stderr, "mfabridge: stored access key %s of %s in %s\n", k.AccessKeyID, profile, to)
			return nil
		},
	}
	dest.register(cmd)
	return cmd
}

// readKey reads a key id and secret from standard input (two lines), or on
// a terminal asks for each.
func (a *app) readKey(ctx context.Context) (keystore.Key, error) {
	var id, secret string
	var err error
	if isTerminal(a.stdin) {
		fmt.Fprint(a.stderr, "mfabridge: access key id: ")
		if id, err = readLine(a.stdin); err != nil {
			return keystore.Key{}, fmt.Errorf("read access key id: %w", err)
		}
		if secret, err = a.term.readSecret(ctx, "mfabridge: secret access key: "); err != nil {
			return keystore.Key{}, fmt.Errorf("read secret access key: %w", err)
		}
	} else {
		b, err := io.ReadAll(io.LimitReader(a.stdin, 16<<10))
		if err != nil {
			return keystore.Key{}, fmt.Errorf("read key from standard input: %w", err)
		}
		lines := strings.Fields(string(b))
		if len(lines) != 2 {
			return keystore.Key{}, usageError{fmt.Errorf("read key from standard input: got %d word(s), want 2: the access key id and the secret access key, one per line", len(lines))}
		}
		id, secret = lines[0], lines[1]
	}
	return keystore.Key{AccessKeyID: strings.TrimSpace(id), SecretAccessKey: strings.TrimSpace(secret)}, nil
}

func (a *app) keysListCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List stored access keys: profile, store, key id and age (never the secret)",
		Args:  args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			cfg, err := awsconfig.LoadProfiles(a.getenv)
			if err != nil {
				return err
			}
			// The file stores always; the OS keystore and PIV files only when a
			// profile names them (a server has no Secret Service to ask).
			specs := map[string]bool{"": true, awsconfig.KeyStoreAge: true}
			for _, n := range cfg.Names() {
				if v := profileStore(cfg, n); v != "" {
					if _, _, err := awsconfig.ParseKeyStore(v); err == nil {
						specs[v] = true
					}
				}
			}
			type row struct {
				keystore.Entry
				store string
			}
			var rows []row
			seenPIVDir := false
			for _, spec := range sortedKeys(specs) {
				if strings.HasPrefix(spec, awsconfig.KeyStorePIV+":") {
					if seenPIVDir {
						continue // one directory holds every card's files
					}
					seenPIVDir = true
				}
				st, err := a.keyStore(ctx, cfg, spec, pivUse{})
				if err != nil {
					return err
				}
				entries, err := st.List(ctx)
				if err != nil {
					return keyHint(fmt.Errorf("list %s: %w", storeName(spec), err), "", storeName(spec))
				}
				for _, e := range entries {
					name := storeName(spec)
					// The PIV directory holds every card's files: name the
					// card the profile says (not the first card listed).
					if v := profileStore(cfg, e.Profile); strings.HasPrefix(spec, awsconfig.KeyStorePIV+":") && strings.HasPrefix(v, awsconfig.KeyStorePIV+":") {
						name = v
					}
					rows = append(rows, row{e, name})
				}
			}
			sort.SliceStable(rows, func(i, j int) bool { return rows[i].Profile < rows[j].Profile })
			tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "PROFILE\tSTORE\tACCESS KEY ID\tAGE")
			now := time.Now()
			for _, r := range rows {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.Profile, r.store, r.AccessKeyID, keyAge(now, r.Created))
			}
			return tw.Flush()
		},
	}
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// keyAge renders how old a key is ("-" when the store does not know).
func keyAge(now, created time.Time) string {
	if created.IsZero() {
		return "-"
	}
	d := now.Sub(created)
	switch {
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}

func (a *app) keysRemoveCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "remove PROFILE",
		Short: "Delete a profile's access key from the store its mfabridge_keys names",
		Long: `remove deletes the key from the profile's store and the mfabridge_keys line
from the profile's section of the config file (every other byte kept). IAM is
not touched: the key still exists there until you delete it, e.g. with aws
iam delete-access-key.`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, argv []string) error {
			ctx := cmd.Context()
			profile := argv[0]
			cfg, err := awsconfig.LoadProfiles(a.getenv)
			if err != nil {
				return err
			}
			spec := profileStore(cfg, profile)
			st, err := a.keyStore(ctx, cfg, spec, pivUse{})
			if err != nil {
				return err
			}
			if err := st.Delete(ctx, profile); err != nil {
				if errors.Is(err, keystore.ErrNotFound) {
					return fmt.Errorf("remove key of %s: %s holds no key for it: %w", profile, storeName(spec), err)
				}
				return keyHint(fmt.Errorf("remove key of %s: %w", profile, err), profile, storeName(spec))
			}
			fmt.Fprintf(a.stderr, "mfabridge: removed the access key of %s from %s\n", profile, storeName(spec))
			if spec != "" {
				if err := clearProfileStore(cfg, profile); err != nil {
					return err
				}
				fmt.Fprintf(a.stderr, "mfabridge: removed %s = %s from %s\n", awsconfig.KeysKey, spec, cfg.ConfigFile)
			}
			return nil
		},
	}
}

// rotateStepHook, when set, runs after each completed step of `keys
// rotate`; an error stops the rotation there as a crash would (the
// journal is saved). Only tests set it (keys_rotate_test.go).
var rotateStepHook func(keystore.RotateStep) error

func (a *app) keysRotateCmd() *cobra.Command {
	var trustSim bool
	cmd := &cobra.Command{
		Use:   "rotate PROFILE",
		Short: "Replace a profile's access key through IAM, never leaving it without a working key",
		Long: `rotate creates a new access key for the IAM user (with an MFA session from
the profile's mfa_serial, or from a profile using it as source_profile),
stores it where the old one was, checks it with GetCallerIdentity, then
deactivates and deletes the old key. Progress is journaled in the cache
folder (never the secret): if rotate is interrupted, run it again to finish.
A piv:SERIAL store checks the card key's attestation again before sealing the
new key (see keys import --help).`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, argv []string) error {
			ctx := cmd.Context()
			profile := argv[0]
			cfg, err := awsconfig.LoadProfiles(a.getenv)
			if err != nil {
				return err
			}
			p, err := a.sessionProfile(cfg, profile)
			if err != nil {
				return err
			}
			spec := profileStore(cfg, profile)
			use := pivUse{trustSim: trustSim, devices: profileDevices(cfg, profile)}
			if strings.HasPrefix(spec, awsconfig.KeyStorePIV) {
				// The new key is sealed to the slot the old one was.
				cur, err := a.keyStore(ctx, cfg, spec, pivUse{})
				if err != nil {
					return err
				}
				ps, ok := cur.(*keystore.PIVStore)
				if !ok {
					return fmt.Errorf("rotate key of %s: %s is not a sealed-key store (%T)", profile, spec, cur)
				}
				h, err := ps.Header(profile)
				if err != nil {
					return keyHint(fmt.Errorf("rotate key of %s: %w", profile, err), profile, spec)
				}
				use.seal, use.slot = true, h.Slot
			}
			st, err := a.keyStore(ctx, cfg, spec, use)
			if err != nil {
				return err
			}
			dir, err := sts.DefaultCacheDir(a.getenv)
			if err != nil {
				return err
			}
			session := func(ctx context.Context) (aws.Credentials, error) {
				pr, ts, err := a.provider(p)
				if err != nil {
					return aws.Credentials{}, err
				}
				defer ts.close()
				c, err := pr.Credentials(ctx)
				if err != nil {
					return aws.Credentials{}, err
				}
				return aws.Credentials{AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey, SessionToken: c.SessionToken}, nil
			}
			// The clients' own credentials are never used: the rotator signs
			// each call with the MFA session or the key it checks.
			none := credentials.NewStaticCredentialsProvider("AKIANOTUSED000000000", "unused", "")
			iamOpts := iam.Options{Region: p.Region, Credentials: none, RetryMaxAttempts: 1}
			if p.IAMEndpoint != "" {
				iamOpts.BaseEndpoint = aws.String(p.IAMEndpoint)
			}
			so := awssts.Options{Region: p.Region, Credentials: none, RetryMaxAttempts: 1}
			if p.Endpoint != "" {
				so.BaseEndpoint = aws.String(p.Endpoint)
			}
			if _, err := os.Stat(keystore.KeyJournalPath(dir, profile)); err == nil {
				a.term.notice("resuming an interrupted access-key rotation of profile " + profile)
			}
			ropts := []keystore.Option{keystore.WithLogger(a.log)}
			if rotateStepHook != nil {
				ropts = append(ropts, keystore.WithStepHook(rotateStepHook))
			}
			rot := keystore.NewKeyRotator(st, iam.New(iamOpts), awssts.New(so), session, dir, ropts...)
			res, err := rot.Rotate(ctx, profile)
			if err != nil {
				return keyHint(err, profile, storeName(spec))
			}
			fmt.Fprintln(a.stdout, res.NewKeyID)
			for _, k := range res.Removed {
				fmt.Fprintf(a.stderr, "mfabridge: deleted key %s left by an interrupted rotation\n", k)
			}
			fmt.Fprintf(a.stderr, "mfabridge: access key of %s (IAM user %s) rotated: %s is stored in %s and works; %s deactivated and deleted\n",
				profile, res.User, res.NewKeyID, storeName(spec), res.OldKeyID)
			return nil
		},
	}
	cmd.Flags().BoolVar(&trustSim, trustSimFlag, false, trustSimUsage)
	return cmd
}

// parseSealSlot reads --slot: 9d or a retired slot 82..95 (hex).
func parseSealSlot(v string) (byte, error) {
	n, err := strconv.ParseUint(v, 16, 8)
	if err != nil || !keystore.ValidSealingSlot(byte(n)) {
		return 0, usageError{fmt.Errorf("--slot %q: want 9d or a retired slot 82..95", v)}
	}
	return byte(n), nil
}

// profileDevices are the device settings (mfabridge_device) of profile
// and of the profiles using it as their source: where its MFA codes come
// from, and so where a simulated PIV key may be named.
func profileDevices(cfg *awsconfig.Config, profile string) []string {
	var out []string
	add := func(d string) {
		if d != "" && !slices.Contains(out, d) {
			out = append(out, d)
		}
	}
	if p, err := cfg.ResolveSource(profile); err == nil {
		add(p.Device)
	}
	for _, n := range cfg.Names() {
		if q, err := cfg.ResolveSource(n); err == nil && q.Source.Profile == profile {
			add(q.Device)
		}
	}
	return out
}

// sessionProfile is the profile `keys rotate` gets its MFA session with:
// the source profile itself with its mfa_serial, else with the mfa_serial
// of a profile that uses it as source (the usual layout: the keys'
// profile has none, the role profiles do).
func (a *app) sessionProfile(cfg *awsconfig.Config, profile string) (*awsconfig.Profile, error) {
	p, err := cfg.ResolveSource(profile)
	if err != nil {
		return nil, err
	}
	if len(p.Roles) > 0 || p.Source.Profile != profile {
		return nil, usageError{fmt.Errorf("keys rotate: profile %q takes its keys from profile %q: rotate that one", profile, p.Source.Profile)}
	}
	if p.MFASerial == "" {
		for _, n := range cfg.Names() {
			q, err := cfg.Resolve(n)
			if err == nil && q.Source.Profile == profile && q.MFASerial != "" {
				p.MFASerial, p.Device, p.Account = q.MFASerial, q.Device, q.Account
				break
			}
		}
	}
	if p.MFASerial == "" {
		return nil, hintError{fmt.Errorf("keys rotate: profile %q: %w: IAM key changes need an MFA session", profile, awsconfig.ErrNoMFASerial),
			fmt.Sprintf("add mfa_serial to [profile %s]", profile)}
	}
	return p, nil
}

// loadSourceKeys fills a stored source key into p.Source for the commands
// that sign IAM calls with it directly (enroll, rotate of MFA devices).
func (a *app) loadSourceKeys(ctx context.Context, p *awsconfig.Profile) error {
	if p.Source.KeyStore == "" {
		return nil
	}
	c, err := a.readSourceKeys(ctx, p.Source, p.Device)
	if err != nil {
		return fmt.Errorf("read key of profile %q from %s: %w", p.Source.Profile, p.Source.KeyStore, err)
	}
	p.Source.AccessKeyID, p.Source.SecretAccessKey, p.Source.SessionToken = c.AccessKeyID, c.SecretAccessKey, c.SessionToken
	return nil
}

// plaintextKeys warns about every source profile whose long-term key, used
// with an mfa_serial, is still in the plaintext credentials file, and names
// the command that moves it.
func (d *doctor) plaintextKeys(cfg *awsconfig.Config) {
	users := map[string][]string{} // source profile → MFA profiles using it
	ids := map[string]string{}
	for _, n := range cfg.Names() {
		p, err := cfg.Resolve(n)
		if err != nil || p.MFASerial == "" || p.Source.KeyStore != "" || p.Source.CredentialSource != "" || !p.Source.LongTerm() {
			continue
		}
		users[p.Source.Profile] = append(users[p.Source.Profile], n)
		ids[p.Source.Profile] = p.Source.AccessKeyID
	}
	to := awsconfig.KeyStoreKeyring
	if runtime.GOOS != "windows" && runtime.GOOS != "darwin" && d.a.getenv("DBUS_SESSION_BUS_ADDRESS") == "" {
		to = awsconfig.KeyStoreAge // no Secret Service to talk to
	}
	for _, src := range sortedKeys(boolSet(users)) {
		d.report("warn", fmt.Sprintf("profile %q: long-term access key %s is in plaintext in %s (used with MFA by %s)",
			src, ids[src], cfg.CredentialsFile, strings.Join(users[src], ", ")),
			fmt.Sprintf("mfabridge keys import %s --to %s", src, to))
	}
}

func boolSet[V any](m map[string]V) map[string]bool {
	out := make(map[string]bool, len(m))
	for k := range m {
		out[k] = true
	}
	return out
}
