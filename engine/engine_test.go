package engine_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/quantum-alpaca/quantum/alpaca"
	"github.com/quantum-alpaca/quantum/engine"
	"github.com/quantum-alpaca/quantum/internal/simtest"
	"github.com/quantum-alpaca/quantum/sim"
	"github.com/quantum-alpaca/quantum/trading"
)

// runDCA runs a 30-order dca tenant "t1" in a fresh engine on the journal
// in dir until every order is filled.
func runDCA(t *testing.T, dir string, b trading.Broker) {
	t.Helper()
	j := MustOpenJournal(t, dir)
	defer j.Close()
	e := newEngine(t, j)
	if err := e.AddTenant(dcaTenant("t1", b, 30, 2*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if err := e.Open(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "30 orders filled", func() bool { return journalDone(t, j, "t1", 30) })
	if err := e.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestEngine_DCA(t *testing.T) {
	t.Parallel()
	srv := simtest.Start(t, sim.Config{Seed: 1})

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		b, client := MustBroker(t, srv.URL)
		runDCA(t, dir, b)
		assertExactly(t, client, 30)

		// Every order is journaled as filled, with its fill quantity
		// accounted exactly once.
		j := MustOpenJournal(t, dir)
		defer j.Close()
		orders, err := j.Orders(context.Background(), trading.OrderFilter{TenantID: "t1"})
		if err != nil {
			t.Fatal(err)
		}
		if len(orders) != 30 {
			t.Fatalf("journal holds %d orders, want 30", len(orders))
		}
		for _, o := range orders {
			if o.Status != trading.StatusFilled || !o.FilledQty.Equal(decimal.NewFromInt(1)) || o.BrokerOrderID == "" {
				t.Fatalf("order %s: status %s filled %s broker id %q, want filled 1 with a broker id", o.Intent.ClientOrderID, o.Status, o.FilledQty, o.BrokerOrderID)
			}
		}
	})

	t.Run("RestartPlacesNoMore", func(t *testing.T) {
		t.Parallel()
		// The count is the tenant's lifetime count, read from the journal:
		// a restarted strategy keeps deciding but places nothing more.
		dir := t.TempDir()
		b, client := MustBroker(t, srv.URL)
		runDCA(t, dir, b)

		j := MustOpenJournal(t, dir)
		defer j.Close()
		e := newEngine(t, j)
		tc, ticks := countTicks(dcaTenant("t1", b, 30, 2*time.Millisecond))
		if err := e.AddTenant(tc); err != nil {
			t.Fatal(err)
		}
		if err := e.Open(); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 5*time.Second, "20 decisions after the restart", func() bool { return ticks.Load() >= 20 })
		if err := e.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		assertExactly(t, client, 30)
	})
}

// TestEngine_Recovery covers what a crash leaves behind: intents the
// journal has but the broker may or may not have received.
func TestEngine_Recovery(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := simtest.Start(t, sim.Config{Seed: 2})
	j := MustOpenJournal(t, t.TempDir())
	b, client := MustBroker(t, srv.URL)
	const tenant = trading.TenantID("rec")

	intent := func() trading.Intent {
		seq, err := j.NextSequence(ctx, tenant)
		if err != nil {
			t.Fatal(err)
		}
		in := trading.Intent{Tenant: tenant, Seq: seq, ClientOrderID: trading.ClientOrderID(tenant, seq), Symbol: "MSFT",
			Side: trading.Buy, Type: trading.Market, TimeInForce: trading.Day, Qty: decimal.NewFromInt(2)}
		if err := j.Append(ctx, trading.IntentEvent(in)); err != nil {
			t.Fatal(err)
		}
		return in
	}
	// Crashed after journaling, before sending: must be sent once.
	neverSent := intent()
	// Crashed after sending, before journaling the reply: must be
	// adopted, not sent again.
	sent := intent()
	q := decimal.NewFromInt(2)
	if _, err := client.SubmitOrder(ctx, alpaca.OrderRequest{Symbol: "MSFT", Qty: &q, Side: alpaca.Buy, Type: alpaca.Market, TimeInForce: alpaca.Day, ClientOrderID: sent.ClientOrderID}); err != nil {
		t.Fatal(err)
	}

	e := newEngine(t, j)
	// count 2: the strategy must place nothing new, since both intents
	// count as placed.
	if err := e.AddTenant(dcaTenant(string(tenant), b, 2, 5*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if err := e.Open(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "both orders settled", func() bool { return journalDone(t, j, string(tenant), 2) })
	assertExactly(t, client, 2)
	for _, in := range []trading.Intent{neverSent, sent} {
		st, err := j.Order(ctx, tenant, in.ClientOrderID)
		if err != nil {
			t.Fatal(err)
		}
		if st.Status != trading.StatusFilled || !st.FilledQty.Equal(q) {
			t.Errorf("%s: status %s filled %s, want filled %s", in.ClientOrderID, st.Status, st.FilledQty, q)
		}
	}
}

func TestEngine_Risk(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := simtest.Start(t, sim.Config{Seed: 3})
	j := MustOpenJournal(t, t.TempDir())

	t.Run("MaxOrderNotional", func(t *testing.T) {
		b, client := MustBroker(t, srv.URL)
		e := newEngine(t, j)
		tc := dcaTenant("risky", b, 5, 5*time.Millisecond)
		tc.Limits.MaxOrderNotional = decimal.NewFromInt(1) // any share of AAPL costs more
		if err := e.AddTenant(tc); err != nil {
			t.Fatal(err)
		}
		if err := e.Open(); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 5*time.Second, "risk rejections", func() bool {
			s, _ := e.Status("risky")
			return s.RiskRejections >= 3
		})
		_ = e.Close(ctx)
		orders, err := j.Orders(ctx, trading.OrderFilter{TenantID: "risky"})
		if err != nil {
			t.Fatal(err)
		}
		if len(orders) < 3 {
			t.Fatalf("journal has %d orders, want the rejections journaled", len(orders))
		}
		for _, o := range orders {
			if o.Status != trading.StatusRiskRejected || o.Reason == "" {
				t.Fatalf("order %s: status %s reason %q, want risk_rejected with a reason", o.Intent.ClientOrderID, o.Status, o.Reason)
			}
		}
		if got := brokerOrders(t, client); len(got) != 0 {
			t.Fatalf("broker got %d orders, want 0", len(got))
		}
	})

	t.Run("KillSwitch", func(t *testing.T) {
		b, client := MustBroker(t, srv.URL)
		e := newEngine(t, j)
		if err := e.AddTenant(dcaTenant("halt", b, 0, 5*time.Millisecond)); err != nil {
			t.Fatal(err)
		}
		if err := e.Open(); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 5*time.Second, "some orders", func() bool {
			s, _ := e.Status("halt")
			return s.OrdersPlaced >= 3
		})
		if err := e.SetState("halt", trading.Halted); err != nil {
			t.Fatal(err)
		}
		// The runner is one goroutine: once it has refused an order
		// after the switch, an order that was in flight at the switch is
		// done. From then on every decision must be refused.
		s, _ := e.Status("halt")
		rejected := s.RiskRejections
		waitFor(t, 5*time.Second, "a refusal after HALTED", func() bool {
			s, _ = e.Status("halt")
			return s.RiskRejections > rejected
		})
		before := s.OrdersPlaced
		rejected = s.RiskRejections
		waitFor(t, 5*time.Second, "five more refusals", func() bool {
			s, _ = e.Status("halt")
			return s.RiskRejections >= rejected+5
		})
		if s.OrdersPlaced != before || s.State != trading.Halted {
			t.Fatalf("after HALTED: placed %d -> %d, state %s, risk rejections %d", before, s.OrdersPlaced, s.State, s.RiskRejections)
		}
		_ = e.Close(ctx)
		assertExactly(t, client, before)
		if err := e.SetState("halt", "BOGUS"); trading.ErrorCode(err) != trading.EINVALID {
			t.Fatalf("SetState(BOGUS) = %v, want EINVALID", err)
		}
		if err := e.SetState("nobody", trading.Halted); !errors.Is(err, engine.ErrUnknownTenant) {
			t.Fatalf("SetState(unknown tenant) = %v", err)
		}
	})
}

// A tenant's status carries the broker's marked positions and their
// unrealized P&L, refreshed with the account.
func TestEngine_HoldingsAndPnL(t *testing.T) {
	t.Parallel()
	srv := simtest.Start(t, sim.Config{Seed: 4})
	b, _ := MustBroker(t, srv.URL)
	j := MustOpenJournal(t, t.TempDir())
	e := newEngine(t, j)
	if err := e.AddTenant(dcaTenant("pnl", b, 5, 2*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if err := e.Open(); err != nil {
		t.Fatal(err)
	}
	var st trading.TenantStatus
	waitFor(t, 20*time.Second, "holdings refreshed after 5 fills", func() bool {
		st, _ = e.Status("pnl")
		return len(st.Holdings) == 1 && st.Holdings[0].Qty.Equal(decimal.NewFromInt(5))
	})
	if st.AccountAt.IsZero() {
		t.Error("holdings without the time they were read")
	}
	h := st.Holdings[0]
	if h.Symbol != "AAPL" || !h.AvgEntryPrice.IsPositive() || !h.MarketValue.IsPositive() {
		t.Fatalf("holding: %+v", h)
	}
	// Unrealized P&L is the mark against the entry price.
	if want := h.MarketValue.Sub(h.AvgEntryPrice.Mul(h.Qty)); !h.UnrealizedPL.Sub(want).Abs().LessThan(decimal.NewFromFloat(0.01)) {
		t.Errorf("unrealized P&L %s, want market value less cost = %s", h.UnrealizedPL, want)
	}
	if !st.UnrealizedPnL.Equal(h.UnrealizedPL) {
		t.Errorf("tenant unrealized P&L %s, want the one holding's %s", st.UnrealizedPnL, h.UnrealizedPL)
	}
}
