package pcsc

import (
	"context"
	"fmt"

	"github.com/mfabridge/mfabridge/internal/apdu"
)

// getResponse follows 61xx with ISO 7816-4 GET RESPONSE (00 C0 00 00 xx),
// as PIV and the management applet expect; the loop is the one package
// oath uses with SEND REMAINING.
var getResponse = apdu.Loop{Continue: apdu.InsGetResponse, LeFromSW: true, MaxRounds: maxGetResponse - 1}

// exchange sends cmd, follows 61xx with GET RESPONSE, and splits off the
// status word. Only transport failures and endless continuations are errors.
func exchange(ctx context.Context, t transmitter, cmd []byte) (data []byte, sw uint16, err error) {
	send := func(ctx context.Context, cmd []byte, _ apdu.Part) ([]byte, uint16, error) {
		resp, err := t.Transmit(ctx, cmd)
		if err != nil {
			return nil, 0, err
		}
		return apdu.SplitSW(resp)
	}
	data, sw, err = getResponse.Transceive(ctx, send, cmd)
	if err != nil {
		return nil, 0, fmt.Errorf("read card answer: %w", err)
	}
	return data, sw, nil
}
