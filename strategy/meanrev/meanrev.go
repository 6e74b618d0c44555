// Package meanrev is a mean-reversion strategy: buy when the mid price is
// well below its moving average, sell when well above, holding at most a
// fixed number of lots.
package meanrev

import (
	"time"

	"github.com/shopspring/decimal"

	"github.com/quantum-alpaca/quantum/strategy"
	"github.com/quantum-alpaca/quantum/trading"
)

// Name is the strategy's name in configs.
const Name = "meanrev"

// Config is the strategy's parameters.
type Config struct {
	Symbol string
	Qty    decimal.Decimal
	Window int
	// Threshold is the distance from the mean, in standard deviations,
	// that triggers a trade.
	Threshold decimal.Decimal
	MaxLots   int
	Interval  time.Duration
}

// Parse reads params: symbol (required), qty (1), window (20),
// threshold (1.5), max_lots (5), interval (1s).
func Parse(p strategy.Params) (Config, error) {
	r := strategy.NewReader(p)
	c := Config{
		Symbol:    r.Symbol("symbol"),
		Qty:       r.PositiveDecimal("qty", decimal.NewFromInt(1)),
		Window:    r.Int("window", 20, 2, false),
		Threshold: r.PositiveDecimal("threshold", decimal.RequireFromString("1.5")),
		MaxLots:   r.Int("max_lots", 5, 1, false),
		Interval:  r.Duration("interval", time.Second),
	}
	return c, r.Err()
}

// Strategy is the mean-reversion strategy.
type Strategy struct {
	trading.BaseStrategy
	cfg Config
	w   *strategy.Window
}

// New returns the strategy for cfg.
func New(cfg Config) *Strategy { return &Strategy{cfg: cfg, w: strategy.NewWindow(cfg.Window)} }

// Start implements trading.Strategy; like macross it warms up on minute
// bars when its interval is a minute or longer.
func (s *Strategy) Start(env *trading.Env) (trading.Subscription, error) {
	if s.cfg.Interval >= time.Minute {
		strategy.WarmUp(env, s.w, s.cfg.Symbol, s.cfg.Window)
	}
	return trading.Subscription{Symbols: []string{s.cfg.Symbol}, Interval: s.cfg.Interval}, nil
}

// OnTimer samples the price and trades when it strays from the mean.
func (s *Strategy) OnTimer(env *trading.Env) {
	q, ok := env.Quote(s.cfg.Symbol)
	if !ok || !q.Mid().IsPositive() {
		return
	}
	mid := q.Mid()
	s.w.Add(mid)
	if !s.w.Full() || env.OpenOrders() > 0 {
		return
	}
	sd := s.w.StdDev()
	if !sd.IsPositive() {
		return
	}
	band := sd.Mul(s.cfg.Threshold)
	mean := s.w.Mean(0)
	pos := env.Position(s.cfg.Symbol)
	maxPos := s.cfg.Qty.Mul(decimal.NewFromInt(int64(s.cfg.MaxLots)))
	switch {
	case mid.LessThan(mean.Sub(band)) && pos.Add(s.cfg.Qty).LessThanOrEqual(maxPos):
		env.Submit(trading.OrderRequest{Symbol: s.cfg.Symbol, Side: trading.Buy, Qty: s.cfg.Qty, Reason: "price below mean - threshold"})
	case mid.GreaterThan(mean.Add(band)) && pos.GreaterThanOrEqual(s.cfg.Qty):
		env.Submit(trading.OrderRequest{Symbol: s.cfg.Symbol, Side: trading.Sell, Qty: s.cfg.Qty, Reason: "price above mean + threshold"})
	}
}
