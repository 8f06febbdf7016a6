package keystore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	gokeyring "github.com/zalando/go-keyring"
)

// KeyringService is the service name of mfabridge's keystore entries.
const KeyringService = "mfabridge"

// keyringIndexUser is the entry listing the stored profiles (no secrets),
// because the OS keystores have no portable "list" call in go-keyring.
const keyringIndexUser = "index"

// KeyringBackend is the OS keystore as go-keyring presents it; the default
// is go-keyring's provider for the platform. Get returns an error wrapping
// go-keyring's ErrNotFound for a missing entry.
type KeyringBackend interface {
	Set(service, user, secret string) error
	Get(service, user string) (string, error)
	Delete(service, user string) error
}

type goKeyring struct{}

func (goKeyring) Set(s, u, p string) error        { return gokeyring.Set(s, u, p) }
func (goKeyring) Get(s, u string) (string, error) { return gokeyring.Get(s, u) }
func (goKeyring) Delete(s, u string) error        { return gokeyring.Delete(s, u) }

// Keyring keeps each profile's key as one entry (service "mfabridge",
// account "profile:NAME", the JSON {"access_key_id", "secret_access_key",
// "session_token", "created"}) in the OS keystore, plus an index entry
// (account "index") listing profiles, key ids and dates for List.
//
// Platforms (go-keyring v0.2.8): Linux and BSD talk to the Secret Service
// over D-Bus (the login collection, unlocked by the desktop session);
// macOS runs /usr/bin/security and passes the secret only on its standard
// input (`security -i`, then "add-generic-password -U -s … -a … -w …"),
// never in argv; Windows calls CredWriteW in advapi32.
type Keyring struct {
	backend KeyringBackend
	o       options
}

// NewKeyring returns the OS keystore store; backend nil means go-keyring.
func NewKeyring(backend KeyringBackend, opts ...Option) *Keyring {
	if backend == nil {
		backend = goKeyring{}
	}
	return &Keyring{backend: backend, o: buildOptions(opts)}
}

func keyringUser(profile string) string { return "profile:" + profile }

func backendErr(err error) error {
	if errors.Is(err, gokeyring.ErrNotFound) {
		return ErrNotFound
	}
	return fmt.Errorf("%w: %w", ErrBackend, err)
}

// Get reads the profile's entry.
func (r *Keyring) Get(ctx context.Context, profile string) (Key, error) {
	if err := checkProfile("get key", profile); err != nil {
		return Key{}, err
	}
	v, err := r.get(ctx, keyringUser(profile))
	if err != nil {
		return Key{}, fmt.Errorf("get key of %s: %w", profile, backendErr(err))
	}
	var sk storedKey
	if err := json.Unmarshal([]byte(v), &sk); err != nil || sk.AccessKeyID == "" || sk.Secret == "" {
		return Key{}, fmt.Errorf("get key of %s: %w: the keystore entry is not an mfabridge key", profile, ErrBackend)
	}
	return sk.key(), nil
}

// Put writes the profile's entry, then the index.
func (r *Keyring) Put(ctx context.Context, profile string, k Key) error {
	if err := checkProfile("put key", profile); err != nil {
		return err
	}
	if err := checkKey("put key", profile, k); err != nil {
		return err
	}
	k = r.o.stamp(k)
	v, err := json.Marshal(storedKey{AccessKeyID: k.AccessKeyID, Secret: k.SecretAccessKey, Token: k.SessionToken, Created: k.Created.Unix()})
	if err != nil {
		return fmt.Errorf("put key of %s: %w", profile, err)
	}
	if err := r.do(ctx, func() error { return r.backend.Set(KeyringService, keyringUser(profile), string(v)) }); err != nil {
		return fmt.Errorf("put key of %s: %w", profile, backendErr(err))
	}
	if err := r.updateIndex(ctx, func(m map[string]Entry) {
		m[profile] = Entry{Profile: profile, AccessKeyID: k.AccessKeyID, Created: k.Created}
	}); err != nil {
		return fmt.Errorf("put key of %s: %w", profile, err)
	}
	r.o.logger.Debug("key stored in OS keystore", "profile", profile, "key", k)
	return nil
}

// Delete removes the profile's entry and its index line.
func (r *Keyring) Delete(ctx context.Context, profile string) error {
	if err := checkProfile("delete key", profile); err != nil {
		return err
	}
	if err := r.do(ctx, func() error { return r.backend.Delete(KeyringService, keyringUser(profile)) }); err != nil {
		return fmt.Errorf("delete key of %s: %w", profile, backendErr(err))
	}
	if err := r.updateIndex(ctx, func(m map[string]Entry) { delete(m, profile) }); err != nil {
		return fmt.Errorf("delete key of %s: %w", profile, err)
	}
	return nil
}

// List reads the index entry.
func (r *Keyring) List(ctx context.Context) ([]Entry, error) {
	m, err := r.index(ctx)
	if err != nil {
		return nil, fmt.Errorf("list keys: %w", err)
	}
	out := make([]Entry, 0, len(m))
	for _, e := range m {
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Profile < out[j].Profile })
	return out, nil
}

func (r *Keyring) index(ctx context.Context) (map[string]Entry, error) {
	v, err := r.get(ctx, keyringIndexUser)
	if errors.Is(err, gokeyring.ErrNotFound) {
		return map[string]Entry{}, nil
	}
	if err != nil {
		return nil, backendErr(err)
	}
	return parseIndex([]byte(v))
}

func (r *Keyring) updateIndex(ctx context.Context, f func(map[string]Entry)) error {
	m, err := r.index(ctx)
	if err != nil {
		return err
	}
	f(m)
	data, err := marshalIndex(m)
	if err != nil {
		return err
	}
	if err := r.do(ctx, func() error { return r.backend.Set(KeyringService, keyringIndexUser, string(data)) }); err != nil {
		return backendErr(err)
	}
	return nil
}

// do runs a backend call, returning early when ctx ends: go-keyring takes
// no context, and a locked Secret Service collection waits for an unlock
// prompt that may never come on a headless machine. The call itself runs
// on to completion in the background (a Set may still land).
func (r *Keyring) do(ctx context.Context, f func() error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("OS keystore did not answer: %w", ctx.Err())
	}
}

func (r *Keyring) get(ctx context.Context, user string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	type result struct {
		v   string
		err error
	}
	done := make(chan result, 1)
	go func() {
		v, err := r.backend.Get(KeyringService, user)
		done <- result{v, err}
	}()
	select {
	case res := <-done:
		return res.v, res.err
	case <-ctx.Done():
		return "", fmt.Errorf("OS keystore did not answer: %w", ctx.Err())
	}
}

func unixUTC(sec int64) time.Time { return time.Unix(sec, 0).UTC() }
