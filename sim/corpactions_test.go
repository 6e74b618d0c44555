package sim_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/quantum-alpaca/quantum/alpaca"
	"github.com/quantum-alpaca/quantum/internal/simtest"
	"github.com/quantum-alpaca/quantum/sim"
)

// caClient talks to a broker over TCP as one account (issue 9 item 6).
type caClient struct {
	t    *testing.T
	base string
}

func (c caClient) do(method, path string, body any) (int, []byte) {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = strings.NewReader(string(b))
	}
	req, _ := http.NewRequest(method, c.base+path, rd)
	req.Header.Set("APCA-API-KEY-ID", "PKCORPACTIONS")
	req.Header.Set("APCA-API-SECRET-KEY", "secret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, data
}

// json sends a request, requires status want and decodes the body into out.
func (c caClient) json(method, path string, body any, want int, out any) {
	c.t.Helper()
	status, data := c.do(method, path, body)
	if status != want {
		c.t.Fatalf("%s %s: status %d, want %d: %s", method, path, status, want, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			c.t.Fatalf("%s %s: %s: %v", method, path, data, err)
		}
	}
}

func (c caClient) advanceTo(t time.Time) {
	c.t.Helper()
	c.json("POST", "/sim/v1/clock", map[string]string{"to": t.Format(time.RFC3339)}, http.StatusOK, nil)
}

// caStart is a Monday morning in New York; with seed 21 the market
// announces splits and dividends in the weeks that follow.
var caStart = time.Date(2026, 2, 2, 14, 0, 0, 0, time.UTC)

func startCorp(t *testing.T) caClient {
	srv := simtest.Start(t, sim.Config{Seed: 21, Clock: sim.NewSteppedClock(caStart)})
	return caClient{t: t, base: srv.URL}
}

type caPage struct {
	CorporateActions map[string][]map[string]any `json:"corporate_actions"`
	NextPageToken    *string                     `json:"next_page_token"`
}

// firstAction finds the first action of typ (a /v1/corporate-actions
// type) with an ex date after the clock's day.
func (c caClient) firstAction(typ, key string) map[string]any {
	c.t.Helper()
	var p caPage
	c.json("GET", "/v1/corporate-actions?types="+typ+"&start=2026-02-03&end=2026-04-30&limit=1000", nil, http.StatusOK, &p)
	for _, a := range p.CorporateActions[key] {
		if a["ex_date"].(string) > "2026-02-02" {
			return a
		}
	}
	c.t.Fatalf("no %s after 2026-02-02 with seed 21: %+v", typ, p)
	return nil
}

func nyMidnight(date string) time.Time {
	d, _ := time.ParseInLocation(time.DateOnly, date, newYork)
	return d
}

func TestCorporateActionsOnAccounts(t *testing.T) {
	// A position held across a forward split: qty multiplied, average
	// price divided, cost basis kept, a SPLIT activity, and the open
	// order in the symbol canceled.
	t.Run("ForwardSplit", func(t *testing.T) {
		c := startCorp(t)
		act := c.firstAction("forward_split", "forward_splits")
		sym := act["symbol"].(string)
		ratio := int64(act["new_rate"].(float64) / act["old_rate"].(float64))
		var buy, rest alpaca.Order
		c.json("POST", "/v2/orders", map[string]any{"symbol": sym, "qty": "10", "side": "buy", "type": "market", "time_in_force": "day"}, http.StatusOK, &buy)
		c.json("POST", "/v2/orders", map[string]any{"symbol": sym, "qty": "1", "side": "buy", "type": "limit", "limit_price": "1.00", "time_in_force": "gtc"}, http.StatusOK, &rest)
		c.advanceTo(caStart.Add(time.Minute))
		var before alpaca.Position
		c.json("GET", "/v2/positions/"+sym, nil, http.StatusOK, &before)
		if !before.Qty.Equal(decimal.NewFromInt(10)) {
			t.Fatalf("before the split: qty %s, want 10", before.Qty)
		}

		ex := nyMidnight(act["ex_date"].(string))
		c.advanceTo(ex.Add(-time.Minute))
		var eve alpaca.Position
		c.json("GET", "/v2/positions/"+sym, nil, http.StatusOK, &eve)
		c.advanceTo(ex.Add(time.Minute))
		var after alpaca.Position
		c.json("GET", "/v2/positions/"+sym, nil, http.StatusOK, &after)
		// The market divides the price at the same instant: two minutes
		// apart, the position is worth what it was, within the walk's
		// move.
		if eve.MarketValue == nil || after.MarketValue == nil || after.CurrentPrice == nil || eve.CurrentPrice == nil {
			t.Fatalf("unvalued positions: %+v %+v", eve, after)
		}
		if r := after.MarketValue.Div(*eve.MarketValue).InexactFloat64(); r < 0.97 || r > 1.03 {
			t.Errorf("market value %s the minute after the split, %s the minute before", after.MarketValue, eve.MarketValue)
		}
		if r := after.CurrentPrice.Mul(decimal.NewFromInt(ratio)).Div(*eve.CurrentPrice).InexactFloat64(); r < 0.97 || r > 1.03 {
			t.Errorf("price %s after a %d-for-1 split, %s before", after.CurrentPrice, ratio, eve.CurrentPrice)
		}
		if want := decimal.NewFromInt(10 * ratio); !after.Qty.Equal(want) {
			t.Errorf("after a %d-for-1 split: qty %s, want %s", ratio, after.Qty, want)
		}
		wantAvg := before.AvgEntryPrice.Div(decimal.NewFromInt(ratio))
		if after.AvgEntryPrice.Sub(wantAvg).Abs().GreaterThan(decimal.New(1, -6)) {
			t.Errorf("avg entry price %s, want %s", after.AvgEntryPrice, wantAvg)
		}
		if after.CostBasis.Sub(before.CostBasis).Abs().GreaterThan(decimal.New(1, -2)) {
			t.Errorf("cost basis %s, was %s", after.CostBasis, before.CostBasis)
		}

		var o alpaca.Order
		c.json("GET", "/v2/orders/"+rest.ID, nil, http.StatusOK, &o)
		if o.Status != "canceled" {
			t.Errorf("open order on the split symbol: %s, want canceled", o.Status)
		}

		var splits []alpaca.Activity
		c.json("GET", "/v2/account/activities/SPLIT", nil, http.StatusOK, &splits)
		if len(splits) != 1 || splits[0].Symbol != sym || splits[0].Qty == nil ||
			!splits[0].Qty.Equal(decimal.NewFromInt(10*(ratio-1))) || splits[0].Date != act["ex_date"] {
			t.Fatalf("SPLIT activities: %+v", splits)
		}
		if !strings.HasPrefix(splits[0].ID, ex.UTC().Format("20060102150405")) {
			t.Errorf("SPLIT id %s, want it stamped at the ex date's New York midnight", splits[0].ID)
		}

		// Merged with the fill and the deposit, in time order, and paged
		// one by one to the same list in both directions.
		for _, dir := range []string{"asc", "desc"} {
			var all []alpaca.Activity
			c.json("GET", "/v2/account/activities?direction="+dir, nil, http.StatusOK, &all)
			var kinds []string
			for _, a := range all {
				kinds = append(kinds, a.ActivityType)
			}
			want := "CSD,FILL,SPLIT"
			if dir == "desc" {
				want = "SPLIT,FILL,CSD"
			}
			if strings.Join(kinds, ",") != want {
				t.Errorf("%s: activities %v, want %s", dir, kinds, want)
			}
			var paged []string
			token := ""
			for range 10 {
				q := "/v2/account/activities?page_size=1&direction=" + dir
				if token != "" {
					q += "&page_token=" + token
				}
				var page []alpaca.Activity
				c.json("GET", q, nil, http.StatusOK, &page)
				if len(page) == 0 {
					break
				}
				paged = append(paged, page[0].ActivityType)
				token = page[0].ID
			}
			if strings.Join(paged, ",") != want {
				t.Errorf("%s: paged %v, want %s", dir, paged, want)
			}
		}
		var trades []alpaca.Activity
		c.json("GET", "/v2/account/activities?category=trade_activity", nil, http.StatusOK, &trades)
		if len(trades) != 1 || trades[0].ActivityType != "FILL" {
			t.Errorf("trade activities: %+v", trades)
		}
	})

	// A reverse split divides the quantity (a fraction is kept).
	t.Run("ReverseSplit", func(t *testing.T) {
		c := startCorp(t)
		act := c.firstAction("reverse_split", "reverse_splits")
		sym := act["symbol"].(string)
		c.json("POST", "/v2/orders", map[string]any{"symbol": sym, "qty": "15", "side": "buy", "type": "market", "time_in_force": "day"}, http.StatusOK, nil)
		c.advanceTo(nyMidnight(act["ex_date"].(string)).Add(time.Minute))
		var p alpaca.Position
		c.json("GET", "/v2/positions/"+sym, nil, http.StatusOK, &p)
		want := decimal.NewFromInt(15).Mul(decimal.NewFromFloat(act["new_rate"].(float64))).Div(decimal.NewFromFloat(act["old_rate"].(float64)))
		if !p.Qty.Equal(want) {
			t.Errorf("after a %v-for-%v split: qty %s, want %s", act["new_rate"], act["old_rate"], p.Qty, want)
		}
	})

	// A cash dividend: the holding at the ex date is paid on the payable
	// date, and not before.
	t.Run("CashDividend", func(t *testing.T) {
		c := startCorp(t)
		act := c.firstAction("cash_dividend", "cash_dividends")
		sym := act["symbol"].(string)
		rate := decimal.NewFromFloat(act["rate"].(float64))
		c.json("POST", "/v2/orders", map[string]any{"symbol": sym, "qty": "20", "side": "buy", "type": "market", "time_in_force": "day"}, http.StatusOK, nil)
		c.advanceTo(caStart.Add(time.Minute))
		cash := func() decimal.Decimal {
			var a alpaca.Account
			c.json("GET", "/v2/account", nil, http.StatusOK, &a)
			return a.Cash
		}
		c0 := cash()
		c.advanceTo(nyMidnight(act["ex_date"].(string)).Add(time.Minute))
		if got := cash(); !got.Equal(c0) {
			t.Fatalf("cash moved before the payable date: %s, was %s", got, c0)
		}
		c.advanceTo(nyMidnight(act["payable_date"].(string)).Add(time.Minute))
		want := c0.Add(rate.Mul(decimal.NewFromInt(20)))
		if got := cash(); !got.Equal(want) {
			t.Errorf("cash after the payable date: %s, want %s", got, want)
		}
		var divs []alpaca.Activity
		c.json("GET", "/v2/account/activities?activity_types=DIV", nil, http.StatusOK, &divs)
		if len(divs) != 1 || divs[0].Symbol != sym || divs[0].NetAmount == nil || !divs[0].NetAmount.Equal(rate.Mul(decimal.NewFromInt(20))) ||
			divs[0].PerShareAmount == nil || !divs[0].PerShareAmount.Equal(rate) || divs[0].Date != act["payable_date"] {
			t.Fatalf("DIV activities: %+v", divs)
		}
	})
}

type announcementJSON struct {
	ID                string `json:"id"`
	CorporateActionID string `json:"corporate_action_id"`
	CAType            string `json:"ca_type"`
	CASubType         string `json:"ca_sub_type"`
	InitiatingSymbol  string `json:"initiating_symbol"`
	InitiatingCusip   string `json:"initiating_original_cusip"`
	DeclarationDate   string `json:"declaration_date"`
	ExDate            string `json:"ex_date"`
	Cash              string `json:"cash"`
	OldRate           string `json:"old_rate"`
	NewRate           string `json:"new_rate"`
}

func TestCorporateActionAnnouncements(t *testing.T) {
	t.Run("ListAndGet", func(t *testing.T) {
		c := startCorp(t)
		var list []announcementJSON
		c.json("GET", "/v2/corporate_actions/announcements?ca_types=split,Dividend&since=2026-01-01&until=2026-03-31&date_type=ex_date", nil, http.StatusOK, &list)
		if len(list) < 2 {
			t.Fatalf("%d announcements", len(list))
		}
		kinds := map[string]bool{}
		for _, a := range list {
			kinds[a.CAType+"/"+a.CASubType] = true
			if a.DeclarationDate > "2026-02-02" {
				t.Errorf("%s declared %s, after the clock's day: announced before it was made", a.ID, a.DeclarationDate)
			}
			if a.ExDate < "2026-01-01" || a.ExDate > "2026-03-31" {
				t.Errorf("%s: ex date %s outside the range", a.ID, a.ExDate)
			}
		}
		if !kinds["dividend/cash"] || !kinds["split/stock_split"] {
			t.Errorf("kinds %v, want cash dividends and forward splits", kinds)
		}
		var one announcementJSON
		c.json("GET", "/v2/corporate_actions/announcements/"+list[0].ID, nil, http.StatusOK, &one)
		if one != list[0] {
			t.Errorf("by id: %+v, listed %+v", one, list[0])
		}
		var bySym []announcementJSON
		c.json("GET", "/v2/corporate_actions/announcements?ca_types=split,dividend&since=2026-01-01&until=2026-03-31&date_type=ex_date&symbol="+list[0].InitiatingSymbol, nil, http.StatusOK, &bySym)
		var byCusip []announcementJSON
		c.json("GET", "/v2/corporate_actions/announcements?ca_types=split,dividend&since=2026-01-01&until=2026-03-31&date_type=ex_date&cusip="+list[0].InitiatingCusip, nil, http.StatusOK, &byCusip)
		if len(bySym) == 0 || len(bySym) != len(byCusip) || bySym[0].InitiatingSymbol != list[0].InitiatingSymbol {
			t.Errorf("by symbol %+v, by cusip %+v", bySym, byCusip)
		}
	})

	t.Run("Errors", func(t *testing.T) {
		c := startCorp(t)
		for _, q := range []string{
			"since=2026-01-01&until=2026-01-31",                                 // ca_types missing
			"ca_types=split&until=2026-01-31",                                   // since missing
			"ca_types=split&since=2026-01-01&until=2026-05-01",                  // over 90 days
			"ca_types=split&since=2026-02-01&until=2026-01-01",                  // backwards
			"ca_types=bonus&since=2026-01-01&until=2026-01-31",                  // unknown type
			"ca_types=split&since=2026-01-01&until=2026-01-31&date_type=settle", // unknown date type
			"ca_types=split&since=01/01/2026&until=2026-01-31",                  // not a date
		} {
			if status, body := c.do("GET", "/v2/corporate_actions/announcements?"+q, nil); status != http.StatusUnprocessableEntity {
				t.Errorf("%s: status %d, want 422: %s", q, status, body)
			}
		}
		if status, _ := c.do("GET", "/v2/corporate_actions/announcements/not-an-id", nil); status != http.StatusNotFound {
			t.Errorf("unknown id: status %d, want 404", status)
		}
		if status, _ := c.do("GET", "/v2/corporate_actions/announcements?ca_types=split&since=2026-01-01&until=2026-03-31", nil); status != http.StatusOK {
			t.Errorf("exactly 89 days: status %d", status)
		}
	})
}

func TestCorporateActionsData(t *testing.T) {
	t.Run("PagesAndFilters", func(t *testing.T) {
		c := startCorp(t)
		var all caPage
		c.json("GET", "/v1/corporate-actions?start=2026-01-01&end=2026-03-31&limit=1000", nil, http.StatusOK, &all)
		n := 0
		for _, v := range all.CorporateActions {
			n += len(v)
		}
		if n < 10 || all.NextPageToken != nil || len(all.CorporateActions["cash_dividends"]) == 0 || len(all.CorporateActions["forward_splits"]) == 0 {
			t.Fatalf("%d actions, token %v: %v", n, all.NextPageToken, all.CorporateActions)
		}
		got, token := 0, ""
		for pages := 0; pages < n; pages++ {
			q := "/v1/corporate-actions?start=2026-01-01&end=2026-03-31&limit=7"
			if token != "" {
				q += "&page_token=" + token
			}
			var p caPage
			c.json("GET", q, nil, http.StatusOK, &p)
			for _, v := range p.CorporateActions {
				got += len(v)
			}
			if p.NextPageToken == nil {
				break
			}
			token = *p.NextPageToken
		}
		if got != n {
			t.Errorf("paged %d actions, want %d", got, n)
		}
		sym := all.CorporateActions["cash_dividends"][0]["symbol"].(string)
		var one caPage
		c.json("GET", "/v1/corporate-actions?symbols="+sym+"&types=cash_dividend&start=2026-01-01&end=2026-03-31", nil, http.StatusOK, &one)
		if len(one.CorporateActions) != 1 || len(one.CorporateActions["cash_dividends"]) == 0 {
			t.Errorf("%s dividends: %v", sym, one.CorporateActions)
		}
		for _, d := range one.CorporateActions["cash_dividends"] {
			if d["symbol"] != sym {
				t.Errorf("symbol filter: %v", d)
			}
		}
		// Nothing declared after the clock's day is listed.
		var future caPage
		c.json("GET", "/v1/corporate-actions?start=2026-06-01&end=2026-12-31", nil, http.StatusOK, &future)
		if len(future.CorporateActions) != 0 {
			t.Errorf("actions declared after the clock: %v", future.CorporateActions)
		}
		for _, q := range []string{"types=bonus", "start=2026-13-01", "limit=0", "sort=up", "page_token=x", "start=2026-02-01&end=2026-01-01"} {
			if status, body := c.do("GET", "/v1/corporate-actions?"+q, nil); status != http.StatusBadRequest {
				t.Errorf("%s: status %d, want 400: %s", q, status, body)
			}
		}
	})
}

// auctionDay is one day of GET /v2/stocks/auctions.
type auctionDay struct {
	D string `json:"d"`
	O []struct {
		T time.Time `json:"t"`
		P float64   `json:"p"`
		S uint32    `json:"s"`
		X string    `json:"x"`
		C string    `json:"c"`
	} `json:"o"`
	C []struct {
		T time.Time `json:"t"`
		P float64   `json:"p"`
		S uint32    `json:"s"`
		X string    `json:"x"`
		C string    `json:"c"`
	} `json:"c"`
}

type auctionsPage struct {
	Auctions      map[string][]auctionDay `json:"auctions"`
	NextPageToken *string                 `json:"next_page_token"`
}

func auctionDates(days []auctionDay) string {
	var out []string
	for _, d := range days {
		out = append(out, d.D)
	}
	return strings.Join(out, ",")
}

func TestStockAuctions(t *testing.T) {
	// From the generated history (the week before the clock's start):
	// one opening and one closing auction per weekday, at 09:30 and 16:00
	// New York, on the primary exchange.
	t.Run("History", func(t *testing.T) {
		c := startCorp(t)
		var resp auctionsPage
		c.json("GET", "/v2/stocks/auctions?symbols=AAPL,SPY&start=2026-01-27&end=2026-02-01", nil, http.StatusOK, &resp)
		for _, sym := range []string{"AAPL", "SPY"} {
			days := resp.Auctions[sym]
			if got := auctionDates(days); got != "2026-01-27,2026-01-28,2026-01-29,2026-01-30" {
				t.Errorf("%s: days %s", sym, got)
			}
			for _, d := range days {
				if len(d.O) != 2 || len(d.C) != 2 || d.O[0].C != "O" || d.O[1].C != "Q" || d.C[0].C != "6" || d.C[1].C != "M" ||
					d.O[0].P <= 0 || d.C[0].S == 0 {
					t.Errorf("%s %s: %+v", sym, d.D, d)
					continue
				}
				if open := d.O[0].T.In(newYork); open.Hour() != 9 || open.Minute() != 30 {
					t.Errorf("%s %s: opening auction at %s", sym, d.D, open)
				}
				if cl := d.C[0].T.In(newYork); cl.Hour() != 16 || cl.Minute() != 0 {
					t.Errorf("%s %s: closing auction at %s", sym, d.D, cl)
				}
			}
		}
		if resp.NextPageToken != nil || resp.Auctions["SPY"][0].O[0].X != "P" || resp.Auctions["AAPL"][0].O[0].X != "Q" {
			t.Errorf("token %v, primary exchanges SPY %s, AAPL %s", resp.NextPageToken, resp.Auctions["SPY"][0].O[0].X, resp.Auctions["AAPL"][0].O[0].X)
		}
		// Paged a day at a time, to the same eight days.
		n, token := 0, ""
		for range 20 {
			q := "/v2/stocks/auctions?symbols=AAPL,SPY&start=2026-01-27&end=2026-02-01&limit=1"
			if token != "" {
				q += "&page_token=" + token
			}
			var p auctionsPage
			c.json("GET", q, nil, http.StatusOK, &p)
			for _, d := range p.Auctions {
				n += len(d)
			}
			if p.NextPageToken == nil {
				break
			}
			token = *p.NextPageToken
		}
		if n != 8 {
			t.Errorf("paged %d days, want 8", n)
		}
		if status, _ := c.do("GET", "/v2/stocks/auctions?start=2026-01-30", nil); status != http.StatusBadRequest {
			t.Errorf("no symbols: status %d, want 400", status)
		}
		if status, _ := c.do("GET", "/v2/stocks/auctions?symbols=AAPL&limit="+strconv.Itoa(20000), nil); status != http.StatusUnprocessableEntity {
			t.Errorf("limit 20000: status %d, want 422", status)
		}
	})

	// A day's auctions appear as the clock passes them, never before: at
	// 09:00 the day has none; past 16:00 it has both. AMGN is generated
	// minute by minute (a Lazy symbol), so it has every minute's bar
	// under a stepped clock too.
	t.Run("AsTheClockMoves", func(t *testing.T) {
		c := startCorp(t)
		var before auctionsPage
		c.json("GET", "/v2/stocks/auctions?symbols=AMGN&start=2026-02-02", nil, http.StatusOK, &before)
		if len(before.Auctions["AMGN"]) != 0 {
			t.Fatalf("auctions before the open: %+v", before.Auctions)
		}
		c.advanceTo(ny(2026, 2, 2, 10, 0))
		var open auctionsPage
		c.json("GET", "/v2/stocks/auctions?symbols=AMGN&start=2026-02-02", nil, http.StatusOK, &open)
		if d := open.Auctions["AMGN"]; len(d) != 1 || len(d[0].O) != 2 || len(d[0].C) != 0 {
			t.Fatalf("at 10:00: %+v", open.Auctions)
		}
		c.advanceTo(ny(2026, 2, 2, 16, 5))
		var closed auctionsPage
		c.json("GET", "/v2/stocks/auctions?symbols=AMGN&start=2026-02-02", nil, http.StatusOK, &closed)
		if d := closed.Auctions["AMGN"]; len(d) != 1 || len(d[0].C) != 2 || d[0].C[0].P <= 0 {
			t.Fatalf("after the close: %+v", closed.Auctions)
		}
	})
}

// Under a running clock the broker applies a split on its own, ahead of
// the ex date's midnight: the resting order in the symbol is canceled
// (the trade-update stream says so) and the position split, without any
// request to the broker.
func TestCorporateActionsRunningClock(t *testing.T) {
	act := startCorp(t).firstAction("forward_split", "forward_splits")
	// The clock runs from the moment it is made, the broker's start-up
	// included, which a busy machine can stretch past a whole minute of
	// clock: then the orders land after the split and the run shows
	// nothing. Each try doubles the clock time before the split.
	for lead := time.Minute; lead <= 16*time.Minute; lead *= 2 {
		if runningClockSplit(t, act, lead) {
			return
		}
	}
	t.Fatal("the orders never went in well before the split, even 16 minutes of clock (48 s of wall time) ahead")
}

// runningClockSplit runs the scenario with the clock lead ahead of the
// split at twenty times the wall clock's speed; false when the orders
// went in too close to the split to tell before from after.
func runningClockSplit(t *testing.T, act map[string]any, lead time.Duration) bool {
	sym := act["symbol"].(string)
	ratio := int64(act["new_rate"].(float64) / act["old_rate"].(float64))
	ex := nyMidnight(act["ex_date"].(string))
	const speed = 20
	srv := simtest.Start(t, sim.Config{Seed: 21, Clock: sim.NewReplayClock(ex.Add(-lead), speed)})
	defer srv.Close() // a running market costs CPU the next try needs
	c := caClient{t: t, base: srv.URL}

	// A safety net only: the split is lead/speed of wall time away.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute+lead/speed)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/v2/events/trades", nil)
	req.Header.Set("APCA-API-KEY-ID", "PKCORPACTIONS")
	req.Header.Set("APCA-API-SECRET-KEY", "secret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	events := bufio.NewScanner(resp.Body)
	// next waits for the trade update of order id with event ev.
	next := func(id, ev string) alpaca.TradeUpdate {
		t.Helper()
		for events.Scan() {
			line, ok := strings.CutPrefix(events.Text(), "data: ")
			if !ok {
				continue
			}
			var tu alpaca.TradeUpdate
			if err := json.Unmarshal([]byte(line), &tu); err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			if tu.Order.ID == id && tu.Event == ev {
				return tu
			}
		}
		t.Fatalf("stream ended waiting for %s of %s: %v", ev, id, events.Err())
		return alpaca.TradeUpdate{}
	}

	var buy, rest alpaca.Order
	c.json("POST", "/v2/orders", map[string]any{"symbol": sym, "qty": "10", "side": "buy", "type": "market", "time_in_force": "day"}, http.StatusOK, &buy)
	c.json("POST", "/v2/orders", map[string]any{"symbol": sym, "qty": "1", "side": "buy", "type": "limit", "limit_price": "1.00", "time_in_force": "gtc"}, http.StatusOK, &rest)
	margin := ex.Add(-5 * time.Second)
	if !rest.CreatedAt.Before(margin) {
		t.Logf("with %v of clock ahead the orders went in at %v, too close to the split at %s; trying with more", lead, rest.CreatedAt, ex)
		return false
	}
	if buy.Status != "filled" {
		if fill := next(buy.ID, "fill"); fill.Timestamp == nil || !fill.Timestamp.Before(margin) {
			t.Logf("with %v of clock ahead the buy filled at %v, too close to the split at %s; trying with more", lead, fill.Timestamp, ex)
			return false
		}
	}
	canceled := next(rest.ID, "canceled")
	if canceled.Timestamp == nil || canceled.Timestamp.After(ex) {
		t.Errorf("canceled at %v, want before the ex date's midnight %s", canceled.Timestamp, ex)
	}
	var p alpaca.Position
	c.json("GET", "/v2/positions/"+sym, nil, http.StatusOK, &p)
	if want := decimal.NewFromInt(10 * ratio); !p.Qty.Equal(want) {
		t.Errorf("qty %s after a %d-for-1 split, want %s", p.Qty, ratio, want)
	}
	var splits []alpaca.Activity
	c.json("GET", "/v2/account/activities/SPLIT", nil, http.StatusOK, &splits)
	if len(splits) != 1 {
		t.Errorf("SPLIT activities: %+v", splits)
	}
	return true
}
