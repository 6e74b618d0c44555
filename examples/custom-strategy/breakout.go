package main

import (
	"fmt"
	"time"

	"github.com/shopspring/decimal"

	"github.com/quantum-alpaca/quantum/strategy"
	"github.com/quantum-alpaca/quantum/trading"
)

// Spec describes the breakout strategy to the command: the name a config
// gives, the parameters for `run -h`, and the constructor.
func Spec() strategy.Spec {
	return strategy.Spec{
		Name:    "breakout",
		Summary: "Donchian breakout: buy a lot above the highest high of the last entry samples, sell below the lowest low of the last exit",
		Params: []strategy.Param{
			{Name: "symbol", Required: true, Help: "the ticker to trade"},
			{Name: "qty", Default: "1", Help: "shares per lot"},
			{Name: "entry", Default: "20", Help: "samples whose highest high a price must beat to buy"},
			{Name: "exit", Default: "10", Help: "samples whose lowest low a price must break to sell"},
			{Name: "interval", Default: "1s", Help: "time between samples of the quote's mid (sample quote)"},
			{Name: "sample", Default: "quote", Help: "quote: the mid every interval; bar: every one-minute bar"},
		},
		New: strategy.Factory(Parse, New),
	}
}

// Config is the strategy's parameters.
type Config struct {
	Symbol      string
	Qty         decimal.Decimal
	Entry, Exit int
	Interval    time.Duration
	// OnBars samples one-minute bars (their high, low and close) instead
	// of the quote's mid on a timer.
	OnBars bool
}

// Parse reads the params Spec declares. The Reader reports a missing or
// malformed one, and any it was not asked for: a typo in a config must
// not silently leave a default in place.
func Parse(p strategy.Params) (Config, error) {
	r := strategy.NewReader(p)
	c := Config{
		Symbol:   r.Symbol("symbol"),
		Qty:      r.PositiveDecimal("qty", decimal.NewFromInt(1)),
		Entry:    r.Int("entry", 20, 1, false),
		Exit:     r.Int("exit", 10, 1, false),
		Interval: r.Duration("interval", time.Second),
	}
	sample := r.String("sample", "quote", false)
	if err := r.Err(); err != nil {
		return c, err
	}
	switch sample {
	case "quote":
	case "bar":
		c.OnBars = true
	default:
		return c, &strategy.ParamError{Param: "sample", Value: sample, Err: fmt.Errorf("want quote or bar")}
	}
	return c, nil
}

// Breakout is long one lot from a breakout above the entry channel until
// a breakdown below the exit channel, flat otherwise.
type Breakout struct {
	trading.BaseStrategy // no-op OnOrder, and whatever methods Strategy grows
	cfg                  Config
	// highs and lows are the latest samples, oldest first, without the
	// one being judged: a price breaks out of the channel before it.
	highs, lows []decimal.Decimal
}

// New returns the strategy for cfg. The runner calls it again on every
// restart, so the price history starts empty and the position, which is
// the tenant's, comes from the Env.
func New(cfg Config) *Breakout { return &Breakout{cfg: cfg} }

// Start asks for what the sample mode needs. Sampling minute bars, it
// warms the channels up on the latest ones, so that a restart can trade
// at once.
func (s *Breakout) Start(env *trading.Env) (trading.Subscription, error) {
	if !s.cfg.OnBars {
		return trading.Subscription{Symbols: []string{s.cfg.Symbol}, Interval: s.cfg.Interval}, nil
	}
	bars, err := env.RecentBars(s.cfg.Symbol, max(s.cfg.Entry, s.cfg.Exit))
	if err != nil {
		env.Logger().Warn("no bar history to warm up on", "symbol", s.cfg.Symbol, "err", err)
	}
	for _, b := range bars {
		s.remember(b.High, b.Low)
	}
	// The quotes price each order in the risk gate without a broker call.
	return trading.Subscription{Symbols: []string{s.cfg.Symbol}, Bars: []string{s.cfg.Symbol}}, nil
}

// OnTimer samples the quote's mid.
func (s *Breakout) OnTimer(env *trading.Env) {
	if s.cfg.OnBars {
		return
	}
	q, ok := env.Quote(s.cfg.Symbol)
	if mid := q.Mid(); ok && mid.IsPositive() {
		s.sample(env, mid, mid, mid)
	}
}

// OnBar samples a minute bar: its close is judged against the channels,
// its high and low widen them.
func (s *Breakout) OnBar(env *trading.Env, b trading.Bar) {
	if s.cfg.OnBars && b.Symbol == s.cfg.Symbol && b.Close.IsPositive() {
		s.sample(env, b.Close, b.High, b.Low)
	}
}

func (s *Breakout) sample(env *trading.Env, price, high, low decimal.Decimal) {
	defer s.remember(high, low)
	// An order in flight has not moved the position yet: wait for it
	// rather than send a second one.
	if env.OpenOrders() > 0 {
		return
	}
	pos := env.Position(s.cfg.Symbol)
	switch {
	case !pos.IsPositive() && len(s.highs) >= s.cfg.Entry:
		if top := highest(s.highs[len(s.highs)-s.cfg.Entry:]); price.GreaterThan(top) {
			env.Submit(trading.OrderRequest{Symbol: s.cfg.Symbol, Side: trading.Buy, Qty: s.cfg.Qty,
				Reason: fmt.Sprintf("%s above the %d-sample high %s", price, s.cfg.Entry, top)})
		}
	case pos.IsPositive() && len(s.lows) >= s.cfg.Exit:
		if bottom := lowest(s.lows[len(s.lows)-s.cfg.Exit:]); price.LessThan(bottom) {
			env.Submit(trading.OrderRequest{Symbol: s.cfg.Symbol, Side: trading.Sell, Qty: pos,
				Reason: fmt.Sprintf("%s below the %d-sample low %s", price, s.cfg.Exit, bottom)})
		}
	}
}

// remember adds a sample to the channels, keeping as many as the longer
// one needs.
func (s *Breakout) remember(high, low decimal.Decimal) {
	keep := max(s.cfg.Entry, s.cfg.Exit)
	s.highs = append(s.highs, high)
	s.lows = append(s.lows, low)
	if len(s.highs) > keep {
		s.highs = s.highs[1:]
		s.lows = s.lows[1:]
	}
}

func highest(vs []decimal.Decimal) decimal.Decimal { return decimal.Max(vs[0], vs[1:]...) }

func lowest(vs []decimal.Decimal) decimal.Decimal { return decimal.Min(vs[0], vs[1:]...) }
