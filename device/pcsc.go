package device

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/mfabridge/mfabridge/oath"
	"github.com/mfabridge/mfabridge/pcsc"
)

// OpenYubiKey returns the YubiKey with this serial over PC/SC (serial 0:
// the only key present) as a Device. It touches neither pcscd nor the card.
//
// Discovery (the serial read from the key itself) happens in the first
// operation's card session: the connection that found the key is the one
// the operation then uses, so a cold code costs one card connection. Later
// operations connect to the reader the key was found in. Each operation
// connects in shared mode, runs inside one PC/SC transaction and
// disconnects, so the key is never held between operations and other
// programs (ykman, gpg) can use it in between.
func OpenYubiKey(_ context.Context, serial uint32, hooks Hooks, log *slog.Logger) (*YubiKey, error) {
	y := NewYubiKey(Info{Kind: "yubikey", Serial: serial}, nil, hooks, log)
	var (
		mu     sync.Mutex // guards reader: sessions may run concurrently
		reader string     // where discovery found the key
	)
	y.open = func(ctx context.Context) (oath.Transport, func() error, error) {
		pctx, err := pcsc.Open(ctx, pcsc.WithLogger(log))
		if err != nil {
			return nil, nil, &identifiedError{err}
		}
		// The card has a PC/SC context of its own: pcscd's slot for this
		// one is not needed during the operation.
		defer pctx.Close()
		mu.Lock()
		r := reader
		mu.Unlock()
		var card *pcsc.Card
		if r == "" {
			var ki pcsc.KeyInfo
			card, ki, err = pctx.OpenKey(ctx, serial)
			if err != nil {
				return nil, nil, &identifiedError{err}
			}
			mu.Lock()
			reader = ki.Reader
			mu.Unlock()
			y.found(ki.Serial, ki.Firmware, ki.Reader)
		} else if card, err = pctx.Connect(ctx, r); err != nil {
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
	return y, nil
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
