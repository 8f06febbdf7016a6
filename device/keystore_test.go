package device

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mfabridge/mfabridge/oath"
)

// memKeys is an in-memory KeyStore that counts its calls.
type memKeys struct {
	mu    sync.Mutex
	keys  map[string][]byte
	loads int
	err   error // returned by every call when set
}

func (m *memKeys) Load(id string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.loads++
	if m.err != nil {
		return nil, m.err
	}
	k, ok := m.keys[id]
	if !ok {
		return nil, ErrKeyNotRemembered
	}
	return k, nil
}

func (m *memKeys) Store(id string, key []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return m.err
	}
	if m.keys == nil {
		m.keys = map[string][]byte{}
	}
	m.keys[id] = append([]byte(nil), key...)
	return nil
}

func (m *memKeys) Forget(id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return m.err
	}
	if _, ok := m.keys[id]; !ok {
		return ErrKeyNotRemembered
	}
	delete(m.keys, id)
	return nil
}

func (m *memKeys) only(t *testing.T) (string, []byte) {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.keys) != 1 {
		t.Fatalf("%d keys remembered, want 1", len(m.keys))
	}
	for id, k := range m.keys {
		return id, k
	}
	return "", nil
}

// TestRememberedPassword: remember stores the derived key under the
// device id; a fresh process then opens the locked applet without asking;
// a remembered key the applet refuses is forgotten with one notice and
// the password is asked again; forget removes it.
func TestRememberedPassword(t *testing.T) {
	ctx := context.Background()
	keys := &memKeys{}
	var notices []Notice
	asked := 0
	pw := "hunter2"
	hooks := Hooks{Keys: keys, Notice: func(n Notice) { notices = append(notices, n) }}
	askHooks := hooks
	askHooks.Password = func(context.Context, Info) (string, error) { asked++; return pw, nil }

	y, card := memKey(t, "5.4.3", hooks)
	if err := y.Put(ctx, Credential{Account: "a"}, rfcKey, PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := y.RememberPassword(ctx, "hunter2"); !errors.Is(err, ErrNotProtected) {
		t.Fatalf("remember without a password: %v", err)
	}
	if err := y.SetPassword(ctx, "hunter2"); err != nil {
		t.Fatal(err)
	}
	if len(keys.keys) != 0 {
		t.Fatal("set stored a key nobody asked to remember")
	}
	fresh := func(h Hooks) *YubiKey { return NewYubiKey(y.info, y.open, h, nil) }
	if err := fresh(hooks).RememberPassword(ctx, "wrong"); !errors.Is(err, ErrWrongPassword) || len(keys.keys) != 0 {
		t.Fatalf("remember a wrong password: %v, %d keys", err, len(keys.keys))
	}
	if err := fresh(hooks).RememberPassword(ctx, "hunter2"); err != nil {
		t.Fatal(err)
	}
	id, key := keys.only(t)
	card.PowerOn()
	sel, err := oath.NewClient(card).Select(ctx)
	card.PowerOff()
	if err != nil {
		t.Fatal(err)
	}
	salt, wantID := sel.Salt, sel.DeviceID()
	if id != wantID || string(key) != string(oath.DeriveKey("hunter2", salt)) {
		t.Fatalf("remembered %q → %x, want the derived key under device id %q", id, key, wantID)
	}

	// A fresh process with no prompt at all opens the applet.
	if _, err := fresh(hooks).Calculate(ctx, "a", time.Unix(59, 0)); err != nil {
		t.Fatalf("with a remembered key: %v", err)
	}

	// Changed through this device: the remembered key follows.
	if err := fresh(hooks).SetPassword(ctx, "s3cond"); err != nil {
		t.Fatal(err)
	}
	if _, k := keys.only(t); string(k) != string(oath.DeriveKey("s3cond", salt)) {
		t.Fatal("set did not update the remembered key")
	}

	// Changed elsewhere (ykman): the remembered key is refused, forgotten,
	// said once, and the password asked.
	other := fresh(Hooks{Password: func(context.Context, Info) (string, error) { return "s3cond", nil }})
	if err := other.SetPassword(ctx, "th1rd"); err != nil {
		t.Fatal(err)
	}
	keys.keys[id] = oath.DeriveKey("s3cond", salt) // as it was before the change elsewhere
	pw = "th1rd"
	if _, err := fresh(askHooks).Calculate(ctx, "a", time.Unix(59, 0)); err != nil {
		t.Fatalf("after the change elsewhere: %v", err)
	}
	if asked != 1 || len(notices) != 1 || notices[0].Kind != NoticeRememberedRefused || notices[0].Err != nil ||
		!strings.Contains(notices[0].String(), "was refused; it is forgotten now") {
		t.Fatalf("asked %d times, notices %v: want one ask and one notice", asked, notices)
	}
	if len(keys.keys) != 0 {
		t.Fatal("the refused key is still remembered")
	}
	// Once: the next process is not told again, just asked.
	if _, err := fresh(askHooks).Calculate(ctx, "a", time.Unix(59, 0)); err != nil || asked != 2 || len(notices) != 1 {
		t.Fatalf("second run: %v, asked %d, notices %d", err, asked, len(notices))
	}
	// Without a prompt the error says the remembered one was refused.
	keys.keys[id] = oath.DeriveKey("s3cond", salt)
	_, err = fresh(hooks).List(ctx)
	if !errors.Is(err, ErrPasswordRequired) || !strings.Contains(err.Error(), "the remembered one was refused and forgotten") {
		t.Fatalf("no prompt, stale key: %v", err)
	}

	// Forget: needs no password; a second forget says there was none.
	if err := fresh(hooks).RememberPassword(ctx, "th1rd"); err != nil {
		t.Fatal(err)
	}
	if err := fresh(Hooks{Keys: keys}).ForgetPassword(ctx); err != nil {
		t.Fatal(err)
	}
	if err := fresh(Hooks{Keys: keys}).ForgetPassword(ctx); !errors.Is(err, ErrKeyNotRemembered) {
		t.Fatalf("second forget: %v", err)
	}

	// Clear through this device forgets a remembered key.
	if err := fresh(hooks).RememberPassword(ctx, "th1rd"); err != nil {
		t.Fatal(err)
	}
	if err := fresh(hooks).ClearPassword(ctx); err != nil {
		t.Fatal(err)
	}
	if len(keys.keys) != 0 {
		t.Fatal("clear left the key remembered")
	}
}

// TestRememberedPasswordStoreDown: a keystore that cannot be read is not
// "no key": the error says why, and nothing is forgotten.
func TestRememberedPasswordStoreDown(t *testing.T) {
	ctx := context.Background()
	keys := &memKeys{}
	y, _ := memKey(t, "5.4.3", Hooks{Keys: keys})
	if err := y.SetPassword(ctx, "pw"); err != nil {
		t.Fatal(err)
	}
	keys.err = errors.New("secret service: timed out")
	_, err := NewYubiKey(y.info, y.open, Hooks{Keys: keys}, nil).List(ctx)
	if !errors.Is(err, ErrPasswordRequired) || !strings.Contains(err.Error(), "no remembered password could be read: secret service: timed out") {
		t.Fatalf("store down: %v", err)
	}
	if err := NewYubiKey(y.info, y.open, Hooks{}, nil).RememberPassword(ctx, "pw"); !errors.Is(err, ErrNoKeyStore) {
		t.Fatalf("no store: %v", err)
	}
	// Unlocked applets never touch the store.
	keys.err, keys.loads = nil, 0
	z, _ := memKey(t, "5.4.3", Hooks{Keys: keys})
	if _, err := z.List(ctx); err != nil || keys.loads != 0 {
		t.Fatalf("unlocked applet: %v, %d loads", err, keys.loads)
	}
}
