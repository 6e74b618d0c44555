package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/shopspring/decimal"

	"github.com/quantum-alpaca/quantum/trading"
)

// riskView gathers what the risk check looks at for o, all of it local;
// the reference price, which may take a broker call, is left to the caller.
func (r *runner) riskView(o trading.OrderRequest, now time.Time) riskView {
	v := riskView{
		state:     r.t.tradingState(),
		limits:    r.t.cfg.Limits,
		position:  r.positions[o.Symbol],
		openCount: len(r.open),
		dailyPnL:  r.dailyPnL,
		breaker:   r.brk.open(now),
	}
	for _, st := range r.open {
		if st.Intent.Symbol != o.Symbol {
			continue
		}
		rest := st.Intent.Qty.Sub(st.FilledQty)
		if rest.IsPositive() {
			if st.Intent.Side == trading.Sell {
				rest = rest.Neg()
				v.openSell = v.openSell.Add(rest)
			} else {
				v.openBuy = v.openBuy.Add(rest)
			}
			v.openQty = v.openQty.Add(rest)
		}
	}
	return v
}

// price returns a recent reference price for symbol: the hub's quote if
// fresh, else one fetched from the tenant's own broker (and cached).
func (r *runner) price(ctx context.Context, symbol string, now time.Time) decimal.Decimal {
	if q, ok := r.quotes[symbol]; ok && now.Sub(q.Time) < r.e.QuoteMaxAge {
		return q.Mid()
	}
	q, err := r.t.cfg.Broker.LatestQuote(ctx, symbol)
	if err != nil {
		r.log.Warn("no quote for risk check", LogKeySymbol, symbol, "err", err)
		return decimal.Zero
	}
	// Stamp with our clock: the freshness that matters is when we asked.
	q.Time = now
	r.quotes[symbol] = q
	return q.Mid()
}

// refreshAccount reloads positions and equity from the broker, the
// authority on both; failures keep the previous view.
func (r *runner) refreshAccount() {
	ctx := r.io()
	b := r.t.cfg.Broker
	if ps, err := b.Positions(ctx); err == nil {
		r.brokerOK()
		clear(r.positions)
		r.unrealized = decimal.Zero
		for _, p := range ps {
			r.positions[p.Symbol] = p.Qty
			r.unrealized = r.unrealized.Add(p.UnrealizedPL)
		}
		// Published snapshots share this slice; it is replaced, never
		// changed.
		r.holdings = ps
	} else {
		r.brokerError(err)
	}
	if a, err := b.Account(ctx); err == nil {
		r.brokerOK()
		r.accountAt = r.e.Now()
		r.equity = a.Equity
		if a.LastEquity.IsPositive() {
			r.dailyPnL = a.Equity.Sub(a.LastEquity)
		}
	} else {
		r.brokerError(err)
	}
}

// brokerLogEvery bounds how often a broker that keeps failing is logged
// again; the first failure and the recovery are always logged at once.
const brokerLogEvery = time.Minute

// brokerError feeds the circuit breaker and the tenant's broker health;
// cancellation is not the broker's fault.
func (r *runner) brokerError(err error) {
	if err == nil || errors.Is(err, context.Canceled) {
		return
	}
	now := r.e.Now()
	wasOpen := r.brk.open(now)
	r.brk.failure(now)
	if !wasOpen && r.brk.open(now) {
		r.e.activity(trading.Activity{Time: now, Kind: trading.ActivityBreaker, Tenant: r.id,
			Reason: fmt.Sprintf("broker errors: orders refused for %s (%s)", r.brk.cooldown, truncate(err.Error(), 200))})
	}
	s := r.stats
	s.brokerErrs++
	s.brokerErr = truncate(err.Error(), 300)
	switch {
	case s.brokerErrs == 1:
		s.brokerErrSince, s.brokerLogged = now, now
		r.log.Warn("broker calls failing", "err", s.brokerErr)
	case now.Sub(s.brokerLogged) >= brokerLogEvery:
		s.brokerLogged = now
		r.log.Warn("broker calls still failing", "errors", s.brokerErrs, "since", s.brokerErrSince.Format(time.RFC3339), "err", s.brokerErr)
	}
}

// brokerOK records a broker call that was answered (a refusal counts: the
// broker is there).
func (r *runner) brokerOK() {
	s := r.stats
	if s.brokerErrs == 0 {
		return
	}
	r.log.Info("broker calls answered again", "errors", s.brokerErrs, "after", r.e.Now().Sub(s.brokerErrSince).Round(time.Millisecond))
	s.brokerErrs, s.brokerErr = 0, ""
}
