package engine_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/quantum-alpaca/quantum/internal/simtest"
	"github.com/quantum-alpaca/quantum/sim"
	"github.com/quantum-alpaca/quantum/trading"
)

// TestEngine_Shutdown: Close lets an order in flight finish when it can,
// and otherwise leaves it journaled (unknown, or an intent never sent),
// so that the next start settles it: the broker ends with every order
// exactly once either way.
func TestEngine_Shutdown(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := simtest.Start(t, sim.Config{Seed: 8, Faults: sim.Faults{Latency: 150 * time.Millisecond}})
	j := MustOpenJournal(t, t.TempDir())

	run := func(t *testing.T, id string, closeWithin time.Duration) (wantErr bool) {
		b, client := MustBroker(t, srv.URL)
		e := newEngine(t, j)
		if err := e.AddTenant(dcaTenant(id, b, 0, time.Millisecond)); err != nil {
			t.Fatal(err)
		}
		if err := e.Open(); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 10*time.Second, "two orders", func() bool {
			s, _ := e.Status(trading.TenantID(id))
			return s.OrdersPlaced >= 2
		})
		cctx, cancel := context.WithTimeout(ctx, closeWithin)
		defer cancel()
		err := e.Close(cctx)
		t.Logf("Close within %v: %v", closeWithin, err)
		if closeWithin > time.Second && err != nil {
			t.Fatalf("graceful Close: %v", err)
		}
		open, jerr := j.OpenOrders(ctx, trading.TenantID(id))
		if jerr != nil {
			t.Fatal(jerr)
		}
		for _, o := range open {
			t.Logf("after Close: order %s left %s", o.Intent.ClientOrderID, o.Status)
			switch o.Status {
			case trading.StatusUnknown, trading.StatusIntent, trading.StatusNew, trading.StatusAccepted, trading.StatusPendingNew:
			default:
				t.Errorf("after Close: order %s is %s", o.Intent.ClientOrderID, o.Status)
			}
		}
		placed, _ := j.Count(ctx, trading.TenantID(id))

		// Restart with the lifetime count set to what was placed: it
		// must settle the leftovers and place nothing new.
		e2 := newEngine(t, j)
		if err := e2.AddTenant(dcaTenant(id, b, placed, time.Millisecond)); err != nil {
			t.Fatal(err)
		}
		if err := e2.Open(); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 10*time.Second, "leftovers settled", func() bool { return journalDone(t, j, id, placed) })
		_ = e2.Close(ctx)
		assertExactly(t, client, placed)
		return errors.Is(err, context.DeadlineExceeded)
	}
	t.Run("Graceful", func(t *testing.T) { run(t, "graceful", 5*time.Second) })
	t.Run("Deadline", func(t *testing.T) {
		if !run(t, "deadline", 20*time.Millisecond) {
			t.Log("Close finished inside 20ms (no order was in flight)")
		}
	})
}
