package simulator

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/mfabridge/mfabridge/oath"
)

func TestCreateOpenRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "card.json")
	c, err := Create(path, 12345678, fw543)
	if err != nil {
		t.Fatal(err)
	}
	if c.Path() != path || c.Serial() != 12345678 || c.Firmware() != fw543 {
		t.Fatalf("card %q %d %v", c.Path(), c.Serial(), c.Firmware())
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %#o, want 0600", fi.Mode().Perm())
	}
	if _, err := Create(path, 1, fw543); !errors.Is(err, ErrStateExists) {
		t.Fatalf("second Create: %v, want ErrStateExists", err)
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
