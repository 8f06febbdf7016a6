package stsemu

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// TestSameAccountTrustByARN pins issue 13 case 21: within one account a
// role trust policy that names the caller's ARN (user ARN, role ARN of a
// role session, or the session ARN) is enough without any identity policy;
// naming the account (id or :root) delegates to the identity policies,
// which here allow nothing. Across accounts the identity policy is always
// needed, and an explicit Deny in an identity or session policy always wins.
func TestSameAccountTrustByARN(t *testing.T) {
	h := newHarness(t, "same_account.json")
	alice := h.alice()
	carol := h.client("AKIACAROL00000000001", "carol-secret-access-key-0000000000000000", "")
	dave := h.client("AKIADAVE000000000001", "dave-secret-access-key-00000000000000000", "")
	role := func(acct, name string) string { return "arn:aws:iam::" + acct + ":role/" + name }
	assume := func(c *sts.Client, arn, name, policy string) (*sts.AssumeRoleOutput, error) {
		in := &sts.AssumeRoleInput{RoleArn: aws.String(arn), RoleSessionName: aws.String(name)}
		if policy != "" {
			in.Policy = aws.String(policy)
		}
		return c.AssumeRole(ctx, in)
	}
	denied := func(t *testing.T, err error, who, arn string) {
		t.Helper()
		wantAPIError(t, err, "AccessDenied", 403, "User: "+who+" is not authorized to perform: sts:AssumeRole on resource: "+arn)
	}
	const aliceARN = "arn:aws:iam::111111111111:user/alice"

	t.Run("user named by ARN, no identity policy", func(t *testing.T) {
		if _, err := assume(alice, role("111111111111", "ByUserARN"), "sa", ""); err != nil {
			t.Fatalf("AssumeRole: %v", err)
		}
	})
	t.Run("another user of the account is not named", func(t *testing.T) {
		_, err := assume(carol, role("111111111111", "ByUserARN"), "sc", "")
		denied(t, err, "arn:aws:iam::111111111111:user/carol", role("111111111111", "ByUserARN"))
	})
	t.Run("explicit deny in the identity policy wins", func(t *testing.T) {
		_, err := assume(dave, role("111111111111", "ByUserARN"), "sd", "")
		denied(t, err, "arn:aws:iam::111111111111:user/dave", role("111111111111", "ByUserARN"))
	})
	for _, name := range []string{"ByAccountID", "ByRoot"} {
		t.Run("account named ("+name+") delegates to identity policies", func(t *testing.T) {
			_, err := assume(alice, role("111111111111", name), "sa", "")
			denied(t, err, aliceARN, role("111111111111", name))
		})
	}
	t.Run("cross-account needs the identity policy", func(t *testing.T) {
		_, err := assume(alice, role("222222222222", "CrossByUserARN"), "sa", "")
		denied(t, err, aliceARN, role("222222222222", "CrossByUserARN"))
	})

	// Role sessions of Hop, which has no identity policy at all.
	hop, err := assume(alice, role("111111111111", "Hop"), "s1", "")
	if err != nil {
		t.Fatalf("assume Hop: %v", err)
	}
	s1 := fromSession(h, hop.Credentials)
	t.Run("role session, trust names its role ARN", func(t *testing.T) {
		out, err := assume(s1, role("111111111111", "ChainTargetRole"), "next", "")
		if err != nil {
			t.Fatalf("AssumeRole: %v", err)
		}
		if got := *out.AssumedRoleUser.Arn; got != "arn:aws:sts::111111111111:assumed-role/ChainTargetRole/next" {
			t.Errorf("Arn = %s", got)
		}
	})
	t.Run("role session, trust names its session ARN", func(t *testing.T) {
		if _, err := assume(s1, role("111111111111", "BySessionARN"), "next", ""); err != nil {
			t.Fatalf("AssumeRole: %v", err)
		}
	})
	t.Run("role session, account named", func(t *testing.T) {
		_, err := assume(s1, role("111111111111", "ByRoot"), "next", "")
		denied(t, err, "arn:aws:sts::111111111111:assumed-role/Hop/s1", role("111111111111", "ByRoot"))
	})

	// A session policy that allows nothing relevant: it limits a grant to
	// the role ARN, not one to the session ARN.
	scoped, err := assume(alice, role("111111111111", "Hop"), "s1", `{"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}}`)
	if err != nil {
		t.Fatalf("assume Hop with a session policy: %v", err)
	}
	s1scoped := fromSession(h, scoped.Credentials)
	t.Run("session policy limits a grant to the role ARN", func(t *testing.T) {
		_, err := assume(s1scoped, role("111111111111", "ChainTargetRole"), "next", "")
		denied(t, err, "arn:aws:sts::111111111111:assumed-role/Hop/s1", role("111111111111", "ChainTargetRole"))
	})
	t.Run("session policy does not limit a grant to the session ARN", func(t *testing.T) {
		if _, err := assume(s1scoped, role("111111111111", "BySessionARN"), "next", ""); err != nil {
			t.Fatalf("AssumeRole: %v", err)
		}
	})
}

// TestAssumeRoleAllowed is the decision table of assumeRoleAllowed.
func TestAssumeRoleAllowed(t *testing.T) {
	I, A, D := implicitDeny, allow, explicitDeny
	tests := []struct {
		identity, session, trust decision
		how                      principalMatch
		same, want               bool
	}{
		{A, A, A, matchAccount, true, true},
		{I, A, A, matchAccount, true, false},
		{I, A, A, matchEntity, true, true},
		{I, I, A, matchEntity, true, false},
		{I, I, A, matchSession, true, true},
		{I, A, A, matchEntity, false, false},
		{I, A, A, matchSession, false, false},
		{A, A, A, matchEntity, false, true},
		{D, A, A, matchSession, true, false},
		{A, D, A, matchSession, true, false},
		{A, A, I, noMatch, true, false},
		{A, A, D, noMatch, true, false},
	}
	for _, tt := range tests {
		if got := assumeRoleAllowed(tt.identity, tt.session, tt.trust, tt.how, tt.same); got != tt.want {
			t.Errorf("assumeRoleAllowed(identity %v, session %v, trust %v, how %d, same account %v) = %v, want %v",
				tt.identity, tt.session, tt.trust, tt.how, tt.same, got, tt.want)
		}
	}
}
