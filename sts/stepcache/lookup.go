package stepcache

import (
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/mfabridge/mfabridge/internal/securefile"
	"github.com/mfabridge/mfabridge/sts/awsconfig"
)

// Lookup returns profile p's credentials from the cache directory dir if
// the final step's entry may be handed out at now, as the first check of
// sts.Provider.Credentials does (same plan, keys, entry checks and
// margins): nil, nil on a miss (no entry, one for another target, one
// too close to its end, or no cache directory yet). Entries that cannot be
// trusted, a cache directory that cannot be, and profiles that cannot be
// planned are errors.
//
// It only reads: the directory is checked as sts.NewProvider checks it
// (securefile.CheckDir, one lstat when it is right), never created or
// tightened, which is left to the provider when the cache misses.
func Lookup(p *awsconfig.Profile, dir string, now time.Time) (*Credentials, error) {
	pl, err := MakePlan(p)
	if err != nil {
		return nil, err
	}
	if err := securefile.CheckDir(dir, IsCacheFile); errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("open cache: %w", err)
	}
	keys, sks := StepKeys(p, pl)
	last := len(pl.Steps) - 1
	e, err := ReadEntry(dir, keys[last])
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if ok, _ := pl.Usable(last, sks[last], e, now); !ok {
		return nil, nil
	}
	return HandOut(pl.Steps[last], e), nil
}
