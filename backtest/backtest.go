// Package backtest runs tenants' strategies over historical one-minute
// bars on a simulated clock, in process and as fast as the CPU allows, on
// the live code path: each tenant is the engine's own runner (driven by
// engine.Stepper: the same risk gate, sequences, client_order_ids and
// journal-before-send, on an in-memory journal with the SQL journals'
// semantics), trading against the broker simulator's matching engine
// (match.Account, configured as `quantum broker` configures its accounts:
// same fill rules, partial fills, buying power and sessions). Only the
// transport is gone: no HTTP, no goroutines, no wall clock.
//
// How the replay maps onto live trading:
//   - a bar that starts at T is complete at T+1m: at that simulated time
//     its close becomes the quote (QuoteAtClose), resting orders are
//     matched against it, subscribers get OnQuote and OnBar;
//   - timers fire at most once per replayed minute (a live runner also
//     skips ticks it could not keep up with), so an interval shorter than
//     a minute samples once per bar;
//   - sessions follow the calendar (NYSE by default): day orders expire
//     at the close, orders placed while closed wait for the open;
//   - positions and equity are reloaded from the account every
//     AccountInterval of simulated time, as the live runner does on its
//     timer.
//
// The same config, data and seed give the same orders, fills and report.
package backtest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sort"
	"time"
	_ "time/tzdata" // sessions are in New York time on any machine

	"github.com/quantum-alpaca/quantum/engine"
	"github.com/quantum-alpaca/quantum/internal/memjournal"
	"github.com/quantum-alpaca/quantum/sim/match"
	"github.com/quantum-alpaca/quantum/trading"
)

// Defaults for Config.
const (
	DefaultCash            = 100_000.0
	DefaultAccountInterval = 15 * time.Minute
	// warmupDays of history before From are loaded for RecentBars.
	warmupDays = 7
)

// Tenant is one tenant to backtest.
type Tenant struct {
	ID           trading.TenantID
	StrategyName string
	NewStrategy  func() (trading.Strategy, error)
	Limits       trading.Limits
	State        trading.TradingState
}

// Calendar says when the market is in session.
type Calendar interface {
	// Open reports whether t is inside a regular session.
	Open(t time.Time) bool
	// NextOpen and NextClose return the first session open (close) after t.
	NextOpen(t time.Time) time.Time
	NextClose(t time.Time) time.Time
}

// Config describes a backtest.
type Config struct {
	Tenants  []Tenant
	From, To time.Time
	Source   Source
	// Calendar gives the sessions; nil is always open (24/7).
	Calendar Calendar
	// Seed seeds each account's partial fills and ids, as `quantum
	// broker --seed` does.
	Seed uint64
	// Cash is each account's starting cash in dollars; DefaultCash when 0.
	Cash float64
	// PartialFillRate, when set, is the probability in [0,1] of a
	// partial fill; nil means the simulator's default (Alpaca paper's 10%).
	PartialFillRate *float64
	// AccountInterval is how often, in simulated time, a tenant reloads
	// its positions and equity; DefaultAccountInterval when 0.
	AccountInterval time.Duration
	// Logger receives the runners' logs; nil discards them.
	Logger *slog.Logger
	// Progress, when set, is called now and then with the fraction done.
	Progress func(done float64)
}

// clock is the simulated time every component reads.
type clock struct{ now time.Time }

// sim is one tenant in the backtest.
type sim struct {
	cfg     Tenant
	step    *engine.Stepper
	brk     *broker
	journal *memjournal.Journal
	sub     trading.Subscription
	quotes  map[string]bool
	bars    map[string]bool
	// spare is drain's second event buffer.
	spare []match.Event
	// wantQuote and wantBar are quotes and bars by series index.
	wantQuote, wantBar []bool
	nextTick           time.Time
	refresh            time.Time
	curve              curve
	exposed            int // minutes with a position
	err                error
}

// Run runs the backtest and returns its result. It stops early, with the
// context's error, when ctx ends.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if len(cfg.Tenants) == 0 {
		return nil, errors.New("backtest: no tenants")
	}
	if !cfg.From.Before(cfg.To) {
		return nil, fmt.Errorf("backtest: from %s is not before to %s", cfg.From.Format(time.RFC3339), cfg.To.Format(time.RFC3339))
	}
	if cfg.Source == nil {
		return nil, errors.New("backtest: no data source")
	}
	if cfg.Cash == 0 {
		cfg.Cash = DefaultCash
	}
	if cfg.AccountInterval <= 0 {
		cfg.AccountInterval = DefaultAccountInterval
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	started := time.Now()
	clk := &clock{now: cfg.From}
	mkt := newTape()
	sims := make([]*sim, 0, len(cfg.Tenants))
	for _, t := range cfg.Tenants {
		s, err := newSim(cfg, t, clk, mkt)
		if err != nil {
			return nil, err
		}
		sims = append(sims, s)
	}
	// Symbols are known once the strategies have said what they want, so
	// their history is loaded lazily: Start may already ask for bars.
	load := func(symbol string) error {
		if _, ok := mkt.series[symbol]; ok {
			return nil
		}
		bars, err := cfg.Source.Bars(symbol, cfg.From.AddDate(0, 0, -warmupDays), cfg.To)
		if err != nil {
			return err
		}
		s, err := newSeries(symbol, func(c float64) int64 { return cfg.Source.Spread(symbol, c) }, bars, cfg.From)
		if err != nil {
			return err
		}
		mkt.series[symbol] = s
		mkt.at[symbol] = s.warm - 1
		return nil
	}
	for _, s := range sims {
		sub, err := s.start(load)
		if err != nil {
			return nil, fmt.Errorf("tenant %s: %w", s.cfg.ID, err)
		}
		s.sub = sub
	}
	symbols := make([]string, 0, len(mkt.series))
	for sym := range mkt.series {
		symbols = append(symbols, sym)
	}
	sort.Strings(symbols)
	if len(symbols) == 0 {
		return nil, errors.New("backtest: no strategy subscribed to any symbol (Subscription.Symbols or Bars), so there is nothing to replay")
	}
	l := &loop{cfg: cfg, clk: clk, mkt: mkt, sims: sims, symbols: symbols}
	if err := l.run(ctx); err != nil {
		return nil, err
	}
	return l.result(started)
}

func newSim(cfg Config, t Tenant, clk *clock, mkt *tape) (*sim, error) {
	mc := match.DefaultConfig()
	mc.Cash = match.Money(math.Round(cfg.Cash * match.MoneyScale))
	mc.Multiplier = 2 // as the simulator opens its accounts
	mc.ShortingEnabled = true
	mc.Seed = cfg.Seed ^ fnv64(string(t.ID))
	if cfg.PartialFillRate != nil {
		mc.PartialFillRate = *cfg.PartialFillRate
	}
	mc.AlwaysOpen = cfg.Calendar == nil
	mc.Location = newYork
	acct, err := match.NewAccount(mc)
	if err != nil {
		return nil, fmt.Errorf("tenant %s: %w", t.ID, err)
	}
	if cfg.Calendar != nil && cfg.Calendar.Open(cfg.From) {
		acct.OnOpen(cfg.From, nil)
	}
	b := &broker{acct: acct, clock: clk, market: mkt, lastEquity: mc.Cash, pos: map[string]float64{}}
	j := memjournal.New(func() time.Time { return clk.now })
	e := engine.NewEngine(j)
	e.Now = func() time.Time { return clk.now }
	e.UnboundedJournal = true
	e.Logger = cfg.Logger.With("system", "backtest")
	st, err := e.NewStepper(engine.TenantConfig{ID: t.ID, Broker: b, StrategyName: t.StrategyName, NewStrategy: t.NewStrategy, Limits: t.Limits, State: t.State})
	if err != nil {
		return nil, err
	}
	return &sim{cfg: t, step: st, brk: b, journal: j, quotes: map[string]bool{}, bars: map[string]bool{}}, nil
}

func (s *sim) start(load func(string) error) (trading.Subscription, error) {
	// Warm-up calls (RecentBars) in Start need the history of the
	// symbols the strategy is about to subscribe to; it names them only
	// in its answer, so Start runs against a broker that loads on demand.
	s.brk.market.loadHook = load
	defer func() { s.brk.market.loadHook = nil }()
	sub, err := s.step.Start()
	if err != nil {
		return sub, err
	}
	for _, sym := range sub.Symbols {
		if err := load(sym); err != nil {
			return sub, err
		}
		s.quotes[sym] = true
	}
	for _, sym := range sub.Bars {
		if err := load(sym); err != nil {
			return sub, err
		}
		s.bars[sym] = true
	}
	return sub, s.drain()
}

// drain hands the account's queued trade updates to the runner; the
// strategy's reactions may queue more.
func (s *sim) drain() error {
	for len(s.brk.pending) > 0 {
		// Swap buffers: the strategy's reactions append to pending while
		// this batch is handed over.
		evs := s.brk.pending
		s.brk.pending, s.spare = s.spare[:0], evs
		for i := range evs {
			s.brk.apply(&evs[i])
			if err := s.step.Update(update(&evs[i])); err != nil {
				return err
			}
		}
	}
	return nil
}

func fnv64(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

var newYork = func() *time.Location {
	loc, err := time.LoadLocation("America/New_York")
	if err != nil {
		panic("backtest: no America/New_York zone: " + err.Error())
	}
	return loc
}()
