package simulator

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"
)

// The vpcd bridge attaches a card to vsmartcard's vpcd driver inside pcscd,
// so that every PC/SC client (ykman, piv-go, our pcsc package) sees a card
// in the reader "Virtual PCD 00 00" (or whatever FRIENDLYNAME the reader
// config gives it).
//
// vpcd listens (Debian: port 35963 for slot 0, 35964 for slot 1) and the
// card emulator connects. Every message either way is a 2-byte big-endian
// length then the payload. A 1-byte payload from vpcd is a control message:
// 00 power off, 01 power on, 02 reset (no reply), 04 get ATR (reply: the
// framed ATR). Longer payloads are command APDUs; the reply is the framed
// response data and status word. Closing the connection is "card removed";
// pcscd polls the ATR about every 0.4 s while the card is present.

// DefaultVPCDAddr is where Debian's vpcd listens for slot 0.
const DefaultVPCDAddr = "127.0.0.1:35963"

// vpcd control messages (vsmartcard vpcd.h).
const (
	vpcdPowerOff byte = 0x00
	vpcdPowerOn  byte = 0x01
	vpcdReset    byte = 0x02
	vpcdGetATR   byte = 0x04
)

// VPCDCard is what the bridge drives; *Card satisfies it.
type VPCDCard interface {
	Transmit(ctx context.Context, apdu []byte) ([]byte, error)
	ATR() []byte
	PowerOn()
	PowerOff()
	Reset()
}

// VPCDOption configures ServeVPCD.
type VPCDOption func(*vpcdConfig)

type vpcdConfig struct {
	log        *slog.Logger
	hook       func(apdu, resp []byte)
	onConnect  func(connected bool)
	minBackoff time.Duration
	maxBackoff time.Duration
	dial       func(ctx context.Context, network, addr string) (net.Conn, error)
}

// WithVPCDLogger logs connections and, at debug level, each APDU's
// instruction byte and status word (never data: it may hold secrets).
func WithVPCDLogger(l *slog.Logger) VPCDOption {
	return func(c *vpcdConfig) {
		if l != nil {
			c.log = l
		}
	}
}

// WithVPCDHook calls f after every APDU exchanged through vpcd, with copies
// of the command and the answer (for counting or tracing in tests).
func WithVPCDHook(f func(apdu, resp []byte)) VPCDOption {
	return func(c *vpcdConfig) { c.hook = f }
}

// WithVPCDConnState calls f(true) when a connection to vpcd is up and
// f(false) when it is lost.
func WithVPCDConnState(f func(connected bool)) VPCDOption {
	return func(c *vpcdConfig) { c.onConnect = f }
}

// WithVPCDBackoff sets the reconnect delays (default 100 ms doubling to 2 s).
func WithVPCDBackoff(minDelay, maxDelay time.Duration) VPCDOption {
	return func(c *vpcdConfig) {
		if minDelay > 0 {
			c.minBackoff = minDelay
		}
		if maxDelay >= c.minBackoff {
			c.maxBackoff = maxDelay
		}
	}
}

// WithVPCDDialer makes the bridge connect with dial instead of a
// net.Dialer (tests count and fail dials with it).
func WithVPCDDialer(dial func(ctx context.Context, network, addr string) (net.Conn, error)) VPCDOption {
	return func(c *vpcdConfig) { c.dial = dial }
}

// ErrVPCDProtocol reports a message from vpcd that breaks the framing.
var ErrVPCDProtocol = errors.New("vpcd protocol error")

// ServeVPCD connects card to the vpcd driver at addr (host:port) and serves
// it until ctx is done, then returns nil. When the connection cannot be made
// (pcscd not up yet) or drops (pcscd restarted), it powers the card off and
// reconnects with backoff. It returns an error only for an unusable addr.
// Card state lives in card: a file-backed *Card saves every change itself.
func ServeVPCD(ctx context.Context, card VPCDCard, addr string, opts ...VPCDOption) error {
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return fmt.Errorf("serve vpcd at %q: %w", addr, err)
	}
	cfg := vpcdConfig{
		log:        slog.New(slog.DiscardHandler),
		minBackoff: 100 * time.Millisecond,
		maxBackoff: 2 * time.Second,
	}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.dial == nil {
		var d net.Dialer
		cfg.dial = d.DialContext
	}
	delay := cfg.minBackoff
	for {
		conn, err := cfg.dial(ctx, "tcp", addr)
		if err == nil {
			delay = cfg.minBackoff
			cfg.log.Debug("vpcd: connected", "addr", addr)
			if cfg.onConnect != nil {
				cfg.onConnect(true)
			}
			err = serveVPCDConn(ctx, conn, card, &cfg)
			// Whatever happened, the card left the reader: drop volatile
			// state (selection, OATH authentication) as a real key would.
			card.PowerOff()
			if cfg.onConnect != nil {
				cfg.onConnect(false)
			}
			if ctx.Err() != nil {
				return nil
			}
			cfg.log.Debug("vpcd: connection lost, reconnecting", "addr", addr, "err", err)
		} else {
			if ctx.Err() != nil {
				return nil
			}
			cfg.log.Debug("vpcd: connect failed, retrying", "addr", addr, "err", err, "delay", delay)
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		delay = min(2*delay, cfg.maxBackoff)
	}
}

// serveVPCDConn answers vpcd on one connection until it fails or ctx is
// done; it closes conn. It returns io.EOF for an orderly close by vpcd.
func serveVPCDConn(ctx context.Context, conn io.ReadWriteCloser, card VPCDCard, cfg *vpcdConfig) error {
	var once sync.Once
	closeConn := func() { once.Do(func() { conn.Close() }) }
	defer closeConn()
	// A blocked read (or a touch wait in card.Transmit) must not outlive ctx:
	// closing the connection unblocks the read, and the card sees ctx.
	stop := context.AfterFunc(ctx, closeConn)
	defer stop()

	var src io.Reader = conn
	if nc, ok := conn.(net.Conn); ok {
		src = quickAckReader{nc}
	}
	r := bufio.NewReader(src)
	for {
		msg, err := readVPCDFrame(r)
		if err != nil {
			return err
		}
		switch {
		case len(msg) == 0:
			// Not sent by vpcd; ignore rather than guess.
			continue
		case len(msg) == 1:
			switch msg[0] {
			case vpcdPowerOff:
				card.PowerOff()
			case vpcdPowerOn:
				card.PowerOn()
			case vpcdReset:
				card.Reset()
			case vpcdGetATR:
				if err := writeVPCDFrame(conn, card.ATR()); err != nil {
					return err
				}
			default:
				cfg.log.Debug("vpcd: unknown control message ignored", "code", msg[0])
			}
		default:
			resp, err := card.Transmit(ctx, msg)
			if err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				// The simulator fails only on internal trouble (for
				// example a state file it cannot write); answer "no
				// precise diagnosis" rather than leave vpcd waiting.
				cfg.log.Warn("vpcd: card error", "ins", fmt.Sprintf("%02X", msg[1]), "err", err)
				resp = []byte{0x6F, 0x00}
			}
			if len(resp) < 2 {
				resp = []byte{0x6F, 0x00}
			}
			cfg.log.Debug("vpcd: apdu", "ins", fmt.Sprintf("%02X", msg[1]), "sw", fmt.Sprintf("%X", resp[len(resp)-2:]))
			if cfg.hook != nil {
				cfg.hook(append([]byte(nil), msg...), append([]byte(nil), resp...))
			}
			if err := writeVPCDFrame(conn, resp); err != nil {
				return err
			}
		}
	}
}

// quickAckReader re-arms TCP_QUICKACK around every read (see quickAck).
type quickAckReader struct{ c net.Conn }

func (q quickAckReader) Read(b []byte) (int, error) {
	quickAck(q.c)
	n, err := q.c.Read(b)
	quickAck(q.c)
	return n, err
}

// readVPCDFrame reads one length-prefixed message.
func readVPCDFrame(r io.Reader) ([]byte, error) {
	var hdr [2]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err // io.EOF: vpcd closed the connection between messages
	}
	msg := make([]byte, binary.BigEndian.Uint16(hdr[:]))
	if _, err := io.ReadFull(r, msg); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("read vpcd message: %w", err)
	}
	return msg, nil
}

// writeVPCDFrame writes one length-prefixed message in a single write.
func writeVPCDFrame(w io.Writer, msg []byte) error {
	if len(msg) > 0xFFFF {
		return fmt.Errorf("write vpcd message: %w: %d bytes do not fit the 2-byte length", ErrVPCDProtocol, len(msg))
	}
	buf := make([]byte, 2+len(msg))
	binary.BigEndian.PutUint16(buf, uint16(len(msg)))
	copy(buf[2:], msg)
	if _, err := w.Write(buf); err != nil {
		return fmt.Errorf("write vpcd message: %w", err)
	}
	return nil
}
