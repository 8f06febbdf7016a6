package device

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/mfabridge/mfabridge/oath"
	"github.com/mfabridge/mfabridge/pcsc"
)

// OpenYubiKey finds a YubiKey over PC/SC by the serial read from the key
// itself (serial 0: the only key present) and returns it as a Device.
//
// Discovery happens once, here. Each later operation connects to the key's
// reader in shared mode, runs inside one PC/SC transaction and disconnects,
// so the key is never held between operations and other programs (ykman,
// gpg) can use it in between.
func OpenYubiKey(ctx context.Context, serial uint32, hooks Hooks, log *slog.Logger) (*YubiKey, error) {
	pctx, err := pcsc.Open(ctx, pcsc.WithLogger(log))
	if err != nil {
		return nil, err
	}
	card, ki, err := pctx.OpenKey(ctx, serial)
	if err != nil {
		pctx.Close()
		return nil, err
	}
	card.Close()
	pctx.Close()
	info := Info{Kind: "yubikey", Serial: ki.Serial, Firmware: ki.Firmware, Reader: ki.Reader}
	open := func(ctx context.Context) (oath.Transport, func() error, error) {
		pctx, err := pcsc.Open(ctx, pcsc.WithLogger(log))
		if err != nil {
			return nil, nil, err
		}
		card, err := pctx.Connect(ctx, ki.Reader)
		// The card has a PC/SC context of its own: pcscd's slot for this
		// one is not needed during the operation.
		pctx.Close()
		if err != nil {
			return nil, nil, err // says which reader already
		}
		if err := card.Begin(ctx); err != nil {
			card.Close()
			return nil, nil, err // says which reader already
		}
		release := func() error {
			return errors.Join(card.End(), card.Close())
		}
		return card, release, nil
	}
	return NewYubiKey(info, open, hooks, log), nil
}

// KeyReport describes one YubiKey for `mfabridge devices`.
type KeyReport struct {
	Serial    uint32 `json:"serial"`
	Firmware  string `json:"firmware"`
	Reader    string `json:"reader"`
	Accounts  int    `json:"accounts"` // -1 when password protected (unknown)
	Protected bool   `json:"password_protected"`
	Error     string `json:"error,omitempty"`
}

// ListYubiKeys probes every reader and reports each YubiKey found, with the
// number of OATH accounts and whether its OATH applet is password protected.
func ListYubiKeys(ctx context.Context, log *slog.Logger) ([]KeyReport, error) {
	pctx, err := pcsc.Open(ctx, pcsc.WithLogger(log))
	if err != nil {
		return nil, err
	}
	defer pctx.Close()
	keys, err := pctx.Keys(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]KeyReport, 0, len(keys))
	for _, k := range keys {
		r := KeyReport{Serial: k.Serial, Firmware: k.Firmware, Reader: k.Reader}
		if err := probeOATH(ctx, pctx, k.Reader, log, &r); err != nil {
			r.Error = err.Error()
		}
		out = append(out, r)
	}
	return out, nil
}

func probeOATH(ctx context.Context, pctx *pcsc.Context, reader string, log *slog.Logger, r *KeyReport) error {
	card, err := pctx.Connect(ctx, reader)
	if err != nil {
		return err
	}
	defer card.Close()
	if err := card.Begin(ctx); err != nil {
		return err
	}
	defer card.End()
	c := oath.NewClient(card, oath.WithLogger(log))
	sel, err := c.Select(ctx)
	if err != nil {
		return fmt.Errorf("select OATH applet: %w", err)
	}
	if sel.Locked() {
		r.Protected, r.Accounts = true, -1
		return nil
	}
	list, err := c.List(ctx)
	if err != nil {
		return fmt.Errorf("list accounts: %w", err)
	}
	r.Accounts = len(list)
	return nil
}
