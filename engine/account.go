package engine

import (
	"context"
	"errors"
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
		r.accountAt = r.e.Now()
		r.equity = a.Equity
		if a.LastEquity.IsPositive() {
			r.dailyPnL = a.Equity.Sub(a.LastEquity)
		}
	} else {
		r.brokerError(err)
	}
}

// brokerError feeds the circuit breaker; cancellation is not the
// broker's fault.
func (r *runner) brokerError(err error) {
	if err == nil || errors.Is(err, context.Canceled) {
		return
	}
	r.brk.failure(r.e.Now())
}
