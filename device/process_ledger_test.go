//go:build !windows

package device_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssts "github.com/aws/aws-sdk-go-v2/service/sts"
	ststypes "github.com/aws/aws-sdk-go-v2/service/sts/types"

	"github.com/mfabridge/mfabridge/device"
	"github.com/mfabridge/mfabridge/sts"
	"github.com/mfabridge/mfabridge/sts/awsconfig"
)

// fakeClock is shared by the Provider and the code process.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) sleep(_ context.Context, d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	return nil
}

// fakeSTS answers GetSessionToken and records the codes and when they came.
type fakeSTS struct {
	clock *fakeClock
	mu    sync.Mutex
	codes []string
	steps []int64
}

func (f *fakeSTS) GetSessionToken(_ context.Context, in *awssts.GetSessionTokenInput, _ ...func(*awssts.Options)) (*awssts.GetSessionTokenOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.codes = append(f.codes, aws.ToString(in.TokenCode))
	f.steps = append(f.steps, f.clock.now().Unix()/30)
	exp := f.clock.now().Add(12 * time.Hour)
	return &awssts.GetSessionTokenOutput{Credentials: &ststypes.Credentials{
		AccessKeyId: aws.String(fmt.Sprintf("ASIAFAKE%012d", len(f.codes))), SecretAccessKey: aws.String("s"),
		SessionToken: aws.String("t"), Expiration: &exp}}, nil
}

func (f *fakeSTS) AssumeRole(context.Context, *awssts.AssumeRoleInput, ...func(*awssts.Options)) (*awssts.AssumeRoleOutput, error) {
	return nil, fmt.Errorf("not used")
}

// TestProcessLedger: the Provider's ledger rules hold for a code process.
// Two identities share one MFA serial, so the second needs a second code
// in the same TOTP step: the Provider waits for the next step and asks
// for it, and the process runs then, once per code, never twice in one
// step.
func TestProcessLedger(t *testing.T) {
	dir := t.TempDir()
	calls := filepath.Join(dir, "calls")
	// Each run prints a different code and logs the step it ran in (the
	// fake clock's step, passed by the test through a file).
	stepFile := filepath.Join(dir, "step")
	script := fmt.Sprintf(`echo "$(cat %s)" >> %s; n=$(wc -l < %s); printf '%%06d\n' "$n"`, stepFile, calls, calls)
	clk := &fakeClock{t: time.Unix(1_700_000_040, 0)} // 10 s into a step
	writeStep := func() {
		if err := os.WriteFile(stepFile, fmt.Appendf(nil, "%d\n", clk.now().Unix()/30), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := awsconfig.ParseProfiles([]byte(`[profile a]
mfa_serial = arn:aws:iam::111111111111:mfa/alice
mfa_process = `+script+`
[profile b]
mfa_serial = arn:aws:iam::111111111111:mfa/alice
mfa_process = `+script+`
`), []byte("[a]\naws_access_key_id = AKIAAAAAAAAAAAAAAAA1\naws_secret_access_key = x\n[b]\naws_access_key_id = AKIABBBBBBBBBBBBBBB2\naws_secret_access_key = y\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	api := &fakeSTS{clock: clk}
	cache := filepath.Join(dir, "cache")
	for _, name := range []string{"a", "b"} {
		p, err := cfg.Resolve(name)
		if err != nil {
			t.Fatal(err)
		}
		d, err := device.Open(context.Background(), p.Device, device.Options{Process: device.ProcessOptions{Now: clk.now, Sleep: clk.sleep}})
		if err != nil {
			t.Fatal(err)
		}
		tok := device.NewToken(d, p.MFASerial)
		code := func(ctx context.Context, at time.Time) (string, error) {
			writeStep()
			c, err := tok.Code(ctx, at)
			return c.Value, err
		}
		pr, err := sts.NewProvider(p, code, cache, sts.WithClock(clk.now), sts.WithSleep(clk.sleep), sts.WithSTSClient(api))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := pr.Credentials(context.Background()); err != nil {
			t.Fatalf("profile %s: %v", name, err)
		}
	}
	if len(api.codes) != 2 || api.codes[0] == api.codes[1] || api.steps[0] == api.steps[1] {
		t.Fatalf("STS got codes %v in steps %v: want 2 different codes in 2 steps", api.codes, api.steps)
	}
	b, err := os.ReadFile(calls)
	if err != nil {
		t.Fatal(err)
	}
	ran := strings.Fields(string(b))
	if len(ran) != 2 || ran[0] == ran[1] {
		t.Fatalf("the process ran in steps %v: want once in each of 2 steps", ran)
	}
	if ran[1] != fmt.Sprint(api.steps[1]) {
		t.Fatalf("the second run was in step %s, the second STS call in %d", ran[1], api.steps[1])
	}
}
