package stsemu

import (
	"encoding/base32"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

const (
	carolKey    = "AKIACAROL00000000001"
	carolSecret = "carol-secret-access-key-0000000000000000"
)

func (h *harness) iam(akid, secret, token string) *iam.Client {
	return iam.New(iam.Options{
		Region:           "us-east-1",
		BaseEndpoint:     aws.String(h.url),
		Credentials:      credentials.NewStaticCredentialsProvider(akid, secret, token),
		RetryMaxAttempts: 1,
	})
}

// createDevice creates a virtual device and returns its serial and base32
// seed, checking the seed decodes to a 40-byte key.
func createDevice(t *testing.T, c *iam.Client, name string) (string, string) {
	t.Helper()
	out, err := c.CreateVirtualMFADevice(ctx, &iam.CreateVirtualMFADeviceInput{VirtualMFADeviceName: aws.String(name)})
	if err != nil {
		t.Fatalf("create %s: %v", name, err)
	}
	seed := string(out.VirtualMFADevice.Base32StringSeed)
	key, err := base32.StdEncoding.DecodeString(seed)
	if err != nil || len(key) != virtualSeedBytes {
		t.Fatalf("seed is not base32 of %d bytes: %d bytes, %v", virtualSeedBytes, len(key), err)
	}
	return aws.ToString(out.VirtualMFADevice.SerialNumber), seed
}

func enable(c *iam.Client, user, serial, code1, code2 string) error {
	_, err := c.EnableMFADevice(ctx, &iam.EnableMFADeviceInput{UserName: aws.String(user), SerialNumber: aws.String(serial),
		AuthenticationCode1: aws.String(code1), AuthenticationCode2: aws.String(code2)})
	return err
}

func TestIAMVirtualMFALifecycle(t *testing.T) {
	h := newHarness(t, "iam_self_mfa.json")
	a := h.iam(aliceKey, aliceSecret, "")
	serial, seed := createDevice(t, a, "alice-2")
	if serial != "arn:aws:iam::111111111111:mfa/alice-2" {
		t.Fatalf("serial = %q", serial)
	}

	// Not enabled yet: STS does not know it for alice.
	_, err := h.alice().GetSessionToken(ctx, &sts.GetSessionTokenInput{SerialNumber: aws.String(serial), TokenCode: aws.String(h.code(t, seed, 0))})
	wantAPIError(t, err, "AccessDenied", 403, msgUnknownSerial)

	for _, tc := range []struct {
		name     string
		off1     time.Duration
		off2     time.Duration
		wrongOne bool
	}{
		{"same step twice", 0, 0, false},
		{"gap of one step", 0, 60 * time.Second, false},
		{"reversed", 30 * time.Second, 0, false},
		{"two steps ahead", 30 * time.Second, 60 * time.Second, false},
		{"three steps back", -90 * time.Second, -60 * time.Second, false},
		{"wrong first code", 0, 30 * time.Second, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c1 := h.code(t, seed, tc.off1)
			if tc.wrongOne {
				n, err := strconv.Atoi(c1)
				if err != nil {
					t.Fatalf("code %q: %v", c1, err)
				}
				c1 = fmt.Sprintf("%06d", (n+1)%1000000)
			}
			err := enable(a, "alice", serial, c1, h.code(t, seed, tc.off2))
			wantAPIError(t, err, "InvalidAuthenticationCode", 403, msgInvalidAuthCode)
			var ic *types.InvalidAuthenticationCodeException
			if !errors.As(err, &ic) {
				t.Errorf("SDK did not map the error to its modeled type: %T", err)
			}
		})
	}

	// The previous and current step (what a person types) is accepted too;
	// checked on a second device below. Here: now and now+30 s.
	if err := enable(a, "alice", serial, h.code(t, seed, 0), h.code(t, seed, 30*time.Second)); err != nil {
		t.Fatalf("enable: %v", err)
	}
	err = enable(a, "alice", serial, h.code(t, seed, 0), h.code(t, seed, 30*time.Second))
	wantAPIError(t, err, "EntityAlreadyExists", 409, "")

	// Usable at once, in the same step as the enabling codes.
	_, err = h.alice().GetSessionToken(ctx, &sts.GetSessionTokenInput{SerialNumber: aws.String(serial), TokenCode: aws.String(h.code(t, seed, 0))})
	if err != nil {
		t.Fatalf("GetSessionToken with the new device: %v", err)
	}
	h.clock.Advance(30 * time.Second)
	_, err = h.alice().AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(privRole), RoleSessionName: aws.String("alice"),
		SerialNumber: aws.String(serial), TokenCode: aws.String(h.code(t, seed, 0))})
	if err != nil {
		t.Fatalf("AssumeRole with the new device: %v", err)
	}

	list, err := a.ListMFADevices(ctx, &iam.ListMFADevicesInput{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range list.MFADevices {
		got = append(got, aws.ToString(d.SerialNumber)+"@"+aws.ToString(d.UserName))
		if d.EnableDate == nil || d.EnableDate.IsZero() {
			t.Errorf("%s: no EnableDate", aws.ToString(d.SerialNumber))
		}
	}
	if want := aliceSerial + "@alice," + serial + "@alice"; strings.Join(got, ",") != want {
		t.Errorf("ListMFADevices = %v, want %s", got, want)
	}
	page, err := a.ListMFADevices(ctx, &iam.ListMFADevicesInput{MaxItems: aws.Int32(1)})
	if err != nil || len(page.MFADevices) != 1 || !page.IsTruncated || aws.ToString(page.Marker) != aliceSerial {
		t.Fatalf("page 1: %+v, %v", page, err)
	}
	page, err = a.ListMFADevices(ctx, &iam.ListMFADevicesInput{MaxItems: aws.Int32(1), Marker: page.Marker})
	if err != nil || len(page.MFADevices) != 1 || page.IsTruncated || aws.ToString(page.MFADevices[0].SerialNumber) != serial {
		t.Fatalf("page 2: %+v, %v", page, err)
	}

	_, err = a.DeleteVirtualMFADevice(ctx, &iam.DeleteVirtualMFADeviceInput{SerialNumber: aws.String(aliceSerial)})
	wantAPIError(t, err, "DeleteConflict", 409, "")

	// Rotate away from the configured device: deactivate, delete; it stops working.
	if _, err := a.DeactivateMFADevice(ctx, &iam.DeactivateMFADeviceInput{SerialNumber: aws.String(aliceSerial)}); err != nil {
		t.Fatalf("deactivate: %v", err)
	}
	h.clock.Advance(30 * time.Second)
	_, err = h.alice().GetSessionToken(ctx, &sts.GetSessionTokenInput{SerialNumber: aws.String(aliceSerial), TokenCode: aws.String(h.code(t, aliceTOTP, 0))})
	wantAPIError(t, err, "AccessDenied", 403, msgUnknownSerial)
	_, err = a.DeactivateMFADevice(ctx, &iam.DeactivateMFADeviceInput{UserName: aws.String("alice"), SerialNumber: aws.String(aliceSerial)})
	wantAPIError(t, err, "NoSuchEntity", 404, "")
	if _, err := a.DeleteVirtualMFADevice(ctx, &iam.DeleteVirtualMFADeviceInput{SerialNumber: aws.String(aliceSerial)}); err != nil {
		t.Fatalf("delete: %v", err)
	}
	_, err = a.DeleteVirtualMFADevice(ctx, &iam.DeleteVirtualMFADeviceInput{SerialNumber: aws.String(aliceSerial)})
	wantAPIError(t, err, "NoSuchEntity", 404, "")
	var nse *types.NoSuchEntityException
	if !errors.As(err, &nse) {
		t.Errorf("SDK did not map NoSuchEntity: %T", err)
	}
	// The new device still works.
	_, err = h.alice().GetSessionToken(ctx, &sts.GetSessionTokenInput{SerialNumber: aws.String(serial), TokenCode: aws.String(h.code(t, seed, 0))})
	if err != nil {
		t.Fatalf("GetSessionToken with the new device after rotation: %v", err)
	}

	// The log never holds the seed nor the codes' parameters.
	h.log.mu.Lock()
	logText := h.log.b.String()
	h.log.mu.Unlock()
	if strings.Contains(logText, seed) || strings.Contains(logText, base64.StdEncoding.EncodeToString([]byte(seed))) {
		t.Error("emulator log contains the seed")
	}
	for _, e := range h.log.entries(t) {
		if e.Action == "CreateVirtualMFADevice" && e.Outcome != "ok" {
			t.Errorf("create logged as %s", e.Outcome)
		}
	}
}

func TestIAMPreviousAndCurrentStep(t *testing.T) {
	h := newHarness(t, "iam_self_mfa.json")
	a := h.iam(aliceKey, aliceSecret, "")
	serial, seed := createDevice(t, a, "alice-typed")
	if err := enable(a, "alice", serial, h.code(t, seed, -30*time.Second), h.code(t, seed, 0)); err != nil {
		t.Fatalf("enable with the previous and current codes: %v", err)
	}
}

func TestIAMErrors(t *testing.T) {
	h := newHarness(t, "iam_self_mfa.json")
	a := h.iam(aliceKey, aliceSecret, "")
	createDevice(t, a, "alice-dup")

	// A non-MFA session is refused by IAM; an MFA session is accepted.
	plain, err := h.alice().GetSessionToken(ctx, &sts.GetSessionTokenInput{})
	if err != nil {
		t.Fatal(err)
	}
	withMFA, err := h.alice().GetSessionToken(ctx, &sts.GetSessionTokenInput{SerialNumber: aws.String(aliceSerial), TokenCode: aws.String(h.code(t, aliceTOTP, 0))})
	if err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name   string
		call   func() error
		code   string
		status int
		msg    string
	}{
		{"duplicate name", func() error {
			_, err := a.CreateVirtualMFADevice(ctx, &iam.CreateVirtualMFADeviceInput{VirtualMFADeviceName: aws.String("alice-dup")})
			return err
		}, "EntityAlreadyExists", 409, "MFADevice entity at the same path and name already exists."},
		{"bad name", func() error {
			_, err := a.CreateVirtualMFADevice(ctx, &iam.CreateVirtualMFADeviceInput{VirtualMFADeviceName: aws.String("alice new")})
			return err
		}, "ValidationError", 400, "1 validation error detected: Value 'alice new' at 'virtualMFADeviceName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]+"},
		{"bad path", func() error {
			_, err := a.CreateVirtualMFADevice(ctx, &iam.CreateVirtualMFADeviceInput{VirtualMFADeviceName: aws.String("alice-p"), Path: aws.String("nopath")})
			return err
		}, "ValidationError", 400, ""},
		{"short code", func() error { return enable(a, "alice", "arn:aws:iam::111111111111:mfa/alice-dup", "123", "123456") },
			"ValidationError", 400, ""},
		{"unknown device", func() error {
			return enable(a, "alice", "arn:aws:iam::111111111111:mfa/alice-none", "123456", "123456")
		}, "NoSuchEntity", 404, "VirtualMFADevice with serial number arn:aws:iam::111111111111:mfa/alice-none doesn't exist."},
		{"not allowed for another user's ARN", func() error {
			_, err := a.CreateVirtualMFADevice(ctx, &iam.CreateVirtualMFADeviceInput{VirtualMFADeviceName: aws.String("carol")})
			return err
		}, "AccessDenied", 403, "User: arn:aws:iam::111111111111:user/alice is not authorized to perform: iam:CreateVirtualMFADevice on resource: arn:aws:iam::111111111111:mfa/carol"},
		{"no IAM policy", func() error {
			_, err := h.iam(carolKey, carolSecret, "").ListMFADevices(ctx, &iam.ListMFADevicesInput{})
			return err
		}, "AccessDenied", 403, ""},
		{"non-MFA session", func() error {
			_, err := h.iam(*plain.Credentials.AccessKeyId, *plain.Credentials.SecretAccessKey, *plain.Credentials.SessionToken).ListMFADevices(ctx, &iam.ListMFADevicesInput{})
			return err
		}, "InvalidClientTokenId", 403, msgInvalidToken},
		{"unknown user", func() error {
			_, err := a.ListMFADevices(ctx, &iam.ListMFADevicesInput{UserName: aws.String("mallory")})
			return err
		}, "NoSuchEntity", 404, "The user with name mallory cannot be found."},
		{"delete unknown", func() error {
			_, err := a.DeleteVirtualMFADevice(ctx, &iam.DeleteVirtualMFADeviceInput{SerialNumber: aws.String("arn:aws:iam::111111111111:mfa/alice-none")})
			return err
		}, "NoSuchEntity", 404, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { wantAPIError(t, tc.call(), tc.code, tc.status, tc.msg) })
	}
	if _, err := h.iam(*withMFA.Credentials.AccessKeyId, *withMFA.Credentials.SecretAccessKey, *withMFA.Credentials.SessionToken).ListMFADevices(ctx, &iam.ListMFADevicesInput{}); err != nil {
		t.Errorf("MFA session: %v", err)
	}
}

func TestIAMDeviceLimit(t *testing.T) {
	h := newHarness(t, "iam_self_mfa.json")
	a := h.iam(aliceKey, aliceSecret, "")
	// alice has one device from the config; 7 more reach the quota of 8.
	for i := range maxDevicesPerUser {
		serial, seed := createDevice(t, a, fmt.Sprintf("alice-%d", i))
		err := enable(a, "alice", serial, h.code(t, seed, 0), h.code(t, seed, 30*time.Second))
		if i < maxDevicesPerUser-1 {
			if err != nil {
				t.Fatalf("device %d: %v", i, err)
			}
			continue
		}
		wantAPIError(t, err, "LimitExceeded", 409, "Cannot exceed quota for MFADevicesPerUser: 8")
	}
}

// FuzzIAMParams drives the IAM actions with arbitrary parameters as an
// authenticated alice: never a panic, only IAM's statuses and codes, and
// the seed of a created device never in an error message.
func FuzzIAMParams(f *testing.F) {
	f.Add("Action=CreateVirtualMFADevice&Version=2010-05-08&VirtualMFADeviceName=alice-f&Path=%2Fx%2F")
	f.Add("Action=EnableMFADevice&Version=2010-05-08&UserName=alice&SerialNumber=arn%3Aaws%3Aiam%3A%3A111111111111%3Amfa%2Falice&AuthenticationCode1=123456&AuthenticationCode2=654321")
	f.Add("Action=DeactivateMFADevice&Version=2010-05-08&SerialNumber=arn%3Aaws%3Aiam%3A%3A111111111111%3Amfa%2Falice")
	f.Add("Action=DeleteVirtualMFADevice&Version=2010-05-08&SerialNumber=x")
	f.Add("Action=ListMFADevices&Version=2010-05-08&MaxItems=0&Marker=%FF")
	f.Add("Action=ListMFADevices&Version=2011-06-15")
	cfg, err := LoadConfig("testdata/iam_self_mfa.json")
	if err != nil {
		f.Fatal(err)
	}
	allowed := map[string]int{"EntityAlreadyExists": 409, "NoSuchEntity": 404, "InvalidAuthenticationCode": 403,
		"LimitExceeded": 409, "DeleteConflict": 409, "ValidationError": 400, "AccessDenied": 403, "InvalidAction": 400}
	f.Fuzz(func(t *testing.T, query string) {
		params, err := url.ParseQuery(query)
		if err != nil {
			return
		}
		s, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		c, _, aerr := s.lookupKey(aliceKey, "", false)
		if aerr != nil {
			t.Fatal(aerr)
		}
		st := &reqState{}
		q := &apiRequest{Params: params, Auth: &sigV4Auth{Service: "iam"}}
		resp, aerr := s.dispatch(q, c, st)
		if aerr != nil {
			if want, ok := allowed[aerr.Code]; !ok || want != aerr.Status {
				t.Fatalf("unexpected error %d %s: %s", aerr.Status, aerr.Code, aerr.Message)
			}
			if st.ns != iamNamespace {
				t.Fatal("IAM error without the IAM namespace")
			}
			return
		}
		if cr, ok := resp.(*createVirtualMFADeviceResponse); ok {
			seed, err := base64.StdEncoding.DecodeString(cr.Result.Device.Base32StringSeed)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := base32.StdEncoding.DecodeString(string(seed)); err != nil {
				t.Fatal(err)
			}
		}
	})
}
