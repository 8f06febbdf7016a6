package awsconfig

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestResolve(t *testing.T) {
	const serial = "arn:aws:iam::123456789012:mfa/alice"
	tests := []struct {
		name    string
		config  string
		creds   string
		env     map[string]string
		profile string
		check   func(t *testing.T, p *Profile)
		wantErr error
		errText string
	}{
		{
			name: "role with static source",
			config: `[profile admin]
role_arn = arn:aws:iam::210987654321:role/admin
source_profile = base
mfa_serial = ` + serial + `
duration_seconds = 1800
external_id = ext-1
role_session_name = alice@example.com
region = eu-central-1
mfabridge_device = sim:/tmp/x
mfabridge_account = AWS:alice@123456789012
mfabridge_session_duration = 3600
mfabridge_mfa_max_age = 600
`,
			creds:   "[base]\naws_access_key_id = AKIAEXAMPLE000000001\naws_secret_access_key = s3cr3t\n",
			profile: "admin",
			check: func(t *testing.T, p *Profile) {
				want := Role{Profile: "admin", ARN: "arn:aws:iam::210987654321:role/admin", ExternalID: "ext-1",
					SessionName: "alice@example.com", Duration: 30 * time.Minute}
				if len(p.Roles) != 1 || p.Roles[0] != want {
					t.Errorf("roles %+v, want [%+v]", p.Roles, want)
				}
				if p.MFASerial != serial || p.Region != "eu-central-1" || p.Device != "sim:/tmp/x" ||
					p.Account != "AWS:alice@123456789012" || p.SessionDuration != time.Hour || p.MFAMaxAge != 10*time.Minute {
					t.Errorf("profile %+v", p)
				}
				if !p.Source.LongTerm() || p.Source.Profile != "base" || p.Source.SecretAccessKey != "s3cr3t" {
					t.Errorf("source %+v", p.Source)
				}
			},
		},
		{
			name:    "defaults and AWS_PROFILE",
			config:  "[profile base]\nmfa_serial = " + serial + "\n",
			creds:   "[base]\naws_access_key_id = AKIAEXAMPLE000000001\naws_secret_access_key = s\n",
			env:     map[string]string{"AWS_PROFILE": "base"},
			profile: "",
			check: func(t *testing.T, p *Profile) {
				if p.Name != "base" || len(p.Roles) != 0 || p.Region != "us-east-1" || p.SessionDuration != 12*time.Hour || p.MFAMaxAge != 0 {
					t.Errorf("profile %+v", p)
				}
			},
		},
		{
			name:    "default profile from credentials file only",
			config:  "",
			creds:   "[default]\naws_access_key_id = AKIAEXAMPLE000000001\naws_secret_access_key = s\nmfa_serial = GAHT12345678\n",
			profile: "",
			check: func(t *testing.T, p *Profile) {
				if p.Name != "default" || p.MFASerial != "GAHT12345678" {
					t.Errorf("profile %+v", p)
				}
			},
		},
		{
			name: "chain, serial inherited from source, session name default",
			config: `[profile base]
mfa_serial = ` + serial + `
[profile jump]
role_arn = arn:aws:iam::210987654321:role/jump
source_profile = base
[profile target]
role_arn = arn:aws:iam::333333333333:role/target
source_profile = jump
region = ap-south-1
`,
			creds:   "[base]\naws_access_key_id = AKIAEXAMPLE000000001\naws_secret_access_key = s\n",
			env:     map[string]string{"AWS_REGION": "us-west-2"},
			profile: "target",
			check: func(t *testing.T, p *Profile) {
				if len(p.Roles) != 2 || p.Roles[0].Profile != "jump" || p.Roles[1].Profile != "target" {
					t.Fatalf("roles %+v", p.Roles)
				}
				if p.MFASerial != serial || p.Roles[0].SessionName != "mfabridge-alice" || p.Region != "us-west-2" {
					t.Errorf("profile %+v", p)
				}
			},
		},
		{
			name: "endpoint precedence: services section",
			config: `[profile base]
mfa_serial = ` + serial + `
aws_access_key_id = AKIAEXAMPLE000000001
aws_secret_access_key = s
services = local
endpoint_url = http://127.0.0.1:1
[services local]
sts =
  endpoint_url = http://127.0.0.1:2
s3 =
  endpoint_url = http://127.0.0.1:3
`,
			profile: "base",
			check: func(t *testing.T, p *Profile) {
				if p.Endpoint != "http://127.0.0.1:2" {
					t.Errorf("endpoint %q", p.Endpoint)
				}
			},
		},
		{
			name:    "endpoint precedence: env",
			config:  "[profile base]\nmfa_serial = " + serial + "\naws_access_key_id = AKIAEXAMPLE000000001\naws_secret_access_key = s\nendpoint_url = http://127.0.0.1:1\n",
			env:     map[string]string{"AWS_ENDPOINT_URL": "http://127.0.0.1:4", "AWS_ENDPOINT_URL_STS": "http://127.0.0.1:5"},
			profile: "base",
			check: func(t *testing.T, p *Profile) {
				if p.Endpoint != "http://127.0.0.1:5" {
					t.Errorf("endpoint %q", p.Endpoint)
				}
			},
		},
		{
			name:    "self as source",
			config:  "[profile me]\nrole_arn = arn:aws:iam::210987654321:role/me\nsource_profile = me\nmfa_serial = " + serial + "\naws_access_key_id = AKIAEXAMPLE000000001\naws_secret_access_key = s\n",
			profile: "me",
			check: func(t *testing.T, p *Profile) {
				if len(p.Roles) != 1 || p.Source.AccessKeyID != "AKIAEXAMPLE000000001" {
					t.Errorf("profile %+v", p)
				}
			},
		},
		{
			name: "credential_process on a role profile is ignored (no recursion)",
			config: `[profile prod]
role_arn = arn:aws:iam::210987654321:role/prod
source_profile = base
mfa_serial = ` + serial + `
credential_process = mfabridge credential-process --profile prod
`,
			creds:   "[base]\naws_access_key_id = AKIAEXAMPLE000000001\naws_secret_access_key = s\n",
			profile: "prod",
			check: func(t *testing.T, p *Profile) {
				if p.Source.CredentialProcess != "" || len(p.Roles) != 1 {
					t.Errorf("profile %+v", p)
				}
			},
		},
		{
			name: "session profile with source_profile served by mfabridge",
			config: `[profile dev]
credential_process = mfabridge credential-process --profile dev
source_profile = base
mfa_serial = ` + serial + `
`,
			creds:   "[base]\naws_access_key_id = AKIAEXAMPLE000000001\naws_secret_access_key = s\n",
			profile: "dev",
			check: func(t *testing.T, p *Profile) {
				if len(p.Roles) != 0 || p.Source.Profile != "base" || p.MFASerial != serial || p.Source.CredentialProcess != "" {
					t.Errorf("profile %+v", p)
				}
			},
		},
		{name: "session profile sourcing a role", config: "[profile dev]\nsource_profile = r\nmfa_serial = " + serial + "\n[profile r]\nrole_arn = arn:aws:iam::210987654321:role/r\nsource_profile = dev\n",
			profile: "dev", wantErr: ErrNoSourceCreds, errText: "is a role profile"},
		{name: "unknown with suggestion", config: "[profile admin]\n", profile: "admn",
			wantErr: ErrUnknownProfile, errText: `did you mean "admin"?`},
		{name: "unknown source", config: "[profile a]\nrole_arn = arn:aws:iam::210987654321:role/a\nsource_profile = nope\n", profile: "a",
			wantErr: ErrUnknownProfile, errText: `source_profile of "a"`},
		{name: "cycle", config: "[profile a]\nrole_arn = arn:aws:iam::210987654321:role/a\nsource_profile = b\n[profile b]\nrole_arn = arn:aws:iam::210987654321:role/b\nsource_profile = a\n",
			profile: "a", wantErr: ErrProfileCycle, errText: "a → b → a"},
		{name: "missing mfa_serial", config: "[profile a]\naws_access_key_id = AKIAEXAMPLE000000001\naws_secret_access_key = s\n",
			profile: "a", wantErr: ErrNoMFASerial, errText: "add mfa_serial"},
		{name: "missing source credentials", config: "[profile a]\nmfa_serial = " + serial + "\n",
			profile: "a", wantErr: ErrNoSourceCreds, errText: "add access keys"},
		{name: "role without source", config: "[profile a]\nrole_arn = arn:aws:iam::210987654321:role/a\n",
			profile: "a", wantErr: ErrNoSourceCreds, errText: "source_profile"},
		{name: "recursive credential_process", config: "[profile a]\nmfa_serial = " + serial + "\ncredential_process = /usr/local/bin/mfabridge credential-process --profile a\n",
			profile: "a", wantErr: ErrRecursion, errText: "not at one served by mfabridge"},
		{name: "duration too short", config: "[profile a]\nrole_arn = arn:aws:iam::210987654321:role/a\nsource_profile = b\nmfa_serial = " + serial + "\nduration_seconds = 600\n[profile b]\naws_access_key_id = AKIAEXAMPLE000000001\naws_secret_access_key = s\n",
			profile: "a", wantErr: ErrBadProfileValue, errText: "from 900 to 43200"},
		{name: "bad max age", config: "[profile a]\nmfa_serial = " + serial + "\naws_access_key_id = AKIAEXAMPLE000000001\naws_secret_access_key = s\nmfabridge_mfa_max_age = soon\n",
			profile: "a", wantErr: ErrBadProfileValue, errText: "mfabridge_mfa_max_age"},
		{name: "mfa on a chained hop", config: "[profile base]\naws_access_key_id = AKIAEXAMPLE000000001\naws_secret_access_key = s\n[profile j]\nrole_arn = arn:aws:iam::210987654321:role/j\nsource_profile = base\n[profile t]\nrole_arn = arn:aws:iam::210987654321:role/t\nsource_profile = j\nmfa_serial = " + serial + "\n",
			profile: "t", wantErr: ErrBadProfileValue, errText: `put mfa_serial on profile "j"`},
		{name: "credential_source", config: "[profile a]\nrole_arn = arn:aws:iam::210987654321:role/a\ncredential_source = Ec2InstanceMetadata\n",
			profile: "a", wantErr: ErrUnsupportedSource, errText: "use credential_source = Environment"},
		{name: "credential_source EcsContainer", config: "[profile a]\nrole_arn = arn:aws:iam::210987654321:role/a\ncredential_source = EcsContainer\n",
			profile: "a", wantErr: ErrUnsupportedSource, errText: "EcsContainer is not supported"},
		// Issue 13 case 13: credential_source = Environment, as the AWS CLI
		// and SDKs accept it: the environment's keys are the source.
		{name: "credential_source Environment", config: "[profile a]\nrole_arn = arn:aws:iam::210987654321:role/a\ncredential_source = Environment\nmfa_serial = " + serial + "\nregion = eu-west-1\n",
			env:     map[string]string{"AWS_ACCESS_KEY_ID": "AKIAENV0000000000001", "AWS_SECRET_ACCESS_KEY": "env-secret", "AWS_SESSION_TOKEN": ""},
			profile: "a",
			check: func(t *testing.T, p *Profile) {
				want := Source{Profile: "a", AccessKeyID: "AKIAENV0000000000001", SecretAccessKey: "env-secret", CredentialSource: "Environment"}
				if p.Source != want {
					t.Errorf("source %+v, want %+v", p.Source, want)
				}
				if p.MFASerial != serial || len(p.Roles) != 1 || p.Roles[0].ARN != "arn:aws:iam::210987654321:role/a" || p.Region != "eu-west-1" {
					t.Errorf("profile %+v", p)
				}
			}},
		{name: "credential_source Environment, session keys, SDK fallback names", config: "[profile a]\nrole_arn = arn:aws:iam::210987654321:role/a\ncredential_source = Environment\nmfa_serial = " + serial + "\n",
			env:     map[string]string{"AWS_ACCESS_KEY": "ASIAENV0000000000001", "AWS_SECRET_KEY": "env-secret", "AWS_SESSION_TOKEN": "tok"},
			profile: "a",
			check: func(t *testing.T, p *Profile) {
				if p.Source.AccessKeyID != "ASIAENV0000000000001" || p.Source.SessionToken != "tok" || p.Source.LongTerm() {
					t.Errorf("source %+v", p.Source)
				}
			}},
		{name: "credential_source Environment without role_arn: the MFA session's keys", config: "[profile ci]\ncredential_source = Environment\nmfa_serial = " + serial + "\n",
			env:     map[string]string{"AWS_ACCESS_KEY_ID": "AKIAENV0000000000001", "AWS_SECRET_ACCESS_KEY": "env-secret"},
			profile: "ci",
			check: func(t *testing.T, p *Profile) {
				if p.Source.AccessKeyID != "AKIAENV0000000000001" || len(p.Roles) != 0 || p.MFASerial != serial {
					t.Errorf("profile %+v", p)
				}
			}},
		{name: "credential_source Environment, nothing exported", config: "[profile a]\nrole_arn = arn:aws:iam::210987654321:role/a\ncredential_source = Environment\nmfa_serial = " + serial + "\n",
			env:     map[string]string{"AWS_ACCESS_KEY_ID": "AKIAENV0000000000001"},
			profile: "a", wantErr: ErrNoEnvironmentKeys, errText: "credential_source = Environment, but the environment holds no access key pair"},
		{name: "credential_source and source_profile", config: "[profile a]\nrole_arn = arn:aws:iam::210987654321:role/a\ncredential_source = Environment\nsource_profile = b\nmfa_serial = " + serial + "\n[profile b]\naws_access_key_id = AKIAEXAMPLE000000001\naws_secret_access_key = s\n",
			profile: "a", wantErr: ErrBadProfileValue, errText: "both source_profile = b and credential_source = Environment"},
		{name: "credential_source misspelt", config: "[profile a]\nrole_arn = arn:aws:iam::210987654321:role/a\ncredential_source = environment\n",
			profile: "a", wantErr: ErrBadProfileValue, errText: "want Environment, EcsContainer or Ec2InstanceMetadata"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustConfig(t, tt.config, tt.creds, tt.env)
			p, err := c.Resolve(tt.profile)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("got %v, want %v", err, tt.wantErr)
				}
				// The message and the hint: what a CLI shows on two lines.
				var pe *ProfileError
				if !errors.As(err, &pe) {
					t.Fatalf("got %#v, want a *ProfileError", err)
				}
				if full := err.Error() + " (" + pe.Hint + ")"; !strings.Contains(full, tt.errText) {
					t.Fatalf("error %q, hint %q do not mention %q", err, pe.Hint, tt.errText)
				}
				if pe.Hint != "" && strings.Contains(err.Error(), pe.Hint) {
					t.Fatalf("error %q holds its hint", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, p)
		})
	}
}

func TestLoadProfilesFiles(t *testing.T) {
	dir := t.TempDir()
	home := filepath.Join(dir, "home")
	if err := os.MkdirAll(filepath.Join(home, ".aws"), 0o700); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(home, ".aws", "config"), []byte("[profile home]\nmfa_serial = GAHT12345678\n"), 0o600)
	os.WriteFile(filepath.Join(home, ".aws", "credentials"), []byte("[home]\naws_access_key_id = AKIAEXAMPLE000000001\naws_secret_access_key = s\n"), 0o600)
	other := filepath.Join(dir, "other-config")
	os.WriteFile(other, []byte("[profile other]\nmfa_serial = GAHT12345678\naws_access_key_id = AKIAEXAMPLE000000002\naws_secret_access_key = s\n"), 0o600)

	c, err := LoadProfiles(testEnv{"HOME": home, "USERPROFILE": home}.get)
	if err != nil {
		t.Fatal(err)
	}
	if p, err := c.Resolve("home"); err != nil || p.Source.AccessKeyID != "AKIAEXAMPLE000000001" {
		t.Fatalf("home: %+v %v", p, err)
	}
	c, err = LoadProfiles(testEnv{"HOME": home, "AWS_CONFIG_FILE": other, "AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "missing")}.get)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(c.Names(), ","); got != "other" {
		t.Fatalf("names %q, want other", got)
	}
	os.WriteFile(other, []byte("[broken\n"), 0o600)
	if _, err := LoadProfiles(testEnv{"AWS_CONFIG_FILE": other}.get); err == nil || !strings.Contains(err.Error(), "other-config:1") {
		t.Fatalf("got %v, want a syntax error naming the line", err)
	}
}

func TestParseINI(t *testing.T) {
	f, err := parseINI("x", []byte("\ufeff# comment\n[ profile  a ]\nKey = v # note\nk2: v2\n; c\nsub =\n  x = 1\n\ty = 2\nafter = 3\n"))
	if err != nil {
		t.Fatal(err)
	}
	got := f.sections["profile a"]
	want := map[string]string{"key": "v", "k2": "v2", "sub": "", "sub.x": "1", "sub.y": "2", "after": "3"}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	for _, bad := range []string{"k = v\n", "[a\n", "[]\n", "[a]\njunk\n", "[a]\n= v\n"} {
		if _, err := parseINI("x", []byte(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestIsSelfCommand(t *testing.T) {
	for cmd, want := range map[string]bool{
		"mfabridge credential-process --profile x":            true,
		"/usr/local/bin/mfabridge credential-process":         true,
		`"/opt/my tools/mfabridge" process`:                   true,
		"env AWS_PROFILE=x mfabridge credential-process":      true,
		"aws-vault export --format=json x":                    false,
		"/usr/bin/mfabridge-helper":                           false,
		"sh -c 'get-creds --name mfabridge-user' # mfabridge": true, // conservative
	} {
		if got := IsSelfCommand(cmd); got != want {
			t.Errorf("%q: got %v, want %v", cmd, got, want)
		}
	}
}

func TestConfigValue(t *testing.T) {
	c := mustConfig(t, "[profile a]\ncredential_process = mfabridge credential-process a\nregion = eu-west-1\n",
		"[a]\nregion = us-west-2\n", nil)
	for _, tt := range []struct {
		profile, key, want string
		ok                 bool
	}{
		{"a", "credential_process", "mfabridge credential-process a", true},
		{"a", "Credential_Process", "mfabridge credential-process a", true},
		{"a", "region", "us-west-2", true}, // credentials file wins
		{"a", "role_arn", "", false},
		{"b", "region", "", false},
	} {
		if got, ok := c.Value(tt.profile, tt.key); got != tt.want || ok != tt.ok {
			t.Errorf("Value(%q, %q) = %q, %v; want %q, %v", tt.profile, tt.key, got, ok, tt.want, tt.ok)
		}
	}
}

// TestParseINIDuplicates pins issue 13 case 14: a repeated section or key
// is refused with both line numbers, as the AWS CLI refuses the file
// ("Unable to parse config file"); what configparser accepts is accepted.
func TestParseINIDuplicates(t *testing.T) {
	bad := []struct {
		name, data string
		line       int
		msg        string
	}{
		{"section", "[profile x]\nregion = us-east-1\n\n[profile x]\nregion = eu-west-1\n", 4, "section [profile x] repeats the one at line 1"},
		{"key", "[profile x]\nregion = us-east-1\nrole_arn = r\nregion = eu-west-1\n", 4, `key "region" repeats line 2 in section [profile x]`},
		{"key, other case and spacing", "[x]\nAWS_Access_Key_ID = A\naws_access_key_id\t= B\n", 3, `key "aws_access_key_id" repeats line 2 in section [x]`},
		{"credentials section", "[default]\n[x]\naws_access_key_id = A\n[default]\n", 4, "section [default] repeats the one at line 1"},
	}
	for _, tt := range bad {
		_, err := parseINI("f", []byte(tt.data))
		var se *INISyntaxError
		if !errors.As(err, &se) || se.Line != tt.line || !strings.Contains(se.Msg, tt.msg) {
			t.Errorf("%s: got %v, want a syntax error at line %d with %q", tt.name, err, tt.line, tt.msg)
		}
	}
	good := []string{
		"[profile x]\nregion = a\n[x]\nregion = b\n",               // config-style and credentials-style names differ
		"[profile x]\nregion = a\n[ profile  x ]\noutput = json\n", // configparser compares headers as written
		"[a]\nk = 1\n[b]\nk = 2\n",
		"[services s]\nsts =\n  endpoint_url = a\n  endpoint_url = b\n", // sub-keys: botocore keeps the last
	}
	for _, g := range good {
		if _, err := parseINI("f", []byte(g)); err != nil {
			t.Errorf("%q: %v", g, err)
		}
	}
}

// TestErrNoEnvironmentKeysIsNoSourceCreds: the environment case is a case
// of the general one, for callers that only know ErrNoSourceCreds.
func TestErrNoEnvironmentKeysIsNoSourceCreds(t *testing.T) {
	err := &ProfileError{Profile: "p", Err: ErrNoEnvironmentKeys}
	if !errors.Is(err, ErrNoSourceCreds) || !errors.Is(err, ErrNoEnvironmentKeys) || errors.Is(ErrNoSourceCreds, ErrNoEnvironmentKeys) {
		t.Errorf("errors.Is chain wrong for %v", err)
	}
	if got := ErrNoEnvironmentKeys.Error(); got != "no source credentials in the environment" {
		t.Errorf("message %q", got)
	}
}
