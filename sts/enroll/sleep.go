package enroll

import (
	"context"
	"time"
)

// sleepCtx is the default sleep (WithSleep): it waits d or until ctx
// is done.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
