package engine

import (
	"context"
	"fmt"
	"hash/fnv"
	"log/slog"
	"sync"
	"time"

	"github.com/shopspring/decimal"

	"github.com/quantum-alpaca/quantum/trading"
)

// stateTimeout bounds one read or write of the trading-state store.
const stateTimeout = 5 * time.Second

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
	// lastBar is the start of the last bar handed to the strategy.
	lastBar time.Time
	envBuf  *trading.Env

	// recentBars answers Env.RecentBars; made once, as every strategy
	// call builds an Env with it.
	recentBars func(symbol string, n int) ([]trading.Bar, error)

	// pending holds order events for the strategy, delivered from the
	// loop so that a strategy's Submit never re-enters the order path.
	pending []trading.OrderEvent
	// deferred holds events already applied to their orders but not yet
	// journaled: acknowledgements, which the broker can always tell us
	// again, so the strategy hears of them before the journal's fsync.
	deferred []trading.Event

	// received is the update the loop's select took from a channel, on
	// its way to onReceived.
	received trading.OrderUpdate
	// accountDue asks for the account and positions to be read again
	// before the next decision.
	accountDue bool
	clk        clocks

	stats    *tenantStats // the tenant's, kept across restarts
	restarts int

	// ctx ends the loop (graceful shutdown, or the tenant's ownership
	// lost); ioCtx bounds broker and journal calls, which a graceful
	// shutdown lets finish but a lost ownership cuts short.
	ctx, ioCtx context.Context
}

func newRunner(e *Engine, t *tenant, log *slog.Logger, restarts int, ctx, ioCtx context.Context) *runner {
	r := &runner{
		e: e, t: t, log: log, id: t.cfg.ID, ctx: ctx, ioCtx: ioCtx,
		open:      make(map[string]*trading.OrderState),
		positions: make(map[string]decimal.Decimal),
		quotes:    make(map[string]trading.Quote),
		brk:       newBreaker(t.cfg.Limits),
		stats:     &t.stats,
		restarts:  restarts,
	}
	r.recentBars = func(symbol string, n int) ([]trading.Bar, error) { return t.cfg.Broker.RecentBars(r.io(), symbol, n) }
	return r
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
	b := r.t.cfg.Broker
	r.t.publish(func(s *trading.TenantStatus) { s.Health = trading.HealthStarting })

	// Start the trade-update stream before reconciling, so that nothing
	// that happens during reconciliation is missed; the stream goroutine
	// is owned here and always stopped and waited for before returning.
	// A broker that queues the account's updates itself is read directly,
	// with no goroutine or channel per tenant.
	var src updateSource
	if q, ok := b.(trading.UpdateQueue); ok {
		ready, next, stop, err := q.FollowUpdates()
		if err != nil {
			return fmt.Errorf("trade updates: %w", err)
		}
		defer stop()
		src = updateSource{ready: ready, next: next}
	} else {
		updates := make(chan trading.OrderUpdate, max(1, r.e.UpdateBuffer))
		streamErr := make(chan error, 1)
		sctx, scancel := context.WithCancel(r.ctx)
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			streamErr <- b.StreamUpdates(sctx, updates)
		}()
		defer func() { scancel(); wg.Wait() }()
		src = updateSource{ch: updates, err: streamErr}
	}

	err = r.start()
	if r.box != nil {
		defer r.e.Hub.Unsubscribe(r.box)
	}
	if err != nil {
		return err
	}
	return r.loop(src)
}

// updateSource is where a runner's trade updates come from: a channel
// that StreamUpdates fills (and its error), or a queue it polls.
type updateSource struct {
	ch    <-chan trading.OrderUpdate
	err   <-chan error
	ready <-chan struct{}
	next  func() (trading.OrderUpdate, bool)
}

// takeWaiting applies an update that is already waiting, if there is
// one. It and onReceived keep the update (400 bytes) out of the loop's
// frame: what the loop parks on is the stack an idle tenant keeps.
//
//go:noinline
func (r *runner) takeWaiting(src *updateSource) (bool, error) {
	u, ok := src.poll()
	if !ok {
		return false, nil
	}
	return true, r.onUpdate(u)
}

// settleAccount reads the account back when a fill asked for it (see
// addPosition).
//
//go:noinline
func (r *runner) settleAccount() {
	if r.accountDue {
		r.accountDue = false
		r.refreshAccount()
		r.publish(trading.HealthRunning)
	}
}

// onReceived applies the update the loop received into r.received.
//
//go:noinline
func (r *runner) onReceived() error {
	u := r.received
	r.received = trading.OrderUpdate{}
	return r.onUpdate(u)
}

// poll returns a waiting update without blocking.
func (s *updateSource) poll() (trading.OrderUpdate, bool) {
	if s.next != nil {
		return s.next()
	}
	select {
	case u := <-s.ch:
		return u, true
	default:
		return trading.OrderUpdate{}, false
	}
}

// start reconciles the tenant with its journal and broker and starts its
// strategy. It returns before the loop begins, so that its deep calls
// (journal queries, reconciliation) leave no frames under the loop: an
// idle tenant is mostly its runner's stack, and a stack shrinks only to
// what its goroutine uses while parked.
func (r *runner) start() error {
	if err := r.adoptLost(); err != nil {
		return err
	}
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
	if r.e.Hub != nil && (len(r.sub.Symbols) > 0 || len(r.sub.Bars) > 0) {
		r.box = r.e.Hub.Subscribe(r.sub.Symbols, r.sub.Bars)
	}
	return nil
}

// loop runs the tenant until its context ends or something fails. Each
// event's work is in a method of its own, so that the frame parked in
// the select stays small (see start).
func (r *runner) loop(src updateSource) error {
	ctx := r.ctx
	var quoteC <-chan struct{}
	if r.box != nil {
		quoteC = r.box.C()
	}
	timer := r.clk.start(r.id, r.sub.Interval, r.e.SweepInterval, r.e.AccountInterval)
	defer timer.Stop()

	r.publish(trading.HealthRunning)
	r.announceRecovered()
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
		if took, err := r.takeWaiting(&src); err != nil {
			return err
		} else if took {
			continue
		}
		r.settleAccount()
		var err error
		select {
		case <-ctx.Done():
			return nil
		case serr := <-src.err:
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("trade update stream: %w", serr)
		case r.received = <-src.ch:
			err = r.onReceived()
		case <-src.ready:
			// Taken at the top of the loop, updates first.
		case <-timer.C:
			err = r.onClock()
		case <-quoteC:
			err = r.onMarketData()
		}
		if err != nil {
			return err
		}
	}
}

// clocks are a runner's three schedules: the strategy's interval, the
// sweep of open orders and the account refresh. They share one timer,
// set for the earliest: a timer is a few hundred bytes, and thousands of
// idle tenants would otherwise hold three each.
type clocks struct {
	timer                *time.Timer
	interval, sweepEvery time.Duration
	accountEvery         time.Duration
	tick, sweep, account time.Time // when each is next due; tick is zero without an interval
}

func (c *clocks) start(id trading.TenantID, interval, sweepEvery, accountEvery time.Duration) *time.Timer {
	now := time.Now()
	c.interval, c.sweepEvery, c.accountEvery = interval, max(sweepEvery, time.Millisecond), max(accountEvery, time.Millisecond)
	c.tick = time.Time{}
	if interval > 0 {
		// Each tenant's schedule is shifted by a stable phase within the
		// interval, so that many tenants on the same schedule do not all
		// reach the journal and the broker in the same millisecond.
		c.tick = now.Add(tickPhase(id, interval))
	}
	c.sweep = now.Add(c.sweepEvery)
	// Account refreshes are spread like strategy timers: all tenants
	// refreshing in the same instant would burst the broker and, with
	// idle REST connections closed between refreshes, reopen every
	// tenant's connection at once.
	c.account = now.Add(tickPhase(id, c.accountEvery))
	c.timer = time.NewTimer(c.next().Sub(now))
	return c.timer
}

func (c *clocks) next() time.Time {
	t := c.sweep
	if c.account.Before(t) {
		t = c.account
	}
	if !c.tick.IsZero() && c.tick.Before(t) {
		t = c.tick
	}
	return t
}

// onClock runs whichever schedules are due and sets the timer for the
// next; out of the loop's frame (see takeWaiting).
//
//go:noinline
func (r *runner) onClock() error {
	c := &r.clk
	now := time.Now()
	tick := !c.tick.IsZero() && !c.tick.After(now)
	if tick {
		// Like a Ticker, skip ticks missed while busy rather than
		// bunching them up.
		for !c.tick.After(now) {
			c.tick = c.tick.Add(c.interval)
		}
	}
	sweep := !c.sweep.After(now)
	if sweep {
		c.sweep = now.Add(c.sweepEvery)
	}
	account := !c.account.After(now)
	if account {
		c.account = now.Add(c.accountEvery)
	}
	c.timer.Reset(time.Until(c.next()))
	if account {
		r.refreshAccount()
	}
	if sweep && len(r.open) > 0 {
		if err := r.reconcileAll(false); err != nil {
			return err
		}
	}
	if tick {
		return r.onTimer()
	}
	return nil
}

// announceRecovered reports a tenant running again after failures; out
// of the loop's frame (see takeWaiting).
//
//go:noinline
func (r *runner) announceRecovered() {
	if r.restarts > 0 {
		r.e.activity(trading.Activity{Kind: trading.ActivityRecovered, Tenant: r.id, Reason: fmt.Sprintf("running again after %d failed start(s)", r.restarts)})
	}
}

func (r *runner) onTimer() error {
	env := r.env()
	r.strat.OnTimer(env)
	return r.placeAll(env.Submitted())
}

// onMarketData hands the strategy the quotes and then the bars that
// arrived, in that order: a bar is published when its minute has ended,
// after the quotes of that minute.
func (r *runner) onMarketData() error {
	for _, q := range r.box.Drain() {
		r.quotes[q.Symbol] = q
		env := r.env()
		r.strat.OnQuote(env, q)
		if err := r.placeAll(env.Submitted()); err != nil {
			return err
		}
	}
	for _, b := range r.box.DrainBars() {
		r.lastBar = b.Time
		env := r.env()
		r.strat.OnBar(env, b)
		if err := r.placeAll(env.Submitted()); err != nil {
			return err
		}
	}
	return nil
}

// env gives the strategy a view of the runner's state; the maps are
// shared, not copied, since the strategy runs on this goroutine.
//
// One Env serves every callback (an Env is not kept past its call), as a
// backtest makes one per replayed minute and tenant.
func (r *runner) env() *trading.Env {
	if r.envBuf == nil {
		r.envBuf = new(trading.Env)
	}
	r.envBuf.Reset(trading.EnvState{
		Tenant: r.id, Now: r.e.Now(), Logger: r.log, OrdersPlaced: r.placed, OpenOrders: len(r.open),
		Positions: r.positions, Quotes: r.quotes, Bars: r.recentBars,
	})
	return r.envBuf
}

func (r *runner) publish(health string) {
	pos := make(map[string]decimal.Decimal, len(r.positions))
	for s, q := range r.positions {
		if !q.IsZero() {
			pos[s] = q
		}
	}
	var dropped, barsDropped uint64
	if r.box != nil {
		dropped, barsDropped = r.box.Dropped(), r.box.BarsDropped()
	}
	now := r.e.Now()
	prev := r.t.status.Load()
	r.t.status.Store(&trading.TenantStatus{
		ID: r.id, Strategy: r.t.cfg.StrategyName, State: r.t.tradingState(), Health: health, Owner: prev.Owner,
		LastError: prev.LastError, Restarts: r.restarts, FailedAt: r.stats.failedAt, Problem: r.problem(now),
		OrdersPlaced: r.placed, OpenOrders: len(r.open),
		Fills: r.stats.fills, RiskRejections: r.stats.riskRejects, BrokerRejections: r.stats.brokerRejects,
		Unknown: r.stats.unknown, LastRiskReason: r.stats.lastRisk,
		Positions: pos, Holdings: r.holdings, UnrealizedPnL: r.unrealized, AccountAt: r.accountAt, DailyPnL: r.dailyPnL, Equity: r.equity, BreakerOpen: r.brk.open(now),
		Limits: r.t.cfg.Limits, QuotesDropped: dropped, LastBar: r.lastBar, BarsDropped: barsDropped, UpdatedAt: now,
	})
}

// problem says why the tenant is not healthy at now, or "": its broker
// calls are failing, or its runner failed within the last RestartReset
// (a tenant that fails and restarts over and over is never "running" for
// long, but it is not healthy either), or its update stream is down.
func (r *runner) problem(now time.Time) string {
	s := r.stats
	switch {
	case s.brokerErrs > 0:
		return fmt.Sprintf("broker calls failing since %s (%d in a row): %s", s.brokerErrSince.UTC().Format(time.RFC3339), s.brokerErrs, s.brokerErr)
	case !s.failedAt.IsZero() && now.Sub(s.failedAt) < r.e.RestartReset:
		return fmt.Sprintf("runner failed %s ago: %s", now.Sub(s.failedAt).Round(time.Second), r.t.status.Load().LastError)
	}
	if sh, ok := r.t.cfg.Broker.(trading.StreamHealth); ok {
		return sh.StreamProblem()
	}
	return ""
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
