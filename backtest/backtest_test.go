package backtest_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/quantum-alpaca/quantum/backtest"
	"github.com/quantum-alpaca/quantum/sim"
	"github.com/quantum-alpaca/quantum/sim/market"
	"github.com/quantum-alpaca/quantum/sim/match"
	"github.com/quantum-alpaca/quantum/strategy/dca"
	"github.com/quantum-alpaca/quantum/strategy/macross"
	"github.com/quantum-alpaca/quantum/trading"
	"github.com/shopspring/decimal"
)

func macrossTenant(t testing.TB, id string, p map[string]string) backtest.Tenant {
	c, err := macross.Parse(p)
	if err != nil {
		t.Fatal(err)
	}
	return backtest.Tenant{ID: trading.TenantID(id), StrategyName: macross.Name, NewStrategy: func() (trading.Strategy, error) { return macross.New(c), nil }}
}

func nyse() backtest.Synthetic {
	return backtest.Synthetic{Seed: 7, Session: sim.NYSE{}.Open}
}

func TestMacrossWeek(t *testing.T) {
	from := time.Date(2025, 3, 3, 0, 0, 0, 0, time.UTC)
	cfg := backtest.Config{
		Tenants: []backtest.Tenant{macrossTenant(t, "mx", map[string]string{"symbol": "AAPL", "qty": "10", "fast": "5", "slow": "20", "interval": "1m"})},
		From:    from, To: from.AddDate(0, 0, 7),
		Source: nyse(), Calendar: sim.NYSE{}, Seed: 1,
	}
	r, err := backtest.Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.MarshalIndent(r, "", "  ")
	t.Logf("%s", b)
	tr := r.Tenants[0]
	if tr.Error != "" {
		t.Fatal(tr.Error)
	}
	if r.Bars != 5*390 {
		t.Errorf("bars = %d, want %d", r.Bars, 5*390)
	}
	if tr.Orders == 0 || tr.Fills == 0 {
		t.Errorf("orders %d fills %d; want some", tr.Orders, tr.Fills)
	}
	for _, o := range tr.OrderList {
		if !o.Terminal {
			t.Errorf("order %s still %s at the end", o.Intent.ClientOrderID, o.Status)
		}
	}
}

func TestDCACount(t *testing.T) {
	from := time.Date(2025, 3, 3, 0, 0, 0, 0, time.UTC)
	c, err := dca.Parse(map[string]string{"symbol": "MSFT", "qty": "1", "interval": "1h", "count": "10"})
	if err != nil {
		t.Fatal(err)
	}
	cfg := backtest.Config{
		Tenants: []backtest.Tenant{{ID: "d", StrategyName: dca.Name, NewStrategy: func() (trading.Strategy, error) { return dca.New(c), nil }}},
		From:    from, To: from.AddDate(0, 0, 7),
		Source: nyse(), Calendar: sim.NYSE{}, Seed: 1,
	}
	r, err := backtest.Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	tr := r.Tenants[0]
	if tr.Orders != 10 {
		t.Errorf("orders = %d, want 10", tr.Orders)
	}
	var filled decimal.Decimal
	for _, f := range tr.FillList {
		filled = filled.Add(f.Qty)
	}
	if !filled.Equal(decimal.NewFromInt(10)) {
		t.Errorf("filled %s, want 10", filled)
	}
}

// TestQuoteAtCloseMatchesBroker: a backtest derives each minute's quote
// from a close exactly as the replaying broker does, so both fill at the
// same prices.
func TestQuoteAtCloseMatchesBroker(t *testing.T) {
	for _, close := range []float64{0.0001, 0.5, 0.9999, 1, 12.345, 99.995, 150.01, 271.4567, 1234.5, 99999.9999} {
		for _, spread := range []int64{0, 1, 2, 3, 7, 25} {
			p, ok := match.PriceFromFloat(close)
			if !ok {
				t.Fatalf("price %v", close)
			}
			got := backtest.QuoteAtClose(p, spread)
			bid, ask := market.QuoteAtClose(close, spread)
			if got.Bid.Float64() != bid || got.Ask.Float64() != ask {
				t.Errorf("close %v spread %d: backtest %v/%v, broker %v/%v", close, spread, got.Bid, got.Ask, bid, ask)
			}
		}
	}
}
