package sim_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/quantum-alpaca/quantum/sim"
)

func newServer(t testing.TB) *sim.Server {
	t.Helper()
	s, err := sim.New(sim.Config{AutoProvision: true, Seed: 9})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func call(h http.Handler, method, path, body string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	r.Header.Set("APCA-API-KEY-ID", "PKROBUST")
	r.Header.Set("APCA-API-SECRET-KEY", "secret")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// Hostile or broken input gets a 4xx with Alpaca's error body, never a
// panic or a 5xx, and leaves the account as it was.
func TestBadOrderInput(t *testing.T) {
	h := newServer(t).Handler()
	before := call(h, "GET", "/v2/account", "").Body.String()
	cases := map[string]struct {
		body   string
		status int
	}{
		"not json":         {`{"symbol":`, 400},
		"array":            {`[1,2]`, 400},
		"empty":            {``, 400},
		"trailing":         {`{"symbol":"AAPL"} {}`, 400},
		"qty not a number": {`{"symbol":"AAPL","qty":"lots","side":"buy","type":"market","time_in_force":"day"}`, 400},
		"qty wrong type":   {`{"symbol":"AAPL","qty":true,"side":"buy","type":"market","time_in_force":"day"}`, 400},
		"negative qty":     {`{"symbol":"AAPL","qty":"-5","side":"buy","type":"market","time_in_force":"day"}`, 422},
		"zero qty":         {`{"symbol":"AAPL","qty":"0","side":"buy","type":"market","time_in_force":"day"}`, 422},
		"absurd qty":       {`{"symbol":"AAPL","qty":"1e300","side":"buy","type":"market","time_in_force":"day"}`, 422},
		"many decimals":    {`{"symbol":"AAPL","qty":"1.0000000001","side":"buy","type":"market","time_in_force":"day"}`, 422},
		"absurd price":     {`{"symbol":"AAPL","qty":"1","side":"buy","type":"limit","limit_price":"99999999999999999999","time_in_force":"day"}`, 422},
		"sub-penny":        {`{"symbol":"AAPL","qty":"1","side":"buy","type":"limit","limit_price":"100.123","time_in_force":"day"}`, 422},
		"bad side":         {`{"symbol":"AAPL","qty":"1","side":"up","type":"market","time_in_force":"day"}`, 422},
		"bad type":         {`{"symbol":"AAPL","qty":"1","side":"buy","type":"moon","time_in_force":"day"}`, 422},
		"bad tif":          {`{"symbol":"AAPL","qty":"1","side":"buy","type":"market","time_in_force":"forever"}`, 422},
		"unknown symbol":   {`{"symbol":"NOPE","qty":"1","side":"buy","type":"market","time_in_force":"day"}`, 422},
		"qty and notional": {`{"symbol":"AAPL","qty":"1","notional":"100","side":"buy","type":"market","time_in_force":"day"}`, 422},
		"no qty":           {`{"symbol":"AAPL","side":"buy","type":"market","time_in_force":"day"}`, 422},
		"huge body":        {`{"symbol":"` + strings.Repeat("A", 100<<10) + `"}`, 413},
		"long client id":   {`{"symbol":"AAPL","qty":"1","side":"buy","type":"market","time_in_force":"day","client_order_id":"` + strings.Repeat("x", 200) + `"}`, 422},
		"too much to buy":  {`{"symbol":"AAPL","qty":"1000000","side":"buy","type":"market","time_in_force":"day"}`, 403},
		"sell not held":    {`{"symbol":"AAPL","qty":"1","side":"sell","type":"market","time_in_force":"gtc","order_class":"oco","take_profit":{"limit_price":"1"},"stop_loss":{"stop_price":"2"}}`, 422},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			w := call(h, "POST", "/v2/orders", tc.body)
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.status, w.Body)
			}
			var e struct {
				Code    int    `json:"code"`
				Message string `json:"message"`
			}
			if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Message == "" || e.Code == 0 {
				t.Fatalf("error body %q: %v", w.Body, err)
			}
		})
	}
	if after := call(h, "GET", "/v2/account", "").Body.String(); after != before {
		t.Fatalf("account changed by rejected orders:\n%s\n%s", before, after)
	}
	if w := call(h, "GET", "/v2/orders?status=all", ""); strings.TrimSpace(w.Body.String()) != "[]" {
		t.Fatalf("rejected orders were stored: %s", w.Body)
	}
}

// Fields Alpaca does not know are ignored, as Alpaca ignores them: the
// community clients that send extras (an order_id in a replace body, a
// watchlist's uuid) work here as they work there. Known fields are still
// checked.
func TestUnknownFieldsIgnored(t *testing.T) {
	h := newServer(t).Handler()
	w := call(h, "POST", "/v2/orders", `{"symbol":"AAPL","qty":"1","side":"buy","type":"limit","limit_price":"1.25","time_in_force":"gtc","colour":"red","legs":null}`)
	if w.Code != http.StatusOK {
		t.Fatalf("order with an unknown field: %d %s", w.Code, w.Body)
	}
	var o struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &o); err != nil || o.ID == "" {
		t.Fatalf("order reply %s: %v", w.Body, err)
	}
	if w := call(h, "PATCH", "/v2/orders/"+o.ID, `{"order_id":"`+o.ID+`","limit_price":1.5}`); w.Code != http.StatusOK {
		t.Fatalf("replace with order_id in the body: %d %s", w.Code, w.Body)
	}
	w = call(h, "POST", "/v2/watchlists", `{"name":"extras","symbols":["AAPL"],"uuid":"x"}`)
	if w.Code != http.StatusOK {
		t.Fatalf("watchlist with a uuid: %d %s", w.Code, w.Body)
	}
	var wl struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal(w.Body.Bytes(), &wl)
	if w := call(h, "PUT", "/v2/watchlists/"+wl.ID, `{"name":"extras2","symbols":["MSFT"],"uuid":"`+wl.ID+`"}`); w.Code != http.StatusOK {
		t.Fatalf("watchlist update with a uuid: %d %s", w.Code, w.Body)
	}
	if w := call(h, "POST", "/v2/orders", `{"symbol":"AAPL","qty":true,"side":"buy","type":"market","time_in_force":"day","colour":"red"}`); w.Code != http.StatusBadRequest {
		t.Fatalf("a known field of the wrong type beside an unknown one: %d, want 400", w.Code)
	}
}

func TestBadQueryParameters(t *testing.T) {
	h := newServer(t).Handler()
	for _, path := range []string{
		"/v2/orders?status=sideways",
		"/v2/orders?limit=0",
		"/v2/orders?limit=501",
		"/v2/orders?after=yesterday",
		"/v2/orders?direction=up",
		"/v2/account/activities?page_size=1000",
		"/v2/account/portfolio/history?period=forever",
		"/v2/calendar?start=notadate",
	} {
		if w := call(h, "GET", path, ""); w.Code != 422 {
			t.Errorf("%s: status %d, want 422: %s", path, w.Code, w.Body)
		}
	}
	if w := call(h, "GET", "/v2/nothing-here", ""); w.Code != 404 {
		t.Errorf("unknown endpoint: %d", w.Code)
	}
}

// FuzzOrderBody throws arbitrary bodies at POST /v2/orders: the broker
// must answer every one with a well-formed response and never panic.
func FuzzOrderBody(f *testing.F) {
	for _, s := range []string{
		`{"symbol":"AAPL","qty":"1","side":"buy","type":"market","time_in_force":"day"}`,
		`{"symbol":"MSFT","notional":"100.5","side":"buy","type":"market","time_in_force":"day"}`,
		`{"symbol":"AAPL","qty":"2","side":"buy","type":"market","time_in_force":"gtc","order_class":"bracket","take_profit":{"limit_price":"9999"},"stop_loss":{"stop_price":"1","limit_price":"0.5"}}`,
		`{"symbol":"AAPL","qty":"1","side":"sell","type":"trailing_stop","trail_percent":"2","time_in_force":"day"}`,
		`{"symbol":"AAPL","qty":null,"notional":null,"client_order_id":"","order_class":"","legs":null}`,
	} {
		f.Add(s)
	}
	s, err := sim.New(sim.Config{AutoProvision: true, Seed: 1})
	if err != nil {
		f.Fatal(err)
	}
	defer s.Close()
	h := s.Handler()
	f.Fuzz(func(t *testing.T, body string) {
		w := call(h, "POST", "/v2/orders", body)
		if w.Code >= 500 {
			t.Fatalf("status %d for %q: %s", w.Code, body, w.Body)
		}
		b, _ := io.ReadAll(w.Body)
		if !json.Valid(bytes.TrimSpace(b)) {
			t.Fatalf("invalid JSON reply %q for %q", b, body)
		}
	})
}
