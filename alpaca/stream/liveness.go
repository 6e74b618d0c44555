package stream

import (
	"sync"
	"sync/atomic"
	"time"
)

// liveness tracks when a connection last showed signs of life, and
// whether the reader is parked on a full output channel. While parked, the
// reader cannot consume heartbeats or pongs, so silence is our doing, not
// the server's: the watchdog and pinger must not count it.
type liveness struct {
	start  time.Time
	last   atomic.Int64 // time.Since(start) at the last activity, monotonic
	paused atomic.Bool
	pauses atomic.Uint64 // bumped on every pause, so a pinger can tell one happened
}

func newLiveness() *liveness {
	return &liveness{start: time.Now()}
}

func (l *liveness) touch() { l.last.Store(int64(time.Since(l.start))) }

func (l *liveness) pause() {
	l.pauses.Add(1)
	l.paused.Store(true)
}

func (l *liveness) resume() {
	l.touch()
	l.paused.Store(false)
}

func (l *liveness) idle() time.Duration {
	return time.Since(l.start) - time.Duration(l.last.Load())
}

// arm calls kill once the connection has been idle for timeout, not
// counting time the reader spent parked. It runs on a timer, not a
// goroutine of its own: a thousand idle tenants hold a thousand timers
// rather than a thousand stacks. The returned stop disarms it; kill is
// never called after stop returns.
func (l *liveness) arm(timeout time.Duration, kill func()) (stop func()) {
	var mu sync.Mutex
	var t *time.Timer
	done := false
	check := func() {
		mu.Lock()
		defer mu.Unlock()
		if done {
			return
		}
		if l.paused.Load() {
			t.Reset(timeout)
			return
		}
		idle := l.idle()
		if idle >= timeout {
			done = true
			kill()
			return
		}
		t.Reset(timeout - idle)
	}
	mu.Lock()
	t = time.AfterFunc(timeout, check)
	mu.Unlock()
	return func() {
		mu.Lock()
		done = true
		t.Stop()
		mu.Unlock()
	}
}
