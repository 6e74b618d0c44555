package sim_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	sdk "github.com/alpacahq/alpaca-trade-api-go/v3/alpaca"
	"github.com/alpacahq/alpaca-trade-api-go/v3/marketdata"
	"github.com/alpacahq/alpaca-trade-api-go/v3/marketdata/stream"
	"github.com/shopspring/decimal"

	"github.com/quantum-alpaca/quantum/internal/simtest"
	"github.com/quantum-alpaca/quantum/sim"
)

// The crypto path through the official Go SDK, unchanged: trading
// (assets, orders, positions by either symbol form), market data REST
// and the crypto websocket (issue 9). The clock is stepped and starts on
// a Sunday, when only crypto trades.
func TestSDKCrypto(t *testing.T) {
	b := simtest.Start(t, sim.Config{Seed: 9, Session: sim.NYSE{}, Clock: sim.NewSteppedClock(cryptoDataAt)})
	account := func(t *testing.T) *sdk.Client {
		return newSDK(t, b, "PK"+strings.ToUpper(strings.ReplaceAll(t.Name(), "/", "-")))
	}
	data := func(t *testing.T) *marketdata.Client {
		key := "PK" + strings.ToUpper(strings.ReplaceAll(t.Name(), "/", "-"))
		return marketdata.NewClient(marketdata.ClientOpts{APIKey: key, APISecret: key + "-secret", BaseURL: b.URL, RetryLimit: -1})
	}

	t.Run("Assets", func(t *testing.T) {
		c := account(t)
		assets, err := c.GetAssets(sdk.GetAssetsRequest{Status: "active", AssetClass: "crypto"})
		if err != nil {
			t.Fatal(err)
		}
		var btc *sdk.Asset
		for i := range assets {
			a := &assets[i]
			if a.Class != sdk.Crypto || a.Exchange != "CRYPTO" || !a.Tradable || !a.Fractionable {
				t.Errorf("listed %+v", *a)
			}
			if a.Symbol == "BTC/USD" {
				btc = a
			}
		}
		if btc == nil || len(assets) < 10 {
			t.Fatalf("%d crypto assets, BTC/USD %v", len(assets), btc)
		}
		for _, sym := range []string{"BTC/USD", "BTCUSD"} {
			a, err := c.GetAsset(sym)
			if err != nil || a.ID != btc.ID {
				t.Errorf("GetAsset(%s) = %+v, %v", sym, a, err)
			}
		}
	})

	t.Run("OrdersAndPositions", func(t *testing.T) {
		c := account(t)
		acct, err := c.GetAccount()
		if err != nil || acct.CryptoStatus != "ACTIVE" {
			t.Fatalf("account: crypto_status %q, %v", acct.CryptoStatus, err)
		}
		// A notional market order fills at once, even on a Sunday.
		buy, err := c.PlaceOrder(sdk.PlaceOrderRequest{Symbol: "BTC/USD", Notional: dec("500"), Side: sdk.Buy, Type: sdk.Market, TimeInForce: sdk.GTC})
		if err != nil {
			t.Fatal(err)
		}
		if buy.Symbol != "BTC/USD" || buy.AssetClass != sdk.Crypto || buy.Notional == nil || !buy.Notional.Equal(decimal.NewFromInt(500)) {
			t.Errorf("notional buy: %+v", buy)
		}
		buy = waitStatus(t, c, buy.ID, "filled")
		if buy.FilledAvgPrice == nil || !buy.FilledQty.IsPositive() {
			t.Fatalf("filled: %+v", buy)
		}
		// A limit gtc order far below the market rests.
		limit, err := c.PlaceOrder(sdk.PlaceOrderRequest{Symbol: "ETH/USD", Qty: dec("0.05"), Side: sdk.Buy, Type: sdk.Limit, LimitPrice: dec("1000"), TimeInForce: sdk.GTC})
		if err != nil {
			t.Fatal(err)
		}
		if limit.Status != "new" || limit.TimeInForce != sdk.GTC || limit.AssetClass != sdk.Crypto {
			t.Errorf("limit: %+v", limit)
		}
		for _, syms := range [][]string{{"ETHUSD"}, {"ETH/USD"}} {
			open, err := c.GetOrders(sdk.GetOrdersRequest{Status: "open", Symbols: syms})
			if err != nil || len(open) != 1 || open[0].ID != limit.ID {
				t.Errorf("open orders %v: %d, %v", syms, len(open), err)
			}
		}
		for _, sym := range []string{"BTCUSD", "BTC/USD"} {
			p, err := c.GetPosition(sym)
			if err != nil {
				t.Fatalf("GetPosition(%s): %v", sym, err)
			}
			// The fee is taken in the asset bought, so the position is a
			// little less than what the order filled.
			if p.Symbol != "BTC/USD" || p.AssetClass != sdk.Crypto || p.Exchange != "CRYPTO" || !p.Qty.IsPositive() || !p.Qty.LessThan(buy.FilledQty) {
				t.Errorf("GetPosition(%s) = %+v (filled %s)", sym, p, buy.FilledQty)
			}
		}
		if err := c.CancelOrder(limit.ID); err != nil {
			t.Fatal(err)
		}
		closed, err := c.ClosePosition("BTCUSD", sdk.ClosePositionRequest{})
		if err != nil || closed.Symbol != "BTC/USD" || closed.Side != sdk.Sell {
			t.Fatalf("close: %+v, %v", closed, err)
		}
	})

	t.Run("MarketData", func(t *testing.T) {
		md := data(t)
		pairs := []string{"BTC/USD", "ETH/USD"}
		end := cryptoDataAt.Truncate(time.Minute)
		bars, err := md.GetCryptoBars("BTC/USD", marketdata.GetCryptoBarsRequest{TimeFrame: marketdata.OneMin, Start: end.Add(-time.Hour), End: end, PageLimit: 25})
		if err != nil {
			t.Fatal(err)
		}
		if len(bars) < 50 || len(bars) > 61 {
			t.Fatalf("%d minute bars in an hour", len(bars))
		}
		for i, b := range bars {
			if b.Low > b.High || b.Open < b.Low || b.Close > b.High || b.Volume <= 0 || (i > 0 && !b.Timestamp.After(bars[i-1].Timestamp)) {
				t.Fatalf("bar %d: %+v", i, b)
			}
		}
		quotes, err := md.GetLatestCryptoQuotes(pairs, marketdata.GetLatestCryptoQuoteRequest{})
		if err != nil || len(quotes) != 2 {
			t.Fatalf("latest quotes: %v, %v", quotes, err)
		}
		for _, p := range pairs {
			q := quotes[p]
			if q.BidPrice <= 0 || q.AskPrice <= q.BidPrice || q.Timestamp.IsZero() {
				t.Errorf("%s quote: %+v", p, q)
			}
		}
		snaps, err := md.GetCryptoSnapshots(pairs, marketdata.GetCryptoSnapshotRequest{})
		if err != nil || len(snaps) != 2 {
			t.Fatalf("snapshots: %v, %v", snaps, err)
		}
		for _, p := range pairs {
			s := snaps[p]
			if s.LatestTrade == nil || s.LatestQuote == nil || s.MinuteBar == nil || s.DailyBar == nil || s.PrevDailyBar == nil {
				t.Fatalf("%s snapshot: %+v", p, s)
			}
		}
		// v3.9.1 of the Go SDK has no call for the latest order books
		// (the stream has them; see Stream), so its REST route is read
		// into the SDK's stream entity's shape by hand.
		var books struct {
			Orderbooks map[string]struct {
				T time.Time `json:"t"`
				B []struct {
					P float64 `json:"p"`
					S float64 `json:"s"`
				} `json:"b"`
				A []struct {
					P float64 `json:"p"`
					S float64 `json:"s"`
				} `json:"a"`
			} `json:"orderbooks"`
		}
		c := cryptoClient{t, b.URL, "PKSDKBOOKS"}
		c.json("GET", "/v1beta3/crypto/us/latest/orderbooks?symbols=BTC/USD,ETH/USD", "", 200, &books)
		for _, p := range pairs {
			ob := books.Orderbooks[p]
			if len(ob.B) == 0 || len(ob.A) == 0 || ob.B[0].P >= ob.A[0].P {
				t.Errorf("%s book: %+v", p, ob)
			}
		}
	})

	t.Run("Stream", func(t *testing.T) {
		key := "PK" + strings.ToUpper(strings.ReplaceAll(t.Name(), "/", "-"))
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second) // a safety net only
		defer cancel()
		var (
			mu     sync.Mutex
			trades []stream.CryptoTrade
			quotes []stream.CryptoQuote
			bars   []stream.CryptoBar
			books  []stream.CryptoOrderbook
		)
		got := make(chan struct{}, 1024)
		note := func() {
			select {
			case got <- struct{}{}:
			default:
			}
		}
		sc := stream.NewCryptoClient(marketdata.US,
			stream.WithBaseURL(b.URL+"/v1beta3/crypto"),
			stream.WithCredentials(key, key+"-secret"),
			stream.WithReconnectSettings(1, 0),
			stream.WithCryptoTrades(func(x stream.CryptoTrade) { mu.Lock(); trades = append(trades, x); mu.Unlock(); note() }, "BTC/USD"),
			stream.WithCryptoQuotes(func(x stream.CryptoQuote) { mu.Lock(); quotes = append(quotes, x); mu.Unlock(); note() }, "BTCUSD"),
			stream.WithCryptoBars(func(x stream.CryptoBar) { mu.Lock(); bars = append(bars, x); mu.Unlock(); note() }, "BTC/USD", "ETH/USD"),
			stream.WithCryptoOrderbooks(func(x stream.CryptoOrderbook) { mu.Lock(); books = append(books, x); mu.Unlock(); note() }, "BTC/USD"),
		)
		// Connect returns once the subscription has been echoed, so the
		// step below is published to this client.
		if err := sc.Connect(ctx); err != nil {
			t.Fatal(err)
		}
		next := cryptoDataAt.Truncate(time.Minute).Add(time.Minute)
		if _, err := b.AdvanceClock(ctx, next); err != nil {
			t.Fatal(err)
		}
		done := func() bool {
			mu.Lock()
			defer mu.Unlock()
			// The first book is the whole book sent on subscribing, the
			// second the step's.
			return len(trades) > 0 && len(quotes) > 0 && len(bars) == 2 && len(books) >= 2
		}
		for !done() {
			select {
			case <-got:
			case err := <-sc.Terminated():
				t.Fatalf("stream ended: %v", err)
			case <-ctx.Done():
				mu.Lock()
				t.Fatalf("after a step: %d trades, %d quotes, %d bars, %d books", len(trades), len(quotes), len(bars), len(books))
			}
		}
		mu.Lock()
		defer mu.Unlock()
		minute := next.Add(-time.Minute)
		for _, x := range trades {
			if x.Symbol != "BTC/USD" || x.Price <= 0 || x.Size <= 0 || x.Timestamp.Before(minute) || !x.Timestamp.Before(next) {
				t.Errorf("trade %+v", x)
			}
		}
		if q := quotes[0]; q.Symbol != "BTC/USD" || q.BidPrice <= 0 || q.AskPrice <= q.BidPrice {
			t.Errorf("quote %+v", q)
		}
		if !books[0].Reset || len(books[0].Bids) == 0 || len(books[0].Asks) == 0 {
			t.Errorf("first book %+v", books[0])
		}
		// Each streamed bar is the one REST serves for its minute.
		md := data(t)
		for _, x := range bars {
			if !x.Timestamp.Equal(minute) {
				t.Errorf("bar %+v, want the minute %s", x, minute)
			}
			rest, err := md.GetCryptoBars(x.Symbol, marketdata.GetCryptoBarsRequest{TimeFrame: marketdata.OneMin, Start: minute, End: minute})
			if err != nil || len(rest) != 1 {
				t.Fatalf("REST bar of %s: %v, %v", x.Symbol, rest, err)
			}
			r := rest[0]
			if r.Open != x.Open || r.High != x.High || r.Low != x.Low || r.Close != x.Close || r.Volume != x.Volume || r.TradeCount != x.TradeCount || r.VWAP != x.VWAP {
				t.Errorf("%s: streamed %+v, REST %+v", x.Symbol, x, r)
			}
		}
	})
}
