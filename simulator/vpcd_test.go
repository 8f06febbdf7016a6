package simulator

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// vpcdFake plays the vpcd side: it listens on loopback and hands out each
// accepted connection.
type vpcdFake struct {
	ln    net.Listener
	conns chan net.Conn
}

func newVPCDFake(t *testing.T) *vpcdFake {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &vpcdFake{ln: ln, conns: make(chan net.Conn, 4)}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			f.conns <- c
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return f
}

func (f *vpcdFake) accept(t *testing.T) net.Conn {
	t.Helper()
	select {
	case c := <-f.conns:
		t.Cleanup(func() { c.Close() })
		return c
	case <-time.After(5 * time.Second):
		t.Fatal("the bridge did not connect")
		return nil
	}
}

func vpcdSend(t *testing.T, c net.Conn, msg []byte) {
	t.Helper()
	if err := writeVPCDFrame(c, msg); err != nil {
		t.Fatal(err)
	}
}

func vpcdRecv(t *testing.T, c net.Conn) []byte {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	msg, err := readVPCDFrame(c)
	if err != nil {
		t.Fatalf("read reply: %v", err)
	}
	return msg
}

func vpcdHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// vpcdTestCard is a VPCDCard that logs the calls it gets.
type vpcdTestCard struct {
	mu    sync.Mutex
	calls []string
	block chan struct{} // when set, Transmit waits on it or ctx

	entered     chan struct{} // when set, closed once Transmit is waiting on block
	enteredOnce sync.Once
}

func (r *vpcdTestCard) log(s string) { r.mu.Lock(); r.calls = append(r.calls, s); r.mu.Unlock() }

func (r *vpcdTestCard) Calls() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.calls...)
}

func (r *vpcdTestCard) Transmit(ctx context.Context, apdu []byte) ([]byte, error) {
	r.log("apdu " + hex.EncodeToString(apdu))
	if r.block != nil {
		if r.entered != nil {
			r.enteredOnce.Do(func() { close(r.entered) })
		}
		select {
		case <-r.block:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return []byte{0x90, 0x00}, nil
}
func (r *vpcdTestCard) ATR() []byte { r.log("atr"); return []byte{0x3B, 0x00} }
func (r *vpcdTestCard) PowerOn()    { r.log("on") }
func (r *vpcdTestCard) PowerOff()   { r.log("off") }
func (r *vpcdTestCard) Reset()      { r.log("reset") }

func vpcdServe(t *testing.T, card VPCDCard, addr string, opts ...VPCDOption) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan error, 1)
	opts = append([]VPCDOption{WithVPCDBackoff(5*time.Millisecond, 20*time.Millisecond)}, opts...)
	go func() { ch <- ServeVPCD(ctx, card, addr, opts...) }()
	var once sync.Once
	var result error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case result = <-ch:
			case <-time.After(5 * time.Second):
				result = errors.New("ServeVPCD did not stop within 5s of cancel")
			}
		})
		return result
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Error(err)
		}
	})
	return stop
}

func TestVPCDWithSimulatedCard(t *testing.T) {
	st, err := NewState(12345678, Version{5, 4, 3})
	if err != nil {
		t.Fatal(err)
	}
	card := New(st)
	v := newVPCDFake(t)
	var hooked [][2][]byte
	var mu sync.Mutex
	vpcdServe(t, card, v.ln.Addr().String(), WithVPCDHook(func(apdu, resp []byte) {
		mu.Lock()
		hooked = append(hooked, [2][]byte{apdu, resp})
		mu.Unlock()
	}))
	c := v.accept(t)

	vpcdSend(t, c, []byte{vpcdPowerOn})
	vpcdSend(t, c, []byte{vpcdGetATR})
	if got, want := vpcdRecv(t, c), vpcdHex(t, "3BFD1300008131FE158073C021C057597562694B657940"); !bytes.Equal(got, want) {
		t.Fatalf("ATR = %X, want %X", got, want)
	}
	tests := []struct{ apdu, want string }{
		{"00A4040005A000000308", ""},              // SELECT PIV: some data
		{"00F80000", "00BC614E9000"},              // GET SERIAL
		{"00FD0000", "0504039000"},                // GET VERSION
		{"00A4040007A0000005272101", ""},          // SELECT OATH: random salt, checked below
		{"00A1000000", "9000"},                    // LIST: empty
		{"00A20001 08 7103616263 740100", "6984"}, // CALCULATE of a missing name
	}
	for _, tt := range tests {
		vpcdSend(t, c, vpcdHex(t, tt.apdu))
		got := vpcdRecv(t, c)
		if tt.want == "" {
			if len(got) < 3 || !bytes.Equal(got[len(got)-2:], []byte{0x90, 0x00}) {
				t.Errorf("%s -> %X, want data and 9000", tt.apdu, got)
			}
			continue
		}
		if want := vpcdHex(t, tt.want); !bytes.Equal(got, want) {
			t.Errorf("%s -> %X, want %X", tt.apdu, got, want)
		}
	}
	vpcdSend(t, c, []byte{vpcdReset})
	vpcdSend(t, c, []byte{vpcdPowerOff})
	// Control messages get no reply: the next thing we read answers the ATR.
	vpcdSend(t, c, []byte{vpcdGetATR})
	if got := vpcdRecv(t, c); len(got) != 23 {
		t.Errorf("ATR after reset has %d bytes", len(got))
	}
	mu.Lock()
	n := len(hooked)
	mu.Unlock()
	if n != len(tests) {
		t.Errorf("hook saw %d APDUs, want %d", n, len(tests))
	}
	if got := card.Stats().Total; got != len(tests) {
		t.Errorf("card saw %d APDUs, want %d", got, len(tests))
	}
}

func TestVPCDControlMessages(t *testing.T) {
	card := &vpcdTestCard{}
	v := newVPCDFake(t)
	vpcdServe(t, card, v.ln.Addr().String())
	c := v.accept(t)
	for _, m := range [][]byte{{vpcdPowerOn}, {vpcdReset}, {0x07}, {}, {vpcdPowerOff}, {vpcdGetATR}} {
		vpcdSend(t, c, m)
	}
	if got := vpcdRecv(t, c); !bytes.Equal(got, []byte{0x3B, 0x00}) {
		t.Fatalf("ATR reply %X", got)
	}
	vpcdSend(t, c, []byte{0x00, 0xA4}) // too short for an APDU: still the card's to judge
	if got := vpcdRecv(t, c); !bytes.Equal(got, []byte{0x90, 0x00}) {
		t.Fatalf("reply %X", got)
	}
	want := []string{"on", "reset", "off", "atr", "apdu 00a4"}
	if got := card.Calls(); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("calls %v, want %v", got, want)
	}
}

// The bridge keeps dialling while vpcd is not up (pcscd not started yet)
// and redials when the connection drops. The dialer is the test's: it
// refuses the first dials, as a port nobody listens on does, and counts
// them, so no wait stands in for "a few failed dials" and no port is
// reserved and freed.
func TestVPCDReconnects(t *testing.T) {
	const refused = 3
	v := newVPCDFake(t)
	var dials atomic.Int32
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		if n := dials.Add(1); n <= refused {
			return nil, &net.OpError{Op: "dial", Net: network, Err: fmt.Errorf("dial %d: %w", n, syscall.ECONNREFUSED)}
		}
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}

	card := &vpcdTestCard{}
	states := make(chan bool, 8)
	vpcdServe(t, card, v.ln.Addr().String(), WithVPCDDialer(dial), WithVPCDConnState(func(up bool) { states <- up }))

	c := v.accept(t)
	if up := <-states; !up {
		t.Fatal("first state change is not 'connected'")
	}
	if n := dials.Load(); n != refused+1 {
		t.Fatalf("connected on dial %d, want %d (after %d refused)", n, refused+1, refused)
	}
	vpcdSend(t, c, []byte{vpcdPowerOn})
	c.Close() // pcscd went away: the card is powered off, the bridge redials
	if up := <-states; up {
		t.Fatal("no 'disconnected' state change")
	}
	c2 := v.accept(t)
	if n := dials.Load(); n != refused+2 {
		t.Fatalf("reconnected on dial %d, want %d", n, refused+2)
	}
	vpcdSend(t, c2, []byte{vpcdGetATR})
	if got := vpcdRecv(t, c2); len(got) != 2 {
		t.Fatalf("ATR after reconnect: %X", got)
	}
	calls := card.Calls()
	if len(calls) < 3 || calls[0] != "on" || calls[1] != "off" {
		t.Errorf("calls %v, want on, off (connection lost), atr", calls)
	}
}

func TestVPCDCancelDuringTransmit(t *testing.T) {
	card := &vpcdTestCard{block: make(chan struct{}), entered: make(chan struct{})} // a touch that never comes
	v := newVPCDFake(t)
	stop := vpcdServe(t, card, v.ln.Addr().String())
	c := v.accept(t)
	vpcdSend(t, c, vpcdHex(t, "00A2000100"))
	<-card.entered // the bridge is inside Transmit
	if err := stop(); err != nil {
		t.Fatalf("ServeVPCD = %v, want nil on cancel", err)
	}
	// vpcd sees the connection close: "card removed".
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := readVPCDFrame(c); !errors.Is(err, io.EOF) {
		t.Fatalf("read after cancel: %v, want EOF", err)
	}
}

func TestVPCDBadAddr(t *testing.T) {
	err := ServeVPCD(context.Background(), &vpcdTestCard{}, "no-port")
	if err == nil || !strings.Contains(err.Error(), "no-port") {
		t.Fatalf("err = %v", err)
	}
}

func TestVPCDTruncatedFrame(t *testing.T) {
	_, err := readVPCDFrame(bytes.NewReader([]byte{0x00, 0x05, 0x00, 0xA4}))
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("err = %v, want ErrUnexpectedEOF", err)
	}
	if err := writeVPCDFrame(io.Discard, make([]byte, 0x10000)); !errors.Is(err, ErrVPCDProtocol) {
		t.Fatalf("oversized write: %v", err)
	}
}

// vpcdPipe is an in-memory vpcd connection for fuzzing: reads come from the
// fuzz input, writes are collected.
type vpcdPipe struct {
	r   *bytes.Reader
	out bytes.Buffer
}

func (p *vpcdPipe) Read(b []byte) (int, error)  { return p.r.Read(b) }
func (p *vpcdPipe) Write(b []byte) (int, error) { return p.out.Write(b) }
func (p *vpcdPipe) Close() error                { return nil }

// FuzzVPCDSession feeds an arbitrary byte stream from "vpcd" to the bridge
// and a real simulated card: no panic, and every reply is a well-formed
// frame ending in a status word (or the ATR).
func FuzzVPCDSession(f *testing.F) {
	frame := func(msgs ...string) []byte {
		var b []byte
		for _, m := range msgs {
			d, _ := hex.DecodeString(m)
			b = binary.BigEndian.AppendUint16(b, uint16(len(d)))
			b = append(b, d...)
		}
		return b
	}
	f.Add(frame("01", "04", "00A4040007A0000005272101", "00A1000000", "02", "00"))
	f.Add(frame("01", "00A4040008A000000527471117", "001D000000", "00A4040007A0000005272001", "0001100000"))
	f.Add(frame("01", "00A4040007A000000527210100", "00A4DEAD", "00"))
	f.Add([]byte{0x00, 0x09, 0x00, 0xA4})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, in []byte) {
		st, err := NewState(1, Version{5, 4, 3})
		if err != nil {
			t.Fatal(err)
		}
		p := &vpcdPipe{r: bytes.NewReader(in)}
		cfg := vpcdConfig{log: slog.New(slog.DiscardHandler)}
		_ = serveVPCDConn(context.Background(), p, New(st), &cfg)
		out := bytes.NewReader(p.out.Bytes())
		for out.Len() > 0 {
			msg, err := readVPCDFrame(out)
			if err != nil {
				t.Fatalf("malformed reply stream: %v", err)
			}
			if len(msg) < 2 {
				t.Fatalf("reply %X too short", msg)
			}
		}
	})
}
