// Package journaltest is the conformance suite every trading.Journal must
// pass. Each implementation's tests call Run; the suite uses only the
// trading.Journal interface, so what passes here behaves the same to the
// engine whichever store is behind it.
package journaltest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/quantum-alpaca/quantum/trading"
	"github.com/shopspring/decimal"
)

// OpenFunc returns an open Journal for the test t. The first call for a
// given t must return a Journal on empty storage that no other test uses;
// a later call with the same t, after the previous Journal was closed, must
// return a Journal on the same storage: that is how the suite simulates a
// restart. The suite closes every Journal it opens.
type OpenFunc func(t *testing.T) trading.Journal

// Run runs the conformance suite against the journals open returns. The
// subtests run in parallel, each on its own storage.
func Run(t *testing.T, open OpenFunc) {
	tests := []struct {
		name string
		fn   func(*testing.T, OpenFunc)
	}{
		{"AppendAndRead", testAppendAndRead},
		{"Sequences", testSequences},
		{"TenantIsolation", testTenantIsolation},
		{"Lifecycle", testLifecycle},
		{"DuplicateFill", testDuplicateFill},
		{"DuplicateIntent", testDuplicateIntent},
		{"OpenOrders", testOpenOrders},
		{"Restart", testRestart},
		{"ConcurrentAppend", testConcurrentAppend},
		{"ContextCancellation", testContextCancellation},
		{"Validation", testValidation},
		{"OrdersFilter", testOrdersFilter},
		{"EventsPaging", testEventsPaging},
		{"Close", testClose},
		{"TradingStates", testTradingStates},
		{"ConflictIsolation", testConflictIsolation},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, open)
		})
	}
}

// PerTest builds an OpenFunc from a store's two halves: newStorage makes
// empty storage for a test (a file, a database schema) and open opens a
// Journal on it. A test's first call gets new storage; its later calls
// reopen the same one, which is how the suite simulates a restart.
func PerTest(newStorage func(t *testing.T) string, open func(t *testing.T, storage string) trading.Journal) OpenFunc {
	var mu sync.Mutex
	storage := make(map[*testing.T]string)
	return func(t *testing.T) trading.Journal {
		mu.Lock()
		s, ok := storage[t]
		mu.Unlock()
		if !ok {
			// A test calls from its own goroutine, one call at a time.
			s = newStorage(t)
			mu.Lock()
			storage[t] = s
			mu.Unlock()
		}
		return open(t, s)
	}
}

// MustOpen calls open and closes the Journal when t ends.
func MustOpen(t *testing.T, open OpenFunc) trading.Journal {
	t.Helper()
	j := open(t)
	t.Cleanup(func() {
		if err := j.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return j
}

// epoch is a fixed time with nanoseconds, so that stores that round
// times are caught.
var epoch = time.Date(2026, 3, 9, 14, 30, 0, 123456789, time.UTC)

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

// NewIntent returns a valid limit-buy intent for 10 symbol at 100.25 with
// the tenant's next sequence number.
func NewIntent(t testing.TB, j trading.Journal, tenant trading.TenantID, symbol string) trading.Intent {
	t.Helper()
	seq, err := j.NextSequence(context.Background(), tenant)
	if err != nil {
		t.Fatalf("NextSequence(%q): %v", tenant, err)
	}
	return trading.Intent{
		Tenant:        tenant,
		Seq:           seq,
		ClientOrderID: trading.ClientOrderID(tenant, seq),
		Symbol:        symbol,
		Side:          trading.Buy,
		Type:          trading.Limit,
		TimeInForce:   trading.Day,
		Qty:           dec("10"),
		LimitPrice:    dec("100.25"),
		CreatedAt:     epoch.Add(time.Duration(seq) * time.Millisecond),
		Strategy:      "meanrev",
		Reason:        "z-score below -2",
	}
}

// MustAppend appends events and fails the test on error.
func MustAppend(t testing.TB, j trading.Journal, events ...trading.Event) {
	t.Helper()
	if err := j.Append(context.Background(), events...); err != nil {
		t.Fatalf("Append(%s): %v", kinds(events), err)
	}
}

// MustOrder returns the order and fails the test on error.
func MustOrder(t testing.TB, j trading.Journal, tenant trading.TenantID, coid string) trading.OrderState {
	t.Helper()
	st, err := j.Order(context.Background(), tenant, coid)
	if err != nil {
		t.Fatalf("Order(%q, %q): %v", tenant, coid, err)
	}
	return st
}

// MustEvents returns all the tenant's events, paging through them.
func MustEvents(t testing.TB, j trading.Journal, tenant trading.TenantID) []trading.Event {
	t.Helper()
	var all []trading.Event
	var after uint64
	for {
		page, err := j.Events(context.Background(), tenant, after, 0)
		if err != nil {
			t.Fatalf("Events(%q, %d): %v", tenant, after, err)
		}
		if len(page) == 0 {
			return all
		}
		all = append(all, page...)
		after = page[len(page)-1].ID
	}
}

func kinds(events []trading.Event) string {
	s := ""
	for i, e := range events {
		if i > 0 {
			s += ","
		}
		s += string(e.Kind) + ":" + e.ClientOrderID
	}
	return s
}

func wantCode(t testing.TB, what string, err error, code string) {
	t.Helper()
	if got := trading.ErrorCode(err); got != code {
		t.Errorf("%s: error code = %q (err %v), want %q", what, got, err, code)
	}
}

func wantDecimal(t testing.TB, what string, got, want decimal.Decimal) {
	t.Helper()
	if !got.Equal(want) {
		t.Errorf("%s = %s, want %s", what, got, want)
	}
}

// wantIntent compares field by field: decimals by value (a store may
// normalise 10.50 to 10.5) and times by instant.
func wantIntent(t testing.TB, got, want trading.Intent) {
	t.Helper()
	if got.Tenant != want.Tenant || got.Seq != want.Seq || got.ClientOrderID != want.ClientOrderID ||
		got.Symbol != want.Symbol || got.Side != want.Side || got.Type != want.Type ||
		got.TimeInForce != want.TimeInForce || got.ExtendedHours != want.ExtendedHours ||
		got.Strategy != want.Strategy || got.Reason != want.Reason {
		t.Errorf("intent = %+v, want %+v", got, want)
	}
	if !got.CreatedAt.Equal(want.CreatedAt) {
		t.Errorf("intent CreatedAt = %v, want %v", got.CreatedAt, want.CreatedAt)
	}
	wantDecimal(t, "intent Qty", got.Qty, want.Qty)
	wantDecimal(t, "intent Notional", got.Notional, want.Notional)
	wantDecimal(t, "intent LimitPrice", got.LimitPrice, want.LimitPrice)
	wantDecimal(t, "intent StopPrice", got.StopPrice, want.StopPrice)
	wantDecimal(t, "intent TrailPrice", got.TrailPrice, want.TrailPrice)
	wantDecimal(t, "intent TrailPercent", got.TrailPercent, want.TrailPercent)
}

func ack(in trading.Intent, brokerID string, status trading.OrderStatus) trading.Event {
	return trading.Event{Tenant: in.Tenant, ClientOrderID: in.ClientOrderID, Kind: trading.EventAck,
		BrokerOrderID: brokerID, Status: status}
}

func fill(in trading.Intent, execID, qty, price, cum string) trading.Event {
	return trading.Event{Tenant: in.Tenant, ClientOrderID: in.ClientOrderID, Kind: trading.EventFill,
		ExecutionID: execID, Qty: dec(qty), Price: dec(price), CumQty: dec(cum)}
}

func event(in trading.Intent, kind trading.EventKind) trading.Event {
	return trading.Event{Tenant: in.Tenant, ClientOrderID: in.ClientOrderID, Kind: kind}
}

func testAppendAndRead(t *testing.T, open OpenFunc) {
	j := MustOpen(t, open)
	ctx := context.Background()
	const tenant = "acme"

	in := NewIntent(t, j, tenant, "AAPL")
	in.Type, in.StopPrice, in.LimitPrice = trading.StopLimit, dec("99.5"), dec("99.75")
	in.ExtendedHours = true
	MustAppend(t, j, trading.IntentEvent(in))

	st := MustOrder(t, j, tenant, in.ClientOrderID)
	wantIntent(t, st.Intent, in)
	if st.Status != trading.StatusIntent || st.Terminal || st.BrokerOrderID != "" || st.LastEventID != 1 {
		t.Errorf("state = %+v, want status intent, not terminal, no broker id, last event 1", st)
	}
	wantDecimal(t, "FilledQty", st.FilledQty, decimal.Zero)
	if !st.UpdatedAt.Equal(in.CreatedAt) {
		t.Errorf("UpdatedAt = %v, want the intent event's time %v", st.UpdatedAt, in.CreatedAt)
	}

	events := MustEvents(t, j, tenant)
	if len(events) != 1 {
		t.Fatalf("got %d events, want 1", len(events))
	}
	e := events[0]
	if e.ID != 1 || e.Kind != trading.EventIntent || e.Tenant != tenant || e.ClientOrderID != in.ClientOrderID || e.Intent == nil {
		t.Fatalf("event = %+v, want intent event 1 with its intent", e)
	}
	wantIntent(t, *e.Intent, in)
	if n, err := j.Count(ctx, tenant); err != nil || n != 1 {
		t.Errorf("Count = %d, %v; want 1", n, err)
	}

	t.Run("ZeroTimesUseJournalClock", func(t *testing.T) {
		in := NewIntent(t, j, tenant, "MSFT")
		in.CreatedAt = time.Time{}
		before := time.Now().Add(-time.Minute)
		MustAppend(t, j, trading.IntentEvent(in))
		st := MustOrder(t, j, tenant, in.ClientOrderID)
		if st.Intent.CreatedAt.Before(before) || st.UpdatedAt.Before(before) {
			t.Errorf("CreatedAt %v, UpdatedAt %v; want the journal's clock", st.Intent.CreatedAt, st.UpdatedAt)
		}
	})
	t.Run("NotionalMarketOrder", func(t *testing.T) {
		in := NewIntent(t, j, tenant, "SPY")
		in.Type, in.LimitPrice, in.Qty, in.Notional = trading.Market, decimal.Zero, decimal.Zero, dec("2500.50")
		MustAppend(t, j, trading.IntentEvent(in))
		wantIntent(t, MustOrder(t, j, tenant, in.ClientOrderID).Intent, in)
	})
}

func testSequences(t *testing.T, open OpenFunc) {
	j := MustOpen(t, open)
	const tenants, workers, calls = 8, 8, 100
	var mu sync.Mutex
	seen := make(map[trading.TenantID]map[uint64]bool)
	// Every tenant's set exists before any worker runs: the outer map is
	// only read while workers run.
	for ti := range tenants {
		seen[trading.TenantID(fmt.Sprintf("tenant-%d", ti))] = make(map[uint64]bool)
	}
	var wg sync.WaitGroup
	for ti := range tenants {
		tenant := trading.TenantID(fmt.Sprintf("tenant-%d", ti))
		for range workers {
			wg.Go(func() {
				var last uint64
				got := make([]uint64, 0, calls)
				for range calls {
					seq, err := j.NextSequence(context.Background(), tenant)
					if err != nil {
						t.Errorf("NextSequence: %v", err)
						return
					}
					if seq <= last {
						t.Errorf("%s: NextSequence = %d after %d, want increasing", tenant, seq, last)
					}
					last = seq
					got = append(got, seq)
				}
				mu.Lock()
				defer mu.Unlock()
				for _, s := range got {
					if seen[tenant][s] {
						t.Errorf("%s: sequence %d returned twice", tenant, s)
					}
					seen[tenant][s] = true
				}
			})
		}
	}
	wg.Wait()
	for tenant, s := range seen {
		if len(s) != workers*calls {
			t.Errorf("%s: %d distinct sequences, want %d", tenant, len(s), workers*calls)
		}
	}
}

func testTenantIsolation(t *testing.T, open OpenFunc) {
	j := MustOpen(t, open)
	ctx := context.Background()
	const a, b = trading.TenantID("alpha"), trading.TenantID("bravo")

	// The same client_order_id in two tenants: ids are per account.
	shared := func(tenant trading.TenantID) trading.Intent {
		in := NewIntent(t, j, tenant, "AAPL")
		in.ClientOrderID = "shared-1"
		return in
	}
	ina, inb := shared(a), shared(b)
	inb.Symbol = "TSLA"
	MustAppend(t, j, trading.IntentEvent(ina))
	MustAppend(t, j, trading.IntentEvent(inb))
	only := NewIntent(t, j, a, "NVDA")
	MustAppend(t, j, trading.IntentEvent(only))

	// The same execution id in both tenants is two executions.
	MustAppend(t, j, fill(ina, "exec-1", "1", "10", "1"))
	MustAppend(t, j, fill(inb, "exec-1", "2", "20", "2"))
	wantDecimal(t, "alpha filled", MustOrder(t, j, a, "shared-1").FilledQty, dec("1"))
	wantDecimal(t, "bravo filled", MustOrder(t, j, b, "shared-1").FilledQty, dec("2"))

	if got := MustOrder(t, j, b, "shared-1").Intent.Symbol; got != "TSLA" {
		t.Errorf("bravo's shared-1 symbol = %q, want TSLA", got)
	}
	_, err := j.Order(ctx, b, only.ClientOrderID)
	wantCode(t, "Order of another tenant's order", err, trading.ENOTFOUND)
	err = j.Append(ctx, trading.Event{Tenant: b, ClientOrderID: only.ClientOrderID, Kind: trading.EventSubmitted})
	wantCode(t, "Append to another tenant's order", err, trading.ENOTFOUND)

	for _, tc := range []struct {
		tenant trading.TenantID
		n      int
	}{{a, 2}, {b, 1}} {
		orders, err := j.Orders(ctx, trading.OrderFilter{TenantID: tc.tenant})
		if err != nil || len(orders) != tc.n {
			t.Errorf("Orders(%s) = %d orders, %v; want %d", tc.tenant, len(orders), err, tc.n)
		}
		for _, o := range orders {
			if o.Intent.Tenant != tc.tenant {
				t.Errorf("Orders(%s) returned %s's order %s", tc.tenant, o.Intent.Tenant, o.Intent.ClientOrderID)
			}
		}
		open, err := j.OpenOrders(ctx, tc.tenant)
		if err != nil || len(open) != tc.n {
			t.Errorf("OpenOrders(%s) = %d orders, %v; want %d", tc.tenant, len(open), err, tc.n)
		}
		for _, o := range open {
			if o.Intent.Tenant != tc.tenant {
				t.Errorf("OpenOrders(%s) returned %s's order", tc.tenant, o.Intent.Tenant)
			}
		}
		for _, e := range MustEvents(t, j, tc.tenant) {
			if e.Tenant != tc.tenant || (e.Intent != nil && e.Intent.Tenant != tc.tenant) {
				t.Errorf("Events(%s) returned %+v", tc.tenant, e)
			}
		}
		if n, err := j.Count(ctx, tc.tenant); err != nil || n != tc.n {
			t.Errorf("Count(%s) = %d, %v; want %d", tc.tenant, n, err, tc.n)
		}
	}
	if n, err := j.Count(ctx, "charlie"); err != nil || n != 0 {
		t.Errorf("Count(unknown tenant) = %d, %v; want 0, nil", n, err)
	}
	_, err = j.Orders(ctx, trading.OrderFilter{})
	wantCode(t, "Orders without a tenant", err, trading.EINVALID)
}

func testLifecycle(t *testing.T, open OpenFunc) {
	j := MustOpen(t, open)
	ctx := context.Background()
	const tenant = "acme"

	t.Run("OK", func(t *testing.T) {
		in := NewIntent(t, j, tenant, "AAPL")
		MustAppend(t, j, trading.IntentEvent(in))
		MustAppend(t, j, event(in, trading.EventSubmitted))
		if st := MustOrder(t, j, tenant, in.ClientOrderID); st.Status != trading.StatusSubmitted {
			t.Errorf("after submitted: status %q", st.Status)
		}
		MustAppend(t, j, ack(in, "broker-1", trading.StatusNew))
		st := MustOrder(t, j, tenant, in.ClientOrderID)
		if st.Status != trading.StatusNew || st.BrokerOrderID != "broker-1" || st.Terminal {
			t.Errorf("after ack: %+v", st)
		}

		f1 := fill(in, "exec-1", "4", "10", "4")
		f1.Time = epoch.Add(time.Hour)
		MustAppend(t, j, f1)
		st = MustOrder(t, j, tenant, in.ClientOrderID)
		if st.Status != trading.StatusPartiallyFilled || st.Terminal || !st.UpdatedAt.Equal(f1.Time) {
			t.Errorf("after first fill: status %q terminal %v updated %v", st.Status, st.Terminal, st.UpdatedAt)
		}
		wantDecimal(t, "FilledQty", st.FilledQty, dec("4"))
		wantDecimal(t, "FilledAvgPrice", st.FilledAvgPrice, dec("10"))

		MustAppend(t, j, fill(in, "exec-2", "6", "11", "10"))
		st = MustOrder(t, j, tenant, in.ClientOrderID)
		if st.Status != trading.StatusFilled || !st.Terminal || st.LastEventID != 5 {
			t.Errorf("after last fill: status %q terminal %v last event %d; want filled, terminal, 5",
				st.Status, st.Terminal, st.LastEventID)
		}
		wantDecimal(t, "FilledQty", st.FilledQty, dec("10"))
		wantDecimal(t, "FilledAvgPrice", st.FilledAvgPrice, dec("10.6"))

		// A late ack must not reopen a filled order.
		MustAppend(t, j, ack(in, "broker-1", trading.StatusNew))
		if st := MustOrder(t, j, tenant, in.ClientOrderID); st.Status != trading.StatusFilled || !st.Terminal {
			t.Errorf("late ack changed a filled order to %q", st.Status)
		}

		events := MustEvents(t, j, tenant)
		var got []trading.EventKind
		for i, e := range events {
			if e.ID != uint64(i+1) {
				t.Errorf("event %d has ID %d", i, e.ID)
			}
			got = append(got, e.Kind)
		}
		want := []trading.EventKind{trading.EventIntent, trading.EventSubmitted, trading.EventAck,
			trading.EventFill, trading.EventFill, trading.EventAck}
		if !slices.Equal(got, want) {
			t.Fatalf("event kinds = %v, want %v", got, want)
		}
		e := events[3]
		if e.ExecutionID != "exec-1" || !e.Qty.Equal(dec("4")) || !e.Price.Equal(dec("10")) ||
			!e.CumQty.Equal(dec("4")) || !e.Time.Equal(f1.Time) || e.Intent != nil {
			t.Errorf("fill event = %+v, want it as appended", e)
		}
		if e := events[2]; e.BrokerOrderID != "broker-1" || e.Status != trading.StatusNew {
			t.Errorf("ack event = %+v", e)
		}
		if open, err := j.OpenOrders(ctx, tenant); err != nil || len(open) != 0 {
			t.Errorf("OpenOrders after fill = %d orders, %v; want none", len(open), err)
		}
	})

	t.Run("FillBeforeAck", func(t *testing.T) {
		in := NewIntent(t, j, tenant, "MSFT")
		MustAppend(t, j, trading.IntentEvent(in), event(in, trading.EventSubmitted))
		MustAppend(t, j, fill(in, "exec-a", "2", "50", "2"))
		MustAppend(t, j, ack(in, "broker-2", trading.StatusNew))
		st := MustOrder(t, j, tenant, in.ClientOrderID)
		if st.Status != trading.StatusPartiallyFilled || st.BrokerOrderID != "broker-2" {
			t.Errorf("status %q broker %q; want partially_filled (not lowered by the late ack), broker-2",
				st.Status, st.BrokerOrderID)
		}
	})

	t.Run("UnknownThenReconciled", func(t *testing.T) {
		in := NewIntent(t, j, tenant, "AMZN")
		MustAppend(t, j, trading.IntentEvent(in), event(in, trading.EventSubmitted))
		u := event(in, trading.EventUnknown)
		u.Reason = "timeout"
		MustAppend(t, j, u)
		st := MustOrder(t, j, tenant, in.ClientOrderID)
		if st.Status != trading.StatusUnknown || st.Reason != "timeout" {
			t.Errorf("after unknown: status %q reason %q", st.Status, st.Reason)
		}
		r := event(in, trading.EventReconciled)
		r.Status, r.BrokerOrderID, r.CumQty, r.Price = trading.StatusPartiallyFilled, "broker-3", dec("3"), dec("7.5")
		MustAppend(t, j, r)
		st = MustOrder(t, j, tenant, in.ClientOrderID)
		if st.Status != trading.StatusPartiallyFilled || st.BrokerOrderID != "broker-3" {
			t.Errorf("after reconciled: status %q broker %q", st.Status, st.BrokerOrderID)
		}
		wantDecimal(t, "FilledQty", st.FilledQty, dec("3"))
		wantDecimal(t, "FilledAvgPrice", st.FilledAvgPrice, dec("7.5"))

		c := event(in, trading.EventCancel)
		c.Reason = "user"
		MustAppend(t, j, c)
		st = MustOrder(t, j, tenant, in.ClientOrderID)
		if st.Status != trading.StatusCanceled || !st.Terminal || st.Reason != "user" {
			t.Errorf("after cancel: %+v", st)
		}
	})

	t.Run("RiskRejectedWithoutIntent", func(t *testing.T) {
		in := NewIntent(t, j, tenant, "GME")
		rr := trading.Event{Tenant: tenant, ClientOrderID: in.ClientOrderID, Kind: trading.EventRiskRejected,
			Intent: &in, Reason: "max order notional"}
		MustAppend(t, j, rr)
		st := MustOrder(t, j, tenant, in.ClientOrderID)
		if st.Status != trading.StatusRiskRejected || !st.Terminal || st.Reason != "max order notional" {
			t.Errorf("risk-rejected order state = %+v", st)
		}
		wantIntent(t, st.Intent, in)
		events := MustEvents(t, j, tenant)
		last := events[len(events)-1]
		if last.Kind != trading.EventRiskRejected || last.Intent == nil || last.Reason != "max order notional" {
			t.Errorf("risk_rejected event = %+v, want it with its intent and reason", last)
		}
		all, err := j.Count(context.Background(), tenant)
		if err != nil {
			t.Fatal(err)
		}
		placed, err := j.Placed(context.Background(), tenant)
		if err != nil {
			t.Fatal(err)
		}
		if placed != all-1 {
			t.Errorf("Placed = %d with %d orders of which one risk-rejected, want %d", placed, all, all-1)
		}
	})
}

func testDuplicateFill(t *testing.T, open OpenFunc) {
	j := MustOpen(t, open)
	const tenant = "acme"
	in := NewIntent(t, j, tenant, "AAPL")
	MustAppend(t, j, trading.IntentEvent(in), ack(in, "b-1", trading.StatusNew))

	MustAppend(t, j, fill(in, "x1", "3", "5", "3"))
	MustAppend(t, j, fill(in, "x1", "3", "5", "3"))
	// Within one call too, and alongside a new execution.
	MustAppend(t, j, fill(in, "x2", "2", "5", "5"), fill(in, "x2", "2", "5", "5"), fill(in, "x1", "3", "5", "3"))

	// Redelivery racing with itself.
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			if err := j.Append(context.Background(), fill(in, "x3", "1", "6", "6")); err != nil {
				t.Errorf("concurrent duplicate fill: %v", err)
			}
		})
	}
	wg.Wait()

	st := MustOrder(t, j, tenant, in.ClientOrderID)
	wantDecimal(t, "FilledQty", st.FilledQty, dec("6"))
	n := 0
	for _, e := range MustEvents(t, j, tenant) {
		if e.Kind == trading.EventFill {
			n++
		}
	}
	if n != 3 {
		t.Errorf("%d fill events journaled, want 3 (x1, x2, x3)", n)
	}
}

func testDuplicateIntent(t *testing.T, open OpenFunc) {
	j := MustOpen(t, open)
	ctx := context.Background()
	const tenant = "acme"
	in := NewIntent(t, j, tenant, "AAPL")
	MustAppend(t, j, trading.IntentEvent(in))

	dup := in
	dup.Symbol = "MSFT"
	err := j.Append(ctx, trading.IntentEvent(dup))
	wantCode(t, "duplicate client_order_id", err, trading.ECONFLICT)
	if got := MustOrder(t, j, tenant, in.ClientOrderID).Intent.Symbol; got != "AAPL" {
		t.Errorf("duplicate intent overwrote the order: symbol %q", got)
	}

	sameSeq := in
	sameSeq.ClientOrderID = "other-id"
	err = j.Append(ctx, trading.IntentEvent(sameSeq))
	wantCode(t, "duplicate sequence", err, trading.ECONFLICT)

	t.Run("AtomicAppend", func(t *testing.T) {
		fresh := NewIntent(t, j, tenant, "NVDA")
		err := j.Append(ctx, trading.IntentEvent(fresh), ack(fresh, "b-9", trading.StatusNew), trading.IntentEvent(dup))
		wantCode(t, "Append with a conflicting intent", err, trading.ECONFLICT)
		_, err = j.Order(ctx, tenant, fresh.ClientOrderID)
		wantCode(t, "the rest of a failed Append", err, trading.ENOTFOUND)
		if n, err := j.Count(ctx, tenant); err != nil || n != 1 {
			t.Errorf("Count = %d, %v; want 1", n, err)
		}
		if events := MustEvents(t, j, tenant); len(events) != 1 {
			t.Errorf("%d events after failed appends, want 1", len(events))
		}
		// The failed call used no event ids: the next event is 2.
		MustAppend(t, j, trading.IntentEvent(fresh))
		if st := MustOrder(t, j, tenant, fresh.ClientOrderID); st.LastEventID != 2 {
			t.Errorf("next event ID = %d, want 2", st.LastEventID)
		}
	})
}

func testOpenOrders(t *testing.T, open OpenFunc) {
	j := MustOpen(t, open)
	ctx := context.Background()
	const tenant = "acme"
	var wantOpen []string
	add := func(open bool, events ...func(trading.Intent) trading.Event) {
		in := NewIntent(t, j, tenant, "AAPL")
		MustAppend(t, j, trading.IntentEvent(in))
		for _, e := range events {
			MustAppend(t, j, e(in))
		}
		if open {
			wantOpen = append(wantOpen, in.ClientOrderID)
		}
	}
	kind := func(k trading.EventKind) func(trading.Intent) trading.Event {
		return func(in trading.Intent) trading.Event {
			e := event(in, k)
			e.Reason = "because"
			return e
		}
	}
	acked := func(s trading.OrderStatus) func(trading.Intent) trading.Event {
		return func(in trading.Intent) trading.Event { return ack(in, "b-"+in.ClientOrderID, s) }
	}
	filled := func(qty string) func(trading.Intent) trading.Event {
		return func(in trading.Intent) trading.Event { return fill(in, "x-"+in.ClientOrderID, qty, "1", qty) }
	}
	expired := func(in trading.Intent) trading.Event {
		e := event(in, trading.EventCancel)
		e.Status = trading.StatusExpired
		return e
	}

	add(true)
	add(true, kind(trading.EventSubmitted))
	add(false, kind(trading.EventSubmitted), acked(trading.StatusNew), filled("10"))
	add(true, kind(trading.EventSubmitted), kind(trading.EventUnknown))
	add(false, kind(trading.EventCancel))
	add(true, acked(trading.StatusAccepted))
	add(false, kind(trading.EventReject))
	add(true, acked(trading.StatusNew), filled("4"))
	add(false, expired)
	add(false, kind(trading.EventRiskRejected))
	add(true, acked(trading.StatusDoneForDay))

	got, err := j.OpenOrders(ctx, tenant)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, o := range got {
		ids = append(ids, o.Intent.ClientOrderID)
		if o.Terminal || o.Status.Terminal() {
			t.Errorf("OpenOrders returned terminal order %s (%s)", o.Intent.ClientOrderID, o.Status)
		}
	}
	if !slices.Equal(ids, wantOpen) {
		t.Errorf("OpenOrders = %v, want %v (oldest first)", ids, wantOpen)
	}
}

func testRestart(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	tenants := []trading.TenantID{"acme", "fund/sub-account #7 (ünïcode)"}

	j := MustOpen(t, open)
	maxSeq := make(map[trading.TenantID]uint64)
	for _, tenant := range tenants {
		for i := range 5 {
			in := NewIntent(t, j, tenant, "AAPL")
			maxSeq[tenant] = in.Seq
			MustAppend(t, j, trading.IntentEvent(in))
			if i%2 == 0 {
				MustAppend(t, j, ack(in, fmt.Sprint("b-", i), trading.StatusNew), fill(in, "x", "10", "3.5", "10"))
			}
		}
	}
	before := make(map[trading.TenantID][]trading.Event)
	beforeOpen := make(map[trading.TenantID][]trading.OrderState)
	for _, tenant := range tenants {
		before[tenant] = MustEvents(t, j, tenant)
		var err error
		if beforeOpen[tenant], err = j.OpenOrders(ctx, tenant); err != nil {
			t.Fatal(err)
		}
	}
	if err := j.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	j = MustOpen(t, open)
	for _, tenant := range tenants {
		after := MustEvents(t, j, tenant)
		if len(after) != len(before[tenant]) {
			t.Fatalf("%s: %d events after restart, want %d", tenant, len(after), len(before[tenant]))
		}
		for i := range after {
			a, b := after[i], before[tenant][i]
			if a.ID != b.ID || a.Kind != b.Kind || a.ClientOrderID != b.ClientOrderID || !a.Time.Equal(b.Time) ||
				a.ExecutionID != b.ExecutionID || !a.Qty.Equal(b.Qty) || a.Status != b.Status {
				t.Errorf("%s: event %d after restart = %+v, want %+v", tenant, i, a, b)
			}
		}
		open, err := j.OpenOrders(ctx, tenant)
		if err != nil || len(open) != len(beforeOpen[tenant]) {
			t.Errorf("%s: OpenOrders after restart = %d, %v; want %d", tenant, len(open), err, len(beforeOpen[tenant]))
		}
		for i := range open {
			wantIntent(t, open[i].Intent, beforeOpen[tenant][i].Intent)
		}

		seq, err := j.NextSequence(ctx, tenant)
		if err != nil || seq <= maxSeq[tenant] {
			t.Errorf("%s: NextSequence after restart = %d, %v; want > %d", tenant, seq, err, maxSeq[tenant])
		}
		in := NewIntent(t, j, tenant, "MSFT")
		MustAppend(t, j, trading.IntentEvent(in))
		last := before[tenant][len(before[tenant])-1].ID
		if st := MustOrder(t, j, tenant, in.ClientOrderID); st.LastEventID != last+1 {
			t.Errorf("%s: first event ID after restart = %d, want %d", tenant, st.LastEventID, last+1)
		}
	}
}

func testConcurrentAppend(t *testing.T, open OpenFunc) {
	j := MustOpen(t, open)
	ctx := context.Background()
	const workers, tenants, perWorker = 100, 10, 10
	var wg sync.WaitGroup
	for w := range workers {
		tenant := trading.TenantID(fmt.Sprintf("t%d", w%tenants))
		wg.Go(func() {
			for i := range perWorker {
				in := NewIntent(t, j, tenant, "AAPL")
				steps := [][]trading.Event{
					{trading.IntentEvent(in)},
					{event(in, trading.EventSubmitted), ack(in, fmt.Sprint("b", w, "-", i), trading.StatusNew)},
					{fill(in, "x1", "4", "10", "4")},
					{fill(in, "x2", "6", "10", "10")},
				}
				for _, events := range steps {
					if err := j.Append(ctx, events...); err != nil {
						t.Errorf("Append(%s): %v", kinds(events), err)
						return
					}
				}
			}
		})
	}
	wg.Wait()

	for ti := range tenants {
		tenant := trading.TenantID(fmt.Sprintf("t%d", ti))
		const orders = workers / tenants * perWorker
		if n, err := j.Count(ctx, tenant); err != nil || n != orders {
			t.Errorf("%s: Count = %d, %v; want %d", tenant, n, err, orders)
		}
		events := MustEvents(t, j, tenant)
		if len(events) != orders*5 {
			t.Errorf("%s: %d events, want %d", tenant, len(events), orders*5)
		}
		for i, e := range events {
			if e.ID != uint64(i+1) {
				t.Fatalf("%s: event %d has ID %d; want IDs 1..n without gaps", tenant, i, e.ID)
			}
		}
		if open, err := j.OpenOrders(ctx, tenant); err != nil || len(open) != 0 {
			t.Errorf("%s: %d open orders, %v; want none (all filled)", tenant, len(open), err)
		}
	}
}

func testContextCancellation(t *testing.T, open OpenFunc) {
	j := MustOpen(t, open)
	const tenant = "acme"
	canceled, cancel := context.WithCancel(context.Background())
	cancel()

	t.Run("AlreadyCanceled", func(t *testing.T) {
		in := NewIntent(t, j, tenant, "AAPL")
		if err := j.Append(canceled, trading.IntentEvent(in)); !errors.Is(err, context.Canceled) {
			t.Errorf("Append(canceled) = %v, want context.Canceled", err)
		}
		_, err := j.Order(context.Background(), tenant, in.ClientOrderID)
		wantCode(t, "order appended with a canceled context", err, trading.ENOTFOUND)
		if _, err := j.Order(canceled, tenant, in.ClientOrderID); !errors.Is(err, context.Canceled) {
			t.Errorf("Order(canceled) = %v, want context.Canceled", err)
		}
		if _, err := j.OpenOrders(canceled, tenant); !errors.Is(err, context.Canceled) {
			t.Errorf("OpenOrders(canceled) = %v, want context.Canceled", err)
		}
		if _, err := j.Events(canceled, tenant, 0, 0); !errors.Is(err, context.Canceled) {
			t.Errorf("Events(canceled) = %v, want context.Canceled", err)
		}
	})

	// Appends whose contexts end at random moments: every acknowledged one
	// is journaled, every other one is journaled once or not at all, and the
	// journal keeps working.
	t.Run("CanceledMidway", func(t *testing.T) {
		const workers, perWorker = 20, 20
		type result struct {
			in  trading.Intent
			err error
		}
		results := make(chan result, workers*perWorker)
		var wg sync.WaitGroup
		for range workers {
			wg.Go(func() {
				for range perWorker {
					in := NewIntent(t, j, tenant, "MSFT")
					// Half the calls keep their context, so the batches the
					// abandoned ones share also hold calls that must commit.
					ctx, cancel := context.Background(), context.CancelFunc(func() {})
					if rand.IntN(2) == 0 {
						ctx, cancel = context.WithTimeout(ctx, time.Duration(rand.IntN(3000))*time.Microsecond)
					}
					err := j.Append(ctx, trading.IntentEvent(in), ack(in, "b", trading.StatusNew))
					cancel()
					results <- result{in, err}
				}
			})
		}
		wg.Wait()
		close(results)

		ctx := context.Background()
		var acked, gaveUp int
		for r := range results {
			switch {
			case r.err == nil:
				acked++
				if st := MustOrder(t, j, tenant, r.in.ClientOrderID); st.Status != trading.StatusNew {
					t.Errorf("acknowledged append: status %q, want new", st.Status)
				}
			case errors.Is(r.err, context.DeadlineExceeded) || errors.Is(r.err, context.Canceled):
				gaveUp++
				// Retrying is the documented recovery: it succeeds, or says
				// the first attempt committed.
				err := j.Append(ctx, trading.IntentEvent(r.in), ack(r.in, "b", trading.StatusNew))
				if err != nil && trading.ErrorCode(err) != trading.ECONFLICT {
					t.Errorf("retry after %v: %v", r.err, err)
				}
				if st := MustOrder(t, j, tenant, r.in.ClientOrderID); st.Status != trading.StatusNew {
					t.Errorf("retried append: status %q, want new", st.Status)
				}
			default:
				t.Errorf("Append: %v, want nil or a context error", r.err)
			}
		}
		t.Logf("%d appends acknowledged, %d gave up", acked, gaveUp)

		events := MustEvents(t, j, tenant)
		intents := make(map[string]int)
		for i, e := range events {
			if e.ID != uint64(i+1) {
				t.Fatalf("event %d has ID %d; want 1..n without gaps", i, e.ID)
			}
			if e.Kind == trading.EventIntent {
				intents[e.ClientOrderID]++
			}
		}
		for coid, n := range intents {
			if n != 1 {
				t.Errorf("%s journaled %d times", coid, n)
			}
		}
		if n, err := j.Count(ctx, tenant); err != nil || n != workers*perWorker {
			t.Errorf("Count = %d, %v; want %d", n, err, workers*perWorker)
		}
	})
}

func testValidation(t *testing.T, open OpenFunc) {
	j := MustOpen(t, open)
	ctx := context.Background()
	const tenant = "acme"
	in := NewIntent(t, j, tenant, "AAPL")

	if err := j.Append(ctx); err != nil {
		t.Errorf("Append() = %v, want nil", err)
	}
	noQty := in
	noQty.Qty = decimal.Zero
	badKind := event(in, "teleported")
	noTenant := trading.IntentEvent(in)
	noTenant.Tenant = ""
	noExec := fill(in, "", "1", "1", "1")
	mismatch := trading.IntentEvent(in)
	mismatch.ClientOrderID = "something-else"
	longID := in
	longID.ClientOrderID = string(make([]byte, trading.MaxClientOrderIDLen+1))
	for name, e := range map[string]trading.Event{
		"intent without qty":          trading.IntentEvent(noQty),
		"unknown kind":                badKind,
		"no tenant":                   noTenant,
		"fill without execution id":   noExec,
		"intent for another order id": mismatch,
		"client order id too long":    trading.IntentEvent(longID),
		"intent event without intent": event(in, trading.EventIntent),
		"ack without status":          ack(in, "b", ""),
	} {
		wantCode(t, name, j.Append(ctx, e), trading.EINVALID)
	}
	// A valid event before an invalid one is not appended either.
	wantCode(t, "valid then invalid", j.Append(ctx, trading.IntentEvent(in), badKind), trading.EINVALID)
	_, err := j.Order(ctx, tenant, in.ClientOrderID)
	wantCode(t, "order of a rejected Append", err, trading.ENOTFOUND)

	wantCode(t, "event for a missing order", j.Append(ctx, event(in, trading.EventSubmitted)), trading.ENOTFOUND)
	_, err = j.OpenOrders(ctx, "")
	wantCode(t, "OpenOrders(\"\")", err, trading.EINVALID)
	_, err = j.Events(ctx, "", 0, 0)
	wantCode(t, "Events(\"\")", err, trading.EINVALID)
	_, err = j.Count(ctx, "")
	wantCode(t, "Count(\"\")", err, trading.EINVALID)
	_, err = j.Order(ctx, "", "x")
	wantCode(t, "Order(\"\")", err, trading.EINVALID)
	_, err = j.NextSequence(ctx, "")
	wantCode(t, "NextSequence(\"\")", err, trading.EINVALID)
	_, err = j.Orders(ctx, trading.OrderFilter{TenantID: tenant, Status: "nonsense"})
	wantCode(t, "Orders with an unknown status", err, trading.EINVALID)
}

func testOrdersFilter(t *testing.T, open OpenFunc) {
	j := MustOpen(t, open)
	ctx := context.Background()
	const tenant = "acme"
	var ins []trading.Intent
	for i, sym := range []string{"AAPL", "MSFT", "AAPL", "MSFT", "AAPL"} {
		in := NewIntent(t, j, tenant, sym)
		in.CreatedAt = epoch.Add(time.Duration(i) * time.Minute)
		MustAppend(t, j, trading.IntentEvent(in))
		ins = append(ins, in)
	}
	MustAppend(t, j, fill(ins[1], "x", "10", "1", "10"))

	ids := func(f trading.OrderFilter) []string {
		t.Helper()
		f.TenantID = tenant
		orders, err := j.Orders(ctx, f)
		if err != nil {
			t.Fatalf("Orders(%+v): %v", f, err)
		}
		var out []string
		for _, o := range orders {
			out = append(out, o.Intent.ClientOrderID)
		}
		return out
	}
	id := func(i int) string { return ins[i].ClientOrderID }
	for _, tc := range []struct {
		name string
		f    trading.OrderFilter
		want []string
	}{
		{"All", trading.OrderFilter{}, []string{id(4), id(3), id(2), id(1), id(0)}},
		{"Limit", trading.OrderFilter{Limit: 2}, []string{id(4), id(3)}},
		{"Symbol", trading.OrderFilter{Symbol: "AAPL"}, []string{id(4), id(2), id(0)}},
		{"Since", trading.OrderFilter{Since: epoch.Add(2 * time.Minute)}, []string{id(4), id(3), id(2)}},
		{"Status", trading.OrderFilter{Status: trading.StatusFilled}, []string{id(1)}},
		{"Combined", trading.OrderFilter{Symbol: "MSFT", Since: epoch.Add(2 * time.Minute)}, []string{id(3)}},
		{"NoMatch", trading.OrderFilter{Symbol: "TSLA"}, nil},
	} {
		if got := ids(tc.f); !slices.Equal(got, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
}

func testEventsPaging(t *testing.T, open OpenFunc) {
	j := MustOpen(t, open)
	ctx := context.Background()
	const tenant = "acme"
	for range 5 {
		in := NewIntent(t, j, tenant, "AAPL")
		MustAppend(t, j, trading.IntentEvent(in), event(in, trading.EventSubmitted), ack(in, "b", trading.StatusNew),
			fill(in, "x1", "5", "1", "5"), fill(in, "x2", "5", "1", "10"))
	}
	for _, tc := range []struct {
		after           uint64
		limit           int
		wantFirst, want int
	}{{0, 10, 1, 10}, {10, 10, 11, 10}, {20, 10, 21, 5}, {25, 10, 0, 0}, {3, 0, 4, 22}} {
		page, err := j.Events(ctx, tenant, tc.after, tc.limit)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) != tc.want || (len(page) > 0 && page[0].ID != uint64(tc.wantFirst)) {
			t.Errorf("Events(after %d, limit %d): %d events starting at %v; want %d starting at %d",
				tc.after, tc.limit, len(page), firstID(page), tc.want, tc.wantFirst)
		}
	}
}

func firstID(events []trading.Event) any {
	if len(events) == 0 {
		return "none"
	}
	return events[0].ID
}

func testClose(t *testing.T, open OpenFunc) {
	j := open(t)
	ctx := context.Background()
	in := NewIntent(t, j, "acme", "AAPL")
	if err := j.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := j.Close(); err != nil {
		t.Errorf("second Close = %v, want nil", err)
	}
	if err := j.Append(ctx, trading.IntentEvent(in)); !errors.Is(err, trading.ErrJournalClosed) {
		t.Errorf("Append after Close = %v, want ErrJournalClosed", err)
	}
	if _, err := j.Order(ctx, "acme", in.ClientOrderID); !errors.Is(err, trading.ErrJournalClosed) {
		t.Errorf("Order after Close = %v, want ErrJournalClosed", err)
	}
	if _, err := j.NextSequence(ctx, "acme"); !errors.Is(err, trading.ErrJournalClosed) {
		t.Errorf("NextSequence after Close = %v, want ErrJournalClosed", err)
	}
}

// testTradingStates: a journal that is also a trading.StateStore keeps
// each tenant's latest state across a restart, and refuses invalid ones.
func testTradingStates(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	j := MustOpen(t, open)
	ss, ok := j.(trading.StateStore)
	if !ok {
		t.Skipf("%T keeps no trading states", j)
	}
	if got, err := ss.TradingStates(ctx); err != nil || len(got) != 0 {
		t.Fatalf("TradingStates on new storage = %v, %v; want none", got, err)
	}
	for _, s := range []struct {
		id trading.TenantID
		st trading.TradingState
	}{{"a", trading.Halted}, {"b", trading.Reducing}, {"a", trading.Active}, {"a", trading.Halted}} {
		if err := ss.SetTradingState(ctx, s.id, s.st); err != nil {
			t.Fatalf("SetTradingState(%s, %s): %v", s.id, s.st, err)
		}
	}
	if err := ss.SetTradingState(ctx, "a", "BOGUS"); trading.ErrorCode(err) != trading.EINVALID {
		t.Fatalf("SetTradingState(BOGUS) = %v, want EINVALID", err)
	}
	if err := ss.SetTradingState(ctx, "", trading.Halted); trading.ErrorCode(err) != trading.EINVALID {
		t.Fatalf("SetTradingState(empty tenant) = %v, want EINVALID", err)
	}
	want := map[trading.TenantID]trading.TradingState{"a": trading.Halted, "b": trading.Reducing}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	j = MustOpen(t, open)
	got, err := j.(trading.StateStore).TradingStates(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) || got["a"] != want["a"] || got["b"] != want["b"] {
		t.Fatalf("after restart: %v, want %v", got, want)
	}
}

// testConflictIsolation: duplicate intents appended concurrently with
// fresh ones fail with ECONFLICT alone; the fresh ones sharing their
// batches commit, each once, with event ids 1..n.
func testConflictIsolation(t *testing.T, open OpenFunc) {
	j := MustOpen(t, open)
	ctx := context.Background()
	const tenant, n = "acme", 200
	var old []trading.Intent
	for range n {
		in := NewIntent(t, j, tenant, "AAPL")
		MustAppend(t, j, trading.IntentEvent(in))
		old = append(old, in)
	}
	fresh := make([]trading.Intent, n)
	for i := range fresh {
		fresh[i] = NewIntent(t, j, tenant, "MSFT")
	}
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			if err := j.Append(ctx, trading.IntentEvent(old[i])); trading.ErrorCode(err) != trading.ECONFLICT {
				t.Errorf("duplicate intent %s: %v, want ECONFLICT", old[i].ClientOrderID, err)
			}
		})
		wg.Go(func() {
			if err := j.Append(ctx, trading.IntentEvent(fresh[i])); err != nil {
				t.Errorf("fresh intent %s: %v", fresh[i].ClientOrderID, err)
			}
		})
	}
	wg.Wait()
	events := MustEvents(t, j, tenant)
	if len(events) != 2*n {
		t.Fatalf("%d events, want %d", len(events), 2*n)
	}
	seen := make(map[string]bool)
	for i, e := range events {
		if e.ID != uint64(i+1) || seen[e.ClientOrderID] {
			t.Fatalf("event %d: id %d, %s (seen before: %v); want ids 1..n, each order once", i, e.ID, e.ClientOrderID, seen[e.ClientOrderID])
		}
		seen[e.ClientOrderID] = true
	}
}
