package main

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	awssts "github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/rogpeppe/go-internal/testscript"

	"github.com/mfabridge/mfabridge/sts/keystore"
)

// secretscan PATH SECRET fails if PATH, or any file under it, holds SECRET in clear,
// in base64 (standard or URL, padded or not) or in hex (either case).
// SECRET @FILE scans for each line of FILE (at least one).
func cmdSecretScan(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: secretscan PATH SECRET|@FILE")
	}
	secrets := []string{args[1]}
	if name, ok := strings.CutPrefix(args[1], "@"); ok {
		secrets = strings.Fields(ts.ReadFile(name))
		if len(secrets) == 0 {
			ts.Fatalf("secretscan: no secret in %s", name)
		}
	}
	var forms []string
	for _, secret := range secrets {
		s := []byte(secret)
		forms = append(forms, secret,
			base64.StdEncoding.EncodeToString(s), base64.RawStdEncoding.EncodeToString(s),
			base64.URLEncoding.EncodeToString(s), base64.RawURLEncoding.EncodeToString(s),
			hex.EncodeToString(s), strings.ToUpper(hex.EncodeToString(s)))
	}
	n := 0
	err := filepath.WalkDir(ts.MkAbs(args[0]), func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		n++
		for _, f := range forms {
			if strings.Contains(string(b), f) {
				ts.Fatalf("%s holds the secret (as %q)", path, f)
			}
		}
		return nil
	})
	ts.Check(err)
	if n == 0 {
		ts.Fatalf("secretscan: no file under %s", args[0])
	}
}

func emuCreds(ts *testscript.TestScript, id, secret string) func(*awssts.Options) {
	return func(o *awssts.Options) {
		o.Region = "us-east-1"
		o.BaseEndpoint = aws.String(ts.Getenv("STS_URL"))
		o.RetryMaxAttempts = 1
		o.Credentials = credentials.NewStaticCredentialsProvider(id, secret, "")
	}
}

// stskey KEYID SECRET succeeds if the key authenticates at the emulator
// (GetCallerIdentity); with ! it must be refused.
func cmdSTSKey(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: stskey KEYID SECRET")
	}
	_, err := awssts.New(awssts.Options{}).GetCallerIdentity(context.Background(), &awssts.GetCallerIdentityInput{}, emuCreds(ts, args[0], args[1]))
	switch {
	case neg && err == nil:
		ts.Fatalf("key %s still works", args[0])
	case !neg && err != nil:
		ts.Fatalf("key %s: %v", args[0], err)
	}
}

// scriptStore is a store as the script's mfabridge sees it: age (with
// $MFABRIDGE_KEYRING_PASSPHRASE), keyring (the Secret Service of
// $DBUS_SESSION_BUS_ADDRESS) or piv:SERIAL (the CLI's own card opener:
// $MFABRIDGE_DEVICE, $MFABRIDGE_PIV_PIN).
func scriptStore(ts *testscript.TestScript, spec string) keystore.Store {
	switch {
	case spec == "age":
		pass := ts.Getenv("MFABRIDGE_KEYRING_PASSPHRASE")
		return keystore.NewAgeFile(filepath.Join(ts.Getenv("MFABRIDGE_CONFIG_DIR"), "keys", "age"),
			func(context.Context, bool) (string, error) { return pass, nil })
	case spec == "keyring":
		return keystore.NewKeyring(nil) // the test process's bus is the desktop's
	case strings.HasPrefix(spec, "piv:"):
		a := &app{getenv: ts.Getenv, log: slog.New(slog.DiscardHandler), term: openTerminal(func(string) string { return "none" }, io.Discard)}
		st, err := a.keyStore(context.Background(), nil, spec, pivUse{})
		ts.Check(err)
		return st
	}
	ts.Fatalf("unknown store %q", spec)
	return nil
}

// iamkeys STORE PROFILE N reads PROFILE's key from STORE (see
// scriptStore), checks that it authenticates, and that IAM lists exactly N
// keys for its user, the stored one among them.
func cmdIAMKeys(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: iamkeys age|keyring|piv:SERIAL PROFILE N")
	}
	ctx := context.Background()
	st := scriptStore(ts, args[0])
	args = args[1:]
	k, err := st.Get(ctx, args[0])
	ts.Check(err)
	cmdSTSKey(ts, false, []string{k.AccessKeyID, k.SecretAccessKey})
	c := iam.New(iam.Options{Region: "us-east-1", BaseEndpoint: aws.String(ts.Getenv("STS_URL")), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(k.AccessKeyID, k.SecretAccessKey, "")})
	out, err := c.ListAccessKeys(ctx, &iam.ListAccessKeysInput{})
	ts.Check(err)
	var ids []string
	found := false
	for _, m := range out.AccessKeyMetadata {
		ids = append(ids, aws.ToString(m.AccessKeyId))
		found = found || aws.ToString(m.AccessKeyId) == k.AccessKeyID
	}
	if want := args[1]; want != "" && len(ids) != int(want[0]-'0') || !found {
		ts.Fatalf("IAM lists %v, want %s key(s) including the stored %s", ids, args[1], k.AccessKeyID)
	}
}
