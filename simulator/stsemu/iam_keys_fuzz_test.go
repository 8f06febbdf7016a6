package stsemu

import (
	"net/url"
	"testing"
)

// The access-key actions take any parameters without panicking, answer
// either a result or a 4xx error, and keep the two-keys-per-user limit and
// the key table consistent whatever is sent.
func FuzzIAMAccessKeyActions(f *testing.F) {
	f.Add("CreateAccessKey", "alice", "", "", "")
	f.Add("UpdateAccessKey", "", aliceKey, "Inactive", "")
	f.Add("UpdateAccessKey", "alice", aliceKey, "Expired", "")
	f.Add("DeleteAccessKey", "carol", carolKey, "", "")
	f.Add("ListAccessKeys", "", "", "", "0")
	f.Add("ListAccessKeys", "alice", "", "", "1")
	f.Add("GetAccessKeyLastUsed", "", "AKIA\x00", "", "")
	cfg, err := LoadConfig("testdata/iam_access_keys.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, action, user, keyID, status, maxItems string) {
		s, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		alice := s.users[0]
		sess := &session{Kind: kindUserSession, User: alice, MFA: true}
		c := &caller{Kind: kindUserSession, User: alice, Sess: sess}
		for i := 0; i < 3; i++ { // repeated: the limit must hold
			q := &apiRequest{Params: url.Values{"Action": {action}, "Version": {iamVersion}}, Auth: &sigV4Auth{Service: "iam"}}
			for k, v := range map[string]string{"UserName": user, "AccessKeyId": keyID, "Status": status, "MaxItems": maxItems} {
				if v != "" {
					q.Params.Set(k, v)
				}
			}
			resp, aerr := s.dispatchIAM(q, c, &reqState{})
			if aerr != nil {
				if aerr.Status < 400 || aerr.Status >= 500 || aerr.Code == "" {
					t.Fatalf("%s: answer %+v", action, aerr)
				}
				continue
			}
			if resp == nil {
				t.Fatalf("%s: no answer and no error", action)
			}
		}
		per := map[*userRec]int{}
		for id, k := range s.akeys {
			if k.ID != id || k.User == nil {
				t.Fatalf("key table entry %s inconsistent", id)
			}
			per[k.User]++
		}
		for u, n := range per {
			if n > maxAccessKeysPerUser && u.Name != "" {
				t.Fatalf("%s has %d keys", u.Name, n)
			}
		}
	})
}
