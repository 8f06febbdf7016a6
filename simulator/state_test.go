package simulator

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mfabridge/mfabridge/internal/securefile"
	"github.com/mfabridge/mfabridge/internal/testtemp"
	"github.com/mfabridge/mfabridge/oath"
)

func TestCreateOpenRoundTrip(t *testing.T) {
	path := filepath.Join(testtemp.Dir(t), "card.json")
	c, err := Create(path, 12345678, fw543)
	if err != nil {
		t.Fatal(err)
	}
	if c.Path() != path || c.Serial() != 12345678 || c.Firmware() != fw543 {
		t.Fatalf("card %q %d %v", c.Path(), c.Serial(), c.Firmware())
	}
	if err := securefile.Check(path); err != nil { // 0600 and ours; on Windows an owner-only DACL
		t.Fatalf("state file not private: %v", err)
	}
	if _, err := Create(path, 1, fw543); !errors.Is(err, ErrStateExists) || !errors.Is(err, fs.ErrExist) {
		t.Fatalf("second Create: %v, want ErrStateExists and fs.ErrExist", err)
	}
	mustTx(t, c, selectOATH, oath.SWOK)
	if _, sw := send(t, c, putAPDU("Example:alice", oath.HOTP, oath.SHA1, 6, []byte("12345678901234567890"), 0x7A, 4, 0, 0, 0, 5)); sw != oath.SWOK {
		t.Fatalf("PUT: %04X", sw)
	}
	send(t, c, calcAPDU("Example:alice", nil, true))

	c2, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	st := c2.Snapshot()
	if len(st.Credentials) != 1 || st.Credentials[0].Counter != 6 || st.Credentials[0].Name != "Example:alice" {
		t.Fatalf("reopened state %+v", st.Credentials)
	}
}

func TestCreateStoresTouchPolicy(t *testing.T) {
	path := filepath.Join(testtemp.Dir(t), "card.json")
	p := TouchPolicy{Mode: TouchDelay, Delay: 2 * time.Second}
	if _, err := Create(path, 7, fw543, WithTouch(p)); err != nil {
		t.Fatal(err)
	}
	c, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Snapshot().Touch; got != p {
		t.Fatalf("reopened touch policy %+v, want %+v", got, p)
	}
	// On Open, WithTouch only overrides: the file keeps its policy.
	c, err = Open(path, WithTouch(TouchPolicy{Mode: TouchTimeout}))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Save(); err != nil {
		t.Fatal(err)
	}
	if c, _ = Open(path); c.Snapshot().Touch != p {
		t.Fatalf("Save after Open(WithTouch) stored %+v", c.Snapshot().Touch)
	}
}

func TestHOTPCounterPersists(t *testing.T) {
	path := filepath.Join(testtemp.Dir(t), "card.json")
	c, err := Create(path, 7, fw543)
	if err != nil {
		t.Fatal(err)
	}
	mustTx(t, c, selectOATH, oath.SWOK)
	send(t, c, putAPDU("hotp", oath.HOTP, oath.SHA1, 6, rfcKeys()[oath.SHA1]))
	// RFC 4226 codes 0..9, each from a freshly opened card.
	want := []string{"755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871", "520489"}
	for i, w := range want {
		c, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		mustTx(t, c, selectOATH, oath.SWOK)
		data, sw := send(t, c, calcAPDU("hotp", []byte{}, true))
		if sw != oath.SWOK || len(data) != 7 {
			t.Fatalf("count %d: %x %04X", i, data, sw)
		}
		if got := fmt.Sprintf("%06d", (binary.BigEndian.Uint32(data[3:])&0x7FFFFFFF)%1000000); got != w {
			t.Errorf("count %d: %s, want %s", i, got, w)
		}
	}
}

func TestSaveFailureKeepsState(t *testing.T) {
	path := filepath.Join(testtemp.Dir(t), "card.json")
	c, err := Create(path, 7, fw543)
	if err != nil {
		t.Fatal(err)
	}
	mustTx(t, c, selectOATH, oath.SWOK)
	send(t, c, putAPDU("hotp", oath.HOTP, oath.SHA1, 6, []byte{1}))
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	fail := true
	c.write = func(p string, data []byte) error {
		if fail {
			return errors.New("disk full")
		}
		return writeAtomic(p, data)
	}
	key := passwordKey(t, "pw", c.Snapshot().Salt)
	changes := []struct {
		name string
		apdu []byte
	}{
		{"PUT", putAPDU("new", oath.TOTP, oath.SHA1, 6, []byte{1})},
		{"PUT overwrite", putAPDU("hotp", oath.TOTP, oath.SHA1, 6, []byte{1})},
		{"DELETE", apdu(0, 0x02, 0, 0, oath.AppendTLV(nil, 0x71, []byte("hotp")))},
		{"RENAME", apdu(0, 0x05, 0, 0, append(oath.AppendTLV(nil, 0x71, []byte("hotp")), oath.AppendTLV(nil, 0x71, []byte("x"))...))},
		{"SET CODE", setCodeAPDU(0x21, key, []byte("chal"), mac(key, []byte("chal")))},
		{"RESET", apdu(0, 0x04, 0xDE, 0xAD, nil)},
		{"HOTP CALCULATE", calcAPDU("hotp", nil, true)},
	}
	snap := c.Snapshot()
	for _, ch := range changes {
		if _, sw := send(t, c, ch.apdu); sw != oath.SWGenericError {
			t.Errorf("%s with a failing save: %04X, want 6581", ch.name, sw)
		}
		if got := c.Snapshot(); !reflect.DeepEqual(got, snap) {
			t.Errorf("%s with a failing save changed the state:\n%+v\n%+v", ch.name, got, snap)
		}
		after, err := os.ReadFile(path)
		if err != nil || !bytes.Equal(after, before) {
			t.Errorf("%s with a failing save changed the file (%v)", ch.name, err)
		}
	}
	fail = false
	mustTx(t, c, "00 02 00 00 06 71 04 686f7470", oath.SWOK)
	c2, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(c2.Snapshot().Credentials); n != 0 {
		t.Fatalf("%d credentials after DELETE", n)
	}
}

func TestWriteAtomic(t *testing.T) {
	dir := testtemp.Dir(t)
	path := filepath.Join(dir, "state.json")
	if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := writeAtomic(path, []byte("new")); err != nil {
		t.Fatal(err)
	}
	if err := securefile.Check(path); err != nil {
		t.Fatalf("state file not private after save: %v", err)
	}
	if got, _ := os.ReadFile(path); string(got) != "new" {
		t.Fatalf("content %q", got)
	}
	// A rename that cannot happen (the target is a non-empty directory)
	// fails, leaves the target alone and no temporary file behind.
	target := filepath.Join(dir, "sub")
	if err := os.MkdirAll(filepath.Join(target, "x"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := writeAtomic(target, []byte("new")); err == nil {
		t.Fatal("writeAtomic over a directory succeeded")
	}
	if err := writeAtomic(filepath.Join(dir, "missing", "state.json"), []byte("x")); err == nil {
		t.Fatal("writeAtomic into a missing directory succeeded")
	}
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if strings.Join(names, ",") != "state.json,sub" {
		t.Fatalf("directory holds %v", names)
	}
}

func TestSaveInMemory(t *testing.T) {
	c := newTestCard(t, fw543)
	if err := c.Save(); !errors.Is(err, ErrNoStateFile) {
		t.Fatalf("Save of an in-memory card: %v", err)
	}
	if c.Path() != "" {
		t.Fatalf("Path %q", c.Path())
	}
}

func TestOpenErrors(t *testing.T) {
	good, err := json.Marshal(&State{Serial: 1, Firmware: fw543, Salt: make([]byte, 8)})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		content string
		want    string // in the error text
	}{
		{"good", string(good), ""},
		{"empty", "", "invalid simulator state"},
		{"truncated", string(good[:len(good)/2]), "invalid simulator state"},
		{"syntax", `{"serial": 1,}`, "corrupt JSON at byte"},
		{"wrong type", `{"serial": "one"}`, "invalid simulator state"},
		{"unknown field", `{"serial": 1, "firmware": "5.4.3", "salt": "0000000000000000", "touch_policy": {}}`, "touch_policy"},
		{"two objects", string(good) + string(good), "data after the JSON object"},
		{"bad firmware", `{"serial": 1, "firmware": "5.4", "salt": "0000000000000000"}`, "want X.Y.Z"},
		{"short salt", `{"serial": 1, "firmware": "5.4.3", "salt": "0000"}`, "salt is 2 bytes"},
		{"bad hex", `{"serial": 1, "firmware": "5.4.3", "salt": "zz"}`, "decode hex"},
		{"bad touch mode", `{"serial": 1, "firmware": "5.4.3", "salt": "0000000000000000", "touch": {"mode": "sometimes"}}`, "invalid touch mode"},
		{"bad credential type", `{"serial": 1, "firmware": "5.4.3", "salt": "0000000000000000", "credentials": [{"name": "a", "type": "motp", "alg": "sha1", "digits": 6, "key": ""}]}`, "unknown type"},
		{"bad digits", `{"serial": 1, "firmware": "5.4.3", "salt": "0000000000000000", "credentials": [{"name": "a", "type": "totp", "alg": "sha1", "digits": 10, "key": ""}]}`, "10 digits"},
		{"duplicate names", `{"serial": 1, "firmware": "5.4.3", "salt": "0000000000000000", "credentials": [{"name": "a", "type": "totp", "alg": "sha1", "digits": 6, "key": ""}, {"name": "a", "type": "hotp", "alg": "sha1", "digits": 6, "key": ""}]}`, "duplicate name"},
		{"SHA512 on old firmware", `{"serial": 1, "firmware": "4.2.0", "salt": "0000000000000000", "credentials": [{"name": "a", "type": "totp", "alg": "sha512", "digits": 6, "key": ""}]}`, "SHA512 needs"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(testtemp.Dir(t), "card.json")
			if err := writeAtomic(path, []byte(tt.content)); err != nil { // private: refused only for its content
				t.Fatal(err)
			}
			_, err := Open(path)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("Open: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("Open: %v, want an error containing %q", err, tt.want)
			case tt.want != "" && !strings.Contains(err.Error(), path):
				t.Fatalf("error %q does not name the file", err)
			}
		})
	}
	if _, err := Open(filepath.Join(testtemp.Dir(t), "missing.json")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Open of a missing file: %v", err)
	}
	if _, err := Open(testtemp.Dir(t)); err == nil {
		t.Fatal("Open of a directory succeeded")
	}
}

func TestStateJSONRoundTrip(t *testing.T) {
	st := &State{
		Serial: 12345678, Firmware: fw543, FormFactor: 1, Salt: []byte{1, 2, 3, 4, 5, 6, 7, 8},
		PasswordKey: bytes.Repeat([]byte{0xAB}, 16),
		Touch:       TouchPolicy{Mode: TouchDelay, Delay: 1500 * time.Millisecond},
		Credentials: []Credential{
			{Name: "Example:alice", Type: oath.TOTP, Algorithm: oath.SHA256, Digits: 8, Key: []byte("secret"), Props: oath.PropTouch},
			{Name: "bin\xff\x00name", Type: oath.HOTP, Algorithm: oath.SHA1, Digits: 6, Key: []byte{}, Counter: 42},
		},
	}
	data, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"firmware":"5.4.3"`, `"delay":"1.5s"`, `"type":"totp"`, `"alg":"sha256"`, `"name_hex":"62696eff006e616d65"`, `"salt":"0102030405060708"`} {
		if !strings.Contains(string(data), want) {
			t.Errorf("state JSON lacks %s: %s", want, data)
		}
	}
	got, err := decodeState(data)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, st) {
		t.Fatalf("round trip\n got  %+v\n want %+v", got, st)
	}
}

func TestTouchPolicyJSON(t *testing.T) {
	tests := []struct {
		in   string
		want TouchPolicy
		err  bool
	}{
		{`{}`, TouchPolicy{}, false},
		{`{"mode":"approve"}`, TouchPolicy{Mode: TouchApprove}, false},
		{`{"mode":"delay","delay":"2s"}`, TouchPolicy{Mode: TouchDelay, Delay: 2 * time.Second}, false},
		{`{"mode":"timeout","delay":250}`, TouchPolicy{Mode: TouchTimeout, Delay: 250 * time.Millisecond}, false},
		{`{"mode":"delay","delay":null}`, TouchPolicy{Mode: TouchDelay}, false},
		{`{"mode":"delay","delay":"soon"}`, TouchPolicy{}, true},
		{`{"mode":"delay","delay":"-1s"}`, TouchPolicy{}, true},
		{`{"mode":"delay","delay":true}`, TouchPolicy{}, true},
		{`{"mode":"release","release":"/tmp/r"}`, TouchPolicy{Mode: TouchRelease, Release: "/tmp/r"}, false},
		{`{"mode":"release"}`, TouchPolicy{}, true},
		{`{"mode":"delay","delay":"1s","release":"/tmp/r"}`, TouchPolicy{}, true},
		{`{"mode":"never"}`, TouchPolicy{}, true},
		{`[]`, TouchPolicy{}, true},
	}
	for _, tt := range tests {
		var p TouchPolicy
		err := json.Unmarshal([]byte(tt.in), &p)
		if (err != nil) != tt.err || (!tt.err && p != tt.want) {
			t.Errorf("%s: %+v %v, want %+v (error %v)", tt.in, p, err, tt.want, tt.err)
		}
		if err == nil {
			b, err := json.Marshal(p)
			var back TouchPolicy
			if err != nil || json.Unmarshal(b, &back) != nil || back != p {
				t.Errorf("%s: round trip via %s gave %+v (%v)", tt.in, b, back, err)
			}
		}
	}
}

func TestParseVersion(t *testing.T) {
	tests := []struct {
		in   string
		want Version
		err  bool
	}{
		{"5.4.3", Version{5, 4, 3}, false},
		{"0.0.0", Version{}, false},
		{"255.255.255", Version{255, 255, 255}, false},
		{"5.4", Version{}, true},
		{"5.4.3.1", Version{}, true},
		{"5.4.256", Version{}, true},
		{"5.-1.3", Version{}, true},
		{"a.b.c", Version{}, true},
		{"", Version{}, true},
	}
	for _, tt := range tests {
		got, err := ParseVersion(tt.in)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("ParseVersion(%q) = %v, %v", tt.in, got, err)
		}
		if err == nil && got.String() != tt.in {
			t.Errorf("%q round trips to %q", tt.in, got.String())
		}
	}
	if !(Version{5, 3, 1}).AtLeast(Version{5, 3, 1}) || (Version{5, 2, 9}).AtLeast(Version{5, 3, 0}) || !(Version{6, 0, 0}).AtLeast(Version{5, 9, 9}) {
		t.Fatal("AtLeast")
	}
}

func TestNewState(t *testing.T) {
	a, err := NewState(1, fw543)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := NewState(1, fw543)
	if len(a.Salt) != 8 || bytes.Equal(a.Salt, b.Salt) {
		t.Fatalf("salts %x %x", a.Salt, b.Salt)
	}
	if err := a.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestATR(t *testing.T) {
	c := newTestCard(t, fw543)
	want := unhex(t, "3BFD1300008131FE158073C021C057597562694B657940")
	got := c.ATR()
	if !bytes.Equal(got, want) {
		t.Fatalf("ATR %X", got)
	}
	got[0] = 0
	if c.ATR()[0] != 0x3B {
		t.Fatal("ATR returned the card's own slice")
	}
}
