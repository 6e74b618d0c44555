package sim_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/shopspring/decimal"

	"github.com/quantum-alpaca/quantum/internal/simtest"
	"github.com/quantum-alpaca/quantum/sim"
)

// cryptoClient talks to a simulator over TCP with one key.
type cryptoClient struct {
	t   *testing.T
	url string
	key string
}

func (c cryptoClient) do(method, path, body string) (int, []byte) {
	c.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, c.url+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("APCA-API-KEY-ID", c.key)
	req.Header.Set("APCA-API-SECRET-KEY", "crypto-secret-0123456789")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func (c cryptoClient) json(method, path, body string, want int, out any) {
	c.t.Helper()
	code, b := c.do(method, path, body)
	if code != want {
		c.t.Fatalf("%s %s: %d %s, want %d", method, path, code, b, want)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			c.t.Fatalf("%s %s: %v: %s", method, path, err, b)
		}
	}
}

type cryptoAssetJSON struct {
	ID                string `json:"id"`
	Class             string `json:"class"`
	Exchange          string `json:"exchange"`
	Symbol            string `json:"symbol"`
	Tradable          bool   `json:"tradable"`
	Fractionable      bool   `json:"fractionable"`
	Marginable        bool   `json:"marginable"`
	Shortable         bool   `json:"shortable"`
	MinOrderSize      string `json:"min_order_size"`
	MinTradeIncrement string `json:"min_trade_increment"`
	PriceIncrement    string `json:"price_increment"`
}

// GET /v2/assets?asset_class=crypto lists the pairs as Alpaca does, and
// one pair is found by its BTC/USD form (escaped or not), its legacy BTCUSD
// form and its id.
func TestCryptoAssets(t *testing.T) {
	srv := simtest.Start(t, sim.Config{Seed: 5})
	c := cryptoClient{t, srv.URL, "PKCRYPTOASSETS"}

	var list []cryptoAssetJSON
	c.json("GET", "/v2/assets?asset_class=crypto", "", 200, &list)
	bySym := map[string]cryptoAssetJSON{}
	for _, a := range list {
		if a.Class != "crypto" || a.Exchange != "CRYPTO" || !a.Tradable || !a.Fractionable || a.Marginable || a.Shortable {
			t.Errorf("%s: %+v", a.Symbol, a)
		}
		for _, v := range []string{a.MinOrderSize, a.MinTradeIncrement, a.PriceIncrement} {
			if d, err := decimal.NewFromString(v); err != nil || d.Sign() <= 0 {
				t.Errorf("%s: granularity %q", a.Symbol, v)
			}
		}
		bySym[a.Symbol] = a
	}
	for _, sym := range []string{"BTC/USD", "ETH/USD", "LTC/USD", "SOL/USD", "DOGE/USD", "AVAX/USD", "LINK/USD", "UNI/USD", "BTC/USDT", "ETH/USDC", "ETH/BTC"} {
		if _, ok := bySym[sym]; !ok {
			t.Errorf("%s not listed", sym)
		}
	}
	btc := bySym["BTC/USD"]
	for _, p := range []string{"/v2/assets/BTC%2FUSD", "/v2/assets/BTC/USD", "/v2/assets/BTCUSD", "/v2/assets/" + btc.ID} {
		var a cryptoAssetJSON
		c.json("GET", p, "", 200, &a)
		if a != btc {
			t.Errorf("%s: %+v, want %+v", p, a, btc)
		}
	}

	// The default class is us_equity: no pair there; all lists both.
	var eq, all []cryptoAssetJSON
	c.json("GET", "/v2/assets", "", 200, &eq)
	c.json("GET", "/v2/assets?asset_class=all", "", 200, &all)
	for _, a := range eq {
		if a.Class != "us_equity" {
			t.Fatalf("default listing has %s (%s)", a.Symbol, a.Class)
		}
	}
	if len(all) != len(eq)+len(list) {
		t.Errorf("all: %d assets, want %d + %d", len(all), len(eq), len(list))
	}
}

type cryptoOrderJSON struct {
	ID          string  `json:"id"`
	Symbol      string  `json:"symbol"`
	AssetClass  string  `json:"asset_class"`
	Status      string  `json:"status"`
	Qty         *string `json:"qty"`
	FilledQty   string  `json:"filled_qty"`
	TimeInForce string  `json:"time_in_force"`
}

type cryptoError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

// Crypto orders follow Alpaca's crypto rules, and trade on a Saturday,
// when the stock market is closed and stock orders wait for Monday.
func TestCryptoOrders(t *testing.T) {
	saturday := time.Date(2026, 11, 14, 15, 0, 0, 0, time.UTC)
	srv := simtest.Start(t, sim.Config{Seed: 5, Session: sim.NYSE{}, Clock: sim.NewSteppedClock(saturday)})
	c := cryptoClient{t, srv.URL, "PKCRYPTOORDERS"}

	refused := []struct {
		body string
		code int
		msg  string
	}{
		// The asset is known before the fractional rules apply: crypto
		// is fractional and takes gtc and ioc, never day.
		{`{"symbol":"BTC/USD","qty":"0.01","side":"buy","type":"market","time_in_force":"day"}`, 422, "invalid crypto time_in_force"},
		{`{"symbol":"BTC/USD","qty":"0.01","side":"buy","type":"market","time_in_force":"fok"}`, 422, "invalid crypto time_in_force"},
		{`{"symbol":"BTC/USD","qty":"0.01","side":"buy","type":"market","time_in_force":"opg"}`, 422, "invalid crypto time_in_force"},
		{`{"symbol":"BTC/USD","qty":"0.01","side":"buy","type":"stop","stop_price":"100000","time_in_force":"gtc"}`, 422, "invalid order type for crypto order"},
		{`{"symbol":"BTC/USD","qty":"0.01","side":"buy","type":"trailing_stop","trail_percent":"1","time_in_force":"gtc"}`, 422, "invalid order type for crypto order"},
		{`{"symbol":"BTC/USD","qty":"0.00001","side":"buy","type":"market","time_in_force":"gtc"}`, 422, "qty must be >= 0.0001"},
		{`{"symbol":"BTC/USD","notional":"50","side":"buy","type":"limit","limit_price":"1000","time_in_force":"gtc"}`, 422, "notional orders must be market orders"},
		// No short selling: nothing is held yet.
		{`{"symbol":"ETH/USD","qty":"0.5","side":"sell","type":"market","time_in_force":"gtc"}`, 403, "cannot be sold short"},
		{`{"symbol":"ETH/BTC","qty":"0.5","side":"buy","type":"market","time_in_force":"gtc"}`, 422, "quoted in USD only"},
	}
	for _, r := range refused {
		code, b := c.do("POST", "/v2/orders", r.body)
		var e cryptoError
		_ = json.Unmarshal(b, &e)
		if code != r.code || !strings.Contains(e.Message, r.msg) {
			t.Errorf("%s: %d %s, want %d %q", r.body, code, b, r.code, r.msg)
		}
	}

	// A stock order waits for the open; crypto fills at once, by qty
	// (legacy symbol form) and by notional.
	var stock, byQty, byNotional cryptoOrderJSON
	c.json("POST", "/v2/orders", `{"symbol":"AAPL","qty":"1","side":"buy","type":"market","time_in_force":"day"}`, 200, &stock)
	if stock.Status != "accepted" {
		t.Errorf("stock order on a Saturday: %s, want accepted", stock.Status)
	}
	c.json("POST", "/v2/orders", `{"symbol":"BTCUSD","qty":"0.0125","side":"buy","type":"market","time_in_force":"gtc"}`, 200, &byQty)
	if byQty.Symbol != "BTC/USD" || byQty.AssetClass != "crypto" || byQty.Status != "filled" || byQty.FilledQty != "0.0125" {
		t.Errorf("BTC by qty: %+v", byQty)
	}
	c.json("POST", "/v2/orders", `{"symbol":"ETH/USD","notional":"250","side":"buy","type":"market","time_in_force":"ioc"}`, 200, &byNotional)
	if byNotional.Status != "filled" || byNotional.AssetClass != "crypto" {
		t.Errorf("ETH by notional: %+v", byNotional)
	}

	type position struct {
		Symbol     string `json:"symbol"`
		Qty        string `json:"qty"`
		AssetClass string `json:"asset_class"`
		Exchange   string `json:"exchange"`
	}
	var p position
	c.json("GET", "/v2/positions/BTCUSD", "", 200, &p)
	// The taker fee, 0.25%, is paid in BTC: 0.0125 less 0.00003125.
	if p.Symbol != "BTC/USD" || p.AssetClass != "crypto" || p.Exchange != "CRYPTO" || p.Qty != "0.01246875" {
		t.Errorf("BTCUSD position: %+v", p)
	}
	c.json("GET", "/v2/positions/BTC%2FUSD", "", 200, &p)
	if p.Symbol != "BTC/USD" {
		t.Errorf("BTC%%2FUSD position: %+v", p)
	}

	// Selling more than held is refused; a resting limit sell far above
	// the market works through the weekend.
	code, b := c.do("POST", "/v2/orders", `{"symbol":"BTC/USD","qty":"0.02","side":"sell","type":"market","time_in_force":"gtc"}`)
	if code != 403 || !strings.Contains(string(b), "insufficient") {
		t.Errorf("oversell: %d %s", code, b)
	}
	var rest cryptoOrderJSON
	c.json("POST", "/v2/orders", `{"symbol":"BTC/USD","qty":"0.005","side":"sell","type":"limit","limit_price":"500000","time_in_force":"gtc"}`, 200, &rest)
	if rest.Status != "new" {
		t.Errorf("resting crypto limit on a Saturday: %s, want new", rest.Status)
	}
	var stopLimit cryptoOrderJSON
	c.json("POST", "/v2/orders", `{"symbol":"BTC/USD","qty":"0.005","side":"sell","type":"stop_limit","stop_price":"1000","limit_price":"900","time_in_force":"gtc"}`, 200, &stopLimit)
	if stopLimit.Status != "new" {
		t.Errorf("crypto stop_limit: %s, want new", stopLimit.Status)
	}

	// Closing by the legacy form sells what is not held for orders.
	var closed cryptoOrderJSON
	c.json("DELETE", "/v2/orders/"+rest.ID, "", 204, nil)
	c.json("DELETE", "/v2/orders/"+stopLimit.ID, "", 204, nil)
	c.json("DELETE", "/v2/positions/BTCUSD", "", 200, &closed)
	if closed.Symbol != "BTC/USD" || closed.TimeInForce != "gtc" || closed.Status != "filled" {
		t.Errorf("close BTCUSD: %+v", closed)
	}
	if code, b := c.do("GET", "/v2/positions/BTC/USD", ""); code != 404 {
		t.Errorf("BTC/USD after close: %d %s", code, b)
	}

	// Each crypto fill has its CFEE: the buy's in BTC, the sale's in USD.
	type activity struct {
		ActivityType string  `json:"activity_type"`
		Symbol       string  `json:"symbol"`
		Qty          string  `json:"qty"`
		NetAmount    *string `json:"net_amount"`
		Description  string  `json:"description"`
	}
	var fees []activity
	c.json("GET", "/v2/account/activities/CFEE?direction=asc", "", 200, &fees)
	if len(fees) != 3 {
		t.Fatalf("CFEE activities: %+v, want the BTC buy's, the ETH buy's and the BTC sale's", fees)
	}
	if f := fees[0]; f.ActivityType != "CFEE" || f.Symbol != "BTC/USD" || f.Qty != "-0.00003125" || f.NetAmount == nil || *f.NetAmount != "0" {
		t.Errorf("BTC buy fee: %+v", f)
	}
	if f := fees[2]; f.Qty != "0" || f.NetAmount == nil || !strings.HasPrefix(*f.NetAmount, "-") {
		t.Errorf("BTC sale fee: %+v", f)
	}
	var fills []activity
	c.json("GET", "/v2/account/activities?activity_types=FILL", "", 200, &fills)
	for _, f := range fills {
		if f.ActivityType != "FILL" {
			t.Errorf("FILL listing has %+v", f)
		}
	}
}

// The crypto assets match Alpaca's Assets schema. The OpenAPI file has
// the schema but not the /v2/assets paths, so each listed asset is
// checked against the schema itself; the exchange enum predates crypto
// (specStale) and min_order_size, min_trade_increment and
// price_increment, which the schema lacks, must be decimal strings.
func TestCryptoAssetsMatchAlpacaSchema(t *testing.T) {
	srv := simtest.Start(t, sim.Config{Seed: 5})
	c := cryptoClient{t, srv.URL, "PKCRYPTOSCHEMA"}
	doc, err := openapi3.NewLoader().LoadFromFile(filepath.Join("testdata", "openapi", "trading.json"))
	if err != nil {
		t.Fatal(err)
	}
	schema := doc.Components.Schemas["Assets"].Value
	var list []map[string]any
	c.json("GET", "/v2/assets?asset_class=crypto", "", 200, &list)
	var one map[string]any
	c.json("GET", "/v2/assets/ETHUSD", "", 200, &one)
	for _, a := range append(list, one) {
		if err := schema.VisitJSON(a, openapi3.MultiErrors()); err != nil {
			var me openapi3.MultiError
			if !errors.As(err, &me) {
				me = openapi3.MultiError{err}
			}
			for _, e := range me {
				if !strings.Contains(e.Error(), `"CRYPTO"`) {
					t.Errorf("%v: %v", a["symbol"], oneLine(e))
				}
			}
		}
		for _, f := range []string{"min_order_size", "min_trade_increment", "price_increment"} {
			s, _ := a[f].(string)
			if _, err := decimal.NewFromString(s); err != nil {
				t.Errorf("%v: %s %v", a["symbol"], f, a[f])
			}
		}
	}
}
