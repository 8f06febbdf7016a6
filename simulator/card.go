// Package simulator is a software YubiKey at the APDU level: the OATH
// applet (YKOATH), plus the management, OTP and PIV answers that ykman and
// piv-go use to identify a key. A Card satisfies oath.Transport, so the real
// oath client and device code run against it in tests; the vpcd bridge
// (vpcd*.go) exposes it to pcscd so that ykman can talk to it too.
//
// A Card is in memory (New) or backed by a JSON state file (Create, Open)
// that is rewritten atomically, private to the user (mode 0600; an
// owner-only DACL on Windows), before any command that changes persistent
// state answers 9000. The state file holds the card's
// secrets: it IS the device. Its format (hex for bytes, names for types):
//
//	{
//	  "serial": 12345678,
//	  "firmware": "5.4.3",
//	  "form_factor": 1,
//	  "salt": "4bb7a7fad7af401b",
//	  "password_key": "b07da1e7de87f89a87a2b598eaa2188c",
//	  "touch": {"mode": "delay", "delay": "1.5s"},
//	  "credentials": [
//	    {"name": "Example:alice", "type": "totp", "alg": "sha1", "digits": 6,
//	     "key": "48656c6c6f21deadbeef", "props": 2},
//	    {"name": "Example:hotp", "type": "hotp", "alg": "sha256", "digits": 8,
//	     "key": "3132", "counter": 5}
//	  ]
//	}
//
// Names that are not valid UTF-8 are stored as "name_hex"; password_key is
// absent without a password; props is the YKOATH property byte (2 = touch).
package simulator

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"sync"

	"github.com/mfabridge/mfabridge/internal/securefile"
	"github.com/mfabridge/mfabridge/oath"
)

// atr is the ATR of a YubiKey 5 NFC over USB (pcsc-and-virtual-card.md).
// ATR[1] & 0xF0 == 0xF0 tells ykman the key is on USB.
var atr = []byte{
	0x3B, 0xFD, 0x13, 0x00, 0x00, 0x81, 0x31, 0xFE, 0x15, 0x80, 0x73, 0xC0,
	0x21, 0xC0, 0x57, 0x59, 0x75, 0x62, 0x69, 0x4B, 0x65, 0x79, 0x40,
}

const (
	// defaultChunk is how many bytes of an answer go in one response APDU.
	// Yubico's reference OATH applet sends APDU.getOutBlockSize() bytes, 254
	// as measured (issue 13 case 23); what a YubiKey 5 sends is not in our
	// sources, so the reference decides. Clients must accept any size.
	defaultChunk = 0xFE
	maxChain     = 1 << 16 // bytes accumulated over chained APDUs
)

// Errors returned by Create, Open and Save.
var (
	ErrNoStateFile = errors.New("simulated card has no state file")
	ErrStateExists = errors.New("simulator state file already exists")
)

// Stats counts the APDUs a card received since it was made.
type Stats struct {
	Total  int          // every APDU, including chained parts and SEND REMAINING
	Select int          // SELECT commands (INS A4, P1 04)
	ByINS  map[byte]int // every other APDU by INS (A4 here is CALCULATE ALL)
	// PIVTouches counts the touches PIV key operations asked the simulated
	// user for (the touch cache spares some).
	PIVTouches int
}

// Option configures a Card.
type Option func(*Card)

// WithTouch overrides the touch policy stored in the state (not persisted).
func WithTouch(p TouchPolicy) Option {
	return func(c *Card) { c.touch, c.touchSet = p, true }
}

// WithTouchFunc makes the simulated user a function, for tests that
// synchronise on the touch instead of betting on delays: when a credential
// that requires touch is calculated, the card calls touch (holding its lock,
// as a blinking key is busy) and answers 9000 if it returns true, 6982 (no
// touch in time) if false, or gives up with the error it returns (the
// context's, when the wait is cancelled). It overrides any touch policy.
func WithTouchFunc(touch func(ctx context.Context) (bool, error)) Option {
	return func(c *Card) { c.touchFunc = touch }
}

// WithRand sets the source of SELECT/VALIDATE challenges and of new salts
// (RESET), for deterministic tests. The default is crypto/rand.
func WithRand(r io.Reader) Option { return func(c *Card) { c.rand = r } }

// WithChunkSize sets how many response bytes the card sends before it
// answers 61xx and waits for SEND REMAINING. The default is 254, as
// Yubico's reference applet; n < 1 keeps the default.
func WithChunkSize(n int) Option {
	return func(c *Card) {
		if n >= 1 {
			c.chunk = min(n, 0xFFFF)
		}
	}
}

// WithOATHOnly makes a card with the OATH applet alone, as Yubico's
// ykneo-oath on a NEO-era key or another JavaCard, or another YKOATH token:
// SELECT of the PIV, management and OTP applets answers 6A82, so the card
// shows no YubiKey serial or firmware (not persisted).
func WithOATHOnly() Option { return func(c *Card) { c.oathOnly = true } }

// applet is the currently selected applet.
type applet int

const (
	appletNone applet = iota
	appletOATH
	appletManagement
	appletOTP
	appletPIV
)

// Card is a simulated YubiKey. It is safe for concurrent use: one mutex
// serialises APDUs as a real card does (a touch wait holds it too, but
// honours the caller's context).
type Card struct {
	mu sync.Mutex

	st       *State
	path     string
	rand     io.Reader
	touch    TouchPolicy
	touchSet bool
	chunk    int
	oathOnly bool // see WithOATHOnly
	write    func(path string, data []byte) error
	log      *slog.Logger // see WithLogger (log.go)

	// touchFunc, when set, plays the user instead of the policy.
	touchFunc func(ctx context.Context) (bool, error)

	// Session state, lost on power off, reset and deselect.
	selected  applet
	authed    bool   // VALIDATE succeeded since SELECT
	challenge []byte // SELECT challenge awaiting VALIDATE
	pending   []byte // response bytes awaiting SEND REMAINING
	chainHdr  [4]byte
	chain     []byte
	chaining  bool
	piv       pivSession // PIV PIN / management key state (pivapplet.go)

	stats Stats
}

// New returns an in-memory card holding st (not copied: the card owns it).
func New(st *State, opts ...Option) *Card {
	c := &Card{
		st:    st,
		rand:  rand.Reader,
		chunk: defaultChunk,
		write: writeAtomic,
		stats: Stats{ByINS: map[byte]int{}},
	}
	if c.st.Credentials == nil {
		c.st.Credentials = []Credential{}
	}
	for _, o := range opts {
		o(c)
	}
	return c
}

// Create makes a new card with a fresh state and writes it to path, which
// must not exist yet (the error then matches both ErrStateExists and
// fs.ErrExist). A WithTouch option is stored in the new state file, so the
// policy outlives this Card.
func Create(path string, serial uint32, fw Version, opts ...Option) (*Card, error) {
	st, err := NewState(serial, fw)
	if err != nil {
		return nil, fmt.Errorf("create simulator %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			// Both errors.Is(err, ErrStateExists) and errors.Is(err, fs.ErrExist) hold.
			return nil, fmt.Errorf("create simulator %s: %w (%w)", path, ErrStateExists, fs.ErrExist)
		}
		return nil, fmt.Errorf("create simulator %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		os.Remove(path)
		return nil, fmt.Errorf("create simulator %s: %w", path, err)
	}
	c := New(st, opts...)
	if c.touchSet {
		// A policy given at creation is the new card's own: keep it.
		st.Touch = c.touch
	}
	c.path = path
	if err := c.Save(); err != nil {
		os.Remove(path)
		return nil, fmt.Errorf("create simulator %s: %w", path, err)
	}
	return c, nil
}

// maxStateSize bounds the state file: 32 credentials take a few KiB.
const maxStateSize = 1 << 20

// Open loads the card stored at path. It refuses a file that is not private
// to the user (it holds the card's keys: mode 0600 and ours on Unix; owner
// and DACL on Windows, see internal/securefile), a link, a file that is not
// valid JSON, and a state no YubiKey could be in, saying why.
func Open(path string, opts ...Option) (*Card, error) {
	data, err := securefile.ReadFile(path, maxStateSize+1)
	if err != nil {
		var se *securefile.Error
		if errors.As(err, &se) && se.Fix != "" {
			// Advise about the mode only for a file that is a state file:
			// sim:/etc/passwd must not be told to chmod 600 /etc/passwd.
			if errors.Is(err, securefile.ErrNotPrivate) {
				if derr := notStateFile(path); derr != nil {
					return nil, fmt.Errorf("open simulator %s: not a simulator state file: %w", path, derr)
				}
			}
			return nil, fmt.Errorf("open simulator: %w: the state file holds the card's keys; fix: %s", err, se.Fix)
		}
		return nil, fmt.Errorf("open simulator: %w", err)
	}
	if len(data) > maxStateSize {
		return nil, fmt.Errorf("open simulator %s: %w: larger than %d bytes", path, ErrInvalidState, maxStateSize)
	}
	st, err := decodeState(data)
	if err != nil {
		return nil, fmt.Errorf("open simulator %s: %w", path, err)
	}
	c := New(st, opts...)
	c.path = path
	return c, nil
}

// notStateFile says why the regular file at path is not a simulator
// state (nil if it is one, or cannot be read); it is asked only about a
// file whose mode is too loose, before advising to tighten it.
func notStateFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return nil
	}
	data, err := io.ReadAll(io.LimitReader(f, maxStateSize+1))
	if err != nil {
		return nil
	}
	if len(data) > maxStateSize {
		return fmt.Errorf("%w: larger than %d bytes", ErrInvalidState, maxStateSize)
	}
	_, err = decodeState(data)
	return err
}

func decodeState(data []byte) (*State, error) {
	var st State
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields() // a misspelt field in a hand-edited file is an error, not a silent default
	err := dec.Decode(&st)
	if err == nil && dec.More() {
		err = errors.New("data after the JSON object")
	}
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return nil, fmt.Errorf("%w: corrupt JSON at byte %d: %w", ErrInvalidState, se.Offset, err)
		}
		return nil, fmt.Errorf("%w: %w", ErrInvalidState, err)
	}
	if err := st.Validate(); err != nil {
		return nil, err
	}
	if st.Credentials == nil {
		st.Credentials = []Credential{}
	}
	return &st, nil
}

// Path returns the state file, or "" for an in-memory card.
func (c *Card) Path() string { return c.path }

// Save writes the state file atomically (temporary file in the same
// directory, fsync, rename), private to the user.
func (c *Card) Save() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.persist(c.st)
}

func (c *Card) persist(st *State) error {
	if c.path == "" {
		return ErrNoStateFile
	}
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("encode simulator state: %w", err)
	}
	data = append(data, '\n')
	if err := c.write(c.path, data); err != nil {
		return fmt.Errorf("save simulator state %s: %w", c.path, err)
	}
	return nil
}

// writeAtomic replaces path with a file private to the user holding data
// (internal/securefile: temporary file in the same directory, fsync,
// rename; on Windows the rename is retried while a reader holds the file).
func writeAtomic(path string, data []byte) error {
	return securefile.WriteFile(path, data)
}

// ATR returns the card's answer to reset (a YubiKey 5 NFC over USB).
func (c *Card) ATR() []byte { return bytes.Clone(atr) }

// PowerOn starts a new session: nothing selected, not authenticated.
func (c *Card) PowerOn() { c.Reset() }

// PowerOff ends the session; the persistent state is kept.
func (c *Card) PowerOff() { c.Reset() }

// Reset is a warm reset: it deselects every applet, clears the OATH
// authentication, pending responses and partial command chains. The
// persistent state (credentials, password, counters) is kept.
func (c *Card) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.resetSession()
}

func (c *Card) resetSession() {
	c.selected = appletNone
	c.authed = false
	c.challenge = nil
	c.pending = nil
	c.chain = nil
	c.chaining = false
	c.piv = pivSession{}
}

// Serial returns the card's serial number.
func (c *Card) Serial() uint32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.st.Serial
}

// Firmware returns the card's firmware version.
func (c *Card) Firmware() Version {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.st.Firmware
}

// Stats returns a copy of the APDU counters.
func (c *Card) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.stats
	s.ByINS = make(map[byte]int, len(c.stats.ByINS))
	for k, v := range c.stats.ByINS {
		s.ByINS[k] = v
	}
	return s
}

// Snapshot returns a deep copy of the card's persistent state.
func (c *Card) Snapshot() *State {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.st.clone()
}

func (c *Card) touchPolicy() TouchPolicy {
	if c.touchSet {
		return c.touch
	}
	return c.st.Touch
}

// commit applies mutate to a copy of the state, saves the copy when the card
// is file-backed, and only then makes it current. A failed save answers
// 6581 (memory failure) and leaves the state as it was.
func (c *Card) commit(mutate func(st *State) uint16) uint16 {
	next := c.st.clone()
	if sw := mutate(next); sw != oath.SWOK {
		return sw
	}
	if c.path != "" {
		if err := c.persist(next); err != nil {
			c.logger().Debug("simulator: state not saved, command refused", "err", err)
			return oath.SWGenericError
		}
	}
	c.st = next
	return oath.SWOK
}
