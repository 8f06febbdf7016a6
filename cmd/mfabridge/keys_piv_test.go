package main

import (
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

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
