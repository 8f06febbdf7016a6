package awsconfig

import (
	"errors"
	"fmt"
	"io/fs"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/mfabridge/mfabridge/internal/ospath"
	"github.com/mfabridge/mfabridge/internal/regfile"
)

// Env looks up an environment variable. The CLI passes os.Getenv; tests pass
// a map. It is the only way this package learns about the environment.
type Env func(key string) string

// Profile-level errors. Resolve wraps them in a *ProfileError.
var (
	ErrUnknownProfile    = errors.New("unknown profile")
	ErrProfileCycle      = errors.New("source_profile cycle")
	ErrNoMFASerial       = errors.New("no mfa_serial")
	ErrNoSourceCreds     = errors.New("no source credentials")
	ErrRecursion         = errors.New("credential_process calls mfabridge")
	ErrBadProfileValue   = errors.New("bad profile value")
	ErrUnsupportedSource = errors.New("unsupported credential source")
	// ErrNoEnvironmentKeys: credential_source = Environment, and the
	// environment lacks the access key id or the secret. It wraps
	// ErrNoSourceCreds.
	ErrNoEnvironmentKeys error = &subError{"no source credentials in the environment", ErrNoSourceCreds}
)

// subError is a sentinel error that is a case of another (errors.Is finds
// both). It is built without fmt: package variables are initialised at
// every start, and the warm credential-process path runs after them.
type subError struct {
	msg string
	of  error
}

func (e *subError) Error() string { return e.msg }
func (e *subError) Unwrap() error { return e.of }

// ProfileError says which profile is wrong and why; Hint, when set, says
// what to do. The hint is not part of the message: a CLI shows it on a
// line of its own. (It stays a field, not a Hint() method, as callers
// construct ProfileErrors with it.)
type ProfileError struct {
	Profile string
	Err     error  // one of the Err* sentinels above, possibly wrapped
	Detail  string // human detail, may be empty
	Hint    string // "did you mean …", fix; may be empty
}

func (e *ProfileError) Error() string {
	s := fmt.Sprintf("profile %q: %v", e.Profile, e.Err)
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

func (e *ProfileError) Unwrap() error { return e.Err }

// Config holds the parsed AWS shared config and credentials files.
type Config struct {
	ConfigFile      string // path read (it may not exist)
	CredentialsFile string // path read (it may not exist)

	env    Env
	config *iniFile
	creds  *iniFile
}

// Defaults used when a profile does not say otherwise.
const (
	DefaultRoleDuration    = time.Hour
	DefaultSessionDuration = 12 * time.Hour
	// ChainLimit is the STS cap on AssumeRole called with session
	// credentials (role chaining, including GetSessionToken → AssumeRole).
	ChainLimit = time.Hour
	// MinRemaining is the least validity handed out; the AWS CLI refreshes
	// credentials with less than this left (notes §4).
	MinRemaining = 15 * time.Minute
)

// LoadProfiles reads the shared config (AWS_CONFIG_FILE, else
// ~/.aws/config) and credentials (AWS_SHARED_CREDENTIALS_FILE, else
// ~/.aws/credentials) files, ~ being $HOME (%USERPROFILE% on Windows).
// Missing files are not an error; unreadable or malformed ones are.
func LoadProfiles(env Env) (*Config, error) {
	if env == nil {
		env = func(string) string { return "" }
	}
	c := &Config{env: env}
	home := homeDir(runtime.GOOS, env)
	c.ConfigFile = env("AWS_CONFIG_FILE")
	if c.ConfigFile == "" && home != "" {
		c.ConfigFile = ospath.Join(home, ".aws", "config")
	}
	c.CredentialsFile = env("AWS_SHARED_CREDENTIALS_FILE")
	if c.CredentialsFile == "" && home != "" {
		c.CredentialsFile = ospath.Join(home, ".aws", "credentials")
	}
	var err error
	if c.config, err = readINI(c.ConfigFile); err != nil {
		return nil, fmt.Errorf("load profiles: %w", err)
	}
	if c.creds, err = readINI(c.CredentialsFile); err != nil {
		return nil, fmt.Errorf("load profiles: %w", err)
	}
	return c, nil
}

// ParseProfiles builds a Config from file contents (for tests and fuzzing).
func ParseProfiles(config, credentials []byte, env Env) (*Config, error) {
	if env == nil {
		env = func(string) string { return "" }
	}
	c := &Config{env: env, ConfigFile: "config", CredentialsFile: "credentials"}
	var err error
	if c.config, err = parseINI("config", config); err != nil {
		return nil, fmt.Errorf("parse profiles: %w", err)
	}
	if c.creds, err = parseINI("credentials", credentials); err != nil {
		return nil, fmt.Errorf("parse profiles: %w", err)
	}
	return c, nil
}

// maxINIBytes caps what readINI reads of a config or credentials file. The
// largest real files are generated ones (one profile per SSO account and
// role: about 150 bytes each), so 16 MiB leaves room for some 100 000
// profiles while AWS_CONFIG_FILE=/dev/zero or a huge file stops at once
// (issue 13 case 15).
const maxINIBytes = 16 << 20

// readINI reads and parses one file; a missing file is an empty one. Only a
// regular file (or a symlink to one) is read: a FIFO is refused without
// blocking, a device or directory without reading (regfile.Read).
func readINI(path string) (*iniFile, error) {
	empty := &iniFile{sections: map[string]map[string]string{}}
	if path == "" {
		return empty, nil
	}
	data, err := regfile.Read(path, maxINIBytes)
	if errors.Is(err, fs.ErrNotExist) {
		return empty, nil
	}
	if err != nil {
		return nil, err
	}
	return parseINI(path, data)
}

// Names lists every profile defined in either file, sorted.
func (c *Config) Names() []string {
	seen := map[string]bool{}
	for _, s := range c.config.order {
		switch {
		case s == "default":
			seen[s] = true
		case strings.HasPrefix(s, "profile "):
			seen[strings.TrimSpace(strings.TrimPrefix(s, "profile "))] = true
		}
	}
	for _, s := range c.creds.order {
		seen[s] = true
	}
	names := make([]string, 0, len(seen))
	for n := range seen {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// raw merges a profile's keys: config file first, credentials file wins.
func (c *Config) raw(name string) (map[string]string, bool) {
	m := map[string]string{}
	found := false
	secs := []string{"profile " + name}
	if name == "default" {
		secs = []string{"default", "profile default"}
	}
	for _, s := range secs {
		if kv, ok := c.config.sections[s]; ok {
			found = true
			for k, v := range kv {
				m[k] = v
			}
		}
	}
	if kv, ok := c.creds.sections[name]; ok {
		found = true
		for k, v := range kv {
			m[k] = v
		}
	}
	return m, found
}

// Profile is a resolved profile: the chain of roles to assume and the source
// credentials at its root.
type Profile struct {
	Name     string
	Region   string // never empty: profile, AWS_REGION, else us-east-1
	Endpoint string // STS endpoint override, empty for the SDK default
	// IAMEndpoint is the IAM endpoint override (enroll, rotate), empty for
	// the SDK default.
	IAMEndpoint string

	MFASerial       string        // the MFA device's ARN or hardware serial
	Device          string        // mfabridge_device, else process:<mfa_process>; empty → the caller's default
	Account         string        // mfabridge_account, empty → matched from MFASerial
	SessionDuration time.Duration // mfabridge_session_duration (default 12 h)
	MFAMaxAge       time.Duration // mfabridge_mfa_max_age, 0 = unlimited

	// Roles lists the AssumeRole hops from the one called with the source
	// credentials to the requested profile's role. Empty: the profile asks
	// for a GetSessionToken session. The MFA code goes to Roles[0] (or to
	// GetSessionToken when Roles is empty).
	Roles  []Role
	Source Source
}

// Role is one AssumeRole hop.
type Role struct {
	Profile     string // the profile declaring it
	ARN         string
	ExternalID  string
	SessionName string
	Duration    time.Duration
}

// Source describes the credentials at the root of a profile chain.
type Source struct {
	Profile           string
	AccessKeyID       string
	SecretAccessKey   string
	SessionToken      string // set: the keys are session credentials
	CredentialProcess string // used when no static keys are set
	// CredentialSource is the role profile's credential_source when the
	// keys above came from it ("Environment"); empty when they are the
	// profile's own (or credential_process's).
	CredentialSource string
	// KeyStore is the source profile's mfabridge_keys: where its long-term
	// key is kept ("keyring", "age" or "piv:SERIAL"). Empty: the plaintext
	// credentials file. When set, AccessKeyID, SecretAccessKey, SessionToken
	// and CredentialProcess are empty: the caller fetches the key from the
	// store when a call needs it.
	KeyStore string
}

// LongTerm reports whether the source is a static key pair without a session
// token, the only kind GetSessionToken accepts. A key in a store counts as
// long-term (stores keep IAM users' access keys).
func (s Source) LongTerm() bool {
	return s.KeyStore != "" || s.AccessKeyID != "" && s.SessionToken == ""
}

// KeysKey is the profile setting naming the store of a source profile's
// access key (mfabridge_keys).
const KeysKey = "mfabridge_keys"

// Key store kinds of mfabridge_keys.
const (
	KeyStoreKeyring = "keyring"
	KeyStoreAge     = "age"
	KeyStorePIV     = "piv"
)

// ParseKeyStore checks an mfabridge_keys value: "keyring", "age" or
// "piv:SERIAL" (SERIAL a decimal PIV card serial). It returns the kind and,
// for piv, the serial.
func ParseKeyStore(v string) (kind string, serial uint32, err error) {
	switch {
	case v == KeyStoreKeyring || v == KeyStoreAge:
		return v, 0, nil
	case strings.HasPrefix(v, KeyStorePIV+":"):
		n, perr := strconv.ParseUint(v[len(KeyStorePIV)+1:], 10, 32)
		if perr != nil || n == 0 {
			return "", 0, fmt.Errorf("%w: %s = %q: piv needs the card's serial, e.g. piv:12345678", ErrBadProfileValue, KeysKey, v)
		}
		return KeyStorePIV, uint32(n), nil
	}
	return "", 0, fmt.Errorf("%w: %s = %q: use keyring, age or piv:SERIAL (or remove the line for the credentials file)", ErrBadProfileValue, KeysKey, v)
}

// Resolve resolves a profile; name "" means AWS_PROFILE, else "default".
func (c *Config) Resolve(name string) (*Profile, error) { return c.resolve(name, true) }

// ResolveSource resolves a profile like Resolve but does not require an
// mfa_serial: enroll uses it on a profile that has no MFA device yet.
// MFASerial is then empty when none is configured.
func (c *Config) ResolveSource(name string) (*Profile, error) { return c.resolve(name, false) }

func (c *Config) resolve(name string, needSerial bool) (*Profile, error) {
	if name == "" {
		name = c.env("AWS_PROFILE")
	}
	if name == "" {
		name = "default"
	}
	top, ok := c.raw(name)
	if !ok {
		return nil, c.unknown(name, "")
	}
	p := &Profile{Name: name}
	chain, err := c.sourceChain(name, top)
	if err != nil {
		return nil, err
	}
	chain, session, err := c.sessionSource(name, top, chain)
	if err != nil {
		return nil, err
	}
	if p, err = c.setSource(p, chain); err != nil {
		return nil, err
	}
	if p, err = setRoles(p, chain, session); err != nil {
		return nil, err
	}
	if p, err = setMFASerial(p, name, top, chain, session, needSerial); err != nil {
		return nil, err
	}
	lookup := chainLookup(chain)
	if p, err = setSettings(p, lookup); err != nil {
		return nil, err
	}
	c.setRegion(p, lookup)
	c.setEndpoints(p, top)
	return p, nil
}

// hop is one profile of a source_profile chain, with its keys (raw).
type hop struct {
	name string
	kv   map[string]string
}

// sourceChain walks source_profile links from the requested profile to the
// root: the requested profile first, the one holding the source credentials
// last.
func (c *Config) sourceChain(name string, top map[string]string) ([]hop, error) {
	chain := []hop{{name, top}}
	visited := map[string]bool{name: true}
	for {
		last := chain[len(chain)-1]
		if last.kv["role_arn"] == "" {
			break
		}
		if cs := last.kv["credential_source"]; cs != "" {
			kv, err := c.credentialSource(last.name, cs, last.kv["source_profile"])
			if err != nil {
				return nil, err
			}
			chain = append(chain, hop{last.name, kv})
			break
		}
		src := last.kv["source_profile"]
		if src == "" {
			return nil, &ProfileError{Profile: last.name, Err: ErrNoSourceCreds,
				Detail: "role_arn without source_profile", Hint: "add source_profile naming a profile with access keys"}
		}
		if src == last.name {
			// AWS allows a profile to be its own source: its static keys.
			kv := last.kv
			chain = append(chain, hop{src, map[string]string{
				"aws_access_key_id":     kv["aws_access_key_id"],
				"aws_secret_access_key": kv["aws_secret_access_key"],
				"aws_session_token":     kv["aws_session_token"],
				"mfa_serial":            kv["mfa_serial"],
				KeysKey:                 kv[KeysKey],
			}})
			break
		}
		if visited[src] {
			names := make([]string, len(chain))
			for i, h := range chain {
				names[i] = h.name
			}
			return nil, &ProfileError{Profile: name, Err: ErrProfileCycle,
				Detail: strings.Join(append(names, src), " → ")}
		}
		kv, ok := c.raw(src)
		if !ok {
			return nil, c.unknown(src, fmt.Sprintf("source_profile of %q", last.name))
		}
		visited[src] = true
		chain = append(chain, hop{src, kv})
	}
	return chain, nil
}

// sessionSource applies an mfabridge extension: a session profile (no
// role_arn) without keys of its own may name the keys' profile in
// source_profile (AWS tools ignore source_profile without role_arn). Its own
// credential_process can then call mfabridge without recursion. session
// reports that the extension applied: chain[1] only lends its keys.
func (c *Config) sessionSource(name string, top map[string]string, chain []hop) (_ []hop, session bool, _ error) {
	if len(chain) == 1 && top["role_arn"] == "" && top["aws_access_key_id"] == "" && top[KeysKey] == "" {
		if cs := top["credential_source"]; cs != "" {
			// Likewise credential_source (AWS tools read it only with
			// role_arn): the MFA session's keys from the environment.
			kv, err := c.credentialSource(name, cs, top["source_profile"])
			if err != nil {
				return nil, false, err
			}
			chain = append(chain, hop{name, kv})
			session = true
		} else if src := top["source_profile"]; src != "" && src != name {
			kv, ok := c.raw(src)
			if !ok {
				return nil, false, c.unknown(src, fmt.Sprintf("source_profile of %q", name))
			}
			if kv["role_arn"] != "" {
				return nil, false, &ProfileError{Profile: name, Err: ErrNoSourceCreds,
					Detail: fmt.Sprintf("source_profile %q is a role profile; a profile without role_arn needs access keys", src),
					Hint:   "point source_profile at a profile with aws_access_key_id"}
			}
			chain = append(chain, hop{src, kv})
			session = true
		}
	}
	return chain, session, nil
}

// setSource sets p.Source from the root of the chain: static keys, else a
// credential_process that is not mfabridge itself.
func (c *Config) setSource(p *Profile, chain []hop) (*Profile, error) {
	root := chain[len(chain)-1]
	p.Source = Source{
		Profile:           root.name,
		AccessKeyID:       root.kv["aws_access_key_id"],
		SecretAccessKey:   root.kv["aws_secret_access_key"],
		SessionToken:      root.kv["aws_session_token"],
		CredentialProcess: root.kv["credential_process"],
		CredentialSource:  root.kv[credentialSourceKey],
	}
	if ks := root.kv[KeysKey]; ks != "" && p.Source.CredentialSource == "" {
		if _, _, err := ParseKeyStore(ks); err != nil {
			return nil, &ProfileError{Profile: root.name, Err: err}
		}
		// The key is in the store (any plaintext leftover in the
		// credentials file is ignored; doctor reports it).
		p.Source = Source{Profile: root.name, KeyStore: ks}
		return p, nil
	}
	if p.Source.AccessKeyID != "" && p.Source.SecretAccessKey == "" {
		return nil, &ProfileError{Profile: root.name, Err: ErrNoSourceCreds,
			Detail: "aws_access_key_id without aws_secret_access_key"}
	}
	if p.Source.AccessKeyID == "" {
		p.Source.SessionToken = ""
		switch {
		case p.Source.CredentialProcess == "":
			return nil, &ProfileError{Profile: root.name, Err: ErrNoSourceCreds,
				Detail: "no aws_access_key_id / aws_secret_access_key or credential_process",
				Hint:   "add access keys to " + c.CredentialsFile}
		case IsSelfCommand(p.Source.CredentialProcess):
			return nil, &ProfileError{Profile: root.name, Err: ErrRecursion,
				Detail: "credential_process = " + p.Source.CredentialProcess,
				Hint:   "point source_profile at a profile with access keys, not at one served by mfabridge"}
		}
	} else {
		p.Source.CredentialProcess = ""
	}
	return p, nil
}

// setRoles sets p.Roles, the AssumeRole hops, root side first (none for a
// session profile).
func setRoles(p *Profile, chain []hop, session bool) (*Profile, error) {
	for i := len(chain) - 2; i >= 0 && !session; i-- {
		h := chain[i]
		r := Role{Profile: h.name, ARN: h.kv["role_arn"], ExternalID: h.kv["external_id"],
			SessionName: h.kv["role_session_name"], Duration: DefaultRoleDuration}
		d, err := seconds(h.name, h.kv, "duration_seconds", 900, 43200)
		if err != nil {
			return nil, err
		}
		if d != 0 {
			r.Duration = d
		}
		p.Roles = append(p.Roles, r)
	}
	return p, nil
}

// setMFASerial sets p.MFASerial: from the first role's profile, or from the
// source profile (aws-vault inherits it from there). A later hop cannot
// carry MFA: STS checks the serial against the calling IAM user, and there
// the caller is a role session.
func setMFASerial(p *Profile, name string, top map[string]string, chain []hop, session, needSerial bool) (*Profile, error) {
	root := chain[len(chain)-1]
	serialFrom := root.name
	if len(p.Roles) > 0 {
		first := chain[len(chain)-2]
		p.MFASerial = first.kv["mfa_serial"]
		serialFrom = first.name
	}
	if p.MFASerial == "" && session {
		p.MFASerial, serialFrom = top["mfa_serial"], name
	}
	if p.MFASerial == "" {
		p.MFASerial = root.kv["mfa_serial"]
		serialFrom = root.name
	}
	for i := 0; i < len(chain)-2 && !session; i++ {
		if s := chain[i].kv["mfa_serial"]; s != "" && s != p.MFASerial {
			return nil, &ProfileError{Profile: chain[i].name, Err: ErrBadProfileValue,
				Detail: "mfa_serial on a chained role (its caller is a role session, which has no MFA device)",
				Hint:   "put mfa_serial on profile " + strconv.Quote(chain[len(chain)-2].name)}
		}
	}
	if p.MFASerial == "" && needSerial {
		return nil, &ProfileError{Profile: name, Err: ErrNoMFASerial,
			Hint: "add mfa_serial = arn:aws:iam::ACCOUNT:mfa/USER to the profile"}
	}
	if p.MFASerial != "" && !serialRE.MatchString(p.MFASerial) {
		return nil, &ProfileError{Profile: serialFrom, Err: ErrBadProfileValue,
			Detail: fmt.Sprintf("mfa_serial %q: want 9–256 characters of [\\w+=/:,.@-]", p.MFASerial)}
	}
	return p, nil
}

// chainLookup returns a lookup of settings from the requested profile
// towards the root: the value and the profile that set it.
func chainLookup(chain []hop) func(key string) (string, string) {
	return func(key string) (string, string) {
		for _, h := range chain {
			if v := h.kv[key]; v != "" {
				return v, h.name
			}
		}
		return "", ""
	}
}

// setSettings sets the mfabridge_* settings found along the chain and
// checks the roles' session names (defaulted from the serial) and ARNs.
func setSettings(p *Profile, lookup func(key string) (string, string)) (*Profile, error) {
	p.Device, _ = lookup("mfabridge_device")
	if mp, _ := lookup("mfa_process"); p.Device == "" && mp != "" {
		p.Device = "process:" + mp // aws-vault's key: a command printing the code
	}
	p.Account, _ = lookup("mfabridge_account")
	p.SessionDuration = DefaultSessionDuration
	if v, from := lookup("mfabridge_session_duration"); v != "" {
		d, err := seconds(from, map[string]string{"mfabridge_session_duration": v}, "mfabridge_session_duration", 900, 129600)
		if err != nil {
			return nil, err
		}
		p.SessionDuration = d
	}
	if v, from := lookup("mfabridge_mfa_max_age"); v != "" {
		d, err := seconds(from, map[string]string{"mfabridge_mfa_max_age": v}, "mfabridge_mfa_max_age", 1, 129600)
		if err != nil {
			return nil, err
		}
		p.MFAMaxAge = d
	}
	for i := range p.Roles {
		if p.Roles[i].SessionName == "" {
			p.Roles[i].SessionName = defaultSessionName(p.MFASerial)
		}
		if !sessionNameRE.MatchString(p.Roles[i].SessionName) {
			return nil, &ProfileError{Profile: p.Roles[i].Profile, Err: ErrBadProfileValue,
				Detail: fmt.Sprintf("role_session_name %q: want 2–64 characters of [\\w+=,.@-]", p.Roles[i].SessionName)}
		}
		if len(p.Roles[i].ARN) < 20 {
			return nil, &ProfileError{Profile: p.Roles[i].Profile, Err: ErrBadProfileValue,
				Detail: fmt.Sprintf("role_arn %q is too short to be an ARN", p.Roles[i].ARN)}
		}
	}
	return p, nil
}

// setRegion sets p.Region: AWS_REGION wins over the profile, as in the
// SDKs; us-east-1 when neither says.
func (c *Config) setRegion(p *Profile, lookup func(key string) (string, string)) {
	p.Region = c.env("AWS_REGION")
	if p.Region == "" {
		p.Region, _ = lookup("region")
	}
	if p.Region == "" {
		p.Region = "us-east-1"
	}
}

// setEndpoints sets the STS and IAM endpoint overrides. Precedence (AWS SDK
// "service-specific endpoints"): env for the service, env global,
// [services] <service>.endpoint_url, profile endpoint_url.
func (c *Config) setEndpoints(p *Profile, top map[string]string) {
	p.Endpoint = c.env("AWS_ENDPOINT_URL_STS")
	if p.Endpoint == "" {
		p.Endpoint = c.env("AWS_ENDPOINT_URL")
	}
	if p.Endpoint == "" {
		if svc := top["services"]; svc != "" {
			p.Endpoint = c.config.sections["services "+svc]["sts.endpoint_url"]
		}
	}
	if p.Endpoint == "" {
		p.Endpoint = top["endpoint_url"]
	}
	// The same precedence for IAM (enroll, rotate).
	p.IAMEndpoint = c.env("AWS_ENDPOINT_URL_IAM")
	if p.IAMEndpoint == "" {
		p.IAMEndpoint = c.env("AWS_ENDPOINT_URL")
	}
	if p.IAMEndpoint == "" {
		if svc := top["services"]; svc != "" {
			p.IAMEndpoint = c.config.sections["services "+svc]["iam.endpoint_url"]
		}
	}
	if p.IAMEndpoint == "" {
		p.IAMEndpoint = top["endpoint_url"]
	}
}

// credentialSourceKey marks, in the synthetic root hop of a
// credential_source, where its keys came from. It cannot clash with a key of
// the files: parseINI keys have no spaces.
const credentialSourceKey = "credential source"

// Canonical credential_source names, as botocore (CanonicalNameCredentialSourcer:
// exact match) and aws-sdk-go-v2 (config/shared_config.go) accept them.
const (
	CredentialSourceEnvironment = "Environment"
	CredentialSourceECS         = "EcsContainer"
	CredentialSourceIMDS        = "Ec2InstanceMetadata"
)

// credentialSource resolves a role profile's credential_source into the
// keys of a root hop. Environment reads AWS_ACCESS_KEY_ID (else
// AWS_ACCESS_KEY), AWS_SECRET_ACCESS_KEY (else AWS_SECRET_KEY) and
// AWS_SESSION_TOKEN through the Env func, as aws-sdk-go-v2's EnvConfig does
// (issue 13 case 13: CI injects long-term keys this way). As in both SDKs a
// profile may not have both credential_source and source_profile.
func (c *Config) credentialSource(profile, cs, sourceProfile string) (map[string]string, error) {
	if sourceProfile != "" {
		return nil, &ProfileError{Profile: profile, Err: ErrBadProfileValue,
			Detail: fmt.Sprintf("both source_profile = %s and credential_source = %s", sourceProfile, cs),
			Hint:   "keep one of them, as the AWS CLI and SDKs refuse both"}
	}
	switch cs {
	case CredentialSourceEnvironment:
		first := func(keys ...string) string {
			for _, k := range keys {
				if v := c.env(k); v != "" {
					return v
				}
			}
			return ""
		}
		id, secret := first("AWS_ACCESS_KEY_ID", "AWS_ACCESS_KEY"), first("AWS_SECRET_ACCESS_KEY", "AWS_SECRET_KEY")
		if id == "" || secret == "" {
			return nil, &ProfileError{Profile: profile, Err: ErrNoEnvironmentKeys,
				Detail: "credential_source = Environment, but the environment holds no access key pair"}
		}
		return map[string]string{"aws_access_key_id": id, "aws_secret_access_key": secret,
			"aws_session_token": c.env("AWS_SESSION_TOKEN"), credentialSourceKey: cs}, nil
	case CredentialSourceECS, CredentialSourceIMDS:
		return nil, &ProfileError{Profile: profile, Err: ErrUnsupportedSource,
			Detail: "credential_source = " + cs + " is not supported by mfabridge",
			Hint:   "use credential_source = Environment with the keys exported, or source_profile naming a profile with access keys"}
	}
	return nil, &ProfileError{Profile: profile, Err: ErrBadProfileValue,
		Detail: fmt.Sprintf("credential_source = %q", cs),
		Hint:   "want Environment, EcsContainer or Ec2InstanceMetadata (exact case, as the AWS CLI)"}
}

var (
	serialRE      = charRun{extra: "+=/:,.@-", lo: 9, hi: 256} // ^[\w+=/:,.@-]{9,256}$
	sessionNameRE = charRun{extra: "+=,.@-", lo: 2, hi: 64}    // ^[\w+=,.@-]{2,64}$
)

func seconds(profile string, kv map[string]string, key string, lo, hi int) (time.Duration, error) {
	v := kv[key]
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, &ProfileError{Profile: profile, Err: ErrBadProfileValue,
			Detail: fmt.Sprintf("%s = %q: want whole seconds from %d to %d", key, v, lo, hi)}
	}
	return time.Duration(n) * time.Second, nil
}

// defaultSessionName is "mfabridge-USER" for an MFA ARN, else "mfabridge".
// It must be stable: it is part of the cache key.
func defaultSessionName(serial string) string {
	_, user := SerialParts(serial)
	name := "mfabridge"
	if user != "" {
		name += "-" + strings.Map(func(r rune) rune {
			if r < 0x80 && (r == '_' || r == '+' || r == '=' || r == ',' || r == '.' || r == '@' || r == '-' ||
				(r >= '0' && r <= '9') || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z')) {
				return r
			}
			return '_'
		}, user)
	}
	if len(name) > 64 {
		name = name[:64]
	}
	return name
}

// SerialParts splits an MFA device ARN (arn:aws:iam::123456789012:mfa/path/alice)
// into account ID and user name. Hardware serials give empty strings.
func SerialParts(serial string) (account, user string) {
	parts := strings.SplitN(serial, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != "iam" {
		return "", ""
	}
	res := parts[5]
	if !strings.HasPrefix(res, "mfa/") {
		return "", ""
	}
	user = res[strings.LastIndexByte(res, '/')+1:]
	return parts[4], user
}

// IsSelfCommand reports whether a credential_process command line runs
// mfabridge (any word whose base name is mfabridge, so "env X=1 mfabridge …"
// and "/usr/local/bin/mfabridge …" both count).
func IsSelfCommand(cmd string) bool {
	for _, w := range strings.Fields(cmd) {
		w = strings.Trim(w, `"'`)
		b := ospath.Base(w)
		if b == "mfabridge" || b == "mfabridge.exe" {
			return true
		}
	}
	return false
}

func (c *Config) unknown(name, context string) error {
	e := &ProfileError{Profile: name, Err: ErrUnknownProfile, Detail: context}
	if s := closest(name, c.Names()); s != "" {
		e.Hint = fmt.Sprintf("did you mean %q?", s)
	} else {
		e.Hint = fmt.Sprintf("not in %s or %s", c.ConfigFile, c.CredentialsFile)
	}
	return e
}

// closest returns the candidate nearest to name by edit distance, if close.
func closest(name string, cands []string) string {
	best, bestD := "", 1<<30
	for _, c := range cands {
		d := levenshtein(strings.ToLower(name), strings.ToLower(c))
		if d < bestD {
			best, bestD = c, d
		}
	}
	if best == "" || bestD > 2+len(name)/4 {
		return ""
	}
	return best
}

func levenshtein(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
