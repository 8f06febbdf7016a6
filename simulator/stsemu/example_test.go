package stsemu_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/mfabridge/mfabridge/simulator/stsemu"
)

// An SDK client pointed at the emulator.
func ExampleNew() {
	cfg, err := stsemu.LoadConfig("testdata/example.json")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	srv, err := stsemu.New(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	ts := httptest.NewServer(srv)
	defer ts.Close()

	client := sts.New(sts.Options{
		Region:           "us-east-1",
		BaseEndpoint:     aws.String(ts.URL),
		Credentials:      credentials.NewStaticCredentialsProvider("AKIAALICE00000000001", "alice-secret-access-key-0000000000000000", ""),
		RetryMaxAttempts: 1, // never resend an MFA code
	})
	out, err := client.GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	fmt.Println(*out.Arn, *out.Account)

	_, err = client.AssumeRole(context.Background(), &sts.AssumeRoleInput{
		RoleArn:         aws.String("arn:aws:iam::222222222222:role/PrivilegedActionsRole"),
		RoleSessionName: aws.String("no-mfa"),
	})
	fmt.Println(err != nil)
	// Output:
	// arn:aws:iam::111111111111:user/alice 111111111111
	// true
}
