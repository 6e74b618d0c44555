package alpaca_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
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
			if d := time.Since(start); d < tt.min {
				t.Errorf("retried after %v, want >= %v", d, tt.min)
			}
		})
	}
	// Cancelled once the client has decided to wait the 30s the server
	// asked for, the call returns at once with the last reply.
	t.Run("CancelStopsWait", func(t *testing.T) {
		t.Parallel()
		var n atomic.Int32
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n.Add(1)
			w.Header().Set("Retry-After", "30")
			writeJSON(w, 429, map[string]any{"code": 42910000, "message": "rate limit exceeded"})
		}))
		defer srv.Close()
		retries := newLogEvents("alpaca: retrying request")
		c := MustClient(t, srv, alpaca.WithLogger(slog.New(retries)))
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		done := make(chan error, 1)
		go func() { _, err := c.GetAccount(ctx); done <- err }()
		if wait := attr(retries.next(t), "wait").Duration(); wait < 30*time.Second {
			t.Errorf("the client would retry after %v; the server asked for 30s", wait)
		}
		cancel()
		// A wait that ignored ctx would hold the call for 30s: await's
		// bound is the only timing here, and it is a safety net.
		if err := await(t, done, "GetAccount after cancel"); !errors.Is(err, alpaca.ErrRateLimited) {
			t.Errorf("err = %v, want the last reply (429)", err)
		}
		if got := n.Load(); got != 1 {
			t.Errorf("%d requests, want 1", got)
		}
	})
}

// TestRateLimitPauseShared checks that one 429 holds back the other
// goroutines sharing the Client until the window reopens, instead of each
// of them spending a request to learn the same thing.
func TestRateLimitPauseShared(t *testing.T) {
	t.Parallel()
	var n atomic.Int32
	var mu sync.Mutex
	var rejectedAt time.Time // the 429 went out; monotonic
	var early []time.Duration
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if n.Add(1) == 1 {
			rejectedAt = time.Now()
			w.Header().Set("Retry-After", "1")
			writeJSON(w, 429, map[string]any{"code": 42910000, "message": "rate limit exceeded"})
			return
		}
		// The client may send again only after the second the server
		// asked for, counted from when it read the 429, which is later
		// than this.
		if d := time.Since(rejectedAt); d < time.Second {
			early = append(early, d)
		}
		writeJSON(w, 200, alpaca.Account{ID: "a1"})
	}))
	defer srv.Close()
	retries := newLogEvents("alpaca: retrying request")
	c := MustClient(t, srv, alpaca.WithLogger(slog.New(retries)))
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if _, err := c.GetAccount(t.Context()); err != nil {
			t.Error(err)
		}
	}()
	// Logged after the client read the 429 and paused the host for the
	// second the server asked for.
	retries.next(t)
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
	mu.Lock()
	defer mu.Unlock()
	if len(early) != 0 {
		t.Errorf("requests sent %v after the 429, while the server had asked to wait 1s", early)
	}
	if got := n.Load(); got != 10 {
		t.Errorf("%d requests, want 10: the 429, its retry and the 8 that waited", got)
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
		// One request a minute: the second waits a minute for its token,
		// far past the caller's deadline, so it is refused without being
		// sent (the limiter knows at once the wait cannot fit).
		c := MustClient(t, srv, alpaca.WithRateLimit(1, 1))
		if _, err := c.GetAccount(t.Context()); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		if _, err := c.GetAccount(ctx); err == nil {
			t.Fatal("second request within the minute went through")
		}
		if n.Load() != 1 {
			t.Fatalf("server saw %d requests, want 1", n.Load())
		}
	})
	// Cancelled while backing off 10s or more after a 503: the call
	// returns with the 503, and sends nothing more.
	t.Run("Backoff", func(t *testing.T) {
		t.Parallel()
		var n atomic.Int32
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n.Add(1)
			writeJSON(w, 503, map[string]any{"message": "unavailable"})
		}))
		defer srv.Close()
		retries := newLogEvents("alpaca: retrying request")
		c := MustClient(t, srv, alpaca.WithRetry(5, 10*time.Second, 20*time.Second), alpaca.WithLogger(slog.New(retries)))
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		done := make(chan error, 1)
		go func() { _, err := c.GetAccount(ctx); done <- err }()
		retries.next(t)
		cancel()
		if err := await(t, done, "GetAccount after cancel"); !errors.Is(err, alpaca.ErrServer) {
			t.Fatalf("err = %v, want the 503", err)
		}
		if got := n.Load(); got != 1 {
			t.Errorf("%d requests, want 1: no retry after cancel", got)
		}
	})
	// Cancelled while the server holds the request: the call ends with the
	// caller's cancellation, not the per-attempt timeout, and is not
	// retried.
	t.Run("InFlight", func(t *testing.T) {
		t.Parallel()
		var n atomic.Int32
		arrived := make(chan struct{}, 8)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n.Add(1)
			arrived <- struct{}{}
			<-r.Context().Done()
		}))
		defer srv.Close()
		c := MustClient(t, srv)
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		done := make(chan error, 1)
		go func() { _, err := c.GetAccount(ctx); done <- err }()
		await(t, arrived, "the request at the server")
		cancel()
		if err := await(t, done, "GetAccount after cancel"); !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
		if got := n.Load(); got != 1 {
			t.Errorf("%d requests, want 1", got)
		}
	})
	t.Run("AttemptTimeoutRetried", func(t *testing.T) {
		t.Parallel()
		var n atomic.Int32
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if n.Add(1) == 1 {
				<-r.Context().Done() // until the attempt times out
				return
			}
			writeJSON(w, 200, alpaca.Account{ID: "a1"})
		}))
		defer srv.Close()
		// The first attempt hangs until it times out; the timeout only has
		// to leave room for the second, answered at once.
		c := MustClient(t, srv, alpaca.WithTimeout(time.Second))
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
	// 1/min, burst 10, 50% reserved: placement gets a burst of 5, and its
	// next token two minutes later, far past this test.
	c := MustClient(t, srv, alpaca.WithRateLimit(1, 10), alpaca.WithRateReserve(0.5))
	for i := range 5 {
		if _, err := c.SubmitOrder(t.Context(), orderReq(fmt.Sprint("cid-reserve-", i))); err != nil {
			t.Fatal(err)
		}
	}
	// The limiter refuses at once a wait that cannot fit the deadline.
	ctx, cancel := context.WithTimeout(t.Context(), time.Second)
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
