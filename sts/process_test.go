package sts

import (
	"context"
	"strings"
	"testing"
	"time"
)

func TestRunCredentialProcess(t *testing.T) {
	out, err := runCredentialProcess(context.Background(), `printf '{"Version":1,"AccessKeyId":"AKIAX","SecretAccessKey":"s","Expiration":"2026-11-22T07:31:11+00:00"}'`)
	if err != nil {
		t.Fatal(err)
	}
	c, err := ParseProcessOutput(out)
	if err != nil || c.AccessKeyID != "AKIAX" || !c.Expiration.Equal(time.Date(2026, 11, 22, 7, 31, 11, 0, time.UTC)) {
		t.Fatalf("got %+v, %v", c, err)
	}
	_, err = runCredentialProcess(context.Background(), "echo 'token expired, run sso login' >&2; exit 3")
	if err == nil || !strings.Contains(err.Error(), "exit status 3: token expired, run sso login") {
		t.Fatalf("got %v", err)
	}
	for _, bad := range []string{`{"Version":2,"AccessKeyId":"A","SecretAccessKey":"s"}`, `{"Version":1,"AccessKeyId":"A"}`,
		`{"Version":1,"AccessKeyId":"A","SecretAccessKey":"s","Expiration":"2026-11-22 07:31:11"}`, `not json`} {
		if _, err := ParseProcessOutput([]byte(bad)); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}

func TestProcessOutputFormat(t *testing.T) {
	c := Credentials{AccessKeyID: "ASIA1", SecretAccessKey: "s", SessionToken: "t",
		Expiration: time.Date(2026, 11, 22, 9, 31, 11, 0, time.FixedZone("CET", 3600))}
	b, err := c.ProcessOutput()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"Version":1,"AccessKeyId":"ASIA1","SecretAccessKey":"s","SessionToken":"t","Expiration":"2026-11-22T08:31:11Z"}`
	if string(b) != want {
		t.Fatalf("got %s\nwant %s", b, want)
	}
}

func TestDefaultCacheDir(t *testing.T) {
	for _, tt := range []struct {
		env  testEnv
		want string
	}{
		{testEnv{"MFABRIDGE_CACHE_DIR": "/x/c", "HOME": "/home/a"}, "/x/c"},
		{testEnv{"HOME": "/home/a"}, "/home/a/.cache/mfabridge"},
		{testEnv{}, ""},
	} {
		got, err := DefaultCacheDir(tt.env.get)
		if got != tt.want || (err != nil) != (tt.want == "") {
			t.Errorf("%v: got %q, %v; want %q", tt.env, got, err, tt.want)
		}
	}
}
