package engine

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/quantum-alpaca/quantum/trading"
)

// Stepper runs one tenant's runner without goroutines, timers or a wall
// clock: the caller delivers each event (a timer tick, a quote, a bar, an
// order update) and the tenant handles it to completion before the call
// returns. It is how a backtest runs a strategy on the very order path the
// live runner uses (risk gate, sequences, client_order_ids, journal before
// send, update handling, strategy callbacks), only faster than real time:
// Engine.Now is the simulated clock, and the Broker answers in process.
//
// A Stepper is owned by one goroutine. Its Engine is used only for its
// Journal, Now, Logger and QuoteMaxAge; it must not be Opened.
type Stepper struct {
	r *runner
}

// NewStepper returns a stepper for the tenant cfg describes.
func (e *Engine) NewStepper(cfg TenantConfig) (*Stepper, error) {
	if err := cfg.ID.Validate(); err != nil {
		return nil, err
	}
	if cfg.Broker == nil || cfg.NewStrategy == nil {
		return nil, trading.Errorf(trading.EINVALID, "Tenant %q needs a broker and a strategy.", cfg.ID)
	}
	if cfg.State == "" {
		cfg.State = trading.Active
	}
	if !cfg.State.Valid() {
		return nil, trading.Errorf(trading.EINVALID, "Invalid trading state %q.", cfg.State)
	}
	if e.Logger == nil {
		e.Logger = slog.New(slog.DiscardHandler)
	}
	t := &tenant{cfg: cfg}
	t.state.Store(string(cfg.State))
	t.status.Store(&trading.TenantStatus{ID: cfg.ID, Strategy: cfg.StrategyName, State: cfg.State, Health: trading.HealthStarting})
	ctx := context.Background()
	return &Stepper{r: newRunner(e, t, e.Logger.With(LogKeyTenant, string(cfg.ID)), 0, ctx, ctx)}, nil
}

// Start does what a runner does before its loop: adopts orders the
// journal lost, loads and reconciles the open ones, reads the account,
// builds the strategy and starts it, placing what it asks for.
func (s *Stepper) Start() (trading.Subscription, error) {
	r := s.r
	if err := r.adoptLost(); err != nil {
		return trading.Subscription{}, err
	}
	if err := r.load(); err != nil {
		return trading.Subscription{}, err
	}
	if err := r.reconcileAll(true); err != nil {
		return trading.Subscription{}, err
	}
	r.refreshAccount()
	strat, err := r.t.cfg.NewStrategy()
	if err != nil {
		return trading.Subscription{}, fmt.Errorf("new strategy: %w", err)
	}
	r.strat = strat
	env := r.env()
	r.sub, err = strat.Start(env)
	if err != nil {
		return trading.Subscription{}, fmt.Errorf("strategy start: %w", err)
	}
	if err := r.placeAll(env.Submitted()); err != nil {
		return r.sub, err
	}
	return r.sub, s.settle()
}

// settle does what the live loop does between events: hands queued order
// events to the strategy (placing what it asks for) and journals
// deferred acknowledgements.
func (s *Stepper) settle() error {
	if err := s.r.deliverPending(); err != nil {
		return err
	}
	return s.r.flushDeferred()
}

// Update handles one order update from the broker.
func (s *Stepper) Update(u trading.OrderUpdate) error {
	if err := s.r.onUpdate(u); err != nil {
		return err
	}
	return s.settle()
}

// Timer calls the strategy's OnTimer.
func (s *Stepper) Timer() error {
	env := s.r.env()
	s.r.strat.OnTimer(env)
	if err := s.r.placeAll(env.Submitted()); err != nil {
		return err
	}
	return s.settle()
}

// Quote records q as the latest quote of its symbol and calls OnQuote.
func (s *Stepper) Quote(q trading.Quote) error {
	s.r.quotes[q.Symbol] = q
	env := s.r.env()
	s.r.strat.OnQuote(env, q)
	if err := s.r.placeAll(env.Submitted()); err != nil {
		return err
	}
	return s.settle()
}

// SetQuote records q as the latest quote of its symbol (the risk gate's
// reference price) without calling the strategy.
func (s *Stepper) SetQuote(q trading.Quote) { s.r.quotes[q.Symbol] = q }

// Bar calls the strategy's OnBar.
func (s *Stepper) Bar(b trading.Bar) error {
	s.r.lastBar = b.Time
	env := s.r.env()
	s.r.strat.OnBar(env, b)
	if err := s.r.placeAll(env.Submitted()); err != nil {
		return err
	}
	return s.settle()
}

// RefreshAccount reloads positions and equity from the broker, as the
// live runner does every AccountInterval.
func (s *Stepper) RefreshAccount() { s.r.refreshAccount() }

// OpenOrders returns how many of the tenant's orders are unfinished.
func (s *Stepper) OpenOrders() int { return len(s.r.open) }

// Status returns the tenant's status as the live engine would publish it.
func (s *Stepper) Status() trading.TenantStatus {
	s.r.publish(trading.HealthRunning)
	return *s.r.t.status.Load()
}
