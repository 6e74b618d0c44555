package market_test

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/quantum-alpaca/quantum/alpaca"
	"github.com/quantum-alpaca/quantum/sim/market"
)

// lazyHarness is a market on the whole default universe (the S&P 500 and
// the ETFs are Lazy).
func lazyHarness(t *testing.T, seed int64, cache int) *harness {
	t.Helper()
	return MustHarness(t, market.Config{Seed: seed, Universe: market.DefaultUniverse(), SeriesCache: cache})
}

// state is everything the market says about symbol: its bars since the
// history began, its latest prints, and a minute of synthesized trades.
func state(t *testing.T, h *harness, symbol string) string {
	t.Helper()
	var bars struct{ Bars []alpaca.Bar }
	h.mustGet(t, "/v2/stocks/"+symbol+"/bars?timeframe=1Min&limit=10000&start=2026-03-01T00:00:00Z", &bars)
	var trades struct{ Trades []alpaca.Trade }
	h.mustGet(t, "/v2/stocks/"+symbol+"/trades?limit=100&start=2026-03-09T15:00:00Z&end=2026-03-09T15:01:00Z", &trades)
	q, _ := h.m.Quote(symbol)
	tr, _ := h.m.LatestTrade(symbol)
	return fmt.Sprint(bars.Bars, trades.Trades, q, tr)
}

// A Lazy symbol's series is a function of the seed, the symbol and the
// clock: whatever is asked for first, and whenever a symbol is first used,
// two markets with the same seed say the same about it; and a series
// dropped from the cache comes back the same.
func TestLazySeriesOrderIndependent(t *testing.T) {
	syms := []string{"GE", "ZTS", "XLF", "BF.B"}
	// a asks in one order as the clock goes; b uses everything at once,
	// at the start, in the reverse order, with a cache of one.
	a, b := lazyHarness(t, 5, 0), lazyHarness(t, 5, 1)
	for i := len(syms) - 1; i >= 0; i-- {
		state(t, b, syms[i])
	}
	for k, s := range syms {
		state(t, a, s)
		a.step(1, time.Minute)
		b.step(1, time.Minute)
		if k == 1 {
			a.step(90, 20*time.Second) // half an hour in small steps
			b.step(1, 30*time.Minute)  // in one
		}
	}
	for _, s := range syms {
		if sa, sb := state(t, a, s), state(t, b, s); sa != sb {
			t.Errorf("%s differs between the two markets", s)
		}
	}
	if c := lazyHarness(t, 6, 0); state(t, c, "GE") == state(t, lazyHarness(t, 5, 0), "GE") {
		t.Error("GE is the same under another seed")
	}
}

// Only symbols in use move: the Lazy ones cost nothing until a quote,
// a trade, a snapshot or a stream subscription needs them, and then their
// quote is the last minute's close, moving once a minute.
func TestLazySymbolWakesOnUse(t *testing.T) {
	h := lazyHarness(t, 8, 0)
	live := len(liveUniverse())
	if n := len(h.m.ActiveSymbols()); n != live {
		t.Fatalf("%d active symbols before any use, want the %d live ones", n, live)
	}
	var bars struct{ Bars map[string][]alpaca.Bar }
	h.mustGet(t, "/v2/stocks/bars?symbols=GE,ZTS&timeframe=1Day&start=2026-03-01T00:00:00Z", &bars)
	if len(bars.Bars["GE"]) == 0 || len(bars.Bars["ZTS"]) == 0 || len(h.m.ActiveSymbols()) != live {
		t.Fatalf("history of GE and ZTS: %d and %d days, %d active", len(bars.Bars["GE"]), len(bars.Bars["ZTS"]), len(h.m.ActiveSymbols()))
	}

	sub := h.m.Subscribe(0)
	defer sub.Close()
	q0, ok := h.m.Quote("GE")
	if !ok || !slices.Contains(h.m.ActiveSymbols(), "GE") {
		t.Fatalf("GE has no quote or is not active after use: %v", ok)
	}
	last, _ := h.m.LatestBar("GE")
	if !(q0.BidPrice <= last.Close && last.Close <= q0.AskPrice && q0.BidPrice < q0.AskPrice) {
		t.Errorf("quote %v/%v does not straddle the last close %v", q0.BidPrice, q0.AskPrice, last.Close)
	}
	h.step(5, 10*time.Second) // inside the minute: no new bar
	if q, _ := h.m.Quote("GE"); !reflect.DeepEqual(q, q0) {
		t.Errorf("GE's quote moved inside a minute: %+v, then %+v", q0, q)
	}
	h.step(1, time.Minute)
	q1, _ := h.m.Quote("GE")
	if !q1.Timestamp.After(q0.Timestamp) {
		t.Errorf("GE's quote did not move with the minute: %s, then %s", q0.Timestamp, q1.Timestamp)
	}
	var got *alpaca.Quote
	for got == nil {
		select {
		case u := <-sub.C():
			if u.Symbol == "GE" {
				got = &u.Quote
			}
		default:
			t.Fatal("no update of GE reached the subscriber")
		}
	}
	if !reflect.DeepEqual(*got, q1) {
		t.Errorf("update %+v, Quote %+v", *got, q1)
	}
	if slices.Contains(h.m.ActiveSymbols(), "ZTS") {
		t.Error("ZTS, only read for history, follows the clock")
	}
}

// Unknown symbols get what Alpaca answers: nothing in the multi-symbol
// maps, 404 from the single-symbol latest endpoints, empty bars.
func TestLazyUnknownSymbols(t *testing.T) {
	h := lazyHarness(t, 1, 0)
	var bars struct{ Bars map[string][]alpaca.Bar }
	h.mustGet(t, "/v2/stocks/bars?symbols=NOPE,GE&timeframe=1Min&limit=5", &bars)
	if _, ok := bars.Bars["NOPE"]; ok || len(bars.Bars["GE"]) != 5 {
		t.Errorf("bars: %v", bars.Bars)
	}
	var latest struct{ Quotes map[string]alpaca.Quote }
	h.mustGet(t, "/v2/stocks/quotes/latest?symbols=NOPE,GE", &latest)
	if _, ok := latest.Quotes["NOPE"]; ok || latest.Quotes["GE"].AskPrice == 0 {
		t.Errorf("latest quotes: %v", latest.Quotes)
	}
	if code, _ := h.get(t, "/v2/stocks/NOPE/trades/latest", nil); code != http.StatusNotFound {
		t.Errorf("latest trade of an unknown symbol: %d", code)
	}
	var one struct{ Bars []alpaca.Bar }
	h.mustGet(t, "/v2/stocks/NOPE/bars?timeframe=1Min", &one)
	if len(one.Bars) != 0 {
		t.Errorf("bars of an unknown symbol: %v", one.Bars)
	}
}

// Clients reading Lazy symbols at random while the clock moves: nothing
// races, and every symbol ends where a market that nobody else read ends.
func TestLazyConcurrentReaders(t *testing.T) {
	h := lazyHarness(t, 4, 8)
	syms := []string{"GE", "ZTS", "XLF", "BF.B", "MMM", "KO", "CAT", "DE", "VOO", "TLT", "HYG", "GLD"}
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 2))
			for range 20 {
				s := syms[rng.IntN(len(syms))]
				switch rng.IntN(4) {
				case 0:
					h.m.Quote(s)
				case 1:
					h.m.Snapshot(s)
				case 2:
					h.get(t, "/v2/stocks/"+s+"/bars?timeframe=5Min&limit=50", nil)
				default:
					h.get(t, "/v2/stocks/"+s+"/trades?limit=50", nil)
				}
			}
		}()
	}
	for range 10 {
		h.step(1, 30*time.Second)
	}
	wg.Wait()
	quiet := lazyHarness(t, 4, 0)
	quiet.step(10, 30*time.Second)
	for _, s := range syms {
		if state(t, h, s) != state(t, quiet, s) {
			t.Errorf("%s differs from a market nobody else read", s)
		}
	}
}

// A stream subscription wakes a Lazy symbol: each minute it gets the
// minute's closing print, quote, bar and the day's bar so far, the same
// bars REST serves.
func TestLazyStream(t *testing.T) {
	h := MustHarness(t, market.Config{Seed: 2, Universe: market.DefaultUniverse(), Auth: onlyKS, StreamBuffer: 1024})
	c := dialStream(t, h, "/v2/iex", false, nil)
	c.expect(msgConnected)
	c.send(map[string]any{"action": "auth", "key": "k", "secret": "s"})
	c.expect(msgAuthenticated)
	c.send(map[string]any{"action": "subscribe", "trades": []string{"GE"}, "quotes": []string{"GE"}, "bars": []string{"GE"}, "dailyBars": []string{"GE"}})
	c.read() // the subscription
	for round := range 2 {
		h.step(1, time.Minute)
		got := map[string]map[string]any{}
		for len(got) < 4 {
			for _, msg := range c.readData() {
				if msg["S"] != "GE" {
					t.Fatalf("unsubscribed %v", msg)
				}
				got[msg["T"].(string)] = msg
			}
		}
		var rest struct {
			Bars map[string][]alpaca.Bar
		}
		h.mustGet(t, "/v2/stocks/bars?symbols=GE&timeframe=1Min&limit=1&sort=desc", &rest)
		var daily struct {
			Bars map[string][]alpaca.Bar
		}
		h.mustGet(t, "/v2/stocks/bars?symbols=GE&timeframe=1Day&limit=1&sort=desc", &daily)
		if b, want := got["b"], rest.Bars["GE"][0]; b["c"] != want.Close || b["o"] != want.Open || b["v"] != float64(want.Volume) {
			t.Errorf("round %d: streamed bar %v, REST %+v", round, b, want)
		}
		if d, want := got["d"], daily.Bars["GE"][0]; d["c"] != want.Close || d["h"] != want.High || d["l"] != want.Low || d["v"] != float64(want.Volume) || d["vw"] != want.VWAP {
			t.Errorf("round %d: streamed daily bar %v, REST %+v", round, d, want)
		}
		q, _ := h.m.Quote("GE")
		if got["q"]["bp"] != q.BidPrice || got["q"]["ap"] != q.AskPrice {
			t.Errorf("round %d: streamed quote %v, Quote %+v", round, got["q"], q)
		}
	}
}
