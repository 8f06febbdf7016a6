package sts

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestClassify(t *testing.T) {
	tests := []struct {
		ci        callInfo
		code, msg string
		want      error
		text      string
	}{
		{callInfo{withMFA: true}, "AccessDenied", "MultiFactorAuthentication failed with invalid MFA one time pass code. ", ErrInvalidCode, "wrong, or already used"},
		{callInfo{withMFA: true, reused: true}, "AccessDenied", "MultiFactorAuthentication failed with invalid MFA one time pass code. ", ErrReusedCode, "already used"},
		{callInfo{withMFA: true}, "AccessDenied", "MultiFactorAuthentication failed, unable to validate MFA code.  Please verify your MFA serial number is valid and associated with this user.", ErrSerialNotAssociated, "IAM console"},
		{callInfo{}, "AccessDenied", "MultiFactorAuthentication failed, must provide both MFA serial number and one time pass code.", ErrMFAIncomplete, "mfa_serial"},
		{callInfo{}, "AccessDenied", "User: arn:aws:iam::111:user/x is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::222:role/y", ErrNotAuthorized, "requires MFA"},
		{callInfo{viaSession: true, chained: true}, "AccessDenied", "User: arn:aws:sts::111:x is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::222:role/y", ErrNotAuthorized, "mfabridge_mfa_max_age"},
		{callInfo{}, "ExpiredToken", "The security token included in the request is expired", ErrExpiredCredentials, "renew"},
		{callInfo{}, "InvalidClientTokenId", "The security token included in the request is invalid.", ErrInvalidCredentials, "aws_access_key_id"},
		{callInfo{}, "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided.", ErrInvalidCredentials, "secret"},
		{callInfo{}, "AccessDenied", "Cannot call GetSessionToken with session credentials", ErrSessionCredentials, "long-term"},
		{callInfo{duration: 7200}, "ValidationError", "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.", ErrChainingLimit, "7200 s"},
		{callInfo{duration: 7200}, "ValidationError", "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.", ErrMaxSessionDuration, "lower duration_seconds"},
		{callInfo{}, "ValidationError", "1 validation error detected: Value 'x' at 'roleSessionName' failed to satisfy constraint", ErrValidation, "role_session_name"},
		{callInfo{}, "Throttling", "Rate exceeded", ErrThrottled, "retry"},
		{callInfo{}, "RegionDisabledException", "STS is not activated in this region for account:1.", ErrRegionDisabled, "region"},
		{callInfo{}, "InternalFailure", "boom", ErrServerError, "InternalFailure: boom — STS failed on its side: try again in a moment"},
		{callInfo{withMFA: true}, "ServiceUnavailable", "busy", ErrServerError, "STS failed on its side (the code may have been consumed: the next attempt waits for a fresh one): try again in a moment"},
		{callInfo{}, "SomethingNew", "odd", ErrSTS, "SomethingNew: odd"},
	}
	for _, tt := range tests {
		t.Run(tt.want.Error()+"/"+tt.code, func(t *testing.T) {
			tt.ci.action, tt.ci.target = ActionAssumeRole, "arn:aws:iam::222222222222:role/y"
			err := classify(tt.ci, apiErr(tt.code, tt.msg))
			var ce *CallError
			if !errors.Is(err, tt.want) || !errors.As(err, &ce) || ce.Code != tt.code {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
			// The message says what and why; Hint says what to do.
			s := err.Error()
			if full := s + ": " + ce.Hint(); !strings.Contains(full, tt.text) || !strings.HasPrefix(s, "sts: AssumeRole arn:aws:iam::222222222222:role/y: "+tt.code) {
				t.Fatalf("message %q, hint %q lack %q", s, ce.Hint(), tt.text)
			}
			if ce.Fix != "" && strings.Contains(s, ce.Fix) {
				t.Fatalf("message %q holds the fix %q", s, ce.Fix)
			}
		})
	}
	if classify(callInfo{}, nil) != nil {
		t.Fatal("nil error classified")
	}
}

func TestProviderReusedCode(t *testing.T) {
	h := newHarness(t)
	pr := h.provider("base")
	pr.cache.recordStep(pr.profile.MFASerial, h.clock.Now().Add(5*time.Minute).Unix()/30, h.clock.Now())
	h.sts.failWith = apiErr("AccessDenied", "MultiFactorAuthentication failed with invalid MFA one time pass code. ")
	_, err := pr.Credentials(context.Background())
	if !errors.Is(err, ErrReusedCode) || errors.Is(err, ErrInvalidCode) {
		t.Fatalf("got %v, want ErrReusedCode", err)
	}
}

// withHint is err's message and, after a colon, its CallError's hint: what
// the CLI shows on two lines.
func withHint(err error) string {
	var ce *CallError
	if errors.As(err, &ce) {
		return err.Error() + ": " + ce.Hint()
	}
	return err.Error()
}
