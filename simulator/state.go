package simulator

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/mfabridge/mfabridge/oath"
)

// Limits of a YubiKey 5 OATH applet (ykoath.md, "Credential names"). The
// longest name is oath.MaxNameLen.
const (
	MaxCredentials = 32
	saltLen        = 8
)

// Touch policy modes.
const (
	TouchApprove = "approve" // the user touches at once (the default)
	TouchDelay   = "delay"   // the user touches after Delay
	TouchTimeout = "timeout" // nobody touches: 6982 after Delay
	TouchRelease = "release" // the test decides each touch: see TouchPolicy.Release
)

// TouchPolicy says how the simulated user reacts when a credential that
// requires touch is calculated. The zero value approves immediately.
//
// In JSON the delay is a Go duration string ("1.5s") or a number of
// milliseconds.
type TouchPolicy struct {
	Mode  string
	Delay time.Duration
	// Release, in mode "release", is the file through which a test plays
	// the user, so it needs no bet on how long a touch or a prompt takes:
	// the simulated user touches when the file Release appears and lets
	// the touch time out (6982) when Release+".timeout" appears. Each
	// touch takes (removes) the file it acted on, so every touch needs a
	// file of its own; a file written before the touch is asked for acts
	// at once. Until one appears the card waits, as long as the command's
	// context lasts.
	Release string
}

type touchJSON struct {
	Mode    string          `json:"mode,omitempty"`
	Delay   json.RawMessage `json:"delay,omitempty"`
	Release string          `json:"release,omitempty"`
}

// MarshalJSON writes {"mode":"delay","delay":"1.5s"}.
func (p TouchPolicy) MarshalJSON() ([]byte, error) {
	j := touchJSON{Mode: p.Mode, Release: p.Release}
	if p.Delay != 0 {
		d, err := json.Marshal(p.Delay.String())
		if err != nil {
			return nil, err
		}
		j.Delay = d
	}
	return json.Marshal(j)
}

// UnmarshalJSON accepts the delay as a duration string or milliseconds.
func (p *TouchPolicy) UnmarshalJSON(b []byte) error {
	var j touchJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return fmt.Errorf("decode touch policy: %w", err)
	}
	var d time.Duration
	if raw := bytes.TrimSpace(j.Delay); len(raw) > 0 && !bytes.Equal(raw, []byte("null")) {
		if raw[0] == '"' {
			var s string
			if err := json.Unmarshal(raw, &s); err != nil {
				return fmt.Errorf("decode touch delay: %w", err)
			}
			v, err := time.ParseDuration(s)
			if err != nil {
				return fmt.Errorf("decode touch delay: %w", err)
			}
			d = v
		} else {
			ms, err := strconv.ParseFloat(string(raw), 64)
			if err != nil {
				return fmt.Errorf("decode touch delay %s: want a duration string or milliseconds", raw)
			}
			d = time.Duration(ms * float64(time.Millisecond))
		}
	}
	np := TouchPolicy{Mode: j.Mode, Delay: d, Release: j.Release}
	if err := np.validate(); err != nil {
		return err
	}
	*p = np
	return nil
}

func (p TouchPolicy) validate() error {
	switch p.Mode {
	case "", TouchApprove, TouchDelay, TouchTimeout:
		if p.Release != "" {
			return fmt.Errorf("invalid touch policy: a release file needs mode %s, not %q", TouchRelease, p.Mode)
		}
	case TouchRelease:
		if p.Release == "" {
			return fmt.Errorf("invalid touch policy: mode %s needs a release file", TouchRelease)
		}
	default:
		return fmt.Errorf("invalid touch mode %q: want %s, %s, %s or %s", p.Mode, TouchApprove, TouchDelay, TouchTimeout, TouchRelease)
	}
	if p.Delay < 0 {
		return fmt.Errorf("invalid touch delay %v: negative", p.Delay)
	}
	return nil
}

// HexBytes is a byte slice written as a hex string in the state file.
type HexBytes []byte

// MarshalText encodes b as lowercase hex.
func (b HexBytes) MarshalText() ([]byte, error) {
	return []byte(hex.EncodeToString(b)), nil
}

// UnmarshalText decodes hex.
func (b *HexBytes) UnmarshalText(t []byte) error {
	out := make([]byte, hex.DecodedLen(len(t)))
	if _, err := hex.Decode(out, t); err != nil {
		return fmt.Errorf("decode hex: %w", err)
	}
	*b = out
	return nil
}

// Credential is one OATH account stored on the simulated card.
type Credential struct {
	Name      string         // raw bytes as sent in PUT (at most 64)
	Type      oath.Type      // oath.TOTP or oath.HOTP
	Algorithm oath.Algorithm // oath.SHA1, SHA256 or SHA512
	Digits    int            // 6–8
	Key       HexBytes       // HMAC key as stored by PUT
	Props     byte           // oath.PropTouch | oath.PropIncreasing
	Counter   uint64         // HOTP moving factor (next value to use)
	// LastChallenge is the highest TOTP challenge answered, kept for
	// oath.PropIncreasing credentials (which refuse a lower one).
	LastChallenge HexBytes
}

// Touch reports whether the credential requires touch.
func (c Credential) Touch() bool { return c.Props&oath.PropTouch != 0 }

// Increasing reports whether a TOTP credential refuses a challenge lower
// than the last one it answered (oath.PropIncreasing; HOTP ignores it).
func (c Credential) Increasing() bool {
	return c.Props&oath.PropIncreasing != 0 && c.Type == oath.TOTP
}

type credJSON struct {
	Name    string   `json:"name,omitempty"`
	NameHex HexBytes `json:"name_hex,omitempty"` // names that are not valid UTF-8
	Type    string   `json:"type"`
	Alg     string   `json:"alg"`
	Digits  int      `json:"digits"`
	Key     HexBytes `json:"key"`
	Props   byte     `json:"props,omitempty"`
	Counter uint64   `json:"counter,omitempty"`
	LastChl HexBytes `json:"last_challenge,omitempty"`
}

var (
	typeNames = map[oath.Type]string{oath.TOTP: "totp", oath.HOTP: "hotp"}
	algNames  = map[oath.Algorithm]string{oath.SHA1: "sha1", oath.SHA256: "sha256", oath.SHA512: "sha512"}
)

// MarshalJSON writes type and algorithm by name and the key in hex.
func (c Credential) MarshalJSON() ([]byte, error) {
	j := credJSON{
		Type: typeNames[c.Type], Alg: algNames[c.Algorithm], Digits: c.Digits,
		Key: c.Key, Props: c.Props, Counter: c.Counter, LastChl: c.LastChallenge,
	}
	if j.Type == "" || j.Alg == "" {
		return nil, fmt.Errorf("encode credential: invalid type/algorithm %#02x", byte(c.Type)|byte(c.Algorithm))
	}
	if j.Key == nil {
		j.Key = HexBytes{}
	}
	if utf8.ValidString(c.Name) {
		j.Name = c.Name
	} else {
		j.NameHex = HexBytes(c.Name)
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads what MarshalJSON writes.
func (c *Credential) UnmarshalJSON(b []byte) error {
	var j credJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	var out Credential
	out.Name = j.Name
	if j.NameHex != nil {
		out.Name = string(j.NameHex)
	}
	found := false
	for t, n := range typeNames {
		if strings.EqualFold(n, j.Type) {
			out.Type, found = t, true
		}
	}
	if !found {
		return fmt.Errorf("credential %q: unknown type %q (want totp or hotp)", out.Name, j.Type)
	}
	found = false
	for a, n := range algNames {
		if strings.EqualFold(n, j.Alg) {
			out.Algorithm, found = a, true
		}
	}
	if !found {
		return fmt.Errorf("credential %q: unknown algorithm %q (want sha1, sha256 or sha512)", out.Name, j.Alg)
	}
	out.Digits, out.Key, out.Props, out.Counter = j.Digits, j.Key, j.Props, j.Counter
	out.LastChallenge = j.LastChl
	*c = out
	return nil
}

// State is everything a simulated YubiKey remembers across power cycles;
// it is what the state file holds. Build one with NewState or by hand in
// tests; New validates it lazily (a bad credential simply misbehaves), Open
// validates it strictly.
type State struct {
	Serial      uint32       `json:"serial"`
	Firmware    Version      `json:"firmware"`
	FormFactor  uint8        `json:"form_factor"` // READ CONFIG tag 04; 1 = USB-A keychain
	Salt        HexBytes     `json:"salt"`        // OATH SELECT tag 71, 8 bytes
	PasswordKey HexBytes     `json:"password_key,omitempty"`
	Touch       TouchPolicy  `json:"touch"`
	Credentials []Credential `json:"credentials"`
	PIV         *PIVState    `json:"piv,omitempty"` // nil: the PIV applet as from the factory (pivstate.go)
}

// FormFactorUSBAKeychain is the form factor of a YubiKey 5 NFC.
const FormFactorUSBAKeychain uint8 = 0x01

// NewState returns an empty card state with a fresh random salt.
func NewState(serial uint32, fw Version) (*State, error) {
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return nil, fmt.Errorf("generate salt: %w", err)
	}
	return &State{
		Serial:      serial,
		Firmware:    fw,
		FormFactor:  FormFactorUSBAKeychain,
		Salt:        salt,
		Credentials: []Credential{},
	}, nil
}

// clone returns a deep copy.
func (s *State) clone() *State {
	out := *s
	out.Salt = bytes.Clone(s.Salt)
	out.PasswordKey = bytes.Clone(s.PasswordKey)
	out.Credentials = make([]Credential, len(s.Credentials))
	for i, c := range s.Credentials {
		c.Key = bytes.Clone(c.Key)
		c.LastChallenge = bytes.Clone(c.LastChallenge)
		out.Credentials[i] = c
	}
	out.PIV = s.PIV.clone()
	return &out
}

func (s *State) find(name []byte) int {
	for i := range s.Credentials {
		if s.Credentials[i].Name == string(name) {
			return i
		}
	}
	return -1
}

// ErrInvalidState reports a state (file) that no YubiKey could be in.
var ErrInvalidState = errors.New("invalid simulator state")

// Validate checks that s describes a card the simulator can be.
func (s *State) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidState, fmt.Sprintf(format, args...))
	}
	if len(s.Salt) != saltLen {
		return bad("salt is %d bytes, want %d", len(s.Salt), saltLen)
	}
	if n := len(s.PasswordKey); n != 0 && n != 16 {
		return bad("password key is %d bytes, want 16", n)
	}
	if err := s.Touch.validate(); err != nil {
		return bad("%v", err)
	}
	if len(s.Credentials) > MaxCredentials {
		return bad("%d credentials, the card holds %d", len(s.Credentials), MaxCredentials)
	}
	if s.PIV != nil {
		if err := s.PIV.validate(); err != nil {
			return bad("%v", err)
		}
	}
	seen := make(map[string]bool, len(s.Credentials))
	for i, c := range s.Credentials {
		if err := checkCredential(c, s.Firmware); err != nil {
			return bad("credential %d: %v", i, err)
		}
		if seen[c.Name] {
			return bad("credential %d: duplicate name %q", i, c.Name)
		}
		seen[c.Name] = true
	}
	return nil
}

func checkCredential(c Credential, fw Version) error {
	if len(c.Name) == 0 || len(c.Name) > oath.MaxNameLen {
		return fmt.Errorf("name is %d bytes, want 1–%d", len(c.Name), oath.MaxNameLen)
	}
	if c.Type != oath.TOTP && c.Type != oath.HOTP {
		return fmt.Errorf("type %#02x is neither TOTP nor HOTP", byte(c.Type))
	}
	switch c.Algorithm {
	case oath.SHA1, oath.SHA256:
	case oath.SHA512:
		if !fw.AtLeast(fwSHA512) {
			return fmt.Errorf("SHA512 needs firmware %v", fwSHA512)
		}
	default:
		return fmt.Errorf("algorithm %#02x unknown", byte(c.Algorithm))
	}
	if c.Digits < 6 || c.Digits > 8 {
		return fmt.Errorf("%d digits, want 6–8", c.Digits)
	}
	if len(c.Key) > blockSize(c.Algorithm) {
		return fmt.Errorf("key is %d bytes, longer than the hash block", len(c.Key))
	}
	if c.Props&^(oath.PropTouch|oath.PropIncreasing) != 0 {
		return fmt.Errorf("unknown property bits %#02x", c.Props)
	}
	if c.Props&oath.PropTouch != 0 && !fw.AtLeast(fwTouch) {
		return fmt.Errorf("touch needs firmware %v", fwTouch)
	}
	return nil
}

func blockSize(a oath.Algorithm) int {
	if a == oath.SHA512 {
		return 128
	}
	return 64
}
