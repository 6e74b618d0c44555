package sim

import (
	"sync"
	"time"

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
// falls behind.
func (s *Server) quoteLoop() {
	sub := s.market.Subscribe(256)
	defer sub.Close()
	for {
		select {
		case u, ok := <-sub.C():
			if !ok {
				return
			}
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
		case <-s.ctx.Done():
			return
		}
	}
}

// sessionLoop tells every account when the regular session opens and
// closes and when the trading day ends, following the server's Session.
// In always-open mode only the day's end (New York midnight) matters: day
// orders expire then, as they would at a real close.
func (s *Server) sessionLoop() {
	_, alwaysOpen := s.cfg.Session.(AlwaysOpen)
	for {
		now := s.now()
		var next time.Time
		var step func(a *account, now time.Time)
		switch {
		case alwaysOpen:
			next = s.cfg.Session.NextClose(now)
			step = func(a *account, now time.Time) {
				a.evbuf = a.eng.EndOfDay(now, a.evbuf)
				a.closeDay(s, now)
			}
		case s.cfg.Session.Open(now):
			next = s.cfg.Session.NextClose(now)
			step = func(a *account, now time.Time) {
				a.evbuf = a.eng.OnClose(now, a.evbuf)
				a.closeDay(s, now)
			}
		default:
			open := s.cfg.Session.NextOpen(now)
			// The extended session ends at 20:00 New York time; day orders
			// for extended hours expire then.
			d := dateIn(now, newYork)
			eod := d.Add(20 * time.Hour)
			if !now.Before(eod) || eod.After(open) {
				eod = time.Time{}
			}
			if !eod.IsZero() && eod.Before(open) {
				next = eod
				step = func(a *account, now time.Time) { a.evbuf = a.eng.EndOfDay(now, a.evbuf) }
			} else {
				next = open
				step = func(a *account, now time.Time) {
					for _, sym := range s.market.Symbols() {
						s.refresh(a, now, sym.Symbol)
					}
					a.evbuf = a.eng.OnOpen(now, a.evbuf)
				}
			}
		}
		t := time.NewTimer(time.Until(next) + time.Millisecond)
		select {
		case <-t.C:
		case <-s.ctx.Done():
			t.Stop()
			return
		}
		for _, a := range s.accounts.all() {
			a.mu.Lock()
			now := a.clock(s.now())
			step(a, now)
			a.publish(s, a.evbuf)
			a.mu.Unlock()
		}
	}
}

// closeDay records the day's closing equity: last_equity of the account
// and a point of portfolio history. The caller holds a.mu.
func (a *account) closeDay(s *Server, now time.Time) {
	a.lastEquity = a.eng.Snapshot(now, s.marks).Equity
	if len(a.equityLog) == maxEquityLog {
		a.equityLog = append(a.equityLog[:0], a.equityLog[1:]...)
	}
	a.equityLog = append(a.equityLog, equitySample{now, a.lastEquity})
}
