package backtest

import (
	"context"
	"time"

	"github.com/quantum-alpaca/quantum/sim/match"
	"github.com/quantum-alpaca/quantum/trading"
)

type sessionKind uint8

const (
	sessionOpen sessionKind = iota
	sessionClose
	sessionEndOfDay
)

// loop replays the bars of every symbol in time order.
type loop struct {
	cfg     Config
	clk     *clock
	mkt     *tape
	sims    []*sim
	symbols []string
	// series is the tape's series in symbols' order.
	series []*series
	bars   int

	nextSession time.Time
	kind        sessionKind
}

func (l *loop) run(ctx context.Context) error {
	ss := make([]*series, len(l.symbols))
	idx := make([]int, len(l.symbols))
	total := 0
	for i, sym := range l.symbols {
		ss[i] = l.mkt.series[sym]
		ss[i].at = ss[i].warm - 1
		idx[i] = ss[i].warm
		total += len(ss[i].min) - ss[i].warm
	}
	l.series = ss
	// What each tenant subscribed to, by series index: the per-minute
	// path then looks nothing up by symbol.
	for _, sm := range l.sims {
		sm.wantQuote, sm.wantBar = make([]bool, len(ss)), make([]bool, len(ss))
		for i, s := range ss {
			sm.wantQuote[i], sm.wantBar[i] = sm.quotes[s.symbol], sm.bars[s.symbol]
		}
	}
	l.planSession(l.cfg.From)
	changed := make([]int, 0, len(ss))
	for {
		m := int64(-1 << 62)
		found := false
		for i, s := range ss {
			if idx[i] < len(s.min) && (!found || s.min[idx[i]] < m) {
				m, found = s.min[idx[i]], true
			}
		}
		if !found {
			break
		}
		now := time.Unix((m+1)*60, 0).UTC()
		for l.nextSession.Before(now) {
			l.clk.now = l.nextSession
			if err := l.session(); err != nil {
				return err
			}
			l.planSession(l.clk.now)
		}
		l.clk.now = now
		changed = changed[:0]
		for i, s := range ss {
			if idx[i] < len(s.min) && s.min[idx[i]] == m {
				l.mkt.at[s.symbol] = idx[i]
				s.at = idx[i]
				changed = append(changed, i)
				idx[i]++
				l.bars++
			}
		}
		for _, sm := range l.sims {
			if sm.err != nil {
				continue
			}
			if err := l.minute(sm, ss, changed, now); err != nil {
				// A failed tenant stops trading; the others go on, as
				// tenants are isolated live too. The error is reported.
				sm.err = err
			}
		}
		if l.bars&4095 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
			if l.cfg.Progress != nil && total > 0 {
				l.cfg.Progress(float64(l.bars) / float64(total))
			}
		}
	}
	// Sessions that ended within the range still close their day.
	for !l.nextSession.IsZero() && l.nextSession.Before(l.cfg.To) {
		l.clk.now = l.nextSession
		if err := l.session(); err != nil {
			return err
		}
		l.planSession(l.clk.now)
	}
	if l.cfg.Progress != nil {
		l.cfg.Progress(1)
	}
	return nil
}

// minute replays one minute for one tenant: resting orders meet the new
// quotes, then the strategy hears of them (quotes, bars, its timer).
func (l *loop) minute(sm *sim, ss []*series, changed []int, now time.Time) error {
	b := sm.brk
	for _, i := range changed {
		s := ss[i]
		b.pending = b.acct.OnQuote(b.now(), s.symbol, s.q[s.at], b.pending)
	}
	if err := sm.drain(); err != nil {
		return err
	}
	for _, i := range changed {
		s := ss[i]
		at := s.at
		if sm.wantQuote[i] {
			q := s.q[at]
			if err := sm.step.Quote(trading.Quote{Symbol: s.symbol, Bid: q.Bid.Decimal(), Ask: q.Ask.Decimal(), Time: now}); err != nil {
				return err
			}
			if err := sm.drain(); err != nil {
				return err
			}
		}
		if sm.wantBar[i] {
			if err := sm.step.Bar(s.bar(at)); err != nil {
				return err
			}
			if err := sm.drain(); err != nil {
				return err
			}
		}
	}
	if iv := sm.sub.Interval; iv > 0 {
		if sm.nextTick.IsZero() {
			sm.nextTick = l.cfg.From.Add(iv)
		}
		if !now.Before(sm.nextTick) {
			for !sm.nextTick.After(now) {
				sm.nextTick = sm.nextTick.Add(iv)
			}
			if err := sm.step.Timer(); err != nil {
				return err
			}
			if err := sm.drain(); err != nil {
				return err
			}
		}
	}
	if !now.Before(sm.refresh) {
		sm.step.RefreshAccount()
		sm.refresh = now.Add(l.cfg.AccountInterval)
	}
	sm.curve.add(now, l.equity(sm))
	if len(sm.brk.pos) > 0 {
		sm.exposed++
	}
	return nil
}

// equity values a tenant's account at the current marks, in dollars.
func (l *loop) equity(sm *sim) float64 {
	e := float64(sm.brk.acct.Cash()) / match.MoneyScale
	if len(sm.brk.pos) == 0 {
		return e
	}
	for _, s := range l.series { // sorted: the sum is the same every run
		if q, ok := sm.brk.pos[s.symbol]; ok && s.at >= 0 {
			qt := s.q[s.at]
			e += q * ((qt.Bid + qt.Ask) / 2).Float64()
		}
	}
	return e
}

// planSession finds the next session event after t, as the simulator's
// session loop does: the close while open; while closed the extended
// session's end (20:00 New York) if it comes first, else the open. With
// no calendar (24/7) the only event is the day's end at New York
// midnight.
func (l *loop) planSession(t time.Time) {
	cal := l.cfg.Calendar
	day := dateIn(t)
	switch {
	case cal == nil:
		l.nextSession, l.kind = day.AddDate(0, 0, 1), sessionEndOfDay
	case cal.Open(t):
		l.nextSession, l.kind = cal.NextClose(t), sessionClose
	default:
		open := cal.NextOpen(t)
		eod := day.Add(20 * time.Hour)
		if t.Before(eod) && eod.Before(open) {
			l.nextSession, l.kind = eod, sessionEndOfDay
		} else {
			l.nextSession, l.kind = open, sessionOpen
		}
	}
}

func dateIn(t time.Time) time.Time {
	y, m, d := t.In(newYork).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, newYork)
}

// session applies the planned session event to every account.
func (l *loop) session() error {
	for _, sm := range l.sims {
		if sm.err != nil {
			continue
		}
		b := sm.brk
		now := b.now()
		switch {
		case l.kind == sessionOpen:
			for _, sym := range l.symbols {
				if q, ok := l.mkt.quote(sym); ok {
					b.pending = b.acct.OnQuote(now, sym, q, b.pending)
				}
			}
			b.pending = b.acct.OnOpen(now, b.pending)
		case l.kind == sessionClose:
			b.pending = b.acct.OnClose(now, b.pending)
			l.closeDay(sm, now)
		case l.cfg.Calendar == nil:
			b.pending = b.acct.EndOfDay(now, b.pending)
			l.closeDay(sm, now)
		default:
			b.pending = b.acct.EndOfDay(now, b.pending)
		}
		if err := sm.drain(); err != nil {
			sm.err = err
		}
	}
	return nil
}

// closeDay records the day's closing equity: the account's last_equity
// (the daily loss limit's reference) and a daily return for the report.
func (l *loop) closeDay(sm *sim, now time.Time) {
	eq := sm.brk.acct.Snapshot(now, l.mkt.mark).Equity
	sm.brk.lastEquity = eq
	sm.curve.closeDay(float64(eq) / match.MoneyScale)
}
