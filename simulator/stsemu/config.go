package stsemu

import (
	"bytes"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"

	"github.com/mfabridge/mfabridge/internal/lazyre"
	"github.com/mfabridge/mfabridge/internal/regfile"
)

// ErrConfig is wrapped by every error ParseConfig returns for a config that
// is syntactically or semantically wrong.
var ErrConfig = errors.New("invalid stsemu config")

// Config describes the emulated AWS world: accounts with IAM users (access
// keys, MFA devices, identity policies) and roles (trust policy, identity
// policies, maximum session duration). Example:
//
//	{"region": "us-east-1",
//	 "accounts": [
//	  {"id": "111111111111",
//	   "users": [{"name": "alice",
//	     "access_keys": [{"id": "AKIAALICE00000000001", "secret": "alice-secret-access-key-0000000000000000"}],
//	     "mfa_devices": [{"serial": "arn:aws:iam::111111111111:mfa/alice", "secret_base32": "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP", "digits": 6, "period": 30}],
//	     "policies": [{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "arn:aws:iam::222222222222:role/*"}]}]}]},
//	  {"id": "222222222222",
//	   "roles": [{"name": "PrivilegedActionsRole", "max_session_duration": 43200,
//	     "trust_policy": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "111111111111"}, "Action": "sts:AssumeRole", "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}}}]},
//	     "policies": [{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ec2:TerminateInstances", "Resource": "*"}]}]}]}]}
//
// Defaults: region us-east-1, digits 6 (the only value AWS accepts),
// period 30, max_session_duration 3600.
//
// The JSON form uses snake_case field names; unknown fields are errors so
// that a typo never silently disables a check. Policy documents use AWS's
// own JSON grammar (see Policy). Trailing commas before `]` or `}` are
// tolerated, because the AWS documentation examples this emulator is tested
// against contain them.
type Config struct {
	Region   string    `json:"region"`
	Accounts []Account `json:"accounts"`
	// RoleSessionsCarryMFA switches to the disputed model in which a role
	// session obtained with MFA still carries aws:MultiFactorAuthPresent=true
	// (and aws:MultiFactorAuthAge). Default false: role sessions carry
	// MultiFactorAuthPresent=false, as AWS documents.
	RoleSessionsCarryMFA bool `json:"role_sessions_carry_mfa,omitempty"`
}

// Account is one AWS account.
type Account struct {
	ID    string `json:"id"`
	Users []User `json:"users,omitempty"`
	Roles []Role `json:"roles,omitempty"`
}

// User is an IAM user.
type User struct {
	Name       string      `json:"name"`
	AccessKeys []AccessKey `json:"access_keys,omitempty"`
	MFADevices []MFADevice `json:"mfa_devices,omitempty"`
	Policies   []Policy    `json:"policies,omitempty"`
}

// AccessKey is a long-term access key pair of a user.
type AccessKey struct {
	ID     string `json:"id"`
	Secret string `json:"secret"`
}

// MFADevice is a TOTP device (virtual MFA ARN or hardware serial).
type MFADevice struct {
	Serial       string `json:"serial"`
	SecretBase32 string `json:"secret_base32"`
	Digits       int    `json:"digits,omitempty"` // 0 means 6; AWS accepts only 6
	Period       int    `json:"period,omitempty"` // seconds; 0 means 30
}

// Role is an IAM role.
type Role struct {
	Name               string   `json:"name"`
	MaxSessionDuration int      `json:"max_session_duration,omitempty"` // seconds, 3600..43200; 0 means 3600
	TrustPolicy        Policy   `json:"trust_policy"`
	Policies           []Policy `json:"policies,omitempty"`
}

var (
	accountIDRe  = lazyre.New(`^[0-9]{12}$`)
	iamNameRe    = lazyre.New(`^[\w+=,.@-]{1,64}$`)
	accessKeyRe  = lazyre.New(`^AKIA[A-Z0-9]{12,124}$`)
	serialRe     = lazyre.New(`^[\w+=/:,.@-]{9,256}$`)
	roleNameRe   = lazyre.New(`^[\w+=,.@-]{1,64}$`)
	regionNameRe = lazyre.New(`^[a-z]{2}(-[a-z]+)+-[0-9]+$`)
)

// MaxConfigBytes caps the size of a config file LoadConfig reads. A world
// of a few dozen accounts with full policies is tens of kilobytes; 4 MiB
// leaves ample room while `--config /dev/zero` or a huge file is refused at
// once instead of filling memory (issue 13 case 15).
const MaxConfigBytes = 4 << 20

// LoadConfig reads and parses a config file. Only a regular file (or a
// symlink to one) is read: a FIFO is refused without blocking, a device or
// a directory without reading, and a file over MaxConfigBytes is refused
// (errors wrap regfile.ErrNotRegular and regfile.ErrTooLarge).
func LoadConfig(path string) (*Config, error) {
	b, err := regfile.Read(path, MaxConfigBytes)
	if err != nil {
		return nil, fmt.Errorf("load stsemu config: %w", err)
	}
	c, err := ParseConfig(b)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	return c, nil
}

// ParseConfig parses and validates a JSON config. Errors name the JSON
// position (line:column) for syntax and type errors, and the account, user,
// role, policy and statement for semantic ones.
func ParseConfig(b []byte) (*Config, error) {
	clean := stripTrailingCommas(b)
	dec := json.NewDecoder(bytes.NewReader(clean))
	dec.DisallowUnknownFields()
	var c Config
	if err := dec.Decode(&c); err != nil {
		return nil, jsonPosError(clean, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: trailing data after the config object at %s", ErrConfig, lineCol(clean, dec.InputOffset()))
	}
	if err := c.validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	return &c, nil
}

func (c *Config) validate() error {
	if c.Region == "" {
		c.Region = "us-east-1"
	}
	if !regionNameRe.MatchString(c.Region) {
		return fmt.Errorf("region %q is not a region name like us-east-1", c.Region)
	}
	if len(c.Accounts) == 0 {
		return errors.New("accounts: at least one account is required")
	}
	accounts := map[string]bool{}
	keys := map[string]string{}
	serials := map[string]string{}
	for i := range c.Accounts {
		a := &c.Accounts[i]
		where := fmt.Sprintf("accounts[%d]", i)
		if !accountIDRe.MatchString(a.ID) {
			return fmt.Errorf("%s: id %q must be 12 digits", where, a.ID)
		}
		where = fmt.Sprintf("account %s", a.ID)
		if accounts[a.ID] {
			return fmt.Errorf("%s: duplicate account id", where)
		}
		accounts[a.ID] = true
		users := map[string]bool{}
		for j := range a.Users {
			u := &a.Users[j]
			uw := fmt.Sprintf("%s: users[%d]", where, j)
			if !iamNameRe.MatchString(u.Name) {
				return fmt.Errorf("%s: name %q is not a valid IAM user name", uw, u.Name)
			}
			uw = fmt.Sprintf("%s: user %s", where, u.Name)
			if users[strings.ToLower(u.Name)] {
				return fmt.Errorf("%s: duplicate user name", uw)
			}
			users[strings.ToLower(u.Name)] = true
			for k, key := range u.AccessKeys {
				if !accessKeyRe.MatchString(key.ID) {
					return fmt.Errorf("%s: access_keys[%d]: id %q must look like AKIA followed by 16 upper-case letters or digits", uw, k, key.ID)
				}
				if len(key.Secret) < 16 {
					return fmt.Errorf("%s: access key %s: secret must be at least 16 characters", uw, key.ID)
				}
				if prev, dup := keys[key.ID]; dup {
					return fmt.Errorf("%s: access key %s already belongs to %s", uw, key.ID, prev)
				}
				keys[key.ID] = uw
			}
			for k := range u.MFADevices {
				d := &u.MFADevices[k]
				dw := fmt.Sprintf("%s: mfa_devices[%d]", uw, k)
				if !serialRe.MatchString(d.Serial) {
					return fmt.Errorf("%s: serial %q must be 9-256 characters of [\\w+=/:,.@-]", dw, d.Serial)
				}
				if prev, dup := serials[d.Serial]; dup {
					return fmt.Errorf("%s: serial %s already belongs to %s", dw, d.Serial, prev)
				}
				serials[d.Serial] = uw
				if _, err := decodeBase32Secret(d.SecretBase32); err != nil {
					return fmt.Errorf("%s: secret_base32: %w", dw, err)
				}
				if d.Digits == 0 {
					d.Digits = 6
				}
				if d.Digits != 6 {
					return fmt.Errorf("%s: digits %d: AWS accepts only 6-digit codes", dw, d.Digits)
				}
				if d.Period == 0 {
					d.Period = 30
				}
				if d.Period < 1 || d.Period > 3600 {
					return fmt.Errorf("%s: period %d must be 1..3600 seconds", dw, d.Period)
				}
			}
			for k := range u.Policies {
				if err := u.Policies[k].check(false); err != nil {
					return fmt.Errorf("%s: policies[%d]: %w", uw, k, err)
				}
			}
		}
		roles := map[string]bool{}
		for j := range a.Roles {
			r := &a.Roles[j]
			rw := fmt.Sprintf("%s: roles[%d]", where, j)
			if !roleNameRe.MatchString(r.Name) {
				return fmt.Errorf("%s: name %q is not a valid IAM role name", rw, r.Name)
			}
			rw = fmt.Sprintf("%s: role %s", where, r.Name)
			if roles[strings.ToLower(r.Name)] {
				return fmt.Errorf("%s: duplicate role name", rw)
			}
			roles[strings.ToLower(r.Name)] = true
			if r.MaxSessionDuration == 0 {
				r.MaxSessionDuration = 3600
			}
			if r.MaxSessionDuration < 3600 || r.MaxSessionDuration > 43200 {
				return fmt.Errorf("%s: max_session_duration %d must be 3600..43200", rw, r.MaxSessionDuration)
			}
			if r.TrustPolicy.raw == nil && len(r.TrustPolicy.Statements) == 0 {
				return fmt.Errorf("%s: trust_policy is required and must have a Statement", rw)
			}
			if err := r.TrustPolicy.check(true); err != nil {
				return fmt.Errorf("%s: trust_policy: %w", rw, err)
			}
			for k := range r.Policies {
				if err := r.Policies[k].check(false); err != nil {
					return fmt.Errorf("%s: policies[%d]: %w", rw, k, err)
				}
			}
		}
	}
	return nil
}

// decodeBase32Secret accepts the usual authenticator-app spellings: lower
// case, spaces and missing padding.
func decodeBase32Secret(s string) ([]byte, error) {
	s = strings.ToUpper(strings.NewReplacer(" ", "", "-", "").Replace(s))
	s = strings.TrimRight(s, "=")
	if s == "" {
		return nil, errors.New("empty secret")
	}
	b, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("decode base32 secret: %w", err)
	}
	if len(b) < 10 {
		return nil, fmt.Errorf("secret is %d bytes, want at least 10", len(b))
	}
	return b, nil
}

// stripTrailingCommas replaces a comma that is followed (after white space)
// by `]` or `}` with a space, outside strings. Replacing instead of deleting
// keeps JSON offsets in error messages true to the input.
func stripTrailingCommas(b []byte) []byte {
	out := append([]byte(nil), b...)
	inStr, esc := false, false
	for i := 0; i < len(out); i++ {
		c := out[i]
		if inStr {
			switch {
			case esc:
				esc = false
			case c == '\\':
				esc = true
			case c == '"':
				inStr = false
			}
			continue
		}
		switch c {
		case '"':
			inStr = true
		case ',':
			j := i + 1
			for j < len(out) && (out[j] == ' ' || out[j] == '\t' || out[j] == '\n' || out[j] == '\r') {
				j++
			}
			if j < len(out) && (out[j] == ']' || out[j] == '}') {
				out[i] = ' '
			}
		}
	}
	return out
}

func jsonPosError(b []byte, err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Errorf("%w: at %s: %w", ErrConfig, lineCol(b, se.Offset-1), err)
	case errors.As(err, &te):
		return fmt.Errorf("%w: at %s: field %s: %w", ErrConfig, lineCol(b, te.Offset), te.Field, err)
	default:
		// encoding/json reports unknown fields without a position; point at
		// the first occurrence of the key.
		if name, ok := strings.CutPrefix(err.Error(), `json: unknown field "`); ok {
			name = strings.TrimSuffix(name, `"`)
			if loc := regexp.MustCompile(`"` + regexp.QuoteMeta(name) + `"\s*:`).FindIndex(b); loc != nil {
				return fmt.Errorf("%w: at %s: unknown field %q", ErrConfig, lineCol(b, int64(loc[0])), name)
			}
		}
		return fmt.Errorf("%w: %w", ErrConfig, err)
	}
}

// lineCol renders a byte offset as "line L, column C" (1-based).
func lineCol(b []byte, off int64) string {
	if off < 0 {
		off = 0
	}
	if off > int64(len(b)) {
		off = int64(len(b))
	}
	line := 1 + bytes.Count(b[:off], []byte{'\n'})
	col := int(off) - bytes.LastIndexByte(b[:off], '\n')
	return fmt.Sprintf("line %d, column %d", line, col)
}
