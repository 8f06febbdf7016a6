package oath

// Applet identifiers (YKOATH spec, "SELECT"; management/OTP/PIV from the
// YubiKey technical manual). Selecting any applet other than OATH clears
// the OATH applet's authentication.
var (
	AIDOATH       = []byte{0xA0, 0x00, 0x00, 0x05, 0x27, 0x21, 0x01}
	AIDManagement = []byte{0xA0, 0x00, 0x00, 0x05, 0x27, 0x47, 0x11, 0x17}
	AIDOTP        = []byte{0xA0, 0x00, 0x00, 0x05, 0x27, 0x20, 0x01}
	AIDPIV        = []byte{0xA0, 0x00, 0x00, 0x03, 0x08}
)

// Tags (YKOATH spec, "Data encoding").
const (
	TagName      byte = 0x71 // credential name; the salt in the SELECT answer
	TagNameList  byte = 0x72 // LIST entry: type|alg byte then the name
	TagKey       byte = 0x73
	TagChallenge byte = 0x74
	TagResponse  byte = 0x75 // full HMAC response: digits byte then HMAC
	TagTruncated byte = 0x76 // truncated response: digits byte then 4 bytes
	TagHOTP      byte = 0x77 // CALCULATE ALL: HOTP credential, not computed
	TagProperty  byte = 0x78 // no length byte on the wire
	TagVersion   byte = 0x79
	TagIMF       byte = 0x7A // initial moving factor (HOTP counter), 4 bytes BE
	TagAlgorithm byte = 0x7B
	TagTouch     byte = 0x7C // CALCULATE ALL: touch required, not computed
)

// Instructions (YKOATH spec, "Instructions"); CLA is 0x00 (0x10 while chaining).
const (
	InsPut           byte = 0x01
	InsDelete        byte = 0x02
	InsSetCode       byte = 0x03
	InsReset         byte = 0x04
	InsRename        byte = 0x05
	InsList          byte = 0xA1
	InsCalculate     byte = 0xA2
	InsValidate      byte = 0xA3
	InsCalculateAll  byte = 0xA4
	InsSendRemaining byte = 0xA5
	InsSelect        byte = 0xA4 // with CLA 00 P1 04: ISO 7816 SELECT by AID
)

// Property bits (tag 0x78).
const (
	PropIncreasing byte = 0x01 // only-increasing challenge
	PropTouch      byte = 0x02 // require touch
)

// Type is the credential type, the high nibble of the type/algorithm byte.
type Type byte

const (
	HOTP Type = 0x10
	TOTP Type = 0x20
)

// Algorithm is the HMAC hash, the low nibble of the type/algorithm byte.
type Algorithm byte

const (
	SHA1   Algorithm = 0x01
	SHA256 Algorithm = 0x02
	SHA512 Algorithm = 0x03
)

// Status words (ISO 7816-4 and YKOATH spec).
const (
	SWOK               uint16 = 0x9000
	SWMoreDataMask     uint16 = 0x6100 // 61xx: xx more bytes, send SEND REMAINING
	SWAuthRequired     uint16 = 0x6982 // security status not satisfied; also touch time-out
	SWNoSuchObject     uint16 = 0x6984 // no such credential; VALIDATE/SET CODE response mismatch
	SWWrongSyntax      uint16 = 0x6A80
	SWNoSpace          uint16 = 0x6A84
	SWFileNotFound     uint16 = 0x6A82 // applet not present
	SWWrongP1P2        uint16 = 0x6B00
	SWInsNotSupported  uint16 = 0x6D00
	SWClaNotSupported  uint16 = 0x6E00
	SWWrongLength      uint16 = 0x6700
	SWGenericError     uint16 = 0x6581
	SWConditionsNotMet uint16 = 0x6985
)
