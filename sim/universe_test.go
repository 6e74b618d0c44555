package sim_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/quantum-alpaca/quantum/alpaca"
	"github.com/quantum-alpaca/quantum/sim"
	"github.com/quantum-alpaca/quantum/sim/market"
)

// The default universe is the S&P 500 and the most traded ETFs: the
// large caps a client's own list names are assets, trade and have data;
// an unknown symbol still gets 422 could not find asset.
func TestUniverseTrades(t *testing.T) {
	h := newServer(t).Handler()
	var assets []alpaca.Asset
	if err := json.Unmarshal(call(h, "GET", "/v2/assets", "").Body.Bytes(), &assets); err != nil || len(assets) < 600 {
		t.Fatalf("%d assets: %v", len(assets), err)
	}
	// Large caps of the kind the Go SDK's long-short example trades, which
	// the old universe of 41 lacked.
	for _, sym := range []string{"GE", "CAT", "GS", "MS", "QCOM", "BA", "GM", "PANW", "VOO", "XLE"} {
		w := call(h, "GET", "/v2/assets/"+sym, "")
		var a alpaca.Asset
		if err := json.Unmarshal(w.Body.Bytes(), &a); err != nil || w.Code != http.StatusOK || !a.Tradable || a.Name == "" || a.Exchange == "" {
			t.Errorf("asset %s: %d %s", sym, w.Code, w.Body)
			continue
		}
		w = call(h, "POST", "/v2/orders", `{"symbol":"`+sym+`","qty":"2","side":"buy","type":"market","time_in_force":"day"}`)
		var o alpaca.Order
		if err := json.Unmarshal(w.Body.Bytes(), &o); err != nil || w.Code != http.StatusOK || o.Status != alpaca.StatusFilled && o.Status != alpaca.StatusPartiallyFilled {
			t.Errorf("order %s: %d %s", sym, w.Code, w.Body)
		}
		if w := call(h, "GET", "/v2/stocks/"+sym+"/bars?timeframe=1Day", ""); w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"c":`) {
			t.Errorf("bars %s: %d %s", sym, w.Code, w.Body)
		}
	}
	w := call(h, "POST", "/v2/orders", `{"symbol":"NOPE","qty":"1","side":"buy","type":"market","time_in_force":"day"}`)
	if w.Code != http.StatusUnprocessableEntity || !strings.Contains(w.Body.String(), "could not find asset") {
		t.Errorf("order for an unknown symbol: %d %s", w.Code, w.Body)
	}
}

// An asset list saved from Alpaca's GET /v2/assets becomes the universe:
// its active US equities with Alpaca's ids, names, exchanges and flags; a
// symbol of the default universe that has its own price process keeps
// it, so it trades as it does without the file.
func TestParseAssets(t *testing.T) {
	const saved = `[
	 {"id":"b0b6dd9d-8b9b-48a9-ba46-b9d54906e415","class":"us_equity","exchange":"NASDAQ","symbol":"AAPL","name":"Apple Inc. Common Stock","status":"active","tradable":true,"marginable":true,"maintenance_margin_requirement":30,"shortable":true,"easy_to_borrow":true,"fractionable":true,"attributes":["fractional_eh_enabled","has_options"]},
	 {"id":"7f6c1a2e-0000-4000-8000-000000000001","class":"us_equity","exchange":"NYSE","symbol":"ZZZQ","name":"Zed Corp","status":"active","tradable":true,"marginable":false,"shortable":false,"easy_to_borrow":false,"fractionable":false},
	 {"id":"7f6c1a2e-0000-4000-8000-000000000002","class":"us_equity","exchange":"OTC","symbol":"OTCQ","name":"Over the Counter","status":"active","tradable":false,"marginable":false,"shortable":false,"easy_to_borrow":false,"fractionable":false},
	 {"id":"7f6c1a2e-0000-4000-8000-000000000003","class":"us_equity","exchange":"NASDAQ","symbol":"GONE","name":"Delisted","status":"inactive","tradable":false},
	 {"id":"7f6c1a2e-0000-4000-8000-000000000004","class":"crypto","exchange":"CRYPTO","symbol":"BTC/USD","name":"Bitcoin","status":"active","tradable":true}
	]`
	u, err := sim.ParseAssets([]byte(saved))
	if err != nil {
		t.Fatal(err)
	}
	clock := time.Date(2026, 3, 10, 15, 0, 0, 0, time.UTC)
	srv, err := sim.New(sim.Config{AutoProvision: true, Seed: 4, Universe: u, Now: func() time.Time { return clock }})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	h := srv.Handler()
	var assets []alpaca.Asset
	if err := json.Unmarshal(call(h, "GET", "/v2/assets", "").Body.Bytes(), &assets); err != nil {
		t.Fatal(err)
	}
	got := map[string]alpaca.Asset{}
	for _, a := range assets {
		got[a.Symbol] = a
	}
	if len(got) != 4 || got["AAPL"].ID != "b0b6dd9d-8b9b-48a9-ba46-b9d54906e415" || got["ZZZQ"].Exchange != "NYSE" ||
		got["ZZZQ"].Shortable || got["OTCQ"].Tradable || got[market.TestSymbol].Symbol == "" {
		t.Fatalf("assets: %+v", got)
	}
	w := call(h, "POST", "/v2/orders", `{"symbol":"OTCQ","qty":"1","side":"buy","type":"market","time_in_force":"day"}`)
	if w.Code < 400 {
		t.Errorf("an untradable asset was traded: %d %s", w.Code, w.Body)
	}
	if w := call(h, "POST", "/v2/orders", `{"symbol":"ZZZQ","qty":"1","side":"buy","type":"market","time_in_force":"day"}`); w.Code != http.StatusOK {
		t.Errorf("order ZZZQ: %d %s", w.Code, w.Body)
	}
	// AAPL's series is the default universe's.
	def, err := sim.New(sim.Config{AutoProvision: true, Seed: 4, Now: func() time.Time { return clock }})
	if err != nil {
		t.Fatal(err)
	}
	defer def.Close()
	path := "/v2/stocks/AAPL/bars?timeframe=1Min&limit=10000&start=2026-03-05T00:00:00Z"
	if a, b := call(h, "GET", path, "").Body.String(), call(def.Handler(), "GET", path, "").Body.String(); a != b {
		t.Error("AAPL's bars differ from the default universe's")
	}

	for name, bad := range map[string]string{
		"NotJSON":   `{"symbol":"AAPL"}`,
		"Duplicate": `[{"symbol":"X","class":"us_equity","status":"active"},{"symbol":"X","class":"us_equity","status":"active"}]`,
		"Nothing":   `[{"symbol":"BTC/USD","class":"crypto","status":"active"}]`,
		"NoSymbol":  `[{"symbol":"","class":"us_equity","status":"active"}]`,
	} {
		if _, err := sim.ParseAssets([]byte(bad)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
