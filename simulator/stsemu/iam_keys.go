package stsemu

import (
	"encoding/base32"
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"strconv"
	"time"

	"github.com/mfabridge/mfabridge/internal/lazyre"
)

// IAM emulation, access keys: CreateAccessKey, UpdateAccessKey,
// DeleteAccessKey, ListAccessKeys and GetAccessKeyLastUsed.
//
//   - UserName is optional everywhere (default: the calling user; a role
//     session must name one) and must be a user of the caller's account
//     (404 NoSuchEntity "The user with name X cannot be found.").
//   - Authorization: an identity policy must allow iam:ACTION on the
//     user's ARN (arn:aws:iam::ACCOUNT:user/NAME), under the same MFA
//     context rules as the MFA-device calls (a policy denying callers
//     without MFA applies; non-MFA GetSessionToken credentials get 403
//     InvalidClientTokenId).
//   - CreateAccessKey: a user holds at most 2 keys, active or not (409
//     LimitExceeded "Cannot exceed quota for AccessKeysPerUser: 2"). The
//     new key is AKIA + 16 base32 characters with a 40-character secret,
//     active at once; the secret is returned only here.
//   - UpdateAccessKey: AccessKeyId, Status Active|Inactive (anything else:
//     ValidationError naming the enum). An inactive key fails every request
//     with 403 InvalidClientTokenId, as AWS answers for an inactive key.
//   - DeleteAccessKey: the key stops working at once. A key that is not the
//     user's: 404 NoSuchEntity "The Access Key with id X cannot be found".
//     Temporary credentials already issued from the key stay valid until
//     they expire (AWS documents this for GetSessionToken credentials).
//   - ListAccessKeys: AccessKeyMetadata (UserName, AccessKeyId, Status,
//     CreateDate), sorted by key id, MaxItems/Marker paging.
//   - GetAccessKeyLastUsed: the owner's name and the last successful
//     authenticated request with that key (date, service "sts"/"iam",
//     region); never used: ServiceName and Region "N/A", no date. An
//     unknown key or one of another account: 404 NoSuchEntity (an emulator
//     choice; AWS does not document this answer). Needs
//     iam:GetAccessKeyLastUsed on the owner's ARN.
//
// Keys from the config start active, created when the server starts.

const maxAccessKeysPerUser = 2

// accessKeyRec is a long-term access key; mutable fields are guarded by
// Server.mu.
type accessKeyRec struct {
	ID, Secret  string
	User        *userRec
	Active      bool
	Created     time.Time
	LastUsed    time.Time
	LastService string
	LastRegion  string
}

var accessKeyIDParamRe = lazyre.New(`^[\w]+$`)

// longTermKey returns the owner and secret of an active long-term key.
func (s *Server) longTermKey(id string) (*userRec, string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, ok := s.akeys[id]
	if !ok || !k.Active {
		return nil, "", false
	}
	return k.User, k.Secret, true
}

// keyUsed records a successfully authenticated request made with a
// long-term key.
func (s *Server) keyUsed(c *caller, id, service string) {
	if c.Kind != kindLongTerm {
		return
	}
	now := s.now().UTC().Truncate(time.Second)
	s.mu.Lock()
	defer s.mu.Unlock()
	if k, ok := s.akeys[id]; ok {
		k.LastUsed, k.LastService, k.LastRegion = now, service, s.cfg.Region
	}
}

func keyStatus(active bool) string {
	if active {
		return "Active"
	}
	return "Inactive"
}

// keyUser resolves the optional UserName parameter and checks the caller
// may perform action on that user.
func (s *Server) keyUser(q *apiRequest, c *caller, v *validator, action string) (*userRec, *apiError) {
	userName := iamStr(v, q, "UserName", false, 1, 128, iamEntityRe, `[\w+=,.@-]+`)
	if err := v.err(); err != nil {
		return nil, err
	}
	u, aerr := s.findUser(c, userName)
	if aerr != nil {
		return nil, aerr
	}
	if aerr := s.iamAllow(c, action, u.ARN); aerr != nil {
		return nil, aerr
	}
	return u, nil
}

func accessKeyIDParam(v *validator, q *apiRequest) string {
	return iamStr(v, q, "AccessKeyId", true, 16, 128, accessKeyIDParamRe, `[\w]+`)
}

func noSuchKey(id string) *apiError {
	return noSuchEntity(fmt.Sprintf("The Access Key with id %s cannot be found", id))
}

func (s *Server) createAccessKey(q *apiRequest, c *caller) (any, *apiError) {
	var v validator
	u, aerr := s.keyUser(q, c, &v, "iam:CreateAccessKey")
	if aerr != nil {
		return nil, aerr
	}
	enc := base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString
	now := s.now().UTC().Truncate(time.Second)
	s.mu.Lock()
	n := 0
	for _, k := range s.akeys {
		if k.User == u {
			n++
		}
	}
	if n >= maxAccessKeysPerUser {
		s.mu.Unlock()
		return nil, iamError(409, "LimitExceeded", fmt.Sprintf("Cannot exceed quota for AccessKeysPerUser: %d", maxAccessKeysPerUser))
	}
	var k *accessKeyRec
	for {
		id := "AKIA" + randomString(10, enc) // 16 base32 characters
		if _, dup := s.akeys[id]; dup {
			continue
		}
		k = &accessKeyRec{ID: id, Secret: randomString(30, base64.StdEncoding.EncodeToString), User: u, Active: true, Created: now}
		s.akeys[id] = k
		break
	}
	s.mu.Unlock()
	var resp createAccessKeyResponse
	resp.Xmlns = iamNamespace
	resp.Result.Key = accessKeyXML{UserName: u.Name, AccessKeyID: k.ID, Status: "Active", SecretAccessKey: k.Secret, CreateDate: now.Format(time.RFC3339)}
	return &resp, nil
}

func (s *Server) updateAccessKey(q *apiRequest, c *caller) (any, *apiError) {
	var v validator
	id := accessKeyIDParam(&v, q)
	status, hasStatus := q.param("Status")
	switch {
	case !hasStatus:
		v.add(nil, "status", "Member must not be null")
	case status != "Active" && status != "Inactive":
		v.add(&status, "status", "Member must satisfy enum value set: [Active, Inactive, Expired]")
	}
	u, aerr := s.keyUser(q, c, &v, "iam:UpdateAccessKey")
	if aerr != nil {
		return nil, aerr
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k, ok := s.akeys[id]
	if !ok || k.User != u {
		return nil, noSuchKey(id)
	}
	k.Active = status == "Active"
	return &iamEmptyResponse{XMLName: xmlName("UpdateAccessKeyResponse"), Xmlns: iamNamespace}, nil
}

func (s *Server) deleteAccessKey(q *apiRequest, c *caller) (any, *apiError) {
	var v validator
	id := accessKeyIDParam(&v, q)
	u, aerr := s.keyUser(q, c, &v, "iam:DeleteAccessKey")
	if aerr != nil {
		return nil, aerr
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k, ok := s.akeys[id]
	if !ok || k.User != u {
		return nil, noSuchKey(id)
	}
	delete(s.akeys, id)
	return &iamEmptyResponse{XMLName: xmlName("DeleteAccessKeyResponse"), Xmlns: iamNamespace}, nil
}

func (s *Server) listAccessKeys(q *apiRequest, c *caller) (any, *apiError) {
	var v validator
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
	u, aerr := s.keyUser(q, c, &v, "iam:ListAccessKeys")
	if aerr != nil {
		return nil, aerr
	}
	var mine []accessKeyXML
	s.mu.Lock()
	for _, k := range s.akeys {
		if k.User == u {
			mine = append(mine, accessKeyXML{UserName: u.Name, AccessKeyID: k.ID, Status: keyStatus(k.Active), CreateDate: k.Created.Format(time.RFC3339)})
		}
	}
	s.mu.Unlock()
	var resp listAccessKeysResponse
	resp.Xmlns = iamNamespace
	mine, resp.Result.IsTruncated, resp.Result.Marker = page(mine, func(k accessKeyXML) string { return k.AccessKeyID }, marker, maxItems)
	resp.Result.Keys = mine
	if resp.Result.Keys == nil {
		resp.Result.Keys = []accessKeyXML{}
	}
	return &resp, nil
}

func (s *Server) getAccessKeyLastUsed(q *apiRequest, c *caller) (any, *apiError) {
	var v validator
	id := accessKeyIDParam(&v, q)
	if err := v.err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	k, ok := s.akeys[id]
	var rec accessKeyRec
	if ok {
		rec = *k
	}
	s.mu.Unlock()
	if !ok || rec.User.Account != c.account() {
		return nil, noSuchKey(id)
	}
	if aerr := s.iamAllow(c, "iam:GetAccessKeyLastUsed", rec.User.ARN); aerr != nil {
		return nil, aerr
	}
	var resp getAccessKeyLastUsedResponse
	resp.Xmlns = iamNamespace
	resp.Result.UserName = rec.User.Name
	resp.Result.LastUsed.ServiceName, resp.Result.LastUsed.Region = "N/A", "N/A"
	if !rec.LastUsed.IsZero() {
		resp.Result.LastUsed.Date = rec.LastUsed.Format(time.RFC3339)
		resp.Result.LastUsed.ServiceName, resp.Result.LastUsed.Region = rec.LastService, rec.LastRegion
	}
	return &resp, nil
}

type accessKeyXML struct {
	UserName        string `xml:"UserName"`
	AccessKeyID     string `xml:"AccessKeyId"`
	Status          string `xml:"Status"`
	SecretAccessKey string `xml:"SecretAccessKey,omitempty"`
	CreateDate      string `xml:"CreateDate"`
}

type createAccessKeyResponse struct {
	XMLName xml.Name `xml:"CreateAccessKeyResponse"`
	Xmlns   string   `xml:"xmlns,attr"`
	Result  struct {
		Key accessKeyXML `xml:"AccessKey"`
	} `xml:"CreateAccessKeyResult"`
	Meta xmlMeta `xml:"ResponseMetadata"`
}

type listAccessKeysResponse struct {
	XMLName xml.Name `xml:"ListAccessKeysResponse"`
	Xmlns   string   `xml:"xmlns,attr"`
	Result  struct {
		Keys        []accessKeyXML `xml:"AccessKeyMetadata>member"`
		IsTruncated bool           `xml:"IsTruncated"`
		Marker      string         `xml:"Marker,omitempty"`
	} `xml:"ListAccessKeysResult"`
	Meta xmlMeta `xml:"ResponseMetadata"`
}

type getAccessKeyLastUsedResponse struct {
	XMLName xml.Name `xml:"GetAccessKeyLastUsedResponse"`
	Xmlns   string   `xml:"xmlns,attr"`
	Result  struct {
		UserName string `xml:"UserName"`
		LastUsed struct {
			Date        string `xml:"LastUsedDate,omitempty"`
			ServiceName string `xml:"ServiceName"`
			Region      string `xml:"Region"`
		} `xml:"AccessKeyLastUsed"`
	} `xml:"GetAccessKeyLastUsedResult"`
	Meta xmlMeta `xml:"ResponseMetadata"`
}
