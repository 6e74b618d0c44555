package stream

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/quantum-alpaca/quantum/alpaca/backoff"
)

// Stats are a stream's running counters. All counts are since the
// stream was created.
type Stats struct {
	// Connects counts successful handshakes.
	Connects uint64
	// Reconnects counts connection attempts after the first one,
	// successful or not.
	Reconnects uint64
	// Received counts messages handed to the output channel (trade
	// updates) or decoded data messages (market data, dropped ones
	// included).
	Received uint64
	// Duplicates counts trade updates dropped because their event_id was
	// not after the last one delivered.
	Duplicates uint64
	// BufferFull counts, for trade updates, the times the reader found the
	// output channel full and had to wait; for market data, the messages
	// dropped because the output channel was full.
	BufferFull uint64
	// Malformed counts frames or events that could not be decoded and were
	// skipped.
	Malformed uint64
}

type counters struct {
	connects, reconnects, received, duplicates, bufferFull, malformed atomic.Uint64
}

func (c *counters) snapshot() Stats {
	return Stats{
		Connects:   c.connects.Load(),
		Reconnects: c.reconnects.Load(),
		Received:   c.received.Load(),
		Duplicates: c.duplicates.Load(),
		BufferFull: c.bufferFull.Load(),
		Malformed:  c.malformed.Load(),
	}
}

// connectFunc runs one connection to completion. connected reports whether
// the handshake succeeded (OnConnect was called). A nil or errEnded
// error ends Run successfully; a permanent error ends Run with it; any
// other error causes a reconnect.
type connectFunc func(ctx context.Context) (connected bool, err error)

// runLoop is the supervised reconnect loop shared by the clients. Waits
// between attempts grow exponentially from ReconnectMin to ReconnectMax,
// jittered so that a fleet of tenants that lost their streams at the same
// moment does not redial in lockstep.
func runLoop(ctx context.Context, o *Options, log *slog.Logger, stats *counters, connect connectFunc) error {
	failures := 0 // since the last connection that stayed up
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			stats.reconnects.Add(1)
		}
		start := time.Now()
		connected, err := connect(ctx)
		if connected && o.OnDisconnect != nil {
			cause := err
			if ctx.Err() != nil {
				cause = ctx.Err()
			}
			o.OnDisconnect(cause)
		}
		if !connected && err != nil && ctx.Err() == nil && o.OnConnectFailed != nil {
			o.OnConnectFailed(err)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err == nil || errors.Is(err, errEnded) {
			log.Info("stream ended")
			return nil
		}
		var fe *fatalError
		if errors.As(err, &fe) {
			log.Error("stream failed permanently", "err", fe.err)
			return fe.err
		}
		var r interface{ Retryable() bool }
		if errors.As(err, &r) && !r.Retryable() {
			log.Error("stream failed permanently", "err", err)
			return err
		}
		if connected && time.Since(start) >= o.ReconnectMax {
			failures = 0
		}
		failures++
		delay := backoff.Exponential(o.ReconnectMin, o.ReconnectMax, failures)
		log.Warn("stream disconnected; reconnecting", "err", err, "connected", connected, "delay", delay)
		if err := backoff.Sleep(ctx, delay); err != nil {
			return err
		}
	}
}

// logLimiter lets a hot path log at most once per interval.
type logLimiter struct {
	interval time.Duration
	next     atomic.Int64
}

func (l *logLimiter) allow() bool {
	now := time.Now().UnixNano()
	n := l.next.Load()
	return now >= n && l.next.CompareAndSwap(n, now+int64(l.interval))
}

// signal does a non-blocking send on a capacity-1 channel, so repeated
// signals before the reader looks coalesce into one.
func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// maskKey shows enough of a key id to tell keys apart in errors and logs.
func maskKey(k string) string {
	if len(k) <= 4 {
		return "****"
	}
	return k[:4] + "****"
}
