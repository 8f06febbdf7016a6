package stsemu

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

// TestHTTPServerTimeouts pins issue 13 case 22: a client that trickles its
// body or headers, or idles on a kept-alive connection, is disconnected
// once the bound passes. Without the bounds the server waits for ever and
// the read below hits its own (10 x bound) deadline.
func TestHTTPServerTimeouts(t *testing.T) {
	const bound = 200 * time.Millisecond
	cfg, err := LoadConfig("testdata/world.json")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := HTTPServer(srv, Timeouts{ReadHeader: bound, Read: bound, Idle: bound})
	go func() { _ = hs.Serve(ln) }()
	t.Cleanup(func() { _ = hs.Close() })
	addr := ln.Addr().String()

	const head = "POST / HTTP/1.1\r\nHost: sts\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100000\r\n\r\n"
	const full = "POST / HTTP/1.1\r\nHost: sts\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 33\r\n\r\nAction=GetCallerIdentity&Version="
	tests := []struct {
		name    string
		prefix  string // sent at once
		trickle string // then one byte every 10 ms, repeated, until the server closes
		status  int    // an answer expected before the close; 0 for none
	}{
		{"slow body", head, "A", http.StatusBadRequest},
		{"slow headers", "POST / HTTP/1.1\r\nHost: sts\r\n", "X", 0},
		{"idle keep-alive", full, "", http.StatusForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Before Dial: the server's clock starts when it accepts.
			begin := time.Now()
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if _, err := io.WriteString(conn, tt.prefix); err != nil {
				t.Fatal(err)
			}
			done := make(chan struct{})
			defer close(done)
			if tt.trickle != "" {
				go func() {
					tick := time.NewTicker(10 * time.Millisecond)
					defer tick.Stop()
					for {
						select {
						case <-done:
							return
						case <-tick.C:
							if _, err := io.WriteString(conn, tt.trickle); err != nil {
								return
							}
						}
					}
				}()
			}
			if err := conn.SetReadDeadline(time.Now().Add(10 * bound)); err != nil {
				t.Fatal(err)
			}
			br := bufio.NewReader(conn)
			if tt.status != 0 {
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					t.Fatalf("read answer: %v", err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != tt.status {
					t.Errorf("status %d, want %d", resp.StatusCode, tt.status)
				}
			}
			// Then the server closes the connection: EOF (or a reset, as
			// the trickler may still be writing), not our deadline.
			_, err = io.Copy(io.Discard, br)
			if errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("connection still open after %v (bound %v)", time.Since(begin), bound)
			}
			if err != nil && !strings.Contains(err.Error(), "reset") {
				t.Fatalf("read until close: %v", err)
			}
			if el := time.Since(begin); el < bound {
				t.Errorf("closed after %v, before the bound %v", el, bound)
			}
		})
	}
}

func TestHTTPServerDefaults(t *testing.T) {
	hs := HTTPServer(http.NotFoundHandler(), Timeouts{Read: time.Second})
	if hs.ReadHeaderTimeout != time.Second || hs.ReadTimeout != time.Second || hs.IdleTimeout != DefaultTimeouts.Idle || hs.WriteTimeout != 0 {
		t.Errorf("got ReadHeader %v Read %v Idle %v Write %v", hs.ReadHeaderTimeout, hs.ReadTimeout, hs.IdleTimeout, hs.WriteTimeout)
	}
}
