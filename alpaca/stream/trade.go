package stream

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/quantum-alpaca/quantum/alpaca"
)

// What both trade-update transports (TradeEvents, TradeSocket) share: the
// resume point that judges duplicates, and the hand-over to the consumer
// that never drops an update.

// eventIDAfter reports whether event id a sorts after b. ULIDs have a
// fixed length and sort lexicographically; comparing lengths first also
// orders the integer ids of the v1 stream correctly.
func eventIDAfter(a, b string) bool {
	if len(a) != len(b) {
		return len(a) > len(b)
	}
	return a > b
}

// resumePoint is the last trade update handed to the consumer: the id a
// reconnect resumes after and duplicates are judged against. It moves
// before an update is handed over, so that a consumer that has received
// it never reads an older id, and moves back if the hand-over fails.
type resumePoint struct {
	mu sync.Mutex
	m  resumeMark
}

// resumeMark is a resume point's value.
type resumeMark struct {
	id string
	at time.Time
}

// get returns the last update's id and time.
func (p *resumePoint) get() (string, time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.m.id, p.m.at
}

// seen reports whether an update with this id was already handed over.
func (p *resumePoint) seen(id string) bool {
	if id == "" {
		return false
	}
	last, _ := p.get()
	return last != "" && !eventIDAfter(id, last)
}

// advance moves the point to tu, if it carries an id, and returns the
// mark it left for restore.
func (p *resumePoint) advance(tu alpaca.TradeUpdate) resumeMark {
	p.mu.Lock()
	defer p.mu.Unlock()
	prev := p.m
	if tu.EventID != "" {
		p.m = resumeMark{id: tu.EventID, at: tu.At}
	}
	return prev
}

// restore puts the point back where advance found it.
func (p *resumePoint) restore(prev resumeMark) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.m = prev
}

// deliverTradeUpdate puts tu on out, waiting as long as it takes: trade
// updates are never dropped. While it waits the reader is parked, so
// liveness checks are paused.
func deliverTradeUpdate(ctx context.Context, out chan<- alpaca.TradeUpdate, tu alpaca.TradeUpdate, live *liveness,
	stats *counters, onFull func(uint64), lim *logLimiter, log *slog.Logger) error {
	select {
	case out <- tu:
		stats.received.Add(1)
		return nil
	default:
	}
	n := stats.bufferFull.Add(1)
	if onFull != nil {
		onFull(n)
	}
	if lim.allow() {
		log.Warn("trade update buffer full; reader waiting for the consumer", "times", n, "capacity", cap(out))
	}
	live.pause()
	defer live.resume()
	select {
	case out <- tu:
		stats.received.Add(1)
		return nil
	case <-ctx.Done():
		return fmt.Errorf("waiting for trade update consumer: %w", context.Cause(ctx))
	}
}
