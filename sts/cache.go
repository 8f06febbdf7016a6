package sts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/mfabridge/mfabridge/internal/securefile"
	"github.com/mfabridge/mfabridge/sts/awsconfig"
	"github.com/mfabridge/mfabridge/sts/stepcache"
)

// DefaultCacheDir returns MFABRIDGE_CACHE_DIR if set, else the user cache
// directory of the system + "mfabridge" (stepcache.DefaultCacheDir).
func DefaultCacheDir(env awsconfig.Env) (string, error) {
	return stepcache.DefaultCacheDir(env)
}

// cacheVersion is the format of cache and ledger files.
const cacheVersion = stepcache.CacheVersion

// cacheEntry is one cached STS result (stepcache.Entry).
type cacheEntry = stepcache.Entry

// fileCache stores entries as JSON files in a directory private to the
// user (internal/securefile: 0700 and ours on Unix, owner SID and an
// owner-only DACL on Windows). Entries that cannot be trusted (unparsable,
// readable by others, foreign owner, a link, not a regular file) are
// ignored, and replaced on the next write.
type fileCache struct {
	dir string
}

func openCache(dir string) (*fileCache, error) {
	if dir == "" {
		return nil, errors.New("open cache: empty directory name")
	}
	// One lstat on the usual Unix path (the directory exists): a cached
	// credential_process pays for nothing more.
	if err := securefile.EnsureDir(dir, IsCacheFile); err != nil {
		return nil, fmt.Errorf("open cache: %w", cacheDirError(err))
	}
	return &fileCache{dir: dir}, nil
}

// ErrNoCacheDir: the environment names no folder for the cache
// (stepcache.ErrNoCacheDir).
var ErrNoCacheDir = stepcache.ErrNoCacheDir

// CacheDirError is a cache directory that cannot be trusted: it holds
// credentials, so a link could send them elsewhere and a directory of
// someone else's lets them read or plant them. Err is the
// *securefile.Error (errors.Is matches securefile.ErrLink, ErrForeign,
// ErrNotDir, ErrShared or ErrNotPrivate; securefile.FixOf gives its fix).
// What to do about it (another folder, or mending this one) is the
// caller's to word.
type CacheDirError struct {
	Err   error
	Cause string // why the check matters here; may be empty
}

func (e *CacheDirError) Error() string {
	if e.Cause == "" {
		return e.Err.Error()
	}
	return e.Err.Error() + ": " + e.Cause
}

func (e *CacheDirError) Unwrap() error { return e.Err }

// cacheDirError types a cache directory that cannot be trusted as a
// *CacheDirError with the cause.
func cacheDirError(err error) error {
	var e *securefile.Error
	if !errors.As(err, &e) {
		return err
	}
	ce := &CacheDirError{Err: err}
	switch e.Err {
	case securefile.ErrLink:
		ce.Cause = "it could redirect cached credentials elsewhere"
	case securefile.ErrForeign:
		ce.Cause = "its owner could read or plant credentials"
	case securefile.ErrShared:
		// Issue 13 case 1: refused rather than silently moved into a
		// subdirectory, so the folder named is the folder used (doctor,
		// a user clearing the cache, a second tool reading it all agree).
		ce.Cause = "the cache must be a folder of its own, private to you"
	}
	return ce
}

// IsCacheFile claims the names mfabridge writes in its cache directory
// (stepcache.IsCacheFile).
func IsCacheFile(name string) bool { return stepcache.IsCacheFile(name) }

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

func (c *fileCache) path(name string) string { return filepath.Join(c.dir, name) }

// readTrusted reads a file only if it is a regular file private to us and
// not a link (securefile.ReadFile).
func (c *fileCache) readTrusted(name string) ([]byte, error) {
	return securefile.ReadFile(c.path(name), stepcache.MaxFile)
}

// get returns the entry under key, or nil if absent or untrustworthy.
// Entries it ignores are logged to log.
func (c *fileCache) get(key string, log *slog.Logger) *cacheEntry {
	e, err := stepcache.ReadEntry(c.dir, key)
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			log.Debug("sts cache: ignoring entry", "key", key, "err", err)
		}
		return nil
	}
	return e
}

func (c *fileCache) put(key string, e *cacheEntry) error {
	e.Version = cacheVersion
	b, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("write cache entry: %w", err)
	}
	return c.writeAtomic(key+".json", b)
}

// writeAtomic replaces a file with a private one (securefile.WriteFile:
// temp file, fsync, rename): a reader (or a crash) sees the old content or
// the new, never a mix.
func (c *fileCache) writeAtomic(name string, data []byte) error {
	if err := securefile.WriteFile(c.path(name), data); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
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
	return "ledger-" + stepcache.CacheKey(struct{ Serial string }{serial}) + ".json"
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

// restoreStep gives a step back: the ledger of serial holds prev again (or
// nothing, when prev < 0). Call it with the serial's lock held, only for a
// code that cannot have reached STS.
func (c *fileCache) restoreStep(serial string, prev int64) error {
	if prev < 0 {
		if err := os.Remove(c.path(ledgerName(serial))); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("restore step: %w", err)
		}
		return nil
	}
	return c.recordStep(serial, prev, time.Now())
}

// lockSerial takes the cross-process lock of an MFA serial. The lock
// belongs to the open file (flock(2), LockFileEx), so two Providers in one
// process exclude each other as two processes do. securefile.Lock locks
// the very file it checked: a link or a FIFO planted at the lock path is
// refused, never followed or blocked on (issue 13 cases 2 and 3).
// waiting is called once if the lock is busy.
func (c *fileCache) lockSerial(ctx context.Context, serial string, waiting func()) (unlock func(), err error) {
	unlock, err = securefile.Lock(ctx, c.lockPath(serial), waiting)
	if err != nil {
		return nil, fmt.Errorf("lock mfa serial: %w", err)
	}
	return unlock, nil
}

func (c *fileCache) lockPath(serial string) string {
	return c.path("lock-" + stepcache.CacheKey(struct{ Serial string }{serial}) + ".lock")
}
