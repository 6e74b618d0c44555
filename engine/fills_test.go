package engine_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/quantum-alpaca/quantum/engine"
	"github.com/quantum-alpaca/quantum/strategy/dca"
	"github.com/quantum-alpaca/quantum/trading"
)

// fakeBroker is a scripted trading.Broker: SubmitOrder calls OnSubmit,
// which may push trade updates onto the stream before the REST reply
// returns, as a fast broker does.
type fakeBroker struct {
	mu       sync.Mutex
	out      chan<- trading.OrderUpdate
	ready    chan struct{}
	OnSubmit func(in trading.Intent, push func(trading.OrderUpdate)) (trading.BrokerOrder, error)
	// quotes counts LatestQuote calls.
	quotes atomic.Int64
}

func newFakeBroker() *fakeBroker { return &fakeBroker{ready: make(chan struct{})} }

func (f *fakeBroker) push(u trading.OrderUpdate) {
	<-f.ready
	f.mu.Lock()
	out := f.out
	f.mu.Unlock()
	out <- u
}

func (f *fakeBroker) SubmitOrder(ctx context.Context, in trading.Intent) (trading.BrokerOrder, error) {
	return f.OnSubmit(in, f.push)
}
func (f *fakeBroker) LookupOrder(context.Context, string) (trading.BrokerOrder, error) {
	return trading.BrokerOrder{}, trading.ErrOrderNotFound
}
func (f *fakeBroker) OpenOrders(context.Context) ([]trading.BrokerOrder, error) { return nil, nil }
func (f *fakeBroker) OrdersSince(context.Context, time.Time) ([]trading.BrokerOrder, error) {
	return nil, nil
}
func (f *fakeBroker) Positions(context.Context) ([]trading.Position, error) { return nil, nil }
func (f *fakeBroker) Account(context.Context) (trading.Account, error)      { return trading.Account{}, nil }
func (f *fakeBroker) LatestQuote(_ context.Context, s string) (trading.Quote, error) {
	f.quotes.Add(1)
	return trading.Quote{Symbol: s, Bid: decimal.NewFromInt(99), Ask: decimal.NewFromInt(101)}, nil
}
func (f *fakeBroker) RecentBars(context.Context, string, int) ([]trading.Bar, error) { return nil, nil }
func (f *fakeBroker) StreamUpdates(ctx context.Context, out chan<- trading.OrderUpdate) error {
	f.mu.Lock()
	if f.out == nil {
		f.out = out
		close(f.ready)
	}
	f.mu.Unlock()
	<-ctx.Done()
	return ctx.Err()
}

var _ trading.Broker = (*fakeBroker)(nil)

func d(s string) decimal.Decimal { return decimal.RequireFromString(s) }

// TestEngine_Fills: fills that arrive before the REST reply, duplicated,
// or with earlier partial fills missing are all journaled exactly once,
// as per-fill quantities that add up to the broker's cumulative one.
func TestEngine_Fills(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	j := MustOpenJournal(t, t.TempDir())
	fb := newFakeBroker()
	var n int
	fb.OnSubmit = func(in trading.Intent, push func(trading.OrderUpdate)) (trading.BrokerOrder, error) {
		n++
		id := fmt.Sprintf("B%d", n)
		ord := func(status trading.OrderStatus, cum, avg string) trading.BrokerOrder {
			return trading.BrokerOrder{ID: id, ClientOrderID: in.ClientOrderID, Symbol: in.Symbol, Side: in.Side, Status: status, Qty: in.Qty, FilledQty: d(cum), FilledAvgPrice: d(avg)}
		}
		switch n {
		case 1: // partial, the same partial again, then the rest
			p1 := trading.OrderUpdate{Event: "partial_fill", EventID: "1", ExecutionID: id + "x1", Qty: d("1"), Price: d("100"), Order: ord(trading.StatusPartiallyFilled, "1", "100")}
			push(p1)
			push(p1)
			push(trading.OrderUpdate{Event: "fill", EventID: "2", ExecutionID: id + "x2", Qty: d("2"), Price: d("103"), Order: ord(trading.StatusFilled, "3", "102")})
		case 2: // the partial fill was missed: only the final one arrives
			push(trading.OrderUpdate{Event: "fill", EventID: "3", ExecutionID: id + "x2", Qty: d("2"), Price: d("103"), Order: ord(trading.StatusFilled, "3", "102")})
		}
		return ord(trading.StatusFilled, "3", "102"), nil
	}
	e := newEngine(t, j)
	tc := dcaTenant("fills", fb, 2, 5*time.Millisecond)
	cfg := dca.Config{Symbol: "AAPL", Qty: d("3"), Interval: 5 * time.Millisecond, Count: 2}
	tc.NewStrategy = func() (trading.Strategy, error) { return dca.New(cfg), nil }
	if err := e.AddTenant(tc); err != nil {
		t.Fatal(err)
	}
	if err := e.Open(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "two orders done", func() bool { return journalDone(t, j, "fills", 2) })
	_ = e.Close(ctx)

	orders, err := j.Orders(ctx, trading.OrderFilter{TenantID: "fills"})
	if err != nil {
		t.Fatal(err)
	}
	if len(orders) != 2 {
		t.Fatalf("got %d orders, want 2", len(orders))
	}
	for _, o := range orders {
		if o.Status != trading.StatusFilled || !o.FilledQty.Equal(d("3")) || !o.FilledAvgPrice.Equal(d("102")) {
			t.Errorf("%s: status %s filled %s @ %s, want filled 3 @ 102", o.Intent.ClientOrderID, o.Status, o.FilledQty, o.FilledAvgPrice)
		}
	}
	evs, err := j.Events(ctx, "fills", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var fills []string
	for _, ev := range evs {
		if ev.Kind == trading.EventFill {
			fills = append(fills, ev.Qty.String()+"@"+ev.Price.String())
		}
	}
	want := fmt.Sprint([]string{"1@100", "2@103", "3@102"})
	if got := fmt.Sprint(fills); got != want {
		t.Errorf("fills journaled: %s, want %s", got, want)
	}
}

// TestEngine_HaltedAsksNoQuote: the kill switch is checked before the
// risk limits, so a halted tenant refuses its orders without asking the
// broker for a price (a halted tenant may be halted because its broker is
// in trouble).
func TestEngine_HaltedAsksNoQuote(t *testing.T) {
	t.Parallel()
	j := MustOpenJournal(t, t.TempDir())
	fb := newFakeBroker()
	fb.OnSubmit = func(trading.Intent, func(trading.OrderUpdate)) (trading.BrokerOrder, error) {
		t.Error("a halted tenant sent an order")
		return trading.BrokerOrder{}, trading.ErrRejected
	}
	e := newEngine(t, j)
	tc := dcaTenant("halted", fb, 0, time.Millisecond)
	tc.State = trading.Halted
	tc.Limits.MaxOrderNotional = decimal.NewFromInt(1000) // would need a quote
	if err := e.AddTenant(tc); err != nil {
		t.Fatal(err)
	}
	if err := e.Open(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "ten refused decisions", func() bool {
		s, _ := e.Status("halted")
		return s.RiskRejections >= 10
	})
	if err := e.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := fb.quotes.Load(); n != 0 {
		t.Errorf("halted tenant asked for %d quotes, want none", n)
	}
	if s, _ := e.Status("halted"); s.OrdersPlaced != 0 {
		t.Errorf("halted tenant placed %d orders", s.OrdersPlaced)
	}
}

// TestEngine_StatesSurviveRestart: with States set, the kill switch is
// saved in the store, overrides the configured state at the next Open,
// and a state another engine saves is applied within StateSyncInterval.
func TestEngine_StatesSurviveRestart(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	j := MustOpenJournal(t, t.TempDir())
	tenant := func() engine.TenantConfig {
		tc := dcaTenant("s", newFakeBroker(), 1, time.Hour)
		tc.State = trading.Active
		return tc
	}

	e := newEngine(t, j)
	e.States = j
	if err := e.AddTenant(tenant()); err != nil {
		t.Fatal(err)
	}
	if err := e.Open(); err != nil {
		t.Fatal(err)
	}
	if err := e.SetState("s", trading.Halted); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if saved, err := j.TradingStates(ctx); err != nil || saved["s"] != trading.Halted {
		t.Fatalf("saved states %v, %v; want s HALTED", saved, err)
	}

	e = newEngine(t, j)
	e.States = j
	e.StateSyncInterval = 10 * time.Millisecond
	if err := e.AddTenant(tenant()); err != nil {
		t.Fatal(err)
	}
	if err := e.Open(); err != nil {
		t.Fatal(err)
	}
	if s, _ := e.Status("s"); s.State != trading.Halted {
		t.Fatalf("after restart: state %s, want the saved HALTED over the configured ACTIVE", s.State)
	}
	// Another engine sharing the store changes it.
	if err := j.SetTradingState(ctx, "s", trading.Reducing); err != nil {
		t.Fatal(err)
	}
	waitFor(t, time.Second, "the shared state applied", func() bool {
		s, _ := e.Status("s")
		return s.State == trading.Reducing
	})
}

// flakyStates is a StateStore that can be cut off, like a database behind
// a broken network.
type flakyStates struct {
	trading.StateStore
	down  atomic.Bool
	reads atomic.Int64
}

func (f *flakyStates) SetTradingState(ctx context.Context, id trading.TenantID, s trading.TradingState) error {
	if f.down.Load() {
		return errors.New("dial tcp 127.0.0.1:5432: connection refused")
	}
	return f.StateStore.SetTradingState(ctx, id, s)
}

func (f *flakyStates) TradingStates(ctx context.Context) (map[trading.TenantID]trading.TradingState, error) {
	if f.down.Load() {
		return nil, errors.New("dial tcp 127.0.0.1:5432: connection refused")
	}
	f.reads.Add(1)
	return f.StateStore.TradingStates(ctx)
}

// TestEngine_KillSwitchStoreDown: with the state store unreachable a halt
// still takes effect, loosening is refused with nothing changed, and when
// the store returns the halt is written through and never undone by the
// older ACTIVE row it finds there.
func TestEngine_KillSwitchStoreDown(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	j := MustOpenJournal(t, t.TempDir())
	if err := j.SetTradingState(ctx, "k", trading.Active); err != nil {
		t.Fatal(err)
	}
	store := &flakyStates{StateStore: j}
	e := newEngine(t, j)
	e.States = store
	e.StateSyncInterval = 5 * time.Millisecond
	if err := e.AddTenant(dcaTenant("k", newFakeBroker(), 1, time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := e.Open(); err != nil {
		t.Fatal(err)
	}
	state := func() trading.TradingState { s, _ := e.Status("k"); return s.State }

	store.down.Store(true)
	if err := e.SetState("k", trading.Halted); !errors.Is(err, trading.ErrSavedLater) {
		t.Fatalf("halt with the store down: %v, want ErrSavedLater", err)
	}
	if got := state(); got != trading.Halted {
		t.Fatalf("halt with the store down: state %s, want HALTED at once", got)
	}
	if err := e.SetState("k", trading.Active); trading.ErrorCode(err) != trading.EUNAVAILABLE {
		t.Fatalf("activate with the store down: %v, want EUNAVAILABLE", err)
	}
	if got := state(); got != trading.Halted {
		t.Fatalf("a refused ACTIVE changed the state to %s", got)
	}

	store.down.Store(false)
	waitFor(t, time.Second, "the halt written through", func() bool {
		saved, err := j.TradingStates(ctx)
		return err == nil && saved["k"] == trading.Halted
	})
	reads := store.reads.Load()
	waitFor(t, time.Second, "ten more syncs", func() bool { return store.reads.Load() >= reads+10 })
	if got := state(); got != trading.Halted {
		t.Fatalf("after the store came back: state %s, want HALTED kept", got)
	}
	// With the store up, loosening works again.
	if err := e.SetState("k", trading.Active); err != nil {
		t.Fatal(err)
	}
	if got := state(); got != trading.Active {
		t.Fatalf("state %s after ACTIVE, want ACTIVE", got)
	}
}
