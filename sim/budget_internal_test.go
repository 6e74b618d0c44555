package sim

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestBudget(t *testing.T) {
	b := newBudget(4 * budgetUnit)
	ctx := context.Background()
	if n, err := b.acquire(ctx, 3); n != 3 || err != nil {
		t.Fatalf("acquire 3 of 4: %d %v", n, err)
	}
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if n, err := b.acquire(canceled, 2); n != 0 || err == nil {
		t.Fatalf("acquire 2 with 1 free: %d %v, want to give up", n, err)
	}
	if n, err := b.acquire(ctx, 1); n != 1 || err != nil { // what the failed acquire took is back
		t.Fatalf("acquire the last one: %d %v", n, err)
	}
	b.release(4)
	if n, err := b.acquire(ctx, 100); n != 4 || err != nil {
		t.Fatalf("acquire more than the pool: %d %v, want the whole pool", n, err)
	}
	got := make(chan int)
	go func() { n, _ := b.acquire(ctx, 2); got <- n }() // waits for a release
	b.release(4)
	if n := <-got; n != 2 {
		t.Fatalf("waiting acquire got %d", n)
	}
	if unitsOf(1) != 1 || unitsOf(budgetUnit) != 1 || unitsOf(budgetUnit+1) != 2 {
		t.Fatal("unitsOf rounds up")
	}
}

// A market-data request that finds the response budget spent waits up to
// WriteTimeout, then gets 503 with Retry-After; once the budget is back,
// requests are served again and leave it whole.
func TestResponseBudgetSpent(t *testing.T) {
	s, err := New(Config{AutoProvision: true, ResponseBudget: 8 * budgetUnit, WriteTimeout: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	get := func() *httptest.ResponseRecorder {
		r := httptest.NewRequest("GET", "/v2/stocks/AAPL/bars?timeframe=1Min&limit=100", nil)
		r.Header.Set("APCA-API-KEY-ID", "PKBUDGET")
		r.Header.Set("APCA-API-SECRET-KEY", "s")
		w := httptest.NewRecorder()
		s.Handler().ServeHTTP(w, r)
		return w
	}
	held, _ := s.budget.acquire(context.Background(), 8)
	if w := get(); w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" {
		t.Fatalf("budget spent: %d %q, want 503 with Retry-After", w.Code, w.Body)
	}
	s.budget.release(held)
	w := get()
	if w.Code != http.StatusOK || w.Header().Get("Content-Length") == "" {
		t.Fatalf("budget free: %d %q", w.Code, w.Body)
	}
	if n := len(s.budget.tokens); n != 8 {
		t.Fatalf("%d of 8 units free after the request", n)
	}
}
