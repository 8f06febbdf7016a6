package simulator

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"testing"
	"time"

	"github.com/mfabridge/mfabridge/oath"
)

var fw543 = Version{5, 4, 3}

func TestSelectOATH(t *testing.T) {
	c := newTestCard(t, fw543)
	got := mustTx(t, c, selectOATH, oath.SWOK)
	want := unhex(t, "79 03 050403 71 08 0000000000000000")
	if !bytes.Equal(got, want) {
		t.Fatalf("SELECT answer %x, want %x", got, want)
	}
}

func TestPutCalculateRFC4226(t *testing.T) {
	c := newTestCard(t, fw543)
	mustTx(t, c, selectOATH, oath.SWOK)
	key := []byte("12345678901234567890")
	// HOTP, initial counter 0.
	if _, sw := send(t, c, putAPDU("hotp", oath.HOTP, oath.SHA1, 6, key)); sw != oath.SWOK {
		t.Fatalf("PUT: %04X", sw)
	}
	raw := []uint32{1284755224, 1094287082, 137359152, 1726969429, 1640338314, 868254676, 1918287922, 82162583, 673399871, 645520489}
	for i, w := range raw {
		data, sw := send(t, c, calcAPDU("hotp", nil, true))
		if sw != oath.SWOK || len(data) != 7 || data[0] != oath.TagTruncated || data[1] != 5 || data[2] != 6 {
			t.Fatalf("CALCULATE %d: %x %04X", i, data, sw)
		}
		if v := binary.BigEndian.Uint32(data[3:]); v != w {
			t.Errorf("HOTP counter %d: %d, want %d", i, v, w)
		}
	}
}

func TestTransmitContextDone(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	expired, cancel2 := context.WithDeadline(context.Background(), time.Unix(0, 0))
	defer cancel2()
	for _, tt := range []struct {
		name string
		ctx  context.Context
		want error
	}{
		{"cancelled", cancelled, context.Canceled},
		{"deadline passed", expired, context.DeadlineExceeded},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := newTestCard(t, fw543)
			resp, err := c.Transmit(tt.ctx, unhex(t, selectOATH))
			if !errors.Is(err, tt.want) {
				t.Fatalf("Transmit with a done context = %x, %v; want an error wrapping %v", resp, err, tt.want)
			}
		})
	}
}

// Before 4.1 there is no READ CONFIG; ykman then reads the serial from OTP.
func TestReadConfigGate(t *testing.T) {
	for _, tt := range []struct {
		fw   Version
		want uint16
	}{{Version{4, 0, 9}, oath.SWInsNotSupported}, {Version{4, 1, 0}, oath.SWOK}, {fw543, oath.SWOK}} {
		c := newTestCard(t, tt.fw)
		mustTx(t, c, "00 A4 04 00 08 A0 00 00 05 27 47 11 17", oath.SWOK)
		if _, sw := tx(t, c, "00 1D 00 00 00"); sw != tt.want {
			t.Errorf("READ CONFIG on %v: %04X, want %04X", tt.fw, sw, tt.want)
		}
		mustTx(t, c, "00 A4 04 00 07 A0 00 00 05 27 20 01", oath.SWOK)
		if got := mustTx(t, c, "00 01 10 00 00", oath.SWOK); binary.BigEndian.Uint32(got) != 12345678 {
			t.Errorf("OTP serial on %v: %x", tt.fw, got)
		}
	}
}
