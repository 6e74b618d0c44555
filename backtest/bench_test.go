package backtest_test

import (
	"context"
	"sort"
	"testing"
	"time"

	"github.com/quantum-alpaca/quantum/backtest"
	"github.com/quantum-alpaca/quantum/sim"
)

// memSource serves bars generated once, so that the benchmark times the
// replay (strategy, risk gate, matching, journal), not the generator.
type memSource struct {
	bars   map[string][]backtest.Bar
	spread int64
}

func (m memSource) Bars(symbol string, from, to time.Time) ([]backtest.Bar, error) {
	bs := m.bars[symbol]
	lo := sort.Search(len(bs), func(i int) bool { return !bs[i].Time.Before(from) })
	hi := sort.Search(len(bs), func(i int) bool { return !bs[i].Time.Before(to) })
	return bs[lo:hi], nil
}

func (m memSource) Spread(string, float64) int64 { return m.spread }

// BenchmarkMacrossYear replays one year of one symbol's minute bars (NYSE
// sessions, about 98,000 bars) through macross sampling every bar close,
// the risk gate, the matching engine and the journal; bars/s is the
// figure docs/benchmarks.md reports. The two settings differ in how often
// they trade: 10/30 places an order every 27 bars or so, 30/120 about a
// third as often, and an order costs far more than a bar.
func BenchmarkMacrossYear(b *testing.B) {
	from := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	to := from.AddDate(1, 0, 0)
	syn := backtest.Synthetic{Seed: 7, Session: sim.NYSE{}.Open}
	bars, err := syn.Bars("AAPL", from.AddDate(0, 0, -7), to)
	if err != nil {
		b.Fatal(err)
	}
	src := memSource{bars: map[string][]backtest.Bar{"AAPL": bars}, spread: syn.Spread("AAPL", 0)}
	for _, p := range []struct{ fast, slow string }{{"10", "30"}, {"30", "120"}} {
		b.Run("fast"+p.fast+"_slow"+p.slow, func(b *testing.B) {
			tenant := macrossTenant(b, "mx", map[string]string{"symbol": "AAPL", "qty": "10", "fast": p.fast, "slow": p.slow, "sample": "bar"})
			b.ReportAllocs()
			var total, orders int
			start := time.Now()
			for b.Loop() {
				r, err := backtest.Run(context.Background(), backtest.Config{
					Tenants: []backtest.Tenant{tenant}, From: from, To: to, Source: src, Calendar: sim.NYSE{}, Seed: 1,
				})
				if err != nil {
					b.Fatal(err)
				}
				if r.Tenants[0].Error != "" {
					b.Fatal(r.Tenants[0].Error)
				}
				total += r.Bars
				orders = r.Tenants[0].Orders
			}
			b.ReportMetric(float64(total)/time.Since(start).Seconds(), "bars/s")
			b.ReportMetric(float64(orders), "orders")
		})
	}
}
