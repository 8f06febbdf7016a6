package stsemu

import (
	"testing"
)

func TestWildcardMatch(t *testing.T) {
	tests := []struct {
		p, s string
		want bool
	}{
		{"*", "", true},
		{"*", "anything", true},
		{"sts:*", "sts:assumerole", true},
		{"sts:*", "iam:x", false},
		{"arn:aws:iam::222222222222:role/*", "arn:aws:iam::222222222222:role/PrivilegedActionsRole", true},
		{"arn:aws:iam::222222222222:role/*", "arn:aws:iam::333333333333:role/R", false},
		{"a?c", "abc", true},
		{"a?c", "ac", false},
		{"*a*b*c*", "xxaxxbxxcxx", true},
		{"*a*b*c*", "xxaxxcxxbxx", false},
		{"abc", "abcd", false},
		{"abc*", "abc", true},
		{"", "", true},
		{"", "x", false},
		// A '*' in the string is matched by the pattern's star, not
		// consumed as a literal (fuzz seed FuzzPolicy/ab7bc5818ba5ba5b).
		{"*", "*0", true},
		{"a*", "a*b", true},
		{"*b", "**b", true},
		{"*", "*", true},
		{"a*c", "a*", false},
	}
	for _, tt := range tests {
		if got := wildcardMatch(tt.p, tt.s); got != tt.want {
			t.Errorf("wildcardMatch(%q, %q) = %v, want %v", tt.p, tt.s, got, tt.want)
		}
	}
}

// TestMFAConditionMatrix is the table of aws-sts.md §6: which statements
// apply to long-term keys, a non-MFA session and an MFA session.
func TestMFAConditionMatrix(t *testing.T) {
	longTerm := map[string]string{}
	noMFA := map[string]string{keyMFAPresent: "false"}
	withMFA := map[string]string{keyMFAPresent: "true", keyMFAAge: "10"}
	stmt := func(effect, op, val string) *Policy {
		p, err := ParsePolicy([]byte(`{"Statement": {"Effect": "`+effect+`", "Action": "ec2:*", "Resource": "*",
			"Condition": {"`+op+`": {"aws:MultiFactorAuthPresent": "`+val+`"}}}}`), false)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name                   string
		p                      *Policy
		longTerm, noMFA, wmMFA bool // whether the statement applies
	}{
		{"Allow Bool true", stmt("Allow", "Bool", "true"), false, false, true},
		{"Allow BoolIfExists true", stmt("Allow", "BoolIfExists", "true"), true, false, true},
		{"Deny Bool false", stmt("Deny", "Bool", "false"), false, true, false},
		{"Deny BoolIfExists false", stmt("Deny", "BoolIfExists", "false"), true, true, false},
	}
	for _, tt := range tests {
		for _, c := range []struct {
			name  string
			ctx   map[string]string
			apply bool
		}{{"long-term", longTerm, tt.longTerm}, {"no MFA", noMFA, tt.noMFA}, {"MFA", withMFA, tt.wmMFA}} {
			want := implicitDeny
			if c.apply {
				want = allow
				if tt.p.Statements[0].Effect == "Deny" {
					want = explicitDeny
				}
			}
			got := evaluate([]*Policy{tt.p}, evalRequest{Action: "ec2:TerminateInstances", Resource: "*", Context: c.ctx})
			if got != want {
				t.Errorf("%s / %s: %v, want %v", tt.name, c.name, got, want)
			}
		}
	}
}

func TestEvaluate(t *testing.T) {
	must := func(s string, trust bool) *Policy {
		p, err := ParsePolicy([]byte(s), trust)
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		return p
	}
	allowAll := must(`{"Statement": {"Effect": "Allow", "Action": "*", "Resource": "*"}}`, false)
	denyIAM := must(`{"Statement": {"Effect": "Deny", "Action": "iam:*", "Resource": "*"}}`, false)
	notAction := must(`{"Statement": {"Effect": "Allow", "NotAction": ["iam:*", "sts:*"], "Resource": "*"}}`, false)
	notResource := must(`{"Statement": {"Effect": "Allow", "Action": "s3:*", "NotResource": "arn:aws:s3:::secret/*"}}`, false)
	ageLT := must(`{"Statement": {"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {"NumericLessThan": {"aws:MultiFactorAuthAge": "3600"}}}}`, false)
	ageLTIf := must(`{"Statement": {"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {"NumericLessThanIfExists": {"aws:MultiFactorAuthAge": "3600"}}}}`, false)
	ageNE := must(`{"Statement": {"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {"NumericNotEquals": {"aws:MultiFactorAuthAge": ["1", "2"]}}}}`, false)
	ageGE := must(`{"Statement": {"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {"NumericGreaterThanEquals": {"aws:MultiFactorAuthAge": "60"}, "Bool": {"aws:MultiFactorAuthPresent": "true"}}}}`, false)
	nullAge := must(`{"Statement": {"Effect": "Deny", "Action": "*", "Resource": "*", "Condition": {"Null": {"aws:MultiFactorAuthAge": "true"}}}}`, false)
	trustAcct := must(`{"Statement": {"Effect": "Allow", "Principal": {"AWS": "111111111111"}, "Action": "sts:AssumeRole"}}`, true)
	trustRoot := must(`{"Statement": {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111111111111:root"}, "Action": "sts:AssumeRole"}}`, true)
	trustUser := must(`{"Statement": {"Effect": "Allow", "Principal": {"AWS": ["arn:aws:iam::111111111111:user/alice"]}, "Action": "sts:AssumeRole"}}`, true)
	trustStar := must(`{"Statement": {"Effect": "Allow", "Principal": "*", "Action": "sts:AssumeRole"}}`, true)
	trustService := must(`{"Statement": {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}}`, true)

	alice := &principalInfo{Account: "111111111111", Entity: "arn:aws:iam::111111111111:user/alice"}
	bob := &principalInfo{Account: "111111111111", Entity: "arn:aws:iam::111111111111:user/bob"}
	other := &principalInfo{Account: "999999999999", Entity: "arn:aws:iam::999999999999:user/alice"}
	age := func(a string) map[string]string { return map[string]string{keyMFAPresent: "true", keyMFAAge: a} }

	tests := []struct {
		name     string
		policies []*Policy
		req      evalRequest
		want     decision
	}{
		{"no policies", nil, evalRequest{Action: "s3:GetObject", Resource: "*"}, implicitDeny},
		{"allow all", []*Policy{allowAll}, evalRequest{Action: "s3:GetObject", Resource: "x"}, allow},
		{"deny wins", []*Policy{allowAll, denyIAM}, evalRequest{Action: "iam:CreateUser", Resource: "*"}, explicitDeny},
		{"deny other action", []*Policy{allowAll, denyIAM}, evalRequest{Action: "ec2:RunInstances", Resource: "*"}, allow},
		{"NotAction excluded", []*Policy{notAction}, evalRequest{Action: "sts:AssumeRole", Resource: "*"}, implicitDeny},
		{"NotAction other", []*Policy{notAction}, evalRequest{Action: "ec2:RunInstances", Resource: "*"}, allow},
		{"NotResource excluded", []*Policy{notResource}, evalRequest{Action: "s3:GetObject", Resource: "arn:aws:s3:::secret/k"}, implicitDeny},
		{"NotResource other", []*Policy{notResource}, evalRequest{Action: "s3:GetObject", Resource: "arn:aws:s3:::open/k"}, allow},
		{"age 10 < 3600", []*Policy{ageLT}, evalRequest{Action: "a:b", Resource: "*", Context: age("10")}, allow},
		{"age 3600 not < 3600", []*Policy{ageLT}, evalRequest{Action: "a:b", Resource: "*", Context: age("3600")}, implicitDeny},
		{"age absent", []*Policy{ageLT}, evalRequest{Action: "a:b", Resource: "*"}, implicitDeny},
		{"age absent IfExists", []*Policy{ageLTIf}, evalRequest{Action: "a:b", Resource: "*"}, allow},
		{"age 7200 IfExists", []*Policy{ageLTIf}, evalRequest{Action: "a:b", Resource: "*", Context: age("7200")}, implicitDeny},
		{"NotEquals both", []*Policy{ageNE}, evalRequest{Action: "a:b", Resource: "*", Context: age("2")}, implicitDeny},
		{"NotEquals neither", []*Policy{ageNE}, evalRequest{Action: "a:b", Resource: "*", Context: age("3")}, allow},
		{"two operators AND, both hold", []*Policy{ageGE}, evalRequest{Action: "a:b", Resource: "*", Context: age("60")}, allow},
		{"two operators AND, one fails", []*Policy{ageGE}, evalRequest{Action: "a:b", Resource: "*", Context: age("59")}, implicitDeny},
		{"Null true, key absent: deny applies", []*Policy{allowAll, nullAge}, evalRequest{Action: "a:b", Resource: "*"}, explicitDeny},
		{"Null true, key present: deny skipped", []*Policy{allowAll, nullAge}, evalRequest{Action: "a:b", Resource: "*", Context: age("5")}, allow},
		{"trust account", []*Policy{trustAcct}, evalRequest{Action: "sts:AssumeRole", Principal: bob}, allow},
		{"trust account other", []*Policy{trustAcct}, evalRequest{Action: "sts:AssumeRole", Principal: other}, implicitDeny},
		{"trust root", []*Policy{trustRoot}, evalRequest{Action: "sts:AssumeRole", Principal: alice}, allow},
		{"trust user", []*Policy{trustUser}, evalRequest{Action: "sts:AssumeRole", Principal: alice}, allow},
		{"trust user other", []*Policy{trustUser}, evalRequest{Action: "sts:AssumeRole", Principal: bob}, implicitDeny},
		{"trust user other account", []*Policy{trustUser}, evalRequest{Action: "sts:AssumeRole", Principal: other}, implicitDeny},
		{"trust star", []*Policy{trustStar}, evalRequest{Action: "sts:AssumeRole", Principal: other}, allow},
		{"trust wrong action", []*Policy{trustStar}, evalRequest{Action: "sts:TagSession", Principal: other}, implicitDeny},
		{"trust service never matches", []*Policy{trustService}, evalRequest{Action: "sts:AssumeRole", Principal: alice}, implicitDeny},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := evaluate(tt.policies, tt.req); got != tt.want {
				t.Errorf("evaluate = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestEvaluateUncheckedFailsClosed: a policy that skipped Config.validate
// and ParsePolicy is never trusted, even if it would allow.
func TestEvaluateUncheckedFailsClosed(t *testing.T) {
	p := &Policy{Statements: []Statement{{Effect: "Allow", Actions: []string{"*"}, HasResource: true, Resources: []string{"*"}}}}
	if got := evaluate([]*Policy{p}, evalRequest{Action: "s3:GetObject", Resource: "*"}); got != explicitDeny {
		t.Fatalf("unchecked policy: %v, want %v", got, explicitDeny)
	}
	if p.parsed {
		t.Fatal("evaluate marked the policy checked")
	}
}

func TestTOTPVectors(t *testing.T) {
	// RFC 6238 Appendix B, SHA-1, 8 digits; the last 6 digits equal the
	// 6-digit code.
	key := []byte("12345678901234567890")
	tests := []struct {
		unix int64
		code string
	}{
		{59, "94287082"},
		{1111111109, "07081804"},
		{1111111111, "14050471"},
		{1234567890, "89005924"},
		{2000000000, "69279037"},
		{20000000000, "65353130"},
	}
	for _, tt := range tests {
		if got := totpAt(key, tt.unix/30, 8); got != tt.code {
			t.Errorf("T=%d: %s, want %s", tt.unix, got, tt.code)
		}
		if got := totpAt(key, tt.unix/30, 6); got != tt.code[2:] {
			t.Errorf("T=%d 6 digits: %s, want %s", tt.unix, got, tt.code[2:])
		}
	}
}
