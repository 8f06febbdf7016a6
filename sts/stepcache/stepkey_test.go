package stepcache

import (
	"encoding/json"
	"testing"
)

// reflectedKey is StepKey without its MarshalJSON: what encoding/json's
// reflection writes, which the cache file names were always derived from.
type reflectedKey StepKey

func checkStepKeyJSON(t *testing.T, k StepKey) {
	t.Helper()
	got, err := json.Marshal(k)
	if err != nil {
		t.Fatal(err)
	}
	want, err := json.Marshal(reflectedKey(k))
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Errorf("StepKey %+v:\n got %s\nwant %s", k, got, want)
	}
}

func TestStepKeyJSONAsReflection(t *testing.T) {
	for _, k := range []StepKey{
		{},
		{Action: ActionGetSessionToken, Serial: "arn:aws:iam::111111111111:mfa/alice", MFA: true, Caller: "key:AKIAALICE00000000001"},
		{Action: ActionAssumeRole, RoleARN: "arn:aws:iam::222222222222:role/R0", ExternalID: "x<y>&z", SessionName: "alice",
			Duration: 3600, Caller: "step:0a5daa65"},
		{Action: ActionAssumeRole, RoleARN: "r", Duration: -1, MFA: true, Serial: "s", Caller: "process:p:/bin/echo \"{}\"\n\t\\ \u2028 \x01 \xff é"},
	} {
		checkStepKeyJSON(t, k)
	}
	// The exact bytes, as earlier releases hashed them into cache file
	// names: a changed encoding would orphan every cache.
	k := StepKey{Action: ActionAssumeRole, RoleARN: "arn:aws:iam::222222222222:role/R0", SessionName: "alice",
		Duration: 3600, Caller: "step:x"}
	if b, _ := json.Marshal(k); string(b) != `{"action":"AssumeRole","role_arn":"arn:aws:iam::222222222222:role/R0","session_name":"alice","duration":3600,"caller":"step:x"}` {
		t.Errorf("StepKey JSON %s", b)
	}
}

func FuzzStepKeyJSON(f *testing.F) {
	f.Add("AssumeRole", "arn:aws:iam::111111111111:mfa/alice", "arn:aws:iam::222222222222:role/R0", "<ext>", "alice", int64(3600), true, "key:AKIA")
	f.Add("", "", "", "", "", int64(0), false, "\u2028\x00\xff")
	f.Fuzz(func(t *testing.T, action, serial, role, ext, session string, dur int64, mfa bool, caller string) {
		checkStepKeyJSON(t, StepKey{Action: Action(action), Serial: serial, RoleARN: role, ExternalID: ext,
			SessionName: session, Duration: dur, MFA: mfa, Caller: caller})
	})
}
