package device

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"time"

	"github.com/gofrs/flock"

	"github.com/mfabridge/mfabridge/oath"
	"github.com/mfabridge/mfabridge/simulator"
)

// SimMissingError: the simulated YubiKey's state file does not exist. It
// unwraps to the file system's error (fs.ErrNotExist).
type SimMissingError struct {
	Path string
	Err  error
}

func (e *SimMissingError) Error() string {
	return fmt.Sprintf("simulated YubiKey %s does not exist", e.Path)
}

func (e *SimMissingError) Unwrap() error { return e.Err }

// OpenSim opens the simulated YubiKey whose state lives in path. Each
// operation takes an exclusive lock on path+".lock", loads the state, runs,
// and lets the card save its changes, so any number of processes may use one
// simulated key at once.
func OpenSim(path string, hooks Hooks, log *slog.Logger, opts ...simulator.Option) (*YubiKey, error) {
	opts = append([]simulator.Option{simulator.WithLogger(log)}, opts...) // touch waits in the --debug log
	card, err := simulator.Open(path, opts...)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, &SimMissingError{Path: path, Err: err}
		}
		return nil, fmt.Errorf("open simulated YubiKey %s: %w", path, err)
	}
	info := Info{Kind: "sim", Serial: card.Serial(), Firmware: card.Firmware().String(), Path: path}
	lock := flock.New(path + ".lock")
	open := func(ctx context.Context) (oath.Transport, func() error, error) {
		ok, err := lock.TryLockContext(ctx, 5*time.Millisecond)
		if err != nil || !ok {
			return nil, nil, fmt.Errorf("lock %s.lock: %w", path, errors.Join(err, ctx.Err()))
		}
		card, err := simulator.Open(path, opts...)
		if err != nil {
			_ = lock.Unlock()
			return nil, nil, fmt.Errorf("load state: %w", err)
		}
		return card, lock.Unlock, nil
	}
	return NewYubiKey(info, open, hooks, log), nil
}
