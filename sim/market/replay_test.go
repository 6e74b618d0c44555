package market_test

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/quantum-alpaca/quantum/alpaca"
	"github.com/quantum-alpaca/quantum/sim/market"
)

func TestQuoteAtClose(t *testing.T) {
	for _, c := range []struct {
		close    float64
		spread   int64
		bid, ask float64
	}{
		{100.00, 1, 99.99, 100.00},
		{100.00, 2, 99.99, 100.01},
		{100.005, 1, 100.00, 100.01}, // a half-penny close: exactly, not via float rounding
		{185.6351, 2, 185.62, 185.64},
		{272.40, 0, 272.39, 272.40}, // a spread under a cent is a cent
		{0.004, 1, 0.01, 0.02},      // never a bid below a cent
		{-1, 1, 0, 0},
	} {
		bid, ask := market.QuoteAtClose(c.close, c.spread)
		if bid != c.bid || ask != c.ask {
			t.Errorf("QuoteAtClose(%v, %d) = %v, %v; want %v, %v", c.close, c.spread, bid, ask, c.bid, c.ask)
		}
	}
	if got := market.RecordedSpread("AAPL", 20); got != 2 {
		t.Errorf("AAPL keeps its listed spread: got %d", got)
	}
	if got, want := market.RecordedSpread("NOTLISTED", 20), int64(1); got != want {
		t.Errorf("unlisted at $20: got %d, want %d", got, want)
	}
	if got, want := market.RecordedSpread("NOTLISTED", 700), int64(9); got != want {
		t.Errorf("unlisted at $700: got %d, want %d", got, want)
	}
}

// recordedBar is a recognizable bar: prices derived from the minute, a
// sub-penny close, a VWAP with more digits than the synthetic market
// rounds to.
func recordedBar(at time.Time, base float64) alpaca.Bar {
	return alpaca.Bar{Timestamp: at, Open: base, High: base + 0.5, Low: base - 0.25, Close: base + 0.1234,
		Volume: 1000 + uint64(at.Minute()), TradeCount: 10, VWAP: base + 0.123456}
}

func TestReplayServesRecordedBarsUpToTheClock(t *testing.T) {
	// AAPL has bars for t0-3m..t0+2m except t0+1m; ZZZ (not listed) has
	// t0-1m and t0+3m.
	var aapl []alpaca.Bar
	for k := -3; k <= 2; k++ {
		if k == 1 {
			continue
		}
		aapl = append(aapl, recordedBar(t0.Add(time.Duration(k)*time.Minute), 200+float64(k)))
	}
	zzz := []alpaca.Bar{recordedBar(t0.Add(-time.Minute), 40), recordedBar(t0.Add(3*time.Minute), 41)}
	h := MustHarness(t, market.Config{Recorded: map[string][]alpaca.Bar{"AAPL": aapl, "ZZZ": zzz}, Auth: onlyKS})

	syms := h.m.Symbols()
	if len(syms) != 2 || syms[0].Symbol != "AAPL" || syms[0].Name == "AAPL" || syms[1].Symbol != "ZZZ" || syms[1].AssetID != market.AssetID("ZZZ") {
		t.Fatalf("universe = %+v", syms)
	}

	// latestBar checks the REST latest bar and the quote it leaves.
	latestIs := func(sym string, want alpaca.Bar) {
		t.Helper()
		var lb struct{ Bar alpaca.Bar }
		h.mustGet(t, "/v2/stocks/"+sym+"/bars/latest", &lb)
		if !reflect.DeepEqual(lb.Bar, want) {
			t.Fatalf("%s latest bar at %s = %+v, want %+v", sym, h.clk.Now().Format(time.TimeOnly), lb.Bar, want)
		}
		q, ok := h.m.Quote(sym)
		bid, ask := market.QuoteAtClose(want.Close, market.RecordedSpread(sym, want.Close))
		if !ok || q.BidPrice != bid || q.AskPrice != ask || !q.Timestamp.Equal(want.Timestamp.Add(time.Minute)) {
			t.Fatalf("%s quote = %+v, want %v/%v at the bar's end", sym, q, bid, ask)
		}
		tr, ok := h.m.LatestTrade(sym)
		if !ok || tr.Price != want.Close || !tr.Timestamp.Before(want.Timestamp.Add(time.Minute)) {
			t.Fatalf("%s latest trade = %+v, want the close %v", sym, tr, want.Close)
		}
	}
	// history checks that nothing after the clock is served, whatever
	// the request's end.
	history := func() {
		t.Helper()
		now := h.clk.Now()
		var bars struct{ Bars map[string][]alpaca.Bar }
		h.mustGet(t, "/v2/stocks/bars?symbols=AAPL,ZZZ&timeframe=1Min&start=2026-03-09T00:00:00Z&end=2026-03-11T00:00:00Z", &bars)
		for sym, list := range bars.Bars {
			rec := map[string][]alpaca.Bar{"AAPL": aapl, "ZZZ": zzz}[sym]
			var want []alpaca.Bar
			for _, b := range rec {
				if !b.Timestamp.Add(time.Minute).After(now) {
					want = append(want, b)
				}
			}
			if !reflect.DeepEqual(list, want) {
				t.Fatalf("%s bars at %s = %+v, want %+v", sym, now.Format(time.TimeOnly), list, want)
			}
		}
		var trades struct{ Trades map[string][]alpaca.Trade }
		h.mustGet(t, "/v2/stocks/trades?symbols=AAPL,ZZZ&start=2026-03-09T00:00:00Z&end=2026-03-11T00:00:00Z&limit=10000", &trades)
		var quotes struct{ Quotes map[string][]alpaca.Quote }
		h.mustGet(t, "/v2/stocks/quotes?symbols=AAPL,ZZZ&start=2026-03-09T00:00:00Z&end=2026-03-11T00:00:00Z&limit=10000", &quotes)
		for sym, list := range trades.Trades {
			for _, tr := range list {
				if !tr.Timestamp.Before(now) {
					t.Fatalf("%s trade at %s after the clock %s", sym, tr.Timestamp, now)
				}
			}
		}
		for sym, list := range quotes.Quotes {
			for _, q := range list {
				if !q.Timestamp.Before(now) {
					t.Fatalf("%s quote at %s after the clock %s", sym, q.Timestamp, now)
				}
			}
		}
		if len(trades.Trades["AAPL"]) == 0 || len(quotes.Quotes["AAPL"]) == 0 {
			t.Fatalf("no AAPL trades or quotes synthesized from its bars")
		}
	}

	h.m.Step(t0.Add(30 * time.Second))
	latestIs("AAPL", aapl[2]) // t0-1m
	latestIs("ZZZ", zzz[0])
	history()

	sub := h.m.Subscribe(16)
	ws := dialStream(t, h, "/v2/sip", false, nil)
	ws.expect(msgConnected)
	ws.send(map[string]any{"action": "auth", "key": "k", "secret": "s"})
	ws.expect(msgAuthenticated)
	ws.send(map[string]any{"action": "subscribe", "bars": []string{"*"}})
	ws.read()

	// t0+1m: AAPL's t0 bar ends; it is published, quoted and streamed.
	h.m.Step(h.clk.Add(time.Minute))
	latestIs("AAPL", aapl[3])
	latestIs("ZZZ", zzz[0])
	history()
	u := <-sub.C()
	if u.Symbol != "AAPL" || u.Quote.BidPrice != mustQuote(t, h, "AAPL").BidPrice {
		t.Fatalf("subscriber got %+v", u)
	}
	msgs := ws.readData()
	if len(msgs) != 1 || msgs[0]["T"] != "b" || msgs[0]["S"] != "AAPL" || msgs[0]["c"] != aapl[3].Close ||
		msgs[0]["vw"] != aapl[3].VWAP || msgs[0]["t"] != aapl[3].Timestamp.Format(time.RFC3339) {
		t.Fatalf("stream at t0+1m: %v", msgs)
	}

	// t0+2m: AAPL has no bar for t0+1m; everything stays.
	h.m.Step(h.clk.Add(time.Minute))
	latestIs("AAPL", aapl[3])
	select {
	case u := <-sub.C():
		t.Fatalf("quote update for a minute without bars: %+v", u)
	default:
	}

	// t0+5m in one step: AAPL's t0+2m and ZZZ's t0+3m are both streamed,
	// in time order.
	h.m.Step(h.clk.Add(3 * time.Minute))
	latestIs("AAPL", aapl[4])
	latestIs("ZZZ", zzz[1])
	history()
	var got []string
	for len(got) < 2 {
		for _, m := range ws.readData() {
			if m["T"] == "b" {
				got = append(got, fmt.Sprint(m["S"], " ", m["t"]))
			}
		}
	}
	if want := []string{"AAPL 2026-03-10T14:32:00Z", "ZZZ 2026-03-10T14:33:00Z"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("streamed bars %v, want %v", got, want)
	}

	// Aggregates come from the recorded values.
	var five struct{ Bars []alpaca.Bar }
	h.mustGet(t, "/v2/stocks/AAPL/bars?timeframe=5Min&start=2026-03-10T14:25:00Z", &five)
	if len(five.Bars) != 2 || five.Bars[0].Close != aapl[2].Close || five.Bars[1].Open != aapl[3].Open || five.Bars[1].High != aapl[4].High {
		t.Fatalf("5Min bars = %+v", five.Bars)
	}
}

func mustQuote(t *testing.T, h *harness, sym string) alpaca.Quote {
	t.Helper()
	q, ok := h.m.Quote(sym)
	if !ok {
		t.Fatalf("no quote for %s", sym)
	}
	return q
}

func TestReplayBeforeTheFirstBar(t *testing.T) {
	h := MustHarness(t, market.Config{Recorded: map[string][]alpaca.Bar{"AAPL": {recordedBar(t0.Add(time.Hour), 200)}}})
	if _, ok := h.m.Quote("AAPL"); ok {
		t.Fatal("a quote before the first recorded bar")
	}
	if st, _ := h.get(t, "/v2/stocks/AAPL/bars/latest", nil); st != 404 {
		t.Fatalf("latest bar before the first: status %d", st)
	}
	if end, ok := h.m.NextBarEnd(t0); !ok || !end.Equal(t0.Add(time.Hour+time.Minute)) {
		t.Fatalf("NextBarEnd = %v, %v", end, ok)
	}
	if _, ok := h.m.NextBarEnd(t0.Add(time.Hour + time.Minute)); ok {
		t.Fatal("NextBarEnd after the last bar")
	}
}

func TestReplayRejectsBadRecordings(t *testing.T) {
	ok := recordedBar(t0, 100)
	for name, c := range map[string]struct {
		bars []alpaca.Bar
		want string
	}{
		"unsorted":      {[]alpaca.Bar{recordedBar(t0.Add(time.Minute), 100), ok}, "not after the bar before"},
		"duplicate":     {[]alpaca.Bar{ok, ok}, "not after the bar before"},
		"off-minute":    {[]alpaca.Bar{recordedBar(t0.Add(time.Second), 100)}, "start of a minute"},
		"zero price":    {[]alpaca.Bar{{Timestamp: t0, Open: 0, High: 1, Low: 0, Close: 1}}, "price 0"},
		"high too low":  {[]alpaca.Bar{{Timestamp: t0, Open: 2, High: 1.5, Low: 1, Close: 1}}, "not within"},
		"negative vwap": {[]alpaca.Bar{{Timestamp: t0, Open: 1, High: 1, Low: 1, Close: 1, VWAP: -1}}, "vwap"},
	} {
		_, err := market.New(market.Config{Now: func() time.Time { return t0 }, Recorded: map[string][]alpaca.Bar{"AAPL": c.bars}})
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "AAPL") {
			t.Errorf("%s: err = %v, want one naming AAPL and %q", name, err, c.want)
		}
	}
}
