package engine_test

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quantum-alpaca/quantum/alpaca"
	"github.com/quantum-alpaca/quantum/engine"
	"github.com/quantum-alpaca/quantum/internal/simtest"
	"github.com/quantum-alpaca/quantum/sim"
	"github.com/quantum-alpaca/quantum/trading"
)

// panicky places one order and then panics on every tick.
type panicky struct {
	trading.BaseStrategy
	ticks *atomic.Int64
}

func (p panicky) Start(*trading.Env) (trading.Subscription, error) {
	return trading.Subscription{Interval: time.Millisecond}, nil
}

func (p panicky) OnTimer(*trading.Env) {
	p.ticks.Add(1)
	panic("strategy bug")
}

// hungBroker returns the URL of a server that accepts connections and
// never answers, until the test ends.
func hungBroker(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	return "http://" + ln.Addr().String()
}

// TestEngine_Isolation runs, in one engine, healthy tenants next to one
// whose strategy panics, one the broker rate-limits, one whose broker
// fails half its requests and one whose broker never answers at all. If
// tenants shared anything a fault could hold (a client, a connection, a
// lock, a goroutine), the hung neighbour would stall the healthy tenants
// for good; they must instead all finish, and the faulty broker must
// still end up with each order exactly once. Nothing here compares
// durations: the healthy tenants' time is logged, not asserted, since a
// loaded machine may stretch it arbitrarily.
func TestEngine_Isolation(t *testing.T) {
	t.Parallel()
	main := simtest.Start(t, sim.Config{Seed: 4})
	limited := simtest.Start(t, sim.Config{Seed: 5, RateLimit: 20, RateWindow: time.Second})
	flaky := simtest.Start(t, sim.Config{Seed: 6, Faults: sim.Faults{FailRate: 0.5}})
	j := MustOpenJournal(t, t.TempDir())
	e := newEngine(t, j)

	fast := []alpaca.Option{alpaca.WithRetry(6, 5*time.Millisecond, 50*time.Millisecond), alpaca.WithTimeout(2 * time.Second)}
	good1, good1c := MustBroker(t, main.URL)
	good2, good2c := MustBroker(t, main.URL)
	bad, _ := MustBroker(t, main.URL)
	lim, _ := MustBroker(t, limited.URL)
	flk, flkc := MustBroker(t, flaky.URL, fast...)
	hung, _ := MustBroker(t, hungBroker(t), alpaca.WithTimeout(time.Hour))

	const n = 100
	var ticks atomic.Int64
	for _, tc := range []engine.TenantConfig{
		dcaTenant("good1", good1, n, 2*time.Millisecond),
		dcaTenant("good2", good2, n, 2*time.Millisecond),
		{ID: "panicky", Broker: bad, StrategyName: "panicky", NewStrategy: func() (trading.Strategy, error) { return panicky{ticks: &ticks}, nil }},
		dcaTenant("limited", lim, 0, time.Millisecond),
		dcaTenant("flaky", flk, 20, 5*time.Millisecond),
		dcaTenant("hung", hung, 10, time.Millisecond),
	} {
		if err := e.AddTenant(tc); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	if err := e.Open(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 15*time.Second, "healthy tenants done", func() bool {
		return journalDone(t, j, "good1", n) && journalDone(t, j, "good2", n)
	})
	healthy := time.Since(start)
	if hs, _ := e.Status("hung"); hs.OrdersPlaced != 0 || hs.Health == trading.HealthRunning {
		t.Errorf("hung tenant: %d orders placed, health %s; want it stuck reconciling", hs.OrdersPlaced, hs.Health)
	}
	s, _ := e.Status("panicky")
	if s.Restarts < 2 || ticks.Load() < 2 {
		t.Errorf("panicky: %d restarts, %d ticks; want the supervisor to keep restarting it", s.Restarts, ticks.Load())
	}
	if s.LastError == "" {
		t.Errorf("panicky: no LastError recorded")
	}
	waitFor(t, 40*time.Second, "flaky tenant done", func() bool { return journalDone(t, j, "flaky", 20) })
	ls, _ := e.Status("limited")
	if ls.OrdersPlaced == 0 {
		t.Errorf("rate-limited tenant placed nothing")
	}
	// The hung tenant's calls never end by themselves: Close gives up on
	// them when its context does.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := e.Close(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		t.Fatal(err)
	}
	assertExactly(t, good1c, n)
	assertExactly(t, good2c, n)
	assertExactly(t, flkc, 20)
	t.Logf("healthy tenants: %v; rate-limited tenant placed %d; panicky restarted %d times", healthy, ls.OrdersPlaced, s.Restarts)
}
