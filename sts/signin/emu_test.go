package signin

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awssts "github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/pquerna/otp/totp"

	"github.com/mfabridge/mfabridge/simulator/stsemu"
)

// TestGetWithEmulator: role credentials from the STS emulator become a
// login URL that the emulator's federation endpoint honours once.
func TestGetWithEmulator(t *testing.T) {
	cfg, err := stsemu.LoadConfig("../../simulator/stsemu/testdata/example.json")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := stsemu.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	code, err := totp.GenerateCode("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	cl := awssts.New(awssts.Options{Region: "us-east-1", BaseEndpoint: aws.String(ts.URL), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider("AKIAALICE00000000001", "alice-secret-access-key-0000000000000000", "")})
	ar, err := cl.AssumeRole(context.Background(), &awssts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::222222222222:role/PrivilegedActionsRole"),
		RoleSessionName: aws.String("console"), SerialNumber: aws.String("arn:aws:iam::111111111111:mfa/alice"), TokenCode: aws.String(code)})
	if err != nil {
		t.Fatal(err)
	}
	ep, _ := url.Parse(ts.URL + "/federation")
	c := New(WithEndpoint(ep))
	req := Request{AccessKeyID: *ar.Credentials.AccessKeyId, SecretAccessKey: *ar.Credentials.SecretAccessKey,
		SessionToken: *ar.Credentials.SessionToken, Source: SourceRole, Region: "us-east-1", Destination: "/cloudtrail/home", Duration: 2 * time.Hour}
	u, err := c.Get(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar}
	get := func() (int, string) {
		resp, err := browser.Get(u.Secret())
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	status, page := get()
	if status != 200 || !strings.Contains(page, `<dd id="principal">arn:aws:sts::222222222222:assumed-role/PrivilegedActionsRole/console</dd>`) ||
		!strings.Contains(page, `<dd id="destination">https://us-east-1.console.aws.amazon.com/cloudtrail/home?region=us-east-1</dd>`) {
		t.Fatalf("first visit: %d\n%s", status, page)
	}
	if status, page = get(); status != http.StatusConflict || !strings.Contains(page, "already been used") {
		t.Errorf("second visit: %d\n%s", status, page)
	}
	// A wrong secret: the emulator's 400 page, its message in the error,
	// nothing of the request in it.
	req.SecretAccessKey = "wrong-secret-key-000000000000000000000"
	_, err = c.Get(context.Background(), req)
	var ee *EndpointError
	if !errors.As(err, &ee) || ee.Status != 400 || ee.Message != "Invalid credentials parameter" ||
		strings.Contains(err.Error(), req.SecretAccessKey) || strings.Contains(err.Error(), req.SessionToken) {
		t.Errorf("wrong secret: %v", err)
	}
}
