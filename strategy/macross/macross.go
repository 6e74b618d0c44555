// Package macross is a moving-average crossover: long one lot while the
// fast average of the mid price is above the slow one, flat otherwise.
package macross

import (
	"fmt"
	"time"

	"github.com/shopspring/decimal"

	"github.com/quantum-alpaca/quantum/strategy"
	"github.com/quantum-alpaca/quantum/trading"
)

// Name is the strategy's name in configs.
const Name = "macross"

// Config is the strategy's parameters.
type Config struct {
	Symbol     string
	Qty        decimal.Decimal
	Fast, Slow int
	// Interval is the sampling period of the price series.
	Interval time.Duration
	// OnBars samples the close of every one-minute bar instead of the
	// quote's mid on a timer: the series is then the same live and in a
	// backtest, so both place the same orders.
	OnBars bool
}

// Parse reads params: symbol (required), qty (1), fast (5), slow (20),
// interval (1s), sample (quote: the mid on every interval; bar: the close
// of every one-minute bar, interval unused).
func Parse(p strategy.Params) (Config, error) {
	r := strategy.NewReader(p)
	c := Config{
		Symbol:   r.Symbol("symbol"),
		Qty:      r.PositiveDecimal("qty", decimal.NewFromInt(1)),
		Fast:     r.Int("fast", 5, 1, false),
		Slow:     r.Int("slow", 20, 2, false),
		Interval: r.Duration("interval", time.Second),
	}
	switch sample := r.String("sample", "quote", false); sample {
	case "quote":
	case "bar":
		c.OnBars = true
	default:
		return c, &strategy.ParamError{Param: "sample", Value: sample, Err: fmt.Errorf("want quote or bar")}
	}
	if err := r.Err(); err != nil {
		return c, err
	}
	if c.Fast >= c.Slow {
		return c, &strategy.ParamError{Param: "fast", Value: fmt.Sprint(c.Fast), Err: fmt.Errorf("must be less than slow (%d)", c.Slow)}
	}
	return c, nil
}

// Strategy is the crossover strategy.
type Strategy struct {
	trading.BaseStrategy
	cfg  Config
	w    *strategy.Window
	prev int // sign of fast-slow at the last sample
}

// New returns the strategy for cfg.
func New(cfg Config) *Strategy { return &Strategy{cfg: cfg, w: strategy.NewWindow(cfg.Slow)} }

// Start implements trading.Strategy. With a one-minute (or longer)
// interval it warms up on the broker's minute bars, so a restart trades
// at once; shorter intervals sample faster than any bar history, so
// they start cold rather than mix time scales.
func (s *Strategy) Start(env *trading.Env) (trading.Subscription, error) {
	if s.cfg.OnBars {
		strategy.WarmUp(env, s.w, s.cfg.Symbol, s.cfg.Slow)
		if s.w.Full() {
			s.prev = s.w.Trend(s.cfg.Fast)
		}
		// Bars only: the risk gate asks the broker for a price when an
		// order needs one, which is rare next to a quote per tick.
		return trading.Subscription{Bars: []string{s.cfg.Symbol}}, nil
	}
	if s.cfg.Interval >= time.Minute {
		strategy.WarmUp(env, s.w, s.cfg.Symbol, s.cfg.Slow)
		if s.w.Full() {
			s.prev = s.w.Trend(s.cfg.Fast)
		}
	}
	return trading.Subscription{Symbols: []string{s.cfg.Symbol}, Interval: s.cfg.Interval}, nil
}

// OnTimer samples the mid price and trades on a crossover.
func (s *Strategy) OnTimer(env *trading.Env) {
	if s.cfg.OnBars {
		return
	}
	q, ok := env.Quote(s.cfg.Symbol)
	if !ok || !q.Mid().IsPositive() {
		return
	}
	s.sample(env, q.Mid())
}

// OnBar samples the bar's close, with sample=bar.
func (s *Strategy) OnBar(env *trading.Env, b trading.Bar) {
	if !s.cfg.OnBars || b.Symbol != s.cfg.Symbol || !b.Close.IsPositive() {
		return
	}
	s.sample(env, b.Close)
}

// sample adds a price to the series and trades on a crossover.
func (s *Strategy) sample(env *trading.Env, price decimal.Decimal) {
	s.w.Add(price)
	if !s.w.Full() {
		return
	}
	sign := s.w.Trend(s.cfg.Fast)
	prev := s.prev
	s.prev = sign
	if env.OpenOrders() > 0 || sign == prev || prev == 0 {
		return
	}
	pos := env.Position(s.cfg.Symbol)
	switch {
	case sign > 0 && !pos.IsPositive():
		env.Submit(trading.OrderRequest{Symbol: s.cfg.Symbol, Side: trading.Buy, Qty: s.cfg.Qty, Reason: "fast MA crossed above slow"})
	case sign < 0 && pos.IsPositive():
		env.Submit(trading.OrderRequest{Symbol: s.cfg.Symbol, Side: trading.Sell, Qty: pos, Reason: "fast MA crossed below slow"})
	}
}
