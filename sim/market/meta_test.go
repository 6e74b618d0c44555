package market_test

import (
	"net/url"
	"testing"
	"time"

	"github.com/quantum-alpaca/quantum/sim/market"
)

// The code tables, the screener and the news answer in Alpaca's shapes,
// from the market the other endpoints show; the news is the same for the
// same seed, and its pages join up without a gap or a repeat.
func TestMetaScreenerNews(t *testing.T) {
	h := liveHarness(t)

	t.Run("Exchanges", func(t *testing.T) {
		var ex map[string]string
		h.mustGet(t, "/v2/stocks/meta/exchanges", &ex)
		if ex["V"] != "IEX" || ex["N"] != "New York Stock Exchange" {
			t.Fatalf("exchanges %v", ex)
		}
	})
	t.Run("Conditions", func(t *testing.T) {
		var c map[string]string
		h.mustGet(t, "/v2/stocks/meta/conditions/trade?tape=A", &c)
		if c["@"] == "" {
			t.Fatalf("trade conditions without the regular sale the tape uses: %v", c)
		}
		for _, bad := range []string{"/v2/stocks/meta/conditions/trade", "/v2/stocks/meta/conditions/trade?tape=Q", "/v2/stocks/meta/conditions/bars?tape=A"} {
			if status, _ := h.get(t, bad, nil); status != 400 {
				t.Errorf("GET %s: %d, want 400", bad, status)
			}
		}
	})
	t.Run("MostActives", func(t *testing.T) {
		var body struct {
			MostActives []struct {
				Symbol     string `json:"symbol"`
				Volume     uint64 `json:"volume"`
				TradeCount uint64 `json:"trade_count"`
			} `json:"most_actives"`
			LastUpdated time.Time `json:"last_updated"`
		}
		h.mustGet(t, "/v1beta1/screener/stocks/most-actives?top=5", &body)
		if len(body.MostActives) != 5 || body.LastUpdated.IsZero() {
			t.Fatalf("most actives %+v", body)
		}
		for i := 1; i < len(body.MostActives); i++ {
			if body.MostActives[i].Volume > body.MostActives[i-1].Volume {
				t.Fatalf("not ranked by volume: %+v", body.MostActives)
			}
		}
		var snap struct {
			DailyBar struct {
				V uint64 `json:"v"`
			} `json:"dailyBar"`
		}
		h.mustGet(t, "/v2/stocks/"+body.MostActives[0].Symbol+"/snapshot", &snap)
		if snap.DailyBar.V != body.MostActives[0].Volume {
			t.Errorf("most active %s: volume %d, its snapshot's daily bar %d", body.MostActives[0].Symbol, body.MostActives[0].Volume, snap.DailyBar.V)
		}
		if status, _ := h.get(t, "/v1beta1/screener/stocks/most-actives?top=500", nil); status != 422 {
			t.Errorf("top=500: %d, want 422", status)
		}
	})
	t.Run("Movers", func(t *testing.T) {
		var body struct {
			Gainers, Losers []struct {
				Symbol        string  `json:"symbol"`
				PercentChange float64 `json:"percent_change"`
			}
			MarketType string `json:"market_type"`
		}
		h.mustGet(t, "/v1beta1/screener/stocks/movers?top=3", &body)
		if body.MarketType != "stocks" || len(body.Gainers)+len(body.Losers) == 0 || len(body.Gainers) > 3 || len(body.Losers) > 3 {
			t.Fatalf("movers %+v", body)
		}
		for _, g := range body.Gainers {
			if g.PercentChange <= 0 {
				t.Errorf("gainer %+v", g)
			}
		}
		for _, l := range body.Losers {
			if l.PercentChange >= 0 {
				t.Errorf("loser %+v", l)
			}
		}
		if status, _ := h.get(t, "/v1beta1/screener/bonds/movers", nil); status != 400 {
			t.Errorf("bonds: %d, want 400", status)
		}
	})
	t.Run("NewsPages", func(t *testing.T) {
		type page struct {
			News []struct {
				ID        int64     `json:"id"`
				Headline  string    `json:"headline"`
				CreatedAt time.Time `json:"created_at"`
				Symbols   []string  `json:"symbols"`
				Content   string    `json:"content"`
			} `json:"news"`
			NextPageToken *string `json:"next_page_token"`
		}
		base := "/v1beta1/news?symbols=AAPL,MSFT&start=2026-03-03T00:00:00Z&end=2026-03-10T00:00:00Z"
		var all page
		h.mustGet(t, base+"&limit=50", &all)
		if len(all.News) < 10 {
			t.Fatalf("%d articles in a week of two symbols", len(all.News))
		}
		seen := map[int64]bool{}
		var token string
		for n := 0; ; n++ {
			var p page
			path := base + "&limit=7"
			if token != "" {
				path += "&page_token=" + url.QueryEscape(token)
			}
			h.mustGet(t, path, &p)
			for i, a := range p.News {
				k := len(seen)
				if seen[a.ID] || k >= len(all.News) || all.News[k].ID != a.ID {
					t.Fatalf("page %d item %d: %d, want the unpaged list's item %d", n, i, a.ID, k)
				}
				seen[a.ID] = true
				if a.Content != a.Headline || (a.Symbols[0] != "AAPL" && a.Symbols[0] != "MSFT") {
					t.Fatalf("article %+v", a)
				}
			}
			if p.NextPageToken == nil {
				break
			}
			token = *p.NextPageToken
		}
		if len(seen) != min(50, len(all.News)) && len(all.News) < 50 {
			t.Fatalf("pages hold %d articles, the unpaged list %d", len(seen), len(all.News))
		}
		for i := 1; i < len(all.News); i++ {
			if all.News[i].CreatedAt.After(all.News[i-1].CreatedAt) {
				t.Fatal("not newest first")
			}
		}
		var again page
		h.mustGet(t, base+"&limit=50", &again)
		other := MustHarness(t, market.Config{Seed: 99})
		var elsewhere page
		other.mustGet(t, base+"&limit=50", &elsewhere)
		if again.News[0].ID != all.News[0].ID || elsewhere.News[0].ID == all.News[0].ID {
			t.Error("news is not a function of the seed")
		}
		var withContent page
		h.mustGet(t, base+"&limit=1&include_content=true", &withContent)
		if withContent.News[0].Content == withContent.News[0].Headline {
			t.Error("include_content=true gave no content")
		}
		if status, _ := h.get(t, "/v1beta1/news?limit=51", nil); status != 422 {
			t.Errorf("limit=51: %d, want 422", status)
		}
	})
}
