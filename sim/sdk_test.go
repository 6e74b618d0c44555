package sim_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	sdk "github.com/alpacahq/alpaca-trade-api-go/v3/alpaca"
	"github.com/shopspring/decimal"

	"github.com/quantum-alpaca/quantum/internal/simtest"
	"github.com/quantum-alpaca/quantum/sim"
)

// The official Go SDK is the reference peer: every trading call it makes
// must work against the simulator unchanged.

func newSDK(t *testing.T, b *simtest.Broker, key string) *sdk.Client {
	t.Helper()
	return sdk.NewClient(sdk.ClientOpts{APIKey: key, APISecret: key + "-secret", BaseURL: b.URL, RetryLimit: -1})
}

func dec(s string) *decimal.Decimal {
	d := decimal.RequireFromString(s)
	return &d
}

// buyFilled places a market buy of qty symbol and waits until it fills.
func buyFilled(t *testing.T, c *sdk.Client, symbol, qty, clientID string) *sdk.Order {
	t.Helper()
	o, err := c.PlaceOrder(sdk.PlaceOrderRequest{Symbol: symbol, Qty: dec(qty), Side: sdk.Buy, Type: sdk.Market, TimeInForce: sdk.Day, ClientOrderID: clientID})
	if err != nil {
		t.Fatal(err)
	}
	// A 10% chance of a partial first fill; the rest fills on later quotes.
	return waitStatus(t, c, o.ID, "filled")
}

func TestSDKTradingCalls(t *testing.T) {
	b := simtest.Start(t, sim.Config{Seed: 7})
	// Each subtest trades on an account of its own, so that it runs alone
	// as well as after its siblings.
	account := func(t *testing.T) *sdk.Client {
		return newSDK(t, b, "PK"+strings.ToUpper(strings.ReplaceAll(t.Name(), "/", "-")))
	}

	t.Run("Account", func(t *testing.T) {
		c := account(t)
		acct, err := c.GetAccount()
		if err != nil {
			t.Fatal(err)
		}
		if acct.Status != "ACTIVE" || !acct.Cash.Equal(decimal.NewFromInt(100000)) || acct.Currency != "USD" {
			t.Fatalf("account = %+v", acct)
		}
	})
	t.Run("Configurations", func(t *testing.T) {
		c := account(t)
		cfg, err := c.GetAccountConfigurations()
		if err != nil {
			t.Fatal(err)
		}
		if cfg.DTBPCheck == "" {
			t.Errorf("dtbp_check empty: %+v", cfg)
		}
		cfg, err = c.UpdateAccountConfigurations(sdk.UpdateAccountConfigurationsRequest{DtbpCheck: "both", FractionalTrading: true})
		if err != nil {
			t.Fatal(err)
		}
		if cfg.DTBPCheck != "both" {
			t.Errorf("dtbp_check = %q, want both", cfg.DTBPCheck)
		}
	})
	t.Run("ClockCalendarAssets", func(t *testing.T) {
		c := account(t)
		clk, err := c.GetClock()
		if err != nil || !clk.IsOpen {
			t.Fatalf("clock = %+v, %v", clk, err)
		}
		days, err := c.GetCalendar(sdk.GetCalendarRequest{Start: time.Now().AddDate(0, 0, -7), End: time.Now()})
		if err != nil || len(days) == 0 {
			t.Fatalf("calendar = %v, %v", days, err)
		}
		assets, err := c.GetAssets(sdk.GetAssetsRequest{Status: "active"})
		if err != nil || len(assets) < 30 {
			t.Fatalf("assets: %d, %v", len(assets), err)
		}
		a, err := c.GetAsset("AAPL")
		if err != nil || a.Symbol != "AAPL" || !a.Tradable {
			t.Fatalf("asset = %+v, %v", a, err)
		}
		if _, err := c.GetAsset("NOSUCH"); !isStatus(err, 404) {
			t.Fatalf("unknown asset: %v", err)
		}
	})

	t.Run("MarketOrderFills", func(t *testing.T) {
		c := account(t)
		o := buyFilled(t, c, "AAPL", "10", "sdk-1")
		if !o.FilledQty.Equal(decimal.NewFromInt(10)) || o.FilledAvgPrice == nil {
			t.Fatalf("order = %+v", o)
		}
		got, err := c.GetOrderByClientOrderID("sdk-1")
		if err != nil || got.ID != o.ID {
			t.Fatalf("by client id = %v, %v", got, err)
		}
	})
	t.Run("DuplicateClientOrderID", func(t *testing.T) {
		c := account(t)
		if _, err := c.PlaceOrder(sdk.PlaceOrderRequest{Symbol: "AAPL", Qty: dec("1"), Side: sdk.Buy, Type: sdk.Market, TimeInForce: sdk.Day, ClientOrderID: "sdk-1"}); err != nil {
			t.Fatal(err)
		}
		_, err := c.PlaceOrder(sdk.PlaceOrderRequest{Symbol: "AAPL", Qty: dec("1"), Side: sdk.Buy, Type: sdk.Market, TimeInForce: sdk.Day, ClientOrderID: "sdk-1"})
		var ae *sdk.APIError
		if !errors.As(err, &ae) || ae.StatusCode != 422 || ae.Code != 40010001 {
			t.Fatalf("duplicate: %v", err)
		}
	})
	t.Run("Positions", func(t *testing.T) {
		c := account(t)
		buyFilled(t, c, "AAPL", "10", "")
		ps, err := c.GetPositions()
		if err != nil || len(ps) != 1 || ps[0].Symbol != "AAPL" || !ps[0].Qty.Equal(decimal.NewFromInt(10)) {
			t.Fatalf("positions = %+v, %v", ps, err)
		}
		p, err := c.GetPosition("AAPL")
		if err != nil || p.Side != "long" {
			t.Fatalf("position = %+v, %v", p, err)
		}
		o, err := c.ClosePosition("AAPL", sdk.ClosePositionRequest{Qty: decimal.NewFromInt(4)})
		if err != nil || o.Side != sdk.Sell {
			t.Fatalf("close 4 = %+v, %v", o, err)
		}
		waitStatus(t, c, o.ID, "filled")
		o, err = c.ClosePosition("AAPL", sdk.ClosePositionRequest{Percentage: decimal.NewFromInt(50)})
		if err != nil {
			t.Fatalf("close 50%%: %v", err)
		}
		waitStatus(t, c, o.ID, "filled")
		p, err = c.GetPosition("AAPL")
		if err != nil || !p.Qty.Equal(decimal.NewFromInt(3)) {
			t.Fatalf("after closes: %+v, %v", p, err)
		}
		orders, err := c.CloseAllPositions(sdk.CloseAllPositionsRequest{CancelOrders: true})
		if err != nil || len(orders) != 1 {
			t.Fatalf("close all = %v, %v", orders, err)
		}
		waitStatus(t, c, orders[0].ID, "filled")
		if _, err := c.GetPosition("AAPL"); !isStatus(err, 404) {
			t.Fatalf("closed position: %v", err)
		}
	})
	t.Run("LimitReplaceCancel", func(t *testing.T) {
		c := account(t)
		o, err := c.PlaceOrder(sdk.PlaceOrderRequest{Symbol: "MSFT", Qty: dec("5"), Side: sdk.Buy, Type: sdk.Limit, LimitPrice: dec("1.00"), TimeInForce: sdk.GTC, ClientOrderID: "sdk-lim"})
		if err != nil || o.Status != "new" {
			t.Fatalf("limit = %+v, %v", o, err)
		}
		r, err := c.ReplaceOrder(o.ID, sdk.ReplaceOrderRequest{Qty: dec("7"), LimitPrice: dec("1.50")})
		if err != nil || r.Replaces == nil || *r.Replaces != o.ID || !r.Qty.Equal(decimal.NewFromInt(7)) {
			t.Fatalf("replace = %+v, %v", r, err)
		}
		old, err := c.GetOrder(o.ID)
		if err != nil || old.Status != "replaced" || old.ReplacedBy == nil || *old.ReplacedBy != r.ID {
			t.Fatalf("old = %+v, %v", old, err)
		}
		open, err := c.GetOrders(sdk.GetOrdersRequest{Status: "open", Symbols: []string{"MSFT"}})
		if err != nil || len(open) != 1 || open[0].ID != r.ID {
			t.Fatalf("open orders = %v, %v", open, err)
		}
		if err := c.CancelOrder(r.ID); err != nil {
			t.Fatal(err)
		}
		got, _ := c.GetOrder(r.ID)
		if got.Status != "canceled" {
			t.Fatalf("canceled order status = %s", got.Status)
		}
		if err := c.CancelOrder(r.ID); !isStatus(err, 422) {
			t.Fatalf("second cancel: %v", err)
		}
		if _, err := c.PlaceOrder(sdk.PlaceOrderRequest{Symbol: "MSFT", Qty: dec("1"), Side: sdk.Buy, Type: sdk.Limit, LimitPrice: dec("1.00"), TimeInForce: sdk.Day}); err != nil {
			t.Fatal(err)
		}
		if err := c.CancelAllOrders(); err != nil {
			t.Fatal(err)
		}
		open, _ = c.GetOrders(sdk.GetOrdersRequest{Status: "open"})
		if len(open) != 0 {
			t.Fatalf("open after cancel all: %v", open)
		}
	})
	t.Run("Bracket", func(t *testing.T) {
		c := account(t)
		o, err := c.PlaceOrder(sdk.PlaceOrderRequest{
			Symbol: "NVDA", Qty: dec("2"), Side: sdk.Buy, Type: sdk.Market, TimeInForce: sdk.GTC,
			OrderClass: sdk.Bracket, TakeProfit: &sdk.TakeProfit{LimitPrice: dec("100000")}, StopLoss: &sdk.StopLoss{StopPrice: dec("1.00")},
		})
		if err != nil {
			t.Fatal(err)
		}
		waitStatus(t, c, o.ID, "filled")
		got, err := c.GetOrders(sdk.GetOrdersRequest{Status: "all", Nested: true, Symbols: []string{"NVDA"}})
		if err != nil || len(got) != 1 || len(got[0].Legs) != 2 {
			t.Fatalf("nested bracket = %+v, %v", got, err)
		}
	})
	t.Run("Rejections", func(t *testing.T) {
		c := account(t)
		_, err := c.PlaceOrder(sdk.PlaceOrderRequest{Symbol: "AAPL", Qty: dec("100000"), Side: sdk.Buy, Type: sdk.Market, TimeInForce: sdk.Day})
		if !isStatus(err, 403) {
			t.Fatalf("buying power: %v", err)
		}
		_, err = c.PlaceOrder(sdk.PlaceOrderRequest{Symbol: "AAPL", Qty: dec("1"), Side: sdk.Buy, Type: sdk.Limit, TimeInForce: sdk.Day})
		if !isStatus(err, 422) {
			t.Fatalf("limit without price: %v", err)
		}
		if _, err := c.GetOrder("00000000-0000-4000-8000-000000000000"); !isStatus(err, 404) {
			t.Fatalf("unknown order: %v", err)
		}
	})
	t.Run("Activities", func(t *testing.T) {
		c := account(t)
		buyFilled(t, c, "AAPL", "1", "")
		buyFilled(t, c, "MSFT", "1", "")
		acts, err := c.GetAccountActivities(sdk.GetAccountActivitiesRequest{ActivityTypes: []string{"FILL"}})
		if err != nil || len(acts) == 0 || acts[0].ActivityType != "FILL" {
			t.Fatalf("activities = %v, %v", acts, err)
		}
		page, err := c.GetAccountActivities(sdk.GetAccountActivitiesRequest{ActivityTypes: []string{"FILL"}, PageSize: 1, PageToken: acts[0].ID})
		if err != nil || len(page) != 1 || page[0].ID == acts[0].ID {
			t.Fatalf("second page = %v, %v", page, err)
		}
	})
	t.Run("PortfolioHistory", func(t *testing.T) {
		c := account(t)
		buyFilled(t, c, "AAPL", "1", "")
		h, err := c.GetPortfolioHistory(sdk.GetPortfolioHistoryRequest{Period: "1W", TimeFrame: sdk.Day1})
		if err != nil || len(h.Equity) == 0 || len(h.Equity) != len(h.Timestamp) {
			t.Fatalf("history = %+v, %v", h, err)
		}
	})
	t.Run("Watchlists", func(t *testing.T) {
		c := account(t)
		wl, err := c.CreateWatchlist(sdk.CreateWatchlistRequest{Name: "tech", Symbols: []string{"AAPL", "MSFT"}})
		if err != nil || len(wl.Assets) != 2 {
			t.Fatalf("create = %+v, %v", wl, err)
		}
		if wl, err = c.AddSymbolToWatchlist(wl.ID, sdk.AddSymbolToWatchlistRequest{Symbol: "NVDA"}); err != nil || len(wl.Assets) != 3 {
			t.Fatalf("add = %+v, %v", wl, err)
		}
		if err := c.RemoveSymbolFromWatchlist(wl.ID, sdk.RemoveSymbolFromWatchlistRequest{Symbol: "AAPL"}); err != nil {
			t.Fatal(err)
		}
		if wl, err = c.UpdateWatchlist(wl.ID, sdk.UpdateWatchlistRequest{Name: "chips", Symbols: []string{"NVDA"}}); err != nil || wl.Name != "chips" {
			t.Fatalf("update = %+v, %v", wl, err)
		}
		all, err := c.GetWatchlists()
		if err != nil || len(all) != 1 {
			t.Fatalf("list = %v, %v", all, err)
		}
		if wl, err = c.GetWatchlist(wl.ID); err != nil || len(wl.Assets) != 1 {
			t.Fatalf("get = %+v, %v", wl, err)
		}
		if err := c.DeleteWatchlist(wl.ID); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("TradeUpdatesSSE", func(t *testing.T) {
		// Replay from before the first order until just after its fill:
		// the server ends the stream at the first event past until, which
		// the order placed afterwards provides, and the SDK returns.
		c := account(t)
		since := time.Now().Add(-time.Hour)
		buy := buyFilled(t, c, "AAPL", "1", "")
		until := time.Now()
		if _, err := c.PlaceOrder(sdk.PlaceOrderRequest{Symbol: "MSFT", Qty: dec("1"), Side: sdk.Buy, Type: sdk.Limit, LimitPrice: dec("1.00"), TimeInForce: sdk.GTC}); err != nil {
			t.Fatal(err)
		}
		var got []sdk.TradeUpdate
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second) // a safety net only
		defer cancel()
		err := c.StreamTradeUpdates(ctx, func(tu sdk.TradeUpdate) {
			got = append(got, tu)
		}, sdk.StreamTradeUpdatesRequest{Since: since, Until: until})
		if err != nil {
			t.Fatalf("stream: %v after %d updates", err, len(got))
		}
		if len(got) == 0 {
			t.Fatal("no trade updates replayed")
		}
		seen := map[string]bool{}
		for _, tu := range got {
			if seen[tu.EventID] {
				t.Fatalf("event %s twice", tu.EventID)
			}
			seen[tu.EventID] = true
			if tu.Order.ID != buy.ID {
				t.Fatalf("update past until: %+v", tu)
			}
			if tu.Event == "fill" && tu.Price == nil {
				t.Fatalf("fill without price: %+v", tu)
			}
		}
		if last := got[len(got)-1]; last.Event != "fill" {
			t.Fatalf("last update %s, want the fill", last.Event)
		}
	})
}

func TestSDKAuth(t *testing.T) {
	b := simtest.Start(t, sim.Config{Credentials: []sim.Credential{{KeyID: "PKONE", Secret: "right"}}})
	bad := sdk.NewClient(sdk.ClientOpts{APIKey: "PKONE", APISecret: "wrong", BaseURL: b.URL, RetryLimit: -1})
	if _, err := bad.GetAccount(); !isStatus(err, 403) {
		t.Fatalf("wrong secret: %v", err)
	}
	unknown := sdk.NewClient(sdk.ClientOpts{APIKey: "PKNOBODY", APISecret: "x", BaseURL: b.URL, RetryLimit: -1})
	if _, err := unknown.GetAccount(); !isStatus(err, 401) {
		t.Fatalf("unknown key: %v", err)
	}
	good := sdk.NewClient(sdk.ClientOpts{APIKey: "PKONE", APISecret: "right", BaseURL: b.URL, RetryLimit: -1})
	if _, err := good.GetAccount(); err != nil {
		t.Fatal(err)
	}
}

func isStatus(err error, status int) bool {
	var ae *sdk.APIError
	return errors.As(err, &ae) && ae.StatusCode == status
}

func waitStatus(t *testing.T, c *sdk.Client, id, status string) *sdk.Order {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second) // a safety net only
	for {
		o, err := c.GetOrder(id)
		if err != nil {
			t.Fatal(err)
		}
		if o.Status == status {
			return o
		}
		if time.Now().After(deadline) {
			t.Fatalf("order %s status %s, want %s", id, o.Status, status)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
