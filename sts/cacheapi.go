package sts

import (
	"context"
	"time"

	ststypes "github.com/aws/aws-sdk-go-v2/service/sts/types"
	"github.com/mfabridge/mfabridge/sts/stepcache"
)

// The cache, its locks and the TOTP ledger as package enroll uses them: a
// rotation keeps its journal in the cache directory under a lock of its own,
// and verifies the new device through the same ledger as the Provider, so a
// code is never sent twice. These are thin exported doors onto the
// Provider's own cache code.

// CacheVersion is the version of the cache's JSON files (entries, ledger,
// rotation journals).
const CacheVersion = cacheVersion

// Cache is an opened cache directory (see DefaultCacheDir).
type Cache struct{ c *fileCache }

// OpenCache opens dir as the cache, creating it private if missing and
// refusing one that is not a private directory of ours.
func OpenCache(dir string) (*Cache, error) {
	c, err := openCache(dir)
	if err != nil {
		return nil, err
	}
	return &Cache{c: c}, nil
}

// CacheKey is the file-name-safe key of v (the hex SHA-256 of its JSON).
func CacheKey(v any) string { return stepcache.CacheKey(v) }

// Path returns the path of the file name in the cache.
func (c *Cache) Path(name string) string { return c.c.path(name) }

// ReadTrusted reads the file name if it is a regular, private file of ours.
func (c *Cache) ReadTrusted(name string) ([]byte, error) { return c.c.readTrusted(name) }

// WriteAtomic replaces the file name with data (temporary file, fsync,
// rename), private to the user.
func (c *Cache) WriteAtomic(name string, data []byte) error { return c.c.writeAtomic(name, data) }

// LockSerial takes the cross-process lock of serial (any string naming what
// is locked), calling waiting once if another process holds it; it returns
// when the lock is held or ctx is done.
func (c *Cache) LockSerial(ctx context.Context, serial string, waiting func()) (unlock func(), err error) {
	return c.c.lockSerial(ctx, serial, waiting)
}

// FreshStepCode returns the code of a TOTP step not yet sent for serial,
// recorded in the ledger before it is returned, as the Provider does (see
// freshStepCode). Call it with serial's lock held.
func (c *Cache) FreshStepCode(ctx context.Context, serial string, now func() time.Time,
	sleep func(ctx context.Context, d time.Duration) error, notify func(format string, args ...any),
	compute func(ctx context.Context, at time.Time) (string, error)) (code string, at time.Time, reused bool, err error) {
	return c.c.freshStepCode(ctx, serial, now, sleep, notify, compute)
}

// FromSDK checks and converts the credentials of an STS answer.
func FromSDK(c *ststypes.Credentials) (*Credentials, error) { return fromSDK(c) }
