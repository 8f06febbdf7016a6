package device

import (
	"context"
	"errors"
	"fmt"

	"github.com/mfabridge/mfabridge/device/piv"
)

// OpenPIV starts one card session on the key and selects its PIV applet:
// the returned client is usable until release is called, which ends the
// session (ends the PC/SC transaction, or saves and unlocks a simulator
// state file). The OATH applet is not selected: a PIN verified on the
// client holds until release or until another applet is selected, so a
// caller that needs both runs PIV first (piv.md).
func (y *YubiKey) OpenPIV(ctx context.Context) (c *piv.Client, release func() error, err error) {
	t, rel, err := y.open(ctx)
	if err != nil {
		if ie := (*identifiedError)(nil); errors.As(err, &ie) {
			return nil, nil, ie.err
		}
		return nil, nil, fmt.Errorf("%s: %w", y.Info(), err)
	}
	c = piv.NewClient(t, piv.WithLogger(y.log))
	if err := c.Select(ctx); err != nil {
		return nil, nil, errors.Join(fmt.Errorf("%s: select PIV applet: %w", y.Info(), err), rel())
	}
	return c, rel, nil
}
