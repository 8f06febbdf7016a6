//go:build linux

package pcsc

import (
	"bytes"
	"context"
	"encoding/base32"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mfabridge/mfabridge/oath"
	"github.com/mfabridge/mfabridge/simulator"
	"github.com/mfabridge/mfabridge/simulator/stsemu"
)

// Issue 12 acceptance: a cold `credential-process` through pcscd + vpcd
// makes ONE card connection and sends only the serial probe, SELECT,
// (VALIDATE,) LIST (not with mfabridge_account) and CALCULATE; a warm one
// reaches neither pcscd nor the card.
//
// Connections are counted between the CLI and pcscd, not at the vpcd
// bridge: pcscd keeps a card powered for a grace period after the last
// client leaves, so three quick connects show at the bridge as one power
// on (measured: "3 connects read as 1, power on 3 over the whole run,
// reset 0"). The CLI instead talks to pcscd through a relay on a socket of
// its own (PCSCLITE_CSOCK_NAME, read by the pcsc-lite client library),
// which counts the SCARD_CONNECT requests and the reader each one names.
// APDUs are counted by instruction at the bridge (the vpcd hook).

// sessionCard is a simulated key whose APDUs are recorded at the bridge.
type sessionCard struct {
	*simulator.Card

	mu   sync.Mutex
	apdu []string // command APDUs by name, see apduName
}

func (c *sessionCard) take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	a := c.apdu
	c.apdu = nil
	return a
}

var (
	aidOATH = []byte{0xA0, 0x00, 0x00, 0x05, 0x27, 0x21, 0x01}
)

// apduName names the command APDUs of the probe and of OATH.
func apduName(apdu []byte) string {
	if len(apdu) < 4 {
		return fmt.Sprintf("short %X", apdu)
	}
	if apdu[1] == 0xA4 && apdu[2] == 0x04 && len(apdu) > 5 {
		aid := apdu[5:min(len(apdu), 5+int(apdu[4]))]
		switch {
		case bytes.Equal(aid, aidPIV):
			return "SELECT PIV"
		case bytes.Equal(aid, aidOATH):
			return "SELECT OATH"
		case bytes.Equal(aid, aidManagement):
			return "SELECT MANAGEMENT"
		case bytes.Equal(aid, aidOTP):
			return "SELECT OTP"
		}
		return fmt.Sprintf("SELECT %X", aid)
	}
	switch apdu[1] {
	case 0xF8:
		return "GET SERIAL"
	case 0xFD:
		return "GET VERSION"
	case 0x1D:
		return "READ CONFIG"
	case 0xA4:
		return "CALCULATE ALL"
	case 0xA1:
		return "LIST"
	case 0xA2:
		return "CALCULATE"
	case 0xA3:
		return "VALIDATE"
	case 0xA5:
		return "SEND REMAINING"
	}
	return fmt.Sprintf("INS %02X", apdu[1])
}

// attachSession puts card in slot i behind a counting bridge; the slot's
// usual card returns when the test ends.
func (s *testStack) attachSession(t *testing.T, i int, card *sessionCard) {
	t.Helper()
	sl := s.slots[i]
	if sl.attached() {
		sl.detachNoWait()
		if err := waitPresence(sl.reader, false); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	sl.mu.Lock()
	sl.cancel, sl.done = cancel, done
	sl.mu.Unlock()
	go func() {
		defer close(done)
		simulator.ServeVPCD(ctx, card, fmt.Sprintf("127.0.0.1:%d", sl.port),
			simulator.WithVPCDBackoff(20*time.Millisecond, 200*time.Millisecond),
			simulator.WithVPCDHook(func(apdu, _ []byte) {
				card.mu.Lock()
				defer card.mu.Unlock()
				card.apdu = append(card.apdu, apduName(apdu))
			}))
	}()
	t.Cleanup(func() { s.attach(t, i, sl.card) })
	if err := waitPresence(sl.reader, true); err != nil {
		t.Fatal(err)
	}
}

const sessionSerial = 77777777

// newSessionCard is a key holding alice's AWS account (the MFA secret the
// STS emulator knows) and a GitHub one, optionally password protected.
func newSessionCard(t *testing.T, password string) *sessionCard {
	t.Helper()
	card, err := simulator.Create(filepath.Join(t.TempDir(), "session.json"), sessionSerial, firmware)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	c := oath.NewClient(card)
	sel, err := c.Select(ctx)
	if err != nil {
		t.Fatal(err)
	}
	secret, err := base32.StdEncoding.DecodeString(sessionMFASecret)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"GitHub:alice", "AWS:alice@111111111111"} {
		if err := c.Put(ctx, oath.PutRequest{Name: name, Type: oath.TOTP, Algorithm: oath.SHA1, Digits: 6, Key: secret}); err != nil {
			t.Fatal(err)
		}
	}
	if password != "" {
		if err := c.SetCode(ctx, oath.DeriveKey(password, sel.Salt)); err != nil {
			t.Fatal(err)
		}
	}
	card.PowerOff()
	return &sessionCard{Card: card}
}

const sessionMFASecret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"

const sessionWorld = `{"region": "us-east-1",
 "accounts": [
  {"id": "111111111111",
   "users": [{"name": "alice",
     "access_keys": [{"id": "AKIAALICE00000000001", "secret": "alice-secret-access-key-0000000000000000"}],
     "mfa_devices": [{"serial": "arn:aws:iam::111111111111:mfa/alice", "secret_base32": "` + sessionMFASecret + `", "digits": 6, "period": 30}],
     "policies": [{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "arn:aws:iam::222222222222:role/*"}]}]}]},
  {"id": "222222222222",
   "roles": [{"name": "PrivilegedActionsRole", "max_session_duration": 43200,
     "trust_policy": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "111111111111"}, "Action": "sts:AssumeRole", "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}}}]}}]}]}`

// sessionHome is a HOME with an AWS config whose prod profile needs MFA on
// the key in the session slot, served by a fresh STS emulator.
func sessionHome(t *testing.T, extra string) (home string, log *lockedLog) {
	t.Helper()
	cfg, err := stsemu.ParseConfig([]byte(sessionWorld))
	if err != nil {
		t.Fatal(err)
	}
	log = &lockedLog{}
	srv, err := stsemu.New(cfg, stsemu.WithLog(log))
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	home = t.TempDir()
	aws := filepath.Join(home, ".aws")
	if err := os.MkdirAll(aws, 0o700); err != nil {
		t.Fatal(err)
	}
	config := fmt.Sprintf("[profile alice]\nregion = us-east-1\nendpoint_url = %s\n\n[profile prod]\nrole_arn = arn:aws:iam::222222222222:role/PrivilegedActionsRole\nsource_profile = alice\nendpoint_url = %s\nmfa_serial = arn:aws:iam::111111111111:mfa/alice\nmfabridge_device = yubikey:%d\n%s",
		hs.URL, hs.URL, sessionSerial, extra)
	if err := os.WriteFile(filepath.Join(aws, "config"), []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	creds := "[alice]\naws_access_key_id = AKIAALICE00000000001\naws_secret_access_key = alice-secret-access-key-0000000000000000\n"
	if err := os.WriteFile(filepath.Join(aws, "credentials"), []byte(creds), 0o600); err != nil {
		t.Fatal(err)
	}
	return home, log
}

// cliEnv is cli with extra environment variables.
func cliEnv(t *testing.T, home string, env []string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, buildCLI(t), args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "MFABRIDGE_TTY=none"}, env...)
	var o, e strings.Builder
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	return o.String(), e.String(), err
}

// pcsc-lite's client protocol (pcsc-lite winscard_msg.h): every request is
// a header {uint32 size; uint32 command} in host byte order, then size
// bytes of the command's struct; SCARD_TRANSMIT and SCARD_CONTROL follow
// theirs with cbSendLength bytes of data (at offset 12 of transmit_struct,
// 8 of control_struct). connect_struct starts {uint32 hContext; char
// szReader[MAX_READERNAME]}.
const (
	pcscConnect  = 0x04
	pcscTransmit = 0x09
	pcscControl  = 0x0A
	pcscMaxCmd   = 0x20 // above every command pcsc-lite defines
)

// pcscRelay relays pcsc-lite clients to pcscd and counts their requests.
type pcscRelay struct {
	path string

	mu       sync.Mutex
	connects map[string]int // SCARD_CONNECT requests by reader name
	requests int
	errs     []error // a request the parser could not follow
}

func startPCSCRelay(t *testing.T) *pcscRelay {
	t.Helper()
	r := &pcscRelay{path: filepath.Join(t.TempDir(), "pcscd.comm"), connects: map[string]int{}}
	ln, err := net.Listen("unix", r.path)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() { r.serve(c) })
		}
	})
	return r
}

func (r *pcscRelay) serve(client net.Conn) {
	defer client.Close()
	up, err := net.Dial("unix", pcscdSocket)
	if err != nil {
		r.fail(fmt.Errorf("dial pcscd: %w", err))
		return
	}
	defer up.Close()
	go func() {
		io.Copy(client, up)
		client.Close()
	}()
	// Every byte read from the client goes on to pcscd as it is read.
	in := io.TeeReader(client, up)
	for {
		var hdr [8]byte
		if _, err := io.ReadFull(in, hdr[:]); err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				r.fail(fmt.Errorf("read request header: %w", err))
			}
			return
		}
		size, cmd := binary.NativeEndian.Uint32(hdr[:4]), binary.NativeEndian.Uint32(hdr[4:])
		if cmd == 0 || cmd > pcscMaxCmd || size > 1<<20 {
			r.fail(fmt.Errorf("request header %X: not pcsc-lite's protocol as this test knows it", hdr))
			return
		}
		body := make([]byte, size)
		if _, err := io.ReadFull(in, body); err != nil {
			r.fail(fmt.Errorf("read request %#x: %w", cmd, err))
			return
		}
		extra := 0
		switch {
		case cmd == pcscTransmit && size >= 16:
			extra = int(binary.NativeEndian.Uint32(body[12:]))
		case cmd == pcscControl && size >= 12:
			extra = int(binary.NativeEndian.Uint32(body[8:]))
		}
		if extra > 0 {
			if _, err := io.CopyN(io.Discard, in, int64(extra)); err != nil {
				r.fail(fmt.Errorf("read request %#x data: %w", cmd, err))
				return
			}
		}
		r.mu.Lock()
		r.requests++
		if cmd == pcscConnect && size > 4 {
			name, _, _ := bytes.Cut(body[4:], []byte{0})
			r.connects[string(name)]++
		}
		r.mu.Unlock()
	}
}

func (r *pcscRelay) fail(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, err)
}

// take returns the connects by reader and the request count so far, and
// starts over; a request the relay could not parse fails the test.
func (r *pcscRelay) take(t *testing.T) (map[string]int, int) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.errs) > 0 {
		t.Fatalf("pcsc relay: %v", errors.Join(r.errs...))
	}
	c, n := r.connects, r.requests
	r.connects, r.requests = map[string]int{}, 0
	return c, n
}

// TestStackOneSessionPerCode is the acceptance count.
func TestStackOneSessionPerCode(t *testing.T) {
	s := needStack(t)
	probe := []string{"SELECT PIV", "GET SERIAL"}
	for _, tt := range []struct {
		name, extra, password string
		want                  []string
	}{
		{"matched", "", "", append(slices.Clone(probe), "SELECT OATH", "LIST", "CALCULATE")},
		{"pinned", "mfabridge_account = AWS:alice@111111111111\n", "", append(slices.Clone(probe), "SELECT OATH", "CALCULATE")},
		{"password", "", "hunter2", append(slices.Clone(probe), "SELECT OATH", "VALIDATE", "LIST", "CALCULATE")},
	} {
		t.Run(tt.name, func(t *testing.T) {
			card := newSessionCard(t, tt.password)
			s.attachSession(t, 0, card)
			reader := s.slots[0].reader
			var other atomic.Int64 // APDUs reaching the key in the other slot
			count := func(slot int, _ []byte) {
				if slot != 0 {
					other.Add(1)
				}
			}
			apduTrace.Store(&count)
			t.Cleanup(func() { apduTrace.Store(nil) })
			home, log := sessionHome(t, tt.extra)
			relay := startPCSCRelay(t)
			env := []string{"PCSCLITE_CSOCK_NAME=" + relay.path}
			if tt.password != "" {
				env = append(env, "MFABRIDGE_OATH_PASSWORD="+tt.password)
			}

			card.take()
			out, stderr, err := cliEnv(t, home, env, "credential-process", "prod")
			if err != nil || !strings.Contains(out, `"AccessKeyId":"ASIA`) {
				t.Fatalf("cold credential-process: %v\n%s\n%s\nSTS log:\n%s", err, out, stderr, log.String())
			}
			connects, requests := relay.take(t)
			apdus := card.take()
			t.Logf("cold: connects %v, %d pcscd requests, APDUs %q, %d APDUs to the other slot", connects, requests, apdus, other.Load())
			if requests == 0 {
				t.Fatal("the CLI did not go through the relay (PCSCLITE_CSOCK_NAME ignored?)")
			}
			if connects[reader] != 1 || len(connects) != 1 {
				t.Errorf("cold credential-process: card connections %v, want one to %q", connects, reader)
			}
			if !slices.Equal(apdus, tt.want) {
				t.Errorf("cold credential-process: APDUs %q, want %q", apdus, tt.want)
			}
			if n := other.Load(); n != 0 {
				t.Errorf("cold credential-process: %d APDUs to the key in the other slot, want none", n)
			}

			// Warm: served from the cache; pcscd is not even asked.
			out, stderr, err = cliEnv(t, home, env, "credential-process", "prod")
			if err != nil || !strings.Contains(out, `"AccessKeyId":"ASIA`) {
				t.Fatalf("warm credential-process: %v\n%s\n%s", err, out, stderr)
			}
			if c, n := relay.take(t); n != 0 || len(c) != 0 {
				t.Errorf("warm credential-process: %d pcscd requests, connects %v; want none", n, c)
			}
			if a := card.take(); len(a) != 0 {
				t.Errorf("warm credential-process: APDUs %q; want none", a)
			}
		})
	}
}
