package market_test

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/alpacahq/alpaca-trade-api-go/v3/marketdata"

	"github.com/quantum-alpaca/quantum/sim/market"
)

// caRequest builds a GetCorporateActionsRequest from JSON: its Start and
// End are civil.Date, whose module this one does not require, and
// civil.Date reads itself from text.
func caRequest(t *testing.T, js string) marketdata.GetCorporateActionsRequest {
	t.Helper()
	var req marketdata.GetCorporateActionsRequest
	if err := json.Unmarshal([]byte(js), &req); err != nil {
		t.Fatal(err)
	}
	return req
}

func countCA(c marketdata.CorporateActions) int {
	return len(c.ForwardSplits) + len(c.ReverseSplits) + len(c.CashDividends)
}

// The official Go SDK's GetCorporateActions and GetAuctions read the
// simulator's answers, across pages, to the same values the endpoints
// give in one page (issue 9 item 6).
func TestSDKCorporateActionsAndAuctions(t *testing.T) {
	t.Run("GetCorporateActions", func(t *testing.T) {
		h := MustHarness(t, market.Config{Seed: 21, Universe: market.DefaultUniverse()})
		c := sdkClient(h)
		var want struct {
			CorporateActions marketdata.CorporateActions `json:"corporate_actions"`
			NextPageToken    *string                     `json:"next_page_token"`
		}
		h.mustGet(t, "/v1/corporate-actions?start=2026-01-01&end=2026-03-10&limit=1000", &want)
		if want.NextPageToken != nil || len(want.CorporateActions.ForwardSplits) == 0 || len(want.CorporateActions.CashDividends) < 10 {
			t.Fatalf("one page: %+v", want)
		}
		got, err := c.GetCorporateActions(caRequest(t, `{"Start":"2026-01-01","End":"2026-03-10","PageLimit":7}`))
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want.CorporateActions) {
			t.Fatalf("SDK, 7 a page: %d actions; one page: %d\n%+v\n%+v", countCA(got), countCA(want.CorporateActions), got, want.CorporateActions)
		}
		for _, d := range got.CashDividends {
			if d.Rate <= 0 || d.PayableDate == nil || d.ProcessDate != *d.PayableDate || d.RecordDate == nil || *d.RecordDate != d.ExDate {
				t.Errorf("dividend %+v", d)
			}
		}
		for _, s := range got.ForwardSplits {
			if s.NewRate <= s.OldRate || s.ProcessDate != s.ExDate || s.DueBillRedemptionDate == nil {
				t.Errorf("forward split %+v", s)
			}
		}

		sym := got.CashDividends[0].Symbol
		one, err := c.GetCorporateActions(caRequest(t, `{"Symbols":["`+sym+`"],"Types":["cash_dividend"],"Start":"2026-01-01","End":"2026-03-10"}`))
		if err != nil || len(one.CashDividends) == 0 || countCA(one) != len(one.CashDividends) {
			t.Fatalf("%s dividends: %v %+v", sym, err, one)
		}
		five, err := c.GetCorporateActions(caRequest(t, `{"Start":"2026-01-01","End":"2026-03-10","TotalLimit":5,"PageLimit":2}`))
		if err != nil || countCA(five) != 5 {
			t.Fatalf("TotalLimit 5: %v, %d actions", err, countCA(five))
		}
		desc, err := c.GetCorporateActions(caRequest(t, `{"Start":"2026-01-01","End":"2026-03-10","Sort":"desc"}`))
		if err != nil || countCA(desc) != countCA(got) || desc.CashDividends[0].ProcessDate.Before(desc.CashDividends[len(desc.CashDividends)-1].ProcessDate) {
			t.Fatalf("desc: %v %+v", err, desc.CashDividends)
		}
	})

	t.Run("GetAuctions", func(t *testing.T) {
		h := MustHarness(t, market.Config{Seed: 21})
		c := sdkClient(h)
		start := t0.AddDate(0, 0, -2)
		var want struct {
			Auctions map[string][]marketdata.DailyAuctions `json:"auctions"`
		}
		h.mustGet(t, "/v2/stocks/auctions?symbols=AAPL,SPY&start="+start.Format(time.RFC3339)+"&end="+t0.Format(time.RFC3339), &want)
		// The harness's history starts Sunday 2026-03-08: Monday's
		// auctions and Tuesday's opening one (the clock is 10:30).
		if len(want.Auctions["AAPL"]) != 2 || len(want.Auctions["AAPL"][1].Closing) != 0 {
			t.Fatalf("REST: %+v", want.Auctions)
		}
		one, err := c.GetAuctions("AAPL", marketdata.GetAuctionsRequest{Start: start, End: t0})
		if err != nil || !reflect.DeepEqual(one, want.Auctions["AAPL"]) {
			t.Fatalf("GetAuctions: %v\n%+v\n%+v", err, one, want.Auctions["AAPL"])
		}
		if d := one[0]; d.Date.String() != "2026-03-09" || len(d.Opening) != 2 || d.Opening[0].Condition != "O" ||
			len(d.Closing) != 2 || d.Closing[1].Condition != "M" || d.Closing[0].Price <= 0 {
			t.Errorf("Monday: %+v", d)
		}
		multi, err := c.GetMultiAuctions([]string{"AAPL", "SPY"}, marketdata.GetAuctionsRequest{Start: start, End: t0, PageLimit: 1})
		if err != nil || !reflect.DeepEqual(multi, want.Auctions) {
			t.Fatalf("GetMultiAuctions, a day a page: %v\n%+v\n%+v", err, multi, want.Auctions)
		}
	})
}
