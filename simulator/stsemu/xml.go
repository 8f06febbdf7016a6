package stsemu

import (
	"encoding/xml"
	"time"
)

const stsNamespace = "https://sts.amazonaws.com/doc/2011-06-15/"

type xmlMeta struct {
	RequestID string `xml:"RequestId"`
}

type xmlCredentials struct {
	AccessKeyID     string `xml:"AccessKeyId"`
	SecretAccessKey string `xml:"SecretAccessKey"`
	SessionToken    string `xml:"SessionToken"`
	Expiration      string `xml:"Expiration"`
}

func credentialsXML(s *session) xmlCredentials {
	return xmlCredentials{
		AccessKeyID:     s.AccessKeyID,
		SecretAccessKey: s.Secret,
		SessionToken:    s.Token,
		Expiration:      s.Expires.UTC().Format(time.RFC3339),
	}
}

type getSessionTokenResponse struct {
	XMLName xml.Name `xml:"GetSessionTokenResponse"`
	Xmlns   string   `xml:"xmlns,attr"`
	Result  struct {
		Credentials xmlCredentials `xml:"Credentials"`
	} `xml:"GetSessionTokenResult"`
	Meta xmlMeta `xml:"ResponseMetadata"`
}

type assumeRoleResponse struct {
	XMLName xml.Name `xml:"AssumeRoleResponse"`
	Xmlns   string   `xml:"xmlns,attr"`
	Result  struct {
		SourceIdentity  string `xml:"SourceIdentity,omitempty"`
		AssumedRoleUser struct {
			AssumedRoleID string `xml:"AssumedRoleId"`
			Arn           string `xml:"Arn"`
		} `xml:"AssumedRoleUser"`
		Credentials      xmlCredentials `xml:"Credentials"`
		PackedPolicySize *int           `xml:"PackedPolicySize,omitempty"`
	} `xml:"AssumeRoleResult"`
	Meta xmlMeta `xml:"ResponseMetadata"`
}

type getCallerIdentityResponse struct {
	XMLName xml.Name `xml:"GetCallerIdentityResponse"`
	Xmlns   string   `xml:"xmlns,attr"`
	Result  struct {
		Arn     string `xml:"Arn"`
		UserID  string `xml:"UserId"`
		Account string `xml:"Account"`
	} `xml:"GetCallerIdentityResult"`
	Meta xmlMeta `xml:"ResponseMetadata"`
}

// checkAccessResponse is the emulator extension's answer (see CheckAccess
// in the package documentation).
type checkAccessResponse struct {
	XMLName xml.Name `xml:"CheckAccessResponse"`
	Xmlns   string   `xml:"xmlns,attr"`
	Result  struct {
		Decision string `xml:"Decision"`
		Caller   string `xml:"Caller"`
		Target   string `xml:"Target"`
		Resource string `xml:"Resource"`
	} `xml:"CheckAccessResult"`
	Meta xmlMeta `xml:"ResponseMetadata"`
}

type errorResponse struct {
	XMLName xml.Name `xml:"ErrorResponse"`
	Xmlns   string   `xml:"xmlns,attr"`
	Error   struct {
		Type    string `xml:"Type"`
		Code    string `xml:"Code"`
		Message string `xml:"Message"`
	} `xml:"Error"`
	RequestID string `xml:"RequestId"`
}
