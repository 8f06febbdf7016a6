package stsemu

import (
	"net/http"
	"time"
)

// Timeouts bound how long the emulator's HTTP server waits for a client.
// Without them a client that trickles its request (or never finishes it)
// holds a connection and a goroutine for ever (issue 13 case 22: 300
// trickling connections were all still open).
type Timeouts struct {
	// ReadHeader bounds reading the request line and headers.
	ReadHeader time.Duration
	// Read bounds reading the whole request, body included, counted from
	// its first byte. A body that is not complete by then is answered 400
	// MalformedInput and the connection is closed.
	Read time.Duration
	// Idle bounds how long a kept-alive connection may wait for its next
	// request.
	Idle time.Duration
}

// DefaultTimeouts are generous for any real client: an STS request is a
// few kilobytes (at most maxBodyBytes), which even a slow loopback client
// sends in well under a second.
var DefaultTimeouts = Timeouts{ReadHeader: 10 * time.Second, Read: 30 * time.Second, Idle: 60 * time.Second}

// HTTPServer returns an http.Server that serves h (normally a *Server)
// with the bounds of t; a zero field takes DefaultTimeouts' value. It sets
// no WriteTimeout: Faults.Delay holds answers back on purpose, and a
// client that stops reading is bounded by the TCP stack.
func HTTPServer(h http.Handler, t Timeouts) *http.Server {
	if t.ReadHeader <= 0 {
		t.ReadHeader = DefaultTimeouts.ReadHeader
	}
	if t.Read <= 0 {
		t.Read = DefaultTimeouts.Read
	}
	if t.Idle <= 0 {
		t.Idle = DefaultTimeouts.Idle
	}
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: min(t.ReadHeader, t.Read),
		ReadTimeout:       t.Read,
		IdleTimeout:       t.Idle,
	}
}
