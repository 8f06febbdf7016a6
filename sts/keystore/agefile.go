package keystore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"filippo.io/age"
	"github.com/gofrs/flock"
)

// AgeFile keeps one age file per profile, DIR/PROFILE.age (mode 0600),
// encrypted to a passphrase with age's scrypt recipient, for machines
// without an OS keystore. The files open with the age CLI too
// (`age -d`); each holds the JSON {"access_key_id", "secret_access_key",
// "session_token", "created"}. List reads DIR/index.json (no secrets) so
// it needs no passphrase.
type AgeFile struct {
	dir  string
	pass Passphrase
	o    options
}

const (
	ageExt    = ".age"
	ageIndex  = "index.json"
	maxAgeOut = 64 << 10
)

// NewAgeFile returns the store in dir; pass supplies the passphrase for
// every Get and Put.
func NewAgeFile(dir string, pass Passphrase, opts ...Option) *AgeFile {
	return &AgeFile{dir: dir, pass: pass, o: buildOptions(opts)}
}

type storedKey struct {
	AccessKeyID string `json:"access_key_id"`
	Secret      string `json:"secret_access_key"`
	Token       string `json:"session_token,omitempty"`
	Created     int64  `json:"created"`
}

func (a *AgeFile) passphrase(ctx context.Context, op, profile string, confirm bool) (string, error) {
	if a.pass == nil {
		return "", fmt.Errorf("%s of %s: %w", op, profile, ErrNoPassphrase)
	}
	pw, err := a.pass(ctx, confirm)
	if err != nil {
		return "", fmt.Errorf("%s of %s: passphrase: %w", op, profile, err)
	}
	if pw == "" {
		return "", fmt.Errorf("%s of %s: %w", op, profile, ErrNoPassphrase)
	}
	return pw, nil
}

// Get decrypts the profile's file.
func (a *AgeFile) Get(ctx context.Context, profile string) (Key, error) {
	if err := checkProfile("get key", profile); err != nil {
		return Key{}, err
	}
	path := filepath.Join(a.dir, profile+ageExt)
	data, err := readPrivate(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Key{}, fmt.Errorf("get key of %s: %w", profile, ErrNotFound)
	}
	if err != nil {
		return Key{}, fmt.Errorf("get key of %s: %w", profile, err)
	}
	pw, err := a.passphrase(ctx, "get key", profile, false)
	if err != nil {
		return Key{}, err
	}
	id, err := age.NewScryptIdentity(pw)
	if err != nil {
		return Key{}, fmt.Errorf("get key of %s: %w", profile, err)
	}
	id.SetMaxWorkFactor(max(a.o.workFactor, 18))
	r, err := age.Decrypt(bytes.NewReader(data), id)
	if errors.Is(err, age.ErrIncorrectIdentity) {
		return Key{}, fmt.Errorf("get key of %s: %s: %w", profile, path, ErrWrongPassphrase)
	}
	if err != nil {
		return Key{}, fmt.Errorf("get key of %s: %s: %w: %v", profile, path, ErrTampered, err)
	}
	pt, err := io.ReadAll(io.LimitReader(r, maxAgeOut))
	if err != nil {
		return Key{}, fmt.Errorf("get key of %s: %s: %w: %v", profile, path, ErrTampered, err)
	}
	defer clear(pt)
	var sk storedKey
	if err := json.Unmarshal(pt, &sk); err != nil {
		return Key{}, fmt.Errorf("get key of %s: %s: %w: not a key", profile, path, ErrTampered)
	}
	return sk.key(), nil
}

func (sk storedKey) key() Key {
	k := Key{AccessKeyID: sk.AccessKeyID, SecretAccessKey: sk.Secret, SessionToken: sk.Token}
	if sk.Created != 0 {
		k.Created = unixUTC(sk.Created)
	}
	return k
}

// Put encrypts k to the passphrase and replaces the profile's file.
func (a *AgeFile) Put(ctx context.Context, profile string, k Key) error {
	if err := checkProfile("put key", profile); err != nil {
		return err
	}
	if err := checkKey("put key", profile, k); err != nil {
		return err
	}
	k = a.o.stamp(k)
	pw, err := a.passphrase(ctx, "put key", profile, true)
	if err != nil {
		return err
	}
	rc, err := age.NewScryptRecipient(pw)
	if err != nil {
		return fmt.Errorf("put key of %s: %w", profile, err)
	}
	rc.SetWorkFactor(a.o.workFactor)
	pt, err := json.Marshal(storedKey{AccessKeyID: k.AccessKeyID, Secret: k.SecretAccessKey, Token: k.SessionToken, Created: k.Created.Unix()})
	if err != nil {
		return fmt.Errorf("put key of %s: %w", profile, err)
	}
	defer clear(pt)
	var buf bytes.Buffer
	w, err := age.Encrypt(&buf, rc)
	if err != nil {
		return fmt.Errorf("put key of %s: %w", profile, err)
	}
	if _, err := w.Write(pt); err != nil {
		return fmt.Errorf("put key of %s: %w", profile, err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("put key of %s: %w", profile, err)
	}
	if err := writePrivate(filepath.Join(a.dir, profile+ageExt), buf.Bytes()); err != nil {
		return fmt.Errorf("put key of %s: %w", profile, err)
	}
	if err := a.updateIndex(func(m map[string]Entry) {
		m[profile] = Entry{Profile: profile, AccessKeyID: k.AccessKeyID, Created: k.Created}
	}); err != nil {
		return fmt.Errorf("put key of %s: %w", profile, err)
	}
	a.o.logger.Debug("key stored in age file", "profile", profile, "key", k)
	return nil
}

// Delete removes the profile's file and index entry.
func (a *AgeFile) Delete(_ context.Context, profile string) error {
	if err := checkProfile("delete key", profile); err != nil {
		return err
	}
	if err := removeFile(filepath.Join(a.dir, profile+ageExt)); err != nil {
		return fmt.Errorf("delete key of %s: %w", profile, err)
	}
	if err := a.updateIndex(func(m map[string]Entry) { delete(m, profile) }); err != nil {
		return fmt.Errorf("delete key of %s: %w", profile, err)
	}
	return nil
}

// List returns one entry per profile file, with the key id and date from
// the index (empty when the index lacks the profile).
func (a *AgeFile) List(context.Context) ([]Entry, error) {
	m, err := readIndex(filepath.Join(a.dir, ageIndex))
	if err != nil {
		return nil, fmt.Errorf("list keys: %w", err)
	}
	des, err := os.ReadDir(a.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list keys: %w", err)
	}
	var out []Entry
	for _, de := range des {
		name, ok := strings.CutSuffix(de.Name(), ageExt)
		if !ok || !profileRe.MatchString(name) {
			continue
		}
		e, ok := m[name]
		if !ok {
			e = Entry{Profile: name}
		}
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Profile < out[j].Profile })
	return out, nil
}

// updateIndex edits the index under a lock file, so that two processes
// storing different profiles do not lose each other's entries.
func (a *AgeFile) updateIndex(f func(map[string]Entry)) error {
	lock := flock.New(filepath.Join(a.dir, ageIndex+".lock"))
	if err := lock.Lock(); err != nil {
		return fmt.Errorf("lock key index: %w", err)
	}
	defer lock.Unlock()
	path := filepath.Join(a.dir, ageIndex)
	m, err := readIndex(path)
	if err != nil {
		return err
	}
	f(m)
	data, err := marshalIndex(m)
	if err != nil {
		return err
	}
	return writePrivate(path, data)
}

// indexEntry is an Entry on disk.
type indexEntry struct {
	AccessKeyID string `json:"access_key_id"`
	Created     int64  `json:"created,omitempty"`
}

func readIndex(path string) (map[string]Entry, error) {
	data, err := readPrivate(path)
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]Entry{}, nil
	}
	if err != nil {
		return nil, err
	}
	return parseIndex(data)
}

func parseIndex(data []byte) (map[string]Entry, error) {
	var raw map[string]indexEntry
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("key index: %w", err)
	}
	m := make(map[string]Entry, len(raw))
	for name, ie := range raw {
		if !profileRe.MatchString(name) || strings.ContainsAny(ie.AccessKeyID, "\r\n") {
			continue
		}
		e := Entry{Profile: name, AccessKeyID: ie.AccessKeyID}
		if ie.Created != 0 {
			e.Created = unixUTC(ie.Created)
		}
		m[name] = e
	}
	return m, nil
}

func marshalIndex(m map[string]Entry) ([]byte, error) {
	raw := make(map[string]indexEntry, len(m))
	for name, e := range m {
		ie := indexEntry{AccessKeyID: e.AccessKeyID}
		if !e.Created.IsZero() {
			ie.Created = e.Created.Unix()
		}
		raw[name] = ie
	}
	return json.MarshalIndent(raw, "", "  ")
}
