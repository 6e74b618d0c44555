package web_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/quantum-alpaca/quantum/sqlite"
	"github.com/quantum-alpaca/quantum/trading"
	"github.com/quantum-alpaca/quantum/web"
)

// fleet is a Fleet of fixed tenants whose states the API may change.
type fleet struct {
	mu sync.Mutex
	st map[trading.TenantID]trading.TenantStatus
	// setErr, when set, is what SetState returns after applying the state.
	setErr error
}

var _ web.Fleet = (*fleet)(nil)

func newFleet(ids ...trading.TenantID) *fleet {
	f := &fleet{st: map[trading.TenantID]trading.TenantStatus{}}
	for _, id := range ids {
		f.st[id] = trading.TenantStatus{
			ID: id, Strategy: "dca", State: trading.Active, Health: trading.HealthRunning,
			Positions: map[string]decimal.Decimal{"AAPL": decimal.NewFromInt(3)},
			Holdings:  []trading.Position{{Symbol: "AAPL", Qty: decimal.NewFromInt(3), AvgEntryPrice: decimal.RequireFromString("100.5"), MarketValue: decimal.RequireFromString("310.123"), UnrealizedPL: decimal.RequireFromString("8.623")}},
			Equity:    decimal.RequireFromString("100000"),
			Limits:    trading.Limits{MaxOpenOrders: 5},
		}
	}
	return f
}

func (f *fleet) Statuses() []trading.TenantStatus {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []trading.TenantStatus
	for _, s := range f.st {
		out = append(out, s)
	}
	return out
}

// RecentBars answers with two made-up bars per symbol, DOWN with a broker
// failure.
func (f *fleet) RecentBars(_ context.Context, id trading.TenantID, symbol string, n int) ([]trading.Bar, error) {
	if _, err := f.Status(id); err != nil {
		return nil, err
	}
	if symbol == "DOWN" {
		return nil, errors.New("dial tcp 127.0.0.1:9: connection refused")
	}
	at := time.Date(2026, 12, 4, 15, 30, 0, 0, time.UTC)
	bars := []trading.Bar{
		{Symbol: symbol, Time: at, Open: decimal.RequireFromString("272.4539"), High: decimal.RequireFromString("273"), Low: decimal.RequireFromString("272.1"), Close: decimal.RequireFromString("272.9"), Volume: 1200},
		{Symbol: symbol, Time: at.Add(time.Minute), Open: decimal.RequireFromString("272.9"), High: decimal.RequireFromString("273.2"), Low: decimal.RequireFromString("272.8"), Close: decimal.RequireFromString("273.1"), Volume: 900},
	}
	return bars[:min(n, len(bars))], nil
}

func (f *fleet) Status(id trading.TenantID) (trading.TenantStatus, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.st[id]
	if !ok {
		return s, trading.Errorf(trading.ENOTFOUND, "Unknown tenant.")
	}
	return s, nil
}

func (f *fleet) SetState(id trading.TenantID, st trading.TradingState) error {
	if !st.Valid() {
		return trading.Errorf(trading.EINVALID, "Unknown trading state %q.", st)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.st[id]
	if !ok {
		return trading.Errorf(trading.ENOTFOUND, "Unknown tenant.")
	}
	s.State = st
	f.st[id] = s
	return f.setErr
}

// mustJournal opens a real SQLite journal holding n filled one-share
// orders of tenant, each with one fill, and a risk rejection.
func mustJournal(t *testing.T, tenant trading.TenantID, n int) trading.Journal {
	t.Helper()
	ctx := context.Background()
	j := sqlite.NewJournal(filepath.Join(t.TempDir(), "journal.db"))
	if err := j.Open(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	at := time.Date(2026, 12, 1, 15, 0, 0, 0, time.UTC)
	for i := range n {
		seq, err := j.NextSequence(ctx, tenant)
		if err != nil {
			t.Fatal(err)
		}
		in := trading.Intent{Tenant: tenant, Seq: seq, ClientOrderID: trading.ClientOrderID(tenant, seq), Symbol: "AAPL",
			Side: trading.Buy, Type: trading.Market, TimeInForce: trading.Day, Qty: decimal.NewFromInt(1), CreatedAt: at}
		cid := in.ClientOrderID
		err = j.Append(ctx, trading.IntentEvent(in),
			trading.Event{Tenant: tenant, ClientOrderID: cid, Kind: trading.EventAck, BrokerOrderID: fmt.Sprint("b", i), Status: trading.StatusNew, Time: at},
			trading.Event{Tenant: tenant, ClientOrderID: cid, Kind: trading.EventFill, ExecutionID: fmt.Sprint("x", i),
				Qty: decimal.NewFromInt(1), Price: decimal.RequireFromString("100.5"), CumQty: decimal.NewFromInt(1), Status: trading.StatusFilled, Time: at})
		if err != nil {
			t.Fatal(err)
		}
	}
	return j
}

func serve(t *testing.T, h http.Handler, method, path, body string, hdr ...string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if method == "POST" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i] == "Host" {
			req.Host = hdr[i+1]
			continue
		}
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func decode[T any](t *testing.T, rec *httptest.ResponseRecorder) T {
	t.Helper()
	var v T
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type %q, want application/json", ct)
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
		t.Fatalf("decode %s: %v", rec.Body, err)
	}
	return v
}

type apiError struct {
	Code  string `json:"code"`
	Error string `json:"error"`
}

func TestOpsAPI_Tenants(t *testing.T) {
	h := web.NewOpsAPI(web.Config{Fleet: newFleet("a", "b"), Journal: mustJournal(t, "a", 0)})

	t.Run("List", func(t *testing.T) {
		rec := serve(t, h, "GET", "/api/tenants", "")
		got := decode[struct{ Tenants []web.Tenant }](t, rec)
		if rec.Code != http.StatusOK || len(got.Tenants) != 2 {
			t.Fatalf("%d %s", rec.Code, rec.Body)
		}
	})
	t.Run("One", func(t *testing.T) {
		rec := serve(t, h, "GET", "/api/tenants/a", "")
		got := decode[web.Tenant](t, rec)
		if rec.Code != http.StatusOK || got.ID != "a" || got.State != "ACTIVE" || got.Health != "running" {
			t.Fatalf("%d %+v", rec.Code, got)
		}
		if got.Positions["AAPL"] != "3" || len(got.Holdings) != 1 || got.Holdings[0].MarketValue != "310.12" || got.Equity != "100000.00" {
			t.Errorf("figures: %+v", got)
		}
		if got.Risk.MaxOpenOrders != 5 || got.Risk.MaxOrderNotional != "" {
			t.Errorf("risk: %+v", got.Risk)
		}
		if got.AccountAsOf != nil {
			t.Errorf("account_as_of %v before any account read", got.AccountAsOf)
		}
	})
	t.Run("ErrUnknownTenant", func(t *testing.T) {
		rec := serve(t, h, "GET", "/api/tenants/nobody", "")
		if got := decode[apiError](t, rec); rec.Code != http.StatusNotFound || got.Code != trading.ENOTFOUND {
			t.Fatalf("%d %+v", rec.Code, got)
		}
	})
	t.Run("Readyz", func(t *testing.T) {
		if rec := serve(t, h, "GET", "/readyz", ""); rec.Code != http.StatusOK {
			t.Fatalf("%d %s", rec.Code, rec.Body)
		}
	})
	t.Run("Healthz", func(t *testing.T) {
		rec := serve(t, h, "GET", "/healthz", "")
		got := decode[struct {
			Status  string
			Tenants map[string]string
		}](t, rec)
		if rec.Code != http.StatusOK || got.Tenants["a"] != "running" || len(got.Tenants) != 2 {
			t.Fatalf("%d %+v", rec.Code, got)
		}
	})
}

func TestOpsAPI_OrdersAndFills(t *testing.T) {
	h := web.NewOpsAPI(web.Config{Fleet: newFleet("a"), Journal: mustJournal(t, "a", 5)})

	t.Run("Orders", func(t *testing.T) {
		rec := serve(t, h, "GET", "/api/tenants/a/orders?limit=3", "")
		got := decode[struct{ Orders []web.Order }](t, rec)
		if rec.Code != http.StatusOK || len(got.Orders) != 3 {
			t.Fatalf("%d %s", rec.Code, rec.Body)
		}
		for _, o := range got.Orders {
			if o.Status != "filled" || o.FilledQty != "1" || o.Symbol != "AAPL" || o.BrokerOrderID == "" {
				t.Errorf("order %+v", o)
			}
		}
	})
	t.Run("ErrBadQuery", func(t *testing.T) {
		for _, q := range []string{"/api/tenants/a/orders?status=bogus", "/api/tenants/a/orders?limit=0",
			"/api/tenants/a/fills?limit=x", "/api/tenants/a/fills?after=-1", "/api/tenants/a/fills?limit=100000"} {
			rec := serve(t, h, "GET", q, "")
			if got := decode[apiError](t, rec); rec.Code != http.StatusBadRequest || got.Code != trading.EINVALID || got.Error == "" {
				t.Errorf("%s: %d %+v", q, rec.Code, got)
			}
		}
	})
	t.Run("ErrUnknownTenant", func(t *testing.T) {
		for _, q := range []string{"/api/tenants/zz/orders", "/api/tenants/zz/fills"} {
			if rec := serve(t, h, "GET", q, ""); rec.Code != http.StatusNotFound {
				t.Errorf("%s: %d", q, rec.Code)
			}
		}
	})
	t.Run("FillsPaged", func(t *testing.T) {
		// Two fills a page: the cursor walks every execution exactly once.
		seen := map[string]bool{}
		after := ""
		for pages := 0; ; pages++ {
			if pages > 5 {
				t.Fatal("fills cursor does not end")
			}
			rec := serve(t, h, "GET", "/api/tenants/a/fills?limit=2"+after, "")
			got := decode[struct {
				Fills     []web.Fill
				NextAfter *uint64 `json:"next_after"`
			}](t, rec)
			if rec.Code != http.StatusOK {
				t.Fatalf("%d %s", rec.Code, rec.Body)
			}
			for _, f := range got.Fills {
				if seen[f.ExecutionID] || f.Qty != "1" || f.Price != "100.5" {
					t.Fatalf("fill %+v (seen before: %v)", f, seen[f.ExecutionID])
				}
				seen[f.ExecutionID] = true
			}
			if got.NextAfter == nil {
				break
			}
			after = fmt.Sprintf("&after=%d", *got.NextAfter)
		}
		if len(seen) != 5 {
			t.Fatalf("%d distinct fills, want 5", len(seen))
		}
	})
}

func TestOpsAPI_SetState(t *testing.T) {
	f := newFleet("a")
	h := web.NewOpsAPI(web.Config{Fleet: f, Journal: mustJournal(t, "a", 0)})

	t.Run("OK", func(t *testing.T) {
		rec := serve(t, h, "POST", "/api/tenants/a/state", `{"state":"HALTED"}`)
		if got := decode[web.Tenant](t, rec); rec.Code != http.StatusOK || got.State != "HALTED" {
			t.Fatalf("%d %+v", rec.Code, got)
		}
	})
	t.Run("ErrBadBody", func(t *testing.T) {
		for _, body := range []string{``, `{`, `{"state":"HALTED","x":1}`, `{"state":"BOGUS"}`} {
			rec := serve(t, h, "POST", "/api/tenants/a/state", body)
			if got := decode[apiError](t, rec); rec.Code != http.StatusBadRequest || got.Code != trading.EINVALID {
				t.Errorf("%q: %d %+v", body, rec.Code, got)
			}
		}
	})
	t.Run("LowerCase", func(t *testing.T) {
		rec := serve(t, h, "POST", "/api/tenants/a/state", `{"state":"reducing"}`)
		if got := decode[web.Tenant](t, rec); rec.Code != http.StatusOK || got.State != "REDUCING" {
			t.Fatalf("%d %+v", rec.Code, got)
		}
	})
	t.Run("ErrUnknownTenant", func(t *testing.T) {
		if rec := serve(t, h, "POST", "/api/tenants/zz/state", `{"state":"HALTED"}`); rec.Code != http.StatusNotFound {
			t.Fatalf("%d %s", rec.Code, rec.Body)
		}
	})
	t.Run("MethodNotAllowed", func(t *testing.T) {
		if rec := serve(t, h, "GET", "/api/tenants/a/state", ""); rec.Code != http.StatusMethodNotAllowed {
			t.Fatalf("GET state: %d", rec.Code)
		}
	})
}

// Every route but /healthz refuses a missing or wrong token when one is
// set, before it touches the fleet or the journal.
func TestOpsAPI_Token(t *testing.T) {
	f := newFleet("a")
	h := web.NewOpsAPI(web.Config{Fleet: f, Journal: mustJournal(t, "a", 1), Token: "tok-123",
		Metrics: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "metrics") })})
	routes := []struct{ method, path, body string }{
		{"GET", "/api/tenants", ""},
		{"GET", "/api/tenants/a", ""},
		{"GET", "/api/tenants/a/orders", ""},
		{"GET", "/api/tenants/a/fills", ""},
		{"GET", "/metrics", ""},
		{"POST", "/api/tenants/a/state", `{"state":"HALTED"}`},
	}
	for _, r := range routes {
		for _, auth := range []string{"", "Bearer wrong", "tok-123", "Basic tok-123"} {
			rec := serve(t, h, r.method, r.path, r.body, "Authorization", auth)
			if rec.Code != http.StatusUnauthorized {
				t.Errorf("%s %s with %q: %d, want 401", r.method, r.path, auth, rec.Code)
			}
		}
	}
	if s, _ := f.Status("a"); s.State != trading.Active {
		t.Fatalf("a refused request changed the state to %s", s.State)
	}
	for _, r := range routes {
		if rec := serve(t, h, r.method, r.path, r.body, "Authorization", "Bearer tok-123"); rec.Code != http.StatusOK {
			t.Errorf("%s %s with the token: %d %s", r.method, r.path, rec.Code, rec.Body)
		}
	}
	if rec := serve(t, h, "GET", "/healthz", ""); rec.Code != http.StatusOK {
		t.Errorf("/healthz without a token: %d", rec.Code)
	}
}

// A web page the operator visits must not be able to change a tenant's
// state: not with a simple cross-site POST (text/plain, a form), not from
// a foreign Origin, and not through a DNS name of its own that resolves to
// the loopback address the API listens on.
func TestOpsAPI_CrossSite(t *testing.T) {
	f := newFleet("a")
	h := web.NewOpsAPI(web.Config{Fleet: f, Journal: mustJournal(t, "a", 0), LoopbackOnly: true})
	const local = "127.0.0.1:8080"
	for _, tc := range []struct {
		name string
		hdr  []string
		want int
	}{
		{"TextPlain", []string{"Host", local, "Content-Type", "text/plain"}, http.StatusUnsupportedMediaType},
		{"Form", []string{"Host", local, "Content-Type", "application/x-www-form-urlencoded"}, http.StatusUnsupportedMediaType},
		{"NoContentType", []string{"Host", local, "Content-Type", ""}, http.StatusUnsupportedMediaType},
		{"ForeignOrigin", []string{"Host", local, "Origin", "https://evil.example"}, http.StatusForbidden},
		{"ForeignOriginSamePort", []string{"Host", local, "Origin", "http://127.0.0.2:8080"}, http.StatusForbidden},
		{"RebindingHost", []string{"Host", "rebind.evil.example:8080"}, http.StatusForbidden},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := serve(t, h, "POST", "/api/tenants/a/state", `{"state":"ACTIVE"}`, tc.hdr...)
			if rec.Code != tc.want {
				t.Fatalf("%d %s, want %d", rec.Code, rec.Body, tc.want)
			}
		})
	}
	if s, _ := f.Status("a"); s.State != trading.Active {
		t.Fatalf("a refused request changed the state")
	}
	if rec := serve(t, h, "GET", "/api/tenants", "", "Host", "rebind.evil.example"); rec.Code != http.StatusForbidden {
		t.Errorf("GET through a foreign host name: %d, want 403", rec.Code)
	}
	for _, host := range []string{local, "localhost:8080", "[::1]:8080", "LOCALHOST"} {
		for _, origin := range []string{"", "http://" + host} {
			rec := serve(t, h, "POST", "/api/tenants/a/state", `{"state":"HALTED"}`, "Host", host, "Origin", origin, "Content-Type", "application/json; charset=utf-8")
			if rec.Code != http.StatusOK {
				t.Errorf("host %s origin %q: %d %s", host, origin, rec.Code, rec.Body)
			}
		}
	}
}

// healthz is 503 with the reason while any tenant has a problem or has
// failed; readyz is 503 while any tenant is still starting.
func TestOpsAPI_Unhealthy(t *testing.T) {
	f := newFleet("ok", "broken", "crashed", "new")
	f.st["broken"] = func(s trading.TenantStatus) trading.TenantStatus {
		s.Problem = "broker calls failing since 2026-12-04T10:00:00Z (7 in a row): dial tcp 127.0.0.1:1: connection refused"
		return s
	}(f.st["broken"])
	f.st["crashed"] = func(s trading.TenantStatus) trading.TenantStatus {
		s.Health, s.LastError = trading.HealthFailed, "journal intent: disk full"
		return s
	}(f.st["crashed"])
	f.st["new"] = func(s trading.TenantStatus) trading.TenantStatus { s.Health = trading.HealthStarting; return s }(f.st["new"])
	h := web.NewOpsAPI(web.Config{Fleet: f, Journal: mustJournal(t, "ok", 0), Token: "tok"})

	rec := serve(t, h, "GET", "/healthz", "")
	got := decode[struct {
		Status   string
		Problems map[string]string
	}](t, rec)
	if rec.Code != http.StatusServiceUnavailable || got.Status != "failing" || len(got.Problems) != 2 ||
		!strings.Contains(got.Problems["broken"], "connection refused") || !strings.Contains(got.Problems["crashed"], "disk full") {
		t.Fatalf("healthz: %d %s", rec.Code, rec.Body)
	}
	rec = serve(t, h, "GET", "/readyz", "")
	if ready := decode[struct{ Tenants map[string]string }](t, rec); rec.Code != http.StatusServiceUnavailable || len(ready.Tenants) != 1 || ready.Tenants["new"] == "" {
		t.Fatalf("readyz: %d %s", rec.Code, rec.Body)
	}
	rec = serve(t, h, "GET", "/api/tenants/broken", "", "Authorization", "Bearer tok")
	if ten := decode[web.Tenant](t, rec); !strings.Contains(ten.Problem, "connection refused") {
		t.Fatalf("tenant problem not shown: %s", rec.Body)
	}
}

// A kill switch that took effect but is not saved yet is 202 with a
// warning; a state change the store refused is 503.
func TestOpsAPI_SetStateStoreDown(t *testing.T) {
	f := newFleet("a")
	h := web.NewOpsAPI(web.Config{Fleet: f, Journal: mustJournal(t, "a", 0)})

	f.setErr = fmt.Errorf("%w: connection refused", trading.ErrSavedLater)
	rec := serve(t, h, "POST", "/api/tenants/a/state", `{"state":"HALTED"}`)
	got := decode[struct {
		Tenant  web.Tenant
		Warning string
	}](t, rec)
	if rec.Code != http.StatusAccepted || got.Tenant.State != "HALTED" || !strings.Contains(got.Warning, "saved when") {
		t.Fatalf("halt with the store down: %d %s", rec.Code, rec.Body)
	}

	f.setErr = trading.Errorf(trading.EUNAVAILABLE, "Trading state not changed: the state store cannot be written.")
	rec = serve(t, h, "POST", "/api/tenants/a/state", `{"state":"ACTIVE"}`)
	if e := decode[apiError](t, rec); rec.Code != http.StatusServiceUnavailable || e.Code != trading.EUNAVAILABLE {
		t.Fatalf("activate with the store down: %d %s", rec.Code, rec.Body)
	}
}
