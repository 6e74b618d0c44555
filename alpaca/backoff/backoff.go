// Package backoff holds the waits shared by the REST client, the stream
// clients and the load generator: jittered exponential backoff and a
// sleep that ends with its context.
package backoff

import (
	"context"
	"math/rand/v2"
	"time"
)

// Exponential returns the wait before attempt n (counting from 1) of a
// retried operation: base·2^(n-1), capped at max, with "equal jitter":
// a uniformly random duration between half of that and all of it.
//
// Jitter keeps many callers that failed at the same moment (a fleet of
// tenants whose streams dropped together, goroutines sharing a client)
// from retrying in lockstep; keeping half the delay fixed keeps a
// flapping server from being hammered at base/2 forever.
func Exponential(base, max time.Duration, n int) time.Duration {
	d := base
	for i := 1; i < n && d < max; i++ {
		if d > max/2 {
			d = max
			break
		}
		d *= 2
	}
	d = min(d, max)
	if d <= 0 {
		return 0
	}
	half := d / 2
	return half + Jitter(d-half+1)
}

// Jitter returns a uniformly random duration in [0, d), or 0 when d is
// not positive.
func Jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return rand.N(d)
}

// Sleep waits for d or until ctx ends, whichever comes first, and returns
// ctx's error in the second case. It never calls time.Sleep, so a
// cancelled caller is released at once.
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
