// Package rebalance holds a portfolio at target weights: every interval it
// trades each symbol back towards budget × weight.
package rebalance

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/quantum-alpaca/quantum/strategy"
	"github.com/quantum-alpaca/quantum/trading"
)

// Name is the strategy's name in configs.
const Name = "rebalance"

// Config is the strategy's parameters.
type Config struct {
	// Targets maps symbol to weight; weights sum to at most 1.
	Targets map[string]decimal.Decimal
	// Budget is the money the portfolio is sized against.
	Budget decimal.Decimal
	// Band is the drift, as a fraction of the target value, tolerated
	// before trading.
	Band     decimal.Decimal
	Interval time.Duration
}

// Parse reads params: targets ("AAPL:0.6,MSFT:0.4", required), budget
// (10000), band (0.05), interval (1m).
func Parse(p strategy.Params) (Config, error) {
	r := strategy.NewReader(p)
	raw := r.String("targets", "", true)
	c := Config{
		Budget:   r.PositiveDecimal("budget", decimal.NewFromInt(10000)),
		Band:     r.PositiveDecimal("band", decimal.RequireFromString("0.05")),
		Interval: r.Duration("interval", time.Minute),
	}
	if err := r.Err(); err != nil {
		return c, err
	}
	c.Targets = map[string]decimal.Decimal{}
	sum := decimal.Zero
	for _, part := range strings.Split(raw, ",") {
		sym, w, ok := strings.Cut(strings.TrimSpace(part), ":")
		d, err := decimal.NewFromString(strings.TrimSpace(w))
		if !ok || sym == "" || err != nil || !d.IsPositive() {
			return c, &strategy.ParamError{Param: "targets", Value: raw, Err: fmt.Errorf("want SYMBOL:WEIGHT,... with positive weights")}
		}
		c.Targets[strings.ToUpper(strings.TrimSpace(sym))] = d
		sum = sum.Add(d)
	}
	if sum.GreaterThan(decimal.NewFromInt(1)) {
		return c, &strategy.ParamError{Param: "targets", Value: raw, Err: fmt.Errorf("weights sum to %s, more than 1", sum)}
	}
	return c, nil
}

// Strategy is the rebalancing strategy.
type Strategy struct {
	trading.BaseStrategy
	cfg  Config
	syms []string
}

// New returns the strategy for cfg.
func New(cfg Config) *Strategy {
	s := &Strategy{cfg: cfg}
	for sym := range cfg.Targets {
		s.syms = append(s.syms, sym)
	}
	sort.Strings(s.syms)
	return s
}

// Start implements trading.Strategy.
func (s *Strategy) Start(*trading.Env) (trading.Subscription, error) {
	return trading.Subscription{Symbols: s.syms, Interval: s.cfg.Interval}, nil
}

// OnTimer trades each drifted symbol back to its target, whole shares.
func (s *Strategy) OnTimer(env *trading.Env) {
	if env.OpenOrders() > 0 {
		return // let the last rebalance finish first
	}
	for _, sym := range s.syms {
		q, ok := env.Quote(sym)
		mid := q.Mid()
		if !ok || !mid.IsPositive() {
			continue
		}
		target := s.cfg.Budget.Mul(s.cfg.Targets[sym])
		diff := target.Sub(env.Position(sym).Mul(mid))
		if diff.Abs().LessThanOrEqual(target.Mul(s.cfg.Band)) {
			continue
		}
		qty := diff.Abs().Div(mid).Floor()
		if !qty.IsPositive() {
			continue
		}
		side := trading.Buy
		if diff.IsNegative() {
			side = trading.Sell
		}
		env.Submit(trading.OrderRequest{Symbol: sym, Side: side, Qty: qty, Reason: fmt.Sprintf("rebalance %s to %s", sym, target.StringFixed(2))})
	}
}
