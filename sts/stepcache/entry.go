package stepcache

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/mfabridge/mfabridge/internal/ospath"
	"github.com/mfabridge/mfabridge/internal/securefile"
	"github.com/mfabridge/mfabridge/sts/awsconfig"
)

// Credentials are temporary AWS credentials.
type Credentials struct {
	AccessKeyID     string    `json:"access_key_id"`
	SecretAccessKey string    `json:"secret_access_key"`
	SessionToken    string    `json:"session_token,omitempty"`
	Expiration      time.Time `json:"expiration,omitzero"`
}

// ProcessOutput renders credentials in the credential_process format, with
// Expiration as RFC 3339 UTC ("Z"), the one form every SDK accepts.
//
// It writes what encoding/json writes for its struct (Version,
// AccessKeyId, SecretAccessKey, SessionToken and Expiration, the last two
// omitted when empty), without reflection (fastjson.go).
func (c Credentials) ProcessOutput() []byte {
	b := make([]byte, 0, 160+len(c.AccessKeyID)+len(c.SecretAccessKey)+len(c.SessionToken))
	b = append(b, `{"Version":1,"AccessKeyId":`...)
	b = appendJSONString(b, c.AccessKeyID)
	b = append(b, `,"SecretAccessKey":`...)
	b = appendJSONString(b, c.SecretAccessKey)
	if c.SessionToken != "" {
		b = append(b, `,"SessionToken":`...)
		b = appendJSONString(b, c.SessionToken)
	}
	if !c.Expiration.IsZero() {
		b = append(b, `,"Expiration":`...)
		b = appendJSONString(b, c.Expiration.UTC().Format(time.RFC3339))
	}
	return append(b, '}')
}

// DefaultCacheDir returns MFABRIDGE_CACHE_DIR if set, else the user cache
// directory of the system (as os.UserCacheDir finds it) + "mfabridge":
//
//   - Windows: %LocalAppData%\mfabridge
//   - macOS: $HOME/Library/Caches/mfabridge
//   - others: $XDG_CACHE_HOME/mfabridge (if absolute), else $HOME/.cache/mfabridge
func DefaultCacheDir(env awsconfig.Env) (string, error) {
	return cacheDirFor(runtime.GOOS, env)
}

// cacheDirFor is DefaultCacheDir as it is on the system goos.
func cacheDirFor(goos string, env awsconfig.Env) (string, error) {
	if env == nil {
		return "", errors.New("default cache dir: no environment")
	}
	if d := env("MFABRIDGE_CACHE_DIR"); d != "" {
		return d, nil
	}
	switch goos {
	case "windows":
		if d := env("LocalAppData"); d != "" {
			return ospath.Join(d, "mfabridge"), nil
		}
		return "", fmt.Errorf("default cache dir: %w: LocalAppData is not set", ErrNoCacheDir)
	case "darwin", "ios":
		if h := env("HOME"); h != "" {
			return ospath.Join(h, "Library", "Caches", "mfabridge"), nil
		}
	default:
		// XDG: a relative value is invalid and ignored.
		if d := env("XDG_CACHE_HOME"); d != "" && ospath.IsAbs(d) {
			return ospath.Join(d, "mfabridge"), nil
		}
		if h := env("HOME"); h != "" {
			return ospath.Join(h, ".cache", "mfabridge"), nil
		}
	}
	return "", fmt.Errorf("default cache dir: %w: HOME is not set", ErrNoCacheDir)
}

// ErrNoCacheDir: the environment names no folder for the cache.
var ErrNoCacheDir = errors.New("no folder for the cache")

// IsCacheFile claims the names mfabridge writes in its cache directory:
// entries, ledgers and lock files (prefix + 64 hex digits), the rotation
// journals of sts and sts/keystore, and temporary files of an atomic
// write. securefile.EnsureDir tightens an existing directory only if it
// holds nothing else (doctor checks it the same way).
func IsCacheFile(name string) bool {
	if strings.HasPrefix(name, ".") && strings.Contains(name, ".tmp-") {
		return true
	}
	if strings.HasPrefix(name, "keyrotate-") {
		return strings.HasSuffix(name, ".json") || strings.HasSuffix(name, ".lock")
	}
	base, ok := strings.CutSuffix(name, ".json")
	if !ok {
		base, ok = strings.CutSuffix(name, ".lock")
	}
	if !ok {
		return false
	}
	for _, p := range []string{"ledger-", "lock-", "rotate-"} {
		if b, ok := strings.CutPrefix(base, p); ok {
			base = b
			break
		}
	}
	if len(base) != 64 {
		return false
	}
	_, err := hex.DecodeString(base)
	return err == nil
}

// CacheVersion is the format of cache and ledger files.
const CacheVersion = 1

// Entry is one cached STS result, the file KEY.json of the cache.
type Entry struct {
	Version     int         `json:"version"`
	Action      Action      `json:"action"`
	Target      string      `json:"target"` // role ARN or MFA serial
	Credentials Credentials `json:"credentials"`
	// MFATime is when the code that authenticated this session was
	// accepted (GetSessionToken only); mfabridge_mfa_max_age counts from it.
	MFATime time.Time `json:"mfa_time,omitzero"`
	// For is what the entry was fetched for (the step's cache key before
	// hashing): an entry is used only for that very step (issue 13 case 4).
	For *StepKey `json:"for,omitempty"`
}

func (e *Entry) valid() bool {
	c := e.Credentials
	return e.Version == CacheVersion && e.Action != "" && c.AccessKeyID != "" &&
		c.SecretAccessKey != "" && !c.Expiration.IsZero()
}

// ParseEntry parses an entry file, refusing incomplete ones. Entries as
// mfabridge writes them are read without reflection (fastjson.go), others
// by encoding/json.
func ParseEntry(b []byte) (*Entry, error) {
	e, ok := parseCanonical(b)
	if !ok {
		e = Entry{}
		if err := json.Unmarshal(b, &e); err != nil {
			return nil, fmt.Errorf("parse cache entry: %w", err)
		}
	}
	if !e.valid() {
		return nil, errors.New("parse cache entry: incomplete entry")
	}
	return &e, nil
}

// MaxFile is the size limit of the files read from the cache.
const MaxFile = 1 << 20

// ReadEntry reads and parses the entry under key in the cache directory
// dir, only if it is a regular file private to us and not a link
// (securefile.ReadFile).
func ReadEntry(dir, key string) (*Entry, error) {
	b, err := securefile.ReadFile(ospath.Join(dir, key+".json"), MaxFile)
	if err != nil {
		return nil, err
	}
	return ParseEntry(b)
}

// CacheKey is the hex SHA-256 of the canonical JSON of v (a struct, so
// encoding/json fixes the field order).
func CacheKey(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		// Only plain structs of strings and numbers are passed in, so this
		// does not happen; fall back to Go syntax rather than panic.
		b = fmt.Appendf(nil, "%#v", v)
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// StepKey identifies a step's result in the cache: the call's parameters
// plus who calls (the source identity or the previous step's key). The
// shared MFA session's key leaves out the duration: one session per serial
// and source identity.
type StepKey struct {
	Action      Action `json:"action"`
	Serial      string `json:"serial,omitempty"`
	RoleARN     string `json:"role_arn,omitempty"`
	ExternalID  string `json:"external_id,omitempty"`
	SessionName string `json:"session_name,omitempty"`
	Duration    int64  `json:"duration,omitempty"`
	MFA         bool   `json:"mfa,omitempty"`
	Caller      string `json:"caller"`
}

// MarshalJSON writes the same bytes as encoding/json's reflection would for
// StepKey (field order, omitempty, string escaping: json.Marshal escapes
// the strings and compacts the result either way), so cache keys and file
// names do not change. It exists because building the reflection encoder
// of the struct on first use cost a cached credential-process about a
// tenth of a millisecond, a good part of its own work.
func (k StepKey) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 256)
	b = append(b, `{"action":`...)
	b = appendJSONString(b, string(k.Action))
	for _, f := range []struct{ name, v string }{
		{"serial", k.Serial}, {"role_arn", k.RoleARN}, {"external_id", k.ExternalID}, {"session_name", k.SessionName},
	} {
		if f.v != "" {
			b = append(b, `,"`+f.name+`":`...)
			b = appendJSONString(b, f.v)
		}
	}
	if k.Duration != 0 {
		b = append(b, `,"duration":`...)
		b = strconv.AppendInt(b, k.Duration, 10)
	}
	if k.MFA {
		b = append(b, `,"mfa":true`...)
	}
	b = append(b, `,"caller":`...)
	b = appendJSONString(b, k.Caller)
	return append(b, '}'), nil
}

// StepKeys returns each step's cache key (file name without ".json") and
// what it hashes, for the plan pl of profile p.
func StepKeys(p *awsconfig.Profile, pl *Plan) ([]string, []StepKey) {
	caller := "process:" + p.Source.Profile + ":" + p.Source.CredentialProcess
	if p.Source.AccessKeyID != "" {
		caller = "key:" + p.Source.AccessKeyID
	}
	keys := make([]string, len(pl.Steps))
	sks := make([]StepKey, len(pl.Steps))
	for i, s := range pl.Steps {
		k := StepKey{Action: s.Action, MFA: s.MFA, Caller: caller}
		if s.Shared {
			k.Serial = p.MFASerial
		} else {
			k.RoleARN, k.ExternalID, k.SessionName = s.RoleARN, s.ExternalID, s.SessionName
			k.Duration = int64(s.Duration / time.Second)
			if s.MFA {
				k.Serial = p.MFASerial
			}
		}
		keys[i], sks[i] = stepCacheKey(k), k
		caller = "step:" + keys[i]
	}
	return keys, sks
}

// callerMargin is the validity an intermediate result (the MFA session, a
// hop of a chain) needs left to serve as the caller of the next call; the
// next call's result does not depend on it.
const callerMargin = time.Minute

// Margin is how long step i's result must still be valid to be used: the
// plan's ReuseMargin (15 minutes, less for short sessions) for the
// credentials handed out, a minute for intermediate ones.
func (pl *Plan) Margin(i int) time.Duration {
	if i == len(pl.Steps)-1 {
		return pl.ReuseMargin()
	}
	return callerMargin
}

// Expiry is when an entry stops being usable: its expiration, or for an MFA
// session with mfabridge_mfa_max_age, when its MFA gets too old.
func Expiry(s Step, e *Entry) time.Time {
	exp := e.Credentials.Expiration
	if s.Shared && s.MaxAge > 0 {
		if e.MFATime.IsZero() {
			return time.Time{}
		}
		if t := e.MFATime.Add(s.MaxAge); t.Before(exp) {
			exp = t
		}
	}
	return exp
}

// Usable reports whether e, read from step i's file, may be used at now:
// written for this very step (its key k), with enough time left and, for
// the MFA session, MFA fresh enough. foreign reports an entry written for
// another target (copied over this step's file name).
func (pl *Plan) Usable(i int, k StepKey, e *Entry, now time.Time) (ok, foreign bool) {
	s := pl.Steps[i]
	if e == nil || e.Action != s.Action {
		return false, false
	}
	// Issue 13 case 4: an entry copied over another's file name (Role2's
	// over Role1's) carries the target it was written for; it must be
	// exactly this step's (role, serial, external id, session name,
	// duration, caller). Entries from before this check carry none and
	// are refetched once.
	if e.For == nil || *e.For != k {
		return false, true
	}
	return !Expiry(s, e).Before(now.Add(pl.Margin(i))), false
}

// HandOut is the credentials of e as handed out for step s: their
// expiration is when the entry stops being usable.
func HandOut(s Step, e *Entry) *Credentials {
	c := e.Credentials
	c.Expiration = Expiry(s, e)
	return &c
}
