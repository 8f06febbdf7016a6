package sts

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/smithy-go"
)

// Sentinels for classified STS failures; a *CallError unwraps to one of them
// (and to the SDK's error).
var (
	ErrInvalidCode         = errors.New("invalid MFA code")
	ErrReusedCode          = errors.New("MFA code already used")
	ErrSerialNotAssociated = errors.New("MFA serial not associated with the caller")
	ErrMFAIncomplete       = errors.New("MFA serial or code missing")
	ErrNotAuthorized       = errors.New("not authorized to assume role")
	ErrExpiredCredentials  = errors.New("source credentials expired")
	ErrInvalidCredentials  = errors.New("source credentials invalid")
	ErrSessionCredentials  = errors.New("GetSessionToken called with session credentials")
	ErrChainingLimit       = errors.New("duration exceeds the 1 hour role chaining limit")
	ErrMaxSessionDuration  = errors.New("duration exceeds the role's MaxSessionDuration")
	ErrThrottled           = errors.New("throttled")
	ErrRegionDisabled      = errors.New("STS disabled in region")
	ErrServerError         = errors.New("STS server error")
	ErrValidation          = errors.New("request failed validation")
	ErrSTS                 = errors.New("STS call failed")
	ErrTransport           = errors.New("STS unreachable")
	ErrTimeout             = errors.New("no answer from STS in time")
	ErrRegionScope         = errors.New("request signed for a region the endpoint does not serve")
	ErrClockSkew           = errors.New("clock too far from STS's")
	// ErrExpiredAnswer: STS answered with credentials whose Expiration is
	// already past; they are neither handed out nor cached.
	ErrExpiredAnswer = errors.New("STS answered with credentials that have already expired")
)

// CallError is a failed STS call, classified, with the likely cause and fix.
// Error text never contains the code sent, nor the fix: Hint returns that.
// Fix is empty where the remedy is a setting of the caller's (timeout,
// endpoint, region: Kind ErrTimeout, ErrTransport, ErrRegionScope), which
// the caller words from Kind.
type CallError struct {
	Action  Action
	Target  string // role ARN for AssumeRole, MFA serial for GetSessionToken
	Code    string // STS error code, e.g. "AccessDenied"; empty for transport errors
	Message string // STS message, trimmed
	Kind    error  // one of the sentinels above
	Cause   string // likely cause
	Fix     string // what to do, if the caller's settings are not the remedy
	Err     error  // underlying SDK error
	// Spent: the request carried a code that STS may have consumed (no
	// answer, or an unknown one), so the next attempt waits for a fresh one.
	Spent bool
	// StepKept: the request carried a code but cannot have consumed it
	// (never sent, or refused before MFA was checked), so its TOTP step
	// was given back and the next attempt need not wait for a fresh code.
	StepKept bool
}

func (e *CallError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "sts: %s %s: ", e.Action, e.Target)
	if e.Code != "" {
		fmt.Fprintf(&b, "%s: %s", e.Code, e.Message)
	} else {
		fmt.Fprintf(&b, "%v", e.Err)
	}
	if e.Cause != "" {
		fmt.Fprintf(&b, " — %s", e.Cause)
	}
	if e.Spent {
		b.WriteString(" (the code may have been consumed: the next attempt waits for a fresh one)")
	}
	if e.StepKept {
		b.WriteString(" (the MFA code was not used: the next attempt may use the current one)")
	}
	return b.String()
}

func (e *CallError) Unwrap() []error { return []error{e.Kind, e.Err} }

// Hint is what to do about the failure (Fix), or "".
func (e *CallError) Hint() string { return e.Fix }

// callInfo is what classify needs to know about the failed call.
type callInfo struct {
	action     Action
	target     string
	withMFA    bool // the request carried a code
	reused     bool // the ledger says this step had already been sent
	chained    bool // caller credentials were session credentials
	viaSession bool // caller is the shared MFA session
	duration   int32
	region     string // the region the request was signed for
	endpoint   string // endpoint_url / AWS_ENDPOINT_URL_STS, if set
}

// timeoutError is a call that the Provider's time-out ended (issue 13
// case 7): it says which call, and after how long.
func timeoutError(ci callInfo, d time.Duration, err error) error {
	return &CallError{Action: ci.action, Target: ci.target, Err: fmt.Errorf("no answer within %s: %w", d, err), Kind: ErrTimeout,
		Cause: "STS (or something on the way) accepted the request but did not answer", Spent: ci.withMFA}
}

// rejectedBeforeMFA: STS error codes of a request refused while it was
// being authenticated (signature, scope, clock, caller's key or token),
// which STS does before the action runs and so before it looks at the MFA
// code: such a code is not consumed. The STS emulator authenticates in the
// same order (simulator/stsemu authenticate).
func rejectedBeforeMFA(code string) bool {
	switch code {
	case "SignatureDoesNotMatch", "IncompleteSignature", "InvalidClientTokenId",
		"MissingAuthenticationToken", "ExpiredToken", "ExpiredTokenException":
		return true
	}
	return false
}

// classify turns an SDK error into a *CallError. Codes and messages are
// those of real STS (notes §1.4).
func classify(ci callInfo, err error) error {
	if err == nil {
		return nil
	}
	ce := &CallError{Action: ci.action, Target: ci.target, Err: err, Kind: ErrSTS}
	var api smithy.APIError
	if !errors.As(err, &api) {
		ce.Kind = ErrTransport
		ce.Cause = "no answer from STS"
		ce.Spent = ci.withMFA
		return ce
	}
	ce.Code = api.ErrorCode()
	ce.Message = strings.TrimSpace(api.ErrorMessage())
	msg := strings.ToLower(ce.Message)
	switch {
	case strings.Contains(msg, "invalid mfa one time pass code"):
		if ci.reused {
			ce.Kind = ErrReusedCode
			ce.Cause = "this code was already used (a code is accepted once)"
			ce.Fix = "the next attempt waits for a fresh code"
		} else {
			ce.Kind = ErrInvalidCode
			ce.Cause = "the code was wrong, or already used by another program in this 30 s window (a code can be used once)"
			ce.Fix = "check the computer's clock and mfabridge_account (the OATH account must belong to " + "the mfa_serial); the next attempt waits for a fresh code"
		}
	case strings.Contains(msg, "unable to validate mfa code") || strings.Contains(msg, "associated with this user"):
		ce.Kind = ErrSerialNotAssociated
		ce.Cause = "the mfa_serial is not an MFA device of the IAM user owning the source credentials"
		ce.Fix = "copy the device's ARN from the IAM console (Security credentials) into mfa_serial, or fix source_profile"
	case strings.Contains(msg, "must provide both mfa serial"):
		ce.Kind = ErrMFAIncomplete
		ce.Cause = "STS got only one of serial and code"
		ce.Fix = "set mfa_serial on the profile"
	case ce.Code == "ExpiredToken" || ce.Code == "ExpiredTokenException":
		ce.Kind = ErrExpiredCredentials
		ce.Cause = "the credentials used to call STS have expired"
		ce.Fix = "renew the source profile's credentials (or remove an old aws_session_token)"
	case ce.Code == "SignatureDoesNotMatch" && strings.Contains(msg, "credential should be scoped to a valid region"):
		// Issue 13 case 9: the key is fine; the region in the signature
		// is not the endpoint's.
		ce.Kind = ErrRegionScope
		ce.Cause = fmt.Sprintf("the request was signed for region %q, which this STS endpoint does not serve", ci.region)
		if ci.endpoint != "" {
			ce.Cause = fmt.Sprintf("the request was signed for region %q, which the endpoint %s does not serve", ci.region, ci.endpoint)
		}
	case ce.Code == "SignatureDoesNotMatch" && (strings.Contains(msg, "signature expired") || strings.Contains(msg, "signature not yet current")):
		// Issue 13 case 9: a clock-skew rejection, not a bad key. The
		// Provider replaces Cause with the skew it measured.
		ce.Kind = ErrClockSkew
		ce.Cause = "this computer's clock differs from STS's by more than SigV4 allows"
		ce.Fix = "synchronise the clock (NTP); TOTP codes depend on it too"
	case ce.Code == "InvalidClientTokenId" || ce.Code == "SignatureDoesNotMatch":
		ce.Kind = ErrInvalidCredentials
		ce.Cause = "the source access key or secret is wrong, deleted, or inactive"
		ce.Fix = "check aws_access_key_id / aws_secret_access_key of the source profile"
	case strings.Contains(msg, "cannot call getsessiontoken with session credentials"):
		ce.Kind = ErrSessionCredentials
		ce.Cause = "GetSessionToken needs an IAM user's long-term access keys"
		ce.Fix = "use access keys (AKIA…) without aws_session_token as the source"
	case strings.Contains(msg, "role chaining"):
		ce.Kind = ErrChainingLimit
		ce.Cause = fmt.Sprintf("roles assumed with session credentials (including an MFA session) last at most 1 hour, %d s was asked", ci.duration)
		ce.Fix = "set duration_seconds to 3600 or less"
	case strings.Contains(msg, "maxsessionduration"):
		ce.Kind = ErrMaxSessionDuration
		ce.Cause = fmt.Sprintf("the role allows less than the %d s asked", ci.duration)
		ce.Fix = "lower duration_seconds or raise the role's maximum session duration"
	case ce.Code == "AccessDenied" && strings.Contains(msg, "not authorized to perform: sts:assumerole"):
		ce.Kind = ErrNotAuthorized
		switch {
		case ci.viaSession:
			ce.Cause = "the role's trust policy does not allow this caller; if it limits aws:MultiFactorAuthAge, the MFA session is too old"
			ce.Fix = "set mfabridge_mfa_max_age below the policy's limit (or check Principal and external_id)"
		case ci.withMFA || ci.chained:
			ce.Cause = "the role's trust policy does not allow this caller (MFA was present)"
			ce.Fix = "check the trust policy's Principal and conditions (e.g. aws:MultiFactorAuthAge, ExternalId)"
		default:
			ce.Cause = "the role's trust policy does not allow this caller, or requires MFA"
			ce.Fix = "set mfa_serial on the profile if the role requires MFA; otherwise check the trust policy and external_id"
		}
	case ce.Code == "Throttling":
		ce.Kind = ErrThrottled
		ce.Cause = "STS rate limit"
		ce.Fix = "wait a moment and retry"
	case ce.Code == "RegionDisabledException":
		ce.Kind = ErrRegionDisabled
		ce.Cause = "STS is not activated in this region for the account"
		ce.Fix = "set region to an enabled region or activate it in IAM account settings"
	case serverError(ce.Code, err):
		ce.Kind = ErrServerError
		ce.Cause = "STS failed on its side"
		ce.Fix = "try again in a moment"
		// STS may have accepted the code before failing.
		ce.Spent = ci.withMFA
	case ce.Code == "ValidationError":
		ce.Kind = ErrValidation
		ce.Cause = "STS refused a parameter"
		ce.Fix = "check role_arn, role_session_name, external_id and duration_seconds"
	}
	return ce
}

// serverError: STS's own failures (HTTP 5xx: InternalFailure,
// ServiceUnavailable, ...), after which a code sent may have been consumed.
func serverError(code string, err error) bool {
	switch code {
	case "InternalFailure", "InternalError", "ServiceUnavailable", "ServiceUnavailableException":
		return true
	}
	var st interface{ HTTPStatusCode() int }
	return errors.As(err, &st) && st.HTTPStatusCode() >= 500
}
