package engine_test

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/quantum-alpaca/quantum/alpaca"
	"github.com/quantum-alpaca/quantum/alpacabroker"
	"github.com/quantum-alpaca/quantum/engine"
	"github.com/quantum-alpaca/quantum/sqlite"
	"github.com/quantum-alpaca/quantum/strategy/dca"
	"github.com/quantum-alpaca/quantum/trading"
)

var keySeq atomic.Int64

// newKeys returns a fresh key pair; the simulator auto-provisions an
// account for it.
func newKeys(t testing.TB) (string, string) {
	n := keySeq.Add(1)
	return fmt.Sprintf("PKENG%d%d", time.Now().UnixNano(), n), "secret-" + t.Name()
}

// MustOpenJournal opens a SQLite journal in dir and closes it at cleanup.
func MustOpenJournal(tb testing.TB, dir string) *sqlite.Journal {
	tb.Helper()
	j := sqlite.NewJournal(filepath.Join(dir, "journal.db"))
	if err := j.Open(context.Background()); err != nil {
		tb.Fatalf("open journal: %v", err)
	}
	tb.Cleanup(func() { _ = j.Close() })
	return j
}

// MustBroker returns an alpacabroker for a fresh account at url.
func MustBroker(tb testing.TB, url string, opts ...alpaca.Option) (*alpacabroker.Broker, *alpaca.Client) {
	tb.Helper()
	key, secret := newKeys(tb)
	b, err := alpacabroker.New(alpacabroker.Config{BaseURL: url, KeyID: key, SecretKey: secret, Options: opts})
	if err != nil {
		tb.Fatal(err)
	}
	return b, b.Client()
}

func dcaTenant(id string, b trading.Broker, count int, every time.Duration) engine.TenantConfig {
	cfg := dca.Config{Symbol: "AAPL", Qty: decimal.NewFromInt(1), Interval: every, Count: count}
	return engine.TenantConfig{
		ID: trading.TenantID(id), Broker: b, StrategyName: "dca",
		NewStrategy: func() (trading.Strategy, error) { return dca.New(cfg), nil },
	}
}

// counting wraps a strategy and counts its timer ticks, so that a test can
// wait for a number of decisions instead of for time to pass.
type counting struct {
	trading.Strategy
	ticks *atomic.Int64
}

func (c counting) OnTimer(env *trading.Env) {
	c.Strategy.OnTimer(env)
	c.ticks.Add(1)
}

// countTicks makes tc's strategies count their timer ticks in the
// returned counter.
func countTicks(tc engine.TenantConfig) (engine.TenantConfig, *atomic.Int64) {
	ticks := new(atomic.Int64)
	inner := tc.NewStrategy
	tc.NewStrategy = func() (trading.Strategy, error) {
		s, err := inner()
		if err != nil {
			return nil, err
		}
		return counting{Strategy: s, ticks: ticks}, nil
	}
	return tc, ticks
}

// newEngine returns an engine with test-friendly timings, closed at
// cleanup.
func newEngine(tb testing.TB, j trading.Journal) *engine.Engine {
	e := engine.NewEngine(j)
	e.Logger = slog.New(slog.DiscardHandler)
	e.SweepInterval = 200 * time.Millisecond
	e.SweepGrace = 100 * time.Millisecond
	e.AccountInterval = 500 * time.Millisecond
	e.RestartMin = 10 * time.Millisecond
	e.RestartMax = 200 * time.Millisecond
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = e.Close(ctx)
	})
	return e
}

// brokerOrders lists every order of the account, paging by creation time.
func brokerOrders(tb testing.TB, c *alpaca.Client) []alpaca.Order {
	tb.Helper()
	ctx := context.Background()
	seen := map[string]bool{}
	var out []alpaca.Order
	var after time.Time
	for {
		page, err := c.ListOrders(ctx, alpaca.ListOrdersRequest{Status: alpaca.OrdersAll, Limit: 500, Direction: alpaca.Asc, After: after})
		if err != nil {
			tb.Fatalf("list orders: %v", err)
		}
		fresh := 0
		for _, o := range page {
			if !seen[o.ID] {
				seen[o.ID] = true
				out = append(out, o)
				fresh++
			}
		}
		if len(page) < 500 || fresh == 0 {
			return out
		}
		after = page[len(page)-1].CreatedAt.Add(-time.Nanosecond)
	}
}

// waitFor polls cond until it holds. d is how long it should take; the
// test fails only after several times that (at least a minute), a safety
// net for a hung engine rather than a speed requirement, so that a loaded
// machine under -race passes too.
func waitFor(tb testing.TB, d time.Duration, what string, cond func() bool) {
	tb.Helper()
	d = max(6*d, time.Minute)
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitProgress waits for a large amount of work to finish, however long
// the machine takes, failing only when the work stops moving: when
// progress (a count that grows as the work is done) stays the same for
// stall.
func waitProgress(tb testing.TB, stall time.Duration, what string, done func() bool, progress func() int) {
	tb.Helper()
	last, since := progress(), time.Now()
	for !done() {
		if p := progress(); p != last {
			last, since = p, time.Now()
		} else if time.Since(since) > stall {
			tb.Fatalf("waiting for %s: no progress for %v (progress %d)", what, stall, last)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// journalDone reports whether tenant has n orders, none unfinished.
func journalDone(tb testing.TB, j trading.Journal, tenant string, n int) bool {
	ctx := context.Background()
	c, err := j.Count(ctx, trading.TenantID(tenant))
	if err != nil {
		tb.Fatal(err)
	}
	open, err := j.OpenOrders(ctx, trading.TenantID(tenant))
	if err != nil {
		tb.Fatal(err)
	}
	return c >= n && len(open) == 0
}

// assertExactly checks that the account holds exactly n orders, with n
// distinct client order ids.
func assertExactly(tb testing.TB, c *alpaca.Client, n int) {
	tb.Helper()
	orders := brokerOrders(tb, c)
	ids := map[string]int{}
	for _, o := range orders {
		ids[o.ClientOrderID]++
	}
	if len(orders) != n || len(ids) != n {
		tb.Fatalf("broker holds %d orders with %d distinct client ids, want %d and %d", len(orders), len(ids), n, n)
	}
}
