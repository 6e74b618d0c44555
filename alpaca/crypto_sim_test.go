package alpaca_test

import (
	"testing"
	"time"

	"github.com/quantum-alpaca/quantum/alpaca"
	"github.com/quantum-alpaca/quantum/sim"
)

// The crypto data calls decode what the simulator serves, on a Sunday
// (crypto trades 24/7), paging across several requests as one answer.
func TestSimCryptoData(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 15, 14, 30, 20, 0, time.UTC)
	c, _ := MustSim(t, sim.Config{Seed: 9, Session: sim.NYSE{}, Clock: sim.NewSteppedClock(at)})
	ctx := t.Context()
	pairs := []string{"BTC/USD", "ETH/USD"}

	window := alpaca.CryptoRequest{Start: at.Add(-time.Hour), End: at.Add(-30 * time.Minute)}
	bars, err := c.GetCryptoBars(ctx, pairs, alpaca.CryptoBarsRequest{CryptoRequest: window, TimeFrame: "1Min"})
	if err != nil {
		t.Fatalf("GetCryptoBars: %v", err)
	}
	paged := window
	paged.PageLimit = 7
	pages := 0
	barsPaged := map[string][]alpaca.CryptoBar{}
	_, err = c.GetCryptoBars(ctx, pairs, alpaca.CryptoBarsRequest{CryptoRequest: paged, TimeFrame: "1Min",
		OnPage: func(page map[string][]alpaca.CryptoBar) error {
			pages++
			for p, b := range page {
				barsPaged[p] = append(barsPaged[p], b...)
			}
			return nil
		}})
	if err != nil {
		t.Fatalf("GetCryptoBars paged: %v", err)
	}
	for _, p := range pairs {
		if n := len(bars[p]); n < 20 || n > 31 {
			t.Fatalf("%s: %d minute bars in half an hour", p, n)
		}
		if len(barsPaged[p]) != len(bars[p]) {
			t.Errorf("%s: %d bars paged by 7, %d in one page", p, len(barsPaged[p]), len(bars[p]))
		}
		for i, b := range bars[p] {
			if b.Timestamp.Before(window.Start) || b.Timestamp.After(window.End) || b.Low > b.High || b.Volume <= 0 {
				t.Fatalf("%s bar %d: %+v", p, i, b)
			}
		}
	}
	if pages < 3 {
		t.Errorf("%d pages of 7, want several", pages)
	}

	trades, err := c.GetCryptoTrades(ctx, pairs[:1], alpaca.CryptoTradesRequest{CryptoRequest: alpaca.CryptoRequest{Start: at.Add(-time.Hour), Limit: 50}})
	if err != nil || len(trades["BTC/USD"]) != 50 {
		t.Fatalf("GetCryptoTrades: %d trades, %v", len(trades["BTC/USD"]), err)
	}
	quotes, err := c.GetCryptoQuotes(ctx, pairs[:1], alpaca.CryptoQuotesRequest{CryptoRequest: alpaca.CryptoRequest{Start: at.Add(-time.Hour), Limit: 20}})
	if err != nil || len(quotes["BTC/USD"]) != 20 {
		t.Fatalf("GetCryptoQuotes: %d quotes, %v", len(quotes["BTC/USD"]), err)
	}

	lq, err := c.GetCryptoLatestQuotes(ctx, alpaca.CryptoUS, pairs)
	if err != nil {
		t.Fatalf("GetCryptoLatestQuotes: %v", err)
	}
	books, err := c.GetCryptoLatestOrderbooks(ctx, alpaca.CryptoUS, pairs)
	if err != nil {
		t.Fatalf("GetCryptoLatestOrderbooks: %v", err)
	}
	snaps, err := c.GetCryptoSnapshots(ctx, alpaca.CryptoUS, pairs)
	if err != nil {
		t.Fatalf("GetCryptoSnapshots: %v", err)
	}
	lt, err := c.GetCryptoLatestTrades(ctx, alpaca.CryptoUS, pairs)
	if err != nil {
		t.Fatalf("GetCryptoLatestTrades: %v", err)
	}
	lb, err := c.GetCryptoLatestBars(ctx, alpaca.CryptoUS, pairs)
	if err != nil {
		t.Fatalf("GetCryptoLatestBars: %v", err)
	}
	for _, p := range pairs {
		q := lq[p]
		if !(q.BidPrice > 0 && q.AskPrice > q.BidPrice && q.BidSize > 0) {
			t.Errorf("%s latest quote %+v", p, q)
		}
		b := books[p]
		if len(b.Bids) == 0 || len(b.Asks) == 0 || b.Bids[0].Price >= b.Asks[0].Price {
			t.Errorf("%s order book: %d bids, %d asks", p, len(b.Bids), len(b.Asks))
		}
		for i := 1; i < len(b.Bids); i++ {
			if b.Bids[i].Price > b.Bids[i-1].Price {
				t.Errorf("%s bids not best first at %d", p, i)
			}
		}
		s := snaps[p]
		if s == nil || s.LatestQuote == nil || s.LatestTrade == nil || s.MinuteBar == nil || s.DailyBar == nil || s.PrevDailyBar == nil {
			t.Errorf("%s snapshot incomplete: %+v", p, s)
		}
		if lt[p].Price <= 0 || lb[p].Close <= 0 {
			t.Errorf("%s latest trade %+v, bar %+v", p, lt[p], lb[p])
		}
	}
}
