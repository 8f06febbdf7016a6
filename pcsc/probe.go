package pcsc

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"sync"
)

// Identifying a YubiKey from the card itself (see the YubiKey technical
// manual and the notes in pcsc-and-virtual-card.md). The reader's name is
// never used: a YubiKey in an NFC reader carries the reader's name.
//
// We send these APDUs ourselves rather than through piv-go's piv.Open +
// Serial(): piv-go v2.6.0 connects with SCARD_SHARE_EXCLUSIVE and T=1 only,
// starts a transaction it holds until Close, and opens a second PC/SC
// context per call (pcsc_unix.go, piv.go). Probing that way fails with a
// sharing violation whenever any other program (ykman, gpg, a second
// mfabridge) has the card open, and blocks those programs while it probes.
// The wire exchange below is the same one piv-go performs (SELECT PIV,
// GET VERSION, GET SERIAL on firmware 5+), run on our shared-mode handle.

// AIDs. Duplicated from package oath on purpose: pcsc imports nothing of ours.
var (
	aidPIV        = []byte{0xA0, 0x00, 0x00, 0x03, 0x08}
	aidManagement = []byte{0xA0, 0x00, 0x00, 0x05, 0x27, 0x47, 0x11, 0x17}
	aidOTP        = []byte{0xA0, 0x00, 0x00, 0x05, 0x27, 0x20, 0x01}
	aidOATHApplet = []byte{0xA0, 0x00, 0x00, 0x05, 0x27, 0x21, 0x01}
)

// Yubico's instructions used for identification.
var (
	apduPIVGetVersion = []byte{0x00, 0xFD, 0x00, 0x00}       // PIV GET VERSION (YubiKey extension)
	apduPIVGetSerial  = []byte{0x00, 0xF8, 0x00, 0x00}       // PIV GET SERIAL, firmware 5+
	apduReadConfig    = []byte{0x00, 0x1D, 0x00, 0x00, 0x00} // management READ CONFIG, firmware 4.1+
	apduOTPSerial     = []byte{0x00, 0x01, 0x10, 0x00, 0x00} // OTP applet: read serial
)

// Management READ CONFIG tags (YubiKey technical manual, "Device info").
const (
	cfgTagSerial  byte = 0x02
	cfgTagVersion byte = 0x05
)

const maxGetResponse = 16 // bound on 61xx rounds while probing

// errNotYubiKey: the card answered none of Yubico's applets, not even the
// OATH one.
var errNotYubiKey = errors.New("card is neither a YubiKey nor an OATH (YKOATH) card")

// transmitter is the one method probing needs; *Card satisfies it.
type transmitter interface {
	Transmit(ctx context.Context, apdu []byte) ([]byte, error)
}

func selectAPDU(aid []byte) []byte {
	return append([]byte{0x00, 0xA4, 0x04, 0x00, byte(len(aid))}, aid...)
}

// version is a firmware version.
type version [3]byte

func (v version) String() string {
	return fmt.Sprintf("%d.%d.%d", v[0], v[1], v[2])
}

// probeKey identifies a YubiKey: PIV GET VERSION / GET SERIAL on firmware 5+,
// else management READ CONFIG (4.1+), else the OTP applet (older keys).
// A card with none of these but an OATH applet is reported with serial 0
// and no firmware. It returns errNotYubiKey for other cards, and transport
// errors as they are.
// On a YubiKey 5 it costs three APDUs.
func probeKey(ctx context.Context, t transmitter) (serial uint32, fw string, err error) {
	return probe(ctx, t, true)
}

// probeSerial is probeKey for discovery by serial: on a YubiKey 5 it asks
// PIV GET SERIAL straight away (SELECT + GET SERIAL, two APDUs, as many as
// ykman spends) and leaves the firmware empty — the OATH SELECT that follows
// names it. Older keys take probeKey's path.
func probeSerial(ctx context.Context, t transmitter) (serial uint32, fw string, err error) {
	return probe(ctx, t, false)
}

func probe(ctx context.Context, t transmitter, wantFirmware bool) (serial uint32, fw string, err error) {
	if !wantFirmware {
		if _, sw, err := exchange(ctx, t, selectAPDU(aidPIV)); err != nil {
			return 0, "", fmt.Errorf("select PIV applet: %w", err)
		} else if sw == 0x9000 {
			data, sw, err := exchange(ctx, t, apduPIVGetSerial)
			if err != nil {
				return 0, "", fmt.Errorf("get PIV serial: %w", err)
			}
			if s, err := parseSerial(data); sw == 0x9000 && err == nil {
				return s, "", nil
			}
		}
	}
	var (
		ver    version
		hasVer bool
		yubico bool // some Yubico-only applet or instruction answered
	)

	// 1. PIV: GET VERSION is the firmware version on YubiKey 4 and 5
	// (a NEO reports its applet version 1.0.x instead).
	if _, sw, err := exchange(ctx, t, selectAPDU(aidPIV)); err != nil {
		return 0, "", fmt.Errorf("select PIV applet: %w", err)
	} else if sw == 0x9000 {
		data, sw, err := exchange(ctx, t, apduPIVGetVersion)
		if err != nil {
			return 0, "", fmt.Errorf("get PIV version: %w", err)
		}
		if v, err := parseVersion(data); sw == 0x9000 && err == nil {
			yubico = true
			if v[0] >= 4 {
				ver, hasVer = v, true
			}
			if v[0] >= 5 {
				data, sw, err := exchange(ctx, t, apduPIVGetSerial)
				if err != nil {
					return 0, "", fmt.Errorf("get PIV serial: %w", err)
				}
				if s, err := parseSerial(data); sw == 0x9000 && err == nil {
					return s, v.String(), nil
				}
			}
		}
	}

	// 2. Management applet: SELECT names the version, READ CONFIG has both.
	if data, sw, err := exchange(ctx, t, selectAPDU(aidManagement)); err != nil {
		return 0, "", fmt.Errorf("select management applet: %w", err)
	} else if sw == 0x9000 {
		yubico = true
		if v, ok := parseManagementVersion(data); ok && !hasVer {
			ver, hasVer = v, true
		}
		data, sw, err := exchange(ctx, t, apduReadConfig)
		if err != nil {
			return 0, "", fmt.Errorf("read management config: %w", err)
		}
		if sw == 0x9000 {
			s, hasSerial, v, okVer, err := parseReadConfig(data)
			if err == nil {
				if okVer {
					ver, hasVer = v, true
				}
				if hasSerial {
					return s, fwString(ver, hasVer), nil
				}
			}
		}
	}

	// 3. OTP applet: SELECT answers version(3) prog_seq(1) touch_level(2).
	if data, sw, err := exchange(ctx, t, selectAPDU(aidOTP)); err != nil {
		return 0, "", fmt.Errorf("select OTP applet: %w", err)
	} else if sw == 0x9000 {
		yubico = true
		if len(data) >= 3 && !hasVer {
			ver, hasVer = version{data[0], data[1], data[2]}, true
		}
		data, sw, err := exchange(ctx, t, apduOTPSerial)
		if err != nil {
			return 0, "", fmt.Errorf("read OTP serial: %w", err)
		}
		// Refused when a YubiKey 4's "serial visible" flag is off.
		if s, err := parseSerial(data); sw == 0x9000 && err == nil {
			return s, fwString(ver, hasVer), nil
		}
	}

	if yubico {
		return 0, fwString(ver, hasVer), nil // a YubiKey that hides its serial
	}

	// 4. Only the OATH applet: Yubico's ykneo-oath on a NEO-era key or
	// another JavaCard, and other YKOATH tokens. No serial and no firmware
	// to read (the OATH SELECT names the applet's version, not the
	// card's); the card is usable all the same (issue 13 case 19).
	if _, sw, err := exchange(ctx, t, selectAPDU(aidOATHApplet)); err != nil {
		return 0, "", fmt.Errorf("select OATH applet: %w", err)
	} else if sw == 0x9000 {
		return 0, "", nil
	}
	return 0, "", errNotYubiKey
}

func fwString(v version, ok bool) string {
	if !ok {
		return ""
	}
	return v.String()
}

// parseVersion reads a 3-byte version (PIV GET VERSION).
func parseVersion(b []byte) (version, error) {
	if len(b) != 3 {
		return version{}, fmt.Errorf("parse version: %d bytes, want 3", len(b))
	}
	return version{b[0], b[1], b[2]}, nil
}

// parseSerial reads a 4-byte big-endian serial number.
func parseSerial(b []byte) (uint32, error) {
	if len(b) != 4 {
		return 0, fmt.Errorf("parse serial: %d bytes, want 4", len(b))
	}
	return binary.BigEndian.Uint32(b), nil
}

// mgmtVersionRE is ykman's pattern for the management SELECT answer
// ("Virtual mgr - FW version 5.4.3"), with the dots escaped.
var mgmtVersionRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`\b(\d+)\.(\d)\.(\d)\b`) }) // compiled on first use: cheap package init

func parseManagementVersion(b []byte) (version, bool) {
	m := mgmtVersionRE().FindSubmatch(b)
	if m == nil {
		return version{}, false
	}
	var v version
	for i := range v {
		n, err := strconv.ParseUint(string(m[i+1]), 10, 8)
		if err != nil {
			return version{}, false
		}
		v[i] = byte(n)
	}
	return v, true
}

// parseReadConfig reads the management READ CONFIG answer: a total length
// byte, then TLVs with one-byte tags and lengths.
func parseReadConfig(b []byte) (serial uint32, hasSerial bool, ver version, hasVer bool, err error) {
	if len(b) < 1 {
		return 0, false, version{}, false, errors.New("parse device config: empty answer")
	}
	n := int(b[0])
	if n > len(b)-1 {
		return 0, false, version{}, false, fmt.Errorf("parse device config: claims %d bytes, %d present", n, len(b)-1)
	}
	for p := b[1 : 1+n]; len(p) > 0; {
		if len(p) < 2 {
			return 0, false, version{}, false, errors.New("parse device config: truncated TLV")
		}
		tag, l := p[0], int(p[1])
		if l >= 0x80 || l > len(p)-2 {
			return 0, false, version{}, false, fmt.Errorf("parse device config: bad length %d for tag %02x", l, tag)
		}
		val := p[2 : 2+l]
		p = p[2+l:]
		switch tag {
		case cfgTagSerial:
			if s, err := parseSerial(val); err == nil {
				serial, hasSerial = s, true
			}
		case cfgTagVersion:
			if v, err := parseVersion(val); err == nil {
				ver, hasVer = v, true
			}
		}
	}
	return serial, hasSerial, ver, hasVer, nil
}
