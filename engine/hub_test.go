package engine_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/quantum-alpaca/quantum/engine"
	"github.com/quantum-alpaca/quantum/trading"
)

type countingSource struct{ n atomic.Int64 }

func (c *countingSource) LatestQuotes(_ context.Context, symbols []string) (map[string]trading.Quote, error) {
	n := c.n.Add(1)
	out := map[string]trading.Quote{}
	for _, s := range symbols {
		out[s] = trading.Quote{Symbol: s, Bid: decimal.NewFromInt(n), Ask: decimal.NewFromInt(n + 1)}
	}
	return out, nil
}

// TestHub: a subscriber that never reads does not slow the hub or the
// others; it keeps only the latest quote per symbol and counts the rest
// as dropped.
func TestHub(t *testing.T) {
	t.Parallel()
	src := &countingSource{}
	h := engine.NewHub(src)
	h.Interval = time.Millisecond
	slow := h.Subscribe([]string{"AAPL", "MSFT"}, nil)
	fast := h.Subscribe([]string{"AAPL"}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_ = h.Run(ctx)
	}()
	got := 0
	deadline := time.After(time.Minute) // a safety net, not a speed check
	for got < 20 {
		select {
		case <-fast.C():
			for _, q := range fast.Drain() {
				if q.Symbol != "AAPL" {
					t.Fatalf("fast got %s, not subscribed", q.Symbol)
				}
				got++
			}
		case <-deadline:
			t.Fatalf("fast subscriber got %d quotes", got)
		}
	}
	cancel()
	wg.Wait()
	qs := slow.Drain()
	if len(qs) != 2 || qs[0].Symbol != "AAPL" || qs[1].Symbol != "MSFT" {
		t.Fatalf("slow drained %+v, want the latest AAPL and MSFT", qs)
	}
	if want := decimal.NewFromInt(src.n.Load()); !qs[0].Bid.Equal(want) {
		t.Errorf("slow AAPL bid %s, want the latest %s", qs[0].Bid, want)
	}
	if slow.Dropped() < 10 {
		t.Errorf("slow dropped %d, want the superseded quotes counted", slow.Dropped())
	}
	h.Unsubscribe(slow)
}
