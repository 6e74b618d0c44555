package alpaca

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestAccountTarget(t *testing.T) {
	a := &accountScope{id: "a/1", prefix: "/v1/trading/accounts/a%2F1"}
	tests := []struct {
		route, path           string
		wantRoute, wantPath   string
		wantAccountIDInQuery  bool
		keepQueryKey, keepVal string
	}{
		{"/v2/orders", "/v2/orders",
			"/v1/trading/accounts/{account_id}/orders", "/v1/trading/accounts/a%2F1/orders", false, "", ""},
		{"/v2/orders/{order_id}", "/v2/orders/o1",
			"/v1/trading/accounts/{account_id}/orders/{order_id}", "/v1/trading/accounts/a%2F1/orders/o1", false, "", ""},
		{"/v2/orders:by_client_order_id", "/v2/orders:by_client_order_id",
			"/v1/trading/accounts/{account_id}/orders:by_client_order_id",
			"/v1/trading/accounts/a%2F1/orders:by_client_order_id", false, "client_order_id", "c1"},
		{"/v2/positions/{symbol_or_asset_id}", "/v2/positions/AAPL",
			"/v1/trading/accounts/{account_id}/positions/{symbol_or_asset_id}",
			"/v1/trading/accounts/a%2F1/positions/AAPL", false, "", ""},
		{"/v2/account", "/v2/account",
			"/v1/trading/accounts/{account_id}/account", "/v1/trading/accounts/a%2F1/account", false, "", ""},
		{"/v2/account/configurations", "/v2/account/configurations",
			"/v1/trading/accounts/{account_id}/account/configurations",
			"/v1/trading/accounts/a%2F1/account/configurations", false, "", ""},
		{"/v2/account/activities/{activity_type}", "/v2/account/activities/FILL",
			"/v1/accounts/activities/{activity_type}", "/v1/accounts/activities/FILL", true, "page_size", "5"},
		{"/v2/clock", "/v2/clock", "/v1/clock", "/v1/clock", false, "", ""},
		{"/v2/assets/{symbol_or_asset_id}", "/v2/assets/AAPL", "/v1/assets/{symbol_or_asset_id}", "/v1/assets/AAPL", false, "", ""},
		// Not a prefix of a mapped path, only a longer name.
		{"/v2/ordersx", "/v2/ordersx", "/v2/ordersx", "/v2/ordersx", false, "", ""},
		{"/v3/clock", "/v3/clock", "/v3/clock", "/v3/clock", false, "", ""},
	}
	for _, tt := range tests {
		q := url.Values{}
		if tt.keepQueryKey != "" {
			q.Set(tt.keepQueryKey, tt.keepVal)
		}
		route, path, got := a.target(tt.route, tt.path, q)
		if route != tt.wantRoute || path != tt.wantPath {
			t.Errorf("target(%q) = %q, %q; want %q, %q", tt.path, route, path, tt.wantRoute, tt.wantPath)
		}
		if has := got.Get("account_id") == "a/1"; has != tt.wantAccountIDInQuery {
			t.Errorf("target(%q): account_id in query = %v, want %v", tt.path, has, tt.wantAccountIDInQuery)
		}
		if tt.keepQueryKey != "" && got.Get(tt.keepQueryKey) != tt.keepVal {
			t.Errorf("target(%q) lost query %s", tt.path, tt.keepQueryKey)
		}
		if q.Get("account_id") != "" {
			t.Errorf("target(%q) changed the caller's query", tt.path)
		}
	}
}

// tokenServer is a client-credentials token endpoint that issues tok-1,
// tok-2, ... and can be made to fail or to hold a request until released.
type tokenServer struct {
	t        *testing.T
	issued   atomic.Int32
	fail     atomic.Bool
	expires  int64
	mu       sync.Mutex
	hold     chan struct{} // when set, requests wait on it
	arrived  chan struct{} // gets a value as each request arrives
	srv      *httptest.Server
	lastForm url.Values
}

func newTokenServer(t *testing.T, expires int64) *tokenServer {
	ts := &tokenServer{t: t, expires: expires, arrived: make(chan struct{}, 16)}
	ts.srv = httptest.NewServer(http.HandlerFunc(ts.serve))
	t.Cleanup(ts.srv.Close)
	return ts
}

func (ts *tokenServer) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != TokenPath || r.Method != http.MethodPost {
		http.NotFound(w, r)
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/x-www-form-urlencoded" {
		ts.t.Errorf("token request Content-Type %q", ct)
	}
	if r.Header.Get("Authorization") != "" {
		ts.t.Errorf("token request carries an Authorization header")
	}
	if err := r.ParseForm(); err != nil {
		ts.t.Errorf("ParseForm: %v", err)
	}
	select {
	case ts.arrived <- struct{}{}:
	default:
	}
	ts.mu.Lock()
	ts.lastForm = r.PostForm
	hold := ts.hold
	ts.mu.Unlock()
	if hold != nil {
		<-hold
	}
	if ts.fail.Load() {
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	n := ts.issued.Add(1)
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"access_token":"tok-%d","expires_in":%d,"token_type":"Bearer"}`, n, ts.expires)
}

// fakeClock is a settable time for the token source.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func newTokenBroker(t *testing.T, ts *tokenServer) (*Broker, *fakeClock) {
	t.Helper()
	b, err := NewBroker(ts.srv.URL, WithClientCredentials("client-1", "client-secret-1"),
		WithRetry(0, time.Millisecond, time.Millisecond), WithRateLimit(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.CloseIdleConnections)
	clk := &fakeClock{now: time.Date(2026, 1, 5, 15, 0, 0, 0, time.UTC)}
	b.c.auth.tokens.now = clk.Now
	return b, clk
}

func authz(t *testing.T, b *Broker) string {
	t.Helper()
	h, err := b.c.auth.authorization(context.Background(), b.c)
	if err != nil {
		t.Fatalf("authorization: %v", err)
	}
	return h[0]
}

func TestTokenSource(t *testing.T) {
	t.Run("OneFetchForConcurrentCallers", func(t *testing.T) {
		ts := newTokenServer(t, 900)
		b, _ := newTokenBroker(t, ts)
		var wg sync.WaitGroup
		got := make([]string, 32)
		for i := range got {
			wg.Go(func() {
				h, err := b.c.auth.authorization(context.Background(), b.c)
				if err != nil {
					t.Errorf("authorization: %v", err)
					return
				}
				got[i] = h[0]
			})
		}
		wg.Wait()
		if n := ts.issued.Load(); n != 1 {
			t.Fatalf("%d tokens fetched for concurrent callers, want 1", n)
		}
		for _, h := range got {
			if h != "Bearer tok-1" {
				t.Fatalf("got %q, want Bearer tok-1", h)
			}
		}
		f := ts.lastForm
		if f.Get("grant_type") != "client_credentials" || f.Get("client_id") != "client-1" || f.Get("client_secret") != "client-secret-1" {
			t.Fatalf("token form %v", f)
		}
	})

	t.Run("RenewedBeforeExpiry", func(t *testing.T) {
		ts := newTokenServer(t, 900)
		b, clk := newTokenBroker(t, ts)
		if h := authz(t, b); h != "Bearer tok-1" {
			t.Fatalf("first: %q", h)
		}
		clk.Advance(839 * time.Second) // a minute and a second before expiry
		if h := authz(t, b); h != "Bearer tok-1" {
			t.Fatalf("before the renewal point: %q", h)
		}
		clk.Advance(2 * time.Second)
		if h := authz(t, b); h != "Bearer tok-2" {
			t.Fatalf("after the renewal point: %q, want a fresh token", h)
		}
	})

	t.Run("CurrentTokenServedWhileRenewing", func(t *testing.T) {
		ts := newTokenServer(t, 900)
		b, clk := newTokenBroker(t, ts)
		authz(t, b)
		<-ts.arrived
		clk.Advance(850 * time.Second)
		release := make(chan struct{})
		ts.mu.Lock()
		ts.hold = release
		ts.mu.Unlock()
		renewed := make(chan string, 1)
		go func() {
			h, err := b.c.auth.authorization(context.Background(), b.c)
			if err != nil {
				t.Errorf("renewal: %v", err)
			}
			renewed <- h[0]
		}()
		<-ts.arrived // the renewal is in flight and held
		if h := authz(t, b); h != "Bearer tok-1" {
			t.Fatalf("during renewal: %q, want the still-valid tok-1", h)
		}
		close(release)
		if h := <-renewed; h != "Bearer tok-2" {
			t.Fatalf("renewal returned %q", h)
		}
	})

	t.Run("FailedRenewalKeepsValidToken", func(t *testing.T) {
		ts := newTokenServer(t, 900)
		b, clk := newTokenBroker(t, ts)
		authz(t, b)
		ts.fail.Store(true)
		clk.Advance(850 * time.Second)
		if h := authz(t, b); h != "Bearer tok-1" {
			t.Fatalf("failed renewal: %q, want tok-1 until it expires", h)
		}
		clk.Advance(60 * time.Second) // expired
		_, err := b.c.auth.authorization(context.Background(), b.c)
		if !errors.Is(err, ErrServer) {
			t.Fatalf("expired and not renewable: %v, want ErrServer", err)
		}
	})

	t.Run("InvalidatedTokenReplaced", func(t *testing.T) {
		ts := newTokenServer(t, 900)
		b, _ := newTokenBroker(t, ts)
		h, _ := b.c.auth.authorization(context.Background(), b.c)
		if !b.c.auth.tokens.invalidate(h) {
			t.Fatal("invalidate of the current token says not worth retrying")
		}
		if got := authz(t, b); got != "Bearer tok-2" {
			t.Fatalf("after invalidate: %q", got)
		}
		// A stale header (another goroutine already replaced it) must not
		// throw away the new token.
		b.c.auth.tokens.invalidate(h)
		if got := authz(t, b); got != "Bearer tok-2" {
			t.Fatalf("stale invalidate dropped the new token: %q", got)
		}
	})

	t.Run("WaiterFetchesWhenFetcherGivesUp", func(t *testing.T) {
		ts := newTokenServer(t, 900)
		b, _ := newTokenBroker(t, ts)
		waits := make(chan struct{}, 1)
		b.c.auth.tokens.onWait = func() { waits <- struct{}{} }
		release := make(chan struct{})
		ts.mu.Lock()
		ts.hold = release
		ts.mu.Unlock()
		actx, cancel := context.WithCancel(context.Background())
		first := make(chan error, 1)
		go func() {
			_, err := b.c.auth.authorization(actx, b.c)
			first <- err
		}()
		<-ts.arrived // the first caller's fetch is in flight
		second := make(chan error, 1)
		go func() {
			_, err := b.c.auth.authorization(context.Background(), b.c)
			second <- err
		}()
		<-waits // the second waits on the first
		cancel()
		if err := <-first; !errors.Is(err, context.Canceled) {
			t.Fatalf("first caller: %v, want context.Canceled", err)
		}
		<-ts.arrived // the second caller fetches in turn
		close(release)
		if err := <-second; err != nil {
			t.Fatalf("second caller: %v; its own context was fine", err)
		}
	})

	t.Run("NoLifetimeStated", func(t *testing.T) {
		ts := newTokenServer(t, 0)
		b, clk := newTokenBroker(t, ts)
		authz(t, b)
		clk.Advance(tokenMinLife)
		if h := authz(t, b); h != "Bearer tok-2" {
			t.Fatalf("after the assumed lifetime: %q", h)
		}
	})
}
