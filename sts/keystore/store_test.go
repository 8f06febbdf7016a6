package keystore

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	gokeyring "github.com/zalando/go-keyring"
)

var ctx = context.Background()

var fixedNow = time.Date(2026, 12, 2, 8, 0, 0, 0, time.UTC)

func clock() time.Time { return fixedNow }

var (
	aliceKey = Key{AccessKeyID: "AKIAALICE00000000001", SecretAccessKey: "alice/secret+access+key/000000000000000"}
	bobKey   = Key{AccessKeyID: "AKIABOB0000000000002", SecretAccessKey: "bob-secret-access-key-00000000000000000"}
)

// softCard is a PIV card in software: one P-256 key per slot.
type softCard struct {
	serial uint32
	keys   map[byte]*ecdh.PrivateKey
	calls  int
}

func newSoftCard(t testing.TB, serial uint32, slots ...byte) *softCard {
	c := &softCard{serial: serial, keys: map[byte]*ecdh.PrivateKey{}}
	for _, s := range slots {
		k, err := ecdh.P256().GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		c.keys[s] = k
	}
	return c
}

func (c *softCard) Serial() uint32 { return c.serial }

func (c *softCard) PublicKey(_ context.Context, slot byte) (*ecdh.PublicKey, error) {
	k, ok := c.keys[slot]
	if !ok {
		return nil, ErrNotFound
	}
	return k.PublicKey(), nil
}

func (c *softCard) ECDH(_ context.Context, slot byte, peer *ecdh.PublicKey) ([]byte, error) {
	c.calls++
	k, ok := c.keys[slot]
	if !ok {
		return nil, ErrNotFound
	}
	return k.ECDH(peer)
}

func (c *softCard) recipient(slot byte) *Recipient {
	return &Recipient{Serial: c.serial, Slot: slot, PublicKey: c.keys[slot].PublicKey()}
}

// opener returns the given card whatever serial is asked for (Open then
// compares), or ErrNotFound for a nil card.
func opener(card *softCard) CardOpener {
	return func(context.Context, uint32) (Card, func() error, error) {
		if card == nil {
			return nil, nil, ErrNotFound
		}
		return card, func() error { return nil }, nil
	}
}

// memKeyring is an in-memory KeyringBackend with go-keyring's not-found
// error.
type memKeyring struct {
	mu sync.Mutex
	m  map[string]string
}

func (k *memKeyring) Set(s, u, p string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.m == nil {
		k.m = map[string]string{}
	}
	k.m[s+"\x00"+u] = p
	return nil
}

func (k *memKeyring) Get(s, u string) (string, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	v, ok := k.m[s+"\x00"+u]
	if !ok {
		return "", gokeyring.ErrNotFound
	}
	return v, nil
}

func (k *memKeyring) Delete(s, u string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if _, ok := k.m[s+"\x00"+u]; !ok {
		return gokeyring.ErrNotFound
	}
	delete(k.m, s+"\x00"+u)
	return nil
}

func staticPass(pw string) Passphrase {
	return func(context.Context, bool) (string, error) { return pw, nil }
}

// stores builds one of each store in a fresh directory.
func stores(t *testing.T) map[string]Store {
	dir := t.TempDir()
	card := newSoftCard(t, 12345678, 0x9d)
	piv, err := NewPIVStore(filepath.Join(dir, "sealed"), card.recipient(0x9d), opener(card), WithClock(clock))
	if err != nil {
		t.Fatal(err)
	}
	return map[string]Store{
		"credentials": NewCredentialsFile(filepath.Join(dir, "credentials")),
		"age":         NewAgeFile(filepath.Join(dir, "age"), staticPass("correct horse"), WithClock(clock), WithScryptWorkFactor(10)),
		"piv":         piv,
		"keyring":     NewKeyring(&memKeyring{}, WithClock(clock)),
	}
}

// Every store keeps the Store contract: Put/Get round trip, replace, List
// without secrets, Delete, ErrNotFound, bad names and keys refused.
func TestStoreContract(t *testing.T) {
	for name, s := range stores(t) {
		t.Run(name, func(t *testing.T) {
			if _, err := s.Get(ctx, "alice"); !errors.Is(err, ErrNotFound) {
				t.Fatalf("get before put: %v, want ErrNotFound", err)
			}
			if err := s.Delete(ctx, "alice"); !errors.Is(err, ErrNotFound) {
				t.Fatalf("delete before put: %v, want ErrNotFound", err)
			}
			if err := s.Put(ctx, "alice", aliceKey); err != nil {
				t.Fatal(err)
			}
			if err := s.Put(ctx, "bob", bobKey); err != nil {
				t.Fatal(err)
			}
			got, err := s.Get(ctx, "alice")
			if err != nil {
				t.Fatal(err)
			}
			if got.AccessKeyID != aliceKey.AccessKeyID || got.SecretAccessKey != aliceKey.SecretAccessKey || got.SessionToken != "" {
				t.Fatalf("get = %+v", got)
			}
			if name != "credentials" && !got.Created.Equal(fixedNow) {
				t.Fatalf("created = %v, want %v", got.Created, fixedNow)
			}
			// Replace with a session-credential key.
			sess := Key{AccessKeyID: "ASIAALICE00000000009", SecretAccessKey: "s2", SessionToken: "tok/en+=="}
			if err := s.Put(ctx, "alice", sess); err != nil {
				t.Fatal(err)
			}
			if got, err := s.Get(ctx, "alice"); err != nil || got.AccessKeyID != sess.AccessKeyID || got.SessionToken != sess.SessionToken || got.SecretAccessKey != "s2" {
				t.Fatalf("get after replace = %+v, %v", got, err)
			}
			list, err := s.List(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(list) != 2 || list[0].Profile != "alice" || list[0].AccessKeyID != sess.AccessKeyID || list[1].Profile != "bob" || list[1].AccessKeyID != bobKey.AccessKeyID {
				t.Fatalf("list = %+v", list)
			}
			if name != "credentials" && !list[1].Created.Equal(fixedNow) {
				t.Fatalf("list created = %v", list[1].Created)
			}
			if err := s.Delete(ctx, "alice"); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Get(ctx, "alice"); !errors.Is(err, ErrNotFound) {
				t.Fatalf("get after delete: %v", err)
			}
			if list, _ := s.List(ctx); len(list) != 1 || list[0].Profile != "bob" {
				t.Fatalf("list after delete = %+v", list)
			}
			for _, bad := range []string{"", "../x", ".hidden", "a b", "a/b", strings.Repeat("x", 65)} {
				if err := s.Put(ctx, bad, aliceKey); !errors.Is(err, ErrBadProfile) {
					t.Errorf("put %q: %v, want ErrBadProfile", bad, err)
				}
			}
			for _, k := range []Key{
				{AccessKeyID: "akiaLOWER0000000000", SecretAccessKey: "x"},
				{AccessKeyID: aliceKey.AccessKeyID},
				{AccessKeyID: aliceKey.AccessKeyID, SecretAccessKey: "with space"},
				{AccessKeyID: aliceKey.AccessKeyID, SecretAccessKey: "line\nbreak"},
			} {
				if err := s.Put(ctx, "carol", k); !errors.Is(err, ErrBadKey) {
					t.Errorf("put %q: %v, want ErrBadKey", k.AccessKeyID, err)
				}
			}
		})
	}
}

func TestKeyRedacted(t *testing.T) {
	k := aliceKey
	k.SessionToken = "the-token"
	var buf bytes.Buffer
	for _, s := range []string{k.String(), k.LogValue().String()} {
		buf.WriteString(s)
	}
	if strings.Contains(buf.String(), k.SecretAccessKey) || strings.Contains(buf.String(), "the-token") || !strings.Contains(buf.String(), k.AccessKeyID) {
		t.Fatalf("redaction: %q", buf.String())
	}
}

// assertNoSecret fails if any file under dir holds secret as text, base64
// (standard or URL, padded or not) or hex.
func assertNoSecret(t *testing.T, dir, secret string) {
	t.Helper()
	forms := []string{secret, hex.EncodeToString([]byte(secret)),
		base64.StdEncoding.EncodeToString([]byte(secret)), base64.RawStdEncoding.EncodeToString([]byte(secret)),
		base64.URLEncoding.EncodeToString([]byte(secret)), base64.RawURLEncoding.EncodeToString([]byte(secret))}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err // sockets and FIFOs hold no file content
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, f := range forms {
			if bytes.Contains(bytes.ToLower(data), bytes.ToLower([]byte(f))) {
				t.Errorf("%s holds the secret (%q)", path, f)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// stuckKeyring never answers, like a locked Secret Service collection
// waiting for an unlock prompt on a headless machine.
type stuckKeyring struct{ release chan struct{} }

func (k stuckKeyring) Set(string, string, string) error { <-k.release; return nil }
func (k stuckKeyring) Get(string, string) (string, error) {
	<-k.release
	return "", gokeyring.ErrNotFound
}
func (k stuckKeyring) Delete(string, string) error { <-k.release; return nil }

func TestKeyringHonoursContext(t *testing.T) {
	stuck := stuckKeyring{release: make(chan struct{})}
	defer close(stuck.release)
	s := NewKeyring(stuck)
	for name, call := range map[string]func(context.Context) error{
		"get":    func(c context.Context) error { _, err := s.Get(c, "alice"); return err },
		"put":    func(c context.Context) error { return s.Put(c, "alice", aliceKey) },
		"delete": func(c context.Context) error { return s.Delete(c, "alice") },
		"list":   func(c context.Context) error { _, err := s.List(c); return err },
	} {
		c, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
		err := call(c)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "did not answer") {
			t.Errorf("%s: %v", name, err)
		}
	}
}
