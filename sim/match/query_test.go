package match_test

import (
	"testing"
	"time"

	"github.com/quantum-alpaca/quantum/sim/match"
	"github.com/shopspring/decimal"
)

func TestOrdersQuery(t *testing.T) {
	e := MustEnv(t, nil)
	e.quote("X", "100", "100")
	e.quote("Y", "10", "10")
	var ids []match.UUID
	for i := 0; i < 5; i++ {
		e.tick(time.Second)
		o, _ := e.mustSubmit(lmt("X", match.Buy, "1", "90"))
		ids = append(ids, o.ID)
	}
	e.tick(time.Second)
	y, _ := e.mustSubmit(mkt("Y", match.Buy, "1")) // closed (filled)
	e.tick(time.Second)
	b, _ := e.mustSubmit(bracket(match.Buy, "1", "90", "95", "85"))

	list := func(f match.OrderFilter) []match.Order {
		t.Helper()
		out, err := e.a.Orders(f)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	if got := list(match.OrderFilter{}); len(got) != 8 || got[0].ID != b.Legs[1].ID {
		t.Fatalf("open desc: %d", len(got))
	}
	if got := list(match.OrderFilter{Nested: true}); len(got) != 6 || len(got[0].Legs) != 2 {
		t.Fatalf("nested: %d", len(got))
	}
	if got := list(match.OrderFilter{Status: "closed"}); len(got) != 1 || got[0].ID != y.ID {
		t.Fatalf("closed: %+v", got)
	}
	if got := list(match.OrderFilter{Status: "all", Direction: "asc", Limit: 2}); len(got) != 2 || got[0].ID != ids[0] || got[1].ID != ids[1] {
		t.Fatalf("asc limit: %+v", got)
	}
	if got := list(match.OrderFilter{Status: "all", Symbols: []string{"Y"}}); len(got) != 1 {
		t.Fatalf("symbols: %d", len(got))
	}
	if got := list(match.OrderFilter{Status: "all", Side: match.Sell}); len(got) != 2 {
		t.Fatalf("side: %d", len(got))
	}
	after := t0.Add(2 * time.Second)
	until := t0.Add(5 * time.Second)
	got := list(match.OrderFilter{Status: "all", After: after, Until: until, Direction: "asc"})
	if len(got) != 2 || got[0].ID != ids[2] || got[1].ID != ids[3] {
		t.Fatalf("window: %d", len(got))
	}
	for _, f := range []match.OrderFilter{{Status: "bogus"}, {Direction: "up"}, {Side: "both"}} {
		if _, err := e.a.Orders(f); err == nil {
			t.Errorf("accepted %+v", f)
		}
	}
	if n := len(list(match.OrderFilter{Status: "all", Limit: 10000})); n != 9 {
		t.Fatalf("limit cap: %d", n)
	}
}

func TestManyOrders(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	e := MustEnv(t, func(c *match.Config) { c.Cash = match.MaxNotional })
	e.quote("X", "100", "100")
	var last match.Order
	for i := 0; i < 100000; i++ {
		e.tick(time.Millisecond)
		last, _ = e.mustSubmit(mkt("X", match.Buy, "1"))
		e.ev = e.ev[:0]
	}
	got, _ := e.a.Orders(match.OrderFilter{Status: "closed", Limit: 500})
	if len(got) != 500 || got[0].ID != last.ID {
		t.Fatalf("listing: %d", len(got))
	}
	if o, err := e.a.OrderByClientID(last.ClientOrderID, false); err != nil || o.ID != last.ID {
		t.Fatal(err)
	}
	if e.a.OrderCount() != 100000 {
		t.Fatal(e.a.OrderCount())
	}
}

func TestPositionsAndActivities(t *testing.T) {
	e := MustEnv(t, func(c *match.Config) { c.PartialFillRate = 1 })
	e.quote("X", "100", "100")
	o, _ := e.mustSubmit(mkt("X", match.Buy, "10"))
	for i := 0; i < 50 && e.order(o.ID).Status != match.StatusFilled; i++ {
		e.tick(time.Second)
		e.quote("X", "100", "101")
	}
	fills := 0
	var sum match.Qty
	for _, x := range e.ev {
		if x.Type == match.EventFill || x.Type == match.EventPartialFill {
			fills++
			sum += x.Qty
		}
	}
	acts, err := e.a.Activities(match.ActivityFilter{Direction: "asc"})
	if err != nil || len(acts) != fills || sum != qty("10") {
		t.Fatalf("activities %d, fills %d, sum %s, %v", len(acts), fills, sum, err)
	}
	last := acts[len(acts)-1]
	if last.Type != match.EventFill || last.CumQty != qty("10") || last.LeavesQty != 0 || last.OrderID != o.ID || last.Symbol != "X" {
		t.Fatalf("last activity %+v", last)
	}
	if acts[0].Type != match.EventPartialFill || acts[0].OrderStatus != match.StatusPartiallyFilled {
		t.Fatalf("first activity %+v", acts[0])
	}
	page, _ := e.a.Activities(match.ActivityFilter{PageSize: 1})
	next, _ := e.a.Activities(match.ActivityFilter{PageSize: 1, PageToken: page[0].ID()})
	if len(page) != 1 || page[0].ExecutionID != last.ExecutionID || fills > 1 && (len(next) != 1 || next[0].ExecutionID != acts[len(acts)-2].ExecutionID) {
		t.Fatalf("paging")
	}
	if id := page[0].ID(); len(id) != 17+2+36 {
		t.Fatalf("activity id %q", id)
	}

	p, _ := e.a.Position("X", nil)
	if p.Qty != qty("10") || p.Side() != "long" || !p.HasMark || p.CurrentPrice != px("100.5") {
		t.Fatalf("position %+v", p)
	}
	if p.MarketValue != money("1005") || p.UnrealizedPL != p.MarketValue-p.CostBasis {
		t.Fatalf("position values %+v", p)
	}
	marks := func(string) (match.Price, bool) { return px("110"), true }
	s := e.a.Snapshot(e.now, marks)
	if s.LongMarketValue != money("1100") || s.Equity != s.Cash+money("1100") {
		t.Fatalf("snapshot %+v", s)
	}
	// Averages keep more precision than prices.
	e.quote("X", "100", "100.01")
	e2 := MustEnv(t, nil)
	e2.quote("X", "100", "100.01")
	e2.mustSubmit(mkt("X", match.Buy, "3"))
	e2.quote("X", "100", "100")
	e2.mustSubmit(mkt("X", match.Buy, "1"))
	p2, _ := e2.a.Position("X", nil)
	if p2.AvgEntryPrice.String() != "100.0075" {
		t.Fatalf("avg %s", p2.AvgEntryPrice)
	}
	e2.mustSubmit(mkt("X", match.Sell, "2")) // reducing keeps the average
	if p3, _ := e2.a.Position("X", nil); p3.AvgEntryPrice != p2.AvgEntryPrice {
		t.Fatalf("avg changed on reduce: %s", p3.AvgEntryPrice)
	}
	if _, err := e2.a.Position("Z", nil); err == nil || err.Error() != "position does not exist" {
		t.Fatalf("missing position: %v", err)
	}
}

func TestClosePositions(t *testing.T) {
	e := MustEnv(t, func(c *match.Config) { c.Multiplier = 4 })
	e.quote("X", "100", "100")
	e.quote("Y", "10", "10")
	e.mustSubmit(mkt("X", match.Buy, "10"))
	e.mustSubmit(mkt("Y", match.Sell, "7"))
	d := func(s string) *decimal.Decimal { return dec(s) }

	o, _, err := e.a.ClosePosition(e.now, "X", nil, d("25"), nil)
	if err != nil || o.FilledQty != qty("2") || o.Side != match.Sell || o.Type != match.Market {
		t.Fatalf("25%% of 10 shares rounds down to whole shares: %+v %v", o, err)
	}
	if _, _, err := e.a.ClosePosition(e.now, "X", d("9"), nil, nil); err == nil {
		t.Fatal("closing more than the position")
	}
	if _, _, err := e.a.ClosePosition(e.now, "X", d("1"), d("1"), nil); err == nil {
		t.Fatal("qty and percentage together")
	}
	if _, _, err := e.a.ClosePosition(e.now, "Z", nil, nil, nil); err == nil || err.Error() != "position does not exist" {
		t.Fatalf("unknown position: %v", err)
	}
	e.mustSubmit(lmt("X", match.Sell, "8", "200")) // holds the rest of X
	res, _ := e.a.CloseAll(e.now, false, nil)
	if len(res) != 2 || res[0].Symbol != "X" || res[0].Err == nil || res[0].Err.Kind != match.KindForbidden ||
		res[1].Err != nil || res[1].Order.Side != match.Buy {
		t.Fatalf("close all: %+v", res)
	}
	res, _ = e.a.CloseAll(e.now, true, nil)
	if len(res) != 1 || res[0].Err != nil || len(e.a.Positions(nil)) != 0 {
		t.Fatalf("close all with cancel: %+v", res)
	}
	e.check()
}

func TestDeterminism(t *testing.T) {
	run := func() []match.Event {
		e := MustEnv(t, func(c *match.Config) { c.PartialFillRate = 0.5; c.Seed = 42 })
		e.quote("X", "100", "100.05")
		for i := 0; i < 50; i++ {
			e.mustSubmit(lmt("X", match.Buy, "7", "100.05"))
			e.quote("X", "100", "100.05")
		}
		return e.ev
	}
	a, b := run(), run()
	if len(a) != len(b) {
		t.Fatalf("%d vs %d events", len(a), len(b))
	}
	for i := range a {
		if a[i].Seq != uint64(i+1) || a[i].Order.ID != b[i].Order.ID || a[i].Qty != b[i].Qty || a[i].ExecutionID != b[i].ExecutionID {
			t.Fatalf("event %d differs", i)
		}
	}
}

func TestNestedShowsOpenLegsOfFilledParent(t *testing.T) {
	e := MustEnv(t, nil)
	e.quote("X", "100", "100.05")
	o, _ := e.mustSubmit(bracket(match.Buy, "1", "101", "105", "95"))
	got, _ := e.a.Orders(match.OrderFilter{Nested: true})
	if len(got) != 2 || got[0].ParentID != o.ID || got[1].ParentID != o.ID {
		t.Fatalf("open nested: %+v", got)
	}
	got, _ = e.a.Orders(match.OrderFilter{Status: "all", Nested: true})
	if len(got) != 1 || len(got[0].Legs) != 2 {
		t.Fatalf("all nested: %+v", got)
	}
}
