package engine

import (
	"context"
	"errors"
	"fmt"

	"github.com/shopspring/decimal"

	"github.com/quantum-alpaca/quantum/trading"
)

// placeAll runs the order path for each order a strategy asked for.
func (r *runner) placeAll(orders []trading.OrderRequest) error {
	for _, o := range orders {
		if r.ctx.Err() != nil {
			// Shutting down: start nothing new. The strategy decides
			// again after the restart, from the journal's counts.
			return nil
		}
		if err := r.place(o); err != nil {
			return err
		}
	}
	return nil
}

// place is the exactly-once order path: risk gate, sequence,
// client_order_id, durable intent, then send.
func (r *runner) place(o trading.OrderRequest) error {
	ctx := r.io()
	if o.Type == "" {
		o.Type = trading.Market
	}
	if o.TimeInForce == "" {
		// Crypto trades around the clock and Alpaca refuses day orders
		// for it; stocks' fractional and notional orders must be day.
		o.TimeInForce = trading.Day
		if trading.IsCrypto(o.Symbol) {
			o.TimeInForce = trading.GTC
		}
	}
	seq, err := r.e.Journal.NextSequence(ctx, r.id)
	if err != nil {
		return fmt.Errorf("next sequence: %w", err)
	}
	now := r.e.Now()
	in := trading.Intent{
		Tenant: r.id, Seq: seq, ClientOrderID: trading.ClientOrderID(r.id, seq),
		Symbol: o.Symbol, Side: o.Side, Type: o.Type, TimeInForce: o.TimeInForce,
		Qty: o.Qty, Notional: o.Notional, LimitPrice: o.LimitPrice, StopPrice: o.StopPrice,
		CreatedAt: now, Strategy: r.t.cfg.StrategyName, Reason: o.Reason,
	}
	if err := in.Validate(); err != nil {
		// A strategy bug, not a broker problem: journal it like a risk
		// refusal so that it is visible, without the intent (invalid).
		r.log.Warn("strategy emitted an invalid order", "err", trading.ErrorMessage(err))
		r.stats.riskRejects++
		r.stats.lastRisk = "invalid order: " + trading.ErrorMessage(err)
		return nil
	}
	v := r.riskView(o, now)
	reason := checkGate(v, o)
	if reason == "" {
		if needsPrice(v, o) {
			v.price = r.price(ctx, o.Symbol, now)
		}
		reason = checkLimits(v, o)
	}
	if reason != "" {
		st := trading.NewOrderState(in, now)
		ev := trading.Event{Tenant: r.id, ClientOrderID: in.ClientOrderID, Kind: trading.EventRiskRejected, Time: now, Intent: &in, Reason: reason}
		if err := r.append(&st, ev); err != nil {
			return err
		}
		r.stats.riskRejects++
		r.stats.lastRisk = reason
		r.pending = append(r.pending, trading.OrderEvent{ClientOrderID: in.ClientOrderID, Symbol: in.Symbol, Side: in.Side, Status: trading.StatusRiskRejected, Reason: reason})
		return nil
	}
	st := trading.NewOrderState(in, now)
	// Durable before sent: if we crash after this line, the restart finds
	// the intent and asks the broker about it; if we crash before, the
	// broker never heard of it either.
	if err := r.append(&st, trading.IntentEvent(in)); err != nil {
		return err
	}
	r.open[in.ClientOrderID] = &st
	r.placed++
	return r.submit(&st)
}

// submit sends st's intent and journals the outcome. Only journal errors
// are returned.
func (r *runner) submit(st *trading.OrderState) error {
	ctx := r.io()
	in := st.Intent
	bo, err := r.t.cfg.Broker.SubmitOrder(ctx, in)
	switch {
	case err == nil:
		r.brokerOK()
		// A market order may come back already filled; its fills are
		// journaled from the stream (with execution ids) or by the sweep,
		// so the ack records only that the broker accepted it. That keeps
		// the order open until its quantity is accounted for.
		status := bo.Status
		if !status.Valid() || status == trading.StatusPartiallyFilled || status == trading.StatusFilled || statusRankLocal(status) {
			status = trading.StatusNew
		}
		ev := trading.Event{Tenant: r.id, ClientOrderID: in.ClientOrderID, Kind: trading.EventAck, BrokerOrderID: bo.ID, Status: status}
		if status.Terminal() {
			// canceled/expired straight away (ioc, fok): say so.
			ev = trading.Event{Tenant: r.id, ClientOrderID: in.ClientOrderID, Kind: trading.EventAck, BrokerOrderID: bo.ID, Status: trading.StatusNew}
			if err := r.append(st, ev); err != nil {
				return err
			}
			return r.applyReconciled(st, bo)
		}
		r.appendDeferred(st, ev)
		r.orderEvent(st, decimal.Zero, decimal.Zero)
	case errors.Is(err, trading.ErrRejected):
		r.brokerOK()
		reason := trading.ErrorMessage(err)
		if reason == "" || reason == "Internal error." {
			reason = "rejected by broker"
		}
		ev := trading.Event{Tenant: r.id, ClientOrderID: in.ClientOrderID, Kind: trading.EventReject, Reason: reason}
		if err := r.append(st, ev); err != nil {
			return err
		}
		r.stats.brokerRejects++
		r.pending = append(r.pending, trading.OrderEvent{ClientOrderID: in.ClientOrderID, Symbol: in.Symbol, Side: in.Side, Status: trading.StatusRejected, Reason: reason})
		r.forgetIfDone(st)
	case ctx.Err() != nil && !errors.Is(err, trading.ErrUnknownOutcome):
		// Close gave up before the order was sent: it stays an intent and
		// the next start sends it.
		return nil
	default:
		r.brokerError(err)
		r.stats.unknown++
		ev := trading.Event{Tenant: r.id, ClientOrderID: in.ClientOrderID, Kind: trading.EventUnknown, Reason: truncate(err.Error(), 200)}
		if err := r.append(st, ev); err != nil {
			return err
		}
	}
	return nil
}

func statusRankLocal(s trading.OrderStatus) bool {
	return s == trading.StatusIntent || s == trading.StatusSubmitted || s == trading.StatusUnknown || s == trading.StatusRiskRejected
}

// append journals evs for st and applies them to st. Journal failures
// end the run: the restart reloads the truth from the journal.
func (r *runner) append(st *trading.OrderState, evs ...trading.Event) error {
	now := r.e.Now()
	for i := range evs {
		if evs[i].Time.IsZero() {
			evs[i].Time = now
		}
	}
	// Once the broker has told us something it must be journaled, even
	// while Close is giving up on broker calls: a fill or an unknown
	// outcome we drop here would have to be rediscovered by a look-up.
	if err := r.e.journalAppend(r.journalCtx(), evs...); err != nil {
		return fmt.Errorf("journal %s: %w", evs[0].Kind, err)
	}
	for _, e := range evs {
		st.Apply(e)
		if act, ok := orderActivity(st, e); ok {
			r.e.activity(act)
		}
	}
	return nil
}

// appendDeferred applies ev to st now and journals it at the next
// flushDeferred, before the runner waits for anything else. Only for
// events whose loss in a crash the restart's reconciliation repairs: the
// intent is already durable, so the broker is asked about the order.
func (r *runner) appendDeferred(st *trading.OrderState, ev trading.Event) {
	if ev.Time.IsZero() {
		ev.Time = r.e.Now()
	}
	st.Apply(ev)
	r.deferred = append(r.deferred, ev)
}

func (r *runner) flushDeferred() error {
	if len(r.deferred) == 0 {
		return nil
	}
	err := r.e.journalAppend(r.journalCtx(), r.deferred...)
	clear(r.deferred)
	r.deferred = r.deferred[:0]
	if err != nil {
		return fmt.Errorf("journal deferred acknowledgements: %w", err)
	}
	return nil
}

// journalCtx is the context of a journal write: not cancelled with the
// runner (what the broker said must be recorded); journalAppend bounds it
// by the journal's progress.
func (r *runner) journalCtx() context.Context { return context.WithoutCancel(r.io()) }

func (r *runner) forgetIfDone(st *trading.OrderState) {
	if st.Terminal {
		delete(r.open, st.Intent.ClientOrderID)
	}
}

func (r *runner) addPosition(in trading.Intent, qty decimal.Decimal) {
	if in.Side == trading.Sell {
		qty = qty.Neg()
	}
	r.positions[in.Symbol] = r.positions[in.Symbol].Add(qty)
	if trading.IsCrypto(in.Symbol) {
		// Alpaca charges crypto fees in the asset received, so the
		// position is the fill less the fee: read it back from the broker
		// once the fills waiting now are applied, before the strategy
		// decides on a position that is not quite there.
		r.accountDue = true
	}
}

func (r *runner) orderEvent(st *trading.OrderState, qty, price decimal.Decimal) {
	r.pending = append(r.pending, trading.OrderEvent{
		ClientOrderID: st.Intent.ClientOrderID, Symbol: st.Intent.Symbol, Side: st.Intent.Side,
		Status: st.Status, FillQty: qty, FillPrice: price, Reason: st.Reason,
	})
}

// deliverPending hands queued order events to the strategy. Orders it
// submits in response are placed before the next event is delivered.
func (r *runner) deliverPending() error {
	for len(r.pending) > 0 {
		ev := r.pending[0]
		r.pending = r.pending[1:]
		if r.strat == nil {
			continue
		}
		env := r.env()
		r.strat.OnOrder(env, ev)
		if err := r.placeAll(env.Submitted()); err != nil {
			return err
		}
	}
	r.pending = r.pending[:0]
	return nil
}
