package market_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/quantum-alpaca/quantum/sim/market"
)

// t0 is a Tuesday, 10:30 in New York.
var t0 = time.Date(2026, 3, 10, 14, 30, 0, 0, time.UTC)

// clock is a settable clock shared by a market and its test.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	return c.t
}

type harness struct {
	m   *market.Market
	srv *httptest.Server
	clk *clock
}

// MustHarness builds a market on a fake clock at t0, mounted on a real
// HTTP server. History defaults to two days to keep tests quick.
func MustHarness(tb testing.TB, cfg market.Config) *harness {
	tb.Helper()
	clk := &clock{t: t0}
	if cfg.Now == nil {
		cfg.Now = clk.Now
	}
	if cfg.HistoryDays == 0 {
		cfg.HistoryDays = 2
	}
	if cfg.Universe == nil && cfg.Recorded == nil {
		cfg.Universe = liveUniverse()
	}
	m, err := market.New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	mux := http.NewServeMux()
	m.Register(mux, nil)
	srv := httptest.NewServer(mux)
	tb.Cleanup(func() {
		_ = m.Close()
		srv.Close()
	})
	return &harness{m: m, srv: srv, clk: clk}
}

// step advances the clock by d and steps the market, n times.
func (h *harness) step(n int, d time.Duration) {
	for range n {
		h.m.Step(h.clk.Add(d))
	}
}

// get fetches path and decodes the JSON body into v (when non-nil).
func (h *harness) get(tb testing.TB, path string, v any) (int, []byte) {
	tb.Helper()
	resp, err := http.Get(h.srv.URL + path)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	if v != nil && resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(body, v); err != nil {
			tb.Fatalf("GET %s: decode %s: %v", path, body, err)
		}
	}
	return resp.StatusCode, body
}

// mustGet is get that fails the test unless the status is 200.
func (h *harness) mustGet(tb testing.TB, path string, v any) []byte {
	tb.Helper()
	status, body := h.get(tb, path, v)
	if status != http.StatusOK {
		tb.Fatalf("GET %s: status %d: %s", path, status, body)
	}
	return body
}

// liveUniverse is the part of the default universe that walks tick by
// tick from the start (not Lazy): what the harness's tests of the live
// market run on. lazy_test.go covers the rest.
func liveUniverse() []market.Symbol {
	var out []market.Symbol
	for _, s := range market.DefaultUniverse() {
		if !s.Lazy {
			out = append(out, s)
		}
	}
	return out
}
