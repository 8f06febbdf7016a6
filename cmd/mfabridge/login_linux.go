package main

import (
	"bufio"
	"bytes"
	"net"
	"os"
	"strconv"
	"strings"
)

// peerIsSelf reports whether the client of a loopback TCP connection
// (remote, as seen by our server at local) runs as our user. Linux lists
// every socket of the network namespace with its owner in /proc/net/tcp;
// the client's row has the client's address as local_address and ours as
// rem_address. When /proc/net/tcp cannot be read (a sandbox without
// procfs), the check is skipped: the nonce still guards the redirect. A
// connection whose row is missing is refused.
func peerIsSelf(remote, local string) (uid int, ok bool) {
	data, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		return -1, true
	}
	uid, found := socketOwner(data, remote, local)
	return uid, found && uid == os.Getuid()
}

// socketOwner finds the uid of the socket bound to from and connected to
// to (IPv4 loopback "127.0.0.1:PORT" addresses) in /proc/net/tcp content.
func socketOwner(data []byte, from, to string) (int, bool) {
	fromHex, ok1 := procAddr(from)
	toHex, ok2 := procAddr(to)
	if !ok1 || !ok2 {
		return -1, false
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		// sl local_address rem_address st tx:rx tr:when retrnsmt uid …
		if len(f) < 8 || !sameProcAddr(f[1], fromHex) || !sameProcAddr(f[2], toHex) {
			continue
		}
		uid, err := strconv.Atoi(f[7])
		if err != nil {
			return -1, false
		}
		return uid, true
	}
	return -1, false
}

// procAddr renders a 127.0.0.0/8 "IP:PORT" as /proc/net/tcp's hex port and
// the IPv4 address in both byte orders (the file prints the raw 32-bit
// word in host order).
func procAddr(hostport string) ([3]string, bool) {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return [3]string{}, false
	}
	ip := net.ParseIP(host).To4()
	p, err := strconv.ParseUint(port, 10, 16)
	if ip == nil || err != nil {
		return [3]string{}, false
	}
	be := strings.ToUpper(strconv.FormatUint(uint64(ip[0])<<24|uint64(ip[1])<<16|uint64(ip[2])<<8|uint64(ip[3]), 16))
	le := strings.ToUpper(strconv.FormatUint(uint64(ip[3])<<24|uint64(ip[2])<<16|uint64(ip[1])<<8|uint64(ip[0]), 16))
	pad := func(s string, n int) string { return strings.Repeat("0", n-len(s)) + s }
	return [3]string{pad(strings.ToUpper(strconv.FormatUint(p, 16)), 4), pad(be, 8), pad(le, 8)}, true
}

func sameProcAddr(field string, want [3]string) bool {
	ip, port, ok := strings.Cut(field, ":")
	return ok && port == want[0] && (ip == want[1] || ip == want[2])
}
