package main

import (
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/mfabridge/mfabridge/sts/keystore"
)

// keys_piv.txt drives the PIV-sealed store's wiring (mfabridge_keys =
// piv:SERIAL, the PIN from MFABRIDGE_PIV_PIN, the card opened only when a
// call needs the key) with a software card that logs each ECDH, which our
// PIV client on a simulated key does not: MFABRIDGE_TEST_SOFTPIV=SERIAL:KEYFILE
// makes openPIVCard return a P-256 key kept in KEYFILE (created on first
// use), with PIN 123456; every ECDH appends a line to KEYFILE.ecdh.
func installSoftPIV() {
	spec := os.Getenv("MFABRIDGE_TEST_SOFTPIV")
	if spec == "" {
		return
	}
	s, path, _ := strings.Cut(spec, ":")
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil || path == "" {
		panic("MFABRIDGE_TEST_SOFTPIV: want SERIAL:KEYFILE")
	}
	openPIVCard = func(a *app, ctx context.Context, serial uint32, _ []string) (keystore.Card, func() error, error) {
		if serial != uint32(n) {
			return nil, nil, fmt.Errorf("no PIV card with serial %d (found %d): %w", serial, n, keystore.ErrNotFound)
		}
		pin, err := a.pivPIN(ctx, serial)
		if err != nil {
			return nil, nil, err
		}
		if pin != "123456" {
			return nil, nil, errors.New("verify PIV PIN: wrong PIN, 2 tries left")
		}
		raw, err := os.ReadFile(path)
		if errors.Is(err, os.ErrNotExist) {
			k, err := ecdh.P256().GenerateKey(rand.Reader)
			if err != nil {
				return nil, nil, err
			}
			raw = k.Bytes()
			if err := os.WriteFile(path, raw, 0o600); err != nil {
				return nil, nil, err
			}
		} else if err != nil {
			return nil, nil, err
		}
		k, err := ecdh.P256().NewPrivateKey(raw)
		if err != nil {
			return nil, nil, err
		}
		return &softPIV{serial: serial, key: k, log: path + ".ecdh"}, func() error { return nil }, nil
	}
}

type softPIV struct {
	serial uint32
	key    *ecdh.PrivateKey
	log    string
}

func (c *softPIV) Serial() uint32 { return c.serial }

// unattestedTestCard: a software key has no attestation to check (keys.go).
func (c *softPIV) unattestedTestCard() {}

func (c *softPIV) PublicKey(_ context.Context, slot byte) (*ecdh.PublicKey, error) {
	if slot != pivSlot {
		return nil, fmt.Errorf("slot %02x: %w", slot, keystore.ErrNotFound)
	}
	return c.key.PublicKey(), nil
}

func (c *softPIV) ECDH(_ context.Context, slot byte, peer *ecdh.PublicKey) ([]byte, error) {
	if slot != pivSlot {
		return nil, fmt.Errorf("slot %02x: %w", slot, keystore.ErrNotFound)
	}
	f, err := os.OpenFile(c.log, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, err
	}
	fmt.Fprintln(f, "ecdh")
	f.Close()
	return c.key.ECDH(peer)
}

// TestSealRefusesUncheckedCard: sealing to a card whose attestation cannot
// be checked fails before anything is written (a new kind of card must not
// skip the check silently).
func TestSealRefusesUncheckedCard(t *testing.T) {
	k, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	env := map[string]string{"MFABRIDGE_CONFIG_DIR": dir}
	a := &app{getenv: func(k string) string { return env[k] }, log: slog.New(slog.DiscardHandler)}
	saved := openPIVCard
	t.Cleanup(func() { openPIVCard = saved })
	for _, tt := range []struct {
		name string
		card keystore.Card
		ok   bool
	}{
		{"software test card", &softPIV{serial: 7, key: k, log: filepath.Join(dir, "ecdh")}, true},
		{"unchecked card", struct{ keystore.Card }{&softPIV{serial: 7, key: k, log: filepath.Join(dir, "ecdh")}}, false},
	} {
		openPIVCard = func(*app, context.Context, uint32, []string) (keystore.Card, func() error, error) {
			return tt.card, func() error { return nil }, nil
		}
		_, err := a.keyStore(context.Background(), nil, "piv:7", pivUse{seal: true})
		if tt.ok && err != nil {
			t.Errorf("%s: %v", tt.name, err)
		}
		if !tt.ok && (err == nil || !strings.Contains(err.Error(), "cannot check where the key of slot 9d was made")) {
			t.Errorf("%s: %v; want a refusal", tt.name, err)
		}
	}
}
