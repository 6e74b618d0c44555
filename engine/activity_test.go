package engine_test

import (
	"context"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/quantum-alpaca/quantum/internal/simtest"
	"github.com/quantum-alpaca/quantum/sim"
	"github.com/quantum-alpaca/quantum/trading"
)

// TestActivities: a subscriber hears the engine start, every order with
// its symbol, side and quantity, every fill with its price, the kill
// switch, and the engine stop, in the order they happened per order.
func TestActivities(t *testing.T) {
	t.Parallel()
	srv := simtest.Start(t, sim.Config{Seed: 3})
	b, _ := MustBroker(t, srv.URL)
	e := newEngine(t, MustOpenJournal(t, t.TempDir()))
	sub := e.Activities.Subscribe(0)
	defer e.Activities.Unsubscribe(sub)
	if err := e.AddTenant(dcaTenant("act", b, 3, 5*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if err := e.Open(); err != nil {
		t.Fatal(err)
	}
	var got []trading.Activity
	next := func(what string) trading.Activity {
		t.Helper()
		select {
		case a := <-sub.C():
			got = append(got, a)
			return a
		case <-time.After(time.Minute): // a safety net, not a speed check
			t.Fatalf("no activity while waiting for %s; so far %+v", what, got)
			return trading.Activity{}
		}
	}
	if a := next("engine start"); a.Kind != trading.ActivityEngineStart || a.Time.IsZero() {
		t.Fatalf("first activity %+v, want engine_start", a)
	}
	orders, fills := map[string]bool{}, 0
	for len(orders) < 3 || fills < 3 {
		a := next("orders and fills")
		switch a.Kind {
		case trading.ActivityOrder:
			if a.Tenant != "act" || a.Symbol != "AAPL" || a.Side != trading.Buy || !a.Qty.Equal(decimal.NewFromInt(1)) || a.Reason == "" {
				t.Fatalf("order activity %+v", a)
			}
			orders[a.ClientOrderID] = true
		case trading.ActivityFill:
			if !orders[a.ClientOrderID] {
				t.Fatalf("fill of %s before its order", a.ClientOrderID)
			}
			if !a.Price.IsPositive() || !a.Qty.IsPositive() || a.Symbol != "AAPL" {
				t.Fatalf("fill activity %+v", a)
			}
			fills++
		default:
			t.Fatalf("unexpected activity %+v", a)
		}
	}
	if err := e.SetState("act", trading.Halted); err != nil {
		t.Fatal(err)
	}
	// Partial fills may still be on their way (the orders are done when
	// their quantities are, not after one fill each).
	skipFills := func(what string) trading.Activity {
		t.Helper()
		for {
			if a := next(what); a.Kind != trading.ActivityFill {
				return a
			}
		}
	}
	if a := skipFills("state change"); a.Kind != trading.ActivityState || a.State != trading.Halted || a.Tenant != "act" {
		t.Fatalf("after SetState: %+v", a)
	}
	if err := e.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if a := skipFills("engine stop"); a.Kind != trading.ActivityEngineStop {
		t.Fatalf("after Close: %+v", a)
	}
	if sub.Dropped() != 0 {
		t.Errorf("%d activities dropped", sub.Dropped())
	}
}
