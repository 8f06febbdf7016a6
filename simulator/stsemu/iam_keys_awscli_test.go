package stsemu

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"
)

// The AWS CLI v2 rotates an access key against the emulator, as a person
// would by hand: MFA session, create-access-key, the new key works,
// update-access-key Inactive makes the old one fail, delete-access-key,
// list-access-keys shows one key.
func TestAWSCLIv2AccessKeys(t *testing.T) {
	if _, err := os.Stat(awsCLI); err != nil {
		t.Skip("AWS CLI v2 not installed at " + awsCLI)
	}
	if testing.Short() {
		t.Skip("skipping AWS CLI runs in -short mode")
	}
	h := newHarness(t, "iam_access_keys.json", WithClock(time.Now))
	alice := []string{"AWS_ACCESS_KEY_ID=" + aliceKey, "AWS_SECRET_ACCESS_KEY=" + aliceSecret}
	code, err := totp.GenerateCode(aliceTOTP, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	r := runAWS(t, h, alice, "sts", "get-session-token", "--serial-number", aliceSerial, "--token-code", code)
	if r.exit != 0 {
		t.Fatalf("get-session-token: %+v", r)
	}
	var sess cliCreds
	if err := json.Unmarshal([]byte(r.stdout), &sess); err != nil {
		t.Fatal(err)
	}
	mfa := sess.env()

	r = runAWS(t, h, alice, "iam", "create-access-key")
	if r.exit == 0 || !strings.Contains(r.stderr, "AccessDenied") {
		t.Fatalf("create without MFA: %+v", r)
	}
	r = runAWS(t, h, mfa, "iam", "create-access-key", "--user-name", "alice")
	if r.exit != 0 {
		t.Fatalf("create-access-key: %+v", r)
	}
	var created struct {
		AccessKey struct {
			UserName, AccessKeyId, Status, SecretAccessKey, CreateDate string
		}
	}
	if err := json.Unmarshal([]byte(r.stdout), &created); err != nil {
		t.Fatal(err)
	}
	nk := created.AccessKey
	if nk.UserName != "alice" || nk.Status != "Active" || !accessKeyRe.MatchString(nk.AccessKeyId) || len(nk.SecretAccessKey) != 40 || nk.CreateDate == "" {
		t.Fatalf("created: %+v", nk)
	}
	newKey := []string{"AWS_ACCESS_KEY_ID=" + nk.AccessKeyId, "AWS_SECRET_ACCESS_KEY=" + nk.SecretAccessKey}
	if r := runAWS(t, h, newKey, "sts", "get-caller-identity"); r.exit != 0 || !strings.Contains(r.stdout, "user/alice") {
		t.Fatalf("new key: %+v", r)
	}
	if r := runAWS(t, h, mfa, "iam", "create-access-key"); r.exit == 0 || !strings.Contains(r.stderr, "LimitExceeded") {
		t.Fatalf("third key: %+v", r)
	}
	if r := runAWS(t, h, mfa, "iam", "update-access-key", "--access-key-id", aliceKey, "--status", "Inactive"); r.exit != 0 {
		t.Fatalf("update-access-key: %+v", r)
	}
	if r := runAWS(t, h, alice, "sts", "get-caller-identity"); r.exit == 0 || !strings.Contains(r.stderr, "InvalidClientTokenId") {
		t.Fatalf("inactive key: %+v", r)
	}
	if r := runAWS(t, h, mfa, "iam", "delete-access-key", "--access-key-id", aliceKey); r.exit != 0 {
		t.Fatalf("delete-access-key: %+v", r)
	}
	r = runAWS(t, h, newKey, "iam", "list-access-keys")
	var list struct {
		AccessKeyMetadata []struct{ AccessKeyId, Status string }
	}
	if r.exit != 0 || json.Unmarshal([]byte(r.stdout), &list) != nil || len(list.AccessKeyMetadata) != 1 || list.AccessKeyMetadata[0].AccessKeyId != nk.AccessKeyId {
		t.Fatalf("list-access-keys: %+v", r)
	}
	r = runAWS(t, h, newKey, "iam", "get-access-key-last-used", "--access-key-id", nk.AccessKeyId)
	if r.exit != 0 || !strings.Contains(r.stdout, `"ServiceName": "iam"`) {
		t.Fatalf("get-access-key-last-used: %+v", r)
	}
}
