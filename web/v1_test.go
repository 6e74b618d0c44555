package web_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/quantum-alpaca/quantum/trading"
	"github.com/quantum-alpaca/quantum/web"
)

var asOf = time.Date(2026, 12, 1, 15, 0, 15, 0, time.UTC)

// withAccount gives tenant id a broker read: holdings whose figures have
// more decimals than any price, as fractional shares and averages do.
func withAccount(f *fleet, id trading.TenantID) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.st[id]
	s.AccountAt = asOf
	s.Positions = map[string]decimal.Decimal{"AAPL": decimal.NewFromInt(16), "PENNY": decimal.NewFromInt(1000)}
	s.Holdings = []trading.Position{
		{Symbol: "AAPL", Qty: decimal.NewFromInt(10), AvgEntryPrice: decimal.RequireFromString("272.453999999"),
			MarketValue: decimal.RequireFromString("2731.2"), UnrealizedPL: decimal.RequireFromString("6.66001")},
		{Symbol: "PENNY", Qty: decimal.NewFromInt(1000), AvgEntryPrice: decimal.RequireFromString("0.123456"),
			MarketValue: decimal.RequireFromString("130.01"), UnrealizedPL: decimal.RequireFromString("6.554")},
	}
	s.Equity, s.DailyPnL, s.UnrealizedPnL = decimal.RequireFromString("100012.345"), decimal.RequireFromString("-12.5"), decimal.RequireFromString("13.21401")
	f.st[id] = s
}

func TestOpsAPIV1_Tenant(t *testing.T) {
	t.Parallel()
	f := newFleet("a", "b")
	withAccount(f, "a")
	h := web.NewOpsAPI(web.Config{Fleet: f, Journal: mustJournal(t, "a", 0)})

	t.Run("BrokerFiguresWithAsOf", func(t *testing.T) {
		rec := serve(t, h, "GET", "/api/v1/tenants/a", "")
		got := decode[web.TenantV1](t, rec)
		if rec.Code != http.StatusOK || got.Broker.AsOf == nil || !got.Broker.AsOf.Equal(asOf) {
			t.Fatalf("%d %s", rec.Code, rec.Body)
		}
		if *got.Broker.Equity != "100012.35" || *got.Broker.DayPnL != "-12.50" || *got.Broker.UnrealizedPnL != "13.21" {
			t.Errorf("broker figures: %s", rec.Body)
		}
		if got.EnginePositions["AAPL"] != "16" || len(got.Broker.Holdings) != 2 || got.Broker.Holdings[0].Qty != "10" {
			t.Errorf("engine positions and broker holdings: %s", rec.Body)
		}
		for _, tc := range []struct{ got, want string }{
			{got.Broker.Holdings[0].AvgEntryPrice, "272.45"},
			{*got.Broker.Holdings[0].CurrentPrice, "273.12"},
			{got.Broker.Holdings[0].UnrealizedPL, "6.66"},
			{got.Broker.Holdings[1].AvgEntryPrice, "0.1235"},
			{*got.Broker.Holdings[1].CurrentPrice, "0.1300"},
		} {
			if tc.got != tc.want {
				t.Errorf("got %s, want %s", tc.got, tc.want)
			}
		}
	})
	t.Run("NoBrokerReadYet", func(t *testing.T) {
		rec := serve(t, h, "GET", "/api/v1/tenants/b", "")
		if !strings.Contains(rec.Body.String(), `"as_of": null`) || !strings.Contains(rec.Body.String(), `"equity": null`) {
			t.Fatalf("figures before the first broker read must be null: %s", rec.Body)
		}
	})
	t.Run("List", func(t *testing.T) {
		rec := serve(t, h, "GET", "/api/v1/tenants", "")
		if got := decode[struct{ Tenants []web.TenantV1 }](t, rec); rec.Code != http.StatusOK || len(got.Tenants) != 2 {
			t.Fatalf("%d %s", rec.Code, rec.Body)
		}
	})
	t.Run("ErrUnknownTenant", func(t *testing.T) {
		rec := serve(t, h, "GET", "/api/v1/tenants/nobody", "")
		if got := decode[apiError](t, rec); rec.Code != http.StatusNotFound || got.Code != trading.ENOTFOUND {
			t.Fatalf("%d %+v", rec.Code, got)
		}
	})
}

type orderPage struct {
	Orders    []web.OrderV1
	NextAfter *uint64 `json:"next_after"`
}

type fillPage struct {
	Fills     []web.FillV1
	NextAfter *uint64 `json:"next_after"`
}

func TestOpsAPIV1_OrdersAndFills(t *testing.T) {
	t.Parallel()
	j := mustJournal(t, "a", 5)
	// One order still open, in another symbol, at a limit price.
	ctx := context.Background()
	seq, _ := j.NextSequence(ctx, "a")
	in := trading.Intent{Tenant: "a", Seq: seq, ClientOrderID: trading.ClientOrderID("a", seq), Symbol: "PENNY", Side: trading.Sell,
		Type: trading.Limit, TimeInForce: trading.Day, Qty: decimal.NewFromInt(100), LimitPrice: decimal.RequireFromString("0.51234"), CreatedAt: asOf}
	if err := j.Append(ctx, trading.IntentEvent(in)); err != nil {
		t.Fatal(err)
	}
	h := web.NewOpsAPI(web.Config{Fleet: newFleet("a"), Journal: j})

	t.Run("OrdersPaged", func(t *testing.T) {
		seen, after := map[string]bool{}, ""
		for pages := 0; ; pages++ {
			if pages > 6 {
				t.Fatal("orders cursor does not end")
			}
			rec := serve(t, h, "GET", "/api/v1/tenants/a/orders?limit=2"+after, "")
			got := decode[orderPage](t, rec)
			if rec.Code != http.StatusOK {
				t.Fatalf("%d %s", rec.Code, rec.Body)
			}
			for _, o := range got.Orders {
				if seen[o.ClientOrderID] || o.EventID == 0 || o.Symbol == "" || o.Side == "" {
					t.Fatalf("order %+v (seen before: %v)", o, seen[o.ClientOrderID])
				}
				seen[o.ClientOrderID] = true
			}
			if got.NextAfter == nil {
				break
			}
			after = fmt.Sprintf("&after=%d", *got.NextAfter)
		}
		if len(seen) != 6 {
			t.Fatalf("%d distinct orders, want 6", len(seen))
		}
	})
	t.Run("Filters", func(t *testing.T) {
		for _, tc := range []struct {
			query string
			want  int
		}{{"status=filled", 5}, {"status=FILLED", 5}, {"status=open", 1}, {"symbol=penny", 1}, {"symbol=AAPL&status=open", 0}, {"status=canceled", 0}} {
			rec := serve(t, h, "GET", "/api/v1/tenants/a/orders?"+tc.query, "")
			if got := decode[orderPage](t, rec); rec.Code != http.StatusOK || len(got.Orders) != tc.want {
				t.Errorf("%s: %d, %d orders, want %d", tc.query, rec.Code, len(got.Orders), tc.want)
			}
		}
		rec := serve(t, h, "GET", "/api/v1/tenants/a/orders?status=open", "")
		if o := decode[orderPage](t, rec).Orders[0]; o.LimitPrice != "0.5123" || o.Status != "intent" || o.TimeInForce != "day" {
			t.Errorf("open order %+v", o)
		}
	})
	t.Run("FillsWithSymbolAndSide", func(t *testing.T) {
		rec := serve(t, h, "GET", "/api/v1/tenants/a/fills?limit=3", "")
		got := decode[fillPage](t, rec)
		if rec.Code != http.StatusOK || len(got.Fills) != 3 || got.NextAfter == nil {
			t.Fatalf("%d %s", rec.Code, rec.Body)
		}
		for _, f := range got.Fills {
			if f.Symbol != "AAPL" || f.Side != "buy" || f.Qty != "1" || f.Price != "100.50" || f.Time.IsZero() || f.ClientOrderID == "" {
				t.Errorf("fill %+v", f)
			}
		}
		rec = serve(t, h, "GET", fmt.Sprintf("/api/v1/tenants/a/fills?after=%d", *got.NextAfter), "")
		if rest := decode[fillPage](t, rec); len(rest.Fills) != 2 || rest.NextAfter != nil {
			t.Fatalf("second page: %s", rec.Body)
		}
	})
	t.Run("ErrBadQuery", func(t *testing.T) {
		for _, q := range []string{"orders?status=bogus", "orders?limit=0", "orders?limit=1001", "orders?after=x",
			"fills?limit=x", "fills?after=-1", "fills?limit=100000"} {
			rec := serve(t, h, "GET", "/api/v1/tenants/a/"+q, "")
			if got := decode[apiError](t, rec); rec.Code != http.StatusBadRequest || got.Code != trading.EINVALID || got.Error == "" {
				t.Errorf("%s: %d %+v", q, rec.Code, got)
			}
		}
	})
	t.Run("ErrUnknownTenant", func(t *testing.T) {
		for _, q := range []string{"orders", "fills", "history"} {
			if rec := serve(t, h, "GET", "/api/v1/tenants/zz/"+q, ""); rec.Code != http.StatusNotFound {
				t.Errorf("%s: %d", q, rec.Code)
			}
		}
	})
}

func TestOpsAPIV1_SetState(t *testing.T) {
	t.Parallel()
	t.Run("AnyCase", func(t *testing.T) {
		t.Parallel()
		h := web.NewOpsAPI(web.Config{Fleet: newFleet("a"), Journal: mustJournal(t, "a", 0)})
		for _, st := range []string{"halted", "Reducing", " ACTIVE "} {
			rec := serve(t, h, "POST", "/api/v1/tenants/a/state", `{"state":"`+st+`"}`)
			if got := decode[web.TenantV1](t, rec); rec.Code != http.StatusOK || got.State != strings.ToUpper(strings.TrimSpace(st)) {
				t.Fatalf("%q: %d %s", st, rec.Code, rec.Body)
			}
		}
	})
	t.Run("ErrBadBody", func(t *testing.T) {
		t.Parallel()
		f := newFleet("a")
		h := web.NewOpsAPI(web.Config{Fleet: f, Journal: mustJournal(t, "a", 0)})
		for _, path := range []string{"/api/v1/tenants/a/state", "/api/v1/state"} {
			for _, body := range []string{``, `{`, `{"state":"HALTED","x":1}`, `{"state":"BOGUS"}`, `{"state":""}`} {
				rec := serve(t, h, "POST", path, body)
				if got := decode[apiError](t, rec); rec.Code != http.StatusBadRequest || got.Code != trading.EINVALID {
					t.Errorf("%s %q: %d %+v", path, body, rec.Code, got)
				}
			}
		}
		if s, _ := f.Status("a"); s.State != trading.Active {
			t.Fatalf("a refused request changed the state to %s", s.State)
		}
	})
	t.Run("AllTenants", func(t *testing.T) {
		t.Parallel()
		f := newFleet("a", "b", "c")
		h := web.NewOpsAPI(web.Config{Fleet: f, Journal: mustJournal(t, "a", 0)})
		rec := serve(t, h, "POST", "/api/v1/state", `{"state":"halted"}`)
		got := decode[struct {
			State   string
			Tenants []web.TenantV1
		}](t, rec)
		if rec.Code != http.StatusOK || got.State != "HALTED" || len(got.Tenants) != 3 {
			t.Fatalf("%d %s", rec.Code, rec.Body)
		}
		for _, s := range f.Statuses() {
			if s.State != trading.Halted {
				t.Errorf("%s is %s after halting all", s.ID, s.State)
			}
		}
	})
	t.Run("AllTenantsSavedLater", func(t *testing.T) {
		t.Parallel()
		f := newFleet("a", "b")
		f.setErr = fmt.Errorf("%w: connection refused", trading.ErrSavedLater)
		h := web.NewOpsAPI(web.Config{Fleet: f, Journal: mustJournal(t, "a", 0)})
		rec := serve(t, h, "POST", "/api/v1/state", `{"state":"HALTED"}`)
		got := decode[struct{ Warnings map[string]string }](t, rec)
		if rec.Code != http.StatusAccepted || len(got.Warnings) != 2 {
			t.Fatalf("%d %s", rec.Code, rec.Body)
		}
	})
	t.Run("AllTenantsStoreDown", func(t *testing.T) {
		t.Parallel()
		// Every tenant is tried: a failure on one leaves none untried.
		f := newFleet("a", "b")
		f.setErr = trading.Errorf(trading.EUNAVAILABLE, "Trading state not changed: the state store cannot be written.")
		h := web.NewOpsAPI(web.Config{Fleet: f, Journal: mustJournal(t, "a", 0)})
		rec := serve(t, h, "POST", "/api/v1/state", `{"state":"ACTIVE"}`)
		got := decode[struct {
			Code   string
			Failed map[string]string
		}](t, rec)
		if rec.Code != http.StatusServiceUnavailable || got.Code != trading.EUNAVAILABLE || len(got.Failed) != 2 {
			t.Fatalf("%d %s", rec.Code, rec.Body)
		}
	})
	t.Run("AllTenantsInternalError", func(t *testing.T) {
		t.Parallel()
		f := newFleet("a")
		f.setErr = errors.New("disk on fire")
		h := web.NewOpsAPI(web.Config{Fleet: f, Journal: mustJournal(t, "a", 0)})
		rec := serve(t, h, "POST", "/api/v1/state", `{"state":"HALTED"}`)
		if rec.Code != http.StatusInternalServerError || strings.Contains(rec.Body.String(), "disk on fire") {
			t.Fatalf("%d %s: want 500 without internal details", rec.Code, rec.Body)
		}
	})
}

// The history keeps what the charts draw: equity at each broker read,
// prices from fills and marks, and the tenant's fills.
func TestOpsAPIV1_History(t *testing.T) {
	t.Parallel()
	f := newFleet("a", "b")
	var fd feed
	h := web.NewOpsAPI(web.Config{Fleet: f, Journal: mustJournal(t, "a", 0), Subscribe: fd.Subscribe, Interval: 5 * time.Millisecond, HistoryPoints: 3})
	if err := h.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	withAccount(f, "a")
	for i := range 4 {
		fd.Publish(trading.Activity{Time: asOf.Add(time.Duration(i) * time.Second), Kind: trading.ActivityFill, Tenant: "a", ClientOrderID: fmt.Sprint("c", i),
			Symbol: "AAPL", Side: trading.Buy, Qty: decimal.NewFromInt(1), Price: decimal.RequireFromString("272.456")})
	}
	fd.Publish(trading.Activity{Time: asOf, Kind: trading.ActivityOrder, Tenant: "b", ClientOrderID: "cb", Symbol: "MSFT", Side: trading.Sell})

	var got web.HistoryV1
	for deadline := time.Now().Add(time.Minute); ; {
		rec := serve(t, h, "GET", "/api/v1/tenants/a/history", "")
		got = decode[web.HistoryV1](t, rec)
		if len(got.Fills) == 3 && len(got.Equity) == 1 && len(got.Prices["PENNY"]) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("history not recorded: %s", rec.Body)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if got.Since == nil || got.MaxPoints != 3 || got.Equity[0].Equity != "100012.35" || !got.Equity[0].Time.Equal(asOf) {
		t.Errorf("history: %+v", got)
	}
	// Three points kept of five (four fills and a mark), oldest dropped.
	if p := got.Prices["AAPL"]; len(p) != 3 || p[len(p)-1].Price != "272.46" || p[len(p)-1].Source != "fill" {
		t.Errorf("AAPL prices %+v", p)
	}
	if got.Fills[2].ClientOrderID != "c3" || got.Fills[0].ClientOrderID != "c1" || got.Fills[0].Side != "buy" || got.Fills[0].Price != "272.46" {
		t.Errorf("fills %+v", got.Fills)
	}
	if p := got.Prices["PENNY"]; p[0].Source != "mark" || p[0].Price != "0.1300" {
		t.Errorf("PENNY prices %+v", p)
	}
	if _, ok := got.Prices["MSFT"]; ok {
		t.Errorf("tenant a shows tenant b's symbol")
	}
	rec := serve(t, h, "GET", "/api/v1/tenants/a/history?symbol=penny", "")
	if one := decode[web.HistoryV1](t, rec); len(one.Prices) != 1 || len(one.Fills) != 0 {
		t.Errorf("symbol filter: %s", rec.Body)
	}
	// What the recorder missed is said, not hidden.
	fd.drop(4)
	for deadline := time.Now().Add(time.Minute); decode[web.HistoryV1](t, serve(t, h, "GET", "/api/v1/tenants/a/history", "")).ActivitiesDropped != 4; {
		if time.Now().After(deadline) {
			t.Fatal("activities_dropped never showed the missed activities")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A server that records nothing still answers, with empty series.
func TestOpsAPIV1_HistoryNotRecording(t *testing.T) {
	t.Parallel()
	h := web.NewOpsAPI(web.Config{Fleet: newFleet("a"), Journal: mustJournal(t, "a", 0)})
	rec := serve(t, h, "GET", "/api/v1/tenants/a/history", "")
	if got := decode[web.HistoryV1](t, rec); rec.Code != http.StatusOK || got.Since != nil || got.Equity == nil || got.Fills == nil {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
}

func TestOpsAPIV1_Events(t *testing.T) {
	t.Parallel()
	f := newFleet("a")
	var fd feed
	api := web.NewOpsAPI(web.Config{Fleet: f, Journal: mustJournal(t, "a", 0), Token: "tok", Subscribe: fd.Subscribe, Interval: 10 * time.Millisecond})
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	resp, evs := openStream(t, srv.URL, "tok")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("%d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if ev := next(ctx, t, evs, "tenants"); !strings.Contains(ev.data, `"id":"a"`) {
		t.Fatalf("first tenants event: %s", ev.data)
	}
	fd.Publish(trading.Activity{Time: asOf, Kind: trading.ActivityFill, Tenant: "a", ClientOrderID: "c1", Symbol: "AAPL",
		Side: trading.Buy, Qty: decimal.NewFromInt(2), Price: decimal.RequireFromString("272.453999")})
	if ev := next(ctx, t, evs, "activity"); !strings.Contains(ev.data, `"kind":"fill"`) || !strings.Contains(ev.data, `"price":"272.45"`) {
		t.Fatalf("activity: %s", ev.data)
	}
	// A stream that fell behind is told how much it missed.
	fd.drop(7)
	if ev := next(ctx, t, evs, "gap"); !strings.Contains(ev.data, `"dropped":7`) {
		t.Fatalf("gap: %s", ev.data)
	}
	// The snapshots go on, and follow the kill switch.
	if err := f.SetState("a", trading.Halted); err != nil {
		t.Fatal(err)
	}
	for ev := next(ctx, t, evs, "tenants"); !strings.Contains(ev.data, `"state":"HALTED"`); ev = next(ctx, t, evs, "tenants") {
	}

	t.Run("CloseEndsStreams", func(t *testing.T) {
		if err := api.Close(); err != nil {
			t.Fatal(err)
		}
		for {
			select {
			case _, ok := <-evs:
				if !ok {
					if n := fd.subscribers(); n != 0 {
						t.Fatalf("%d subscriptions left after the stream ended", n)
					}
					return
				}
			case <-ctx.Done():
				t.Fatal("stream still open after Close")
			}
		}
	})
}
