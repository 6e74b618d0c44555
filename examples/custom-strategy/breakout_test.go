package main

import (
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/quantum-alpaca/quantum/strategy"
	"github.com/quantum-alpaca/quantum/trading"
)

// TestSpec: the params run -h shows are the ones Parse reads.
func TestSpec(t *testing.T) {
	if err := Spec().Verify(strategy.Params{"symbol": "AAPL"}); err != nil {
		t.Fatal(err)
	}
	if _, err := Parse(strategy.Params{"symbol": "AAPL", "sample": "tick"}); err == nil {
		t.Fatal("sample tick accepted")
	}
}

// quoteEnv is the Env of one timer tick: the quote's mid is price.
func quoteEnv(price string, pos int64) *trading.Env {
	p := decimal.RequireFromString(price)
	return trading.NewEnv(trading.EnvState{
		Now:       time.Date(2025, 3, 3, 15, 0, 0, 0, time.UTC),
		Quotes:    map[string]trading.Quote{"AAPL": {Symbol: "AAPL", Bid: p, Ask: p}},
		Positions: map[string]decimal.Decimal{"AAPL": decimal.NewFromInt(pos)},
	})
}

func TestBreakoutOnQuotes(t *testing.T) {
	s := New(Config{Symbol: "AAPL", Qty: decimal.NewFromInt(10), Entry: 3, Exit: 2, Interval: time.Second})
	sub, err := s.Start(quoteEnv("100", 0))
	if err != nil || sub.Interval != time.Second || len(sub.Symbols) != 1 || len(sub.Bars) != 0 {
		t.Fatalf("Start: %+v, %v", sub, err)
	}
	// step is one tick: the price, the position the runner reports, and
	// the order side expected ("" for none).
	step := func(price string, pos int64, want trading.Side) {
		t.Helper()
		env := quoteEnv(price, pos)
		s.OnTimer(env)
		got := env.Submitted()
		switch {
		case want == "" && len(got) != 0:
			t.Fatalf("at %s: %+v, want no order", price, got)
		case want != "" && (len(got) != 1 || got[0].Side != want):
			t.Fatalf("at %s: %+v, want one %s", price, got, want)
		}
	}
	step("100", 0, "")
	step("101", 0, "")
	step("100.5", 0, "")
	step("101", 0, "")             // equal to the 3-sample high: not a breakout
	step("101.25", 0, trading.Buy) // above it
	step("101.5", 10, "")          // long: only the exit channel matters now
	step("101.4", 10, "")
	step("101.45", 10, "")
	step("101.3", 10, trading.Sell) // below the 2-sample low (101.4)

	// The sell closes the whole position the runner reports.
	env := quoteEnv("90", 25)
	s.OnTimer(env)
	if got := env.Submitted(); len(got) != 1 || !got[0].Qty.Equal(decimal.NewFromInt(25)) || !strings.Contains(got[0].Reason, "below the 2-sample low") {
		t.Fatalf("exit order: %+v", got)
	}

	// An order in flight: no second one, whatever the price does.
	env = trading.NewEnv(trading.EnvState{OpenOrders: 1,
		Quotes: map[string]trading.Quote{"AAPL": {Symbol: "AAPL", Bid: decimal.NewFromInt(200), Ask: decimal.NewFromInt(200)}}})
	s.OnTimer(env)
	if got := env.Submitted(); len(got) != 0 {
		t.Fatalf("with an order open: %+v", got)
	}

	// Bars are not its samples in quote mode.
	env = quoteEnv("300", 0)
	s.OnBar(env, trading.Bar{Symbol: "AAPL", High: decimal.NewFromInt(300), Low: decimal.NewFromInt(300), Close: decimal.NewFromInt(300)})
	if got := env.Submitted(); len(got) != 0 {
		t.Fatalf("a bar in quote mode: %+v", got)
	}
}

func bar(high, low, close int64) trading.Bar {
	return trading.Bar{Symbol: "AAPL", High: decimal.NewFromInt(high), Low: decimal.NewFromInt(low), Close: decimal.NewFromInt(close)}
}

// TestBreakoutOnBars: warmed up on the broker's latest bars, it trades on
// the first bar that closes above their highs.
func TestBreakoutOnBars(t *testing.T) {
	s := New(Config{Symbol: "AAPL", Qty: decimal.NewFromInt(1), Entry: 2, Exit: 2, OnBars: true})
	history := func(symbol string, n int) ([]trading.Bar, error) {
		if symbol != "AAPL" || n != 2 {
			t.Errorf("RecentBars(%s, %d)", symbol, n)
		}
		return []trading.Bar{bar(105, 99, 104), bar(106, 101, 102)}, nil
	}
	sub, err := s.Start(trading.NewEnv(trading.EnvState{Bars: history}))
	if err != nil || len(sub.Bars) != 1 || sub.Bars[0] != "AAPL" || sub.Interval != 0 {
		t.Fatalf("Start: %+v, %v", sub, err)
	}
	env := trading.NewEnv(trading.EnvState{})
	s.OnTimer(env) // no timer samples in bar mode
	s.OnBar(env, bar(107, 103, 105))
	if got := env.Submitted(); len(got) != 0 {
		t.Fatalf("close 105 under the high 106: %+v", got)
	}
	env = trading.NewEnv(trading.EnvState{})
	s.OnBar(env, bar(110, 104, 108))
	if got := env.Submitted(); len(got) != 1 || got[0].Side != trading.Buy {
		t.Fatalf("close 108 above the high 107: %+v", got)
	}
	env = trading.NewEnv(trading.EnvState{Positions: map[string]decimal.Decimal{"AAPL": decimal.NewFromInt(1)}})
	s.OnBar(env, bar(104, 100, 102))
	if got := env.Submitted(); len(got) != 1 || got[0].Side != trading.Sell {
		t.Fatalf("close 102 below the low 103: %+v", got)
	}
}

// TestBuysTheBreakout is the example in docs/strategies.md, kept here so
// that it compiles and passes.
func TestBuysTheBreakout(t *testing.T) {
	s := New(Config{Symbol: "AAPL", Qty: decimal.NewFromInt(10), Entry: 2, Exit: 2, Interval: time.Second})
	var orders []trading.OrderRequest
	for _, price := range []int64{100, 101, 102} {
		p := decimal.NewFromInt(price)
		env := trading.NewEnv(trading.EnvState{
			Quotes:    map[string]trading.Quote{"AAPL": {Symbol: "AAPL", Bid: p, Ask: p}},
			Positions: map[string]decimal.Decimal{},
		})
		s.OnTimer(env)
		orders = append(orders, env.Submitted()...)
	}
	if len(orders) != 1 || orders[0].Side != trading.Buy {
		t.Fatalf("orders: %+v, want one buy at 102", orders)
	}
}
