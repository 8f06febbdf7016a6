package stsemu

import (
	"crypto/rand"
	"encoding/base32"
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/mfabridge/mfabridge/internal/lazyre"
)

// IAM emulation: the five calls that manage virtual MFA devices (access
// keys: iam_keys.go).
//
// Requests signed for service "iam" (credential scope .../iam/aws4_request)
// are IAM Query API calls, version 2010-05-08, served at the same URL as
// STS; the signed service tells them apart (dispatch in server.go). The
// region of the scope must still be the emulator's region: with a custom
// endpoint the SDK signs IAM calls for the client's region.
//
//   - CreateVirtualMFADevice: VirtualMFADeviceName (1–226, [\w+=,.@-]+),
//     Path (default "/"). The device is arn:aws:iam::ACCOUNT:mfa{Path}{Name},
//     unassigned, with a fresh 40-byte seed returned as Base32StringSeed:
//     the base32 text, base64-encoded again on the wire as IAM does (the
//     SDK hands the caller []byte holding the base32 text). QRCodePNG is not
//     produced. Same path and name again: 409 EntityAlreadyExists.
//   - EnableMFADevice: UserName, SerialNumber, AuthenticationCode1 and 2.
//     The codes must be those of two consecutive time steps s and s+1 with
//     s the current or the previous step (so codes computed at now and at
//     now+30 s pass, as do the two last codes a person typed); otherwise
//     403 InvalidAuthenticationCode. The codes are not entered in the STS
//     replay ledger: AWS does not document whether they are, and treating
//     them as spent would block the device's use for up to a minute after
//     enrollment. Unknown user or device: 404 NoSuchEntity; a device
//     already enabled: 409 EntityAlreadyExists; a user with 8 devices: 409
//     LimitExceeded. From then on the device serves GetSessionToken and
//     AssumeRole for that user.
//   - DeactivateMFADevice: SerialNumber, UserName (default: the caller).
//     The device stops working for STS at once and is unassigned again.
//     Not enabled for that user: 404 NoSuchEntity.
//   - DeleteVirtualMFADevice: SerialNumber; still enabled: 409
//     DeleteConflict; unknown: 404 NoSuchEntity. Devices from the config
//     whose serial is an mfa ARN can be deactivated and deleted too.
//   - ListMFADevices: UserName (default: the caller), MaxItems, Marker.
//
// Authorization: each call needs an identity policy allowing iam:ACTION on
// arn:aws:iam::ACCOUNT:mfa/NAME (Create, DeleteVirtual) or
// arn:aws:iam::ACCOUNT:user/NAME (Enable, Deactivate, List), in the
// caller's account; otherwise 403 AccessDenied. GetSessionToken
// credentials obtained without MFA get 403 InvalidClientTokenId, as from
// IAM. testdata/iam_self_mfa.json is a config that lets a user manage
// its own MFA devices; testdata/iam_mfa_guarded.json follows AWS's example
// policy that also denies everything else, DeactivateMFADevice and
// DeleteVirtualMFADevice included, to callers without MFA.

const (
	iamNamespace       = "https://iam.amazonaws.com/doc/2010-05-08/"
	iamVersion         = "2010-05-08"
	maxDevicesPerUser  = 8
	virtualSeedBytes   = 40
	msgInvalidAuthCode = "Authentication code for device is not valid."
)

func iamError(status int, code, msg string) *apiError {
	return &apiError{Status: status, Code: code, Message: msg}
}

func noSuchEntity(msg string) *apiError { return iamError(404, "NoSuchEntity", msg) }

var (
	iamPathRe   = lazyre.New(`^(/|/[\x21-\x7E]+/)$`)
	iamEntityRe = lazyre.New(`^[\w+=,.@-]+$`)
	digitsRe    = lazyre.New(`^[0-9]+$`)
)

// iamStr checks a string parameter against IAM's constraints; it reuses the
// STS validator's phrasing, which IAM shares.
func iamStr(v *validator, q *apiRequest, param string, required bool, minLen, maxLen int, re *lazyre.Regexp, pattern string) string {
	field := strings.ToLower(param[:1]) + param[1:]
	val, ok := q.param(param)
	if !ok {
		if required {
			v.add(nil, field, "Member must not be null")
		}
		return ""
	}
	n := len([]rune(val))
	if n < minLen {
		v.add(&val, field, fmt.Sprintf("Member must have length greater than or equal to %d", minLen))
	}
	if n > maxLen {
		v.add(&val, field, fmt.Sprintf("Member must have length less than or equal to %d", maxLen))
	}
	if re != nil && !re.MatchString(val) {
		v.add(&val, field, "Member must satisfy regular expression pattern: "+pattern)
	}
	return val
}

func (s *Server) dispatchIAM(q *apiRequest, c *caller, st *reqState) (any, *apiError) {
	st.ns = iamNamespace
	action, _ := q.param("Action")
	version, hasVersion := q.param("Version")
	if !hasVersion {
		version = "NO_VERSION_SPECIFIED"
	}
	if version != iamVersion {
		return nil, &apiError{Status: 400, Code: "InvalidAction", Message: fmt.Sprintf("Could not find operation %s for version %s", clip(action, 64), clip(version, 32))}
	}
	switch action {
	case "CreateVirtualMFADevice":
		return s.createVirtualMFADevice(q, c)
	case "EnableMFADevice":
		return s.enableMFADevice(q, c)
	case "DeactivateMFADevice":
		return s.deactivateMFADevice(q, c)
	case "DeleteVirtualMFADevice":
		return s.deleteVirtualMFADevice(q, c)
	case "ListMFADevices":
		return s.listMFADevices(q, c)
	case "CreateAccessKey":
		return s.createAccessKey(q, c)
	case "UpdateAccessKey":
		return s.updateAccessKey(q, c)
	case "DeleteAccessKey":
		return s.deleteAccessKey(q, c)
	case "ListAccessKeys":
		return s.listAccessKeys(q, c)
	case "GetAccessKeyLastUsed":
		return s.getAccessKeyLastUsed(q, c)
	default:
		return nil, &apiError{Status: 400, Code: "InvalidAction", Message: fmt.Sprintf("Could not find operation %s for version %s", clip(action, 64), version)}
	}
}

// iamAllow checks the caller's identity policies (and session policy) for
// action on resource: nil when allowed, else the AccessDenied answer (or
// authorize's error).
func (s *Server) iamAllow(c *caller, action, resource string) *apiError {
	ok, aerr := s.authorize(c, action, resource)
	if aerr != nil {
		return aerr
	}
	if !ok {
		return notAuthorized(c, action, resource)
	}
	return nil
}

// findUser returns the user of the caller's account with that name; name
// "" means the caller itself (an IAM user or its session).
func (s *Server) findUser(c *caller, name string) (*userRec, *apiError) {
	if name == "" {
		if c.Kind == kindRoleSession {
			return nil, validationError("Must specify userName when calling with non-User credentials")
		}
		return c.User, nil
	}
	for _, u := range s.users {
		if u.Account == c.account() && u.Name == name {
			return u, nil
		}
	}
	return nil, noSuchEntity(fmt.Sprintf("The user with name %s cannot be found.", name))
}

func userARN(account, name string) string { return "arn:aws:iam::" + account + ":user/" + name }

func (s *Server) createVirtualMFADevice(q *apiRequest, c *caller) (any, *apiError) {
	var v validator
	name := iamStr(&v, q, "VirtualMFADeviceName", true, 1, 226, iamEntityRe, `[\w+=,.@-]+`)
	path := iamStr(&v, q, "Path", false, 1, 512, iamPathRe, `(\u002F)|(\u002F[\u0021-\u007E]+\u002F)`)
	if err := v.err(); err != nil {
		return nil, err
	}
	if path == "" {
		path = "/"
	}
	serial := "arn:aws:iam::" + c.account() + ":mfa" + path + name
	if aerr := s.iamAllow(c, "iam:CreateVirtualMFADevice", serial); aerr != nil {
		return nil, aerr
	}
	key := make([]byte, virtualSeedBytes)
	_, _ = rand.Read(key) // crypto/rand.Read never fails (Go 1.24+)
	s.mu.Lock()
	if _, dup := s.devices[serial]; dup {
		s.mu.Unlock()
		return nil, iamError(409, "EntityAlreadyExists", "MFADevice entity at the same path and name already exists.")
	}
	s.devices[serial] = &mfaDevice{Serial: serial, key: key, digits: 6, period: 30, account: c.account()}
	s.mu.Unlock()

	var resp createVirtualMFADeviceResponse
	resp.Xmlns = iamNamespace
	resp.Result.Device.SerialNumber = serial
	seed := base32.StdEncoding.EncodeToString(key)
	resp.Result.Device.Base32StringSeed = base64.StdEncoding.EncodeToString([]byte(seed))
	return &resp, nil
}

func (s *Server) enableMFADevice(q *apiRequest, c *caller) (any, *apiError) {
	var v validator
	userName := iamStr(&v, q, "UserName", true, 1, 128, iamEntityRe, `[\w+=,.@-]+`)
	serial := iamStr(&v, q, "SerialNumber", true, 9, 256, serialRe, `[\w+=/:,.@-]+`)
	code1 := iamStr(&v, q, "AuthenticationCode1", true, 6, 6, digitsRe, `[\d]+`)
	code2 := iamStr(&v, q, "AuthenticationCode2", true, 6, 6, digitsRe, `[\d]+`)
	if err := v.err(); err != nil {
		return nil, err
	}
	if aerr := s.iamAllow(c, "iam:EnableMFADevice", userARN(c.account(), userName)); aerr != nil {
		return nil, aerr
	}
	u, aerr := s.findUser(c, userName)
	if aerr != nil {
		return nil, aerr
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.devices[serial]
	if !ok || d.account != c.account() {
		return nil, noSuchEntity(fmt.Sprintf("VirtualMFADevice with serial number %s doesn't exist.", serial))
	}
	if d.owner != nil {
		return nil, iamError(409, "EntityAlreadyExists", "MFA Device is already in use.")
	}
	n := 0
	for _, o := range s.devices {
		if o.owner == u {
			n++
		}
	}
	if n >= maxDevicesPerUser {
		return nil, iamError(409, "LimitExceeded", fmt.Sprintf("Cannot exceed quota for MFADevicesPerUser: %d", maxDevicesPerUser))
	}
	if !d.consecutive(code1, code2, now) {
		return nil, iamError(403, "InvalidAuthenticationCode", msgInvalidAuthCode)
	}
	d.owner = u
	d.enabled = now.UTC().Truncate(time.Second)
	return &iamEmptyResponse{XMLName: xmlName("EnableMFADeviceResponse"), Xmlns: iamNamespace}, nil
}

// consecutive reports whether code1 and code2 are the codes of steps s and
// s+1 for s the current or the previous step.
func (d *mfaDevice) consecutive(code1, code2 string, now time.Time) bool {
	cur := now.Unix() / d.period
	for s := cur - 1; s <= cur; s++ {
		if totpAt(d.key, s, d.digits) == code1 && totpAt(d.key, s+1, d.digits) == code2 {
			return true
		}
	}
	return false
}

func (s *Server) deactivateMFADevice(q *apiRequest, c *caller) (any, *apiError) {
	var v validator
	userName := iamStr(&v, q, "UserName", false, 1, 128, iamEntityRe, `[\w+=,.@-]+`)
	serial := iamStr(&v, q, "SerialNumber", true, 9, 256, serialRe, `[\w+=/:,.@-]+`)
	if err := v.err(); err != nil {
		return nil, err
	}
	u, aerr := s.findUser(c, userName)
	if aerr != nil {
		return nil, aerr
	}
	if aerr := s.iamAllow(c, "iam:DeactivateMFADevice", u.ARN); aerr != nil {
		return nil, aerr
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.devices[serial]
	if !ok || d.owner != u {
		return nil, noSuchEntity(fmt.Sprintf("MFA Device with serial number %s does not exist.", serial))
	}
	d.owner = nil
	d.enabled = time.Time{}
	return &iamEmptyResponse{XMLName: xmlName("DeactivateMFADeviceResponse"), Xmlns: iamNamespace}, nil
}

func (s *Server) deleteVirtualMFADevice(q *apiRequest, c *caller) (any, *apiError) {
	var v validator
	serial := iamStr(&v, q, "SerialNumber", true, 9, 256, serialRe, `[\w+=/:,.@-]+`)
	if err := v.err(); err != nil {
		return nil, err
	}
	if aerr := s.iamAllow(c, "iam:DeleteVirtualMFADevice", serial); aerr != nil {
		return nil, aerr
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.devices[serial]
	if !ok || d.account != c.account() || !strings.HasPrefix(serial, "arn:aws:iam::") {
		return nil, noSuchEntity(fmt.Sprintf("VirtualMFADevice with serial number %s doesn't exist.", serial))
	}
	if d.owner != nil {
		return nil, iamError(409, "DeleteConflict", "MFA Device is still in use.")
	}
	delete(s.devices, serial)
	return &iamEmptyResponse{XMLName: xmlName("DeleteVirtualMFADeviceResponse"), Xmlns: iamNamespace}, nil
}

func (s *Server) listMFADevices(q *apiRequest, c *caller) (any, *apiError) {
	var v validator
	userName := iamStr(&v, q, "UserName", false, 1, 128, iamEntityRe, `[\w+=,.@-]+`)
	marker := iamStr(&v, q, "Marker", false, 1, 320, nil, "")
	maxItems := 100
	if raw, ok := q.param("MaxItems"); ok {
		n, err := strconv.Atoi(raw)
		switch {
		case err != nil:
			v.add(&raw, "maxItems", "Member must be a number")
		case n < 1:
			v.add(&raw, "maxItems", "Member must have value greater than or equal to 1")
		case n > 1000:
			v.add(&raw, "maxItems", "Member must have value less than or equal to 1000")
		default:
			maxItems = n
		}
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	u, aerr := s.findUser(c, userName)
	if aerr != nil {
		return nil, aerr
	}
	if aerr := s.iamAllow(c, "iam:ListMFADevices", u.ARN); aerr != nil {
		return nil, aerr
	}
	var mine []mfaDeviceXML
	s.mu.Lock()
	for _, d := range s.devices {
		if d.owner == u {
			mine = append(mine, mfaDeviceXML{UserName: u.Name, SerialNumber: d.Serial, EnableDate: d.enabled.UTC().Format(time.RFC3339)})
		}
	}
	s.mu.Unlock()
	var resp listMFADevicesResponse
	resp.Xmlns = iamNamespace
	// The marker is the last serial of the previous page.
	mine, resp.Result.IsTruncated, resp.Result.Marker = page(mine, func(d mfaDeviceXML) string { return d.SerialNumber }, marker, maxItems)
	resp.Result.Devices = mine
	if resp.Result.Devices == nil {
		resp.Result.Devices = []mfaDeviceXML{}
	}
	return &resp, nil
}

// page sorts items by id and returns the page after marker (the last id
// of the previous page) of at most max items, whether more follow, and the
// marker for the next page: IAM's Marker/MaxItems paging.
func page[T any](items []T, id func(T) string, marker string, max int) ([]T, bool, string) {
	sort.Slice(items, func(i, j int) bool { return id(items[i]) < id(items[j]) })
	if marker != "" {
		i := sort.Search(len(items), func(i int) bool { return id(items[i]) > marker })
		items = items[i:]
	}
	if len(items) > max {
		items = items[:max]
		return items, true, id(items[len(items)-1])
	}
	return items, false, ""
}

func xmlName(local string) xml.Name { return xml.Name{Local: local} }

// iamEmptyResponse answers calls whose result carries nothing.
type iamEmptyResponse struct {
	XMLName xml.Name
	Xmlns   string  `xml:"xmlns,attr"`
	Meta    xmlMeta `xml:"ResponseMetadata"`
}

type createVirtualMFADeviceResponse struct {
	XMLName xml.Name `xml:"CreateVirtualMFADeviceResponse"`
	Xmlns   string   `xml:"xmlns,attr"`
	Result  struct {
		Device struct {
			SerialNumber     string `xml:"SerialNumber"`
			Base32StringSeed string `xml:"Base32StringSeed"`
		} `xml:"VirtualMFADevice"`
	} `xml:"CreateVirtualMFADeviceResult"`
	Meta xmlMeta `xml:"ResponseMetadata"`
}

type mfaDeviceXML struct {
	UserName     string `xml:"UserName"`
	SerialNumber string `xml:"SerialNumber"`
	EnableDate   string `xml:"EnableDate"`
}

type listMFADevicesResponse struct {
	XMLName xml.Name `xml:"ListMFADevicesResponse"`
	Xmlns   string   `xml:"xmlns,attr"`
	Result  struct {
		Devices     []mfaDeviceXML `xml:"MFADevices>member"`
		IsTruncated bool           `xml:"IsTruncated"`
		Marker      string         `xml:"Marker,omitempty"`
	} `xml:"ListMFADevicesResult"`
	Meta xmlMeta `xml:"ResponseMetadata"`
}
