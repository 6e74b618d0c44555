package sim_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/quantum-alpaca/quantum/internal/simtest"
	"github.com/quantum-alpaca/quantum/sim"
)

// specRouter finds a request's operation in one of Alpaca's OpenAPI files
// (reduced to their facts by scripts/openapi-facts.go), served from base.
func specRouter(t *testing.T, name, base string) routers.Router {
	t.Helper()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromFile(filepath.Join("testdata", "openapi", name+".json"))
	if err != nil {
		t.Fatalf("load %s spec: %v", name, err)
	}
	doc.Servers = openapi3.Servers{{URL: base}}
	r, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatalf("%s router: %v", name, err)
	}
	return r
}

// specStale lists where the OpenAPI files (from 2025-04, older than the
// API) disagree with what Alpaca returns today, as the shared API digest
// records it; the digest wins. Each entry: a JSON path fragment and the
// validator's message fragment.
var specStale = []struct {
	at  *regexp.Regexp // the JSON path the validator reports
	msg string         // a fragment of its message
	why string
}{
	{regexp.MustCompile(`(^|/)(hwm|trail_percent|trail_price)$`), "not nullable",
		"order fields trail_price, trail_percent and hwm are null when unset"},
	{regexp.MustCompile(`/legs/\d+/status$`), "not one of the allowed values",
		"bracket, OCO and OTO legs wait in status held, which the enum lacks"},
	{regexp.MustCompile(`^/\d+/status$`), "value must be a string",
		"close-all-positions items carry the HTTP status as an integer"},
	{regexp.MustCompile(`^/\d+$`), "matches more than one oneOf schemas",
		"the activity schemas have no required fields, so a FILL matches both"},
	{regexp.MustCompile(`(^|/)exchange$`), "Value:\n  \"CRYPTO\"",
		"crypto pairs and their positions are on exchange CRYPTO, which the enum lacks"},
}

// specRewritten lists values of the digest that the 2025-04 files lack,
// each rewritten to the files' nearest value before validation: unlike a
// specStale entry, which drops the error of the whole object, the rest of
// the object is still checked field by field.
var specRewritten = []struct{ from, to, why string }{
	{`"activity_type":"SPLIT"`, `"activity_type":"SSP"`,
		"SPLIT, the stock-split activity of Alpaca's current reference and broker.yaml, is not in trading.yaml's enum, whose stock split is SSP"},
}

var errorAt = regexp.MustCompile(`Error at "([^"]*)"`)

func stale(err error) bool {
	s := err.Error()
	m := errorAt.FindStringSubmatch(s)
	if m == nil {
		return false
	}
	for _, k := range specStale {
		if k.at.MatchString(m[1]) && strings.Contains(s, k.msg) {
			return true
		}
	}
	return false
}

// TestResponsesMatchAlpacaOpenAPI sends every call the OpenAPI files
// describe and the broker serves, and validates each answer (status, body
// schema: field names, types, enums, required fields) against Alpaca's
// own specification.
func TestResponsesMatchAlpacaOpenAPI(t *testing.T) {
	srv := simtest.Start(t, sim.Config{Seed: 21})
	trading := specRouter(t, "trading", srv.URL)
	data := specRouter(t, "data", srv.URL)
	broker := specRouter(t, "broker", srv.URL)

	// call sends one request, validates the answer against router's spec
	// and returns the decoded body.
	call := func(router routers.Router, method, path string, body any, wantStatus int) any {
		t.Helper()
		return specCall(t, router, srv.URL, "PKOPENAPI", method, path, "", body, wantStatus)
	}
	field := func(v any, name string) string {
		m, _ := v.(map[string]any)
		s, _ := m[name].(string)
		return s
	}

	t.Run("trading", func(t *testing.T) {
		call(trading, "GET", "/v2/account", nil, 200)
		call(trading, "GET", "/v2/account/configurations", nil, 200)
		call(trading, "PATCH", "/v2/account/configurations", map[string]any{"trade_confirm_email": "none"}, 200)
		call(trading, "GET", "/v2/clock", nil, 200)
		call(trading, "GET", "/v2/calendar?start=2026-01-01&end=2026-01-31", nil, 200)

		buy := call(trading, "POST", "/v2/orders", map[string]any{
			"symbol": "AAPL", "qty": "3", "side": "buy", "type": "market", "time_in_force": "day", "client_order_id": "openapi-1"}, 200)
		call(trading, "GET", "/v2/orders/"+field(buy, "id"), nil, 200)
		limit := call(trading, "POST", "/v2/orders", map[string]any{
			"symbol": "MSFT", "qty": "1", "side": "buy", "type": "limit", "limit_price": "1.00", "time_in_force": "gtc"}, 200)
		replaced := call(trading, "PATCH", "/v2/orders/"+field(limit, "id"), map[string]any{"limit_price": "1.10"}, 200)
		call(trading, "DELETE", "/v2/orders/"+field(replaced, "id"), nil, 204)
		call(trading, "POST", "/v2/orders", map[string]any{
			"symbol": "NVDA", "qty": "1", "side": "buy", "type": "limit", "limit_price": "1.00", "time_in_force": "day",
			"order_class": "bracket", "take_profit": map[string]any{"limit_price": "2.00"}, "stop_loss": map[string]any{"stop_price": "0.50"}}, 200)
		call(trading, "GET", "/v2/orders?status=all&nested=true&limit=50", nil, 200)
		call(trading, "DELETE", "/v2/orders", nil, 207)

		// Crypto: pairs, an order and its position (issue 9 item 2).
		call(trading, "POST", "/v2/orders", map[string]any{
			"symbol": "BTC/USD", "qty": "0.01", "side": "buy", "type": "market", "time_in_force": "gtc"}, 200)
		call(trading, "POST", "/v2/orders", map[string]any{
			"symbol": "ETH/USD", "notional": "100", "side": "buy", "type": "market", "time_in_force": "ioc"}, 200)
		call(trading, "GET", "/v2/positions/BTCUSD", nil, 200)

		call(trading, "GET", "/v2/positions", nil, 200)
		call(trading, "GET", "/v2/positions/AAPL", nil, 200)
		call(trading, "DELETE", "/v2/positions/AAPL?qty=1", nil, 200)
		call(trading, "DELETE", "/v2/positions?cancel_orders=true", nil, 207)

		call(trading, "GET", "/v2/account/activities", nil, 200)
		call(trading, "GET", "/v2/account/activities/FILL", nil, 200)
		call(trading, "GET", "/v2/account/portfolio/history?period=1D&timeframe=15Min", nil, 200)

		wl := call(trading, "POST", "/v2/watchlists", map[string]any{"name": "tech", "symbols": []string{"AAPL"}}, 200)
		id := field(wl, "id")
		call(trading, "GET", "/v2/watchlists", nil, 200)
		call(trading, "GET", "/v2/watchlists/"+id, nil, 200)
		call(trading, "PUT", "/v2/watchlists/"+id, map[string]any{"name": "tech2", "symbols": []string{"AAPL", "MSFT"}}, 200)
		call(trading, "POST", "/v2/watchlists/"+id, map[string]any{"symbol": "NVDA"}, 200)
		call(trading, "DELETE", "/v2/watchlists/"+id+"/MSFT", nil, 200)
		call(trading, "GET", "/v2/watchlists:by_name?name=tech2", nil, 200)
		call(trading, "DELETE", "/v2/watchlists/"+id, nil, 204)

		// Corporate-action announcements (issue 9 item 6): trading.yaml
		// lacks the route; broker.yaml has Alpaca's Announcement model, the
		// same, at /v1/corporate_actions/announcements. (By id the broker
		// answers the listed item; TestCorporateActionAnnouncements checks
		// they are equal.)
		now := time.Now().UTC()
		q := "?ca_types=dividend,split&date_type=ex_date&since=" + now.AddDate(0, 0, -60).Format(time.DateOnly) +
			"&until=" + now.AddDate(0, 0, 29).Format(time.DateOnly)
		if list, _ := specCall(t, broker, srv.URL, "PKOPENAPI", "GET", "/v2/corporate_actions/announcements"+q,
			"/v1/corporate_actions/announcements"+q, nil, 200).([]any); len(list) == 0 {
			t.Errorf("no announcements around %s", now.Format(time.DateOnly))
		}
	})

	t.Run("data", func(t *testing.T) {
		for _, p := range []string{
			"/v2/stocks/bars?symbols=AAPL,MSFT&timeframe=1Min&limit=5",
			"/v2/stocks/bars/latest?symbols=AAPL,MSFT",
			"/v2/stocks/trades?symbols=AAPL&limit=5",
			"/v2/stocks/trades/latest?symbols=AAPL,MSFT",
			"/v2/stocks/quotes?symbols=AAPL&limit=5",
			"/v2/stocks/quotes/latest?symbols=AAPL,MSFT",
			"/v2/stocks/snapshots?symbols=AAPL,MSFT",
			"/v2/stocks/AAPL/bars?timeframe=1Min&limit=5",
			"/v2/stocks/AAPL/bars/latest",
			"/v2/stocks/AAPL/trades?limit=5",
			"/v2/stocks/AAPL/trades/latest",
			"/v2/stocks/AAPL/quotes?limit=5",
			"/v2/stocks/AAPL/quotes/latest",
			"/v2/stocks/AAPL/snapshot",
			"/v2/stocks/meta/exchanges",
			"/v2/stocks/meta/conditions/trade?tape=A",
			"/v1beta1/screener/stocks/movers?top=5",
			"/v1beta1/news?symbols=AAPL&limit=5",
		} {
			call(data, "GET", p, nil, 200)
		}
		// Routes data.yaml (2025-04) lacks, checked against the official Go
		// SDK's models instead (issue 9 item 6).
		now := time.Now().UTC()
		sdkShapeCall(t, srv.URL, "/v2/stocks/auctions?symbols=AAPL,MSFT&start="+now.AddDate(0, 0, -5).Format(time.DateOnly))
		sdkShapeCall(t, srv.URL, "/v1/corporate-actions?start="+now.AddDate(0, 0, -60).Format(time.DateOnly)+"&end="+now.Format(time.DateOnly))
	})
}

// specCall sends one request to the broker at base as key, validates the
// answer (status, body schema) against router's spec, where the route is
// found at specPath (path when empty; Alpaca's files describe some routes
// under another API's path, with the same model), and returns the decoded
// body.
func specCall(t *testing.T, router routers.Router, base, key, method, path, specPath string, body any, wantStatus int) any {
	t.Helper()
	return specExchange(t, router, base, specRequest{method: method, path: path, specPath: specPath, body: body, want: wantStatus,
		validate: true, rewrite: true, stale: stale,
		auth: func(r *http.Request) {
			r.Header.Set("APCA-API-KEY-ID", key)
			r.Header.Set("APCA-API-SECRET-KEY", "openapi-secret-0123456789")
		}})
}

// specRequest is one call of specExchange and how its answer is judged.
type specRequest struct {
	method, path string
	specPath     string // where the spec describes the route; path when empty
	body         any
	auth         func(*http.Request)
	want         int
	validate     bool
	rewrite      bool             // apply specRewritten before validating
	stale        func(error) bool // the spec's own errors, not the broker's
}

// specExchange sends c to the broker at base, requires its status and,
// when c.validate, checks the answer against router's spec; it returns
// the decoded body (nil on a wrong status).
func specExchange(t *testing.T, router routers.Router, base string, c specRequest) any {
	t.Helper()
	ctx := context.Background()
	var raw []byte
	if c.body != nil {
		raw, _ = json.Marshal(c.body)
	}
	req, err := http.NewRequestWithContext(ctx, c.method, base+c.path, bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	c.auth(req)
	if c.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != c.want {
		t.Errorf("%s %s: status %d, want %d: %s", c.method, c.path, resp.StatusCode, c.want, b)
		return nil
	}
	var v any
	_ = json.Unmarshal(b, &v)
	if !c.validate {
		return v
	}
	specPath := c.specPath
	if specPath == "" {
		specPath = c.path
	}
	// The router needs a request it can read again.
	vreq, _ := http.NewRequestWithContext(ctx, c.method, base+specPath, bytes.NewReader(raw))
	route, params, err := router.FindRoute(vreq)
	if err != nil {
		t.Errorf("%s %s: not in the spec: %v", c.method, specPath, err)
		return v
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: vreq, PathParams: params, Route: route},
		Status:                 resp.StatusCode,
		Header:                 resp.Header,
		Options:                &openapi3filter.Options{MultiError: true, IncludeResponseStatus: true},
	}
	if c.rewrite {
		for _, rw := range specRewritten {
			b = bytes.ReplaceAll(b, []byte(rw.from), []byte(rw.to))
		}
	}
	in.SetBodyBytes(b)
	if err := openapi3filter.ValidateResponse(ctx, in); err != nil {
		var me openapi3.MultiError
		if !errors.As(err, &me) {
			me = openapi3.MultiError{err}
		}
		for _, e := range me {
			if !c.stale(e) {
				t.Errorf("%s %s: %v", c.method, c.path, oneLine(e))
			}
		}
	}
	return v
}

func oneLine(err error) string {
	s := err.Error()
	if i := strings.Index(s, "\nSchema:"); i >= 0 {
		s = s[:i]
	}
	return strings.Join(strings.Fields(s), " ")
}
