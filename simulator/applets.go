package simulator

import (
	"encoding/binary"

	"github.com/mfabridge/mfabridge/oath"
)

// Management applet (pcsc-and-virtual-card.md, "Reading the serial number").
const (
	insReadConfig = 0x1D

	// READ CONFIG tags (yubikit management.py, DeviceInfo).
	cfgUSBSupported = 0x01
	cfgSerial       = 0x02
	cfgUSBEnabled   = 0x03
	cfgFormFactor   = 0x04
	cfgVersion      = 0x05
	cfgAutoEject    = 0x06
	cfgChalRespTO   = 0x07
	cfgFlags        = 0x08
	cfgLock         = 0x0A
	cfgNFCSupported = 0x0D
	cfgNFCEnabled   = 0x0E

	// Capability bits of a YubiKey 5 NFC: OTP 01, U2F 02, OpenPGP 08,
	// PIV 10, OATH 20, FIDO2 0200.
	capsYubiKey5 = 0x023B
)

// mgmtSelect answers the management SELECT with the ASCII banner ykman
// reads the version from (`\b(\d+).(\d).(\d)\b`).
func (c *Card) mgmtSelect() []byte {
	return []byte("Virtual mgr - FW version " + c.st.Firmware.String())
}

func (c *Card) mgmtCommand(cmd command) ([]byte, uint16) {
	// READ CONFIG exists from firmware 4.1; ykman falls back to the OTP
	// applet when it answers 6D00.
	if cmd.ins != insReadConfig || !c.st.Firmware.AtLeast(fwReadConfig) {
		return nil, oath.SWInsNotSupported
	}
	if cmd.p1 != 0 || cmd.p2 != 0 {
		return nil, oath.SWWrongP1P2
	}
	return c.readConfig(), oath.SWOK
}

// readConfig builds the READ CONFIG answer: total length, then TLVs.
func (c *Card) readConfig() []byte {
	var serial [4]byte
	binary.BigEndian.PutUint32(serial[:], c.st.Serial)
	fw := c.st.Firmware
	caps := []byte{capsYubiKey5 >> 8, capsYubiKey5 & 0xFF}
	if !fw.AtLeast(Version{5, 0, 0}) {
		caps = []byte{0, capsYubiKey5 & 0xFF} // a YubiKey 4: no FIDO2, no NFC
	}
	var t []byte
	t = oath.AppendTLV(t, cfgUSBSupported, caps)
	t = oath.AppendTLV(t, cfgSerial, serial[:])
	t = oath.AppendTLV(t, cfgUSBEnabled, caps)
	t = oath.AppendTLV(t, cfgFormFactor, []byte{c.st.FormFactor})
	t = oath.AppendTLV(t, cfgVersion, []byte{fw.Major, fw.Minor, fw.Patch})
	t = oath.AppendTLV(t, cfgAutoEject, []byte{0, 0})
	t = oath.AppendTLV(t, cfgChalRespTO, []byte{0x0F})
	t = oath.AppendTLV(t, cfgFlags, []byte{0})
	t = oath.AppendTLV(t, cfgLock, []byte{0})
	if fw.Major >= 5 {
		t = oath.AppendTLV(t, cfgNFCSupported, caps)
		t = oath.AppendTLV(t, cfgNFCEnabled, caps)
	}
	return append([]byte{byte(len(t))}, t...)
}

// OTP applet: SELECT answers the status bytes; 00 01 10 00 reads the serial.
const (
	insOTPRequest = 0x01
	otpSlotSerial = 0x10
)

// otpStatus is version(3) prog_seq(1) touch_level(2, little-endian): no
// slot programmed.
func (c *Card) otpStatus() []byte {
	fw := c.st.Firmware
	return []byte{fw.Major, fw.Minor, fw.Patch, 0, 0, 0}
}

func (c *Card) otpCommand(cmd command) ([]byte, uint16) {
	if cmd.ins != insOTPRequest {
		return nil, oath.SWInsNotSupported
	}
	if cmd.p1 != otpSlotSerial {
		// Programming slots is not simulated.
		return nil, oath.SWConditionsNotMet
	}
	return binary.BigEndian.AppendUint32(nil, c.st.Serial), oath.SWOK
}

// The PIV applet is in pivapplet.go.
