package sim

import (
	"sync"
	"time"

	"github.com/quantum-alpaca/quantum/sim/market"
	"github.com/quantum-alpaca/quantum/sim/match"
)

// interest tracks, per symbol, the accounts that may have resting orders
// on it, so that a quote update touches only those accounts instead of
// every account on the server.
type interest struct {
	mu  sync.Mutex
	set map[string]map[*account]struct{}
}

func (in *interest) add(symbol string, a *account) {
	in.mu.Lock()
	if in.set == nil {
		in.set = map[string]map[*account]struct{}{}
	}
	m := in.set[symbol]
	if m == nil {
		m = map[*account]struct{}{}
		in.set[symbol] = m
	}
	m[a] = struct{}{}
	in.mu.Unlock()
}

func (in *interest) accounts(symbol string) []*account {
	in.mu.Lock()
	defer in.mu.Unlock()
	m := in.set[symbol]
	out := make([]*account, 0, len(m))
	for a := range m {
		out = append(out, a)
	}
	return out
}

func (in *interest) remove(symbol string, a *account) {
	in.mu.Lock()
	delete(in.set[symbol], a)
	in.mu.Unlock()
}

// watch notes that a may now have resting orders on symbol. The caller
// holds a.mu.
func (s *Server) watch(a *account, symbol string, o *match.Order) {
	if o.Status.Terminal() && len(o.Legs) == 0 {
		return
	}
	s.interest.add(symbol, a)
}

// quoteLoop re-evaluates resting orders when quotes move. The market never
// blocks on it: it coalesces to each symbol's latest quote when this loop
// falls behind. A flush request (flushQuotes) is answered once the updates
// already delivered are handled.
func (s *Server) quoteLoop(sub *market.Subscription) {
	defer sub.Close()
	for {
		select {
		case u, ok := <-sub.C():
			if !ok {
				return
			}
			s.onQuote(u)
		case done := <-s.flush:
			for pending := true; pending; {
				select {
				case u, ok := <-sub.C():
					if !ok {
						close(done)
						return
					}
					s.onQuote(u)
				default:
					pending = false
				}
			}
			close(done)
		case <-s.ctx.Done():
			return
		}
	}
}

func (s *Server) onQuote(u market.QuoteUpdate) {
	q := toMatchQuote(u.Quote)
	for _, a := range s.interest.accounts(u.Symbol) {
		a.mu.Lock()
		now := a.clock(s.now())
		ev := a.eng.OnQuote(now, u.Symbol, q, a.evbuf)
		a.publish(s, ev)
		idle := a.eng.OpenOrderCount() == 0
		a.mu.Unlock()
		if idle {
			s.interest.remove(u.Symbol, a)
		}
	}
}

// sessionLoop tells every account when the regular session opens and
// closes and when the trading day ends, following the server's Session.
// In always-open mode only the day's end (New York midnight) matters: day
// orders expire then, as they would at a real close.
func (s *Server) sessionLoop() {
	for {
		next, step := s.sessionEvent(s.now())
		if !s.sleepUntil(next) {
			return
		}
		s.runSession(step)
	}
}

// sessionEvent returns the first session event after now and what it does
// to an account.
func (s *Server) sessionEvent(now time.Time) (time.Time, func(a *account, now time.Time)) {
	_, alwaysOpen := s.cfg.Session.(AlwaysOpen)
	// The day that closes is the one now is in: an always-open day closes
	// at midnight, when the clock already reads the next date.
	day := dateIn(now, newYork)
	switch {
	case alwaysOpen:
		return s.cfg.Session.NextClose(now), func(a *account, now time.Time) {
			a.evbuf = a.eng.EndOfDay(now, a.evbuf)
			a.closeDay(s, now, day)
		}
	case s.cfg.Session.Open(now):
		return s.cfg.Session.NextClose(now), func(a *account, now time.Time) {
			a.evbuf = a.eng.OnClose(now, a.evbuf)
			a.closeDay(s, now, day)
		}
	}
	open := s.cfg.Session.NextOpen(now)
	// The extended session ends at 20:00 New York time; day orders for
	// extended hours expire then.
	d := dateIn(now, newYork)
	eod := d.Add(20 * time.Hour)
	if now.Before(eod) && eod.Before(open) {
		return eod, func(a *account, now time.Time) { a.evbuf = a.eng.EndOfDay(now, a.evbuf) }
	}
	return open, func(a *account, now time.Time) {
		// Symbols nobody has used have no orders to fill, and reading
		// their quotes would wake them (market.Symbol.Lazy).
		for _, sym := range s.market.ActiveSymbols() {
			s.refresh(a, now, sym)
		}
		a.evbuf = a.eng.OnOpen(now, a.evbuf)
	}
}

// sleepUntil waits until the clock reads next (a moment past it, on the
// wall clock, for rounding); false when the server closes first. A replay
// clock's wait is scaled by its speed and checked against the clock.
func (s *Server) sleepUntil(next time.Time) bool {
	for {
		d := time.Until(next)
		if c := s.cfg.Clock; c != nil {
			d = c.wallUntil(next)
		}
		t := time.NewTimer(d + time.Millisecond)
		select {
		case <-t.C:
		case <-s.ctx.Done():
			t.Stop()
			return false
		}
		if s.cfg.Clock == nil || !s.now().Before(next) {
			return true
		}
	}
}

// runSession applies a session event to every account.
func (s *Server) runSession(step func(a *account, now time.Time)) {
	for _, a := range s.accounts.all() {
		a.mu.Lock()
		now := a.clock(s.now())
		step(a, now)
		a.publish(s, a.evbuf)
		a.mu.Unlock()
	}
}

// closeDay records the equity at the close of trading day day: the
// account's last_equity, and the day's point of portfolio history. The
// caller holds a.mu.
func (a *account) closeDay(s *Server, now, day time.Time) {
	a.lastEquity = a.eng.Equity(s.marks)
	a.history.record(now, a.lastEquity)
	a.history.close(day, a.lastEquity)
}

// equityLoop samples every account's equity at each minute of the clock,
// the resolution of portfolio history. Under a stepped clock AdvanceClock
// samples instead.
func (s *Server) equityLoop() {
	for {
		next := s.now().Truncate(sampleEvery).Add(sampleEvery)
		if !s.sleepUntil(next) {
			return
		}
		s.sampleEquity(next)
	}
}

// sampleEquity records every account's equity at t.
func (s *Server) sampleEquity(t time.Time) {
	for _, a := range s.accounts.all() {
		a.mu.Lock()
		a.history.record(t, a.eng.Equity(s.marks))
		a.mu.Unlock()
	}
}
