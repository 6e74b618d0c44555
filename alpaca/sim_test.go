package alpaca_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/quantum-alpaca/quantum/alpaca"
	"github.com/quantum-alpaca/quantum/sim"
)

// MustSim runs the project's broker simulator over real TCP and returns a
// Client for a fresh auto-provisioned account.
func MustSim(tb testing.TB, cfg sim.Config, opts ...alpaca.Option) (*alpaca.Client, *sim.Server) {
	tb.Helper()
	cfg.AutoProvision = true
	if cfg.Seed == 0 {
		cfg.Seed = 42
	}
	s, err := sim.New(cfg)
	if err != nil {
		tb.Fatalf("sim.New: %v", err)
	}
	s.Start()
	srv := httptest.NewServer(s.Handler())
	tb.Cleanup(func() {
		srv.CloseClientConnections()
		srv.Close()
		s.Close()
	})
	return MustClient(tb, srv, opts...), s
}

func waitOrder(tb testing.TB, c *alpaca.Client, id string, done func(*alpaca.Order) bool) *alpaca.Order {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		o, err := c.GetOrder(ctx, id)
		if err != nil {
			tb.Fatalf("GetOrder(%s): %v", id, err)
		}
		if done(o) {
			return o
		}
		select {
		case <-ctx.Done():
			tb.Fatalf("order %s stuck in %s", id, o.Status)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// TestSimEveryCall runs every Client call against the simulator.
func TestSimEveryCall(t *testing.T) {
	t.Parallel()
	c, _ := MustSim(t, sim.Config{})
	ctx := t.Context()
	ok := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	dec := decimal.RequireFromString

	acct, err := c.GetAccount(ctx)
	ok("GetAccount", err)
	if !acct.Cash.Equal(dec("100000")) {
		t.Errorf("cash %s", acct.Cash)
	}
	_, err = c.GetAccountConfigurations(ctx)
	ok("GetAccountConfigurations", err)
	yes := true
	cfg, err := c.UpdateAccountConfigurations(ctx, alpaca.AccountConfigurationsPatch{FractionalTrading: &yes})
	ok("UpdateAccountConfigurations", err)
	if !cfg.FractionalTrading {
		t.Error("configuration not applied")
	}
	_, err = c.GetClock(ctx)
	ok("GetClock", err)
	_, err = c.GetCalendar(ctx, alpaca.CalendarRequest{Start: time.Now().AddDate(0, 0, -7), End: time.Now()})
	ok("GetCalendar", err)
	assets, err := c.ListAssets(ctx, alpaca.ListAssetsRequest{Status: "active"})
	ok("ListAssets", err)
	if len(assets) == 0 {
		t.Fatal("no assets")
	}
	sym := "AAPL"
	_, err = c.GetAsset(ctx, sym)
	ok("GetAsset", err)

	// Market buy that fills, then the position it opens.
	q := dec("10")
	buy, err := c.SubmitOrder(ctx, alpaca.OrderRequest{Symbol: sym, Qty: &q, Side: alpaca.Buy, Type: alpaca.Market,
		TimeInForce: alpaca.Day, ClientOrderID: alpaca.NewClientOrderID()})
	ok("SubmitOrder", err)
	filled := waitOrder(t, c, buy.ID, func(o *alpaca.Order) bool { return o.Status == alpaca.StatusFilled })
	if !filled.FilledQty.Equal(q) || filled.FilledAvgPrice == nil {
		t.Errorf("fill %+v", filled)
	}
	byCID, err := c.GetOrderByClientOrderID(ctx, buy.ClientOrderID)
	ok("GetOrderByClientOrderID", err)
	if byCID.ID != buy.ID {
		t.Errorf("by client id: %s, want %s", byCID.ID, buy.ID)
	}
	orders, err := c.ListOrders(ctx, alpaca.ListOrdersRequest{Status: alpaca.OrdersAll, Symbols: []string{sym}, Limit: 10})
	ok("ListOrders", err)
	if len(orders) != 1 {
		t.Errorf("ListOrders: %d orders", len(orders))
	}
	pos, err := c.GetPosition(ctx, sym)
	ok("GetPosition", err)
	if !pos.Qty.Equal(q) {
		t.Errorf("position qty %s", pos.Qty)
	}
	positions, err := c.ListPositions(ctx)
	ok("ListPositions", err)
	if len(positions) != 1 {
		t.Errorf("%d positions", len(positions))
	}

	// A resting limit order: replace it, then cancel the replacement.
	low := pos.AvgEntryPrice.Mul(dec("0.5")).Round(2)
	one := dec("1")
	rest, err := c.SubmitOrder(ctx, alpaca.OrderRequest{Symbol: sym, Qty: &one, Side: alpaca.Buy, Type: alpaca.Limit,
		TimeInForce: alpaca.GTC, LimitPrice: &low, ClientOrderID: alpaca.NewClientOrderID()})
	ok("SubmitOrder limit", err)
	waitOrder(t, c, rest.ID, func(o *alpaca.Order) bool { return o.Status == alpaca.StatusNew || o.Status == alpaca.StatusAccepted })
	lower := low.Sub(dec("1"))
	repl, err := c.ReplaceOrder(ctx, rest.ID, alpaca.ReplaceRequest{LimitPrice: &lower})
	ok("ReplaceOrder", err)
	if repl.Replaces == nil || *repl.Replaces != rest.ID {
		t.Errorf("replacement %+v", repl)
	}
	waitOrder(t, c, repl.ID, func(o *alpaca.Order) bool { return !o.Status.Terminal() && o.Status != alpaca.StatusPendingReplace })
	ok("CancelOrder", c.CancelOrder(ctx, repl.ID))
	waitOrder(t, c, repl.ID, func(o *alpaca.Order) bool { return o.Status == alpaca.StatusCanceled })
	_, err = c.CancelAllOrders(ctx)
	ok("CancelAllOrders", err)

	// Close part, then all.
	two := dec("2")
	closing, err := c.ClosePosition(ctx, sym, alpaca.ClosePositionRequest{Qty: &two})
	ok("ClosePosition", err)
	waitOrder(t, c, closing.ID, func(o *alpaca.Order) bool { return o.Status == alpaca.StatusFilled })
	results, err := c.CloseAllPositions(ctx, alpaca.CloseAllPositionsRequest{CancelOrders: true})
	ok("CloseAllPositions", err)
	if len(results) != 1 || results[0].Status != 200 {
		t.Errorf("close all: %+v", results)
	}

	_, err = c.GetAccountActivities(ctx, alpaca.ActivitiesRequest{PageSize: 50})
	ok("GetAccountActivities", err)
	_, err = c.GetAccountActivitiesByType(ctx, "FILL", alpaca.ActivitiesRequest{})
	ok("GetAccountActivitiesByType", err)
	_, err = c.GetPortfolioHistory(ctx, alpaca.PortfolioHistoryRequest{Period: "1D"})
	ok("GetPortfolioHistory", err)

	w, err := c.CreateWatchlist(ctx, alpaca.WatchlistRequest{Name: "tech", Symbols: []string{"AAPL"}})
	ok("CreateWatchlist", err)
	_, err = c.ListWatchlists(ctx)
	ok("ListWatchlists", err)
	_, err = c.GetWatchlist(ctx, w.ID)
	ok("GetWatchlist", err)
	_, err = c.AddAssetToWatchlist(ctx, w.ID, "MSFT")
	ok("AddAssetToWatchlist", err)
	_, err = c.RemoveAssetFromWatchlist(ctx, w.ID, "MSFT")
	ok("RemoveAssetFromWatchlist", err)
	_, err = c.UpdateWatchlist(ctx, w.ID, alpaca.WatchlistRequest{Name: "tech2", Symbols: []string{"AAPL"}})
	ok("UpdateWatchlist", err)
	_, err = c.GetWatchlistByName(ctx, "tech2")
	ok("GetWatchlistByName", err)
	_, err = c.AddAssetToWatchlistByName(ctx, "tech2", "MSFT")
	ok("AddAssetToWatchlistByName", err)
	_, err = c.UpdateWatchlistByName(ctx, "tech2", alpaca.WatchlistRequest{Name: "tech2", Symbols: []string{"MSFT"}})
	ok("UpdateWatchlistByName", err)
	ok("DeleteWatchlistByName", c.DeleteWatchlistByName(ctx, "tech2"))
	w2, err := c.CreateWatchlist(ctx, alpaca.WatchlistRequest{Name: "tmp"})
	ok("CreateWatchlist", err)
	ok("DeleteWatchlist", c.DeleteWatchlist(ctx, w2.ID))
	if _, err := c.GetWatchlist(ctx, w2.ID); !errors.Is(err, alpaca.ErrNotFound) {
		t.Errorf("deleted watchlist: %v", err)
	}

	end := time.Now()
	start := end.Add(-24 * time.Hour)
	bars, err := c.GetMultiBars(ctx, []string{"AAPL", "MSFT"}, alpaca.BarsRequest{TimeFrame: "1Min",
		HistoricalRequest: alpaca.HistoricalRequest{Start: start, End: end, PageLimit: 500}})
	ok("GetMultiBars", err)
	if len(bars["AAPL"]) == 0 {
		t.Error("no bars")
	}
	_, err = c.GetBars(ctx, "AAPL", alpaca.BarsRequest{HistoricalRequest: alpaca.HistoricalRequest{Start: start, Limit: 5}})
	ok("GetBars", err)
	_, err = c.GetTrades(ctx, "AAPL", alpaca.TradesRequest{HistoricalRequest: alpaca.HistoricalRequest{Start: start, Limit: 5}})
	ok("GetTrades", err)
	_, err = c.GetQuotes(ctx, "AAPL", alpaca.QuotesRequest{HistoricalRequest: alpaca.HistoricalRequest{Start: start, Limit: 5}})
	ok("GetQuotes", err)
	_, err = c.GetLatestBar(ctx, "AAPL", alpaca.LatestRequest{})
	ok("GetLatestBar", err)
	_, err = c.GetLatestTrade(ctx, "AAPL", alpaca.LatestRequest{})
	ok("GetLatestTrade", err)
	lq, err := c.GetLatestQuote(ctx, "AAPL", alpaca.LatestRequest{})
	ok("GetLatestQuote", err)
	if lq.AskPrice <= 0 {
		t.Errorf("quote %+v", lq)
	}
	_, err = c.GetSnapshot(ctx, "AAPL", alpaca.LatestRequest{})
	ok("GetSnapshot", err)
	snaps, err := c.GetSnapshots(ctx, []string{"AAPL", "MSFT"}, alpaca.LatestRequest{})
	ok("GetSnapshots", err)
	if len(snaps) != 2 {
		t.Errorf("%d snapshots", len(snaps))
	}

	// Errors the simulator produces must match our sentinels.
	_, err = c.GetOrder(ctx, "00000000-0000-4000-8000-000000000000")
	if !errors.Is(err, alpaca.ErrNotFound) {
		t.Errorf("unknown order: %v", err)
	}
	huge := dec("1000000")
	_, err = c.SubmitOrder(ctx, alpaca.OrderRequest{Symbol: sym, Qty: &huge, Side: alpaca.Buy, Type: alpaca.Market,
		TimeInForce: alpaca.Day, ClientOrderID: alpaca.NewClientOrderID()})
	if !errors.Is(err, alpaca.ErrInsufficientBuyingPower) {
		t.Errorf("huge order: %v", err)
	}
	bad, err := alpaca.New(c.BaseURL(), alpaca.WithCredentials(testKey+"-other", "x"))
	ok("New", err)
	bad.GetAccount(ctx) // provisions the key
	bad, _ = alpaca.New(c.BaseURL(), alpaca.WithCredentials(testKey+"-other", "wrong"), alpaca.WithRetry(0, 0, 0))
	if _, err := bad.GetAccount(ctx); !errors.Is(err, alpaca.ErrForbidden) && !errors.Is(err, alpaca.ErrUnauthorized) {
		t.Errorf("wrong secret: %v", err)
	}
}

// TestSimFaults submits 2,560 orders from 64 goroutines through a simulator that
// fails and drops a share of requests before and after processing them,
// and checks that the broker holds each acknowledged order exactly once
// and nothing the client does not know about.
func TestSimFaults(t *testing.T) {
	t.Parallel()
	var faults, adopted atomic.Int32
	c, _ := MustSim(t, sim.Config{Cash: 1e9, Faults: sim.Faults{FailRate: 0.15, DropRate: 0.15, Latency: time.Millisecond}},
		alpaca.WithRetry(6, time.Millisecond, 10*time.Millisecond), alpaca.WithSubmitRounds(5),
		alpaca.WithObserver(func(ri alpaca.RequestInfo) {
			if ri.Err != nil && ri.Route == "/v2/orders" && ri.Method == "POST" {
				faults.Add(1)
			}
			if ri.Err == nil && ri.Route == "/v2/orders:by_client_order_id" {
				adopted.Add(1)
			}
		}))
	const workers, each = 64, 40
	var mu sync.Mutex
	acked := map[string]string{} // client id -> broker id
	unknown := map[string]bool{}
	var wg sync.WaitGroup
	one := decimal.NewFromInt(1)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				cid := fmt.Sprintf("fault-%02d-%d", w, i)
				o, err := c.SubmitOrder(t.Context(), alpaca.OrderRequest{Symbol: "AAPL", Qty: &one, Side: alpaca.Buy,
					Type: alpaca.Market, TimeInForce: alpaca.Day, ClientOrderID: cid})
				mu.Lock()
				switch {
				case err == nil:
					acked[cid] = o.ID
				case errors.Is(err, alpaca.ErrUnknownOutcome):
					unknown[cid] = true
				default:
					t.Errorf("SubmitOrder(%s): %v", cid, err)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()

	orders := listAllOrders(t, c)
	seen := map[string]int{}
	for _, o := range orders {
		seen[o.ClientOrderID]++
		if id, ok := acked[o.ClientOrderID]; ok && id != o.ID {
			t.Errorf("%s: client was told %s, broker holds %s", o.ClientOrderID, id, o.ID)
		}
		if _, ok := acked[o.ClientOrderID]; !ok && !unknown[o.ClientOrderID] {
			t.Errorf("broker holds %s, which the client reported as not placed", o.ClientOrderID)
		}
	}
	for cid, n := range seen {
		if n != 1 {
			t.Errorf("%s placed %d times", cid, n)
		}
	}
	for cid := range acked {
		if seen[cid] != 1 {
			t.Errorf("acknowledged %s missing at the broker", cid)
		}
	}
	if faults.Load() == 0 || adopted.Load() == 0 {
		t.Errorf("%d failed POSTs, %d adoptions: the faults did not exercise look-up-before-resend", faults.Load(), adopted.Load())
	}
	t.Logf("%d acknowledged (%d adopted after a look-up), %d unknown, %d held by the broker; %d POSTs failed",
		len(acked), adopted.Load(), len(unknown), len(orders), faults.Load())
}

// listAllOrders pages through every order, oldest first, by submission
// time (Alpaca's list has no cursor token), dropping the overlap at the
// page boundary by id.
func listAllOrders(t *testing.T, c *alpaca.Client) []alpaca.Order {
	t.Helper()
	var all []alpaca.Order
	seen := map[string]bool{}
	var after time.Time
	for {
		req := alpaca.ListOrdersRequest{Status: alpaca.OrdersAll, Limit: 500, Direction: "asc"}
		if !after.IsZero() {
			req.After = after.Add(-time.Nanosecond)
		}
		page, err := c.ListOrders(t.Context(), req)
		if err != nil {
			t.Fatal(err)
		}
		fresh := 0
		for _, o := range page {
			if seen[o.ID] {
				continue
			}
			seen[o.ID], fresh = true, fresh+1
			all = append(all, o)
			if o.SubmittedAt != nil && o.SubmittedAt.After(after) {
				after = *o.SubmittedAt
			}
		}
		if len(page) < 500 || fresh == 0 {
			return all
		}
	}
}

// TestSimRateLimit checks that the simulator's 429s surface as
// ErrRateLimited and that the Client waits as the server asks rather than
// hammering it.
//
// The simulator's clock is stopped, so its one-minute window never turns
// over: exactly the limit's worth of requests pass and every later one is
// refused, however fast or slow this machine is. The refused call is
// ended by cancelling it once the client has decided how long to wait,
// not by a deadline.
func TestSimRateLimit(t *testing.T) {
	t.Parallel()
	const limit = 20
	stopped := time.Now().Truncate(time.Minute) // the window starts here
	var mu sync.Mutex
	var statuses []int
	retries := newLogEvents("alpaca: retrying request")
	c, _ := MustSim(t, sim.Config{RateLimit: limit, Now: func() time.Time { return stopped }},
		alpaca.WithLogger(slog.New(retries)),
		alpaca.WithObserver(func(ri alpaca.RequestInfo) {
			mu.Lock()
			statuses = append(statuses, ri.StatusCode)
			mu.Unlock()
		}))
	for i := range limit {
		if _, err := c.GetClock(t.Context()); err != nil {
			t.Fatalf("request %d of %d within the limit: %v", i+1, limit, err)
		}
	}

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	go func() { _, err := c.GetClock(ctx); done <- err }()
	rec := retries.next(t)
	// The server asked for the rest of its window, a minute.
	if wait := attr(rec, "wait").Duration(); wait < time.Minute {
		t.Errorf("the client would retry after %v; the server asked for a minute", wait)
	}
	cancel()
	if err := await(t, done, "GetClock after cancel"); !errors.Is(err, alpaca.ErrRateLimited) {
		t.Fatalf("err = %v, want ErrRateLimited", err)
	}

	mu.Lock()
	defer mu.Unlock()
	if len(statuses) != limit+1 || statuses[limit] != http.StatusTooManyRequests {
		t.Fatalf("statuses %v: want %d successes, then one 429 and no retry within the window", statuses, limit)
	}
	for i, st := range statuses[:limit] {
		if st != http.StatusOK {
			t.Errorf("request %d: status %d", i+1, st)
		}
	}
}
