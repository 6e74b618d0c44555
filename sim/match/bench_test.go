package match_test

import (
	"testing"
	"time"

	"github.com/quantum-alpaca/quantum/sim/match"
	"github.com/shopspring/decimal"
)

// BenchmarkSubmitMarket measures the in-process hot path: a market order
// submitted, validated, filled at the quote, with its new and fill events.
// Buys and sells alternate so the position stays flat. Default config
// (10% random partial fills), so some orders rest and are completed by the
// next quote, which is sent every 16 orders as a market feed would.
func BenchmarkSubmitMarket(b *testing.B) {
	cfg := match.DefaultConfig()
	cfg.Cash = match.MaxNotional
	cfg.DisablePDT = true
	newAcct := func() *match.Account {
		a, err := match.NewAccount(cfg)
		if err != nil {
			b.Fatal(err)
		}
		a.OnQuote(t0, "AAPL", match.Quote{Bid: px("100"), Ask: px("100.01")}, nil)
		return a
	}
	a := newAcct()
	buy, sell := mkt("AAPL", match.Buy, "1"), mkt("AAPL", match.Sell, "1")
	q := match.Quote{Bid: px("100"), Ask: px("100.01")}
	ev := make([]match.Event, 0, 64)
	now := t0
	events := 0
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i%(1<<18) == 0 && i > 0 {
			// Keep the order history (kept forever, as Alpaca does) from
			// dominating memory in long runs.
			b.StopTimer()
			a = newAcct()
			b.StartTimer()
		}
		r := &buy
		if i&1 == 1 {
			r = &sell
		}
		var err error
		_, ev, err = a.Submit(now, r, ev[:0])
		if err != nil {
			// A sell can meet shares still held by a resting partial fill.
			ev = a.OnQuote(now, "AAPL", q, ev)
		}
		if i&15 == 15 {
			ev = a.OnQuote(now, "AAPL", q, ev)
		}
		events += len(ev)
		now = now.Add(time.Microsecond)
	}
	b.StopTimer()
	b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(events)/float64(b.N), "events/op")
}

// BenchmarkOnQuoteRestingLimits measures quotes against a book of 10,000
// resting buy limits that the quotes do not reach, on one symbol, plus
// 50 other symbols' quotes that the account has no orders for.
func BenchmarkOnQuoteRestingLimits(b *testing.B) {
	cfg := match.DefaultConfig()
	cfg.Cash = match.MaxNotional
	a, err := match.NewAccount(cfg)
	if err != nil {
		b.Fatal(err)
	}
	a.OnQuote(t0, "AAPL", match.Quote{Bid: px("100"), Ask: px("100.01")}, nil)
	for i := 0; i < 10000; i++ {
		p := match.Price(int64(px("50")) + int64(i%4000)*100)
		r := match.OrderRequest{Symbol: "AAPL", Side: match.Buy, Type: match.Limit, TimeInForce: match.GTC,
			Qty: dec("1"), LimitPrice: ptrDec(p)}
		if _, _, err := a.Submit(t0, &r, nil); err != nil {
			b.Fatal(err)
		}
	}
	syms := make([]string, 50)
	for i := range syms {
		syms[i] = "SYM" + string(rune('A'+i%26)) + string(rune('A'+i/26))
	}
	ev := make([]match.Event, 0, 64)
	ask0, other := px("100.01"), match.Quote{Bid: px("10"), Ask: px("10.01")}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ask := ask0 + match.Price(i%50)*100
		ev = a.OnQuote(t0, "AAPL", match.Quote{Bid: ask - 100, Ask: ask}, ev[:0])
		ev = a.OnQuote(t0, syms[i%50], other, ev)
	}
	b.StopTimer()
	b.ReportMetric(float64(2*b.N)/b.Elapsed().Seconds(), "quotes/s")
}

func ptrDec(p match.Price) *decimal.Decimal { d := p.Decimal(); return &d }
