package sim_test

import (
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/alpacahq/alpaca-trade-api-go/v3/marketdata"
	"github.com/getkin/kin-openapi/openapi3"

	"github.com/quantum-alpaca/quantum/internal/simtest"
	"github.com/quantum-alpaca/quantum/sim"
)

// sdkShape checks one JSON object of a route Alpaca's OpenAPI files
// (2025-04) do not describe against the official Go SDK's model of it:
// the object decodes into model (a pointer: every field of the right
// type), has every field the model names without omitempty, and has no
// field the model lacks but those in extra (fields Alpaca added after the
// SDK's model, such as the corporate actions' id and CUSIPs).
func sdkShape(t *testing.T, what string, obj json.RawMessage, model any, extra ...string) {
	t.Helper()
	if err := json.Unmarshal(obj, model); err != nil {
		t.Errorf("%s: does not decode as %T: %v: %s", what, model, err, obj)
		return
	}
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(obj, &keys); err != nil {
		t.Errorf("%s: not an object: %s", what, obj)
		return
	}
	rt := reflect.TypeOf(model).Elem()
	known := map[string]bool{}
	for i := range rt.NumField() {
		name, opts, _ := strings.Cut(rt.Field(i).Tag.Get("json"), ",")
		if name == "" || name == "-" {
			continue
		}
		known[name] = true
		if _, ok := keys[name]; !ok && !strings.Contains(opts, "omitempty") {
			t.Errorf("%s: field %s of %s missing: %s", what, name, rt, obj)
		}
	}
	for k := range keys {
		if !known[k] && !slices.Contains(extra, k) {
			t.Errorf("%s: field %s unknown to %s", what, k, rt)
		}
	}
}

// sdkShapeCall GETs a corporate-actions or auctions path and checks
// every object of the answer with sdkShape.
func sdkShapeCall(t *testing.T, base, path string) {
	t.Helper()
	req, _ := http.NewRequest("GET", base+path, nil)
	req.Header.Set("APCA-API-KEY-ID", "PKOPENAPI")
	req.Header.Set("APCA-API-SECRET-KEY", "openapi-secret-0123456789")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(b, &top); err != nil || len(top) != 2 {
		t.Fatalf("GET %s: %s", path, b)
	}
	if _, ok := top["next_page_token"]; !ok {
		t.Errorf("GET %s: no next_page_token", path)
	}
	n := 0
	switch {
	case strings.HasPrefix(path, "/v1/corporate-actions"):
		var groups map[string][]json.RawMessage
		if err := json.Unmarshal(top["corporate_actions"], &groups); err != nil {
			t.Fatalf("corporate_actions: %v", err)
		}
		for kind, items := range groups {
			for _, it := range items {
				n++
				switch kind {
				case "forward_splits":
					sdkShape(t, kind, it, new(marketdata.ForwardSplit), "id", "cusip")
				case "reverse_splits":
					sdkShape(t, kind, it, new(marketdata.ReverseSplit), "id", "old_cusip", "new_cusip")
				case "cash_dividends":
					sdkShape(t, kind, it, new(marketdata.CashDividend), "id", "cusip")
				default:
					t.Errorf("corporate action type %s", kind)
				}
			}
		}
	default:
		var bySym map[string][]json.RawMessage
		if err := json.Unmarshal(top["auctions"], &bySym); err != nil {
			t.Fatalf("auctions: %v", err)
		}
		for sym, days := range bySym {
			for _, d := range days {
				n++
				sdkShape(t, sym, d, new(marketdata.DailyAuctions))
				var prints struct{ O, C []json.RawMessage }
				_ = json.Unmarshal(d, &prints)
				for _, p := range append(prints.O, prints.C...) {
					sdkShape(t, sym, p, new(marketdata.Auction))
				}
			}
		}
	}
	if n == 0 {
		t.Errorf("GET %s: nothing to check", path)
	}
}

// The SPLIT and DIV activities a corporate action leaves match trading.yaml's
// NonTradeActivities (issue 9 item 6).
func TestCorporateActionActivitiesMatchAlpacaOpenAPI(t *testing.T) {
	srv := simtest.Start(t, sim.Config{Seed: 21, Clock: sim.NewSteppedClock(caStart)})
	trading := specRouter(t, "trading", srv.URL)
	c := caClient{t: t, base: srv.URL}
	split := c.firstAction("forward_split", "forward_splits")
	div := c.firstAction("cash_dividend", "cash_dividends")
	const key = "PKOPENAPICA"
	for _, sym := range []string{split["symbol"].(string), div["symbol"].(string)} {
		specCall(t, trading, srv.URL, key, "POST", "/v2/orders", "", map[string]any{
			"symbol": sym, "qty": "3", "side": "buy", "type": "market", "time_in_force": "day"}, 200)
	}
	last := nyMidnight(split["ex_date"].(string))
	if pay := nyMidnight(div["payable_date"].(string)); pay.After(last) {
		last = pay
	}
	c.advanceTo(last.Add(time.Minute))
	list, _ := specCall(t, trading, srv.URL, key, "GET", "/v2/account/activities?category=non_trade_activity", "", nil, 200).([]any)
	specCall(t, trading, srv.URL, key, "GET", "/v2/account/activities", "", nil, 200)
	specCall(t, trading, srv.URL, key, "GET", "/v2/account/activities/DIV", "", nil, 200)
	specCall(t, trading, srv.URL, key, "GET", "/v2/account/activities/SPLIT", "", nil, 200)
	var kinds []string
	for _, a := range list {
		kinds = append(kinds, a.(map[string]any)["activity_type"].(string))
	}
	slices.Sort(kinds)
	if strings.Join(kinds, ",") != "CSD,DIV,SPLIT" {
		t.Errorf("non-trade activities %v, want the deposit, a DIV and a SPLIT", kinds)
	}
}

// The SPLIT and DIV activities a corporate action leaves on a Broker API
// customer match broker.yaml's Activity on its activity routes (issue 9).
func TestBrokerCorporateActionActivitiesMatchAlpacaOpenAPI(t *testing.T) {
	srv := simtest.Start(t, sim.Config{Seed: 21, Clock: sim.NewSteppedClock(caStart), BrokerKey: firmKey, BrokerSecret: firmSecret})
	spec := specRouter(t, "broker", srv.URL)
	c := caClient{t: t, base: srv.URL}
	split := c.firstAction("forward_split", "forward_splits")
	div := c.firstAction("cash_dividend", "cash_dividends")
	acct, _ := brokerSpecCall(t, spec, srv.URL, "POST", "/v1/accounts", customerApplication("ca-openapi@example.com"), 200, true).(map[string]any)
	id, _ := acct["id"].(string)
	for _, sym := range []string{split["symbol"].(string), div["symbol"].(string)} {
		brokerSpecCall(t, spec, srv.URL, "POST", "/v1/trading/accounts/"+id+"/orders", map[string]any{
			"symbol": sym, "qty": "3", "side": "buy", "type": "market", "time_in_force": "day"}, 200, true)
	}
	c.advanceTo(caLast(split, div).Add(time.Minute))
	q := "?account_id=" + id
	list, _ := brokerSpecCall(t, spec, srv.URL, "GET", "/v1/accounts/activities"+q, nil, 200, true).([]any)
	brokerSpecCall(t, spec, srv.URL, "GET", "/v1/accounts/activities"+q+"&direction=asc&page_size=2", nil, 200, true)
	brokerSpecCall(t, spec, srv.URL, "GET", "/v1/accounts/activities/SPLIT"+q, nil, 200, true)
	brokerSpecCall(t, spec, srv.URL, "GET", "/v1/accounts/activities/DIV"+q+"&date="+div["payable_date"].(string), nil, 200, true)
	var kinds []string
	for _, a := range list {
		kinds = append(kinds, a.(map[string]any)["activity_type"].(string))
	}
	slices.Sort(kinds)
	if strings.Join(kinds, ",") != "CSD,DIV,FILL,FILL,SPLIT" {
		t.Errorf("activities %v, want the deposit, two fills, a DIV and a SPLIT", kinds)
	}

	// Activity is a oneOf of two schemas without required fields, which
	// every item matches both of (specStale): each item is checked field
	// by field against Activity's own fields and the one of its kind.
	doc, err := openapi3.NewLoader().LoadFromFile(filepath.Join("testdata", "openapi", "broker.json"))
	if err != nil {
		t.Fatal(err)
	}
	base := doc.Components.Schemas["Activity"].Value.AllOf[0].Value
	for _, item := range list {
		m := item.(map[string]any)
		kind := doc.Components.Schemas["NonTradeActivity"].Value
		if m["activity_type"] == "FILL" {
			kind = doc.Components.Schemas["TradeActivity"].Value
		}
		for _, schema := range []*openapi3.Schema{base, kind} {
			if err := schema.VisitJSON(m, openapi3.MultiErrors()); err != nil {
				t.Errorf("%v: %v", m["activity_type"], oneLine(err))
			}
		}
	}
}
