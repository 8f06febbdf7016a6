package keystore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"filippo.io/age"
)

func TestAgeFile(t *testing.T) {
	dir := t.TempDir()
	confirms := 0
	pass := func(_ context.Context, confirm bool) (string, error) {
		if confirm {
			confirms++
		}
		return "correct horse", nil
	}
	st := NewAgeFile(dir, pass, WithScryptWorkFactor(10), WithClock(clock))
	if err := st.Put(ctx, "alice", aliceKey); err != nil {
		t.Fatal(err)
	}
	if confirms != 1 {
		t.Errorf("put asked with confirm %d times, want 1", confirms)
	}
	path := filepath.Join(dir, "alice.age")
	for _, p := range []string{path, filepath.Join(dir, "index.json")} {
		fi, err := os.Stat(p)
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v %v", p, fi, err)
		}
	}
	assertNoSecret(t, dir, aliceKey.SecretAccessKey)
	data, _ := os.ReadFile(path)

	// A plain age file: the age library (and so `age -d`) opens it.
	id, _ := age.NewScryptIdentity("correct horse")
	r, err := age.Decrypt(bytes.NewReader(data), id)
	if err != nil {
		t.Fatal(err)
	}
	pt, _ := io.ReadAll(r)
	var sk storedKey
	if err := json.Unmarshal(pt, &sk); err != nil || sk.Secret != aliceKey.SecretAccessKey || sk.Created != fixedNow.Unix() {
		t.Fatalf("payload %q: %v", pt, err)
	}

	wrong := NewAgeFile(dir, staticPass("battery staple"))
	if _, err := wrong.Get(ctx, "alice"); !errors.Is(err, ErrWrongPassphrase) {
		t.Fatalf("wrong passphrase: %v", err)
	}
	for name, p := range map[string]Passphrase{"nil": nil, "empty": staticPass("")} {
		s := NewAgeFile(dir, p)
		if _, err := s.Get(ctx, "alice"); !errors.Is(err, ErrNoPassphrase) {
			t.Errorf("%s passphrase get: %v", name, err)
		}
		if err := s.Put(ctx, "bob", bobKey); !errors.Is(err, ErrNoPassphrase) {
			t.Errorf("%s passphrase put: %v", name, err)
		}
	}
	boom := errors.New("terminal gone")
	if _, err := NewAgeFile(dir, func(context.Context, bool) (string, error) { return "", boom }).Get(ctx, "alice"); !errors.Is(err, boom) {
		t.Errorf("prompt error: %v", err)
	}
	// Concurrent puts of different profiles keep every index entry.
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := NewAgeFile(dir, staticPass("correct horse"), WithScryptWorkFactor(10))
			if err := s.Put(ctx, fmt.Sprintf("p%d", i), bobKey); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if l, err := NewAgeFile(dir, nil).List(ctx); err != nil || len(l) != 5 || l[4].AccessKeyID != bobKey.AccessKeyID {
		t.Fatalf("list after concurrent puts: %v %v", l, err)
	}
	for i := range 4 {
		if err := st.Delete(ctx, fmt.Sprintf("p%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	// Listing needs no passphrase.
	if l, err := NewAgeFile(dir, nil).List(ctx); err != nil || len(l) != 1 || l[0].AccessKeyID != aliceKey.AccessKeyID {
		t.Fatalf("list: %v %v", l, err)
	}
	// Tampered payload.
	bad := bytes.Clone(data)
	bad[len(bad)-1] ^= 1
	if err := os.WriteFile(path, bad, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Get(ctx, "alice"); !errors.Is(err, ErrTampered) {
		t.Fatalf("tampered: %v", err)
	}
	// A group-readable file is refused, and the error says what to fix.
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o640); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Get(ctx, "alice"); !errors.Is(err, ErrUnsafeFile) || !strings.Contains(err.Error(), "0600") {
		t.Fatalf("mode 0640: %v", err)
	}
}
