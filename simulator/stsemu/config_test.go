package stsemu

import (
	"errors"
	"os"
	"strings"
	"testing"
)

func TestParseConfigExample(t *testing.T) {
	cfg, err := LoadConfig("testdata/example.json")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Region != "us-east-1" || len(cfg.Accounts) != 2 {
		t.Fatalf("cfg = %+v", cfg)
	}
	u := cfg.Accounts[0].Users[0]
	if u.Name != "alice" || u.AccessKeys[0].ID != aliceKey || u.MFADevices[0].Serial != aliceSerial || u.MFADevices[0].Period != 30 {
		t.Errorf("user = %+v", u)
	}
	r := cfg.Accounts[1].Roles[0]
	if r.Name != "PrivilegedActionsRole" || r.MaxSessionDuration != 43200 || len(r.TrustPolicy.Statements) != 1 {
		t.Errorf("role = %+v", r)
	}
	c := r.TrustPolicy.Statements[0].Conditions
	if len(c) != 1 || c[0].Operator != "Bool" || c[0].Key != "aws:MultiFactorAuthPresent" || c[0].Values[0] != "true" {
		t.Errorf("conditions = %+v", c)
	}
}

// base is a minimal valid config; cases patch it.
const base = `{"accounts": [{"id": "111111111111",
 "users": [{"name": "u", "access_keys": [{"id": "AKIAUUUUUUUUUUUUUUUU", "secret": "0123456789abcdef0123"}],
   "mfa_devices": [{"serial": "arn:aws:iam::111111111111:mfa/u", "secret_base32": "JBSWY3DPEHPK3PXP"}],
   "policies": [POLICY]}],
 "roles": [{"name": "r", "trust_policy": TRUST}]}]}`

const (
	okPolicy = `{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}]}`
	okTrust  = `{"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Principal": {"AWS": "111111111111"}, "Action": "sts:AssumeRole"}}`
)

func cfgWith(policy, trust string) string {
	return strings.NewReplacer("POLICY", policy, "TRUST", trust).Replace(base)
}

func TestParseConfigErrors(t *testing.T) {
	tests := []struct {
		name, in string
		want     string // substring of the error; "" = must parse
	}{
		{"ok", cfgWith(okPolicy, okTrust), ""},
		{"policy as JSON string", cfgWith(`"{\"Statement\": {\"Effect\": \"Allow\", \"Action\": \"*\", \"Resource\": \"*\"}}"`, okTrust), ""},
		{"trailing commas", cfgWith(`{"Statement": [{"Effect": "Allow", "Action": ["a:b", "c:d",], "Resource": "*",},],}`, okTrust), ""},
		{"comma inside string kept", cfgWith(`{"Statement": [{"Sid": ",]", "Effect": "Allow", "Action": "a:b", "Resource": "*"}]}`, okTrust), ""},
		{"boolean condition value", cfgWith(okPolicy, `{"Statement": {"Effect": "Allow", "Principal": "*", "Action": "sts:AssumeRole", "Condition": {"Bool": {"aws:MultiFactorAuthPresent": true}}}}`), ""},
		{"numeric condition value", cfgWith(okPolicy, `{"Statement": {"Effect": "Allow", "Principal": {"AWS": ["arn:aws:iam::111111111111:root"]}, "Action": "sts:AssumeRole", "Condition": {"NumericLessThanIfExists": {"aws:MultiFactorAuthAge": 3600}}}}`), ""},
		{"syntax error position", "{\"accounts\": [\n  {\"id\": \"111111111111\" \"users\": []}]}", "line 2, column 25"},
		{"type error position", "{\"accounts\": [{\"id\": \"111111111111\",\n \"roles\": [{\"name\": \"r\", \"max_session_duration\": \"long\"}]}]}", "line 2, column"},
		{"unknown field position", strings.Replace(cfgWith(okPolicy, okTrust), `"secret_base32"`, `"secret_base_32"`, 1), `line 3, column 66: unknown field "secret_base_32"`},
		{"trailing data", cfgWith(okPolicy, okTrust) + `{}`, "trailing data"},
		{"no accounts", `{"accounts": []}`, "at least one account"},
		{"bad account id", `{"accounts": [{"id": "1234"}]}`, `accounts[0]: id "1234" must be 12 digits`},
		{"bad region", `{"region": "mars", "accounts": [{"id": "111111111111"}]}`, `region "mars"`},
		{"bad key id", strings.Replace(cfgWith(okPolicy, okTrust), "AKIAUUUUUUUUUUUUUUUU", "ASIAUUUUUUUUUUUUUUUU", 1), "user u: access_keys[0]"},
		{"bad base32", strings.Replace(cfgWith(okPolicy, okTrust), "JBSWY3DPEHPK3PXP", "not-base32!", 1), "user u: mfa_devices[0]: secret_base32"},
		{"8 digits", strings.Replace(cfgWith(okPolicy, okTrust), `"secret_base32"`, `"digits": 8, "secret_base32"`, 1), "only 6-digit"},
		{"unknown operator", cfgWith(okPolicy, `{"Statement": {"Effect": "Allow", "Principal": "*", "Action": "sts:AssumeRole", "Condition": {"StringEquals": {"aws:MultiFactorAuthPresent": "true"}}}}`),
			`role r: trust_policy: invalid policy document: statement 1: Condition: unsupported condition operator "StringEquals"`},
		{"unknown key", cfgWith(`{"Statement": {"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {"Bool": {"aws:SecureTransport": "true"}}}}`, okTrust),
			`user u: policies[0]: invalid policy document: statement 1: Condition: Bool: unsupported condition key "aws:SecureTransport"`},
		{"bool value", cfgWith(okPolicy, `{"Statement": {"Effect": "Allow", "Principal": "*", "Action": "sts:AssumeRole", "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "yes"}}}}`), `value "yes" is not true or false`},
		{"numeric value", cfgWith(okPolicy, `{"Statement": {"Effect": "Allow", "Principal": "*", "Action": "sts:AssumeRole", "Condition": {"NumericLessThan": {"aws:MultiFactorAuthAge": "soon"}}}}`), `value "soon" is not a number`},
		{"principal in identity policy", cfgWith(`{"Statement": {"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}}`, okTrust), "prohibited field Principal"},
		{"no resource in identity policy", cfgWith(`{"Statement": {"Effect": "Allow", "Action": "*"}}`, okTrust), "needs Resource or NotResource"},
		{"no principal in trust", cfgWith(okPolicy, `{"Statement": {"Effect": "Allow", "Action": "sts:AssumeRole"}}`), "needs a Principal"},
		{"resource in trust", cfgWith(okPolicy, `{"Statement": {"Effect": "Allow", "Principal": "*", "Action": "sts:AssumeRole", "Resource": "*"}}`), "prohibited field Resource"},
		{"NotPrincipal", cfgWith(okPolicy, `{"Statement": {"Effect": "Allow", "NotPrincipal": {"AWS": "111111111111"}, "Principal": "*", "Action": "sts:AssumeRole"}}`), "NotPrincipal"},
		{"bad effect", cfgWith(`{"Statement": {"Effect": "allow", "Action": "*", "Resource": "*"}}`, okTrust), `Effect: must be Allow or Deny`},
		{"duplicate element", cfgWith(`{"Statement": {"Effect": "Allow", "Effect": "Deny", "Action": "*", "Resource": "*"}}`, okTrust), `duplicate element "Effect"`},
		{"wildcard principal ARN", cfgWith(okPolicy, `{"Statement": {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111111111111:user/*"}, "Action": "sts:AssumeRole"}}`), "wildcards"},
		{"missing trust policy", strings.Replace(cfgWith(okPolicy, okTrust), `, "trust_policy": `+okTrust, "", 1), "trust_policy is required"},
		{"max session", strings.Replace(cfgWith(okPolicy, okTrust), `"name": "r",`, `"name": "r", "max_session_duration": 60,`, 1), "max_session_duration 60"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := ParseConfig([]byte(tt.in))
			if tt.want == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				if _, err := New(cfg); err != nil {
					t.Fatalf("New: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("parsed; want error containing %q", tt.want)
			}
			if !errors.Is(err, ErrConfig) {
				t.Errorf("error %v does not wrap ErrConfig", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}

func TestLoadConfigMissingFile(t *testing.T) {
	_, err := LoadConfig(t.TempDir() + "/nope.json")
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("err = %v, want ErrNotExist", err)
	}
}

func TestSeedPoliciesParse(t *testing.T) {
	// The policy documents of the three seed texts, verbatim (with the
	// trailing comma of seed 001 and placeholders as they are).
	identity := []string{
		`{"Version":"2012-10-17","Statement":[{"Action":["ec2:TerminateInstances","dynamodb:DeleteTable"],"Effect":"Allow","Resource":"*"}]}`,
		`{ "Version": "2012-10-17", "Statement": [ { "Sid": "TableActions", "Effect": "Allow", "Action": "dynamodb:*", "Resource": "arn:aws:dynamodb:*:ACCOUNT-B-ID:table/Books" }, { "Sid": "ListTable", "Effect": "Allow", "Action": "dynamodb:ListTable", "Resource": "*" } ] }`,
		`{ "Version": "2012-10-17", "Statement": [{ "Effect": "Allow", "Action": ["sts:AssumeRole"], "Resource": ["arn:aws:iam::ACCOUNT-A-ID:role/CrossAccountRole"] }] }`,
		`{ "Version": "2012-10-17", "Statement": [{ "Effect": "Allow", "Action": [ "ec2:StopInstances", "ec2:TerminateInstances" ], "Resource": ["*"], "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}} }] }`,
		`{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": [
		 "arn:aws:iam::Development-Account-ID:role/PrivilegedActionsRole",
		 "arn:aws:iam::Staging-Account-ID:role/PrivilegedActionsRole",
		 "arn:aws:iam::Production-Account-ID:role/PrivilegedActionsRole",
		]}]}`,
	}
	trust := []string{
		`{"Version": "2012-10-17","Statement": [{"Effect": "Allow","Principal": {"AWS": "111111111111"},"Action": "sts:AssumeRole","Condition": {"Bool": {"aws:MultiFactorAuthPresent": true}}}]}`,
		`{ "Version": "2012-10-17", "Statement": { "Effect": "Allow", "Principal": {"AWS": "111111111111"}, "Action": "sts:AssumeRole", "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}} } }`,
	}
	for i, p := range identity {
		if _, err := ParsePolicy(stripTrailingCommas([]byte(p)), false); err != nil {
			t.Errorf("identity %d: %v", i, err)
		}
	}
	for i, p := range trust {
		if _, err := ParsePolicy([]byte(p), true); err != nil {
			t.Errorf("trust %d: %v", i, err)
		}
	}
}
