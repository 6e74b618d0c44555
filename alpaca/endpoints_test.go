package alpaca_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/quantum-alpaca/quantum/alpaca"
)

// TestEndpoints checks the wire request of every call and that its reply
// decodes.
func TestEndpoints(t *testing.T) {
	t.Parallel()
	ts := time.Date(2026, 1, 5, 14, 30, 0, 0, time.UTC)
	day := time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)
	dec := decimal.RequireFromString
	ptr := func(d decimal.Decimal) *decimal.Decimal { return &d }
	order := mustRead(t, "testdata/order.json")
	wl := `{"id":"w1","account_id":"a1","created_at":"2026-01-05T14:30:00Z","updated_at":"2026-01-05T14:30:00Z","name":"tech","assets":[]}`

	tests := []struct {
		name   string
		call   func(context.Context, *alpaca.Client) (any, error)
		method string
		path   string // as sent, escaped
		query  string // encoded, sorted
		body   string // request body, "" for none
		status int
		reply  string
		check  func(t *testing.T, got any)
	}{
		{name: "GetAccount", method: "GET", path: "/v2/account", reply: mustRead(t, "testdata/account.json"),
			call: func(ctx context.Context, c *alpaca.Client) (any, error) { return c.GetAccount(ctx) },
			check: func(t *testing.T, got any) {
				if a := got.(*alpaca.Account); !a.Cash.Equal(dec("-23140.2")) || a.AccountNumber != "PA3ABCDEFGHI" {
					t.Errorf("account %+v", a)
				}
			}},
		{name: "GetAccountConfigurations", method: "GET", path: "/v2/account/configurations",
			reply: `{"dtbp_check":"entry","trade_confirm_email":"all","suspend_trade":false,"no_shorting":false,"fractional_trading":true,"max_margin_multiplier":"4","pdt_check":"entry","max_options_trading_level":2}`,
			call:  func(ctx context.Context, c *alpaca.Client) (any, error) { return c.GetAccountConfigurations(ctx) }},
		{name: "UpdateAccountConfigurations", method: "PATCH", path: "/v2/account/configurations",
			body: `{"dtbp_check":"both","no_shorting":true}`, reply: `{"dtbp_check":"both","no_shorting":true}`,
			call: func(ctx context.Context, c *alpaca.Client) (any, error) {
				both, yes := "both", true
				return c.UpdateAccountConfigurations(ctx, alpaca.AccountConfigurationsPatch{DTBPCheck: &both, NoShorting: &yes})
			}},
		{name: "GetAccountActivities", method: "GET", path: "/v2/account/activities",
			query: "activity_types=FILL%2CDIV&after=2026-01-05T14%3A30%3A00Z&direction=asc&page_size=50&page_token=tok",
			reply: `[{"id":"20260105143000000::8c7a","activity_type":"FILL","transaction_time":"2026-01-05T14:30:00Z","type":"fill","price":"180.5","qty":"10","side":"buy","symbol":"AAPL","leaves_qty":"0","cum_qty":"10","order_id":"o1","order_status":"filled"}]`,
			call: func(ctx context.Context, c *alpaca.Client) (any, error) {
				return c.GetAccountActivities(ctx, alpaca.ActivitiesRequest{ActivityTypes: []string{"FILL", "DIV"}, After: ts,
					Direction: alpaca.Asc, PageSize: 50, PageToken: "tok"})
			}},
		{name: "GetAccountActivitiesByType", method: "GET", path: "/v2/account/activities/DIV", query: "date=2026-01-02",
			reply: `[{"id":"x","activity_type":"DIV","date":"2026-01-02","net_amount":"1.23","symbol":"T","qty":"10","per_share_amount":"0.123"}]`,
			call: func(ctx context.Context, c *alpaca.Client) (any, error) {
				return c.GetAccountActivitiesByType(ctx, "DIV", alpaca.ActivitiesRequest{Date: day, ActivityTypes: []string{"ignored"}})
			}},
		{name: "GetPortfolioHistory", method: "GET", path: "/v2/account/portfolio/history",
			query: "intraday_reporting=market_hours&period=1W&pnl_reset=no_reset&timeframe=1H",
			reply: `{"timestamp":[1767623400,1767627000],"equity":[100000,100250.5],"profit_loss":[0,250.5],"profit_loss_pct":[0,0.002505],"base_value":100000,"base_value_asof":"2026-01-02","timeframe":"1H"}`,
			call: func(ctx context.Context, c *alpaca.Client) (any, error) {
				return c.GetPortfolioHistory(ctx, alpaca.PortfolioHistoryRequest{Period: "1W", Timeframe: "1H",
					IntradayReporting: "market_hours", PnLReset: "no_reset"})
			},
			check: func(t *testing.T, got any) {
				if h := got.(*alpaca.PortfolioHistory); len(h.Equity) != 2 || !h.Equity[1].Equal(dec("100250.5")) {
					t.Errorf("history %+v", h)
				}
			}},
		{name: "SubmitOrder", method: "POST", path: "/v2/orders", reply: order,
			body: `{"symbol":"AAPL","qty":"10","side":"buy","type":"limit","time_in_force":"day","limit_price":"180.5","client_order_id":"cid-1"}`,
			call: func(ctx context.Context, c *alpaca.Client) (any, error) {
				return c.SubmitOrder(ctx, alpaca.OrderRequest{Symbol: "AAPL", Qty: ptr(dec("10")), Side: alpaca.Buy,
					Type: alpaca.Limit, TimeInForce: alpaca.Day, LimitPrice: ptr(dec("180.5")), ClientOrderID: "cid-1"})
			}},
		{name: "ListOrders", method: "GET", path: "/v2/orders",
			query: "after=2026-01-05T14%3A30%3A00Z&direction=desc&limit=500&nested=true&side=sell&status=all&symbols=AAPL%2CMSFT&until=2026-01-05T15%3A30%3A00Z",
			reply: "[" + order + "]",
			call: func(ctx context.Context, c *alpaca.Client) (any, error) {
				return c.ListOrders(ctx, alpaca.ListOrdersRequest{Status: alpaca.OrdersAll, Limit: 500, After: ts,
					Until: ts.Add(time.Hour), Direction: alpaca.Desc, Nested: true, Symbols: []string{"AAPL", "MSFT"}, Side: alpaca.Sell})
			},
			check: func(t *testing.T, got any) {
				if o := got.([]alpaca.Order); len(o) != 1 || o[0].Symbol != "AAPL" {
					t.Errorf("orders %+v", o)
				}
			}},
		{name: "GetOrder", method: "GET", path: "/v2/orders/61e69015", query: "nested=true", reply: order,
			call: func(ctx context.Context, c *alpaca.Client) (any, error) { return c.GetOrder(ctx, "61e69015") }},
		{name: "GetOrderByClientOrderID", method: "GET", path: "/v2/orders:by_client_order_id", query: "client_order_id=a%2Bb+c",
			reply: order,
			call: func(ctx context.Context, c *alpaca.Client) (any, error) {
				return c.GetOrderByClientOrderID(ctx, "a+b c")
			}},
		{name: "ReplaceOrder", method: "PATCH", path: "/v2/orders/o1", reply: order,
			body: `{"qty":"5","limit_price":"181.25","client_order_id":"cid-2"}`,
			call: func(ctx context.Context, c *alpaca.Client) (any, error) {
				return c.ReplaceOrder(ctx, "o1", alpaca.ReplaceRequest{Qty: ptr(dec("5")), LimitPrice: ptr(dec("181.25")), ClientOrderID: "cid-2"})
			}},
		{name: "CancelOrder", method: "DELETE", path: "/v2/orders/o1", status: 204,
			call: func(ctx context.Context, c *alpaca.Client) (any, error) { return nil, c.CancelOrder(ctx, "o1") }},
		{name: "CancelAllOrders", method: "DELETE", path: "/v2/orders", status: 207,
			reply: `[{"id":"o1","status":200},{"id":"o2","status":422,"body":{"code":42210000,"message":"order is already in \"filled\" state"}}]`,
			call:  func(ctx context.Context, c *alpaca.Client) (any, error) { return c.CancelAllOrders(ctx) },
			check: func(t *testing.T, got any) {
				r := got.([]alpaca.CancelResult)
				if len(r) != 2 || r[1].Status != 422 || r[1].Body == nil || r[1].Body.Code != 42210000 {
					t.Errorf("results %+v", r)
				}
			}},
		{name: "ListPositions", method: "GET", path: "/v2/positions", reply: mustRead(t, "testdata/positions.json"),
			call: func(ctx context.Context, c *alpaca.Client) (any, error) { return c.ListPositions(ctx) }},
		{name: "GetPosition", method: "GET", path: "/v2/positions/BTC%2FUSD", reply: `{"symbol":"BTC/USD","qty":"1"}`,
			call: func(ctx context.Context, c *alpaca.Client) (any, error) { return c.GetPosition(ctx, "BTC/USD") }},
		{name: "ClosePositionQty", method: "DELETE", path: "/v2/positions/AAPL", query: "qty=2.5", reply: order,
			call: func(ctx context.Context, c *alpaca.Client) (any, error) {
				return c.ClosePosition(ctx, "AAPL", alpaca.ClosePositionRequest{Qty: ptr(dec("2.5"))})
			}},
		{name: "ClosePositionPercentage", method: "DELETE", path: "/v2/positions/AAPL", query: "percentage=50", reply: order,
			call: func(ctx context.Context, c *alpaca.Client) (any, error) {
				return c.ClosePosition(ctx, "AAPL", alpaca.ClosePositionRequest{Percentage: ptr(dec("50"))})
			}},
		{name: "CloseAllPositions", method: "DELETE", path: "/v2/positions", query: "cancel_orders=true", status: 207,
			reply: `[{"symbol":"AAPL","status":200,"body":` + order + `},{"symbol":"SQQQ","status":403,"body":{"code":40310000,"message":"insufficient qty available for order (requested: 1000, available: 0)"}}]`,
			call: func(ctx context.Context, c *alpaca.Client) (any, error) {
				return c.CloseAllPositions(ctx, alpaca.CloseAllPositionsRequest{CancelOrders: true})
			},
			check: func(t *testing.T, got any) {
				if r := got.([]alpaca.CloseResult); len(r) != 2 || r[0].Status != 200 || r[1].Symbol != "SQQQ" {
					t.Errorf("results %+v", r)
				}
			}},
		{name: "ListAssets", method: "GET", path: "/v2/assets",
			query: "asset_class=us_equity&attributes=has_options%2Cipo&exchange=NASDAQ&status=active",
			reply: "[" + mustRead(t, "testdata/asset.json") + "]",
			call: func(ctx context.Context, c *alpaca.Client) (any, error) {
				return c.ListAssets(ctx, alpaca.ListAssetsRequest{Status: "active", AssetClass: "us_equity", Exchange: "NASDAQ",
					Attributes: []string{"has_options", "ipo"}})
			}},
		{name: "GetAsset", method: "GET", path: "/v2/assets/AAPL", reply: mustRead(t, "testdata/asset.json"),
			call: func(ctx context.Context, c *alpaca.Client) (any, error) { return c.GetAsset(ctx, "AAPL") }},
		{name: "GetClock", method: "GET", path: "/v2/clock", reply: mustRead(t, "testdata/clock.json"),
			call: func(ctx context.Context, c *alpaca.Client) (any, error) { return c.GetClock(ctx) }},
		{name: "GetCalendar", method: "GET", path: "/v2/calendar", query: "end=2026-01-05&start=2026-01-02",
			reply: `[{"date":"2026-01-02","open":"09:30","close":"16:00","session_open":"0400","session_close":"2000","settlement_date":"2026-01-05"}]`,
			call: func(ctx context.Context, c *alpaca.Client) (any, error) {
				return c.GetCalendar(ctx, alpaca.CalendarRequest{Start: day, End: day.AddDate(0, 0, 3)})
			}},
		{name: "ListWatchlists", method: "GET", path: "/v2/watchlists", reply: "[" + wl + "]",
			call: func(ctx context.Context, c *alpaca.Client) (any, error) { return c.ListWatchlists(ctx) }},
		{name: "CreateWatchlist", method: "POST", path: "/v2/watchlists", body: `{"name":"tech","symbols":["AAPL","MSFT"]}`, reply: wl,
			call: func(ctx context.Context, c *alpaca.Client) (any, error) {
				return c.CreateWatchlist(ctx, alpaca.WatchlistRequest{Name: "tech", Symbols: []string{"AAPL", "MSFT"}})
			}},
		{name: "GetWatchlist", method: "GET", path: "/v2/watchlists/w1", reply: wl,
			call: func(ctx context.Context, c *alpaca.Client) (any, error) { return c.GetWatchlist(ctx, "w1") }},
		{name: "UpdateWatchlist", method: "PUT", path: "/v2/watchlists/w1", body: `{"name":"tech2","symbols":["NVDA"]}`, reply: wl,
			call: func(ctx context.Context, c *alpaca.Client) (any, error) {
				return c.UpdateWatchlist(ctx, "w1", alpaca.WatchlistRequest{Name: "tech2", Symbols: []string{"NVDA"}})
			}},
		{name: "AddAssetToWatchlist", method: "POST", path: "/v2/watchlists/w1", body: `{"symbol":"AMD"}`, reply: wl,
			call: func(ctx context.Context, c *alpaca.Client) (any, error) {
				return c.AddAssetToWatchlist(ctx, "w1", "AMD")
			}},
		{name: "RemoveAssetFromWatchlist", method: "DELETE", path: "/v2/watchlists/w1/AMD", reply: wl,
			call: func(ctx context.Context, c *alpaca.Client) (any, error) {
				return c.RemoveAssetFromWatchlist(ctx, "w1", "AMD")
			}},
		{name: "DeleteWatchlist", method: "DELETE", path: "/v2/watchlists/w1", status: 204,
			call: func(ctx context.Context, c *alpaca.Client) (any, error) { return nil, c.DeleteWatchlist(ctx, "w1") }},
		{name: "GetWatchlistByName", method: "GET", path: "/v2/watchlists:by_name", query: "name=my+list", reply: wl,
			call: func(ctx context.Context, c *alpaca.Client) (any, error) { return c.GetWatchlistByName(ctx, "my list") }},
		{name: "UpdateWatchlistByName", method: "PUT", path: "/v2/watchlists:by_name", query: "name=tech",
			body: `{"name":"tech","symbols":["AAPL"]}`, reply: wl,
			call: func(ctx context.Context, c *alpaca.Client) (any, error) {
				return c.UpdateWatchlistByName(ctx, "tech", alpaca.WatchlistRequest{Name: "tech", Symbols: []string{"AAPL"}})
			}},
		{name: "AddAssetToWatchlistByName", method: "POST", path: "/v2/watchlists:by_name", query: "name=tech",
			body: `{"symbol":"AMD"}`, reply: wl,
			call: func(ctx context.Context, c *alpaca.Client) (any, error) {
				return c.AddAssetToWatchlistByName(ctx, "tech", "AMD")
			}},
		{name: "DeleteWatchlistByName", method: "DELETE", path: "/v2/watchlists:by_name", query: "name=tech", status: 204,
			call: func(ctx context.Context, c *alpaca.Client) (any, error) {
				return nil, c.DeleteWatchlistByName(ctx, "tech")
			}},
		{name: "GetMultiBars", method: "GET", path: "/v2/stocks/bars",
			query: "adjustment=split&end=2026-01-05T15%3A30%3A00Z&feed=iex&limit=100&sort=asc&start=2026-01-05T14%3A30%3A00Z&symbols=AAPL%2CMSFT&timeframe=1Min",
			reply: mustRead(t, "testdata/bars.json"),
			call: func(ctx context.Context, c *alpaca.Client) (any, error) {
				return c.GetMultiBars(ctx, []string{"AAPL", "MSFT"}, alpaca.BarsRequest{TimeFrame: "1Min", Adjustment: "split",
					HistoricalRequest: alpaca.HistoricalRequest{Start: ts, End: ts.Add(time.Hour), PageLimit: 100, Sort: alpaca.Asc, Feed: alpaca.FeedIEX}})
			},
			check: func(t *testing.T, got any) {
				if m := got.(map[string][]alpaca.Bar); len(m["AAPL"]) != 2 || len(m["MSFT"]) != 1 {
					t.Errorf("bars %+v", m)
				}
			}},
		{name: "GetBars", method: "GET", path: "/v2/stocks/bars", query: "symbols=AAPL&timeframe=1Day",
			reply: mustRead(t, "testdata/bars.json"),
			call: func(ctx context.Context, c *alpaca.Client) (any, error) {
				return c.GetBars(ctx, "AAPL", alpaca.BarsRequest{})
			},
			check: func(t *testing.T, got any) {
				if b := got.([]alpaca.Bar); len(b) != 2 || b[0].Volume != 55740731 {
					t.Errorf("bars %+v", b)
				}
			}},
		{name: "GetTrades", method: "GET", path: "/v2/stocks/trades", query: "feed=sip&symbols=AAPL",
			reply: `{"trades":{"AAPL":[{"t":"2026-01-05T14:30:00.123456789Z","x":"V","p":180.5,"s":100,"i":52983525029461,"c":["@"],"z":"C"}]},"next_page_token":null}`,
			call: func(ctx context.Context, c *alpaca.Client) (any, error) {
				return c.GetTrades(ctx, "AAPL", alpaca.TradesRequest{HistoricalRequest: alpaca.HistoricalRequest{Feed: alpaca.FeedSIP}})
			},
			check: func(t *testing.T, got any) {
				if tr := got.([]alpaca.Trade); len(tr) != 1 || tr[0].ID != 52983525029461 || tr[0].Timestamp.Nanosecond() != 123456789 {
					t.Errorf("trades %+v", tr)
				}
			}},
		{name: "GetMultiQuotes", method: "GET", path: "/v2/stocks/quotes", query: "symbols=AAPL%2CMSFT",
			reply: `{"quotes":{"AAPL":[{"t":"2026-01-05T14:30:00Z","bx":"V","bp":180.49,"bs":2,"ax":"V","ap":180.51,"as":3,"c":["R"],"z":"C"}],"MSFT":[]},"next_page_token":null}`,
			call: func(ctx context.Context, c *alpaca.Client) (any, error) {
				return c.GetMultiQuotes(ctx, []string{"AAPL", "MSFT"}, alpaca.QuotesRequest{})
			}},
		{name: "GetQuotes", method: "GET", path: "/v2/stocks/quotes", query: "symbols=AAPL",
			reply: `{"quotes":{"AAPL":[{"t":"2026-01-05T14:30:00Z","bp":180.49,"ap":180.51}]},"next_page_token":null}`,
			call: func(ctx context.Context, c *alpaca.Client) (any, error) {
				return c.GetQuotes(ctx, "AAPL", alpaca.QuotesRequest{})
			}},
		{name: "GetMultiTrades", method: "GET", path: "/v2/stocks/trades", query: "symbols=AAPL%2CMSFT",
			reply: `{"trades":{},"next_page_token":null}`,
			call: func(ctx context.Context, c *alpaca.Client) (any, error) {
				return c.GetMultiTrades(ctx, []string{"AAPL", "MSFT"}, alpaca.TradesRequest{})
			}},
		{name: "GetLatestBars", method: "GET", path: "/v2/stocks/bars/latest", query: "feed=iex&symbols=SPY",
			reply: `{"bars":{"SPY":{"t":"2021-11-20T00:59:00Z","o":469.18,"h":469.18,"l":469.11,"c":469.17,"v":740,"n":11,"vw":469.1355}}}`,
			call: func(ctx context.Context, c *alpaca.Client) (any, error) {
				return c.GetLatestBars(ctx, []string{"SPY"}, alpaca.LatestRequest{Feed: alpaca.FeedIEX})
			}},
		{name: "GetLatestBar", method: "GET", path: "/v2/stocks/bars/latest", query: "symbols=SPY",
			reply: `{"bars":{"SPY":{"t":"2021-11-20T00:59:00Z","o":469.18,"h":469.18,"l":469.11,"c":469.17,"v":740,"n":11,"vw":469.1355}}}`,
			call: func(ctx context.Context, c *alpaca.Client) (any, error) {
				return c.GetLatestBar(ctx, "SPY", alpaca.LatestRequest{})
			},
			check: func(t *testing.T, got any) {
				if b := got.(*alpaca.Bar); b.Close != 469.17 {
					t.Errorf("bar %+v", b)
				}
			}},
		{name: "GetLatestTrades", method: "GET", path: "/v2/stocks/trades/latest", query: "symbols=AAPL",
			reply: `{"trades":{"AAPL":{"t":"2026-01-05T14:30:00Z","p":180.5,"s":1,"i":7}}}`,
			call: func(ctx context.Context, c *alpaca.Client) (any, error) {
				return c.GetLatestTrades(ctx, []string{"AAPL"}, alpaca.LatestRequest{})
			}},
		{name: "GetLatestTrade", method: "GET", path: "/v2/stocks/trades/latest", query: "symbols=AAPL",
			reply: `{"trades":{"AAPL":{"t":"2026-01-05T14:30:00Z","p":180.5,"s":1,"i":7}}}`,
			call: func(ctx context.Context, c *alpaca.Client) (any, error) {
				return c.GetLatestTrade(ctx, "AAPL", alpaca.LatestRequest{})
			}},
		{name: "GetLatestQuotes", method: "GET", path: "/v2/stocks/quotes/latest", query: "currency=USD&symbols=AAPL",
			reply: `{"quotes":{"AAPL":{"t":"2026-01-05T14:30:00Z","bp":180.49,"ap":180.51}}}`,
			call: func(ctx context.Context, c *alpaca.Client) (any, error) {
				return c.GetLatestQuotes(ctx, []string{"AAPL"}, alpaca.LatestRequest{Currency: "USD"})
			}},
		{name: "GetLatestQuote", method: "GET", path: "/v2/stocks/quotes/latest", query: "symbols=AAPL",
			reply: `{"quotes":{"AAPL":{"t":"2026-01-05T14:30:00Z","bp":180.49,"ap":180.51}}}`,
			call: func(ctx context.Context, c *alpaca.Client) (any, error) {
				return c.GetLatestQuote(ctx, "AAPL", alpaca.LatestRequest{})
			}},
		{name: "GetSnapshots", method: "GET", path: "/v2/stocks/snapshots", query: "symbols=AAPL%2CZZZZ",
			reply: `{"AAPL":{"latestTrade":{"t":"2026-01-05T14:30:00Z","p":180.5},"latestQuote":{"bp":180.49,"ap":180.51},"minuteBar":null,"dailyBar":{"o":1,"c":2},"prevDailyBar":null},"ZZZZ":null}`,
			call: func(ctx context.Context, c *alpaca.Client) (any, error) {
				return c.GetSnapshots(ctx, []string{"AAPL", "ZZZZ"}, alpaca.LatestRequest{})
			},
			check: func(t *testing.T, got any) {
				m := got.(map[string]*alpaca.Snapshot)
				if m["AAPL"] == nil || m["AAPL"].LatestTrade.Price != 180.5 || m["AAPL"].MinuteBar != nil || m["ZZZZ"] != nil {
					t.Errorf("snapshots %+v", m)
				}
			}},
		{name: "GetSnapshot", method: "GET", path: "/v2/stocks/snapshots", query: "feed=iex&symbols=AAPL",
			reply: `{"AAPL":{"latestTrade":{"t":"2026-01-05T14:30:00Z","p":180.5}}}`,
			call: func(ctx context.Context, c *alpaca.Client) (any, error) {
				return c.GetSnapshot(ctx, "AAPL", alpaca.LatestRequest{Feed: alpaca.FeedIEX})
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method != tt.method || r.URL.EscapedPath() != tt.path {
					t.Errorf("request %s %s, want %s %s", r.Method, r.URL.EscapedPath(), tt.method, tt.path)
				}
				if got := sortedQuery(r.URL.Query()); got != tt.query {
					t.Errorf("query\n got %s\nwant %s", got, tt.query)
				}
				body, _ := io.ReadAll(r.Body)
				if string(body) != tt.body {
					t.Errorf("body\n got %s\nwant %s", body, tt.body)
				}
				if tt.body != "" && r.Header.Get("Content-Type") != "application/json" {
					t.Errorf("Content-Type %q", r.Header.Get("Content-Type"))
				}
				status := tt.status
				if status == 0 {
					status = 200
				}
				w.WriteHeader(status)
				io.WriteString(w, tt.reply)
			}))
			defer srv.Close()
			c := MustClient(t, srv)
			got, err := tt.call(t.Context(), c)
			if err != nil {
				t.Fatalf("%s: %v", tt.name, err)
			}
			if tt.check != nil {
				tt.check(t, got)
			}
		})
	}
}

func sortedQuery(q url.Values) string { return q.Encode() } // Encode sorts by key

func TestLatestMissingSymbol(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasSuffix(r.URL.Path, "/snapshots"):
			io.WriteString(w, `{}`)
		default:
			io.WriteString(w, `{"bars":{},"trades":{},"quotes":{}}`)
		}
	}))
	defer srv.Close()
	c := MustClient(t, srv)
	ctx := t.Context()
	var errs []error
	_, err := c.GetLatestBar(ctx, "NOPE", alpaca.LatestRequest{})
	errs = append(errs, err)
	_, err = c.GetLatestTrade(ctx, "NOPE", alpaca.LatestRequest{})
	errs = append(errs, err)
	_, err = c.GetLatestQuote(ctx, "NOPE", alpaca.LatestRequest{})
	errs = append(errs, err)
	_, err = c.GetSnapshot(ctx, "NOPE", alpaca.LatestRequest{})
	errs = append(errs, err)
	for i, err := range errs {
		if !errors.Is(err, alpaca.ErrNotFound) {
			t.Errorf("call %d: err = %v, want ErrNotFound", i, err)
		}
	}
}

// TestBarsPagination follows next_page_token across pages, honours a total
// limit, and streams pages to OnPage without accumulating them.
func TestBarsPagination(t *testing.T) {
	t.Parallel()
	var calls []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		calls = append(calls, q.Get("page_token")+"/"+q.Get("limit"))
		bar := func(i int) string {
			return fmt.Sprintf(`{"t":"2026-01-05T14:%02d:00Z","o":1,"h":2,"l":0.5,"c":1.5,"v":%d,"n":1,"vw":1.2}`, i, i)
		}
		switch q.Get("page_token") {
		case "":
			fmt.Fprintf(w, `{"bars":{"AAPL":[%s,%s]},"next_page_token":"p2"}`, bar(0), bar(1))
		case "p2":
			fmt.Fprintf(w, `{"bars":{"AAPL":[%s],"MSFT":[%s]},"next_page_token":"p3"}`, bar(2), bar(3))
		case "p3":
			fmt.Fprintf(w, `{"bars":{"MSFT":[%s]},"next_page_token":null}`, bar(4))
		}
	}))
	defer srv.Close()
	c := MustClient(t, srv)

	t.Run("All", func(t *testing.T) {
		calls = nil
		m, err := c.GetMultiBars(t.Context(), []string{"AAPL", "MSFT"}, alpaca.BarsRequest{
			HistoricalRequest: alpaca.HistoricalRequest{PageLimit: 2}})
		if err != nil {
			t.Fatal(err)
		}
		if len(m["AAPL"]) != 3 || len(m["MSFT"]) != 2 || m["MSFT"][1].Volume != 4 {
			t.Fatalf("got %+v", m)
		}
		if strings.Join(calls, ",") != "/2,p2/2,p3/2" {
			t.Fatalf("calls %v", calls)
		}
	})
	t.Run("TotalLimit", func(t *testing.T) {
		calls = nil
		m, err := c.GetMultiBars(t.Context(), []string{"AAPL", "MSFT"}, alpaca.BarsRequest{
			HistoricalRequest: alpaca.HistoricalRequest{Limit: 3}})
		if err != nil {
			t.Fatal(err)
		}
		if len(m["AAPL"])+len(m["MSFT"]) != 4 || strings.Join(calls, ",") != "/3,p2/1" {
			t.Fatalf("got %d bars via %v", len(m["AAPL"])+len(m["MSFT"]), calls)
		}
	})
	t.Run("OnPage", func(t *testing.T) {
		calls = nil
		pages := 0
		m, err := c.GetMultiBars(t.Context(), []string{"AAPL", "MSFT"}, alpaca.BarsRequest{
			OnPage: func(p map[string][]alpaca.Bar) error { pages++; return nil }})
		if err != nil || m != nil || pages != 3 {
			t.Fatalf("pages=%d map=%v err=%v", pages, m, err)
		}
	})
	t.Run("OnPageStops", func(t *testing.T) {
		calls = nil
		stop := errors.New("enough")
		_, err := c.GetMultiBars(t.Context(), []string{"AAPL"}, alpaca.BarsRequest{
			OnPage: func(map[string][]alpaca.Bar) error { return stop }})
		if !errors.Is(err, stop) || len(calls) != 1 {
			t.Fatalf("err=%v calls=%v", err, calls)
		}
	})
}

func TestCancelOrderRetryFindsCanceled(t *testing.T) {
	t.Parallel()
	n := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n++
		if n == 1 {
			hijackClose(w) // the cancel went through but the reply was lost
			return
		}
		writeJSON(w, 422, map[string]any{"code": 42210000, "message": `order is already in "pending_cancel" state`})
	}))
	defer srv.Close()
	c := MustClient(t, srv)
	if err := c.CancelOrder(t.Context(), "o1"); err != nil || n != 2 {
		t.Fatalf("CancelOrder = %v after %d attempts", err, n)
	}
}

func TestClosePositionRejectsBoth(t *testing.T) {
	t.Parallel()
	c, _ := alpaca.New("http://127.0.0.1:1")
	q := decimal.NewFromInt(1)
	if _, err := c.ClosePosition(t.Context(), "AAPL", alpaca.ClosePositionRequest{Qty: &q, Percentage: &q}); err == nil {
		t.Fatal("accepted both qty and percentage")
	}
}
