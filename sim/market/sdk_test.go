package market_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	sdkalpaca "github.com/alpacahq/alpaca-trade-api-go/v3/alpaca"
	"github.com/alpacahq/alpaca-trade-api-go/v3/marketdata"
	"github.com/alpacahq/alpaca-trade-api-go/v3/marketdata/stream"

	"github.com/quantum-alpaca/quantum/alpaca"
	"github.com/quantum-alpaca/quantum/sim/market"
)

// The official Go SDK is the reference peer: it must work against the
// simulator unchanged.

func sdkClient(h *harness) *marketdata.Client {
	return marketdata.NewClient(marketdata.ClientOpts{APIKey: "k", APISecret: "s", BaseURL: h.srv.URL, RetryLimit: -1})
}

func TestSDKREST(t *testing.T) {
	h := liveHarness(t)
	c := sdkClient(h)
	start := time.Date(2026, 3, 9, 12, 0, 0, 0, time.UTC)
	end := h.clk.Now()

	t.Run("GetBarsPaginated", func(t *testing.T) {
		var want barsPage
		h.mustGet(t, "/v2/stocks/AAPL/bars?timeframe=1Min&limit=10000&start=2026-03-09T12:00:00Z&end="+end.Format(time.RFC3339Nano), &want)
		bars, err := c.GetBars("AAPL", marketdata.GetBarsRequest{TimeFrame: marketdata.OneMin, Start: start, End: end, PageLimit: 250})
		if err != nil {
			t.Fatal(err)
		}
		if len(bars) != len(want.Bars) || len(bars) < 1000 {
			t.Fatalf("SDK got %d bars, REST %d", len(bars), len(want.Bars))
		}
		for i, b := range bars {
			w := want.Bars[i]
			if !b.Timestamp.Equal(w.Timestamp) || b.Open != w.Open || b.High != w.High || b.Low != w.Low || b.Close != w.Close ||
				b.Volume != w.Volume || b.TradeCount != w.TradeCount || b.VWAP != w.VWAP {
				t.Fatalf("bar %d: SDK %+v, REST %+v", i, b, w)
			}
		}
		hours, err := c.GetBars("AAPL", marketdata.GetBarsRequest{TimeFrame: marketdata.NewTimeFrame(1, marketdata.Hour), Start: start, End: end, TotalLimit: 5})
		if err != nil || len(hours) != 5 || hours[1].Timestamp.Sub(hours[0].Timestamp) != time.Hour {
			t.Fatalf("hour bars: %v %+v", err, hours)
		}
	})

	t.Run("GetMultiBars", func(t *testing.T) {
		syms := []string{"MSFT", "AAPL", "NOPE", "SPY"}
		got, err := c.GetMultiBars(syms, marketdata.GetBarsRequest{TimeFrame: marketdata.NewTimeFrame(5, marketdata.Min), Start: start, End: end, PageLimit: 100})
		if err != nil {
			t.Fatal(err)
		}
		var want alpaca.MultiBarsResponse
		h.mustGet(t, "/v2/stocks/bars?symbols=MSFT,AAPL,NOPE,SPY&timeframe=5Min&limit=10000&start=2026-03-09T12:00:00Z&end="+end.Format(time.RFC3339Nano), &want)
		if len(got) != 3 {
			t.Fatalf("symbols %v", len(got))
		}
		for sym, bars := range want.Bars {
			if len(got[sym]) != len(bars) {
				t.Fatalf("%s: SDK %d bars, REST %d", sym, len(got[sym]), len(bars))
			}
		}
		days, err := c.GetMultiBars([]string{"AAPL", "SPY"}, marketdata.GetBarsRequest{Start: start.AddDate(0, 0, -3)})
		if err != nil || len(days["AAPL"]) != 3 { // default timeframe 1Day: Mar 8 (history start) to Mar 10
			t.Fatalf("daily: %v %d", err, len(days["AAPL"]))
		}
	})

	t.Run("GetTradesAndQuotes", func(t *testing.T) {
		from := time.Date(2026, 3, 10, 14, 0, 0, 0, time.UTC)
		trades, err := c.GetTrades("NVDA", marketdata.GetTradesRequest{Start: from, End: end, PageLimit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		var want tradesPage
		h.mustGet(t, "/v2/stocks/NVDA/trades?limit=10000&start=2026-03-10T14:00:00Z&end="+end.Format(time.RFC3339Nano), &want)
		if len(trades) != len(want.Trades) || len(trades) < 2000 {
			t.Fatalf("SDK %d trades, REST %d", len(trades), len(want.Trades))
		}
		for i, tr := range trades {
			w := want.Trades[i]
			if tr.ID != w.ID || tr.Price != w.Price || tr.Size != w.Size || !tr.Timestamp.Equal(w.Timestamp) || tr.Exchange != w.Exchange || tr.Tape != w.Tape {
				t.Fatalf("trade %d: SDK %+v, REST %+v", i, tr, w)
			}
		}
		multi, err := c.GetMultiTrades([]string{"F", "T"}, marketdata.GetTradesRequest{Start: from, End: end, TotalLimit: 1500, PageLimit: 400})
		if err != nil || len(multi["F"])+len(multi["T"]) != 1500 {
			t.Fatalf("multi trades: %v, %d + %d", err, len(multi["F"]), len(multi["T"]))
		}
		quotes, err := c.GetQuotes("AAPL", marketdata.GetQuotesRequest{Start: end.Add(-time.Minute), End: end, Sort: marketdata.SortDesc, PageLimit: 128})
		if err != nil || len(quotes) != 601 { // one per tick, both ends inclusive
			t.Fatalf("quotes: %v, %d", err, len(quotes))
		}
		if !quotes[0].Timestamp.Equal(end) || quotes[0].BidPrice >= quotes[0].AskPrice {
			t.Fatalf("newest quote %+v", quotes[0])
		}
	})

	t.Run("Latest", func(t *testing.T) {
		bar, err := c.GetLatestBar("AAPL", marketdata.GetLatestBarRequest{})
		want, _ := h.m.LatestBar("AAPL")
		if err != nil || bar == nil || !bar.Timestamp.Equal(want.Timestamp) || bar.Close != want.Close {
			t.Fatalf("latest bar: %v %+v", err, bar)
		}
		trade, err := c.GetLatestTrade("AAPL", marketdata.GetLatestTradeRequest{Feed: marketdata.IEX})
		wt, _ := h.m.LatestTrade("AAPL")
		if err != nil || trade == nil || trade.ID != wt.ID || trade.Price != wt.Price {
			t.Fatalf("latest trade: %v %+v", err, trade)
		}
		quote, err := c.GetLatestQuote("AAPL", marketdata.GetLatestQuoteRequest{})
		wq, _ := h.m.Quote("AAPL")
		if err != nil || quote == nil || quote.BidPrice != wq.BidPrice || quote.AskSize != wq.AskSize {
			t.Fatalf("latest quote: %v %+v", err, quote)
		}
		if q, err := c.GetLatestQuote("NOPE", marketdata.GetLatestQuoteRequest{}); err != nil || q != nil {
			t.Fatalf("unknown symbol: %v %+v", err, q)
		}
	})

	t.Run("Snapshots", func(t *testing.T) {
		snap, err := c.GetSnapshot("SPY", marketdata.GetSnapshotRequest{})
		if err != nil || snap == nil || snap.LatestTrade == nil || snap.LatestQuote == nil || snap.MinuteBar == nil || snap.DailyBar == nil || snap.PrevDailyBar == nil {
			t.Fatalf("snapshot: %v %+v", err, snap)
		}
		snaps, err := c.GetSnapshots([]string{"AAPL", "MSFT", "NOPE"}, marketdata.GetSnapshotRequest{})
		if err != nil || len(snaps) != 2 || snaps["MSFT"] == nil || snaps["MSFT"].DailyBar.Volume == 0 {
			t.Fatalf("snapshots: %v %v", err, snaps)
		}
	})

	t.Run("Errors", func(t *testing.T) {
		_, err := c.GetBars("AAPL", marketdata.GetBarsRequest{TimeFrame: marketdata.NewTimeFrame(90, marketdata.Min)})
		var apiErr *sdkalpaca.APIError
		if !errors.As(err, &apiErr) || apiErr.StatusCode != 400 || apiErr.Message != "invalid timeframe" {
			t.Fatalf("got %v", err)
		}
	})
}

func TestSDKStream(t *testing.T) {
	h := MustHarness(t, market.Config{HistoryDays: 1, Auth: onlyKS})
	var mu sync.Mutex
	var trades []stream.Trade
	var quotes []stream.Quote
	var bars []stream.Bar
	got := make(chan struct{}, 1) // a message arrived
	notify := func() {
		select {
		case got <- struct{}{}:
		default:
		}
	}
	c := stream.NewStocksClient(marketdata.IEX,
		stream.WithBaseURL(h.srv.URL+"/v2"),
		stream.WithCredentials("k", "s"),
		stream.WithLogger(stream.ErrorOnlyLogger()),
		stream.WithTrades(func(tr stream.Trade) { mu.Lock(); trades = append(trades, tr); mu.Unlock(); notify() }, "AAPL", "MSFT"),
		stream.WithQuotes(func(q stream.Quote) { mu.Lock(); quotes = append(quotes, q); mu.Unlock(); notify() }, "AAPL"),
		stream.WithBars(func(b stream.Bar) { mu.Lock(); bars = append(bars, b); mu.Unlock(); notify() }, "*"),
	)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := c.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	// The market moves in bursts well inside the server's StreamBuffer, and
	// a burst starts only once the client has read the previous one (every
	// tick quotes AAPL): however slowly the SDK decodes under -race and
	// load, it never falls far enough behind to be dropped as a slow
	// client. Bars arrive when the stepping crosses a minute (600 ticks).
	const burst, maxBursts = 50, 40
	readTo := func(end time.Time) bool {
		mu.Lock()
		defer mu.Unlock()
		return len(quotes) > 0 && !quotes[len(quotes)-1].Timestamp.Before(end)
	}
	timeout := time.NewTimer(30 * time.Second) // a safety net only
	defer timeout.Stop()
	for i := 0; ; i++ {
		mu.Lock()
		done := len(trades) > 5 && len(quotes) > 50 && len(bars) >= len(h.m.Symbols())-1
		if !done && i == maxBursts {
			t.Fatalf("after %d ticks: %d trades, %d quotes, %d bars", burst*maxBursts, len(trades), len(quotes), len(bars))
		}
		mu.Unlock()
		if done {
			break
		}
		h.step(burst, 100*time.Millisecond)
		for end := h.clk.Now(); !readTo(end); {
			select {
			case <-got:
			case <-timeout.C:
				t.Fatalf("the client has not read the quote of %v after 30s", end)
			}
		}
	}
	mu.Lock()
	for _, tr := range trades {
		if (tr.Symbol != "AAPL" && tr.Symbol != "MSFT") || tr.Price <= 0 || tr.Size == 0 || tr.ID == 0 || tr.Timestamp.IsZero() || tr.Tape != "C" {
			t.Fatalf("trade %+v", tr)
		}
	}
	for _, q := range quotes {
		if q.Symbol != "AAPL" || q.BidPrice >= q.AskPrice || q.BidSize == 0 || q.Timestamp.Before(t0) {
			t.Fatalf("quote %+v", q)
		}
	}
	for _, b := range bars {
		if b.Symbol == market.TestSymbol || b.Volume == 0 || b.High < b.Low || b.Timestamp.Second() != 0 {
			t.Fatalf("bar %+v", b)
		}
	}
	mu.Unlock()

	// Subscription changes go through the same connection.
	if err := c.UnsubscribeFromQuotes("AAPL"); err != nil {
		t.Fatal(err)
	}
	cancel()
	select {
	case err := <-c.Terminated():
		if err != nil && !errors.Is(err, context.Canceled) {
			t.Fatalf("terminated with %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("client did not terminate")
	}
}

func TestSDKStreamTestFeed(t *testing.T) {
	h := MustHarness(t, market.Config{HistoryDays: 1})
	got := make(chan stream.Quote, 100)
	c := stream.NewStocksClient("test",
		stream.WithBaseURL(h.srv.URL+"/v2"),
		stream.WithCredentials("any", "thing"),
		stream.WithLogger(stream.ErrorOnlyLogger()),
		stream.WithQuotes(func(q stream.Quote) {
			select {
			case got <- q:
			default:
			}
		}, market.TestSymbol),
	)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := c.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	h.step(3, 100*time.Millisecond)
	select {
	case q := <-got:
		if q.Symbol != market.TestSymbol {
			t.Fatalf("quote %+v", q)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no FAKEPACA quote")
	}
}

func TestSDKStreamBadCredentials(t *testing.T) {
	h := MustHarness(t, market.Config{HistoryDays: 1, Auth: onlyKS})
	c := stream.NewStocksClient(marketdata.SIP,
		stream.WithBaseURL(h.srv.URL+"/v2"),
		stream.WithCredentials("k", "wrong"),
		stream.WithLogger(stream.ErrorOnlyLogger()),
		stream.WithTrades(func(stream.Trade) {}, "AAPL"),
	)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := c.Connect(ctx); !errors.Is(err, stream.ErrInvalidCredentials) {
		t.Fatalf("Connect: %v, want auth failed", err)
	}
}
