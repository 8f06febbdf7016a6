package stsemu

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

const (
	sigAlgorithm = "AWS4-HMAC-SHA256"
	amzDateFmt   = "20060102T150405Z"
	maxSkew      = 15 * time.Minute // MinIO's globalMaxSkewTime; AWS uses the same window
	maxBodyBytes = 1 << 20
)

// sigV4Auth is the signature information of one request, from the
// Authorization header or from presigned-URL query parameters.
type sigV4Auth struct {
	AccessKeyID   string
	ScopeDate     string // yyyymmdd
	Region        string
	Service       string
	SignedHeaders []string
	Signature     string
	AmzDate       time.Time
	AmzDateRaw    string
	SecurityToken string
	Presigned     bool
	Expires       time.Duration // presigned only
}

// apiRequest is a parsed request: its parameters and its signature claims.
type apiRequest struct {
	Params url.Values
	Auth   *sigV4Auth
}

// param returns the first value of a parameter and whether it was sent at
// all (an empty value counts as sent).
func (q *apiRequest) param(name string) (string, bool) {
	v, ok := q.Params[name]
	if !ok || len(v) == 0 {
		return "", false
	}
	return v[0], true
}

// parseRequest extracts parameters (query string, plus the form body of a
// POST) and the SigV4 claims. It does not verify the signature. When the
// parameters parse but the signature claims do not, it returns both the
// request (Auth nil) and the error.
func parseRequest(method string, u *url.URL, header http.Header, body []byte) (*apiRequest, *apiError) {
	params, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return nil, errMalformedQuery()
	}
	if method == http.MethodPost && len(body) > 0 {
		ct := header.Get("Content-Type")
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/x-www-form-urlencoded" {
			return nil, &apiError{Status: 400, Code: "InvalidParameterValue", Message: "Unsupported content type; the Query API expects application/x-www-form-urlencoded"}
		}
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, errMalformedQuery()
		}
		for k, v := range form {
			params[k] = append(params[k], v...)
		}
	}
	q := &apiRequest{Params: params}
	var aerr *apiError
	if h := header.Get("Authorization"); h != "" {
		q.Auth, aerr = parseAuthHeader(h, header)
	} else if params.Get("X-Amz-Algorithm") != "" || params.Get("X-Amz-Signature") != "" {
		q.Auth, aerr = parsePresigned(params)
	} else {
		aerr = &apiError{Status: 403, Code: "MissingAuthenticationToken", Message: "Request is missing Authentication Token"}
	}
	// q is returned with its parameters even on error, for the log.
	return q, aerr
}

func errMalformedQuery() *apiError {
	return &apiError{Status: 400, Code: "MalformedQueryString", Message: "The query string or form body is malformed"}
}

func incomplete(msg string) *apiError {
	return &apiError{Status: 400, Code: "IncompleteSignature", Message: msg}
}

func parseAuthHeader(h string, header http.Header) (*sigV4Auth, *apiError) {
	alg, rest, _ := strings.Cut(strings.TrimSpace(h), " ")
	if alg != sigAlgorithm {
		return nil, incomplete(fmt.Sprintf("Unsupported AWS 'algorithm': '%s'", clip(alg, 64)))
	}
	fields := map[string]string{}
	for _, part := range strings.Split(rest, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			continue
		}
		fields[k] = v
	}
	var missing []string
	for _, k := range []string{"Credential", "Signature", "SignedHeaders"} {
		if fields[k] == "" {
			missing = append(missing, fmt.Sprintf("Authorization header requires '%s' parameter.", k))
		}
	}
	rawDate := header.Get("X-Amz-Date")
	if rawDate == "" && header.Get("Date") == "" {
		missing = append(missing, "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.")
	}
	if len(missing) > 0 {
		return nil, incomplete(strings.Join(missing, " "))
	}
	a := &sigV4Auth{Signature: fields["Signature"], SecurityToken: header.Get("X-Amz-Security-Token")}
	if err := a.setCredential(fields["Credential"]); err != nil {
		return nil, err
	}
	a.SignedHeaders = strings.Split(fields["SignedHeaders"], ";")
	if rawDate != "" {
		t, err := time.Parse(amzDateFmt, rawDate)
		if err != nil {
			return nil, incomplete(fmt.Sprintf("Date must be in ISO-8601 'basic format'. Got '%s'.", clip(rawDate, 32)))
		}
		a.AmzDate, a.AmzDateRaw = t, rawDate
	} else {
		t, err := http.ParseTime(header.Get("Date"))
		if err != nil {
			return nil, incomplete("Date header is not a valid HTTP date")
		}
		a.AmzDate, a.AmzDateRaw = t.UTC(), t.UTC().Format(amzDateFmt)
	}
	if err := a.checkSignedHeaders(); err != nil {
		return nil, err
	}
	return a, nil
}

func parsePresigned(p url.Values) (*sigV4Auth, *apiError) {
	if alg := p.Get("X-Amz-Algorithm"); alg != sigAlgorithm {
		return nil, incomplete(fmt.Sprintf("Unsupported AWS 'algorithm': '%s'", clip(alg, 64)))
	}
	var missing []string
	for _, k := range []string{"X-Amz-Credential", "X-Amz-Signature", "X-Amz-SignedHeaders", "X-Amz-Date"} {
		if p.Get(k) == "" {
			missing = append(missing, fmt.Sprintf("AWS query-string parameters must include '%s'.", k))
		}
	}
	if len(missing) > 0 {
		return nil, incomplete(strings.Join(missing, " "))
	}
	a := &sigV4Auth{Signature: p.Get("X-Amz-Signature"), SecurityToken: p.Get("X-Amz-Security-Token"), Presigned: true}
	if err := a.setCredential(p.Get("X-Amz-Credential")); err != nil {
		return nil, err
	}
	a.SignedHeaders = strings.Split(p.Get("X-Amz-SignedHeaders"), ";")
	t, err := time.Parse(amzDateFmt, p.Get("X-Amz-Date"))
	if err != nil {
		return nil, incomplete("X-Amz-Date must be in ISO-8601 'basic format'.")
	}
	a.AmzDate, a.AmzDateRaw = t, p.Get("X-Amz-Date")
	a.Expires = 15 * time.Minute
	if e := p.Get("X-Amz-Expires"); e != "" {
		n, err := strconv.Atoi(e)
		if err != nil || n < 1 || n > 604800 {
			return nil, incomplete("X-Amz-Expires must be a number of seconds between 1 and 604800.")
		}
		a.Expires = time.Duration(n) * time.Second
	}
	if err := a.checkSignedHeaders(); err != nil {
		return nil, err
	}
	return a, nil
}

func (a *sigV4Auth) setCredential(c string) *apiError {
	parts := strings.Split(c, "/")
	if len(parts) != 5 || parts[0] == "" || parts[4] != "aws4_request" {
		return incomplete(fmt.Sprintf("Credential is malformed; expecting \"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request\", got '%s'.", clip(c, 128)))
	}
	a.AccessKeyID, a.ScopeDate, a.Region, a.Service = parts[0], parts[1], parts[2], parts[3]
	return nil
}

func (a *sigV4Auth) checkSignedHeaders() *apiError {
	hasHost := false
	for _, h := range a.SignedHeaders {
		if h == "" || h != strings.ToLower(h) {
			return incomplete("SignedHeaders must be a list of lower-case header names separated by ';'.")
		}
		if h == "host" {
			hasHost = true
		}
	}
	if !hasHost {
		return &apiError{Status: 403, Code: "SignatureDoesNotMatch", Message: "'Host' must be a 'SignedHeader' in the AWS Authorization."}
	}
	return nil
}

func errSignature() *apiError {
	return &apiError{Status: 403, Code: "SignatureDoesNotMatch", Message: "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."}
}

// checkScope validates the credential scope and clock skew (or presigned
// expiry) against the server's region and clock.
func (a *sigV4Auth) checkScope(region string, now time.Time) *apiError {
	if a.Service != "sts" && a.Service != "iam" { // iam: see iam.go
		return &apiError{Status: 403, Code: "SignatureDoesNotMatch", Message: "Credential should be scoped to correct service: 'sts'. "}
	}
	if a.Region != region {
		return &apiError{Status: 403, Code: "SignatureDoesNotMatch", Message: fmt.Sprintf("Credential should be scoped to a valid region, not '%s'. ", clip(a.Region, 64))}
	}
	if a.ScopeDate != a.AmzDate.Format("20060102") {
		return &apiError{Status: 403, Code: "SignatureDoesNotMatch", Message: fmt.Sprintf("Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '%s' != '%s', from '%s'.", clip(a.ScopeDate, 16), a.AmzDate.Format("20060102"), a.AmzDateRaw)}
	}
	now = now.UTC()
	// Checked first for both kinds: a signature from the future cannot also
	// have expired (X-Amz-Expires is at least 1 s), so the order of the
	// checks does not change any answer.
	if a.AmzDate.After(now.Add(maxSkew)) {
		return &apiError{Status: 403, Code: "SignatureDoesNotMatch", Message: fmt.Sprintf("Signature not yet current: %s is still later than %s (%s + 15 min.)", a.AmzDateRaw, now.Add(maxSkew).Format(amzDateFmt), now.Format(amzDateFmt))}
	}
	if a.Presigned {
		if now.After(a.AmzDate.Add(a.Expires)) {
			return &apiError{Status: 403, Code: "AccessDenied", Message: "Request has expired"}
		}
		return nil
	}
	if a.AmzDate.Before(now.Add(-maxSkew)) {
		return &apiError{Status: 403, Code: "SignatureDoesNotMatch", Message: fmt.Sprintf("Signature expired: %s is now earlier than %s (%s - 15 min.)", a.AmzDateRaw, now.Add(-maxSkew).Format(amzDateFmt), now.Format(amzDateFmt))}
	}
	return nil
}

// verify recomputes the signature with the secret and compares in constant
// time. host is the request's Host (r.Host on a server).
func (a *sigV4Auth) verify(method string, u *url.URL, host string, header http.Header, contentLength int64, body []byte, secret string) *apiError {
	payloadHash := header.Get("X-Amz-Content-Sha256")
	sum := sha256.Sum256(body)
	actual := hex.EncodeToString(sum[:])
	var candidates []string
	switch {
	case a.Presigned && payloadHash == "":
		// Presigned STS URLs (aws-sdk-go-v2) sign the empty body's hash;
		// S3-style presigners sign UNSIGNED-PAYLOAD.
		candidates = []string{actual, "UNSIGNED-PAYLOAD"}
	case payloadHash == "":
		candidates = []string{actual}
	case payloadHash == "UNSIGNED-PAYLOAD" || payloadHash == actual:
		candidates = []string{payloadHash}
	default:
		return &apiError{Status: 400, Code: "XAmzContentSHA256Mismatch", Message: "The provided 'x-amz-content-sha256' header does not match what was computed."}
	}
	scope := strings.Join([]string{a.ScopeDate, a.Region, a.Service, "aws4_request"}, "/")
	k := hmacSHA256([]byte("AWS4"+secret), a.ScopeDate)
	k = hmacSHA256(k, a.Region)
	k = hmacSHA256(k, a.Service)
	k = hmacSHA256(k, "aws4_request")
	for _, ph := range candidates {
		canon := canonicalRequest(method, u, host, header, contentLength, a, ph)
		ch := sha256.Sum256([]byte(canon))
		sts := sigAlgorithm + "\n" + a.AmzDateRaw + "\n" + scope + "\n" + hex.EncodeToString(ch[:])
		want := hex.EncodeToString(hmacSHA256(k, sts))
		if hmac.Equal([]byte(want), []byte(strings.ToLower(a.Signature))) {
			return nil
		}
	}
	return errSignature()
}

func hmacSHA256(key []byte, s string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(s))
	return m.Sum(nil)
}

// canonicalRequest builds the SigV4 canonical request (AWS General
// Reference, "Create a canonical request"): method, URI-encoded path,
// sorted encoded query (minus X-Amz-Signature for presigned URLs), the
// signed headers with trimmed values, the signed-header list, the payload
// hash.
func canonicalRequest(method string, u *url.URL, host string, header http.Header, contentLength int64, a *sigV4Auth, payloadHash string) string {
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	// Non-S3 services encode the already-escaped path once more.
	path = uriEncode(path, false)

	q, _ := url.ParseQuery(u.RawQuery)
	type kv struct{ k, v string }
	var pairs []kv
	for k, vs := range q {
		if a.Presigned && k == "X-Amz-Signature" {
			continue
		}
		for _, v := range vs {
			pairs = append(pairs, kv{uriEncode(k, true), uriEncode(v, true)})
		}
	}
	sort.Slice(pairs, func(i, j int) bool {
		if pairs[i].k != pairs[j].k {
			return pairs[i].k < pairs[j].k
		}
		return pairs[i].v < pairs[j].v
	})
	qs := make([]string, len(pairs))
	for i, p := range pairs {
		qs[i] = p.k + "=" + p.v
	}

	var hb strings.Builder
	for _, h := range a.SignedHeaders {
		var val string
		switch h {
		case "host":
			val = host
		case "content-length":
			if vs := header.Values("Content-Length"); len(vs) > 0 {
				val = vs[0]
			} else {
				val = strconv.FormatInt(contentLength, 10)
			}
		default:
			vs := header.Values(h)
			trimmed := make([]string, len(vs))
			for i, v := range vs {
				trimmed[i] = strings.Join(strings.Fields(v), " ")
			}
			val = strings.Join(trimmed, ",")
		}
		hb.WriteString(h)
		hb.WriteByte(':')
		hb.WriteString(val)
		hb.WriteByte('\n')
	}
	return strings.Join([]string{
		method,
		path,
		strings.Join(qs, "&"),
		hb.String(),
		strings.Join(a.SignedHeaders, ";"),
		payloadHash,
	}, "\n")
}

// uriEncode is SigV4's UriEncode: every byte except A-Z a-z 0-9 - _ . ~ is
// percent-encoded in upper-case hex; '/' is kept unless encodeSlash.
func uriEncode(s string, encodeSlash bool) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9',
			c == '-', c == '_', c == '.', c == '~':
			b.WriteByte(c)
		case c == '/' && !encodeSlash:
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&15])
		}
	}
	return b.String()
}

// clip shortens client-controlled text before it is echoed in a message.
func clip(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
