package main

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

// freeport VAR sets $VAR to a TCP port on 127.0.0.1 that was free a moment
// ago, for a background server started with --listen.
func cmdFreePort(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: freeport VAR")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	ts.Check(err)
	_, port, err := net.SplitHostPort(ln.Addr().String())
	ts.Check(err)
	ts.Check(ln.Close())
	ts.Setenv(args[0], port)
}

// trickle ADDR BOUND connects to the HTTP server at ADDR (waiting up to
// 10 s for it to listen), announces a 100000-byte body and then sends one
// byte every 10 ms. It succeeds if the server answers 400 and closes the
// connection no earlier than BOUND and before 10 x BOUND.
func cmdTrickle(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: trickle ADDR BOUND")
	}
	bound, err := time.ParseDuration(args[1])
	ts.Check(err)
	var conn net.Conn
	var begin time.Time // before the Dial that connects: the server's clock starts at accept
	for wait := time.Now().Add(10 * time.Second); ; {
		begin = time.Now()
		conn, err = net.Dial("tcp", args[0])
		if err == nil || time.Now().After(wait) {
			break
		}
		// The server is still starting: polling is the only signal a
		// background process gives.
		time.Sleep(20 * time.Millisecond)
	}
	ts.Check(err)
	defer conn.Close()
	_, err = io.WriteString(conn, "POST / HTTP/1.1\r\nHost: sts\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100000\r\n\r\n")
	ts.Check(err)
	done := make(chan struct{})
	defer close(done)
	go func() {
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				if _, err := io.WriteString(conn, "A"); err != nil {
					return
				}
			}
		}
	}()
	ts.Check(conn.SetReadDeadline(time.Now().Add(10 * bound)))
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		ts.Fatalf("no answer after %v (bound %v): %v", time.Since(begin), bound, err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		ts.Fatalf("status %d, want 400", resp.StatusCode)
	}
	_, err = io.Copy(io.Discard, br)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		ts.Fatalf("connection still open after %v (bound %v)", time.Since(begin), bound)
	}
	if err != nil && !strings.Contains(err.Error(), "reset") {
		ts.Fatalf("read until close: %v", err)
	}
	if el := time.Since(begin); el < bound {
		ts.Fatalf("closed after %v, before the bound %v", el, bound)
	}
}
