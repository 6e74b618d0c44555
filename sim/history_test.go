package sim_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/quantum-alpaca/quantum/alpaca"
	"github.com/quantum-alpaca/quantum/sim"
)

var newYork = func() *time.Location {
	loc, err := time.LoadLocation("America/New_York")
	if err != nil {
		panic(err)
	}
	return loc
}()

// history is GET /v2/account/portfolio/history as a client decodes it.
type history struct {
	Timestamp     []int64           `json:"timestamp"`
	Equity        []decimal.Decimal `json:"equity"`
	ProfitLoss    []decimal.Decimal `json:"profit_loss"`
	ProfitLossPct []decimal.Decimal `json:"profit_loss_pct"`
	BaseValue     decimal.Decimal   `json:"base_value"`
	BaseValueAsOf string            `json:"base_value_asof"`
	Timeframe     string            `json:"timeframe"`
}

func getHistory(t *testing.T, h http.Handler, query url.Values) history {
	t.Helper()
	w := call(h, "GET", "/v2/account/portfolio/history?"+query.Encode(), "")
	if w.Code != http.StatusOK {
		t.Fatalf("history?%s: %d %s", query.Encode(), w.Code, w.Body)
	}
	var out history
	if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil {
		t.Fatal(err)
	}
	if n := len(out.Timestamp); len(out.Equity) != n || len(out.ProfitLoss) != n || len(out.ProfitLossPct) != n {
		t.Fatalf("history?%s: series lengths %d %d %d %d", query.Encode(), n, len(out.Equity), len(out.ProfitLoss), len(out.ProfitLossPct))
	}
	return out
}

func ny(y int, m time.Month, d, hh, mm int) time.Time {
	return time.Date(y, m, d, hh, mm, 0, 0, newYork)
}

func accountEquity(t *testing.T, h http.Handler) (equity, lastEquity decimal.Decimal) {
	t.Helper()
	var a alpaca.Account
	if err := json.Unmarshal(call(h, "GET", "/v2/account", "").Body.Bytes(), &a); err != nil {
		t.Fatal(err)
	}
	return a.Equity, a.LastEquity
}

// twoDays is a replay on NYSE hours of AAPL over the first ten minutes of
// Tuesday 2 and Wednesday 3 January 2024, on a stepped clock: the account
// opens at Tuesday's open, buys 10 AAPL a minute later, and the clock
// stops at each minute of both mornings. equity holds what GET
// /v2/account said at each stop, before anything was traded there.
type twoDays struct {
	h        http.Handler
	equity   map[time.Time]decimal.Decimal
	tueClose decimal.Decimal
}

func runTwoDays(t *testing.T) twoDays {
	t.Helper()
	closes := []float64{100.00, 100.50, 101.00, 100.25, 99.80, 99.10, 100.70, 101.40, 102.00, 101.60}
	var bars []alpaca.Bar
	for _, day := range []int{2, 3} {
		for k, c := range closes {
			c += float64(day-2) * 3 // Wednesday opens higher
			bars = append(bars, alpaca.Bar{Timestamp: ny(2024, 1, day, 9, 30+k), Open: c, High: c + 0.1, Low: c - 0.1, Close: c, Volume: 1000, TradeCount: 10, VWAP: c})
		}
	}
	none := 0.0
	srv, err := sim.New(sim.Config{
		AutoProvision: true, Session: sim.NYSE{}, PartialFillRate: &none,
		Clock: sim.NewSteppedClock(ny(2024, 1, 2, 9, 30)), Recorded: map[string][]alpaca.Bar{"AAPL": bars},
	})
	if err != nil {
		t.Fatal(err)
	}
	srv.Start()
	t.Cleanup(func() { _ = srv.Close() })
	d := twoDays{h: srv.Handler(), equity: map[time.Time]decimal.Decimal{}}
	d.equity[ny(2024, 1, 2, 9, 30)], _ = accountEquity(t, d.h) // opens the account
	advance := func(to time.Time) {
		t.Helper()
		if _, err := srv.AdvanceClock(context.Background(), to); err != nil {
			t.Fatal(err)
		}
		d.equity[to], _ = accountEquity(t, d.h)
	}
	for _, day := range []int{2, 3} {
		for k := 1; k <= 10; k++ {
			advance(ny(2024, 1, day, 9, 30+k))
			if day == 2 && k == 1 {
				w := call(d.h, "POST", "/v2/orders", `{"symbol":"AAPL","qty":"10","side":"buy","type":"market","time_in_force":"day"}`)
				if w.Code != http.StatusOK {
					t.Fatalf("buy: %d %s", w.Code, w.Body)
				}
			}
		}
		if day == 2 {
			advance(ny(2024, 1, 3, 9, 30))
			_, d.tueClose = accountEquity(t, d.h)
		}
	}
	return d
}

// The series follows the account's equity as GET /v2/account reported it
// at each minute: flat at the opening cash, then moving with the fill and
// every later price; profit_loss counts from the previous close per day
// (pnl_reset=per_day, the default) or from the start (no_reset).
func TestPortfolioHistoryFollowsEquity(t *testing.T) {
	t.Run("Minutes", func(t *testing.T) {
		d := runTwoDays(t)
		got := getHistory(t, d.h, url.Values{"timeframe": {"1Min"}, "start": {"2024-01-02T09:30:00-05:00"}, "end": {"2024-01-02T09:39:00-05:00"}})
		if len(got.Timestamp) != 10 || got.Timeframe != "1Min" {
			t.Fatalf("got %d points at %s, want 10 at 1Min", len(got.Timestamp), got.Timeframe)
		}
		moved := 0
		for i, ts := range got.Timestamp {
			start := ny(2024, 1, 2, 9, 30+i)
			want := d.equity[start.Add(time.Minute)] // as of the bucket's end
			if ts != start.Unix() || !got.Equity[i].Equal(want) {
				t.Errorf("point %d: %s %s, want %s %s", i, time.Unix(ts, 0).In(newYork), got.Equity[i], start, want)
			}
			if i > 0 && !got.Equity[i].Equal(got.Equity[i-1]) {
				moved++
			}
		}
		if !got.Equity[0].Equal(decimal.NewFromInt(100_000)) || moved < 8 {
			t.Errorf("equity %v: want the opening cash, then a move with the fill and each price", got.Equity)
		}
		// Nothing was recorded before the account opened, and no bucket
		// starts after now.
		before := getHistory(t, d.h, url.Values{"timeframe": {"1Min"}, "start": {"2024-01-01T00:00:00Z"}, "end": {"2024-01-02T09:31:00-05:00"}})
		if len(before.Timestamp) != 2 || before.Timestamp[0] != ny(2024, 1, 2, 9, 30).Unix() {
			t.Errorf("before the account: %v", before.Timestamp)
		}
	})
	t.Run("PerDay", func(t *testing.T) {
		d := runTwoDays(t)
		wed := getHistory(t, d.h, url.Values{"timeframe": {"1Min"}, "start": {"2024-01-03T09:30:00-05:00"}, "end": {"2024-01-03T09:39:00-05:00"}})
		if len(wed.Timestamp) != 10 || !wed.BaseValue.Equal(d.tueClose) || wed.BaseValueAsOf != "2024-01-02" {
			t.Fatalf("Wednesday: %d points, base %s as of %q; want 10, Tuesday's close %s", len(wed.Timestamp), wed.BaseValue, wed.BaseValueAsOf, d.tueClose)
		}
		for i := range wed.Timestamp {
			want := d.equity[ny(2024, 1, 3, 9, 31+i)]
			if !wed.Equity[i].Equal(want) || !wed.ProfitLoss[i].Equal(want.Sub(d.tueClose)) ||
				!wed.ProfitLossPct[i].Equal(want.Sub(d.tueClose).Div(d.tueClose).Round(6)) {
				t.Errorf("point %d: equity %s pl %s pct %s; want %s from %s", i, wed.Equity[i], wed.ProfitLoss[i], wed.ProfitLossPct[i], want, d.tueClose)
			}
		}
		// Over both days: Tuesday counts from its first point (the
		// account has no earlier close), Wednesday from Tuesday's close.
		both := url.Values{"timeframe": {"1Min"}, "start": {"2024-01-02T09:30:00-05:00"}, "end": {"2024-01-03T09:39:00-05:00"}}
		got := getHistory(t, d.h, both)
		if len(got.Timestamp) != 390+10 || got.BaseValueAsOf != "" || !got.BaseValue.Equal(decimal.NewFromInt(100_000)) {
			t.Fatalf("two days: %d points, base %s as of %q", len(got.Timestamp), got.BaseValue, got.BaseValueAsOf)
		}
		for i, ts := range got.Timestamp {
			base := decimal.NewFromInt(100_000)
			if ts >= ny(2024, 1, 3, 0, 0).Unix() {
				base = d.tueClose
			}
			if !got.ProfitLoss[i].Equal(got.Equity[i].Sub(base)) {
				t.Fatalf("per_day point %s: pl %s, equity %s, base %s", time.Unix(ts, 0).In(newYork), got.ProfitLoss[i], got.Equity[i], base)
			}
		}
		// The afternoon carries the last price of the morning to the close.
		if last := got.Equity[389]; !last.Equal(d.tueClose) {
			t.Errorf("Tuesday 15:59 = %s, want the close %s", last, d.tueClose)
		}
		both.Set("pnl_reset", "no_reset")
		nr := getHistory(t, d.h, both)
		for i := range nr.Timestamp {
			if !nr.ProfitLoss[i].Equal(nr.Equity[i].Sub(decimal.NewFromInt(100_000))) {
				t.Fatalf("no_reset point %d: pl %s, equity %s", i, nr.ProfitLoss[i], nr.Equity[i])
			}
		}
	})
	t.Run("Days", func(t *testing.T) {
		d := runTwoDays(t)
		got := getHistory(t, d.h, url.Values{"period": {"1W"}, "timeframe": {"1D"}})
		now, _ := accountEquity(t, d.h)
		if len(got.Timestamp) != 2 || got.Timestamp[0] != ny(2024, 1, 2, 0, 0).Unix() || got.Timestamp[1] != ny(2024, 1, 3, 0, 0).Unix() {
			t.Fatalf("days %v", got.Timestamp)
		}
		if !got.Equity[0].Equal(d.tueClose) || !got.Equity[1].Equal(now) || !got.ProfitLoss[1].Equal(now.Sub(got.BaseValue)) {
			t.Errorf("days %v (pl %v, base %s), want Tuesday's close %s and now %s", got.Equity, got.ProfitLoss, got.BaseValue, d.tueClose, now)
		}
	})
}

// Bucket counts for each timeframe and reporting mode over a week of NYSE
// trading (Monday 8 to Friday 12 January 2024, no holidays), and the
// defaults and refusals of Alpaca's parameters.
func TestPortfolioHistoryBuckets(t *testing.T) {
	setup := func(t *testing.T) http.Handler {
		srv, err := sim.New(sim.Config{AutoProvision: true, Session: sim.NYSE{}, Clock: sim.NewSteppedClock(ny(2024, 1, 8, 0, 0))})
		if err != nil {
			t.Fatal(err)
		}
		srv.Start()
		t.Cleanup(func() { _ = srv.Close() })
		accountEquity(t, srv.Handler()) // opens the account at Monday midnight
		if _, err := srv.AdvanceClock(context.Background(), ny(2024, 1, 12, 20, 30)); err != nil {
			t.Fatal(err)
		}
		return srv.Handler()
	}
	for _, tc := range []struct {
		query     string
		n         int
		timeframe string
		first     time.Time
	}{
		{"period=1W&timeframe=1H", 5 * 7, "1H", ny(2024, 1, 8, 9, 30)},
		{"period=1W&timeframe=15Min", 5 * 26, "15Min", ny(2024, 1, 8, 9, 30)},
		{"period=1W", 5 * 26, "15Min", ny(2024, 1, 8, 9, 30)}, // under 30 days: 15Min
		{"period=1D&timeframe=5Min", 78, "5Min", ny(2024, 1, 12, 9, 30)},
		{"period=1D", 390, "1Min", ny(2024, 1, 12, 9, 30)}, // under 7 days: 1Min
		{"period=2D&timeframe=1H&intraday_reporting=extended_hours", 2 * 16, "1H", ny(2024, 1, 11, 4, 0)},
		{"period=1D&timeframe=1H&extended_hours=true", 16, "1H", ny(2024, 1, 12, 4, 0)},
		{"timeframe=1H&intraday_reporting=continuous&start=2024-01-08T00:00:00-05:00&end=2024-01-08T23:59:00-05:00", 24, "1H", ny(2024, 1, 8, 0, 0)},
		{"timeframe=15Min&intraday_reporting=continuous&start=2024-01-13T00:00:00-05:00", 0, "15Min", time.Time{}}, // after now
		{"period=1W&timeframe=1D", 5, "1D", ny(2024, 1, 8, 0, 0)},
		{"period=3M", 5, "1D", ny(2024, 1, 8, 0, 0)}, // over 30 days: 1D; only since the account opened
		{"start=2024-01-09T00:00:00-05:00&period=2D&timeframe=1H", 2 * 7, "1H", ny(2024, 1, 9, 9, 30)},
		{"date_end=2024-01-09&period=1D&timeframe=1H", 7, "1H", ny(2024, 1, 9, 9, 30)},
	} {
		t.Run(tc.query, func(t *testing.T) {
			h := setup(t)
			q, _ := url.ParseQuery(tc.query)
			got := getHistory(t, h, q)
			if len(got.Timestamp) != tc.n || got.Timeframe != tc.timeframe {
				t.Fatalf("%d points at %s, want %d at %s", len(got.Timestamp), got.Timeframe, tc.n, tc.timeframe)
			}
			if tc.n > 0 && got.Timestamp[0] != tc.first.Unix() {
				t.Errorf("first bucket %s, want %s", time.Unix(got.Timestamp[0], 0).In(newYork), tc.first)
			}
			for i, e := range got.Equity {
				if !e.Equal(decimal.NewFromInt(100_000)) || !got.ProfitLoss[i].IsZero() {
					t.Fatalf("point %d: equity %s pl %s of an account that never traded", i, e, got.ProfitLoss[i])
				}
			}
		})
	}
	t.Run("Refused", func(t *testing.T) {
		h := setup(t)
		for _, q := range []string{
			"period=1X", "period=0D", "period=D", "timeframe=2H", "timeframe=1Day",
			"period=3M&timeframe=1H", "start=2023-11-01T00:00:00Z&end=2024-01-12T00:00:00Z&timeframe=15Min",
			"period=1W&start=2024-01-08T00:00:00Z&end=2024-01-09T00:00:00Z",
			"intraday_reporting=overnight", "pnl_reset=weekly", "extended_hours=maybe",
			"start=yesterday", "date_end=2024-13-01", "end=2024-01-09T00:00:00Z&date_end=2024-01-09",
			"start=2024-01-10T00:00:00Z&end=2024-01-09T00:00:00Z",
		} {
			w := call(h, "GET", "/v2/account/portfolio/history?"+q, "")
			var e struct {
				Code    int
				Message string
			}
			if err := json.Unmarshal(w.Body.Bytes(), &e); w.Code != http.StatusUnprocessableEntity || err != nil || e.Message == "" {
				t.Errorf("%s: %d %s, want 422 with a message", q, w.Code, w.Body)
			}
		}
	})
}
