package alpaca_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/quantum-alpaca/quantum/alpaca"
)

func TestNew(t *testing.T) {
	t.Parallel()
	t.Run("DataURLDefaults", func(t *testing.T) {
		for _, tt := range []struct{ base, want string }{
			{alpaca.PaperURL, alpaca.DataURL},
			{alpaca.LiveURL, alpaca.DataURL},
			{"http://127.0.0.1:8080/", "http://127.0.0.1:8080"},
		} {
			c, err := alpaca.New(tt.base)
			if err != nil {
				t.Fatal(err)
			}
			if got := c.DataBaseURL(); got != tt.want {
				t.Errorf("New(%q).DataBaseURL() = %q, want %q", tt.base, got, tt.want)
			}
		}
	})
	t.Run("Invalid", func(t *testing.T) {
		for name, f := range map[string]func() error{
			"EmptyURL":    func() error { _, err := alpaca.New(""); return err },
			"Scheme":      func() error { _, err := alpaca.New("ftp://x"); return err },
			"UserInfo":    func() error { _, err := alpaca.New("https://u:" + testSecret + "@h"); return err },
			"Credentials": func() error { _, err := alpaca.New(alpaca.PaperURL, alpaca.WithCredentials("k", "")); return err },
			"RateLimit":   func() error { _, err := alpaca.New(alpaca.PaperURL, alpaca.WithRateLimit(10, 0)); return err },
			"Retry":       func() error { _, err := alpaca.New(alpaca.PaperURL, alpaca.WithRetry(1, time.Second, 0)); return err },
			"Reserve":     func() error { _, err := alpaca.New(alpaca.PaperURL, alpaca.WithRateReserve(1)); return err },
			"MaxConns":    func() error { _, err := alpaca.New(alpaca.PaperURL, alpaca.WithMaxConns(0)); return err },
		} {
			err := f()
			if err == nil {
				t.Errorf("%s: no error", name)
			} else if containsSecret(err.Error()) {
				t.Errorf("%s: error leaks the secret: %v", name, err)
			}
		}
	})
}

func TestAuthHeaders(t *testing.T) {
	t.Parallel()
	var got http.Header
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Clone()
		io.WriteString(w, `{"timestamp":"2026-01-05T10:00:00Z","is_open":true,"next_open":"2026-01-06T14:30:00Z","next_close":"2026-01-05T21:00:00Z"}`)
	}))
	defer srv.Close()

	c := MustClient(t, srv)
	if _, err := c.GetClock(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got.Get("APCA-API-KEY-ID") != testKey || got.Get("APCA-API-SECRET-KEY") != testSecret || got.Get("Authorization") != "" {
		t.Errorf("key-pair headers wrong: %v", got)
	}
	if got.Get("User-Agent") != alpaca.DefaultUserAgent {
		t.Errorf("User-Agent = %q", got.Get("User-Agent"))
	}

	c = MustClient(t, srv, alpaca.WithOAuthToken("tok-"+testSecret))
	if _, err := c.GetClock(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got.Get("Authorization") != "Bearer tok-"+testSecret || got.Get("APCA-API-SECRET-KEY") != "" {
		t.Errorf("OAuth headers wrong: %v", got)
	}
}

// TestRetryPolicy checks which failures are retried for which requests.
func TestRetryPolicy(t *testing.T) {
	t.Parallel()
	type step struct {
		status int
		drop   bool
	}
	tests := []struct {
		name         string
		steps        []step // then 200s
		call         func(*alpaca.Client) error
		wantAttempts int32
		wantErr      error
	}{
		{"GET500Then200", []step{{status: 500}, {status: 502}}, getAccount, 3, nil},
		{"GET503Exhausted", []step{{status: 503}, {status: 503}, {status: 503}, {status: 503}, {status: 503}}, getAccount, 4, alpaca.ErrServer},
		{"GET504", []step{{status: 504}}, getAccount, 2, nil},
		{"GET429", []step{{status: 429}}, getAccount, 2, nil},
		{"GETDropped", []step{{drop: true}}, getAccount, 2, nil},
		{"GET404", []step{{status: 404}}, getAccount, 1, alpaca.ErrNotFound},
		{"GET401", []step{{status: 401}}, getAccount, 1, alpaca.ErrUnauthorized},
		{"GET501NotRetried", []step{{status: 501}}, getAccount, 1, alpaca.ErrServer},
		{"CancelOrder503", []step{{status: 503}}, cancelOrder, 2, nil},
		{"CancelOrderDropped", []step{{drop: true}}, cancelOrder, 2, nil},
		{"CancelAll500", []step{{status: 500}}, cancelAll, 2, nil},
		{"PatchConfig500", []step{{status: 500}}, patchConfig, 2, nil},
		{"ReplaceOrder500", []step{{status: 500}}, replaceOrder, 1, alpaca.ErrServer},
		{"ReplaceOrderDropped", []step{{drop: true}}, replaceOrder, 1, nil},
		{"ReplaceOrder429", []step{{status: 429}}, replaceOrder, 2, nil},
		{"ClosePosition502", []step{{status: 502}}, closePosition, 1, alpaca.ErrServer},
		{"ClosePosition429", []step{{status: 429}}, closePosition, 2, nil},
		{"CloseAll503", []step{{status: 503}}, closeAll, 1, alpaca.ErrServer},
		{"CreateWatchlist500", []step{{status: 500}}, createWatchlist, 1, alpaca.ErrServer},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var n atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				i := int(n.Add(1)) - 1
				if i < len(tt.steps) {
					s := tt.steps[i]
					if s.drop {
						hijackClose(w)
						return
					}
					if s.status == 429 {
						w.Header().Set("Retry-After", "0")
					}
					writeJSON(w, s.status, map[string]any{"code": s.status * 100000, "message": "scripted"})
					return
				}
				switch {
				case r.Method == http.MethodDelete && r.URL.Path == "/v2/orders/o1":
					w.WriteHeader(http.StatusNoContent)
				case r.Method == http.MethodDelete && r.URL.Path == "/v2/orders":
					writeJSON(w, 207, []alpaca.CancelResult{{ID: "o1", Status: 200}})
				case r.Method == http.MethodDelete && r.URL.Path == "/v2/positions":
					writeJSON(w, 207, []alpaca.CloseResult{})
				case strings.HasPrefix(r.URL.Path, "/v2/watchlists"):
					writeJSON(w, 200, alpaca.Watchlist{ID: "w1"})
				case strings.HasPrefix(r.URL.Path, "/v2/account/configurations"):
					writeJSON(w, 200, alpaca.AccountConfigurations{})
				case r.URL.Path == "/v2/account":
					writeJSON(w, 200, alpaca.Account{ID: "a1"})
				default:
					io.WriteString(w, mustRead(t, "testdata/order.json"))
				}
			}))
			defer srv.Close()
			c := MustClient(t, srv)
			err := tt.call(c)
			if got := n.Load(); got != tt.wantAttempts {
				t.Errorf("attempts = %d, want %d (err %v)", got, tt.wantAttempts, err)
			}
			switch {
			case tt.wantErr == nil && tt.steps[len(tt.steps)-1].drop && tt.wantAttempts == 1:
				if err == nil {
					t.Error("want an error for a dropped non-idempotent request")
				}
			case tt.wantErr == nil:
				if err != nil {
					t.Errorf("err = %v", err)
				}
			case !errors.Is(err, tt.wantErr):
				t.Errorf("err = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func getAccount(c *alpaca.Client) error {
	_, err := c.GetAccount(context.Background())
	return err
}

func cancelOrder(c *alpaca.Client) error { return c.CancelOrder(context.Background(), "o1") }

func cancelAll(c *alpaca.Client) error {
	_, err := c.CancelAllOrders(context.Background())
	return err
}

func patchConfig(c *alpaca.Client) error {
	yes := true
	_, err := c.UpdateAccountConfigurations(context.Background(), alpaca.AccountConfigurationsPatch{NoShorting: &yes})
	return err
}

func replaceOrder(c *alpaca.Client) error {
	px := decimal.RequireFromString("181")
	_, err := c.ReplaceOrder(context.Background(), "o1", alpaca.ReplaceRequest{LimitPrice: &px})
	return err
}

func closePosition(c *alpaca.Client) error {
	_, err := c.ClosePosition(context.Background(), "AAPL", alpaca.ClosePositionRequest{})
	return err
}

func closeAll(c *alpaca.Client) error {
	_, err := c.CloseAllPositions(context.Background(), alpaca.CloseAllPositionsRequest{CancelOrders: true})
	return err
}

func createWatchlist(c *alpaca.Client) error {
	_, err := c.CreateWatchlist(context.Background(), alpaca.WatchlistRequest{Name: "w", Symbols: []string{"AAPL"}})
	return err
}

// TestBodyRewoundOnRetry checks that every retry of a request with a body
// sends the whole body again (the official SDK re-sent a drained one).
func TestBodyRewoundOnRetry(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var bodies []string
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if r.ContentLength != int64(len(b)) {
			t.Errorf("Content-Length %d, body %d bytes", r.ContentLength, len(b))
		}
		mu.Lock()
		bodies = append(bodies, string(b))
		mu.Unlock()
		switch n.Add(1) {
		case 1:
			w.Header().Set("Retry-After", "0")
			writeJSON(w, 429, map[string]any{"code": 42910000, "message": "rate limit exceeded"})
		case 2:
			writeJSON(w, 503, map[string]any{"message": "unavailable"})
		default:
			writeJSON(w, 200, alpaca.AccountConfigurations{NoShorting: true})
		}
	}))
	defer srv.Close()
	c := MustClient(t, srv)
	yes := true
	got, err := c.UpdateAccountConfigurations(t.Context(), alpaca.AccountConfigurationsPatch{NoShorting: &yes})
	if err != nil || !got.NoShorting {
		t.Fatalf("got %+v, %v", got, err)
	}
	if len(bodies) != 3 {
		t.Fatalf("%d attempts, want 3", len(bodies))
	}
	for i, b := range bodies {
		if b != `{"no_shorting":true}` {
			t.Errorf("attempt %d sent body %q", i+1, b)
		}
	}
}

// TestRetryHonoursServerWait checks Retry-After and X-RateLimit-Reset on
// a real round trip, and that the wait stops on cancellation.
func TestRetryHonoursServerWait(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name   string
		header func() (string, string)
		min    time.Duration
	}{
		{"RetryAfter", func() (string, string) { return "Retry-After", "1" }, 900 * time.Millisecond},
		{"RateLimitReset", func() (string, string) {
			return "X-RateLimit-Reset", strconv.FormatInt(time.Now().Add(1500*time.Millisecond).Unix(), 10)
		}, 400 * time.Millisecond},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var n atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if n.Add(1) == 1 {
					k, v := tt.header()
					w.Header().Set(k, v)
					writeJSON(w, 429, map[string]any{"code": 42910000, "message": "rate limit exceeded"})
					return
				}
				writeJSON(w, 200, alpaca.Account{ID: "a1"})
			}))
			defer srv.Close()
			c := MustClient(t, srv)
			start := time.Now()
			if _, err := c.GetAccount(t.Context()); err != nil {
				t.Fatal(err)
			}
			if d := time.Since(start); d < tt.min || d > 3*time.Second {
				t.Errorf("retried after %v, want >= %v", d, tt.min)
			}
		})
	}
	t.Run("CancelStopsWait", func(t *testing.T) {
		t.Parallel()
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", "30")
			writeJSON(w, 429, map[string]any{"code": 42910000, "message": "rate limit exceeded"})
		}))
		defer srv.Close()
		c := MustClient(t, srv)
		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := c.GetAccount(ctx)
		if !errors.Is(err, alpaca.ErrRateLimited) {
			t.Errorf("err = %v, want the last reply (429)", err)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("cancel took %v", d)
		}
	})
}

// TestRateLimitPauseShared checks that one 429 holds back the other
// goroutines sharing the Client until the window reopens, instead of each
// of them spending a request to learn the same thing.
func TestRateLimitPauseShared(t *testing.T) {
	t.Parallel()
	var n atomic.Int32
	var early atomic.Int32
	rejected := make(chan time.Time, 1)
	var rejectedAt atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			now := time.Now()
			rejectedAt.Store(now.UnixNano())
			w.Header().Set("Retry-After", "1")
			writeJSON(w, 429, map[string]any{"code": 42910000, "message": "rate limit exceeded"})
			rejected <- now
			return
		}
		if time.Since(time.Unix(0, rejectedAt.Load())) < 900*time.Millisecond {
			early.Add(1)
		}
		writeJSON(w, 200, alpaca.Account{ID: "a1"})
	}))
	defer srv.Close()
	c := MustClient(t, srv)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if _, err := c.GetAccount(t.Context()); err != nil {
			t.Error(err)
		}
	}()
	<-rejected
	time.Sleep(100 * time.Millisecond) // let the client read the 429
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := c.GetAccount(t.Context()); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if got := early.Load(); got != 0 {
		t.Errorf("%d requests sent while the server had asked to wait", got)
	}
}

func TestContextCancellation(t *testing.T) {
	t.Parallel()
	t.Run("LimiterWait", func(t *testing.T) {
		t.Parallel()
		var n atomic.Int32
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n.Add(1)
			writeJSON(w, 200, alpaca.Account{})
		}))
		defer srv.Close()
		c := MustClient(t, srv, alpaca.WithRateLimit(1, 1))
		if _, err := c.GetAccount(t.Context()); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := c.GetAccount(ctx)
		if err == nil || time.Since(start) > time.Second {
			t.Fatalf("err = %v after %v; want a prompt error", err, time.Since(start))
		}
		if n.Load() != 1 {
			t.Fatalf("server saw %d requests, want 1", n.Load())
		}
	})
	t.Run("Backoff", func(t *testing.T) {
		t.Parallel()
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, 503, map[string]any{"message": "unavailable"})
		}))
		defer srv.Close()
		c := MustClient(t, srv, alpaca.WithRetry(5, 10*time.Second, 20*time.Second))
		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := c.GetAccount(ctx)
		if !errors.Is(err, alpaca.ErrServer) || time.Since(start) > time.Second {
			t.Fatalf("err = %v after %v", err, time.Since(start))
		}
	})
	t.Run("InFlight", func(t *testing.T) {
		t.Parallel()
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			<-r.Context().Done()
		}))
		defer srv.Close()
		c := MustClient(t, srv)
		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := c.GetAccount(ctx)
		if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > time.Second {
			t.Fatalf("err = %v after %v", err, time.Since(start))
		}
	})
	t.Run("AttemptTimeoutRetried", func(t *testing.T) {
		t.Parallel()
		var n atomic.Int32
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if n.Add(1) == 1 {
				select {
				case <-r.Context().Done():
				case <-time.After(2 * time.Second):
				}
				return
			}
			writeJSON(w, 200, alpaca.Account{ID: "a1"})
		}))
		defer srv.Close()
		// Long enough that the answered attempt fits even on a loaded
		// machine under -race (50ms did not, once), far short of the
		// first attempt's 2s hang.
		c := MustClient(t, srv, alpaca.WithTimeout(400*time.Millisecond))
		a, err := c.GetAccount(t.Context())
		if err != nil || a.ID != "a1" || n.Load() != 2 {
			t.Fatalf("got %v, %v after %d attempts", a, err, n.Load())
		}
	})
}

// TestRateReserve checks that order placement cannot use the reserved
// share of the budget, so reads still go through while orders queue.
func TestRateReserve(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(newBroker(t))
	defer srv.Close()
	// 60/min, burst 10, 50% reserved: placement gets a burst of 5.
	c := MustClient(t, srv, alpaca.WithRateLimit(60, 10), alpaca.WithRateReserve(0.5))
	for i := range 5 {
		if _, err := c.SubmitOrder(t.Context(), orderReq(fmt.Sprint("cid-reserve-", i))); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	if _, err := c.SubmitOrder(ctx, orderReq("cid-reserve-6")); err == nil {
		t.Fatal("sixth order went through the placement budget")
	}
	for range 4 {
		if _, err := c.GetAccount(t.Context()); err != nil {
			t.Fatalf("read blocked by order placement: %v", err)
		}
	}
}

func TestObserver(t *testing.T) {
	t.Parallel()
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			writeJSON(w, 502, map[string]any{"message": "bad gateway"})
			return
		}
		io.WriteString(w, mustRead(t, "testdata/order.json"))
	}))
	defer srv.Close()
	var mu sync.Mutex
	var infos []alpaca.RequestInfo
	c := MustClient(t, srv, alpaca.WithObserver(func(ri alpaca.RequestInfo) {
		mu.Lock()
		infos = append(infos, ri)
		mu.Unlock()
	}))
	if _, err := c.GetOrder(t.Context(), "61e69015-8549-4bfd-b9c3-01e75843f47d"); err != nil {
		t.Fatal(err)
	}
	if len(infos) != 2 {
		t.Fatalf("%d observations, want 2", len(infos))
	}
	for i, ri := range infos {
		if ri.Method != "GET" || ri.Route != "/v2/orders/{order_id}" || ri.Attempt != i+1 || ri.Duration <= 0 {
			t.Errorf("observation %d = %+v", i, ri)
		}
	}
	if infos[0].StatusCode != 502 || infos[0].Err == nil || infos[0].RequestID != "req-test-1" || infos[1].StatusCode != 200 {
		t.Errorf("statuses: %+v", infos)
	}
}

func TestAPIErrorMatching(t *testing.T) {
	t.Parallel()
	tests := []struct {
		status int
		body   string
		is     []error
		not    []error
	}{
		{403, `{"code":40310000,"message":"insufficient buying power","buying_power":"3388.32","cost_basis":"27032.36"}`,
			[]error{alpaca.ErrForbidden, alpaca.ErrInsufficientBuyingPower}, []error{alpaca.ErrInsufficientQty, alpaca.ErrServer}},
		{403, `{"code":40310000,"message":"insufficient qty available for order (requested: 50, available: 12)","symbol":"AAPL"}`,
			[]error{alpaca.ErrForbidden, alpaca.ErrInsufficientQty}, []error{alpaca.ErrInsufficientBuyingPower}},
		{403, `{"code":40310000,"message":"account is not allowed to short"}`,
			[]error{alpaca.ErrForbidden}, []error{alpaca.ErrInsufficientBuyingPower}},
		{422, `{"code":40010001,"message":"client_order_id must be unique"}`,
			[]error{alpaca.ErrDuplicateClientOrderID, alpaca.ErrValidation}, []error{alpaca.ErrUnprocessable}},
		{422, `{"code":40010001,"message":"qty is required"}`,
			[]error{alpaca.ErrValidation}, []error{alpaca.ErrDuplicateClientOrderID, alpaca.ErrUnprocessable}},
		{422, `{"code":42210000,"message":"order is already in \"filled\" state"}`,
			[]error{alpaca.ErrUnprocessable}, []error{alpaca.ErrValidation}},
		{400, `{"code":40010000,"message":"request body format is invalid"}`, []error{alpaca.ErrValidation}, nil},
		{401, `{"message":"unauthorized."}`, []error{alpaca.ErrUnauthorized}, []error{alpaca.ErrForbidden}},
		{404, `{"code":40410000,"message":"order not found for x"}`, []error{alpaca.ErrNotFound}, nil},
		{429, `{"code":42910000,"message":"rate limit exceeded"}`, []error{alpaca.ErrRateLimited}, []error{alpaca.ErrServer}},
		{500, `{"code":50010000,"message":"internal server error occurred"}`, []error{alpaca.ErrServer}, nil},
		{502, `<html>bad gateway</html>`, []error{alpaca.ErrServer}, []error{alpaca.ErrNotFound}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.status, "/", tt.body[:min(len(tt.body), 30)]), func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("X-Request-ID", "rid-42")
				w.WriteHeader(tt.status)
				io.WriteString(w, tt.body)
			}))
			defer srv.Close()
			c := MustClient(t, srv, alpaca.WithRetry(0, 0, 0))
			_, err := c.GetAccount(t.Context())
			var apiErr *alpaca.APIError
			if !errors.As(err, &apiErr) {
				t.Fatalf("err = %v, want *APIError", err)
			}
			if apiErr.StatusCode != tt.status || apiErr.RequestID != "rid-42" || len(apiErr.Body) == 0 {
				t.Errorf("got %+v", apiErr)
			}
			for _, target := range tt.is {
				if !errors.Is(err, target) {
					t.Errorf("errors.Is(%v, %v) = false", err, target)
				}
			}
			for _, target := range tt.not {
				if errors.Is(err, target) {
					t.Errorf("errors.Is(%v, %v) = true", err, target)
				}
			}
			if want := tt.status == 429 || tt.status >= 500; apiErr.Retryable() != want {
				t.Errorf("Retryable() = %v", !want)
			}
			if !strings.HasPrefix(err.Error(), "alpaca: ") || !strings.Contains(err.Error(), "rid-42") {
				t.Errorf("Error() = %q", err)
			}
		})
	}
	t.Run("Fields", func(t *testing.T) {
		e := &alpaca.APIError{StatusCode: 403, Code: 40310000, Message: "insufficient buying power"}
		if e.Error() != "alpaca: insufficient buying power (HTTP 403, code 40310000)" {
			t.Errorf("Error() = %q", e.Error())
		}
	})
}

func TestConcurrentSharedClient(t *testing.T) {
	t.Parallel()
	b := newBroker(t)
	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(b)
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	c := MustClient(t, srv)
	const workers, each = 64, 20
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				id := fmt.Sprintf("cid-%d-%d", w, i)
				o, err := c.SubmitOrder(t.Context(), orderReq(id))
				if err != nil || o.ClientOrderID != id {
					t.Errorf("SubmitOrder(%s) = %v, %v", id, o, err)
					return
				}
				if i%4 == 0 {
					if _, err := c.GetAccount(t.Context()); err != nil {
						t.Error(err)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	if got := b.stored(); got != workers*each {
		t.Errorf("stored %d orders, want %d", got, workers*each)
	}
	if got := conns.Load(); got > 2*workers {
		t.Errorf("opened %d connections for %d workers: keep-alive not reused", got, workers)
	}
	t.Logf("%d connections for %d requests", conns.Load(), workers*each*5/4)
}
