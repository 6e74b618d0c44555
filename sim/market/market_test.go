package market_test

import (
	"context"
	"math"
	"reflect"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/quantum-alpaca/quantum/alpaca"
	"github.com/quantum-alpaca/quantum/sim/market"
)

var uuidV4 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func onGrid(p float64) bool {
	c := p * 100
	return math.Abs(c-math.Round(c)) < 1e-6
}

func TestDefaultUniverse(t *testing.T) {
	u := market.DefaultUniverse()
	// The S&P 500 (503 share classes) and the most traded ETFs.
	if len(u) < 600 {
		t.Fatalf("got %d symbols, want at least 600", len(u))
	}
	ids := map[string]string{}
	syms := map[string]bool{}
	for _, s := range u {
		if syms[s.Symbol] {
			t.Errorf("duplicate symbol %s", s.Symbol)
		}
		syms[s.Symbol] = true
		if !uuidV4.MatchString(s.AssetID) {
			t.Errorf("%s: asset id %q is not a v4-shaped UUID", s.Symbol, s.AssetID)
		}
		if other, dup := ids[s.AssetID]; dup {
			t.Errorf("%s and %s share asset id", s.Symbol, other)
		}
		ids[s.AssetID] = s.Symbol
		if s.AssetID != market.AssetID(s.Symbol) {
			t.Errorf("%s: asset id not derived from the symbol", s.Symbol)
		}
		if s.Price < 1 || s.Name == "" || s.SpreadCents < 1 {
			t.Errorf("%s: implausible %+v", s.Symbol, s)
		}
		switch s.Exchange {
		case market.ExchangeNASDAQ, market.ExchangeNYSE, market.ExchangeARCA, market.ExchangeBATS:
		default:
			t.Errorf("%s: exchange %q", s.Symbol, s.Exchange)
		}
	}
	for _, want := range []string{"AAPL", "MSFT", "NVDA", "AMZN", "GOOGL", "GOOG", "META", "TSLA", "JPM", "V", "SPY", "QQQ",
		"BRK.B", "BF.B", "GE", "KO", "MMM", "XOM", "ZTS", "VOO", "IVV", "TQQQ", "SQQQ", "XLF", "GLD", "TLT", "HYG", "EEM", "SMH", market.TestSymbol} {
		if !syms[want] {
			t.Errorf("missing %s", want)
		}
	}
	// Clients and journals keep asset ids: they must come out the same in
	// every run and every version, not merely within one process.
	if got, want := market.AssetID("AAPL"), "1d3e7160-87e5-4b0e-9f1e-c48e9039ecc9"; got != want {
		t.Errorf("AssetID(AAPL) = %s, want %s: asset ids must survive restarts", got, want)
	}
	if market.AssetID("AAPL") == market.AssetID("MSFT") {
		t.Error("AAPL and MSFT share an asset id")
	}
}

func TestLookup(t *testing.T) {
	h := MustHarness(t, market.Config{HistoryDays: 1, Universe: market.DefaultUniverse()})
	aapl, ok := h.m.Lookup("AAPL")
	if !ok || aapl.Symbol != "AAPL" {
		t.Fatalf("Lookup(AAPL) = %+v, %v", aapl, ok)
	}
	byID, ok := h.m.Lookup(aapl.AssetID)
	if !ok || byID.Symbol != "AAPL" {
		t.Fatalf("Lookup(asset id) = %+v, %v", byID, ok)
	}
	if _, ok := h.m.Lookup("NOPE"); ok {
		t.Error("Lookup(NOPE) found something")
	}
	if got, want := len(h.m.Symbols()), len(market.DefaultUniverse()); got != want {
		t.Errorf("Symbols: got %d, want %d", got, want)
	}
}

func TestNewRejectsBadUniverse(t *testing.T) {
	for name, u := range map[string][]market.Symbol{
		"Duplicate":  {{Symbol: "A", Price: 10}, {Symbol: "A", Price: 11}},
		"EmptyName":  {{Symbol: "", Price: 10}},
		"PriceBelow": {{Symbol: "A", Price: 0.5}},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := market.New(market.Config{Universe: u, HistoryDays: 1}); err == nil {
				t.Fatal("New succeeded")
			}
		})
	}
}

func TestQuotesAndTrades(t *testing.T) {
	h := MustHarness(t, market.Config{Seed: 7})
	start := map[string]float64{}
	for _, s := range h.m.Symbols() {
		start[s.Symbol] = s.Price
	}
	for range 600 {
		h.step(1, 100*time.Millisecond)
		for _, s := range h.m.Symbols() {
			q, ok := h.m.Quote(s.Symbol)
			if !ok {
				t.Fatalf("no quote for %s", s.Symbol)
			}
			if !(q.BidPrice >= 1 && q.BidPrice < q.AskPrice) || !onGrid(q.BidPrice) || !onGrid(q.AskPrice) {
				t.Fatalf("%s: bad quote %+v", s.Symbol, q)
			}
			if spread := math.Round((q.AskPrice - q.BidPrice) * 100); spread > float64(s.SpreadCents+1) {
				t.Fatalf("%s: spread %v cents, symbol spread %d", s.Symbol, spread, s.SpreadCents)
			}
			if q.BidSize == 0 || q.BidSize%100 != 0 || q.AskSize%100 != 0 {
				t.Fatalf("%s: sizes not in round lots: %+v", s.Symbol, q)
			}
			if !q.Timestamp.Equal(h.clk.Now()) {
				t.Fatalf("%s: quote time %v, clock %v", s.Symbol, q.Timestamp, h.clk.Now())
			}
			tr, ok := h.m.LatestTrade(s.Symbol)
			if !ok || tr.Size == 0 || !onGrid(tr.Price) {
				t.Fatalf("%s: bad trade %+v", s.Symbol, tr)
			}
			if tr.Timestamp.Equal(q.Timestamp) && (tr.Price < q.BidPrice || tr.Price > q.AskPrice) {
				t.Fatalf("%s: trade %v outside %v/%v", s.Symbol, tr.Price, q.BidPrice, q.AskPrice)
			}
		}
	}
	// A minute of ticks moves prices, but not absurdly.
	for _, s := range h.m.Symbols() {
		q, _ := h.m.Quote(s.Symbol)
		mid := (q.BidPrice + q.AskPrice) / 2
		if r := mid / start[s.Symbol]; r < 0.9 || r > 1.1 {
			t.Errorf("%s moved from %v to %v in a minute", s.Symbol, start[s.Symbol], mid)
		}
	}
	if _, ok := h.m.Quote("NOPE"); ok {
		t.Error("Quote(NOPE) ok")
	}
}

func TestDeterminism(t *testing.T) {
	run := func(seed int64) []string {
		h := MustHarness(t, market.Config{Seed: seed})
		h.step(900, 100*time.Millisecond) // 90 s: closes a live minute
		var out []string
		for _, p := range []string{
			"/v2/stocks/quotes/latest?symbols=AAPL,SPY,TSLA",
			"/v2/stocks/trades/latest?symbols=AAPL,SPY,TSLA",
			"/v2/stocks/bars?symbols=AAPL,SPY&timeframe=1Min&start=2026-03-09",
			"/v2/stocks/bars?symbols=AAPL&timeframe=1Hour&start=2026-03-08",
			"/v2/stocks/trades?symbols=AAPL,TSLA&start=2026-03-10T14:25:00Z&limit=5000",
			"/v2/stocks/quotes?symbols=SPY&start=2026-03-09T15:00:00Z&end=2026-03-09T15:02:00Z",
			"/v2/stocks/snapshots?symbols=AAPL,MSFT",
		} {
			out = append(out, string(h.mustGet(t, p, nil)))
		}
		return out
	}
	a, b, c := run(42), run(42), run(43)
	for i := range a {
		if a[i] != b[i] {
			t.Errorf("request %d differs between runs with the same seed", i)
		}
		if a[i] == c[i] {
			t.Errorf("request %d identical for different seeds", i)
		}
	}
}

func TestSubscription(t *testing.T) {
	h := MustHarness(t, market.Config{HistoryDays: 1})
	n := len(h.m.Symbols())

	t.Run("OK", func(t *testing.T) {
		sub := h.m.Subscribe(4 * n)
		defer sub.Close()
		h.step(1, 100*time.Millisecond)
		seen := map[string]alpaca.Quote{}
		for range n {
			u := <-sub.C()
			seen[u.Symbol] = u.Quote
		}
		for _, s := range h.m.Symbols() {
			q, _ := h.m.Quote(s.Symbol)
			if !reflect.DeepEqual(seen[s.Symbol], q) {
				t.Fatalf("%s: update %+v, Quote %+v", s.Symbol, seen[s.Symbol], q)
			}
		}
	})

	t.Run("SlowConsumerCoalesces", func(t *testing.T) {
		sub := h.m.Subscribe(0) // capacity = universe size
		defer sub.Close()
		done := make(chan struct{})
		go func() {
			h.step(50, 100*time.Millisecond) // must not block on the full channel
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("Step blocked on a slow subscriber")
		}
		if sub.Dropped() == 0 {
			t.Fatal("no updates counted as dropped")
		}
		// Draining everything yields each symbol's latest quote last.
		latest := map[string]alpaca.Quote{}
		for {
			select {
			case u := <-sub.C():
				latest[u.Symbol] = u.Quote
				continue
			default:
			}
			break
		}
		h.step(1, 100*time.Millisecond) // flushes what waited behind the full channel
		for {
			select {
			case u := <-sub.C():
				latest[u.Symbol] = u.Quote
				continue
			default:
			}
			break
		}
		for _, s := range h.m.Symbols() {
			if q, _ := h.m.Quote(s.Symbol); !reflect.DeepEqual(latest[s.Symbol], q) {
				t.Fatalf("%s: last update %+v, Quote %+v", s.Symbol, latest[s.Symbol], q)
			}
		}
	})

	t.Run("CloseClosesChannel", func(t *testing.T) {
		sub := h.m.Subscribe(1)
		sub.Close()
		sub.Close()
		if _, ok := <-sub.C(); ok {
			t.Fatal("channel open after Close")
		}
	})
}

func TestSessionClosed(t *testing.T) {
	open := func(tm time.Time) bool { return tm.Before(t0.Add(time.Minute)) }
	h := MustHarness(t, market.Config{HistoryDays: 1, Session: open})
	h.step(10, 100*time.Millisecond)
	before, _ := h.m.Quote("AAPL")
	h.clk.Add(2 * time.Minute)
	h.step(10, 100*time.Millisecond)
	after, _ := h.m.Quote("AAPL")
	if !reflect.DeepEqual(before, after) {
		t.Fatalf("quote moved while the session was closed: %+v -> %+v", before, after)
	}
}

func TestStartClose(t *testing.T) {
	m, err := market.New(market.Config{HistoryDays: 1, TickInterval: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	sub := m.Subscribe(0)
	m.Start(context.Background())
	m.Start(context.Background()) // no second ticker
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 2000 {
				if _, ok := m.Quote("AAPL"); !ok {
					t.Error("no quote")
					return
				}
				m.LatestTrade("MSFT")
			}
		}()
	}
	got := 0
	for range sub.C() {
		got++
		if got == 200 {
			break
		}
	}
	wg.Wait()
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	for range sub.C() {
	}
	// Reads keep working after Close.
	if _, ok := m.Quote("AAPL"); !ok {
		t.Fatal("no quote after Close")
	}
	if s := m.Subscribe(1); s != nil {
		if _, ok := <-s.C(); ok {
			t.Fatal("subscription after Close is open")
		}
	}
}

func BenchmarkQuoteParallel(b *testing.B) {
	m, err := market.New(market.Config{HistoryDays: 1})
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	syms := []string{"AAPL", "MSFT", "NVDA", "SPY", "TSLA", "QQQ", "JPM", "V"}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { // a busy ticker, as in production
		defer close(done)
		now := time.Now()
		for {
			select {
			case <-stop:
				return
			default:
				now = now.Add(time.Millisecond)
				m.Step(now)
			}
		}
	}()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, ok := m.Quote(syms[i%len(syms)]); !ok {
				b.Fatal("no quote")
			}
			i++
		}
	})
	b.StopTimer()
	close(stop)
	<-done
}
