package engine_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/quantum-alpaca/quantum/alpaca/stream"
	"github.com/quantum-alpaca/quantum/alpacabroker"
	"github.com/quantum-alpaca/quantum/engine"
	"github.com/quantum-alpaca/quantum/internal/simtest"
	"github.com/quantum-alpaca/quantum/sim"
)

// TestFeedThroughHub: one market-data (alpacabroker.Feed) websocket feeds the hub, which
// hands each subscriber only its symbols, including symbols subscribed
// after the feed started.
func TestFeedThroughHub(t *testing.T) {
	t.Parallel()
	srv := simtest.Start(t, sim.Config{Seed: 13, TickInterval: 10 * time.Millisecond})
	f, err := alpacabroker.NewFeed(srv.URL, stream.FeedIEX, fmt.Sprintf("PKFEED%d", time.Now().UnixNano()), "feed-test-secret-0123456789")
	if err != nil {
		t.Fatal(err)
	}
	h := engine.NewHub(nil)
	h.Feed = f
	h.Interval = 20 * time.Millisecond
	a := h.Subscribe([]string{"AAPL"})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_ = h.Run(ctx)
	}()
	defer func() { cancel(); wg.Wait() }()

	expect := func(m *engine.Mailbox, sym string) {
		t.Helper()
		deadline := time.After(time.Minute) // a safety net, not a speed check
		for {
			select {
			case <-m.C():
				qs := m.Drain()
				for _, q := range qs {
					if q.Symbol != sym {
						t.Fatalf("got a %s quote, subscribed to %s", q.Symbol, sym)
					}
					if !q.Mid().IsPositive() {
						t.Fatalf("quote without prices: %+v", q)
					}
				}
				if len(qs) > 0 {
					return
				}
			case <-deadline:
				t.Fatalf("no %s quote", sym)
			}
		}
	}
	expect(a, "AAPL")
	b := h.Subscribe([]string{"MSFT"})
	expect(b, "MSFT")
}
