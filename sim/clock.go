package sim

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"time"
)

// ReplayClock is a server clock that is not the wall clock: it starts at a
// given time and either runs at a multiple of the wall clock's speed or
// moves only when the server is told to advance it (stepped). It is what
// replaying recorded bars runs on (Config.Clock), but works with the
// synthetic market too.
type ReplayClock struct {
	speed  float64   // 0 for a stepped clock
	start  time.Time // clock time at origin
	origin time.Time // wall time at which a running clock was at start

	mu  sync.Mutex
	now time.Time // a stepped clock's time
}

// NewReplayClock returns a clock that reads start now and runs speed times
// as fast as the wall clock from then on: at 60, one minute per second.
// Speed must be positive (New refuses the Config otherwise).
func NewReplayClock(start time.Time, speed float64) *ReplayClock {
	return &ReplayClock{speed: speed, start: start, origin: time.Now()}
}

// NewSteppedClock returns a clock that reads start until the server
// advances it with Server.AdvanceClock or POST /sim/v1/clock.
func NewSteppedClock(start time.Time) *ReplayClock {
	return &ReplayClock{start: start, now: start}
}

// Now returns the clock's time.
func (c *ReplayClock) Now() time.Time {
	if c.speed == 0 {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.now
	}
	return c.start.Add(time.Duration(float64(time.Since(c.origin)) * c.speed))
}

// Stepped reports whether the clock moves only when advanced.
func (c *ReplayClock) Stepped() bool { return c.speed == 0 }

func (c *ReplayClock) set(t time.Time) {
	c.mu.Lock()
	c.now = t
	c.mu.Unlock()
}

// wallUntil is how long the wall clock takes until a running clock reads
// t.
func (c *ReplayClock) wallUntil(t time.Time) time.Duration {
	return time.Duration(float64(t.Sub(c.Now())) / c.speed)
}

// rateNow is the clock of the rate limit. A replay clock's time says
// nothing about how fast requests come, and clients read the limit's
// reset (X-RateLimit-Reset, Retry-After) as wall time, so under one the
// limit counts wall time.
func (s *Server) rateNow() time.Time {
	if s.cfg.Clock != nil {
		return time.Now()
	}
	return s.now()
}

// Errors of AdvanceClock.
var (
	ErrNotStepped     = errors.New("sim: the clock is not a stepped clock")
	ErrClockBackwards = errors.New("sim: the clock cannot move backwards")
	ErrNotStarted     = errors.New("sim: the server is not started")
	ErrClockRange     = errors.New("sim: the clock cannot go past 2200-01-01")
)

// AdvanceClock moves a stepped clock (Config.Clock from NewSteppedClock)
// forward to `to` and returns the time it reached. It moves in steps: to
// each end of a recorded bar, to each session open, close and day end,
// and to each New York midnight a corporate action takes effect on the
// way, and at each it steps the market (bars published, quotes
// derived) and waits until every resting order has been evaluated against
// the new quotes, then applies the session event, so that every recorded
// minute reaches the matcher, in order, as a backtest replays it. When
// ctx ends it stops where it got to. Calls are serialized. Start must have
// been called.
func (s *Server) AdvanceClock(ctx context.Context, to time.Time) (time.Time, error) {
	return s.advance(ctx, func(time.Time) time.Time { return to })
}

// advance is AdvanceClock to target(the clock's time), which it reads
// under the lock so that concurrent relative advances add up.
func (s *Server) advance(ctx context.Context, target func(time.Time) time.Time) (time.Time, error) {
	c := s.cfg.Clock
	if c == nil || !c.Stepped() {
		return s.now(), ErrNotStepped
	}
	s.advanceMu.Lock()
	defer s.advanceMu.Unlock()
	cur := c.Now()
	if !s.started.Load() {
		return cur, ErrNotStarted
	}
	to := target(cur)
	if to.Before(cur) {
		return cur, ErrClockBackwards
	}
	if to.After(maxClockTime) {
		return cur, ErrClockRange
	}
	for {
		if err := ctx.Err(); err != nil {
			return cur, err
		}
		t := to
		if e, ok := s.market.NextBarEnd(cur); ok && e.Before(t) {
			t = e
		}
		if e, ok := s.nextCorporateAction(cur); ok && e.Before(t) {
			t = e
		}
		ev, step := s.sessionEvent(cur)
		if ev.Before(t) {
			t = ev
		}
		c.set(t)
		// Before the market steps: a split's orders are canceled before
		// any quote of its ex date could fill them.
		s.applyCorporateActions(t)
		s.market.Step(t)
		if err := s.flushQuotes(); err != nil {
			return t, err
		}
		s.cryptoStep(t)
		if ev.Equal(t) {
			s.runSession(step)
		}
		s.sampleEquity(t)
		cur = t
		if !cur.Before(to) {
			return cur, nil
		}
	}
}

// flushQuotes returns once the quote loop has handled every update the
// market has offered so far. That is all of them: the loop's subscription
// holds a whole universe's worth, a step offers at most one per symbol,
// and under a stepped clock nothing else steps the market between
// flushes, so nothing waits outside the channel.
func (s *Server) flushQuotes() error {
	done := make(chan struct{})
	select {
	case s.flush <- done:
	case <-s.ctx.Done():
		return errServerClosed
	}
	select {
	case <-done:
		return nil
	case <-s.ctx.Done():
		return errServerClosed
	}
}

var errServerClosed = errors.New("sim: server closed")

// clockBody is POST /sim/v1/clock: exactly one of the two.
type clockBody struct {
	Advance string `json:"advance"` // a Go duration: "1m", "90s", "6h30m"
	To      string `json:"to"`      // RFC 3339
}

type clockReply struct {
	Now     time.Time `json:"now"`
	Stepped bool      `json:"stepped"`
}

// maxClockTime keeps a requested time inside what the market's minute
// arithmetic and Alpaca's calendars handle.
var maxClockTime = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)

func (s *Server) getSimClock(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, clockReply{Now: s.now().UTC(), Stepped: s.cfg.Clock != nil && s.cfg.Clock.Stepped()})
}

func (s *Server) postSimClock(w http.ResponseWriter, r *http.Request) {
	var body clockBody
	if !decodeBody(w, r, &body) {
		return
	}
	if c := s.cfg.Clock; c == nil || !c.Stepped() {
		writeError(w, http.StatusConflict, 40910000, "the clock is not stepped: the broker was not started with a stepped replay clock", nil)
		return
	}
	var target func(time.Time) time.Time
	switch {
	case (body.Advance == "") == (body.To == ""):
		invalid(w, `give exactly one of "advance" (a duration such as "1m") and "to" (an RFC 3339 time)`)
		return
	case body.Advance != "":
		d, err := time.ParseDuration(body.Advance)
		if err != nil || d < 0 {
			invalid(w, `invalid advance: expected a non-negative duration such as "1m" or "6h30m"`)
			return
		}
		target = func(cur time.Time) time.Time { return cur.Add(d) }
	default:
		t, err := time.Parse(time.RFC3339Nano, body.To)
		if err != nil {
			invalid(w, "invalid to: expected an RFC 3339 time")
			return
		}
		target = func(time.Time) time.Time { return t }
	}
	now, err := s.advance(r.Context(), target)
	switch {
	case errors.Is(err, ErrClockBackwards), errors.Is(err, ErrClockRange):
		invalid(w, err.Error()+"; it reads "+now.UTC().Format(time.RFC3339Nano))
		return
	case err != nil:
		writeError(w, http.StatusServiceUnavailable, 50310000, "clock stopped at "+now.UTC().Format(time.RFC3339Nano)+": "+err.Error(), nil)
		return
	}
	writeJSON(w, http.StatusOK, clockReply{Now: now.UTC(), Stepped: true})
}

// streamsReply is GET /sim/v1/streams.
type streamsReply struct {
	Connections   int                 `json:"connections"`
	Subscriptions map[string][]string `json:"subscriptions"`
}

// StreamSubscriptions is GET /sim/v1/streams in process: per channel the
// symbols the connected market-data clients subscribe to, and how many
// clients there are.
func (s *Server) StreamSubscriptions() (map[string][]string, int) {
	return s.market.StreamSubscriptions()
}

// getSimStreams tells a replay's driver whether its clients are listening
// yet: a bar published before a client subscribed is not sent again.
func (s *Server) getSimStreams(w http.ResponseWriter, _ *http.Request) {
	subs, n := s.StreamSubscriptions()
	writeJSON(w, http.StatusOK, streamsReply{Connections: n, Subscriptions: subs})
}

// admin wraps a simulator-only endpoint: the same credentials as the
// Alpaca routes, but neither the rate limit nor injected faults, which
// stand for Alpaca's behaviour, and whose seeded draws the clock's
// driver must not shift.
func (s *Server) admin(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key, secret, ok := credentials(r)
		if !ok {
			writeError(w, http.StatusUnauthorized, 0, "unauthorized.", nil)
			return
		}
		if a, why := s.authenticate(key, secret); a == nil {
			writeAuthError(w, why)
			return
		}
		h(w, r)
	})
}
