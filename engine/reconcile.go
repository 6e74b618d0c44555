package engine

import (
	"errors"
	"fmt"

	"github.com/shopspring/decimal"

	"github.com/quantum-alpaca/quantum/trading"
)

// load reads the journal: unfinished orders and the lifetime count.
func (r *runner) load() error {
	ctx := r.io()
	open, err := r.e.Journal.OpenOrders(ctx, r.id)
	if err != nil {
		return fmt.Errorf("load open orders: %w", err)
	}
	for i := range open {
		st := open[i]
		r.open[st.Intent.ClientOrderID] = &st
	}
	// Risk-rejected orders were never placed: counted in the store, so
	// that no number of them can skew a count-bounded strategy.
	n, err := r.e.Journal.Placed(ctx, r.id)
	if err != nil {
		return fmt.Errorf("count placed orders: %w", err)
	}
	r.placed = n
	return nil
}

// reconcileAll settles every unfinished order with the broker: orders
// whose fate is unknown to us (never acknowledged) are looked up, and
// resent under the same client_order_id if the broker does not have them;
// acknowledged orders the stream has been quiet about are checked against
// the broker's open orders. At start (all) every order is looked up.
// Broker errors are left for the next sweep; journal errors end the run.
func (r *runner) reconcileAll(all bool) error {
	ctx := r.io()
	b := r.t.cfg.Broker
	var brokerOpen map[string]trading.BrokerOrder
	if !all && len(r.open) > 0 {
		list, err := b.OpenOrders(ctx)
		if err != nil {
			r.brokerError(err)
			return nil
		}
		r.brokerOK()
		brokerOpen = make(map[string]trading.BrokerOrder, len(list))
		for _, o := range list {
			brokerOpen[o.ClientOrderID] = o
		}
	}
	now := r.e.Now()
	for _, st := range sortedOpen(r.open) {
		if r.ctx.Err() != nil {
			return nil // shutting down: what is left is reconciled next start
		}
		cid := st.Intent.ClientOrderID
		local := st.Status == trading.StatusIntent || st.Status == trading.StatusSubmitted || st.Status == trading.StatusUnknown
		if !all && !local {
			if bo, ok := brokerOpen[cid]; ok {
				if bo.FilledQty.GreaterThan(st.FilledQty) && now.Sub(st.UpdatedAt) > r.e.SweepGrace {
					if err := r.applyReconciled(st, bo); err != nil {
						return err
					}
				}
				continue
			}
			if now.Sub(st.UpdatedAt) <= r.e.SweepGrace {
				continue // probably finished just now; the stream will say
			}
		}
		bo, err := b.LookupOrder(ctx, cid)
		switch {
		case err == nil:
			if err := r.applyReconciled(st, bo); err != nil {
				return err
			}
		case errors.Is(err, trading.ErrOrderNotFound):
			if !local {
				// The broker acknowledged it once; a 404 now is odd
				// (another account?), so leave it for a person to see.
				r.log.Warn("acknowledged order not found at broker", LogKeyClientOrderID, cid)
				continue
			}
			if r.t.tradingState() == trading.Halted {
				continue
			}
			// The journal says intent but the broker never got it: send
			// it now, under the same client_order_id.
			ev := trading.Event{Tenant: r.id, ClientOrderID: cid, Kind: trading.EventReconciled, Status: trading.StatusIntent}
			if err := r.append(st, ev); err != nil {
				return err
			}
			if err := r.submit(st); err != nil {
				return err
			}
		default:
			r.brokerError(err)
			if ctx.Err() != nil {
				return nil
			}
		}
	}
	return nil
}

// applyReconciled journals what the broker says about st.
func (r *runner) applyReconciled(st *trading.OrderState, bo trading.BrokerOrder) error {
	if !bo.Status.Valid() || bo.Status.Terminal() == st.Terminal && bo.Status == st.Status && bo.FilledQty.Equal(st.FilledQty) {
		return nil
	}
	before := st.FilledQty
	price := bo.FilledAvgPrice
	if price.IsNegative() {
		price = decimal.Zero
	}
	ev := trading.Event{
		Tenant: r.id, ClientOrderID: st.Intent.ClientOrderID, Kind: trading.EventReconciled,
		BrokerOrderID: bo.ID, Status: bo.Status, CumQty: bo.FilledQty, Price: price,
	}
	if err := r.append(st, ev); err != nil {
		return err
	}
	if d := st.FilledQty.Sub(before); d.IsPositive() {
		r.addPosition(st.Intent, d)
	}
	r.orderEvent(st, decimal.Zero, decimal.Zero)
	r.forgetIfDone(st)
	return nil
}

// onUpdate journals one trade update.
func (r *runner) onUpdate(u trading.OrderUpdate) error {
	if u.Resync {
		return r.reconcileAll(false)
	}
	st := r.open[u.Order.ClientOrderID]
	if st == nil {
		// Not an unfinished order of ours: a replay of something already
		// journaled, or an order placed outside the engine.
		return nil
	}
	cid := st.Intent.ClientOrderID
	var evs []trading.Event
	if st.BrokerOrderID == "" && u.Order.ID != "" {
		evs = append(evs, trading.Event{Tenant: r.id, ClientOrderID: cid, Kind: trading.EventAck, BrokerOrderID: u.Order.ID, Status: trading.StatusNew, Time: u.Time})
	}
	var fillQty, fillPrice decimal.Decimal
	switch u.Event {
	case "fill", "partial_fill":
		// The broker's cumulative filled_qty is the truth; the delta over
		// what we have journaled is what this event adds. A redelivered
		// event adds nothing, and a missed one is caught up here.
		delta := u.Order.FilledQty.Sub(st.FilledQty)
		if !delta.IsPositive() {
			break
		}
		price := u.Price
		if !u.Qty.Equal(delta) && u.Order.FilledAvgPrice.IsPositive() {
			// Some fills were missed: price the catch-up so that the
			// journaled notional matches the broker's average.
			price = u.Order.FilledQty.Mul(u.Order.FilledAvgPrice).Sub(st.FilledNotional).DivRound(delta, 10)
		}
		if !price.IsPositive() {
			price = u.Order.FilledAvgPrice
		}
		if !price.IsPositive() {
			break // unpriceable; the sweep reconciles it
		}
		status := trading.StatusPartiallyFilled
		if u.Event == "fill" || u.Order.Status == trading.StatusFilled {
			status = trading.StatusFilled
		}
		exec := u.ExecutionID
		if exec == "" {
			exec = "event-" + u.EventID
		}
		evs = append(evs, trading.Event{Tenant: r.id, ClientOrderID: cid, Kind: trading.EventFill, Time: u.Time,
			ExecutionID: exec, Qty: delta, Price: price, CumQty: u.Order.FilledQty, Status: status})
		fillQty, fillPrice = delta, price
	case "canceled", "expired", "replaced":
		evs = append(evs, trading.Event{Tenant: r.id, ClientOrderID: cid, Kind: trading.EventCancel, Time: u.Time, Status: trading.OrderStatus(u.Event)})
	case "rejected":
		evs = append(evs, trading.Event{Tenant: r.id, ClientOrderID: cid, Kind: trading.EventReject, Time: u.Time, Reason: "rejected by broker"})
		r.stats.brokerRejects++
	}
	if len(evs) == 0 {
		return nil
	}
	if err := r.append(st, evs...); err != nil {
		return err
	}
	if fillQty.IsPositive() {
		r.stats.fills++
		r.addPosition(st.Intent, fillQty)
	}
	r.orderEvent(st, fillQty, fillPrice)
	r.forgetIfDone(st)
	return nil
}
