package market_test

import (
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quantum-alpaca/quantum/alpaca"
	"github.com/quantum-alpaca/quantum/sim/market"
)

type barsPage struct {
	Symbol        string       `json:"symbol"`
	Bars          []alpaca.Bar `json:"bars"`
	NextPageToken *string      `json:"next_page_token"`
}

type tradesPage struct {
	Symbol        string         `json:"symbol"`
	Trades        []alpaca.Trade `json:"trades"`
	NextPageToken *string        `json:"next_page_token"`
}

type quotesPage struct {
	Symbol        string         `json:"symbol"`
	Quotes        []alpaca.Quote `json:"quotes"`
	NextPageToken *string        `json:"next_page_token"`
}

// liveHarness is a market that has run three live minutes after two days
// of history.
func liveHarness(t *testing.T) *harness {
	h := MustHarness(t, market.Config{Seed: 1})
	h.step(1800, 100*time.Millisecond)
	return h
}

func TestBars(t *testing.T) {
	h := liveHarness(t)

	t.Run("MultiPaginationWalk", func(t *testing.T) {
		base := "/v2/stocks/bars?symbols=SPY,AAPL,NOPE,MSFT&timeframe=1Min&start=2026-03-09T13:00:00Z&end=2026-03-10T14:40:00Z"
		var all alpaca.MultiBarsResponse
		h.mustGet(t, base+"&limit=10000", &all)
		if all.NextPageToken != nil {
			t.Fatal("a 10000 page should hold everything")
		}
		if _, ok := all.Bars["NOPE"]; ok {
			t.Fatal("unknown symbol has bars")
		}
		got := map[string][]alpaca.Bar{}
		var order []string
		token, pages := "", 0
		for {
			p := base + "&limit=777"
			if token != "" {
				p += "&page_token=" + url.QueryEscape(token)
			}
			var page alpaca.MultiBarsResponse
			h.mustGet(t, p, &page)
			pages++
			n := 0
			for sym, bars := range page.Bars {
				got[sym] = append(got[sym], bars...)
				n += len(bars)
				if len(order) == 0 || order[len(order)-1] != sym {
					order = append(order, sym)
				}
			}
			if page.NextPageToken == nil {
				break
			}
			if n != 777 {
				t.Fatalf("page %d has %d bars, want the limit", pages, n)
			}
			token = *page.NextPageToken
		}
		if !reflect.DeepEqual(got, all.Bars) {
			t.Fatal("pages do not add up to the single response")
		}
		if pages < 3 {
			t.Fatalf("only %d pages", pages)
		}
		for sym, bars := range all.Bars {
			for i := 1; i < len(bars); i++ {
				if !bars[i].Timestamp.After(bars[i-1].Timestamp) {
					t.Fatalf("%s bars out of order at %d", sym, i)
				}
			}
		}
		if len(all.Bars["AAPL"]) < 1500 {
			t.Fatalf("AAPL has %d minute bars over 25 hours", len(all.Bars["AAPL"]))
		}
	})

	t.Run("SortDesc", func(t *testing.T) {
		var asc, desc barsPage
		h.mustGet(t, "/v2/stocks/AAPL/bars?timeframe=15Min&start=2026-03-09", &asc)
		h.mustGet(t, "/v2/stocks/AAPL/bars?timeframe=15Min&start=2026-03-09&sort=desc", &desc)
		if len(asc.Bars) == 0 || len(asc.Bars) != len(desc.Bars) {
			t.Fatalf("asc %d bars, desc %d", len(asc.Bars), len(desc.Bars))
		}
		for i := range asc.Bars {
			if !reflect.DeepEqual(asc.Bars[i], desc.Bars[len(desc.Bars)-1-i]) {
				t.Fatalf("bar %d differs between asc and desc", i)
			}
		}
		// Walking desc pages gives the same sequence.
		var walked []alpaca.Bar
		token := ""
		for {
			p := "/v2/stocks/AAPL/bars?timeframe=15Min&start=2026-03-09&sort=desc&limit=7"
			if token != "" {
				p += "&page_token=" + url.QueryEscape(token)
			}
			var page barsPage
			h.mustGet(t, p, &page)
			walked = append(walked, page.Bars...)
			if page.NextPageToken == nil {
				break
			}
			token = *page.NextPageToken
		}
		if !reflect.DeepEqual(walked, desc.Bars) {
			t.Fatal("desc pagination walk differs")
		}
	})

	t.Run("Aggregation", func(t *testing.T) {
		var minutes barsPage
		h.mustGet(t, "/v2/stocks/MSFT/bars?timeframe=1Min&start=2026-03-08T00:00:00Z&limit=10000", &minutes)
		for _, tf := range []struct {
			spec string
			size time.Duration
		}{{"5Min", 5 * time.Minute}, {"7T", 7 * time.Minute}, {"1Hour", time.Hour}, {"4H", 4 * time.Hour}} {
			var agg barsPage
			h.mustGet(t, "/v2/stocks/MSFT/bars?limit=10000&start=2026-03-08T00:00:00Z&timeframe="+tf.spec, &agg)
			want := aggregateBars(t, minutes.Bars, tf.size)
			// The first bucket may start before the window; drop it from
			// want when the server (correctly) omitted it.
			if len(want) > 0 && len(agg.Bars) > 0 && want[0].Timestamp.Before(agg.Bars[0].Timestamp) {
				want = want[1:]
			}
			if len(agg.Bars) != len(want) {
				t.Fatalf("%s: got %d bars, want %d", tf.spec, len(agg.Bars), len(want))
			}
			for i := range want {
				g, w := agg.Bars[i], want[i]
				if !g.Timestamp.Equal(w.Timestamp) || g.Open != w.Open || g.High != w.High || g.Low != w.Low ||
					g.Close != w.Close || g.Volume != w.Volume || g.TradeCount != w.TradeCount {
					t.Fatalf("%s bar %d: got %+v, want %+v", tf.spec, i, g, w)
				}
				if g.VWAP < g.Low-0.0001 || g.VWAP > g.High+0.0001 {
					t.Fatalf("%s bar %d: vwap %v outside [%v, %v]", tf.spec, i, g.VWAP, g.Low, g.High)
				}
			}
		}
	})

	t.Run("DailyWeeklyMonthly", func(t *testing.T) {
		var days barsPage
		h.mustGet(t, "/v2/stocks/AAPL/bars?timeframe=1Day&start=2026-03-01", &days)
		if len(days.Bars) != 3 { // history covers Mar 8-10 (two days back from Mar 10 10:30 ET)
			t.Fatalf("got %d daily bars: %+v", len(days.Bars), days.Bars)
		}
		for _, b := range days.Bars {
			et := b.Timestamp.In(mustNY(t))
			if et.Hour() != 0 || et.Minute() != 0 {
				t.Fatalf("daily bar at %v is not New York midnight", b.Timestamp)
			}
		}
		var alias barsPage
		h.mustGet(t, "/v2/stocks/AAPL/bars?timeframe=1D&start=2026-03-01", &alias)
		if !reflect.DeepEqual(alias.Bars, days.Bars) {
			t.Fatal("1D differs from 1Day")
		}
		var week, month barsPage
		h.mustGet(t, "/v2/stocks/AAPL/bars?timeframe=1Week&start=2026-03-01", &week)
		h.mustGet(t, "/v2/stocks/AAPL/bars?timeframe=1Month&start=2026-03-01", &month)
		if len(week.Bars) != 2 || len(month.Bars) != 1 {
			t.Fatalf("weeks %d, months %d", len(week.Bars), len(month.Bars))
		}
		if got := week.Bars[1].Timestamp.In(mustNY(t)); got.Weekday() != time.Monday {
			t.Fatalf("week starts on %v", got.Weekday())
		}
		var vol uint64
		for _, d := range days.Bars {
			vol += d.Volume
		}
		if month.Bars[0].Volume != vol {
			t.Fatalf("month volume %d, sum of days %d", month.Bars[0].Volume, vol)
		}
	})

	t.Run("JSONShape", func(t *testing.T) {
		body := h.mustGet(t, "/v2/stocks/AAPL/bars?timeframe=1Min&limit=1", nil)
		var raw struct {
			Symbol string                       `json:"symbol"`
			Bars   []map[string]json.RawMessage `json:"bars"`
			Next   json.RawMessage              `json:"next_page_token"`
		}
		if err := json.Unmarshal(body, &raw); err != nil {
			t.Fatal(err)
		}
		if raw.Symbol != "AAPL" || len(raw.Bars) != 1 {
			t.Fatalf("body %s", body)
		}
		for _, k := range []string{"t", "o", "h", "l", "c", "v", "n", "vw"} {
			v, ok := raw.Bars[0][k]
			if !ok {
				t.Fatalf("bar lacks %q: %s", k, body)
			}
			if k != "t" && v[0] == '"' {
				t.Fatalf("%q is a string: %s", k, body)
			}
		}
		if ts := string(raw.Bars[0]["t"]); !strings.HasSuffix(ts, `:00Z"`) {
			t.Fatalf("timestamp %s is not RFC 3339 UTC on the minute", ts)
		}
		if string(raw.Next) == "null" {
			t.Fatal("limit=1 over a full day gave no next page")
		}
	})

	t.Run("UnknownSymbol", func(t *testing.T) {
		var single barsPage
		body := h.mustGet(t, "/v2/stocks/NOPE/bars?timeframe=1Min", &single)
		if !strings.Contains(string(body), `"bars":[]`) || single.NextPageToken != nil {
			t.Fatalf("body %s", body)
		}
		body = h.mustGet(t, "/v2/stocks/bars?symbols=NOPE&timeframe=1Min", nil)
		if string(body) != `{"bars":{},"next_page_token":null}` {
			t.Fatalf("body %s", body)
		}
	})

	t.Run("DefaultWindowIsToday", func(t *testing.T) {
		var page barsPage
		h.mustGet(t, "/v2/stocks/SPY/bars?timeframe=1Min&limit=10000", &page)
		midnight := time.Date(2026, 3, 10, 0, 0, 0, 0, mustNY(t))
		if len(page.Bars) == 0 || page.Bars[0].Timestamp.Before(midnight) || page.Bars[len(page.Bars)-1].Timestamp.After(h.clk.Now()) {
			t.Fatalf("default window: %d bars from %v", len(page.Bars), page.Bars[0].Timestamp)
		}
	})
}

// aggregateBars buckets minute bars by size counted from New York
// midnight, as an independent model of the server's aggregation.
func aggregateBars(t *testing.T, minutes []alpaca.Bar, size time.Duration) []alpaca.Bar {
	ny := mustNY(t)
	var out []alpaca.Bar
	for _, b := range minutes {
		et := b.Timestamp.In(ny)
		mid := time.Date(et.Year(), et.Month(), et.Day(), 0, 0, 0, 0, ny)
		start := mid.Add(b.Timestamp.Sub(mid) / size * size).UTC()
		if n := len(out); n > 0 && out[n-1].Timestamp.Equal(start) {
			last := &out[n-1]
			last.High = max(last.High, b.High)
			last.Low = min(last.Low, b.Low)
			last.Close = b.Close
			last.Volume += b.Volume
			last.TradeCount += b.TradeCount
			continue
		}
		b.Timestamp = start
		out = append(out, b)
	}
	return out
}

func mustNY(t *testing.T) *time.Location {
	loc, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func TestTradesAndQuotes(t *testing.T) {
	h := liveHarness(t)

	t.Run("TradesMatchBars", func(t *testing.T) {
		// One synthesized history hour and the live minutes.
		for _, w := range [][2]string{
			{"2026-03-09T15:00:00Z", "2026-03-09T15:59:59.999999999Z"},
			{"2026-03-10T14:30:00Z", "2026-03-10T14:32:59.999999999Z"},
		} {
			var bars barsPage
			var trades tradesPage
			q := "start=" + w[0] + "&end=" + w[1] + "&limit=10000"
			h.mustGet(t, "/v2/stocks/NVDA/bars?timeframe=1Min&"+q, &bars)
			h.mustGet(t, "/v2/stocks/NVDA/trades?"+q, &trades)
			if trades.NextPageToken != nil {
				t.Fatal("window needs more than one page")
			}
			byMinute := map[time.Time][]alpaca.Trade{}
			for _, tr := range trades.Trades {
				byMinute[tr.Timestamp.Truncate(time.Minute)] = append(byMinute[tr.Timestamp.Truncate(time.Minute)], tr)
			}
			if len(bars.Bars) == 0 {
				t.Fatalf("no bars in %v", w)
			}
			for _, b := range bars.Bars {
				ts := byMinute[b.Timestamp]
				if uint64(len(ts)) != b.TradeCount {
					t.Fatalf("%v: %d trades, bar says %d", b.Timestamp, len(ts), b.TradeCount)
				}
				var vol uint64
				hi, lo := 0.0, 1e18
				for _, tr := range ts {
					vol += uint64(tr.Size)
					hi, lo = max(hi, tr.Price), min(lo, tr.Price)
				}
				if vol != b.Volume || ts[0].Price != b.Open || ts[len(ts)-1].Price != b.Close || hi != b.High || lo != b.Low {
					t.Fatalf("%v: trades (o %v h %v l %v c %v v %d) disagree with bar %+v",
						b.Timestamp, ts[0].Price, hi, lo, ts[len(ts)-1].Price, vol, b)
				}
			}
			for i := 1; i < len(trades.Trades); i++ {
				if trades.Trades[i].Timestamp.Before(trades.Trades[i-1].Timestamp) {
					t.Fatal("trades out of order")
				}
				if trades.Trades[i].ID == trades.Trades[i-1].ID {
					t.Fatal("duplicate trade id")
				}
			}
		}
	})

	t.Run("PaginationWalk", func(t *testing.T) {
		base := "/v2/stocks/trades?symbols=TSLA,F&start=2026-03-10T14:00:00Z"
		var all alpaca.MultiTradesResponse
		h.mustGet(t, base+"&limit=10000", &all)
		if all.NextPageToken != nil || len(all.Trades["TSLA"]) == 0 || len(all.Trades["F"]) == 0 {
			t.Fatalf("single page: next %v, %d TSLA, %d F", all.NextPageToken, len(all.Trades["TSLA"]), len(all.Trades["F"]))
		}
		for _, sort := range []string{"asc", "desc"} {
			got := map[string][]alpaca.Trade{}
			token := ""
			for {
				p := base + "&limit=333&sort=" + sort
				if token != "" {
					p += "&page_token=" + url.QueryEscape(token)
				}
				var page alpaca.MultiTradesResponse
				h.mustGet(t, p, &page)
				for sym, trs := range page.Trades {
					got[sym] = append(got[sym], trs...)
				}
				if page.NextPageToken == nil {
					break
				}
				token = *page.NextPageToken
			}
			for sym, want := range all.Trades {
				g := got[sym]
				if sort == "desc" {
					for i, j := 0, len(g)-1; i < j; i, j = i+1, j-1 {
						g[i], g[j] = g[j], g[i]
					}
				}
				if !reflect.DeepEqual(g, want) {
					t.Fatalf("%s %s: walk gave %d trades, single page %d", sort, sym, len(g), len(want))
				}
			}
		}
	})

	t.Run("Quotes", func(t *testing.T) {
		var page quotesPage
		h.mustGet(t, "/v2/stocks/AAPL/quotes?start=2026-03-09T16:00:00Z&end=2026-03-10T14:33:00Z&limit=10000", &page)
		if len(page.Quotes) != 10000 || page.NextPageToken == nil {
			t.Fatalf("got %d quotes, next %v", len(page.Quotes), page.NextPageToken)
		}
		for i, q := range page.Quotes {
			if !(q.BidPrice >= 1 && q.BidPrice < q.AskPrice) || !onGrid(q.BidPrice) || !onGrid(q.AskPrice) || q.BidSize == 0 {
				t.Fatalf("bad quote %+v", q)
			}
			if i > 0 && q.Timestamp.Before(page.Quotes[i-1].Timestamp) {
				t.Fatal("quotes out of order")
			}
		}
		var multi alpaca.MultiQuotesResponse
		h.mustGet(t, "/v2/stocks/quotes?symbols=AAPL,SPY&start=2026-03-10T14:31:00Z&end=2026-03-10T14:31:59.999Z", &multi)
		if len(multi.Quotes["AAPL"]) != 600 || len(multi.Quotes["SPY"]) != 400 {
			// one live quote per tick: 600 in a minute, the rest cut by the limit
			t.Fatalf("AAPL %d, SPY %d quotes", len(multi.Quotes["AAPL"]), len(multi.Quotes["SPY"]))
		}
	})

	t.Run("RingEviction", func(t *testing.T) {
		// A small ring forces live minutes back onto synthesis; bars and
		// trades must stay consistent across the switch.
		h := MustHarness(t, market.Config{Seed: 3, RecentTicks: 1024, Universe: market.DefaultUniverse()[:2]})
		h.step(3000, 100*time.Millisecond) // 5 minutes, ring holds ~1.7
		var bars barsPage
		var trades tradesPage
		q := "start=2026-03-10T14:30:00Z&end=2026-03-10T14:34:59.999999999Z&limit=10000"
		h.mustGet(t, "/v2/stocks/AAPL/bars?timeframe=1Min&"+q, &bars)
		h.mustGet(t, "/v2/stocks/AAPL/trades?"+q, &trades)
		var n, v uint64
		for _, b := range bars.Bars {
			n += b.TradeCount
			v += b.Volume
		}
		var tv uint64
		for _, tr := range trades.Trades {
			tv += uint64(tr.Size)
		}
		if uint64(len(trades.Trades)) != n || tv != v || len(bars.Bars) != 5 {
			t.Fatalf("%d bars: %d trades/%d shares vs bars %d/%d", len(bars.Bars), len(trades.Trades), tv, n, v)
		}
		// The same window read backwards, across the ring boundary.
		var desc tradesPage
		h.mustGet(t, "/v2/stocks/AAPL/trades?sort=desc&"+q, &desc)
		if len(desc.Trades) != len(trades.Trades) {
			t.Fatalf("desc %d trades, asc %d", len(desc.Trades), len(trades.Trades))
		}
		for i := range desc.Trades {
			if desc.Trades[i].ID != trades.Trades[len(trades.Trades)-1-i].ID {
				t.Fatalf("desc trade %d differs", i)
			}
		}
		var quotes quotesPage
		h.mustGet(t, "/v2/stocks/AAPL/quotes?sort=desc&"+q, &quotes)
		if len(quotes.Quotes) < 1000 {
			t.Fatalf("desc quotes across the boundary: %d", len(quotes.Quotes))
		}
	})
}

func TestLatestAndSnapshots(t *testing.T) {
	h := liveHarness(t)

	var lq struct {
		Quotes map[string]alpaca.Quote `json:"quotes"`
	}
	h.mustGet(t, "/v2/stocks/quotes/latest?symbols=AAPL,MSFT,NOPE", &lq)
	if len(lq.Quotes) != 2 {
		t.Fatalf("latest quotes: %v", lq.Quotes)
	}
	if q, _ := h.m.Quote("AAPL"); !reflect.DeepEqual(lq.Quotes["AAPL"], q) {
		t.Fatalf("latest quote %+v, Quote %+v", lq.Quotes["AAPL"], q)
	}
	var lt struct {
		Trades map[string]alpaca.Trade `json:"trades"`
	}
	h.mustGet(t, "/v2/stocks/trades/latest?symbols=AAPL", &lt)
	if tr, _ := h.m.LatestTrade("AAPL"); !reflect.DeepEqual(lt.Trades["AAPL"], tr) {
		t.Fatalf("latest trade %+v, LatestTrade %+v", lt.Trades["AAPL"], tr)
	}
	var lb struct {
		Bars map[string]alpaca.Bar `json:"bars"`
	}
	h.mustGet(t, "/v2/stocks/bars/latest?symbols=AAPL", &lb)
	if want := time.Date(2026, 3, 10, 14, 32, 0, 0, time.UTC); !lb.Bars["AAPL"].Timestamp.Equal(want) {
		t.Fatalf("latest bar at %v, want %v", lb.Bars["AAPL"].Timestamp, want)
	}

	var one struct {
		Symbol string       `json:"symbol"`
		Bar    alpaca.Bar   `json:"bar"`
		Trade  alpaca.Trade `json:"trade"`
		Quote  alpaca.Quote `json:"quote"`
	}
	h.mustGet(t, "/v2/stocks/AAPL/bars/latest", &one)
	h.mustGet(t, "/v2/stocks/AAPL/trades/latest", &one)
	h.mustGet(t, "/v2/stocks/AAPL/quotes/latest?feed=iex", &one)
	if one.Symbol != "AAPL" || one.Bar != lb.Bars["AAPL"] || one.Trade.ID != lt.Trades["AAPL"].ID || one.Quote.AskPrice != lq.Quotes["AAPL"].AskPrice {
		t.Fatalf("single latest: %+v", one)
	}
	for _, p := range []string{"/v2/stocks/NOPE/bars/latest", "/v2/stocks/NOPE/trades/latest", "/v2/stocks/NOPE/quotes/latest", "/v2/stocks/NOPE/snapshot"} {
		if status, body := h.get(t, p, nil); status != http.StatusNotFound {
			t.Errorf("%s: status %d %s", p, status, body)
		}
	}

	body := h.mustGet(t, "/v2/stocks/snapshots?symbols=AAPL,SPY,NOPE", nil)
	var snaps map[string]alpaca.Snapshot
	if err := json.Unmarshal(body, &snaps); err != nil {
		t.Fatal(err)
	}
	if len(snaps) != 2 {
		t.Fatalf("snapshots: %s", body)
	}
	s := snaps["AAPL"]
	if s.LatestTrade == nil || s.LatestQuote == nil || s.MinuteBar == nil || s.DailyBar == nil || s.PrevDailyBar == nil {
		t.Fatalf("incomplete snapshot %s", body)
	}
	if !s.DailyBar.Timestamp.Equal(time.Date(2026, 3, 10, 4, 0, 0, 0, time.UTC)) ||
		!s.PrevDailyBar.Timestamp.Equal(time.Date(2026, 3, 9, 4, 0, 0, 0, time.UTC)) {
		t.Fatalf("daily bars at %v and %v", s.DailyBar.Timestamp, s.PrevDailyBar.Timestamp)
	}
	if s.DailyBar.Close != s.MinuteBar.Close || s.DailyBar.High < s.MinuteBar.High {
		t.Fatalf("daily bar %+v inconsistent with minute bar %+v", s.DailyBar, s.MinuteBar)
	}
	var single struct {
		Symbol string `json:"symbol"`
		alpaca.Snapshot
	}
	h.mustGet(t, "/v2/stocks/SPY/snapshot", &single)
	if single.Symbol != "SPY" || single.LatestQuote == nil || *single.DailyBar != *snaps["SPY"].DailyBar {
		t.Fatalf("single snapshot %+v", single)
	}
}

func TestBadParams(t *testing.T) {
	h := MustHarness(t, market.Config{HistoryDays: 1})
	for _, tc := range []struct {
		path   string
		status int
		msg    string
	}{
		{"/v2/stocks/bars?symbols=AAPL&timeframe=2Day", 400, "invalid timeframe"},
		{"/v2/stocks/bars?symbols=AAPL&timeframe=60Min", 400, "invalid timeframe"},
		{"/v2/stocks/bars?symbols=AAPL&timeframe=24Hour", 400, "invalid timeframe"},
		{"/v2/stocks/bars?symbols=AAPL&timeframe=5Month", 400, "invalid timeframe"},
		{"/v2/stocks/bars?symbols=AAPL&timeframe=0Min", 400, "invalid timeframe"},
		{"/v2/stocks/bars?symbols=AAPL&timeframe=min", 400, "invalid timeframe"},
		{"/v2/stocks/bars?symbols=AAPL", 400, "missing timeframe"},
		{"/v2/stocks/bars?timeframe=1Min", 400, "missing symbols"},
		{"/v2/stocks/trades?symbols=,", 400, "missing symbols"},
		{"/v2/stocks/AAPL/bars?timeframe=1Min&limit=0", 422, "invalid limit, limit must be between 1 and 10000"},
		{"/v2/stocks/AAPL/bars?timeframe=1Min&limit=10001", 422, "invalid limit, limit must be between 1 and 10000"},
		{"/v2/stocks/trades?symbols=AAPL&limit=abc", 422, "invalid limit, limit must be between 1 and 10000"},
		{"/v2/stocks/quotes?symbols=AAPL&start=yesterday", 400, "invalid start"},
		{"/v2/stocks/quotes?symbols=AAPL&end=2026-13-01", 400, "invalid end"},
		{"/v2/stocks/quotes?symbols=AAPL&start=2026-03-10&end=2026-03-09", 422, "end should not be before start"},
		{"/v2/stocks/AAPL/trades?sort=up", 400, "invalid sort"},
		{"/v2/stocks/AAPL/trades?page_token=!!!", 400, "invalid page_token"},
		{"/v2/stocks/AAPL/trades?page_token=TVNGVHwxfDA=", 400, "invalid page_token"}, // MSFT|1|0: another symbol
		{"/v2/stocks/AAPL/trades?feed=nasdaq", 400, "invalid feed"},
		{"/v2/stocks/AAPL/bars?timeframe=1Min&adjustment=magic", 400, "invalid adjustment"},
		{"/v2/stocks/AAPL/bars?timeframe=1Min&asof=today", 400, "invalid asof"},
		{"/v2/stocks/snapshots", 400, "missing symbols"},
		{"/v2/stocks/quotes/latest?symbols=AAPL&feed=x", 400, "invalid feed"},
	} {
		status, body := h.get(t, tc.path, nil)
		want := fmt.Sprintf(`{"message":%q}`, tc.msg)
		if status != tc.status || string(body) != want {
			t.Errorf("%s: got %d %.200s, want %d %s", tc.path, status, body, tc.status, want)
		}
	}
	// Accepted spellings and parameters.
	for _, p := range []string{
		"/v2/stocks/AAPL/bars?timeframe=59T&feed=iex&adjustment=split,dividend&asof=-&currency=USD",
		"/v2/stocks/AAPL/bars?timeframe=23H&feed=sip&adjustment=all&asof=2026-03-01",
		"/v2/stocks/AAPL/bars?timeframe=12Month&start=2026-03-10T09:00:00.123456789-05:00",
		"/v2/stocks/AAPL/bars?timeframe=1W&start=2026-03-10T14:00:00Z&end=2026-03-10T14:00:00Z",
		"/v2/stocks/AAPL/trades?limit=10000&start=1900-01-01&end=2999-01-01",
	} {
		h.mustGet(t, p, nil)
	}
}

func TestRegisterWrapsRESTOnly(t *testing.T) {
	m, err := market.New(market.Config{HistoryDays: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	var calls atomic.Int32
	mux := http.NewServeMux()
	m.Register(mux, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			calls.Add(1)
			if r.Header.Get("APCA-API-KEY-ID") == "" {
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			h.ServeHTTP(w, r)
		})
	})
	rec := func(path string, key string) int {
		r, _ := http.NewRequest(http.MethodGet, path, nil)
		if key != "" {
			r.Header.Set("APCA-API-KEY-ID", key)
		}
		w := &statusRecorder{header: http.Header{}}
		mux.ServeHTTP(w, r)
		return w.status
	}
	if got := rec("/v2/stocks/AAPL/snapshot", ""); got != http.StatusUnauthorized {
		t.Fatalf("unwrapped: %d", got)
	}
	if got := rec("/v2/stocks/AAPL/snapshot", "k"); got != http.StatusOK {
		t.Fatalf("wrapped with key: %d", got)
	}
	// A plain GET on a stream route is a failed upgrade, not a 401.
	if got := rec("/v2/iex", ""); got == http.StatusUnauthorized {
		t.Fatal("stream route went through the REST middleware")
	}
	if calls.Load() != 2 {
		t.Fatalf("middleware ran %d times", calls.Load())
	}
}

type statusRecorder struct {
	header http.Header
	status int
}

func (r *statusRecorder) Header() http.Header { return r.header }
func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return len(b), nil
}
func (r *statusRecorder) WriteHeader(s int) {
	if r.status == 0 {
		r.status = s
	}
}

func TestGzip(t *testing.T) {
	h := MustHarness(t, market.Config{HistoryDays: 1})
	req, _ := http.NewRequest(http.MethodGet, h.srv.URL+"/v2/stocks/AAPL/bars?timeframe=1Min&start=2026-03-10", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("Content-Encoding %q", resp.Header.Get("Content-Encoding"))
	}
	zr, err := gzip.NewReader(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	var page barsPage
	if err := json.Unmarshal(body, &page); err != nil || len(page.Bars) == 0 {
		t.Fatalf("gzip body: %v, %d bars", err, len(page.Bars))
	}
}
