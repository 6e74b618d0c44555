package engine_test

import (
	"context"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/quantum-alpaca/quantum/alpaca"
	"github.com/quantum-alpaca/quantum/engine"
	"github.com/quantum-alpaca/quantum/internal/simtest"
	"github.com/quantum-alpaca/quantum/sim"
	"github.com/quantum-alpaca/quantum/strategy/dca"
	"github.com/quantum-alpaca/quantum/trading"
)

// A crypto tenant: a dca buying $100 of BTC/USD at a time against the
// real simulator. Its orders go out as gtc (Alpaca refuses day orders for
// crypto), the fractional fills are journaled, and the position the
// engine holds becomes the one the broker holds net of the fee.
func TestCryptoTenant(t *testing.T) {
	srv := simtest.Start(t, sim.Config{Seed: 5})
	br, client := MustBroker(t, srv.URL)
	e := newEngine(t, MustOpenJournal(t, t.TempDir()))
	e.AccountInterval = time.Hour // only a fill may read the position back
	const count = 3
	cfg := dca.Config{Symbol: "BTC/USD", Notional: decimal.NewFromInt(100), Interval: 5 * time.Millisecond, Count: count}
	if err := e.AddTenant(engine.TenantConfig{ID: "btc", Broker: br, StrategyName: "dca",
		NewStrategy: func() (trading.Strategy, error) { return dca.New(cfg), nil }}); err != nil {
		t.Fatal(err)
	}
	if err := e.Open(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "three filled crypto orders", func() bool {
		s := e.Statuses()[0]
		return s.OrdersPlaced == count && s.OpenOrders == 0 && s.Fills >= count
	})
	orders := brokerOrders(t, client)
	if len(orders) != count {
		t.Fatalf("the broker holds %d orders, want %d", len(orders), count)
	}
	for _, o := range orders {
		if o.TimeInForce != alpaca.GTC || o.Symbol != "BTC/USD" || o.Status != alpaca.StatusFilled {
			t.Errorf("order %s: %s %s %s; want a filled gtc BTC/USD order", o.ClientOrderID, o.Symbol, o.TimeInForce, o.Status)
		}
	}
	pos, err := client.GetPosition(context.Background(), "BTC/USD")
	if err != nil {
		t.Fatal(err)
	}
	if !pos.Qty.IsPositive() || pos.Qty.IsInteger() {
		t.Fatalf("the broker holds %s BTC/USD, want a fractional quantity", pos.Qty)
	}
	// The fee is charged in BTC, so the broker holds less than was
	// filled; the engine reads the position back after crypto fills
	// instead of trading on the gross quantity until its next refresh.
	waitFor(t, 5*time.Second, "the engine's BTC/USD position to be the broker's", func() bool {
		return e.Statuses()[0].Positions["BTC/USD"].Equal(pos.Qty)
	})
}
