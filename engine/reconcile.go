package engine

import (
	"errors"
	"fmt"
	"time"

	"github.com/shopspring/decimal"

	"github.com/quantum-alpaca/quantum/trading"
)

// adoptLookback is how far before the journal's newest order the broker
// is asked for orders the journal may have lost: the broker stamps orders
// with its own clock, which may run behind ours.
const adoptLookback = 5 * time.Minute

// adoptLost journals the orders the broker holds under this tenant's
// client_order_ids that the journal does not know: a journal restored from
// an older copy, truncated, or whose last writes were lost in a crash.
// Without this the strategy would place again what the broker already has,
// and sequence numbers the broker has seen would be handed out again. It
// runs before the tenant trades; if the broker cannot be asked, the runner
// fails (and is restarted with backoff) rather than trade blind.
func (r *runner) adoptLost() error {
	ctx := r.io()
	newest, err := r.e.Journal.Orders(ctx, trading.OrderFilter{TenantID: r.id, Limit: 1})
	if err != nil {
		return fmt.Errorf("read the journal's newest order: %w", err)
	}
	var since time.Time
	if len(newest) > 0 {
		since = newest[0].Intent.CreatedAt.Add(-adoptLookback)
	}
	list, err := r.t.cfg.Broker.OrdersSince(ctx, since)
	if err != nil {
		r.brokerError(err)
		return fmt.Errorf("ask the broker for orders missing from the journal: %w", err)
	}
	r.brokerOK()
	var adopted []string
	for _, bo := range list {
		seq, ours := trading.SeqOf(r.id, bo.ClientOrderID)
		if !ours {
			continue
		}
		_, err := r.e.Journal.Order(ctx, r.id, bo.ClientOrderID)
		switch {
		case err == nil:
			continue
		case trading.ErrorCode(err) != trading.ENOTFOUND:
			return fmt.Errorf("look up %s in the journal: %w", bo.ClientOrderID, err)
		}
		if err := r.adopt(seq, bo); err != nil {
			return err
		}
		adopted = append(adopted, bo.ClientOrderID)
	}
	if len(adopted) > 0 {
		r.log.Warn("the broker holds orders the journal had lost; journaled them as the broker reports them, and the strategy counts them",
			"adopted", len(adopted), "first", adopted[0], "last", adopted[len(adopted)-1])
	}
	return nil
}

// adopt journals a lost order: its intent rebuilt from what the broker
// recorded, then the broker's view of it.
func (r *runner) adopt(seq uint64, bo trading.BrokerOrder) error {
	in := trading.Intent{
		Tenant: r.id, Seq: seq, ClientOrderID: bo.ClientOrderID, Symbol: bo.Symbol, Side: bo.Side,
		Type: bo.Type, TimeInForce: bo.TimeInForce, Qty: bo.Qty, Notional: bo.Notional,
		LimitPrice: bo.LimitPrice, StopPrice: bo.StopPrice, TrailPrice: bo.TrailPrice, TrailPercent: bo.TrailPercent,
		CreatedAt: bo.CreatedAt, Strategy: r.t.cfg.StrategyName, Reason: "adopted: held by the broker, missing from the journal",
	}
	if in.Qty.IsPositive() && in.Notional.IsPositive() {
		in.Qty = decimal.Zero // a notional order may report the qty it resolved to
	}
	if err := in.Validate(); err != nil {
		return fmt.Errorf("the broker holds order %s, which the journal lost and which cannot be rebuilt (%s): restore the journal, or cancel the order at the broker and remove it from the tenant's history", bo.ClientOrderID, trading.ErrorMessage(err))
	}
	st := trading.NewOrderState(in, in.CreatedAt)
	price := bo.FilledAvgPrice
	if price.IsNegative() {
		price = decimal.Zero
	}
	return r.append(&st, trading.IntentEvent(in), trading.Event{
		Tenant: r.id, ClientOrderID: in.ClientOrderID, Kind: trading.EventReconciled,
		BrokerOrderID: bo.ID, Status: bo.Status, CumQty: bo.FilledQty, Price: price,
	})
}

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
