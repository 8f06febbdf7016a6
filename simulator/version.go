package simulator

import (
	"fmt"
	"strconv"
	"strings"
)

// Version is a YubiKey firmware version. The OATH applet reports it in
// SELECT (tag 79), the management applet in its SELECT banner and READ
// CONFIG, the OTP and PIV applets in their own answers.
type Version struct{ Major, Minor, Patch uint8 }

// String formats v as "5.4.3".
func (v Version) String() string {
	return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch)
}

// ParseVersion parses "X.Y.Z" with each part in 0–255.
func ParseVersion(s string) (Version, error) {
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		return Version{}, fmt.Errorf("parse firmware version %q: want X.Y.Z", s)
	}
	var out [3]uint8
	for i, p := range parts {
		n, err := strconv.ParseUint(p, 10, 8)
		if err != nil {
			return Version{}, fmt.Errorf("parse firmware version %q: %w", s, err)
		}
		out[i] = uint8(n)
	}
	return Version{out[0], out[1], out[2]}, nil
}

// AtLeast reports whether v is the same as or newer than o.
func (v Version) AtLeast(o Version) bool {
	if v.Major != o.Major {
		return v.Major > o.Major
	}
	if v.Minor != o.Minor {
		return v.Minor > o.Minor
	}
	return v.Patch >= o.Patch
}

// MarshalText encodes v as "X.Y.Z" (used by the JSON state file).
func (v Version) MarshalText() ([]byte, error) { return []byte(v.String()), nil }

// UnmarshalText decodes "X.Y.Z".
func (v *Version) UnmarshalText(b []byte) error {
	p, err := ParseVersion(string(b))
	if err != nil {
		return err
	}
	*v = p
	return nil
}

// Firmware gates (see ykoath.md, "Firmware differences").
var (
	fwTouch      = Version{4, 2, 0}
	fwSHA512     = Version{4, 3, 1}
	fwRename     = Version{5, 3, 1}
	fwSerial     = Version{5, 0, 0} // PIV GET SERIAL
	fwReadConfig = Version{4, 1, 0} // management READ CONFIG
)
