package sts

import (
	"errors"
	"strings"
	"testing"

	"github.com/mfabridge/mfabridge/sts/awsconfig"
)

func TestPlan(t *testing.T) {
	cfg := mustConfig(t, testConfig+`
[profile chained]
role_arn = arn:aws:iam::333333333333:role/chained
source_profile = r1
[profile chainedlong]
role_arn = arn:aws:iam::333333333333:role/chained
source_profile = r1
duration_seconds = 7200
[profile viatoken]
role_arn = arn:aws:iam::333333333333:role/t
source_profile = stsbase
mfa_serial = arn:aws:iam::123456789012:mfa/alice
[profile stsbase]
aws_access_key_id = ASIAEXAMPLE000000001
aws_secret_access_key = s
aws_session_token = tok
`, testCredentials, nil)
	tests := []struct {
		profile string
		steps   string // Action[+MFA][+shared] per step
		touches int
		text    []string
		err     error
	}{
		{"base", "GetSessionToken+MFA+shared", 1, []string{"GetSessionToken duration 12h", "shared by every profile"}, nil},
		{"r1", "GetSessionToken+MFA+shared AssumeRole", 1, []string{"AssumeRole arn:aws:iam::210987654321:role/r1 duration 1h with the MFA session's credentials, no code", "0 for refreshes"}, nil},
		{"long", "AssumeRole+MFA", 1, []string{"duration 2h with MFA code", "1 per refresh"}, nil},
		{"aged", "GetSessionToken+MFA+shared AssumeRole", 1, []string{"older than 30m", "lasts (30m, mfabridge_mfa_max_age)"}, nil},
		{"chained", "GetSessionToken+MFA+shared AssumeRole AssumeRole", 1, []string{"previous step's credentials"}, nil},
		{"chainedlong", "", 0, nil, ErrChainTooLong},
		{"viatoken", "AssumeRole+MFA", 1, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.profile, func(t *testing.T) {
			pl, err := MakePlan(mustResolve(t, cfg, tt.profile))
			if !errors.Is(err, tt.err) {
				t.Fatalf("got %v, want %v", err, tt.err)
			}
			if err != nil {
				return
			}
			var steps []string
			for _, s := range pl.Steps {
				x := string(s.Action)
				if s.MFA {
					x += "+MFA"
				}
				if s.Shared {
					x += "+shared"
				}
				steps = append(steps, x)
			}
			if got := strings.Join(steps, " "); got != tt.steps {
				t.Errorf("steps %q, want %q", got, tt.steps)
			}
			if pl.Touches() != tt.touches {
				t.Errorf("touches %d, want %d", pl.Touches(), tt.touches)
			}
			s := pl.String()
			for _, want := range tt.text {
				if !strings.Contains(s, want) {
					t.Errorf("plan text lacks %q:\n%s", want, s)
				}
			}
		})
	}
}

// TestPlanCredentialSourceEnvironment: a role whose source is
// credential_source = Environment plans an MFA session from the
// environment's keys, then the role (issue 13 case 13).
func TestPlanCredentialSourceEnvironment(t *testing.T) {
	const serial = "arn:aws:iam::210987654321:mfa/alice"
	env := map[string]string{"AWS_ACCESS_KEY_ID": "AKIAENV0000000000001", "AWS_SECRET_ACCESS_KEY": "env-secret"}
	cfg, err := awsconfig.ParseProfiles([]byte("[profile a]\nrole_arn = arn:aws:iam::210987654321:role/a\ncredential_source = Environment\nmfa_serial = "+serial+"\n"), nil,
		func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	p, err := cfg.Resolve("a")
	if err != nil {
		t.Fatal(err)
	}
	pl, err := MakePlan(p)
	if err != nil || !strings.Contains(pl.Source, "environment") || len(pl.Steps) != 2 || pl.Steps[0].Action != ActionGetSessionToken {
		t.Errorf("plan %+v, %v", pl, err)
	}
}
