package sim_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"

	"github.com/quantum-alpaca/quantum/internal/simtest"
	"github.com/quantum-alpaca/quantum/sim"
)

// cryptoDataAt is a Sunday: crypto data is there whatever the stock
// market does.
var cryptoDataAt = time.Date(2026, 11, 15, 14, 30, 20, 0, time.UTC)

func startCryptoData(t *testing.T) cryptoClient {
	srv := simtest.Start(t, sim.Config{Seed: 9, Session: sim.NYSE{}, Clock: sim.NewSteppedClock(cryptoDataAt)})
	return cryptoClient{t, srv.URL, "PKCRYPTODATA"}
}

// pages reads every page of a historical crypto request and returns the
// items by symbol, in order.
func (c cryptoClient) pages(path, key string, limit int) (map[string][]json.RawMessage, int) {
	c.t.Helper()
	out := map[string][]json.RawMessage{}
	token, n := "", 0
	for ; n < 1000; n++ {
		p := path + "&limit=" + itoa(limit)
		if token != "" {
			p += "&page_token=" + url.QueryEscape(token)
		}
		var body map[string]json.RawMessage
		c.json("GET", p, "", 200, &body)
		var items map[string][]json.RawMessage
		if err := json.Unmarshal(body[key], &items); err != nil {
			c.t.Fatalf("%s: %s: %v", p, body[key], err)
		}
		count := 0
		for sym, v := range items {
			out[sym] = append(out[sym], v...)
			count += len(v)
		}
		if count > limit {
			c.t.Fatalf("%s: %d items, limit %d", p, count, limit)
		}
		var next *string
		_ = json.Unmarshal(body["next_page_token"], &next)
		if next == nil {
			return out, n + 1
		}
		token = *next
	}
	c.t.Fatalf("%s: no end of pages", path)
	return nil, 0
}

func itoa(n int) string { return jsonInt(n) }

func jsonInt(n int) string { b, _ := json.Marshal(n); return string(b) }

// Historical bars, trades and quotes page as one request reads them, in
// both directions, for several pairs.
func TestCryptoDataPaging(t *testing.T) {
	c := startCryptoData(t)
	for _, k := range []struct{ path, key string }{
		{"/v1beta3/crypto/us/bars?symbols=ETH/USD,BTC/USD&timeframe=1Min&start=2026-11-15T12:00:00Z&end=2026-11-15T13:00:00Z", "bars"},
		{"/v1beta3/crypto/us/bars?symbols=BTC/USD,DOGE/USD&timeframe=15Min&start=2026-11-14T00:00:00Z", "bars"},
		{"/v1beta3/crypto/us/trades?symbols=BTC/USD,SOL/USD&start=2026-11-15T14:00:00Z", "trades"},
		{"/v1beta3/crypto/us/quotes?symbols=BTC/USD,LTC/USD&start=2026-11-15T13:30:00Z", "quotes"},
	} {
		all, _ := c.pages(k.path, k.key, 10000)
		if len(all) != 2 {
			t.Fatalf("%s: symbols %d, want 2", k.path, len(all))
		}
		paged, n := c.pages(k.path, k.key, 7)
		if n < 3 || !reflect.DeepEqual(all, paged) {
			t.Errorf("%s: %d pages of 7 differ from one page", k.path, n)
			for sym := range all {
				for i := range all[sym] {
					if i >= len(paged[sym]) || !bytes.Equal(all[sym][i], paged[sym][i]) {
						t.Logf("%s %d: %s vs %s (lens %d %d)", sym, i, all[sym][i], paged[sym][min(i, len(paged[sym])-1)], len(all[sym]), len(paged[sym]))
						break
					}
				}
			}
		}
		desc, _ := c.pages(k.path+"&sort=desc", k.key, 11)
		for sym, v := range all {
			d := desc[sym]
			if len(d) != len(v) {
				t.Fatalf("%s %s: desc %d items, asc %d", k.path, sym, len(d), len(v))
			}
			for i := range v {
				if !bytes.Equal(v[i], d[len(d)-1-i]) {
					t.Fatalf("%s %s: desc is not asc reversed at %d", k.path, sym, i)
				}
			}
		}
	}

	// Daily bars are UTC days, 24/7, ending with today's so far.
	var daily struct {
		Bars map[string][]struct {
			T time.Time `json:"t"`
			O float64   `json:"o"`
			H float64   `json:"h"`
			L float64   `json:"l"`
			C float64   `json:"c"`
			V float64   `json:"v"`
		} `json:"bars"`
	}
	c.json("GET", "/v1beta3/crypto/us/bars?symbols=BTC/USD&timeframe=1Day&start=2026-11-08", "", 200, &daily)
	bars := daily.Bars["BTC/USD"]
	if len(bars) != 8 {
		t.Fatalf("daily bars: %d, want 8 (Nov 8 to 15, weekends too)", len(bars))
	}
	for i, b := range bars {
		if want := time.Date(2026, 11, 8+i, 0, 0, 0, 0, time.UTC); !b.T.Equal(want) {
			t.Errorf("bar %d at %s, want %s", i, b.T, want)
		}
		if !(b.L <= min(b.O, b.C) && b.H >= max(b.O, b.C) && b.V > 0) {
			t.Errorf("bar %d: %+v", i, b)
		}
	}
}

// The latest quote is the one trading uses: a market buy fills at its ask.
// Latest bars, trades, snapshots and order books are there for each pair.
func TestCryptoDataLatest(t *testing.T) {
	c := startCryptoData(t)
	var quotes struct {
		Quotes map[string]struct {
			BP float64 `json:"bp"`
			AP float64 `json:"ap"`
		} `json:"quotes"`
	}
	c.json("GET", "/v1beta3/crypto/us/latest/quotes?symbols=BTC/USD,ETH/USD,NOPE/USD", "", 200, &quotes)
	if len(quotes.Quotes) != 2 {
		t.Fatalf("latest quotes: %+v", quotes)
	}
	q := quotes.Quotes["BTC/USD"]
	var o struct {
		FilledAvgPrice string `json:"filled_avg_price"`
	}
	c.json("POST", "/v2/orders", `{"symbol":"BTC/USD","qty":"0.001","side":"buy","type":"market","time_in_force":"gtc"}`, 200, &o)
	if o.FilledAvgPrice != jsonFloat(q.AP) || !(q.BP < q.AP) {
		t.Errorf("market buy at %s, latest quote %+v", o.FilledAvgPrice, q)
	}

	var books struct {
		Orderbooks map[string]struct {
			B []struct{ P, S float64 } `json:"b"`
			A []struct{ P, S float64 } `json:"a"`
		} `json:"orderbooks"`
	}
	c.json("GET", "/v1beta3/crypto/us/latest/orderbooks?symbols=ETH/USD", "", 200, &books)
	ob := books.Orderbooks["ETH/USD"]
	if len(ob.B) == 0 || len(ob.A) == 0 || ob.B[0].P >= ob.A[0].P {
		t.Fatalf("orderbook: %+v", ob)
	}
	for i := 1; i < len(ob.B); i++ {
		if ob.B[i].P >= ob.B[i-1].P || ob.A[i].P <= ob.A[i-1].P {
			t.Errorf("orderbook levels out of order at %d: %+v", i, ob)
		}
	}

	var snaps struct {
		Snapshots map[string]map[string]json.RawMessage `json:"snapshots"`
	}
	c.json("GET", "/v1beta3/crypto/us/snapshots?symbols=BTC/USD", "", 200, &snaps)
	for _, f := range []string{"latestTrade", "latestQuote", "minuteBar", "dailyBar", "prevDailyBar"} {
		if v := snaps.Snapshots["BTC/USD"][f]; len(v) == 0 || string(v) == "null" {
			t.Errorf("snapshot %s: %s", f, v)
		}
	}
	for _, p := range []string{"latest/bars", "latest/trades"} {
		var body map[string]map[string]json.RawMessage
		c.json("GET", "/v1beta3/crypto/us/"+p+"?symbols=BTC/USD", "", 200, &body)
		if len(body) != 1 || len(body[strings.TrimPrefix(p, "latest/")]["BTC/USD"]) == 0 {
			t.Errorf("%s: %v", p, body)
		}
	}
	if code, _ := c.do("GET", "/v1beta3/crypto/eu/latest/bars?symbols=BTC/USD", ""); code != 404 {
		t.Errorf("unknown location: %d", code)
	}
	if code, _ := c.do("GET", "/v1beta3/crypto/us/bars?symbols=BTC/USD", ""); code != 400 {
		t.Errorf("bars without timeframe: %d", code)
	}
}

func jsonFloat(f float64) string { b, _ := json.Marshal(f); return string(b) }

// The crypto data answers match Alpaca's schemas. The OpenAPI file
// predates v1beta3: each answer is checked against its v1beta1
// counterpart, whose shapes are the same but for the exchange field x,
// which v1beta3 dropped (so it is not required here). Order books have no
// v1beta1 counterpart and are checked by TestCryptoDataLatest only.
func TestCryptoDataMatchesAlpacaOpenAPI(t *testing.T) {
	srv := simtest.Start(t, sim.Config{Seed: 9, Clock: sim.NewSteppedClock(cryptoDataAt)})
	data := specRouter(t, "data", srv.URL)
	ctx := context.Background()
	for _, p := range []struct{ v3, v1 string }{
		{"bars?symbols=BTC/USD,ETH/USD&timeframe=5Min&limit=5", "bars"},
		{"trades?symbols=BTC/USD&limit=5", "trades"},
		{"quotes?symbols=BTC/USD&limit=5", "quotes"},
		{"latest/bars?symbols=BTC/USD", "bars/latest"},
		{"latest/trades?symbols=BTC/USD", "trades/latest"},
		{"latest/quotes?symbols=BTC/USD", "quotes/latest"},
		{"snapshots?symbols=BTC/USD,ETH/USD", "snapshots"},
	} {
		req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/v1beta3/crypto/us/"+p.v3, nil)
		req.Header.Set("APCA-API-KEY-ID", "PKCRYPTOSPEC")
		req.Header.Set("APCA-API-SECRET-KEY", "crypto-spec-secret-0123")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		_, _ = buf.ReadFrom(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d %s", p.v3, resp.StatusCode, buf.Bytes())
		}
		q := p.v3[strings.Index(p.v3, "?"):]
		vreq, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/v1beta1/crypto/"+p.v1+q, nil)
		route, params, err := data.FindRoute(vreq)
		if err != nil {
			t.Fatalf("%s: %v", p.v1, err)
		}
		in := &openapi3filter.ResponseValidationInput{
			RequestValidationInput: &openapi3filter.RequestValidationInput{Request: vreq, PathParams: params, Route: route},
			Status:                 resp.StatusCode,
			Header:                 resp.Header,
			Options:                &openapi3filter.Options{MultiError: true, IncludeResponseStatus: true},
		}
		in.SetBodyBytes(buf.Bytes())
		if err := openapi3filter.ValidateResponse(ctx, in); err != nil {
			var me openapi3.MultiError
			if !errors.As(err, &me) {
				me = openapi3.MultiError{err}
			}
			for _, e := range me {
				if !strings.Contains(e.Error(), `property "x" is missing`) {
					t.Errorf("%s: %v", p.v3, oneLine(e))
				}
			}
		}
	}
}
