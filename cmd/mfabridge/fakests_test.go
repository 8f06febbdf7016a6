package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"sync/atomic"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

// fakests MODE starts an STS endpoint that misbehaves as real servers and
// networks have (issue 13), sets $FAKE_STS_URL, and counts the requests it
// got in $WORK/fakests.count (rewritten on every request).
// It checks no signature and no code: it is not an STS, only an answer.
//
//	hang     accepts the request and never answers
//	expired  answers with credentials whose Expiration is an hour past
//	skew     refuses as STS does a request signed 20 minutes in the past
//	         (SignatureDoesNotMatch "Signature expired"), with a Date header
//	         20 minutes ahead of this machine's clock
func cmdFakeSTS(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: fakests hang|expired|skew")
	}
	mode := args[0]
	var n atomic.Int32
	count := ts.MkAbs("fakests.count")
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		os.WriteFile(count, fmt.Appendf(nil, "%d\n", n.Add(1)), 0o644)
		r.ParseForm()
		action := r.Form.Get("Action")
		switch mode {
		case "hang":
			<-r.Context().Done()
		case "expired":
			exp := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
			w.Header().Set("Content-Type", "text/xml")
			fmt.Fprintf(w, `<%[1]sResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><%[1]sResult><Credentials><AccessKeyId>ASIAEXPIREDEXPIRED01</AccessKeyId><SecretAccessKey>expired-secret</SecretAccessKey><SessionToken>expired-token</SessionToken><Expiration>%[2]s</Expiration></Credentials></%[1]sResult><ResponseMetadata><RequestId>fake</RequestId></ResponseMetadata></%[1]sResponse>`, action, exp)
		case "skew":
			now := time.Now().UTC()
			at := now.Add(20 * time.Minute)
			signed := regexp.MustCompile(`^\d{8}T\d{6}Z$`).FindString(r.Header.Get("X-Amz-Date"))
			w.Header().Set("Date", at.Format(http.TimeFormat))
			w.Header().Set("Content-Type", "text/xml")
			w.WriteHeader(http.StatusForbidden)
			const f = "20060102T150405Z"
			fmt.Fprintf(w, `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>SignatureDoesNotMatch</Code><Message>Signature expired: %s is now earlier than %s (%s - 5 min.)</Message></Error><RequestId>fake</RequestId></ErrorResponse>`,
				signed, at.Add(-5*time.Minute).Format(f), at.Format(f))
		default:
			http.Error(w, "unknown mode", 500)
		}
	})
	if !strings.Contains("hang expired skew", mode) {
		ts.Fatalf("fakests: unknown mode %q", mode)
	}
	srv := httptest.NewServer(h)
	ts.Setenv("FAKE_STS_URL", srv.URL)
	ts.Defer(func() {
		srv.CloseClientConnections()
		srv.Close()
	})
}

// waitfile FILE REGEXP waits (up to 10 s) until FILE contains a match of
// REGEXP: how a script learns that a background mfabridge has reached a
// wait it announces on its terminal file.
func cmdWaitFile(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: waitfile FILE REGEXP")
	}
	re, err := regexp.Compile(args[1])
	ts.Check(err)
	for end := time.Now().Add(10 * time.Second); ; {
		b, _ := os.ReadFile(ts.MkAbs(args[0]))
		if re.Match(b) {
			return
		}
		if time.Now().After(end) {
			ts.Fatalf("%s: no match for %q after 10 s; it holds %q", args[0], args[1], b)
		}
		// A background process's file is the only signal there is.
		time.Sleep(20 * time.Millisecond)
	}
}
