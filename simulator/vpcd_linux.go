package simulator

import (
	"net"
	"syscall"
)

// quickAck asks Linux to acknowledge received data at once. vpcd writes each
// message as two send() calls (length, then payload) on a socket with Nagle's
// algorithm on, so its payload waits for our ACK of the length; with the
// default delayed ACK that costs about 40 ms per APDU. TCP_QUICKACK is not
// sticky, so it is set again around every read.
func quickAck(c net.Conn) {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return
	}
	raw, err := tc.SyscallConn()
	if err != nil {
		return
	}
	raw.Control(func(fd uintptr) {
		// Best effort: a failure only costs latency.
		_ = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_QUICKACK, 1)
	})
}
