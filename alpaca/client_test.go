package alpaca_test

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

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
