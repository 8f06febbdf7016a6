package sts

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/gofrs/flock"
)

// DefaultCacheDir returns MFABRIDGE_CACHE_DIR, else $HOME/.cache/mfabridge.
func DefaultCacheDir(env Env) (string, error) {
	if env == nil {
		return "", errors.New("default cache dir: no environment")
	}
	if d := env("MFABRIDGE_CACHE_DIR"); d != "" {
		return d, nil
	}
	if h := env("HOME"); h != "" {
		return filepath.Join(h, ".cache", "mfabridge"), nil
	}
	return "", errors.New("default cache dir: neither MFABRIDGE_CACHE_DIR nor HOME is set")
}

// cacheVersion is the format of cache and ledger files.
const cacheVersion = 1

// cacheEntry is one cached STS result.
type cacheEntry struct {
	Version     int         `json:"version"`
	Action      Action      `json:"action"`
	Target      string      `json:"target"` // role ARN or MFA serial
	Credentials Credentials `json:"credentials"`
	// MFATime is when the code that authenticated this session was
	// accepted (GetSessionToken only); mfabridge_mfa_max_age counts from it.
	MFATime time.Time `json:"mfa_time,omitzero"`
}

func (e *cacheEntry) valid() bool {
	c := e.Credentials
	return e.Version == cacheVersion && e.Action != "" && c.AccessKeyID != "" &&
		c.SecretAccessKey != "" && !c.Expiration.IsZero()
}

// fileCache stores entries as JSON files in a 0700 directory owned by us.
// Entries that cannot be trusted (unparsable, wrong mode, foreign owner,
// not a regular file) are ignored, and replaced on the next write.
type fileCache struct {
	dir string
	uid int
}

func openCache(dir string) (*fileCache, error) {
	if dir == "" {
		return nil, errors.New("open cache: empty directory name")
	}
	// One lstat on the usual path (the directory exists): a cached
	// credential_process pays for nothing more.
	fi, err := os.Lstat(dir)
	if errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("open cache: %w", err)
		}
		fi, err = os.Lstat(dir)
	}
	if err != nil {
		return nil, fmt.Errorf("open cache: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("open cache: %s is not a directory", dir)
	}
	uid := os.Getuid()
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != uid {
		return nil, fmt.Errorf("open cache: %s is owned by uid %d, not %d", dir, st.Uid, uid)
	}
	if fi.Mode().Perm() != 0o700 {
		// Ours, so tighten it rather than leak credentials.
		if err := os.Chmod(dir, 0o700); err != nil {
			return nil, fmt.Errorf("open cache: %w", err)
		}
	}
	return &fileCache{dir: dir, uid: uid}, nil
}

// removeStaleTemps deletes temporary files a killed writer left behind. It
// runs after a write, not on open: a cached read lists no directory.
func (c *fileCache) removeStaleTemps() {
	tmps, _ := filepath.Glob(filepath.Join(c.dir, ".*.tmp-*"))
	for _, t := range tmps {
		if fi, err := os.Lstat(t); err == nil && time.Since(fi.ModTime()) > time.Hour {
			os.Remove(t)
		}
	}
}

// cacheKey is the hex SHA-256 of the canonical JSON of v (a struct, so
// encoding/json fixes the field order).
func cacheKey(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		// Only plain structs of strings and numbers are passed in, so this
		// does not happen; fall back to Go syntax rather than panic.
		b = fmt.Appendf(nil, "%#v", v)
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func (c *fileCache) path(name string) string { return filepath.Join(c.dir, name) }

// readTrusted reads a file only if it is a regular 0600 file owned by us.
func (c *fileCache) readTrusted(name string) ([]byte, error) {
	f, err := os.OpenFile(c.path(name), os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", name)
	}
	if fi.Mode().Perm() != 0o600 {
		return nil, fmt.Errorf("%s: mode %o, want 600", name, fi.Mode().Perm())
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != c.uid {
		return nil, fmt.Errorf("%s: owned by uid %d", name, st.Uid)
	}
	return io.ReadAll(io.LimitReader(f, 1<<20))
}

// get returns the entry under key, or nil if absent or untrustworthy.
func (c *fileCache) get(key string) *cacheEntry {
	b, err := c.readTrusted(key + ".json")
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			slog.Debug("sts cache: ignoring entry", "key", key, "err", err)
		}
		return nil
	}
	e, err := parseEntry(b)
	if err != nil {
		slog.Debug("sts cache: ignoring entry", "key", key, "err", err)
		return nil
	}
	return e
}

func parseEntry(b []byte) (*cacheEntry, error) {
	var e cacheEntry
	if err := json.Unmarshal(b, &e); err != nil {
		return nil, fmt.Errorf("parse cache entry: %w", err)
	}
	if !e.valid() {
		return nil, errors.New("parse cache entry: incomplete entry")
	}
	return &e, nil
}

func (c *fileCache) put(key string, e *cacheEntry) error {
	e.Version = cacheVersion
	b, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("write cache entry: %w", err)
	}
	return c.writeAtomic(key+".json", b)
}

// writeAtomic writes temp file + fsync + rename + directory fsync: a reader
// (or a crash) sees the old content or the new, never a mix.
func (c *fileCache) writeAtomic(name string, data []byte) error {
	tmp, err := os.CreateTemp(c.dir, "."+name+".tmp-*") // mode 0600
	if err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	tmpName := tmp.Name()
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(tmpName)
		}
	}()
	if err := tmp.Chmod(0o600); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	if _, err := tmp.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := os.Rename(tmpName, c.path(name)); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	ok = true
	if d, err := os.Open(c.dir); err == nil {
		d.Sync()
		d.Close()
	}
	c.removeStaleTemps()
	return nil
}

// ledgerEntry records the last TOTP step sent to STS for one MFA serial.
type ledgerEntry struct {
	Version int       `json:"version"`
	Serial  string    `json:"serial"`
	Step    int64     `json:"step"` // Unix time / 30 of the last code sent
	At      time.Time `json:"at"`
}

func ledgerName(serial string) string {
	return "ledger-" + cacheKey(struct{ Serial string }{serial}) + ".json"
}

// lastStep returns the last step sent for serial, or -1 when unknown.
// Call it with the serial's lock held.
func (c *fileCache) lastStep(serial string) int64 {
	b, err := c.readTrusted(ledgerName(serial))
	if err != nil {
		return -1
	}
	var l ledgerEntry
	if err := json.Unmarshal(b, &l); err != nil || l.Serial != serial || l.Version != cacheVersion {
		return -1
	}
	return l.Step
}

// recordStep stores step as the last one sent for serial. Call it with the
// serial's lock held, before sending the code: a code that reached STS is
// spent even if the answer is lost.
func (c *fileCache) recordStep(serial string, step int64, at time.Time) error {
	b, err := json.Marshal(ledgerEntry{Version: cacheVersion, Serial: serial, Step: step, At: at.UTC()})
	if err != nil {
		return fmt.Errorf("record step: %w", err)
	}
	return c.writeAtomic(ledgerName(serial), b)
}

// lockSerial takes the cross-process lock of an MFA serial. flock(2) locks
// belong to the open file description, so two Providers in one process
// exclude each other as two processes do.
// waiting is called once if the lock is busy.
func (c *fileCache) lockSerial(ctx context.Context, serial string, waiting func()) (unlock func(), err error) {
	name := c.path("lock-" + cacheKey(struct{ Serial string }{serial}) + ".lock")
	fl := flock.New(name, flock.SetPermissions(0o600))
	ok, err := fl.TryLock()
	if err == nil && !ok {
		if waiting != nil {
			waiting()
		}
		ok, err = fl.TryLockContext(ctx, 20*time.Millisecond)
	}
	if err != nil {
		fl.Close()
		return nil, fmt.Errorf("lock mfa serial: %w", err)
	}
	if !ok {
		fl.Close()
		return nil, fmt.Errorf("lock mfa serial: %w", ctx.Err())
	}
	return func() { fl.Unlock(); fl.Close() }, nil
}
