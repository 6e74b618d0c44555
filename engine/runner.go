package engine

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"sync"
	"time"

	"github.com/shopspring/decimal"

	"github.com/quantum-alpaca/quantum/trading"
)

// journalTimeout bounds one journal append made on the way out.
const journalTimeout = 5 * time.Second

// runner is one incarnation of a tenant's runner. Everything in it is
// owned by the goroutine that calls run; nothing is shared.
type runner struct {
	e   *Engine
	t   *tenant
	log *slog.Logger
	id  trading.TenantID

	strat trading.Strategy
	sub   trading.Subscription
	box   *Mailbox

	// open holds every unfinished order, keyed by client_order_id. An
	// order is added when its intent is journaled, before it is sent, so
	// a fill that arrives before the REST reply finds it.
	open      map[string]*trading.OrderState
	positions map[string]decimal.Decimal
	quotes    map[string]trading.Quote
	placed    int
	brk       *breaker
	dailyPnL  decimal.Decimal
	equity    decimal.Decimal
	// holdings and unrealized are the broker's view at the last refresh,
	// accountAt its time.
	holdings   []trading.Position
	unrealized decimal.Decimal
	accountAt  time.Time

	// pending holds order events for the strategy, delivered from the
	// loop so that a strategy's Submit never re-enters the order path.
	pending []trading.OrderEvent
	// deferred holds events already applied to their orders but not yet
	// journaled: acknowledgements, which the broker can always tell us
	// again, so the strategy hears of them before the journal's fsync.
	deferred []trading.Event

	stats    *tenantStats // the tenant's, kept across restarts
	restarts int

	// ctx ends the loop (graceful shutdown, or the tenant's ownership
	// lost); ioCtx bounds broker and journal calls, which a graceful
	// shutdown lets finish but a lost ownership cuts short.
	ctx, ioCtx context.Context
}

func newRunner(e *Engine, t *tenant, log *slog.Logger, restarts int, ctx, ioCtx context.Context) *runner {
	return &runner{
		e: e, t: t, log: log, id: t.cfg.ID, ctx: ctx, ioCtx: ioCtx,
		open:      make(map[string]*trading.OrderState),
		positions: make(map[string]decimal.Decimal),
		quotes:    make(map[string]trading.Quote),
		brk:       newBreaker(t.cfg.Limits),
		stats:     &t.stats,
		restarts:  restarts,
	}
}

// io returns the context for broker and journal calls: it survives a
// graceful shutdown (so an order in flight is finished and journaled) and
// ends only when Close gives up waiting or the tenant's ownership is lost.
func (r *runner) io() context.Context { return r.ioCtx }

func (r *runner) run() (err error) {
	// Acknowledgements applied but not yet journaled are written on every
	// way out, also after a strategy panic (recovered by the supervisor).
	defer func() {
		if ferr := r.flushDeferred(); err == nil {
			err = ferr
		}
	}()
	ctx := r.ctx
	b := r.t.cfg.Broker
	r.t.publish(func(s *trading.TenantStatus) { s.Health = trading.HealthStarting })

	// Start the trade-update stream before reconciling, so that nothing
	// that happens during reconciliation is missed; the stream goroutine
	// is owned here and always stopped and waited for before returning.
	updates := make(chan trading.OrderUpdate, max(1, r.e.UpdateBuffer))
	streamErr := make(chan error, 1)
	sctx, scancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		streamErr <- b.StreamUpdates(sctx, updates)
	}()
	defer func() { scancel(); wg.Wait() }()

	if err := r.load(); err != nil {
		return err
	}
	if err := r.reconcileAll(true); err != nil {
		return err
	}
	r.refreshAccount()

	strat, err := r.t.cfg.NewStrategy()
	if err != nil {
		return fmt.Errorf("new strategy: %w", err)
	}
	r.strat = strat
	env := r.env()
	r.sub, err = strat.Start(env)
	if err != nil {
		return fmt.Errorf("strategy start: %w", err)
	}
	if err := r.placeAll(env.Submitted()); err != nil {
		return err
	}
	if r.e.Hub != nil && len(r.sub.Symbols) > 0 {
		r.box = r.e.Hub.Subscribe(r.sub.Symbols)
		defer r.e.Hub.Unsubscribe(r.box)
	}
	var timerC <-chan time.Time
	var timer *time.Timer
	var nextTick time.Time
	if r.sub.Interval > 0 {
		// Each tenant's schedule is shifted by a stable phase within the
		// interval, so that many tenants on the same schedule do not all
		// reach the journal and the broker in the same millisecond.
		nextTick = time.Now().Add(tickPhase(r.id, r.sub.Interval))
		timer = time.NewTimer(time.Until(nextTick))
		defer timer.Stop()
		timerC = timer.C
	}
	var quoteC <-chan struct{}
	if r.box != nil {
		quoteC = r.box.C()
	}
	sweep := time.NewTicker(r.e.SweepInterval)
	defer sweep.Stop()
	// Account refreshes are spread like strategy timers: all tenants
	// refreshing in the same instant would burst the broker and, with
	// idle REST connections closed between refreshes, reopen every
	// tenant's connection at once.
	accountEvery := max(r.e.AccountInterval, time.Millisecond)
	account := time.NewTimer(tickPhase(r.id, accountEvery))
	defer account.Stop()

	r.publish(trading.HealthRunning)
	for {
		if ctx.Err() != nil {
			return nil // select picks randomly among ready cases; stop first
		}
		if err := r.deliverPending(); err != nil {
			return err
		}
		if err := r.flushDeferred(); err != nil {
			return err
		}
		r.publish(trading.HealthRunning)
		// Updates first: a fill must be journaled before the strategy is
		// asked for more, so its view of positions is current.
		select {
		case u := <-updates:
			if err := r.onUpdate(u); err != nil {
				return err
			}
			continue
		default:
		}
		select {
		case <-ctx.Done():
			return nil
		case err := <-streamErr:
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("trade update stream: %w", err)
		case u := <-updates:
			if err := r.onUpdate(u); err != nil {
				return err
			}
		case <-timerC:
			// Like a Ticker, skip ticks missed while busy rather than
			// bunching them up.
			for now := time.Now(); !nextTick.After(now); {
				nextTick = nextTick.Add(r.sub.Interval)
			}
			timer.Reset(time.Until(nextTick))
			env := r.env()
			r.strat.OnTimer(env)
			if err := r.placeAll(env.Submitted()); err != nil {
				return err
			}
		case <-quoteC:
			for _, q := range r.box.Drain() {
				r.quotes[q.Symbol] = q
				env := r.env()
				r.strat.OnQuote(env, q)
				if err := r.placeAll(env.Submitted()); err != nil {
					return err
				}
			}
		case <-sweep.C:
			if len(r.open) > 0 {
				if err := r.reconcileAll(false); err != nil {
					return err
				}
			}
		case <-account.C:
			r.refreshAccount()
			account.Reset(accountEvery)
		}
	}
}

// env gives the strategy a view of the runner's state; the maps are
// shared, not copied, since the strategy runs on this goroutine.
func (r *runner) env() *trading.Env {
	return trading.NewEnv(trading.EnvState{
		Tenant: r.id, Now: r.e.Now(), Logger: r.log, OrdersPlaced: r.placed, OpenOrders: len(r.open),
		Positions: r.positions, Quotes: r.quotes,
		Bars: func(symbol string, n int) ([]trading.Bar, error) { return r.t.cfg.Broker.RecentBars(r.io(), symbol, n) },
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
	n, err := r.e.Journal.Count(ctx, r.id)
	if err != nil {
		return fmt.Errorf("count orders: %w", err)
	}
	// Risk-rejected orders were never placed. Orders caps its result, so
	// a tenant with more rejections than that is over-counted, which errs
	// on the side of placing fewer orders.
	rej, err := r.e.Journal.Orders(ctx, trading.OrderFilter{TenantID: r.id, Status: trading.StatusRiskRejected, Limit: trading.MaxListLimit})
	if err != nil {
		return fmt.Errorf("count risk rejections: %w", err)
	}
	r.placed = n - len(rej)
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
		o.TimeInForce = trading.Day
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
	if reason := checkRisk(r.riskView(ctx, o, now), o); reason != "" {
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
	// The journal is local and fast, so a short bound is plenty.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.io()), journalTimeout)
	defer cancel()
	if err := r.e.Journal.Append(ctx, evs...); err != nil {
		return fmt.Errorf("journal %s: %w", evs[0].Kind, err)
	}
	for _, e := range evs {
		st.Apply(e)
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
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.io()), journalTimeout)
	defer cancel()
	err := r.e.Journal.Append(ctx, r.deferred...)
	clear(r.deferred)
	r.deferred = r.deferred[:0]
	if err != nil {
		return fmt.Errorf("journal deferred acknowledgements: %w", err)
	}
	return nil
}

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

// riskView gathers what checkRisk looks at for o.
func (r *runner) riskView(ctx context.Context, o trading.OrderRequest, now time.Time) riskView {
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
			}
			v.openQty = v.openQty.Add(rest)
		}
	}
	l := r.t.cfg.Limits
	if l.MaxOrderNotional.IsPositive() && o.Qty.IsPositive() && !o.LimitPrice.IsPositive() ||
		l.MaxPositionQty.IsPositive() && o.Notional.IsPositive() {
		v.price = r.price(ctx, o.Symbol, now)
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

func (r *runner) publish(health string) {
	pos := make(map[string]decimal.Decimal, len(r.positions))
	for s, q := range r.positions {
		if !q.IsZero() {
			pos[s] = q
		}
	}
	var dropped uint64
	if r.box != nil {
		dropped = r.box.Dropped()
	}
	r.t.status.Store(&trading.TenantStatus{
		ID: r.id, Strategy: r.t.cfg.StrategyName, State: r.t.tradingState(), Health: health,
		LastError: r.t.status.Load().LastError, Restarts: r.restarts,
		OrdersPlaced: r.placed, OpenOrders: len(r.open),
		Fills: r.stats.fills, RiskRejections: r.stats.riskRejects, BrokerRejections: r.stats.brokerRejects,
		Unknown: r.stats.unknown, LastRiskReason: r.stats.lastRisk,
		Positions: pos, Holdings: r.holdings, UnrealizedPnL: r.unrealized, AccountAt: r.accountAt, DailyPnL: r.dailyPnL, Equity: r.equity, BreakerOpen: r.brk.open(r.e.Now()),
		Limits: r.t.cfg.Limits, QuotesDropped: dropped, UpdatedAt: r.e.Now(),
	})
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// tickPhase is a tenant's stable offset into its strategy's interval, in
// (0, interval].
func tickPhase(id trading.TenantID, interval time.Duration) time.Duration {
	h := fnv.New64a()
	_, _ = h.Write([]byte(id))
	return time.Duration(h.Sum64()%uint64(interval)) + 1
}
