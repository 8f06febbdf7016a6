package keystore

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func sealFor(t testing.TB, card *softCard, slot byte, profile string) []byte {
	t.Helper()
	k := aliceKey
	k.Created = fixedNow
	data, err := Seal(*card.recipient(slot), profile, k)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestSealRoundTrip(t *testing.T) {
	card := newSoftCard(t, 12345678, 0x9d, 0x95)
	for _, slot := range []byte{0x9d, 0x95} {
		data := sealFor(t, card, slot, "alice")
		if bytes.Contains(data, []byte(aliceKey.SecretAccessKey)) {
			t.Fatal("secret in clear")
		}
		s, err := ParseSealed(data)
		if err != nil {
			t.Fatal(err)
		}
		if s.Serial != 12345678 || s.Slot != slot || s.Profile != "alice" || s.AccessKeyID != aliceKey.AccessKeyID || !s.Created.Equal(fixedNow) {
			t.Fatalf("header = %+v", s)
		}
		k, err := s.Open(ctx, card)
		if err != nil || k.SecretAccessKey != aliceKey.SecretAccessKey || k.AccessKeyID != aliceKey.AccessKeyID {
			t.Fatalf("open = %v, %v", k, err)
		}
	}
	// Two seals of the same key differ (fresh ephemeral key).
	if bytes.Equal(sealFor(t, card, 0x9d, "alice"), sealFor(t, card, 0x9d, "alice")) {
		t.Fatal("sealing is deterministic")
	}
}

// The shared secret is the x-coordinate of the ECDH point, computed on the
// card side with the card key and the ephemeral point, on the sealing side
// with the ephemeral key and the card's public point: the card's ECDH
// answer (GENERAL AUTHENTICATE tag 85) is what crypto/ecdh returns.
func TestSealUsesCardECDH(t *testing.T) {
	card := newSoftCard(t, 1, 0x9d)
	s, err := ParseSealed(sealFor(t, card, 0x9d, "alice"))
	if err != nil {
		t.Fatal(err)
	}
	card.calls = 0
	if _, err := s.Open(ctx, card); err != nil {
		t.Fatal(err)
	}
	if card.calls != 1 {
		t.Fatalf("ECDH calls = %d, want 1", card.calls)
	}
	// A card that answers a wrong shared secret fails the GCM tag.
	bad := &lyingCard{card}
	if _, err := s.Open(ctx, bad); !errors.Is(err, ErrTampered) {
		t.Fatalf("wrong shared secret: %v", err)
	}
}

type lyingCard struct{ *softCard }

func (l *lyingCard) ECDH(ctx2 context.Context, slot byte, peer *ecdh.PublicKey) ([]byte, error) {
	out, err := l.softCard.ECDH(ctx2, slot, peer)
	if err == nil {
		out[0] ^= 1
	}
	return out, err
}

func TestSealedErrors(t *testing.T) {
	card := newSoftCard(t, 12345678, 0x9d, 0x82)
	good := sealFor(t, card, 0x9d, "alice")

	t.Run("truncated", func(t *testing.T) {
		for n := 0; n < len(good); n++ {
			s, err := ParseSealed(good[:n])
			if err == nil {
				// Only the ciphertext was cut: the tag check catches it.
				if _, err = s.Open(ctx, card); !errors.Is(err, ErrTampered) {
					t.Fatalf("cut to %d: open: %v, want ErrTampered", n, err)
				}
				continue
			}
			if n > 0 && !errors.Is(err, ErrTruncated) {
				t.Fatalf("cut to %d: %v, want ErrTruncated", n, err)
			}
		}
	})
	t.Run("tampered", func(t *testing.T) {
		// Flip each bit of each byte: never a key, always a typed error.
		for i := range good {
			for bit := 0; bit < 8; bit++ {
				b := bytes.Clone(good)
				b[i] ^= 1 << bit
				s, err := ParseSealed(b)
				if err == nil {
					_, err = s.Open(ctx, card)
				}
				var ve *VersionError
				var se *SerialError
				var sl *SlotError
				var km *KeyMismatchError
				switch {
				case err == nil:
					t.Fatalf("byte %d bit %d flipped: opened", i, bit)
				case errors.Is(err, ErrTampered), errors.Is(err, ErrNotSealed), errors.Is(err, ErrTruncated),
					errors.As(err, &ve), errors.As(err, &se), errors.As(err, &sl), errors.As(err, &km):
				default:
					t.Fatalf("byte %d bit %d flipped: untyped error %v", i, bit, err)
				}
			}
		}
		// The GCM tag itself.
		b := bytes.Clone(good)
		b[len(b)-1] ^= 0x80
		s, err := ParseSealed(b)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Open(ctx, card); !errors.Is(err, ErrTampered) {
			t.Fatalf("tag flipped: %v", err)
		}
	})
	t.Run("another serial", func(t *testing.T) {
		other := newSoftCard(t, 87654321, 0x9d)
		s, _ := ParseSealed(good)
		_, err := s.Open(ctx, other)
		var se *SerialError
		if !errors.As(err, &se) || se.Want != 12345678 || se.Found != 87654321 || !strings.Contains(err.Error(), "12345678") {
			t.Fatalf("other card: %v", err)
		}
	})
	t.Run("newer version", func(t *testing.T) {
		b := bytes.Clone(good)
		b[len(sealMagic)] = SealVersion + 1
		_, err := ParseSealed(b)
		var ve *VersionError
		if !errors.As(err, &ve) || ve.Version != 2 || ve.Supported != 1 {
			t.Fatalf("newer version: %v", err)
		}
		// Even a newer file too short for version 1's header says "newer".
		if _, err := ParseSealed(b[:len(sealMagic)+1]); !errors.As(err, &ve) {
			t.Fatalf("short newer version: %v", err)
		}
	})
	t.Run("wrong slot", func(t *testing.T) {
		for _, slot := range []byte{0x9a, 0x9c, 0x9e, 0x81, 0x96, 0xf9} {
			r := *card.recipient(0x9d)
			r.Slot = slot
			var sl *SlotError
			if _, err := Seal(r, "alice", aliceKey); !errors.As(err, &sl) || sl.Slot != slot {
				t.Errorf("seal to slot %02x: %v", slot, err)
			}
			if _, err := NewPIVStore(t.TempDir(), &r, nil); !errors.As(err, &sl) {
				t.Errorf("store for slot %02x: %v", slot, err)
			}
		}
		// The file names 9d, but the card's 9d key is another key (replaced)
		// while the sealing key sits in 82.
		moved := &softCard{serial: card.serial, keys: map[byte]*ecdh.PrivateKey{0x82: card.keys[0x9d], 0x9d: card.keys[0x82]}}
		s, _ := ParseSealed(good)
		var km *KeyMismatchError
		if _, err := s.Open(ctx, moved); !errors.As(err, &km) || km.Slot != 0x9d || km.Serial != 12345678 {
			t.Fatalf("key in another slot: %v", err)
		}
		empty := &softCard{serial: card.serial, keys: map[byte]*ecdh.PrivateKey{}}
		if _, err := s.Open(ctx, empty); !errors.As(err, &km) {
			t.Fatalf("empty slot: %v", err)
		}
		if moved.calls+empty.calls != 0 {
			t.Fatal("ECDH attempted with the wrong key")
		}
	})
	t.Run("not sealed", func(t *testing.T) {
		for _, b := range [][]byte{nil, []byte("age-encryption.org/v1\n"), []byte("[alice]\n")} {
			if _, err := ParseSealed(b); !errors.Is(err, ErrNotSealed) {
				t.Errorf("%q: %v", b, err)
			}
		}
	})
}

// PIVStore.Get failures name the file's needs and overwrite nothing.
func TestPIVStoreGetErrorsWriteNothing(t *testing.T) {
	dir := t.TempDir()
	card := newSoftCard(t, 12345678, 0x9d)
	st, err := NewPIVStore(dir, card.recipient(0x9d), opener(card))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Put(ctx, "alice", aliceKey); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "alice.sealed")
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("sealed file: %v, %v", fi, err)
	}
	orig, _ := os.ReadFile(path)
	snapshot := func() map[string]string {
		m := map[string]string{}
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			b, _ := os.ReadFile(filepath.Join(dir, e.Name()))
			m[e.Name()] = string(b)
		}
		return m
	}

	other := newSoftCard(t, 99, 0x9d)
	for _, tc := range []struct {
		name  string
		store *PIVStore
		check func(error) bool
		text  string
	}{
		{"another card", mustPIV(t, dir, opener(other)), func(err error) bool { var se *SerialError; return errors.As(err, &se) && se.Found == 99 }, "serial 12345678"},
		{"no card", mustPIV(t, dir, opener(nil)), func(err error) bool { var se *SerialError; return errors.As(err, &se) && se.Found == 0 }, "serial 12345678, which is not present"},
	} {
		before := snapshot()
		_, err := tc.store.Get(ctx, "alice")
		if err == nil || !tc.check(err) || !strings.Contains(err.Error(), tc.text) {
			t.Errorf("%s: %v", tc.name, err)
		}
		if after := snapshot(); len(after) != len(before) || after["alice.sealed"] != string(orig) {
			t.Errorf("%s: files changed", tc.name)
		}
	}
	// Tampered and truncated files on disk.
	for name, data := range map[string][]byte{"tampered": flipLast(orig), "truncated": orig[:40]} {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := st.Get(ctx, "alice")
		if (name == "tampered" && !errors.Is(err, ErrTampered)) || (name == "truncated" && !errors.Is(err, ErrTruncated)) {
			t.Errorf("%s: %v", name, err)
		}
		if got, _ := os.ReadFile(path); !bytes.Equal(got, data) {
			t.Errorf("%s: file rewritten", name)
		}
	}
	// A file renamed to another profile's name does not open as that
	// profile.
	if err := os.WriteFile(filepath.Join(dir, "bob.sealed"), orig, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Get(ctx, "bob"); !errors.Is(err, ErrTampered) || !strings.Contains(err.Error(), `"alice"`) {
		t.Errorf("renamed file: %v", err)
	}
	// A world-readable or linked file is refused before parsing.
	if err := os.WriteFile(path, orig, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Get(ctx, "alice"); !errors.Is(err, ErrUnsafeFile) {
		t.Errorf("mode 0644: %v", err)
	}
	os.Remove(path)
	if err := os.Symlink(filepath.Join(dir, "bob.sealed"), path); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Get(ctx, "alice"); !errors.Is(err, ErrUnsafeFile) {
		t.Errorf("symlink: %v", err)
	}
}

func mustPIV(t *testing.T, dir string, open CardOpener) *PIVStore {
	st, err := NewPIVStore(dir, nil, open)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func flipLast(b []byte) []byte {
	c := bytes.Clone(b)
	c[len(c)-1] ^= 1
	return c
}

// The parser never panics, and what it accepts re-encodes to the same
// header bytes.
func FuzzParseSealed(f *testing.F) {
	card := newSoftCard(f, 12345678, 0x9d)
	good := sealFor(f, card, 0x9d, "alice")
	f.Add(good)
	f.Add(good[:len(good)-17])
	f.Add([]byte(sealMagic + "\x02"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ParseSealed(data)
		if err != nil {
			return
		}
		var h bytes.Buffer
		h.WriteString(sealMagic)
		h.WriteByte(byte(s.Version))
		h.Write([]byte{byte(s.Serial >> 24), byte(s.Serial >> 16), byte(s.Serial >> 8), byte(s.Serial), s.Slot})
		h.Write(s.Recipient.Bytes())
		h.Write(s.Ephemeral.Bytes())
		u := uint64(s.Created.Unix())
		for i := 7; i >= 0; i-- {
			h.WriteByte(byte(u >> (8 * i)))
		}
		h.WriteByte(byte(len(s.AccessKeyID)))
		h.WriteString(s.AccessKeyID)
		h.WriteByte(byte(len(s.Profile)))
		h.WriteString(s.Profile)
		if !bytes.Equal(h.Bytes(), s.header) || !bytes.Equal(append(bytes.Clone(s.header), s.ciphertext...), data) {
			t.Fatalf("round trip differs")
		}
		if !ValidSealingSlot(s.Slot) || len(s.ciphertext) < gcmTagLen {
			t.Fatalf("accepted slot %02x / %d-byte ciphertext", s.Slot, len(s.ciphertext))
		}
		_ = s.Created.Before(time.Now())
	})
}

// Header reads where a file is sealed to without any card.
func TestPIVStoreHeader(t *testing.T) {
	// A folder the store creates itself, private as it makes it (Wine's
	// temporary folder grants Everyone read, which the store refuses).
	dir := filepath.Join(t.TempDir(), "sealed")
	card := newSoftCard(t, 12345678, 0x85)
	st, err := NewPIVStore(dir, card.recipient(0x85), opener(card))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Put(ctx, "alice", aliceKey); err != nil {
		t.Fatal(err)
	}
	h, err := mustPIV(t, dir, opener(nil)).Header("alice")
	if err != nil || h.Serial != 12345678 || h.Slot != 0x85 || h.AccessKeyID != aliceKey.AccessKeyID || !h.Recipient.Equal(card.recipient(0x85).PublicKey) {
		t.Fatalf("Header = %+v, %v", h, err)
	}
	if _, err := st.Header("bob"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Header of a profile without a file = %v, want ErrNotFound", err)
	}
}
