package keystore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// CardOpener finds the PIV card with serial and opens one session on it
// (cmd binds its PIN prompt and the card's reader). A card with another
// serial, or none, is an error wrapping ErrNotFound (or the caller may
// return the card it found: Open compares serials and answers
// *SerialError).
type CardOpener func(ctx context.Context, serial uint32) (card Card, closeCard func() error, err error)

// PIVStore keeps one sealed file per profile, DIR/PROFILE.sealed (mode
// 0600), sealed to a P-256 key on a PIV card. Put needs only the
// recipient's public key; Get needs the card.
type PIVStore struct {
	dir  string
	rcpt *Recipient
	open CardOpener
	o    options
}

const sealedExt = ".sealed"

// NewPIVStore returns a store in dir. rcpt (may be nil: then Put fails)
// is the card key new keys are sealed to; open reaches the card for Get
// (may be nil: then Get fails).
func NewPIVStore(dir string, rcpt *Recipient, open CardOpener, opts ...Option) (*PIVStore, error) {
	if rcpt != nil && !ValidSealingSlot(rcpt.Slot) {
		return nil, fmt.Errorf("new piv store: %w", &SlotError{rcpt.Slot})
	}
	return &PIVStore{dir: dir, rcpt: rcpt, open: open, o: buildOptions(opts)}, nil
}

func (p *PIVStore) path(profile string) string { return filepath.Join(p.dir, profile+sealedExt) }

func (p *PIVStore) load(op, profile string) (*Sealed, error) {
	if err := checkProfile(op, profile); err != nil {
		return nil, err
	}
	path := p.path(profile)
	data, err := readPrivate(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s of %s: %w", op, profile, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("%s of %s: %w", op, profile, err)
	}
	s, err := ParseSealed(data)
	if err != nil {
		return nil, fmt.Errorf("%s of %s: %s: %w", op, profile, path, err)
	}
	if s.Profile != profile {
		return nil, fmt.Errorf("%s of %s: %s: %w: sealed for profile %q", op, profile, path, ErrTampered, s.Profile)
	}
	return s, nil
}

// Header reads the profile's sealed file without opening it (no card):
// the serial, slot and recipient it is sealed to, the key id and when it
// was made. A missing file wraps ErrNotFound.
func (p *PIVStore) Header(profile string) (*Sealed, error) {
	return p.load("read sealed key", profile)
}

// Get opens the profile's sealed file with the card it names.
func (p *PIVStore) Get(ctx context.Context, profile string) (Key, error) {
	s, err := p.load("get key", profile)
	if err != nil {
		return Key{}, err
	}
	if p.open == nil {
		return Key{}, fmt.Errorf("get key of %s: no way to reach PIV key %d", profile, s.Serial)
	}
	card, closeCard, err := p.open(ctx, s.Serial)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return Key{}, fmt.Errorf("get key of %s: %w", profile, &SerialError{Want: s.Serial})
		}
		return Key{}, fmt.Errorf("get key of %s: open PIV key %d: %w", profile, s.Serial, err)
	}
	defer func() {
		if closeCard != nil {
			_ = closeCard()
		}
	}()
	k, err := s.Open(ctx, card)
	if err != nil {
		return Key{}, fmt.Errorf("get key of %s: %w", profile, err)
	}
	p.o.logger.Debug("sealed key opened", "profile", profile, "serial", s.Serial, "slot", fmt.Sprintf("%02x", s.Slot))
	return k, nil
}

// Put seals k to the store's recipient and replaces the profile's file.
func (p *PIVStore) Put(_ context.Context, profile string, k Key) error {
	if err := checkProfile("put key", profile); err != nil {
		return err
	}
	if err := checkKey("put key", profile, k); err != nil {
		return err
	}
	if p.rcpt == nil {
		return fmt.Errorf("put key of %s: no PIV key to seal to", profile)
	}
	data, err := Seal(*p.rcpt, profile, p.o.stamp(k))
	if err != nil {
		return err
	}
	if err := writePrivate(p.path(profile), data); err != nil {
		return fmt.Errorf("put key of %s: %w", profile, err)
	}
	p.o.logger.Debug("key sealed", "profile", profile, "serial", p.rcpt.Serial, "file", p.path(profile))
	return nil
}

// Delete removes the profile's sealed file.
func (p *PIVStore) Delete(_ context.Context, profile string) error {
	if err := checkProfile("delete key", profile); err != nil {
		return err
	}
	if err := removeFile(p.path(profile)); err != nil {
		return fmt.Errorf("delete key of %s: %w", profile, err)
	}
	return nil
}

// List reads the headers of the sealed files (no card needed). A file that
// does not parse is an error naming it.
func (p *PIVStore) List(context.Context) ([]Entry, error) {
	des, err := os.ReadDir(p.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list keys: %w", err)
	}
	var out []Entry
	for _, de := range des {
		name, ok := strings.CutSuffix(de.Name(), sealedExt)
		if !ok || !profileRe.MatchString(name) {
			continue
		}
		s, err := p.load("list keys", name)
		if err != nil {
			return nil, err
		}
		out = append(out, Entry{Profile: name, AccessKeyID: s.AccessKeyID, Created: s.Created})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Profile < out[j].Profile })
	return out, nil
}
