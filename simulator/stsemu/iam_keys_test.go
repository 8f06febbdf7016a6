package stsemu

import (
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// mfaSession returns alice's GetSessionToken credentials obtained with MFA.
func (h *harness) mfaSession(t *testing.T) (akid, secret, token string) {
	t.Helper()
	out, err := h.alice().GetSessionToken(ctx, &sts.GetSessionTokenInput{SerialNumber: aws.String(aliceSerial), TokenCode: aws.String(h.code(t, aliceTOTP, 0))})
	if err != nil {
		t.Fatal(err)
	}
	h.clock.Advance(30 * time.Second) // the next code is a new step
	c := out.Credentials
	return *c.AccessKeyId, *c.SecretAccessKey, *c.SessionToken
}

// keyList lists the keys of user ("" = the caller) and checks each is
// owner's.
func keyList(t *testing.T, c *iam.Client, user, owner string) map[string]types.StatusType {
	t.Helper()
	in := &iam.ListAccessKeysInput{}
	if user != "" {
		in.UserName = aws.String(user)
	}
	out, err := c.ListAccessKeys(ctx, in)
	if err != nil {
		t.Fatalf("list access keys: %v", err)
	}
	m := map[string]types.StatusType{}
	for _, k := range out.AccessKeyMetadata {
		if aws.ToString(k.UserName) != owner || k.CreateDate == nil {
			t.Errorf("metadata %+v", k)
		}
		m[aws.ToString(k.AccessKeyId)] = k.Status
	}
	return m
}

// The access-key life cycle of `keys rotate`, through the SDK: create a
// second key with the MFA session, the new key authenticates, the limit of
// two holds, the old key deactivated stops authenticating, reactivated
// works again, deleted stops for good; IAM lists one key at the end.
func TestIAMAccessKeyLifecycle(t *testing.T) {
	h := newHarness(t, "iam_access_keys.json")
	longTerm := h.iam(aliceKey, aliceSecret, "")
	if got := keyList(t, longTerm, "", "alice"); len(got) != 1 || got[aliceKey] != types.StatusTypeActive {
		t.Fatalf("initial list = %v", got)
	}
	// The policy denies key management without MFA.
	_, err := longTerm.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{})
	wantAPIError(t, err, "AccessDenied", 403, "User: arn:aws:iam::111111111111:user/alice is not authorized to perform: iam:CreateAccessKey on resource: arn:aws:iam::111111111111:user/alice")
	// GetSessionToken without MFA: IAM refuses the credentials outright.
	plain, err := h.alice().GetSessionToken(ctx, &sts.GetSessionTokenInput{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = h.iam(*plain.Credentials.AccessKeyId, *plain.Credentials.SecretAccessKey, *plain.Credentials.SessionToken).CreateAccessKey(ctx, &iam.CreateAccessKeyInput{})
	wantAPIError(t, err, "InvalidClientTokenId", 403, msgInvalidToken)

	mfa := h.iam(h.mfaSession(t))
	created, err := mfa.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("alice")})
	if err != nil {
		t.Fatal(err)
	}
	nk := created.AccessKey
	newID, newSecret := aws.ToString(nk.AccessKeyId), aws.ToString(nk.SecretAccessKey)
	if !accessKeyRe.MatchString(newID) || len(newID) != 20 || len(newSecret) != 40 || nk.Status != types.StatusTypeActive ||
		aws.ToString(nk.UserName) != "alice" || nk.CreateDate == nil || !nk.CreateDate.Equal(h.clock.Now().Truncate(time.Second)) {
		t.Fatalf("created %+v", nk)
	}
	id, err := h.client(newID, newSecret, "").GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil || aws.ToString(id.Arn) != "arn:aws:iam::111111111111:user/alice" {
		t.Fatalf("new key GetCallerIdentity: %v, %v", id, err)
	}
	_, err = mfa.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{})
	wantAPIError(t, err, "LimitExceeded", 409, "Cannot exceed quota for AccessKeysPerUser: 2")

	// Deactivate the old key: it stops authenticating, the new one works.
	if _, err := mfa.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{AccessKeyId: aws.String(aliceKey), Status: types.StatusTypeInactive}); err != nil {
		t.Fatal(err)
	}
	_, err = h.alice().GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	wantAPIError(t, err, "InvalidClientTokenId", 403, msgInvalidToken)
	if got := keyList(t, mfa, "alice", "alice"); len(got) != 2 || got[aliceKey] != types.StatusTypeInactive || got[newID] != types.StatusTypeActive {
		t.Fatalf("list after deactivate = %v", got)
	}
	// An inactive key still counts against the limit.
	_, err = mfa.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{})
	wantAPIError(t, err, "LimitExceeded", 409, "")
	if _, err := mfa.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{AccessKeyId: aws.String(aliceKey), Status: types.StatusTypeActive}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.alice().GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); err != nil {
		t.Fatalf("reactivated key: %v", err)
	}
	if _, err := mfa.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{AccessKeyId: aws.String(aliceKey), Status: types.StatusTypeInactive}); err != nil {
		t.Fatal(err)
	}
	if _, err := mfa.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{AccessKeyId: aws.String(aliceKey)}); err != nil {
		t.Fatal(err)
	}
	_, err = h.alice().GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	wantAPIError(t, err, "InvalidClientTokenId", 403, msgInvalidToken)
	_, err = mfa.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{AccessKeyId: aws.String(aliceKey)})
	wantAPIError(t, err, "NoSuchEntity", 404, "The Access Key with id "+aliceKey+" cannot be found")
	_, err = mfa.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{AccessKeyId: aws.String(aliceKey), Status: types.StatusTypeActive})
	wantAPIError(t, err, "NoSuchEntity", 404, "")
	if got := keyList(t, mfa, "", "alice"); len(got) != 1 || got[newID] != types.StatusTypeActive {
		t.Fatalf("final list = %v", got)
	}
	// The new key, long-term, lists without MFA (the policy allows it).
	if got := keyList(t, h.iam(newID, newSecret, ""), "", "alice"); len(got) != 1 {
		t.Fatalf("list with the new key = %v", got)
	}
}

func TestIAMAccessKeyErrors(t *testing.T) {
	h := newHarness(t, "iam_access_keys.json")
	mfa := h.iam(h.mfaSession(t))
	carol := h.iam(carolKey, carolSecret, "")

	_, err := mfa.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{AccessKeyId: aws.String(aliceKey), Status: "Disabled"})
	wantAPIError(t, err, "ValidationError", 400, "1 validation error detected: Value 'Disabled' at 'status' failed to satisfy constraint: Member must satisfy enum value set: [Active, Inactive, Expired]")
	_, err = mfa.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{AccessKeyId: aws.String("short")})
	wantAPIError(t, err, "ValidationError", 400, "")
	// Another user's key is not found through alice's name, and carol may
	// not manage alice's keys.
	_, err = mfa.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{AccessKeyId: aws.String(carolKey)})
	wantAPIError(t, err, "NoSuchEntity", 404, "The Access Key with id "+carolKey+" cannot be found")
	_, err = carol.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String("alice"), AccessKeyId: aws.String(aliceKey)})
	wantAPIError(t, err, "AccessDenied", 403, "User: arn:aws:iam::111111111111:user/carol is not authorized to perform: iam:DeleteAccessKey on resource: arn:aws:iam::111111111111:user/alice")
	_, err = carol.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String("alice")})
	wantAPIError(t, err, "AccessDenied", 403, "")
	_, err = mfa.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("nobody")})
	wantAPIError(t, err, "NoSuchEntity", 404, "The user with name nobody cannot be found.")
	if got := keyList(t, carol, "", "carol"); len(got) != 1 {
		t.Fatalf("carol's keys = %v", got)
	}
}

func TestIAMAccessKeyLastUsedAndPaging(t *testing.T) {
	h := newHarness(t, "iam_access_keys.json")
	akid, secret, token := h.mfaSession(t) // a request signed with aliceKey, at start
	used := start.Truncate(time.Second)
	mfa := h.iam(akid, secret, token)
	out, err := mfa.GetAccessKeyLastUsed(ctx, &iam.GetAccessKeyLastUsedInput{AccessKeyId: aws.String(aliceKey)})
	if err != nil {
		t.Fatal(err)
	}
	lu := out.AccessKeyLastUsed
	if aws.ToString(out.UserName) != "alice" || aws.ToString(lu.ServiceName) != "sts" || aws.ToString(lu.Region) != "us-east-1" || lu.LastUsedDate == nil || !lu.LastUsedDate.Equal(used) {
		t.Fatalf("last used = %+v %+v", out, lu)
	}
	created, err := mfa.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	out, err = mfa.GetAccessKeyLastUsed(ctx, &iam.GetAccessKeyLastUsedInput{AccessKeyId: created.AccessKey.AccessKeyId})
	if err != nil || aws.ToString(out.AccessKeyLastUsed.ServiceName) != "N/A" || aws.ToString(out.AccessKeyLastUsed.Region) != "N/A" || out.AccessKeyLastUsed.LastUsedDate != nil {
		t.Fatalf("never used = %+v, %v", out, err)
	}
	_, err = mfa.GetAccessKeyLastUsed(ctx, &iam.GetAccessKeyLastUsedInput{AccessKeyId: aws.String("AKIANOSUCHKEY0000001")})
	wantAPIError(t, err, "NoSuchEntity", 404, "")
	// Paging.
	p1, err := mfa.ListAccessKeys(ctx, &iam.ListAccessKeysInput{MaxItems: aws.Int32(1)})
	if err != nil || len(p1.AccessKeyMetadata) != 1 || !p1.IsTruncated || p1.Marker == nil {
		t.Fatalf("page 1 = %+v, %v", p1, err)
	}
	p2, err := mfa.ListAccessKeys(ctx, &iam.ListAccessKeysInput{MaxItems: aws.Int32(1), Marker: p1.Marker})
	if err != nil || len(p2.AccessKeyMetadata) != 1 || p2.IsTruncated ||
		aws.ToString(p2.AccessKeyMetadata[0].AccessKeyId) == aws.ToString(p1.AccessKeyMetadata[0].AccessKeyId) {
		t.Fatalf("page 2 = %+v, %v", p2, err)
	}
}

// Session credentials issued before the key was deleted keep working
// until they expire; the key itself does not.
func TestIAMDeletedKeySessionsSurvive(t *testing.T) {
	h := newHarness(t, "iam_access_keys.json")
	akid, secret, token := h.mfaSession(t)
	mfa := h.iam(akid, secret, token)
	if _, err := mfa.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{AccessKeyId: aws.String(aliceKey)}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.client(akid, secret, token).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); err != nil {
		t.Fatalf("session after key deletion: %v", err)
	}
	_, err := h.alice().GetSessionToken(ctx, &sts.GetSessionTokenInput{})
	wantAPIError(t, err, "InvalidClientTokenId", 403, msgInvalidToken)
	if ok, err := h.srv.Authorize(aliceKey, "sts:GetCallerIdentity", "*"); ok || err == nil {
		t.Fatalf("Authorize with a deleted key: %v, %v", ok, err)
	}
}
