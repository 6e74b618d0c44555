package alpacabroker

import (
	"fmt"
	"sync/atomic"
	"time"
)

// DefaultStreamGrace is how long a trade-update stream may be down before
// it is reported as a problem: long enough for an ordinary reconnect to
// go unreported, short enough that an operator hears of a stream that
// cannot come back within seconds.
const DefaultStreamGrace = 10 * time.Second

// streamHealth says whether a trade-update stream is connected, for the
// engine's health report (trading.StreamHealth). Without it a stream that
// cannot connect is silent: REST calls still succeed, so nothing fails,
// but no fill arrives until the next reconcile.
type streamHealth struct {
	grace time.Duration
	down  atomic.Pointer[streamDown] // nil while connected
}

type streamDown struct {
	since time.Time
	cause string
}

// connecting marks the stream down from now unless it already is.
func (h *streamHealth) connecting() {
	h.down.CompareAndSwap(nil, &streamDown{since: time.Now(), cause: "not connected yet"})
}

func (h *streamHealth) connected() { h.down.Store(nil) }

// lost records why the stream went down, keeping when it first did.
func (h *streamHealth) lost(err error) {
	cause := "disconnected"
	if err != nil {
		cause = err.Error()
	}
	since := time.Now()
	if d := h.down.Load(); d != nil {
		since = d.since
	}
	h.down.Store(&streamDown{since: since, cause: cause})
}

// problem describes the stream's outage once it has lasted the grace
// period, and is "" otherwise.
func (h *streamHealth) problem(now time.Time) string {
	d := h.down.Load()
	if d == nil || now.Sub(d.since) < h.grace {
		return ""
	}
	return fmt.Sprintf("trade update stream down since %s (%s): %s",
		d.since.UTC().Format(time.RFC3339), now.Sub(d.since).Round(time.Second), d.cause)
}
