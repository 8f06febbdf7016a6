package device

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
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

// OpenReader returns the OATH card in the one PC/SC reader whose name
// contains name, ignoring case (as ykman --reader): a YubiKey or any card
// with a YKOATH applet, serial or not. Like OpenYubiKey it touches nothing
// until the first operation, which finds the reader.
func OpenReader(_ context.Context, name string, hooks Hooks, log *slog.Logger) (*YubiKey, error) {
	y := NewYubiKey(Info{Kind: "yubikey"}, nil, hooks, log)
	var (
		mu     sync.Mutex
		reader string
	)
	y.open = func(ctx context.Context) (oath.Transport, func() error, error) {
		pctx, err := pcsc.Open(ctx, pcsc.WithLogger(log))
		if err != nil {
			return nil, nil, &identifiedError{err}
		}
		defer pctx.Close()
		mu.Lock()
		r := reader
		mu.Unlock()
		if r == "" {
			readers, err := pctx.Readers()
			if err != nil {
				return nil, nil, &identifiedError{fmt.Errorf("find reader %q: %w", name, err)}
			}
			if r, err = matchReader(name, readers); err != nil {
				return nil, nil, &identifiedError{err}
			}
			mu.Lock()
			reader = r
			mu.Unlock()
			y.found(0, "", r)
		}
		card, err := pctx.Connect(ctx, r)
		if err != nil {
			return nil, nil, err
		}
		if err := card.Begin(ctx); err != nil {
			card.Close()
			return nil, nil, err
		}
		return card, func() error { return errors.Join(card.End(), card.Close()) }, nil
	}
	return y, nil
}

// ErrNoReaderMatch: no reader, or more than one, has the name asked for.
var ErrNoReaderMatch = errors.New("reader name does not match exactly one reader")

// matchReader picks the one reader whose name contains name, ignoring case.
func matchReader(name string, readers []string) (string, error) {
	var m []string
	for _, r := range readers {
		if strings.Contains(strings.ToLower(r), strings.ToLower(name)) {
			m = append(m, r)
		}
	}
	switch len(m) {
	case 1:
		return m[0], nil
	case 0:
		return "", fmt.Errorf("device reader:%s: %w: none of %q contains it", name, ErrNoReaderMatch, readers)
	default:
		return "", fmt.Errorf("device reader:%s: %w: %q all contain it; give more of the name", name, ErrNoReaderMatch, m)
	}
}

// KeyReport describes one YubiKey, or other OATH card, for `mfabridge
// devices`. A card with only the OATH applet (issue 13 case 19) has serial 0,
// no firmware, and OATHOnly set.
type KeyReport struct {
	Serial      uint32 `json:"serial"`
	Firmware    string `json:"firmware"`
	Reader      string `json:"reader"`
	Accounts    int    `json:"accounts"` // -1 when password protected (unknown)
	Protected   bool   `json:"password_protected"`
	OATHOnly    bool   `json:"oath_only,omitempty"`    // no YubiKey applet answered: no serial, no firmware
	OATHVersion string `json:"oath_version,omitempty"` // the OATH applet's version, from its SELECT
	Error       string `json:"error,omitempty"`
}

// ListYubiKeys probes every reader and reports each YubiKey (or other OATH
// card) found, with the number of OATH accounts and whether its OATH applet
// is password protected.
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
		r := KeyReport{Serial: k.Serial, Firmware: k.Firmware, Reader: k.Reader, OATHOnly: k.Serial == 0 && k.Firmware == ""}
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
	r.OATHVersion = sel.VersionString()
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
