package stsemu

import (
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

func TestGetSessionTokenMFA(t *testing.T) {
	h := newHarness(t, "example.json")
	c := h.alice()
	code := h.code(t, aliceTOTP, 0)

	out, err := c.GetSessionToken(ctx, &sts.GetSessionTokenInput{SerialNumber: aws.String(aliceSerial), TokenCode: aws.String(code)})
	if err != nil {
		t.Fatalf("valid code: %v", err)
	}
	cr := out.Credentials
	if !strings.HasPrefix(*cr.AccessKeyId, "ASIA") || len(*cr.AccessKeyId) != 20 {
		t.Errorf("AccessKeyId = %q, want ASIA + 16", *cr.AccessKeyId)
	}
	if *cr.SecretAccessKey == "" || *cr.SessionToken == "" {
		t.Error("empty secret or token")
	}
	if want := start.Add(43200 * time.Second).Truncate(time.Second); !cr.Expiration.Equal(want) {
		t.Errorf("Expiration = %v, want default 12 h: %v", cr.Expiration, want)
	}

	// The same code again, in the same step: reuse.
	_, err = c.GetSessionToken(ctx, &sts.GetSessionTokenInput{SerialNumber: aws.String(aliceSerial), TokenCode: aws.String(code)})
	wantAPIError(t, err, "AccessDenied", 403, msgWrongCode)

	// The previous step's code is also spent (earlier than the last accepted).
	_, err = c.GetSessionToken(ctx, &sts.GetSessionTokenInput{SerialNumber: aws.String(aliceSerial), TokenCode: aws.String(h.code(t, aliceTOTP, -30*time.Second))})
	wantAPIError(t, err, "AccessDenied", 403, msgWrongCode)

	// The next step's code (clock drift +1) is accepted once.
	_, err = c.GetSessionToken(ctx, &sts.GetSessionTokenInput{SerialNumber: aws.String(aliceSerial), TokenCode: aws.String(h.code(t, aliceTOTP, 30*time.Second))})
	if err != nil {
		t.Fatalf("next-step code: %v", err)
	}

	entries := h.log.entries(t)
	if len(entries) != 4 {
		t.Fatalf("log has %d entries, want 4", len(entries))
	}
	e := entries[1]
	if e.Action != "GetSessionToken" || e.Caller != "arn:aws:iam::111111111111:user/alice" || e.MFASerial != aliceSerial ||
		e.CodeValid == nil || *e.CodeValid || e.Outcome != "denied" || e.ErrorCode != "AccessDenied" || e.Status != 403 {
		t.Errorf("reuse log entry = %+v", e)
	}
	if e := entries[0]; e.CodeValid == nil || !*e.CodeValid || e.Outcome != "ok" || e.Status != 200 || e.AccessKeyID != aliceKey || e.RequestID == "" {
		t.Errorf("success log entry = %+v", e)
	}
}

func TestGetSessionTokenErrors(t *testing.T) {
	h := newHarness(t, "world.json")
	tests := []struct {
		name   string
		in     *sts.GetSessionTokenInput
		code   string
		status int
		msg    string
	}{
		{"wrong code", &sts.GetSessionTokenInput{SerialNumber: aws.String(aliceSerial), TokenCode: aws.String("000000")}, "AccessDenied", 403, msgWrongCode},
		{"someone else's serial", &sts.GetSessionTokenInput{SerialNumber: aws.String(bobSerial), TokenCode: aws.String(h.code(t, bobTOTP, 0))}, "AccessDenied", 403, msgUnknownSerial},
		{"unknown serial", &sts.GetSessionTokenInput{SerialNumber: aws.String("arn:aws:iam::111111111111:mfa/nobody"), TokenCode: aws.String("123456")}, "AccessDenied", 403, msgUnknownSerial},
		{"serial only", &sts.GetSessionTokenInput{SerialNumber: aws.String(aliceSerial)}, "AccessDenied", 403, msgBothRequired},
		{"code only", &sts.GetSessionTokenInput{TokenCode: aws.String("123456")}, "AccessDenied", 403, msgBothRequired},
		{"empty code", &sts.GetSessionTokenInput{SerialNumber: aws.String(aliceSerial), TokenCode: aws.String("")}, "ValidationError", 400,
			"1 validation error detected: Value '' at 'tokenCode' failed to satisfy constraint: Member must have length greater than or equal to 6"},
		{"seven digits", &sts.GetSessionTokenInput{SerialNumber: aws.String(aliceSerial), TokenCode: aws.String("1234567")}, "ValidationError", 400,
			"1 validation error detected: Value '1234567' at 'tokenCode' failed to satisfy constraint: Member must have length less than or equal to 6"},
		{"letters", &sts.GetSessionTokenInput{SerialNumber: aws.String(aliceSerial), TokenCode: aws.String("12345a")}, "ValidationError", 400,
			`1 validation error detected: Value '12345a' at 'tokenCode' failed to satisfy constraint: Member must satisfy regular expression pattern: [\d]*`},
		{"short duration", &sts.GetSessionTokenInput{DurationSeconds: aws.Int32(600)}, "ValidationError", 400,
			"1 validation error detected: Value '600' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to 900"},
		{"two errors", &sts.GetSessionTokenInput{DurationSeconds: aws.Int32(129601), SerialNumber: aws.String("short"), TokenCode: aws.String("123456")}, "ValidationError", 400,
			"2 validation errors detected: Value '129601' at 'durationSeconds' failed to satisfy constraint: Member must have value less than or equal to 129600; " +
				"Value 'short' at 'serialNumber' failed to satisfy constraint: Member must have length greater than or equal to 9"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := h.alice().GetSessionToken(ctx, tt.in)
			wantAPIError(t, err, tt.code, tt.status, tt.msg)
		})
	}
	// A wrong code does not spend the current step: the right code still works.
	if _, err := h.alice().GetSessionToken(ctx, &sts.GetSessionTokenInput{SerialNumber: aws.String(aliceSerial), TokenCode: aws.String(h.code(t, aliceTOTP, 0))}); err != nil {
		t.Fatalf("valid code after failures: %v", err)
	}
	// Bob's code was not consumed by alice's attempt with bob's serial.
	if _, err := h.client(bobKey, bobSecret, "").GetSessionToken(ctx, &sts.GetSessionTokenInput{SerialNumber: aws.String(bobSerial), TokenCode: aws.String(h.code(t, bobTOTP, 0))}); err != nil {
		t.Fatalf("bob's own code: %v", err)
	}
}

func TestAssumeRoleMFAFlow(t *testing.T) {
	h := newHarness(t, "example.json")
	alice := h.alice()

	// 1. Without MFA: the trust policy's Bool condition fails.
	_, err := alice.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(privRole), RoleSessionName: aws.String("s1")})
	wantAPIError(t, err, "AccessDenied", 403,
		"User: arn:aws:iam::111111111111:user/alice is not authorized to perform: sts:AssumeRole on resource: "+privRole)

	// 2. With MFA parameters: ok, not chained, so 2 h is allowed.
	ar, err := alice.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(privRole), RoleSessionName: aws.String("s2"),
		SerialNumber: aws.String(aliceSerial), TokenCode: aws.String(h.code(t, aliceTOTP, 0)), DurationSeconds: aws.Int32(7200)})
	if err != nil {
		t.Fatalf("AssumeRole with MFA: %v", err)
	}
	if got, want := *ar.AssumedRoleUser.Arn, "arn:aws:sts::222222222222:assumed-role/PrivilegedActionsRole/s2"; got != want {
		t.Errorf("Arn = %q, want %q", got, want)
	}
	if !strings.HasPrefix(*ar.AssumedRoleUser.AssumedRoleId, "AROA") || !strings.HasSuffix(*ar.AssumedRoleUser.AssumedRoleId, ":s2") {
		t.Errorf("AssumedRoleId = %q", *ar.AssumedRoleUser.AssumedRoleId)
	}
	if want := start.Add(2 * time.Hour); !ar.Credentials.Expiration.Equal(want) {
		t.Errorf("Expiration = %v, want %v", ar.Credentials.Expiration, want)
	}
	roleSess := fromSession(h, ar.Credentials)

	// 3. MFA session from GetSessionToken (next step), then AssumeRole
	// without MFA parameters: MFA context carried, chained.
	h.clock.Advance(30 * time.Second)
	gst, err := alice.GetSessionToken(ctx, &sts.GetSessionTokenInput{SerialNumber: aws.String(aliceSerial), TokenCode: aws.String(h.code(t, aliceTOTP, 0))})
	if err != nil {
		t.Fatalf("GetSessionToken: %v", err)
	}
	mfaSess := fromSession(h, gst.Credentials)
	ar2, err := mfaSess.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(privRole), RoleSessionName: aws.String("s3")})
	if err != nil {
		t.Fatalf("AssumeRole from MFA session: %v", err)
	}
	if want := start.Add(30*time.Second + time.Hour); !ar2.Credentials.Expiration.Equal(want) {
		t.Errorf("chained default Expiration = %v, want %v", ar2.Credentials.Expiration, want)
	}
	_, err = mfaSess.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(privRole), RoleSessionName: aws.String("s4"), DurationSeconds: aws.Int32(7200)})
	wantAPIError(t, err, "ValidationError", 400, msgChainCap)
	if _, err := mfaSess.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(privRole), RoleSessionName: aws.String("s5"), DurationSeconds: aws.Int32(3600)}); err != nil {
		t.Errorf("chained 3600: %v", err)
	}

	// 4. A role session cannot call GetSessionToken.
	_, err = roleSess.GetSessionToken(ctx, &sts.GetSessionTokenInput{})
	wantAPIError(t, err, "AccessDenied", 403, msgGSTFromSession)
	_, err = mfaSess.GetSessionToken(ctx, &sts.GetSessionTokenInput{})
	wantAPIError(t, err, "AccessDenied", 403, msgGSTFromSession)

	// 5. A GetSessionToken session without MFA does not satisfy the trust policy.
	plain, err := alice.GetSessionToken(ctx, &sts.GetSessionTokenInput{DurationSeconds: aws.Int32(900)})
	if err != nil {
		t.Fatal(err)
	}
	_, err = fromSession(h, plain.Credentials).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(privRole), RoleSessionName: aws.String("s6")})
	wantAPIError(t, err, "AccessDenied", 403, "")
}

func TestAssumeRoleValidation(t *testing.T) {
	h := newHarness(t, "world.json")
	alice := h.alice()
	tests := []struct {
		name   string
		in     *sts.AssumeRoleInput
		code   string
		status int
		msg    string
	}{
		{"short session name", &sts.AssumeRoleInput{RoleArn: aws.String(privRole), RoleSessionName: aws.String("x")}, "ValidationError", 400,
			"1 validation error detected: Value 'x' at 'roleSessionName' failed to satisfy constraint: Member must have length greater than or equal to 2"},
		{"bad session name", &sts.AssumeRoleInput{RoleArn: aws.String(privRole), RoleSessionName: aws.String("a b")}, "ValidationError", 400,
			`1 validation error detected: Value 'a b' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\w+=,.@-]*`},
		{"short role arn", &sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::1"), RoleSessionName: aws.String("ok")}, "ValidationError", 400,
			"1 validation error detected: Value 'arn:aws:iam::1' at 'roleArn' failed to satisfy constraint: Member must have length greater than or equal to 20"},
		{"duration too long", &sts.AssumeRoleInput{RoleArn: aws.String(privRole), RoleSessionName: aws.String("ok"), DurationSeconds: aws.Int32(43201)}, "ValidationError", 400,
			"1 validation error detected: Value '43201' at 'durationSeconds' failed to satisfy constraint: Member must have value less than or equal to 43200"},
		{"over role max", &sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::222222222222:role/NoMFARole"), RoleSessionName: aws.String("ok"), DurationSeconds: aws.Int32(7200)}, "ValidationError", 400, msgMaxSession},
		{"unknown role", &sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::222222222222:role/Nope"), RoleSessionName: aws.String("ok")}, "AccessDenied", 403,
			"User: arn:aws:iam::111111111111:user/alice is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::222222222222:role/Nope"},
		{"serial only", &sts.AssumeRoleInput{RoleArn: aws.String(privRole), RoleSessionName: aws.String("ok"), SerialNumber: aws.String(aliceSerial)}, "AccessDenied", 403, msgBothRequired},
		{"wrong code", &sts.AssumeRoleInput{RoleArn: aws.String(privRole), RoleSessionName: aws.String("ok"), SerialNumber: aws.String(aliceSerial), TokenCode: aws.String("000000")}, "AccessDenied", 403, msgWrongCode},
		{"bob's serial", &sts.AssumeRoleInput{RoleArn: aws.String(privRole), RoleSessionName: aws.String("ok"), SerialNumber: aws.String(bobSerial), TokenCode: aws.String("123456")}, "AccessDenied", 403, msgUnknownSerial},
		{"aws: source identity", &sts.AssumeRoleInput{RoleArn: aws.String(privRole), RoleSessionName: aws.String("ok"), SourceIdentity: aws.String("aws:me")}, "ValidationError", 400, ""},
		{"not in identity policy", &sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::333333333333:role/Other"), RoleSessionName: aws.String("ok")}, "AccessDenied", 403, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := alice.AssumeRole(ctx, tt.in)
			wantAPIError(t, err, tt.code, tt.status, tt.msg)
		})
	}
	// A role that trusts "*" still needs the caller's identity policy:
	// bob's policy allows sts:*, so he may; a role not listed in alice's
	// policy is refused even though its trust policy allows everyone.
	if _, err := h.client(bobKey, bobSecret, "").AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::222222222222:role/NoMFARole"), RoleSessionName: aws.String("bob")}); err != nil {
		t.Errorf("bob NoMFARole: %v", err)
	}
}

func TestGetCallerIdentityKinds(t *testing.T) {
	h := newHarness(t, "world.json")
	alice := h.alice()
	gst, err := alice.GetSessionToken(ctx, &sts.GetSessionTokenInput{SerialNumber: aws.String(aliceSerial), TokenCode: aws.String(h.code(t, aliceTOTP, 0))})
	if err != nil {
		t.Fatal(err)
	}
	ar, err := fromSession(h, gst.Credentials).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(privRole), RoleSessionName: aws.String("alice@example.com")})
	if err != nil {
		t.Fatal(err)
	}
	// Role chaining: the role session assumes another role whose trust
	// policy names nobody in particular.
	bob := h.client(bobKey, bobSecret, "")
	bobRole, err := bob.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::222222222222:role/NoMFARole"), RoleSessionName: aws.String("b1")})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name         string
		c            *sts.Client
		arn, account string
		userIDPrefix string
	}{
		{"long-term", alice, "arn:aws:iam::111111111111:user/alice", "111111111111", "AIDA"},
		{"session token", fromSession(h, gst.Credentials), "arn:aws:iam::111111111111:user/alice", "111111111111", "AIDA"},
		{"assumed role", fromSession(h, ar.Credentials), "arn:aws:sts::222222222222:assumed-role/PrivilegedActionsRole/alice@example.com", "222222222222", "AROA"},
		{"other role", fromSession(h, bobRole.Credentials), "arn:aws:sts::222222222222:assumed-role/NoMFARole/b1", "222222222222", "AROA"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := tt.c.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
			if err != nil {
				t.Fatal(err)
			}
			if *out.Arn != tt.arn || *out.Account != tt.account || !strings.HasPrefix(*out.UserId, tt.userIDPrefix) {
				t.Errorf("got %s %s %s, want %s %s %s…", *out.Arn, *out.Account, *out.UserId, tt.arn, tt.account, tt.userIDPrefix)
			}
		})
	}
	// Long-term user id and session user id are the same.
	a, _ := alice.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	b, _ := fromSession(h, gst.Credentials).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if a == nil || b == nil || *a.UserId != *b.UserId {
		t.Error("user id differs between long-term keys and session")
	}
	r, _ := fromSession(h, ar.Credentials).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if r == nil || *r.UserId != *ar.AssumedRoleUser.AssumedRoleId {
		t.Error("assumed-role UserId differs from AssumedRoleId")
	}
}

func TestCredentialsExpire(t *testing.T) {
	h := newHarness(t, "world.json")
	gst, err := h.alice().GetSessionToken(ctx, &sts.GetSessionTokenInput{DurationSeconds: aws.Int32(900)})
	if err != nil {
		t.Fatal(err)
	}
	ar, err := h.client(bobKey, bobSecret, "").AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::222222222222:role/NoMFARole"), RoleSessionName: aws.String("bb"), DurationSeconds: aws.Int32(1800)})
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		advance     time.Duration
		gstOK, arOK bool
	}{
		{0, true, true},
		{899 * time.Second, true, true},
		{time.Second, false, true},
		{899 * time.Second, false, true},
		{time.Second, false, false},
	}
	for i, s := range steps {
		h.clock.Advance(s.advance)
		_, err := fromSession(h, gst.Credentials).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		if s.gstOK && err != nil {
			t.Errorf("step %d: session: %v", i, err)
		} else if !s.gstOK {
			wantAPIError(t, err, "ExpiredToken", 403, msgExpiredToken)
		}
		_, err = fromSession(h, ar.Credentials).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		if s.arOK && err != nil {
			t.Errorf("step %d: role: %v", i, err)
		} else if !s.arOK {
			wantAPIError(t, err, "ExpiredToken", 403, msgExpiredToken)
		}
	}
	// Still ExpiredToken a while later; once the grace period is over, the
	// next issued session prunes both, and their keys are unknown.
	h.clock.Advance(sessionGrace - time.Hour)
	if _, err := h.alice().GetSessionToken(ctx, &sts.GetSessionTokenInput{DurationSeconds: aws.Int32(900)}); err != nil {
		t.Fatal(err)
	}
	_, err = fromSession(h, gst.Credentials).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	wantAPIError(t, err, "ExpiredToken", 403, msgExpiredToken)
	if n := h.sessionCount(); n != 3 {
		t.Errorf("%d sessions stored within the grace period, want 3", n)
	}
	h.clock.Advance(2 * time.Hour)
	if _, err := h.alice().GetSessionToken(ctx, &sts.GetSessionTokenInput{DurationSeconds: aws.Int32(900)}); err != nil {
		t.Fatal(err)
	}
	if n := h.sessionCount(); n != 2 {
		t.Errorf("%d sessions stored after the grace period, want 2 (the two fresh ones)", n)
	}
	_, err = fromSession(h, gst.Credentials).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	wantAPIError(t, err, "InvalidClientTokenId", 403, "")
}

func TestSigV4Failures(t *testing.T) {
	h := newHarness(t, "world.json")
	gst, err := h.alice().GetSessionToken(ctx, &sts.GetSessionTokenInput{})
	if err != nil {
		t.Fatal(err)
	}
	cr := gst.Credentials
	tests := []struct {
		name   string
		c      *sts.Client
		code   string
		status int
		msg    string
	}{
		{"unknown key", h.client("AKIAUNKNOWN000000000", aliceSecret, ""), "InvalidClientTokenId", 403, msgInvalidToken},
		{"wrong secret", h.client(aliceKey, "not-the-secret-at-all-000000000000000000", ""), "SignatureDoesNotMatch", 403, errSignature().Message},
		{"session without token", h.client(*cr.AccessKeyId, *cr.SecretAccessKey, ""), "InvalidClientTokenId", 403, msgInvalidToken},
		{"session wrong token", h.client(*cr.AccessKeyId, *cr.SecretAccessKey, "bogus"), "InvalidClientTokenId", 403, msgInvalidToken},
		{"session wrong secret", h.client(*cr.AccessKeyId, "x"+*cr.SecretAccessKey, *cr.SessionToken), "SignatureDoesNotMatch", 403, ""},
		{"wrong region", sts.New(sts.Options{Region: "eu-west-1", BaseEndpoint: aws.String(h.url), RetryMaxAttempts: 1,
			Credentials: h.alice().Options().Credentials}), "SignatureDoesNotMatch", 403, "Credential should be scoped to a valid region, not 'eu-west-1'. "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.c.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
			wantAPIError(t, err, tt.code, tt.status, tt.msg)
		})
	}
	logs := h.log.entries(t)
	if e := logs[1]; e.AccessKeyID != "AKIAUNKNOWN000000000" || e.Caller != "" || e.Outcome != "error" || e.ErrorCode != "InvalidClientTokenId" || e.Action != "GetCallerIdentity" {
		t.Errorf("log of unknown key = %+v", e)
	}
}
