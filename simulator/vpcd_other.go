//go:build !linux

package simulator

import "net"

// quickAck is a Linux-only latency fix; see vpcd_linux.go.
func quickAck(net.Conn) {}
