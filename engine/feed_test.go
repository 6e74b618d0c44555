package engine_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/quantum-alpaca/quantum/alpaca"
	"github.com/quantum-alpaca/quantum/alpaca/stream"
	"github.com/quantum-alpaca/quantum/alpacabroker"
	"github.com/quantum-alpaca/quantum/engine"
	"github.com/quantum-alpaca/quantum/internal/simtest"
	"github.com/quantum-alpaca/quantum/sim"
	"github.com/quantum-alpaca/quantum/trading"
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
	a := h.Subscribe([]string{"AAPL"}, nil)
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
	b := h.Subscribe([]string{"MSFT"}, nil)
	expect(b, "MSFT")
}

// TestFeedBarsThroughHub: with a broker replaying recorded minutes on a
// stepped clock, every minute bar reaches a bar subscriber once, in time
// order, with its recorded close, and a quote-only subscriber gets none.
func TestFeedBarsThroughHub(t *testing.T) {
	t.Parallel()
	start := time.Date(2024, 1, 2, 14, 30, 0, 0, time.UTC) // 09:30 New York
	closes := []float64{100.25, 100.5, 99.75, 101, 101.5}
	rec := make([]alpaca.Bar, len(closes))
	for k, c := range closes {
		rec[k] = alpaca.Bar{Timestamp: start.Add(time.Duration(k) * time.Minute), Open: c, High: c + 0.5, Low: c - 0.5, Close: c, Volume: 100}
	}
	srv := simtest.Start(t, sim.Config{Seed: 13, Recorded: map[string][]alpaca.Bar{"AAPL": rec}, Clock: sim.NewSteppedClock(start)})
	f, err := alpacabroker.NewFeed(srv.URL, stream.FeedIEX, fmt.Sprintf("PKBARS%d", time.Now().UnixNano()), "feed-test-secret-0123456789")
	if err != nil {
		t.Fatal(err)
	}
	h := engine.NewHub(nil)
	h.Feed = f
	h.Interval = 20 * time.Millisecond
	bars := h.Subscribe(nil, []string{"AAPL"})
	quotes := h.Subscribe([]string{"AAPL"}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_ = h.Run(ctx)
	}()
	defer func() { cancel(); wg.Wait() }()

	// A bar published before the feed subscribed is not sent again, so
	// step only once the broker has the subscription.
	for {
		subs, _ := srv.StreamSubscriptions()
		if slices.Contains(subs["bars"], "AAPL") {
			break
		}
		select {
		case <-time.After(10 * time.Millisecond):
		case <-t.Context().Done():
			return
		}
	}
	if _, err := srv.AdvanceClock(ctx, start.Add(time.Duration(len(closes))*time.Minute)); err != nil {
		t.Fatal(err)
	}
	var got []trading.Bar
	deadline := time.After(time.Minute) // a safety net, not a speed check
	for len(got) < len(closes) {
		select {
		case <-bars.C():
			got = append(got, bars.DrainBars()...)
		case <-deadline:
			t.Fatalf("got %d bars, want %d", len(got), len(closes))
		}
	}
	if len(got) != len(closes) {
		t.Fatalf("got %d bars, want %d: %+v", len(got), len(closes), got)
	}
	for k, b := range got {
		if b.Symbol != "AAPL" || !b.Time.Equal(rec[k].Timestamp) || b.Close.InexactFloat64() != closes[k] {
			t.Errorf("bar %d = %s %s close %s, want AAPL %s close %v", k, b.Symbol, b.Time, b.Close, rec[k].Timestamp, closes[k])
		}
	}
	if extra := quotes.DrainBars(); len(extra) != 0 {
		t.Errorf("a quote-only subscriber got %d bars", len(extra))
	}
	if bars.BarsDropped() != 0 {
		t.Errorf("%d bars dropped", bars.BarsDropped())
	}
}
