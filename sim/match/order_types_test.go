package match_test

import (
	"testing"

	"github.com/quantum-alpaca/quantum/sim/match"
)

func TestOrderTypes(t *testing.T) {
	type step struct {
		bid, ask string
		want     []string // events caused by this quote
	}
	tests := []struct {
		name     string
		pos      string // initial long position bought at 100
		req      match.OrderRequest
		submit   []string // events at submit (quote 100/100.05)
		steps    []step
		status   match.Status
		fillPx   string
		stopPx   string // expected StopPrice at the end, if set
		hwm      string
		posAfter string
	}{
		{name: "market buy fills at ask", req: mkt("X", match.Buy, "10"),
			submit: []string{"new", "fill"}, status: match.StatusFilled, fillPx: "100.05", posAfter: "10"},
		{name: "market sell fills at bid", pos: "10", req: mkt("X", match.Sell, "10"),
			submit: []string{"new", "fill"}, status: match.StatusFilled, fillPx: "100", posAfter: "0"},
		{name: "limit buy marketable fills at ask", req: lmt("X", match.Buy, "5", "101"),
			submit: []string{"new", "fill"}, status: match.StatusFilled, fillPx: "100.05", posAfter: "5"},
		{name: "limit buy rests until ask reaches limit", req: lmt("X", match.Buy, "5", "99"),
			submit: []string{"new"},
			steps:  []step{{"99.5", "99.6", nil}, {"98.9", "99", []string{"fill"}}},
			status: match.StatusFilled, fillPx: "99", posAfter: "5"},
		{name: "limit sell rests until bid reaches limit", pos: "5", req: lmt("X", match.Sell, "5", "101"),
			submit: []string{"new"},
			steps:  []step{{"100.99", "101.2", nil}, {"101.5", "101.6", []string{"fill"}}},
			status: match.StatusFilled, fillPx: "101.5", posAfter: "0"},
		{name: "buy stop triggers on ask and fills at ask",
			req:    match.OrderRequest{Symbol: "X", Side: match.Buy, Type: match.Stop, TimeInForce: match.GTC, Qty: dec("2"), StopPrice: dec("102")},
			submit: []string{"new"},
			steps:  []step{{"101", "101.99", nil}, {"102", "102.1", []string{"fill"}}},
			status: match.StatusFilled, fillPx: "102.1", posAfter: "2"},
		{name: "buy stop does not chase a gap beyond its 2.5% collar",
			req:    match.OrderRequest{Symbol: "X", Side: match.Buy, Type: match.Stop, TimeInForce: match.GTC, Qty: dec("2"), StopPrice: dec("102")},
			submit: []string{"new"},
			steps:  []step{{"110", "110.1", nil}, {"104", "104.5", []string{"fill"}}},
			status: match.StatusFilled, fillPx: "104.5", posAfter: "2"},
		{name: "sell stop triggers on bid", pos: "3",
			req:    match.OrderRequest{Symbol: "X", Side: match.Sell, Type: match.Stop, TimeInForce: match.Day, Qty: dec("3"), StopPrice: dec("95")},
			submit: []string{"new"},
			steps:  []step{{"95.01", "95.1", nil}, {"94", "94.1", []string{"fill"}}},
			status: match.StatusFilled, fillPx: "94", posAfter: "0"},
		{name: "stop limit triggers then waits for its limit", pos: "3",
			req: match.OrderRequest{Symbol: "X", Side: match.Sell, Type: match.StopLimit, TimeInForce: match.Day, Qty: dec("3"),
				StopPrice: dec("95"), LimitPrice: dec("94.5")},
			submit: []string{"new"},
			steps:  []step{{"94", "94.1", nil}, {"94.6", "94.7", []string{"fill"}}},
			status: match.StatusFilled, fillPx: "94.6", posAfter: "0"},
		{name: "trailing stop sell by price follows the high", pos: "4",
			req:    match.OrderRequest{Symbol: "X", Side: match.Sell, Type: match.TrailingStop, TimeInForce: match.GTC, Qty: dec("4"), TrailPrice: dec("1")},
			submit: []string{"new"},
			steps:  []step{{"105", "105.1", nil}, {"104.5", "104.6", nil}, {"104", "104.1", []string{"fill"}}},
			status: match.StatusFilled, fillPx: "104", stopPx: "104", hwm: "105", posAfter: "0"},
		{name: "trailing stop sell by percent", pos: "4",
			req:    match.OrderRequest{Symbol: "X", Side: match.Sell, Type: match.TrailingStop, TimeInForce: match.Day, Qty: dec("4"), TrailPercent: dec("2")},
			submit: []string{"new"},
			steps:  []step{{"110", "110.1", nil}, {"107.81", "108", nil}, {"107.8", "107.9", []string{"fill"}}},
			status: match.StatusFilled, fillPx: "107.8", stopPx: "107.8", hwm: "110", posAfter: "0"},
		{name: "trailing stop buy follows the low",
			req:    match.OrderRequest{Symbol: "X", Side: match.Buy, Type: match.TrailingStop, TimeInForce: match.GTC, Qty: dec("1"), TrailPrice: dec("0.5")},
			submit: []string{"new"},
			steps:  []step{{"98", "98.1", nil}, {"98.5", "98.59", nil}, {"98.6", "98.6", []string{"fill"}}},
			status: match.StatusFilled, fillPx: "98.6", stopPx: "98.6", hwm: "98.1", posAfter: "1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := MustEnv(t, nil)
			e.quote("X", "100", "100")
			if tt.pos != "" {
				e.mustSubmit(mkt("X", match.Buy, tt.pos))
			}
			e.quote("X", "100", "100.05")
			o, ev := e.mustSubmit(tt.req)
			e.wantEvents(ev, tt.submit...)
			for _, s := range tt.steps {
				e.tick(1)
				e.wantEvents(e.quote("X", s.bid, s.ask), s.want...)
				e.check()
			}
			got := e.order(o.ID)
			if got.Status != tt.status {
				t.Fatalf("status %s, want %s", got.Status, tt.status)
			}
			if tt.fillPx != "" && got.FilledAvgPrice != match.AvgPrice(px(tt.fillPx))*100000 {
				t.Fatalf("filled at %s, want %s", got.FilledAvgPrice, tt.fillPx)
			}
			if tt.stopPx != "" && got.StopPrice != px(tt.stopPx) {
				t.Fatalf("stop %s, want %s", got.StopPrice, tt.stopPx)
			}
			if tt.hwm != "" && got.HWM != px(tt.hwm) {
				t.Fatalf("hwm %s, want %s", got.HWM, tt.hwm)
			}
			if p := e.pos("X"); p != qty(tt.posAfter) {
				t.Fatalf("position %s, want %s", p, tt.posAfter)
			}
			e.check()
		})
	}
}

func TestMarketBuyWithoutQuoteIsRejected(t *testing.T) {
	e := MustEnv(t, nil)
	err := e.submitErr(mkt("X", match.Buy, "1"))
	if err.Kind != match.KindUnprocessable {
		t.Fatalf("got %v", err)
	}
}

func TestMarketSellWaitsForABid(t *testing.T) {
	e := MustEnv(t, nil)
	e.quote("X", "10", "10")
	e.mustSubmit(mkt("X", match.Buy, "1"))
	e.quote("X", "", "10")
	o, ev := e.mustSubmit(mkt("X", match.Sell, "1"))
	e.wantEvents(ev, "new")
	e.wantEvents(e.quote("X", "9.5", "10"), "fill")
	if got := e.order(o.ID); got.Status != match.StatusFilled {
		t.Fatalf("status %s", got.Status)
	}
}

func TestPartialFills(t *testing.T) {
	e := MustEnv(t, func(c *match.Config) { c.PartialFillRate = 1 })
	e.quote("X", "10", "10.01")
	o, ev := e.mustSubmit(mkt("X", match.Buy, "100"))
	e.wantEvents(ev, "new", "partial_fill")
	if o.Status != match.StatusPartiallyFilled || o.FilledQty <= 0 || o.FilledQty >= qty("100") || !o.FilledQty.IsWhole() {
		t.Fatalf("order %+v", o)
	}
	sum := ev[1].Qty
	for i := 0; i < 200 && e.order(o.ID).Status != match.StatusFilled; i++ {
		for _, x := range e.quote("X", "10", "10.01") {
			sum += x.Qty
		}
	}
	got := e.order(o.ID)
	if got.Status != match.StatusFilled || sum != qty("100") || e.pos("X") != qty("100") {
		t.Fatalf("status %s sum %s pos %s", got.Status, sum, e.pos("X"))
	}
	e.check()
}

func TestFractionalQty(t *testing.T) {
	e := MustEnv(t, nil)
	e.quote("X", "200", "200")
	o, _ := e.mustSubmit(mkt("X", match.Buy, "0.123456789"))
	if o.FilledQty != qty("0.123456789") {
		t.Fatalf("filled %s", o.FilledQty)
	}
	// 0.123456789 × 200 = 24.6913578, cash is truncated to the cent.
	if got, want := e.a.Cash(), money("100000")-money("24.69"); got != want {
		t.Fatalf("cash %s want %s", got, want)
	}
	r := mkt("X", match.Buy, "0.5")
	r.TimeInForce = match.GTC
	if err := e.submitErr(r); err.Kind != match.KindUnprocessable {
		t.Fatalf("fractional gtc: %v", err)
	}
	e.a = mustAccount(t, func(c *match.Config) {
		c.Asset = func(string) (match.Asset, bool) { return match.Asset{Tradable: true}, true }
	})
	e.quote("X", "200", "200")
	if err := e.submitErr(mkt("X", match.Buy, "0.5")); err.Message != "asset X is not fractionable" {
		t.Fatalf("non-fractionable: %v", err)
	}
}

func TestNotionalOrders(t *testing.T) {
	e := MustEnv(t, nil)
	e.quote("X", "30", "30")
	r := match.OrderRequest{Symbol: "X", Side: match.Buy, Type: match.Market, TimeInForce: match.Day, Notional: dec("100")}
	o, ev := e.mustSubmit(r)
	e.wantEvents(ev, "new", "fill")
	if o.Qty != 0 || o.Notional != money("100") || o.FilledQty != qty("3.333333333") {
		t.Fatalf("order %+v", o)
	}
	if got, want := e.a.Cash(), money("100000")-money("99.99"); got != want {
		t.Fatalf("cash %s want %s", got, want)
	}
	sell := match.OrderRequest{Symbol: "X", Side: match.Sell, Type: match.Market, TimeInForce: match.Day, Notional: dec("50")}
	o, _ = e.mustSubmit(sell)
	if o.FilledQty != qty("1.666666666") {
		t.Fatalf("sold %s", o.FilledQty)
	}
	for _, bad := range []match.OrderRequest{
		{Symbol: "X", Side: match.Buy, Type: match.Limit, LimitPrice: dec("30"), TimeInForce: match.Day, Notional: dec("100")},
		{Symbol: "X", Side: match.Buy, Type: match.Market, TimeInForce: match.GTC, Notional: dec("100")},
		{Symbol: "X", Side: match.Buy, Type: match.Market, TimeInForce: match.Day, Notional: dec("100"), Qty: dec("1")},
		{Symbol: "X", Side: match.Buy, Type: match.Market, TimeInForce: match.Day, Notional: dec("0.5")},
		{Symbol: "X", Side: match.Buy, Type: match.Market, TimeInForce: match.Day, Notional: dec("10.001")},
	} {
		if _, _, err := e.submit(bad); err == nil {
			t.Fatalf("accepted %+v", bad)
		}
	}
	e.check()
}

func mustAccount(tb testing.TB, mut func(*match.Config)) *match.Account {
	return MustEnv(tb, mut).a
}
