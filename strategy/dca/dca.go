// Package dca is dollar-cost averaging: buy a fixed quantity (or a fixed
// amount of money) of one symbol every interval until a fixed number of
// orders has been placed over the tenant's whole life.
package dca

import (
	"errors"
	"fmt"
	"time"

	"github.com/shopspring/decimal"

	"github.com/quantum-alpaca/quantum/strategy"
	"github.com/quantum-alpaca/quantum/trading"
)

// Name is the strategy's name in configs.
const Name = "dca"

// Config is the strategy's parameters.
type Config struct {
	Symbol string
	// Exactly one of Qty and Notional is positive: a notional order
	// buys that much money's worth, fractional shares or coins.
	Qty      decimal.Decimal
	Notional decimal.Decimal
	Interval time.Duration
	// Count is the lifetime number of orders; 0 means no limit.
	Count int
}

// Parse reads params: symbol (required), qty (default 1) or notional,
// interval (default 1m), count (default 0, unlimited).
func Parse(p strategy.Params) (Config, error) {
	r := strategy.NewReader(p)
	c := Config{
		Symbol:   r.Symbol("symbol"),
		Interval: r.Duration("interval", time.Minute),
		Count:    r.Int("count", 0, 0, false),
	}
	hasQty, hasNotional := r.String("qty", "", false) != "", r.String("notional", "", false) != ""
	switch {
	case hasQty && hasNotional:
		return c, &strategy.ParamError{Param: "notional", Value: p["notional"], Err: errors.New("give qty or notional, not both")}
	case hasNotional:
		c.Notional = r.PositiveDecimal("notional", decimal.Zero)
	default:
		c.Qty = r.PositiveDecimal("qty", decimal.NewFromInt(1))
	}
	return c, r.Err()
}

// Strategy is the dca strategy.
type Strategy struct {
	trading.BaseStrategy
	cfg Config
}

// New returns the strategy for cfg.
func New(cfg Config) *Strategy { return &Strategy{cfg: cfg} }

// Start implements trading.Strategy.
func (s *Strategy) Start(*trading.Env) (trading.Subscription, error) {
	// The quotes are for the risk gate: a fresh one prices each order
	// without a broker call, and a backtest knows which history to replay.
	return trading.Subscription{Symbols: []string{s.cfg.Symbol}, Interval: s.cfg.Interval}, nil
}

// OnTimer implements trading.Strategy. The count comes from the runner,
// which reads it from the journal, so a restart neither repeats nor skips
// an order.
func (s *Strategy) OnTimer(env *trading.Env) {
	n := env.OrdersPlaced()
	if s.cfg.Count > 0 && n >= s.cfg.Count {
		return
	}
	reason := fmt.Sprintf("dca order %d", n+1)
	if s.cfg.Count > 0 {
		reason = fmt.Sprintf("dca order %d of %d", n+1, s.cfg.Count)
	}
	env.Submit(trading.OrderRequest{Symbol: s.cfg.Symbol, Side: trading.Buy, Qty: s.cfg.Qty, Notional: s.cfg.Notional, Reason: reason})
}
