// Package engine runs many tenants' strategies at once, each isolated from
// the others: one supervised runner goroutine per tenant owns that
// tenant's state (open orders, positions, strategy) and talks to its own
// trading.Broker; the only thing tenants share is read-only market data from the
// Hub and the Journal, which keeps every tenant's records apart.
//
// Orders are placed exactly once (design section 3): every order a
// strategy asks for passes the risk gate, gets a client_order_id derived
// from the tenant and a journal sequence, is journaled durably, and only
// then is sent. On start, and periodically, the runner reconciles every
// unfinished order with the broker: found means adopt, not found means
// send again under the same id.
//
// The vocabulary it runs on (Broker, Strategy, Env, TradingState, Limits,
// TenantStatus) is the trading package's; the engine owns only the
// runtime: supervision, the order path, the risk gate and the quote hub.
package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quantum-alpaca/quantum/trading"
)

// Defaults for Engine's tunable fields.
const (
	// DefaultSweepInterval is how often each runner checks its open orders
	// and positions by REST, to catch anything the stream missed.
	DefaultSweepInterval = 2 * time.Second
	// DefaultAcquireInterval is how often an engine tries to take a
	// tenant another engine owns, with Owners set.
	DefaultAcquireInterval = time.Second
	// DefaultAccountInterval is how often each runner reloads positions
	// and equity from the broker (also the daily-loss figure). Fills keep
	// the positions current in between; this corrects any drift. It is
	// slower than the sweep because an idle tenant should cost the broker
	// (and its rate budget) next to nothing.
	DefaultAccountInterval = 15 * time.Second
	// DefaultSweepGrace is how long after its last update an acknowledged
	// order is left to the stream before the sweep looks it up.
	DefaultSweepGrace = time.Second
	// DefaultRestartMin and DefaultRestartMax bound the exponential backoff
	// between restarts of a failed runner; a run that lasted
	// DefaultRestartReset resets it.
	DefaultRestartMin   = 100 * time.Millisecond
	DefaultRestartMax   = 30 * time.Second
	DefaultRestartReset = time.Minute
	// DefaultUpdateBuffer is the capacity of each runner's trade-update
	// channel. When it is full the stream blocks (never drops: an update
	// can be a fill), and the broker sees TCP back-pressure. It is small
	// on purpose: a channel's buffer is allocated up front, and at ~300
	// bytes an update, 1024 slots would cost every idle tenant 300 KiB.
	DefaultUpdateBuffer = 4
	// DefaultStateRetryInterval is how often a HALTED state that could not
	// be saved is tried again.
	DefaultStateRetryInterval = time.Second

	// DefaultQuoteMaxAge is how old a quote may be and still price the
	// risk checks before the runner asks the broker for a fresh one.
	DefaultQuoteMaxAge = 5 * time.Second
)

// ErrUnknownTenant is returned for a tenant id the engine does not run.
var ErrUnknownTenant = trading.Errorf(trading.ENOTFOUND, "Unknown tenant.")

// TenantConfig describes one tenant.
type TenantConfig struct {
	ID     trading.TenantID
	Broker trading.Broker
	// StrategyName is shown in status and journaled with each intent.
	StrategyName string
	// NewStrategy builds the tenant's strategy; it is called again on
	// every restart, so a strategy that panicked starts afresh.
	NewStrategy func() (trading.Strategy, error)
	Limits      trading.Limits
	// State is the initial trading state; empty means Active.
	State trading.TradingState
}

// Engine runs tenants. Create it with NewEngine, add tenants, adjust the
// exported fields, then Open; Close stops it.
type Engine struct {
	Journal trading.Journal
	// Hub, when set, feeds quotes to the strategies that subscribe.
	Hub    *Hub
	Logger *slog.Logger
	Now    func() time.Time
	// Activities is the engine's activity feed: subscribe before Open to
	// hear everything.
	Activities *Activities
	// UnboundedJournal drops the time bound on a runner's journal writes:
	// for an in-memory journal that cannot block (a backtest's), where
	// arming a timer per write is all the bound would do.
	UnboundedJournal bool
	// States, when set, keeps the kill switch across restarts: SetState
	// saves each change in it, and Open applies the saved states over the
	// tenants' configured ones (a tenant halted through the ops API stays
	// halted whatever the config file says).
	States trading.StateStore
	// StateSyncInterval, when positive (and States is set), is how often
	// the engine applies states that other engines sharing the store have
	// saved; zero when this engine is the store's only writer.
	StateSyncInterval time.Duration

	SweepInterval time.Duration
	SweepGrace    time.Duration
	// AccountInterval is how often positions and equity are reloaded.
	AccountInterval time.Duration
	RestartMin      time.Duration
	RestartMax      time.Duration
	RestartReset    time.Duration
	UpdateBuffer    int
	QuoteMaxAge     time.Duration
	// Owners, when several engines share one journal, decides which of
	// them runs each tenant; nil runs every tenant here. A tenant owned
	// elsewhere waits in HealthStandby and is tried again every
	// AcquireInterval.
	Owners          trading.Ownership
	AcquireInterval time.Duration

	tenants []*tenant
	byID    map[trading.TenantID]*tenant
	// stateGen counts SetState calls, so that the state sync can tell a
	// read of the store that is older than a change made here.
	stateGen atomic.Uint64

	// soft ends the runners' loops (no new orders); hard also cancels
	// their in-flight broker and journal calls. Close cancels soft first
	// and hard only when its own deadline passes, so a graceful shutdown
	// lets an order in flight finish and be journaled.
	softCtx    context.Context
	softCancel context.CancelFunc
	hardCtx    context.Context
	hardCancel context.CancelFunc
	wg         sync.WaitGroup
	opened     bool
	jwatch     *journalWatch
}

// NewEngine returns an Engine with defaults set.
func NewEngine(j trading.Journal) *Engine {
	return &Engine{
		Journal:         j,
		Logger:          slog.Default().With("system", "engine"),
		Now:             time.Now,
		SweepInterval:   DefaultSweepInterval,
		SweepGrace:      DefaultSweepGrace,
		AccountInterval: DefaultAccountInterval,
		RestartMin:      DefaultRestartMin,
		RestartMax:      DefaultRestartMax,
		RestartReset:    DefaultRestartReset,
		UpdateBuffer:    DefaultUpdateBuffer,
		QuoteMaxAge:     DefaultQuoteMaxAge,
		AcquireInterval: DefaultAcquireInterval,
		byID:            make(map[trading.TenantID]*tenant),
		Activities:      new(Activities),
	}
}

// AddTenant registers a tenant; call it before Open.
func (e *Engine) AddTenant(cfg TenantConfig) error {
	if e.opened {
		return errors.New("engine: AddTenant after Open")
	}
	if err := cfg.ID.Validate(); err != nil {
		return err
	}
	if _, dup := e.byID[cfg.ID]; dup {
		return trading.Errorf(trading.ECONFLICT, "Tenant %q added twice.", cfg.ID)
	}
	if cfg.Broker == nil || cfg.NewStrategy == nil {
		return trading.Errorf(trading.EINVALID, "Tenant %q needs a broker and a strategy.", cfg.ID)
	}
	if cfg.State == "" {
		cfg.State = trading.Active
	}
	if !cfg.State.Valid() {
		return trading.Errorf(trading.EINVALID, "Invalid trading state %q.", cfg.State)
	}
	t := &tenant{cfg: cfg}
	t.state.Store(string(cfg.State))
	t.status.Store(&trading.TenantStatus{ID: cfg.ID, Strategy: cfg.StrategyName, State: cfg.State, Health: trading.HealthStarting})
	e.tenants = append(e.tenants, t)
	e.byID[cfg.ID] = t
	return nil
}

// Open starts the hub and one supervised runner per tenant. It returns at
// once; runners reconcile with their brokers in the background.
func (e *Engine) Open() error {
	if e.opened {
		return errors.New("engine: already open")
	}
	if e.Journal == nil {
		return errors.New("engine: Journal required")
	}
	if e.Now == nil {
		e.Now = time.Now
	}
	if e.Logger == nil {
		e.Logger = slog.Default().With("system", "engine")
	}
	if e.Activities == nil {
		e.Activities = new(Activities)
	}
	if err := e.applySavedStates(); err != nil {
		return err
	}
	e.opened = true
	e.jwatch = newJournalWatch(journalStall, e.Logger, e.Journal)
	e.hardCtx, e.hardCancel = context.WithCancel(context.Background())
	e.softCtx, e.softCancel = context.WithCancel(e.hardCtx)
	if e.States != nil {
		e.wg.Add(1)
		go func() {
			defer e.wg.Done()
			e.stateLoop(e.softCtx)
		}()
	}
	if e.Hub != nil {
		e.wg.Add(1)
		go func() {
			defer e.wg.Done()
			_ = e.Hub.Run(e.softCtx)
		}()
	}
	e.activity(trading.Activity{Kind: trading.ActivityEngineStart, Reason: fmt.Sprintf("%d tenants", len(e.tenants))})
	for _, t := range e.tenants {
		e.wg.Add(1)
		go func() {
			defer e.wg.Done()
			e.supervise(t)
		}()
	}
	return nil
}

// Close stops every runner: no new orders are started, orders in flight
// finish and are journaled (or, if ctx ends first, are cancelled and
// journaled as unknown, to be reconciled on the next start). It does not
// close the Journal, which the caller owns.
func (e *Engine) Close(ctx context.Context) error {
	if !e.opened {
		return nil
	}
	e.softCancel()
	done := make(chan struct{})
	go func() { e.wg.Wait(); close(done) }()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = ctx.Err()
		e.hardCancel()
		<-done
	}
	e.hardCancel()
	e.activity(trading.Activity{Kind: trading.ActivityEngineStop})
	return err
}

// SetState sets a tenant's trading state (the kill switch). It takes
// effect before the tenant's next order.
//
// With States set, a state is saved before it is answered, and the two
// directions fail differently, both on the side of trading less:
//   - HALTED takes effect at once, saved or not. If it cannot be saved,
//     SetState returns an error matching trading.ErrSavedLater and the
//     engine writes it through as soon as the store answers; until then no
//     saved state (an older one) is applied over it.
//   - ACTIVE and REDUCING trade more, so they are saved first and take
//     effect only then: if the store cannot be written, SetState returns
//     EUNAVAILABLE and nothing changed.
func (e *Engine) SetState(id trading.TenantID, s trading.TradingState) error {
	t, err := e.stateTarget(id, s)
	if err != nil {
		return err
	}
	t.stateMu.Lock()
	defer t.stateMu.Unlock()
	// A states read in flight now is older than this change: the sync
	// loop must not apply it.
	e.stateGen.Add(1)
	if e.States == nil {
		e.applyState(t, s, "trading state changed")
		return nil
	}
	if s == trading.Halted {
		e.applyState(t, s, "trading state changed")
		if err := e.saveState(id, s); err != nil {
			t.pending = s
			e.Logger.Error("kill switch applied here but not saved; it is written as soon as the state store answers", LogKeyTenant, id, "err", err)
			return fmt.Errorf("%w: %w", trading.ErrSavedLater, err)
		}
		t.pending = ""
		return nil
	}
	if err := e.saveState(id, s); err != nil {
		e.Logger.Warn("trading state change refused: the state store cannot be written", LogKeyTenant, id, "state", s, "err", err)
		return trading.Errorf(trading.EUNAVAILABLE, "Trading state not changed: the state store cannot be written (%s). Try again when it answers.", truncate(err.Error(), 200))
	}
	t.pending = ""
	e.applyState(t, s, "trading state changed")
	return nil
}

// applyState makes s t's state; the caller holds t.stateMu.
func (e *Engine) applyState(t *tenant, s trading.TradingState, msg string) {
	if t.tradingState() == s {
		return
	}
	t.state.Store(string(s))
	e.Logger.Info(msg, LogKeyTenant, t.cfg.ID, "state", s)
	e.activity(trading.Activity{Kind: trading.ActivityState, Tenant: t.cfg.ID, State: s, Reason: msg})
}

func (e *Engine) saveState(id trading.TenantID, s trading.TradingState) error {
	ctx, cancel := context.WithTimeout(context.Background(), stateTimeout)
	defer cancel()
	return e.States.SetTradingState(ctx, id, s)
}

// adoptState applies a state another engine saved, read when the state
// generation was gen. It is skipped when a state was set here since that
// read (the read is older), or while a HALTED set here is not saved yet.
// It never saves: saving a state read from the store could overwrite a
// newer one.
func (e *Engine) adoptState(id trading.TenantID, s trading.TradingState, gen uint64) {
	t := e.byID[id]
	if t == nil || !s.Valid() {
		return // a tenant of another fleet: not ours
	}
	t.stateMu.Lock()
	defer t.stateMu.Unlock()
	if t.pending != "" || e.stateGen.Load() != gen {
		return
	}
	e.applyState(t, s, "trading state adopted from another engine")
}

// flushPending writes through the HALTED states that could not be saved
// when they were set.
func (e *Engine) flushPending() {
	for _, t := range e.tenants {
		t.stateMu.Lock()
		if t.pending != "" {
			if err := e.saveState(t.cfg.ID, t.pending); err == nil {
				e.Logger.Info("kill switch saved after the state store came back", LogKeyTenant, t.cfg.ID, "state", t.pending)
				t.pending = ""
			}
		}
		t.stateMu.Unlock()
	}
}

// applySavedStates sets each tenant's state to the one saved in States,
// if any; a saved state overrides the configured one.
func (e *Engine) applySavedStates() error {
	if e.States == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), stateTimeout)
	defer cancel()
	saved, err := e.States.TradingStates(ctx)
	if err != nil {
		return fmt.Errorf("read saved trading states: %w", err)
	}
	for _, t := range e.tenants {
		s, ok := saved[t.cfg.ID]
		if !ok || s == t.tradingState() {
			continue
		}
		e.Logger.Warn("trading state saved through the ops API overrides the config", LogKeyTenant, t.cfg.ID, "state", s, "config", t.tradingState())
		t.state.Store(string(s))
	}
	return nil
}

// stateLoop writes through unsaved HALTED states and, with
// StateSyncInterval set, applies the states other engines save, until ctx
// ends.
func (e *Engine) stateLoop(ctx context.Context) {
	every := e.StateSyncInterval
	if every <= 0 {
		every = DefaultStateRetryInterval
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	failing := false
	for {
		select {
		case <-ctx.Done():
			e.flushPending()
			for _, t := range e.tenants {
				t.stateMu.Lock()
				if t.pending != "" {
					e.Logger.Error("kill switch never saved: the tenant starts with its older saved state next time; halt it again then", LogKeyTenant, t.cfg.ID, "state", t.pending)
				}
				t.stateMu.Unlock()
			}
			return
		case <-tick.C:
		}
		e.flushPending()
		if e.StateSyncInterval <= 0 {
			continue
		}
		gen := e.stateGen.Load()
		saved, err := e.States.TradingStates(ctx)
		if err != nil {
			if ctx.Err() == nil && !failing {
				e.Logger.Warn("cannot read shared trading states", "err", err)
			}
			failing = true
			continue
		}
		if failing {
			e.Logger.Info("shared trading states readable again")
			failing = false
		}
		for id, s := range saved {
			e.adoptState(id, s, gen)
		}
	}
}

// stateTarget returns the tenant whose state is to become s, checking both.
func (e *Engine) stateTarget(id trading.TenantID, s trading.TradingState) (*tenant, error) {
	t := e.byID[id]
	if t == nil {
		return nil, ErrUnknownTenant
	}
	if !s.Valid() {
		return nil, trading.Errorf(trading.EINVALID, "Invalid trading state %q: want ACTIVE, REDUCING or HALTED.", s)
	}
	return t, nil
}

// Status returns a tenant's latest status.
func (e *Engine) Status(id trading.TenantID) (trading.TenantStatus, error) {
	t := e.byID[id]
	if t == nil {
		return trading.TenantStatus{}, ErrUnknownTenant
	}
	return t.snapshot(), nil
}

// RecentBars fetches up to n of symbol's latest minute bars through
// tenant id's own broker client (for the dashboard's charts; it spends
// that tenant's rate limit, never another's).
func (e *Engine) RecentBars(ctx context.Context, id trading.TenantID, symbol string, n int) ([]trading.Bar, error) {
	t := e.byID[id]
	if t == nil {
		return nil, ErrUnknownTenant
	}
	return t.cfg.Broker.RecentBars(ctx, symbol, n)
}

// Statuses returns every tenant's latest status, in the order added.
func (e *Engine) Statuses() []trading.TenantStatus {
	out := make([]trading.TenantStatus, 0, len(e.tenants))
	for _, t := range e.tenants {
		out = append(out, t.snapshot())
	}
	return out
}

type tenant struct {
	cfg TenantConfig
	// stats is touched only by the tenant's current runner; the
	// supervisor runs one at a time, so it needs no lock.
	stats tenantStats
	// stateMu orders state changes, so the persisted and the live state
	// cannot end up different; pending (under it) is a HALTED state set
	// here that the store has not taken yet.
	stateMu sync.Mutex
	pending trading.TradingState
	state   atomic.Value // string(TradingState), set by SetState
	status  atomic.Pointer[trading.TenantStatus]
}

// tenantStats count what happened to a tenant's orders in this process.
type tenantStats struct {
	fills, riskRejects, brokerRejects, unknown int
	lastRisk                                   string

	// brokerErrs counts broker calls failed in a row (0: the last one was
	// answered), since brokerErrSince; brokerErr is the last one's error
	// and brokerLogged when a failure was last logged.
	brokerErrs                   int
	brokerErr                    string
	brokerErrSince, brokerLogged time.Time
	// failedAt is when the runner last failed.
	failedAt time.Time
}

func (t *tenant) tradingState() trading.TradingState {
	return trading.TradingState(t.state.Load().(string))
}

func (t *tenant) snapshot() trading.TenantStatus {
	s := *t.status.Load()
	s.State = t.tradingState()
	return s
}

// supervise runs t's runner until the engine closes, restarting it with
// exponential backoff whenever it fails or panics. With Owners set it runs
// the tenant only while this engine owns it.
func (e *Engine) supervise(t *tenant) {
	log := e.Logger.With(LogKeyTenant, t.cfg.ID)
	backoff := e.RestartMin
	restarts := 0
	var lastMsg string
	var logged time.Time
	repeats := 0
	for {
		lease, release, ok := e.own(t, log)
		if !ok {
			t.publish(func(s *trading.TenantStatus) { s.Health = trading.HealthStopped })
			return
		}
		started := e.Now()
		err := e.runOnce(t, lease, log, restarts)
		lost := lease.Err() != nil && e.hardCtx.Err() == nil
		release()
		if e.softCtx.Err() != nil {
			t.publish(func(s *trading.TenantStatus) { s.Health = trading.HealthStopped })
			return
		}
		if lost {
			// Not the runner's failure: another engine may run the
			// tenant now. It is tried again like any unowned tenant.
			log.Warn("tenant ownership lost; runner stopped")
			t.publish(func(s *trading.TenantStatus) {
				s.Health, s.LastError, s.Problem, s.Owner = trading.HealthStandby, "ownership lost", "", ""
			})
			// An engine that just lost its locks is the one to distrust:
			// the others get the first chance at its tenants.
			if !e.sleep(e.AcquireInterval) {
				t.publish(func(s *trading.TenantStatus) { s.Health = trading.HealthStopped })
				return
			}
			continue
		}
		restarts++
		if e.Now().Sub(started) > e.RestartReset {
			backoff = e.RestartMin
		}
		msg := "runner stopped"
		if err != nil {
			msg = err.Error()
		}
		failed := e.Now()
		// The first failure, and any new cause, is logged at once; the
		// same failure again (a key the broker keeps refusing) at most
		// every brokerLogEvery, with how often it recurred.
		if msg != lastMsg || failed.Sub(logged) >= brokerLogEvery {
			log.Error("tenant runner failed; restarting", "err", msg, "backoff", backoff, "restarts", restarts, "same_since_last_log", repeats)
			lastMsg, logged, repeats = msg, failed, 0
		} else {
			repeats++
		}
		t.stats.failedAt = failed
		e.activity(trading.Activity{Kind: trading.ActivityFailed, Tenant: t.cfg.ID, Reason: truncate(msg, 300)})
		t.publish(func(s *trading.TenantStatus) {
			s.Health, s.LastError, s.Restarts, s.FailedAt = trading.HealthFailed, msg, restarts, failed
			s.Problem = "runner failed: " + msg
		})
		if !e.sleep(backoff) {
			t.publish(func(s *trading.TenantStatus) { s.Health = trading.HealthStopped })
			return
		}
		backoff = min(2*backoff, e.RestartMax)
	}
}

// own waits until this engine owns t, returning the ownership's context
// and release func, or false once the engine is closing. Without Owners
// every tenant is owned here for the engine's life.
func (e *Engine) own(t *tenant, log *slog.Logger) (context.Context, func(), bool) {
	if e.Owners == nil {
		return e.hardCtx, func() {}, e.softCtx.Err() == nil
	}
	failing := false // log a failure once, not at every attempt of every tenant
	for e.softCtx.Err() == nil {
		lease, release, err := e.Owners.Acquire(e.hardCtx, t.cfg.ID)
		switch {
		case err != nil:
			if !failing {
				log.Warn("cannot check tenant ownership; retrying", "err", err)
			}
			failing = true
			t.publish(func(s *trading.TenantStatus) {
				s.Health, s.LastError = trading.HealthStandby, "ownership: "+err.Error()
				// Nobody may be running the tenant: this engine cannot tell.
				s.Problem = "cannot check tenant ownership: " + err.Error()
			})
		case lease != nil:
			owner := e.ownerOf(t.cfg.ID)
			t.publish(func(s *trading.TenantStatus) { s.Owner = owner })
			return lease, release, true
		default:
			failing = false
			owner := e.ownerOf(t.cfg.ID)
			t.publish(func(s *trading.TenantStatus) { s.Health, s.Problem, s.Owner = trading.HealthStandby, "", owner })
		}
		if !e.sleep(e.AcquireInterval) {
			break
		}
	}
	return nil, nil, false
}

// ownerOf names the engine running id, when Owners can say.
func (e *Engine) ownerOf(id trading.TenantID) string {
	if n, ok := e.Owners.(trading.OwnerNamer); ok {
		return n.Owner(id)
	}
	return ""
}

// sleep waits d, or returns false at once when the engine closes.
func (e *Engine) sleep(d time.Duration) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-e.softCtx.Done():
		return false
	}
}

// runOnce runs one incarnation of t's runner; a panic anywhere in it (the
// strategy's, most likely) becomes an error, so it ends only this tenant's
// runner, after the runner's deferred cleanup has stopped its stream. Its
// loop ends with the engine's graceful shutdown or with lease; its broker
// and journal calls only with lease.
func (e *Engine) runOnce(t *tenant, lease context.Context, log *slog.Logger, restarts int) (err error) {
	defer func() {
		if p := recover(); p != nil {
			// The stack goes to the log, not into the error: the error
			// reaches the ops API, where one line is what fits.
			log.Error("tenant runner panicked", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	ctx := e.softCtx // without Owners the lease is the engine's own life
	if lease != e.hardCtx {
		var cancel context.CancelFunc
		ctx, cancel = context.WithCancel(lease)
		defer cancel()
		stop := context.AfterFunc(e.softCtx, cancel)
		defer stop()
	}
	r := newRunner(e, t, log, restarts, ctx, lease)
	return r.run()
}

func (t *tenant) publish(fn func(*trading.TenantStatus)) {
	s := *t.status.Load()
	fn(&s)
	t.status.Store(&s)
}

// sortedOpen returns the keys of open sorted by sequence, so that orders
// are reconciled oldest first.
func sortedOpen(open map[string]*trading.OrderState) []*trading.OrderState {
	out := make([]*trading.OrderState, 0, len(open))
	for _, st := range open {
		out = append(out, st)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Intent.Seq < out[j].Intent.Seq })
	return out
}
