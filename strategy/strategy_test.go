package strategy_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/quantum-alpaca/quantum/strategy"
	"github.com/quantum-alpaca/quantum/strategy/dca"
	"github.com/quantum-alpaca/quantum/strategy/macross"
	"github.com/quantum-alpaca/quantum/strategy/meanrev"
	"github.com/quantum-alpaca/quantum/strategy/rebalance"
	"github.com/quantum-alpaca/quantum/trading"
)

func TestParams(t *testing.T) {
	for _, tc := range []struct {
		name  string
		parse func(strategy.Params) error
		p     strategy.Params
		param string // "" = valid
	}{
		{"dca OK", dcaParse, strategy.Params{"symbol": "aapl", "qty": "0.5", "interval": "10ms", "count": "200"}, ""},
		{"dca no symbol", dcaParse, strategy.Params{"qty": "1"}, "symbol"},
		{"dca bad qty", dcaParse, strategy.Params{"symbol": "A", "qty": "-1"}, "qty"},
		{"dca bad interval", dcaParse, strategy.Params{"symbol": "A", "interval": "0s"}, "interval"},
		{"dca bad count", dcaParse, strategy.Params{"symbol": "A", "count": "lots"}, "count"},
		{"dca unknown", dcaParse, strategy.Params{"symbol": "A", "cnt": "5"}, "cnt"},
		{"dca notional", dcaParse, strategy.Params{"symbol": "btc/usd", "notional": "25"}, ""},
		{"dca qty and notional", dcaParse, strategy.Params{"symbol": "A", "qty": "1", "notional": "25"}, "notional"},
		{"dca bad notional", dcaParse, strategy.Params{"symbol": "A", "notional": "0"}, "notional"},
		{"macross fast>=slow", func(p strategy.Params) error { _, err := macross.Parse(p); return err }, strategy.Params{"symbol": "A", "fast": "20", "slow": "10"}, "fast"},
		{"meanrev OK", func(p strategy.Params) error { _, err := meanrev.Parse(p); return err }, strategy.Params{"symbol": "A", "threshold": "2"}, ""},
		{"rebalance bad targets", func(p strategy.Params) error { _, err := rebalance.Parse(p); return err }, strategy.Params{"targets": "AAPL=1"}, "targets"},
		{"rebalance over 1", func(p strategy.Params) error { _, err := rebalance.Parse(p); return err }, strategy.Params{"targets": "AAPL:0.7,MSFT:0.7"}, "targets"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.parse(tc.p)
			var pe *strategy.ParamError
			switch {
			case tc.param == "" && err != nil:
				t.Fatalf("err = %v, want nil", err)
			case tc.param != "" && (!errors.As(err, &pe) || pe.Param != tc.param):
				t.Fatalf("err = %v, want a ParamError for %q", err, tc.param)
			}
		})
	}
}

func dcaParse(p strategy.Params) error { _, err := dca.Parse(p); return err }

func TestDCA(t *testing.T) {
	s := dca.New(dca.Config{Symbol: "AAPL", Qty: decimal.NewFromInt(2), Interval: time.Second, Count: 3})
	for placed, want := range []int{1, 1, 1, 0, 0} {
		env := trading.NewEnv(trading.EnvState{OrdersPlaced: placed})
		s.OnTimer(env)
		if got := len(env.Submitted()); got != want {
			t.Fatalf("with %d placed: %d orders, want %d", placed, got, want)
		}
		if want == 1 {
			o := env.Submitted()[0]
			if o.Symbol != "AAPL" || o.Side != trading.Buy || !o.Qty.Equal(decimal.NewFromInt(2)) || !strings.Contains(o.Reason, "of 3") {
				t.Fatalf("order %+v", o)
			}
		}
	}
}

// A notional dca buys an amount of money's worth, no qty: how a crypto
// tenant accumulates BTC/USD in fractions.
func TestDCANotional(t *testing.T) {
	cfg, err := dca.Parse(strategy.Params{"symbol": "btc/usd", "notional": "25.50"})
	if err != nil {
		t.Fatal(err)
	}
	env := trading.NewEnv(trading.EnvState{})
	dca.New(cfg).OnTimer(env)
	if len(env.Submitted()) != 1 {
		t.Fatalf("%d orders, want 1", len(env.Submitted()))
	}
	o := env.Submitted()[0]
	if o.Symbol != "BTC/USD" || !o.Notional.Equal(decimal.RequireFromString("25.5")) || !o.Qty.IsZero() {
		t.Fatalf("order %+v, want $25.50 of BTC/USD", o)
	}
}

func quoteEnv(sym string, mid float64, pos decimal.Decimal) *trading.Env {
	p := decimal.NewFromFloat(mid)
	return trading.NewEnv(trading.EnvState{
		Quotes:    map[string]trading.Quote{sym: {Symbol: sym, Bid: p, Ask: p}},
		Positions: map[string]decimal.Decimal{sym: pos},
	})
}

func TestMACross(t *testing.T) {
	s := macross.New(macross.Config{Symbol: "X", Qty: decimal.NewFromInt(1), Fast: 2, Slow: 4, Interval: time.Second})
	pos := decimal.Zero
	var sides []trading.Side
	// Falling, then rising (fast crosses above slow), then falling again.
	for _, p := range []float64{10, 9, 8, 7, 6, 8, 10, 12, 14, 12, 9, 6, 3} {
		env := quoteEnv("X", p, pos)
		s.OnTimer(env)
		for _, o := range env.Submitted() {
			sides = append(sides, o.Side)
			if o.Side == trading.Buy {
				pos = pos.Add(o.Qty)
			} else {
				pos = pos.Sub(o.Qty)
			}
		}
	}
	if len(sides) != 2 || sides[0] != trading.Buy || sides[1] != trading.Sell || !pos.IsZero() {
		t.Fatalf("trades %v, final position %s; want buy then sell, flat", sides, pos)
	}
}

func TestMeanRev(t *testing.T) {
	s := meanrev.New(meanrev.Config{Symbol: "X", Qty: decimal.NewFromInt(1), Window: 5, Threshold: decimal.NewFromInt(1), MaxLots: 2, Interval: time.Second})
	var last []trading.OrderRequest
	for _, p := range []float64{100, 101, 100, 101, 100, 90} {
		env := quoteEnv("X", p, decimal.Zero)
		s.OnTimer(env)
		last = env.Submitted()
	}
	if len(last) != 1 || last[0].Side != trading.Buy {
		t.Fatalf("after a drop: %+v, want one buy", last)
	}
}

func TestRebalance(t *testing.T) {
	cfg, err := rebalance.Parse(strategy.Params{"targets": "AAA:0.5,BBB:0.5", "budget": "1000"})
	if err != nil {
		t.Fatal(err)
	}
	s := rebalance.New(cfg)
	env := trading.NewEnv(trading.EnvState{
		Quotes: map[string]trading.Quote{
			"AAA": {Symbol: "AAA", Bid: decimal.NewFromInt(10), Ask: decimal.NewFromInt(10)},
			"BBB": {Symbol: "BBB", Bid: decimal.NewFromInt(50), Ask: decimal.NewFromInt(50)},
		},
		Positions: map[string]decimal.Decimal{"AAA": decimal.NewFromInt(80), "BBB": decimal.NewFromInt(10)},
	})
	s.OnTimer(env)
	// AAA: 800 held vs 500 target: sell 30. BBB: 500 held = target.
	got := env.Submitted()
	if len(got) != 1 || got[0].Symbol != "AAA" || got[0].Side != trading.Sell || !got[0].Qty.Equal(decimal.NewFromInt(30)) {
		t.Fatalf("orders %+v, want sell 30 AAA", got)
	}
}

func TestMACrossWarmUp(t *testing.T) {
	s := macross.New(macross.Config{Symbol: "X", Qty: decimal.NewFromInt(1), Fast: 2, Slow: 4, Interval: time.Minute})
	var asked int
	env := trading.NewEnv(trading.EnvState{Bars: func(sym string, n int) ([]trading.Bar, error) {
		asked = n
		var out []trading.Bar
		for _, c := range []int64{10, 9, 8, 7} { // falling: fast below slow
			out = append(out, trading.Bar{Symbol: sym, Close: decimal.NewFromInt(c)})
		}
		return out, nil
	}})
	if _, err := s.Start(env); err != nil {
		t.Fatal(err)
	}
	if asked != 4 {
		t.Fatalf("asked for %d bars, want slow=4", asked)
	}
	// Warm: the first live sample that turns the averages up trades at
	// once, with no cold-start wait.
	env = quoteEnv("X", 20, decimal.Zero)
	s.OnTimer(env)
	if got := env.Submitted(); len(got) != 1 || got[0].Side != trading.Buy {
		t.Fatalf("first live tick after warm-up: %+v, want a buy", got)
	}
}
