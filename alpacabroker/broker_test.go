package alpacabroker_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/quantum-alpaca/quantum/alpacabroker"
	"github.com/quantum-alpaca/quantum/internal/simtest"
	"github.com/quantum-alpaca/quantum/sim"
	"github.com/quantum-alpaca/quantum/trading"
)

func mustBroker(t *testing.T, url string) *alpacabroker.Broker {
	t.Helper()
	b, err := alpacabroker.New(alpacabroker.Config{BaseURL: url, KeyID: fmt.Sprintf("PKAB%d", time.Now().UnixNano()), SecretKey: "adapter-test-secret-0123456789"})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestBroker drives the adapter against the simulator: submit, look up,
// stream, refusals and not-found map to the engine's errors.
func TestBroker(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := simtest.Start(t, sim.Config{Seed: 12})
	b := mustBroker(t, srv.URL)

	updates := make(chan trading.OrderUpdate, 16)
	sctx, cancel := context.WithCancel(ctx)
	streamDone := make(chan error, 1)
	go func() { streamDone <- b.StreamUpdates(sctx, updates) }()
	defer func() {
		cancel()
		if err := <-streamDone; !errors.Is(err, context.Canceled) {
			t.Errorf("StreamUpdates returned %v, want context.Canceled", err)
		}
	}()

	in := trading.Intent{Tenant: "ab", Seq: 1, ClientOrderID: "ab-1", Symbol: "AAPL", Side: trading.Buy,
		Type: trading.Market, TimeInForce: trading.Day, Qty: decimal.NewFromInt(3)}
	t.Run("SubmitAndLookup", func(t *testing.T) {
		bo, err := b.SubmitOrder(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		if bo.ClientOrderID != "ab-1" || bo.ID == "" || !bo.Status.Valid() {
			t.Fatalf("submit: %+v", bo)
		}
		got, err := b.LookupOrder(ctx, "ab-1")
		if err != nil || got.ID != bo.ID {
			t.Fatalf("lookup: %+v, %v", got, err)
		}
		// Same id again: the broker refuses the duplicate and the client
		// adopts the existing order; nothing is placed twice.
		again, err := b.SubmitOrder(ctx, in)
		if err != nil || again.ID != bo.ID {
			t.Fatalf("resubmit: %+v, %v; want the same order", again, err)
		}
	})
	t.Run("Stream", func(t *testing.T) {
		deadline := time.After(10 * time.Second)
		for {
			select {
			case u := <-updates:
				if u.Order.ClientOrderID == "ab-1" && u.Event == "fill" {
					if !u.Order.FilledQty.Equal(decimal.NewFromInt(3)) || !u.Price.IsPositive() || u.ExecutionID == "" {
						t.Fatalf("fill update: %+v", u)
					}
					return
				}
			case <-deadline:
				t.Fatal("no fill update")
			}
		}
	})
	t.Run("NotFound", func(t *testing.T) {
		if _, err := b.LookupOrder(ctx, "ab-999"); !errors.Is(err, trading.ErrOrderNotFound) {
			t.Fatalf("lookup of a missing order: %v, want ErrOrderNotFound", err)
		}
	})
	t.Run("Rejected", func(t *testing.T) {
		huge := in
		huge.Seq, huge.ClientOrderID, huge.Qty = 2, "ab-2", decimal.NewFromInt(10_000_000)
		_, err := b.SubmitOrder(ctx, huge)
		if !errors.Is(err, trading.ErrRejected) || trading.ErrorCode(err) != trading.EREJECTED || trading.ErrorMessage(err) == "" {
			t.Fatalf("oversized order: %v, want ErrRejected with a reason", err)
		}
	})
	t.Run("Account", func(t *testing.T) {
		a, err := b.Account(ctx)
		if err != nil || !a.Equity.IsPositive() {
			t.Fatalf("account: %+v, %v", a, err)
		}
		ps, err := b.Positions(ctx)
		if err != nil || len(ps) != 1 || ps[0].Symbol != "AAPL" || !ps[0].Qty.Equal(decimal.NewFromInt(3)) {
			t.Fatalf("positions: %+v, %v", ps, err)
		}
		q, err := b.LatestQuote(ctx, "AAPL")
		if err != nil || !q.Mid().IsPositive() {
			t.Fatalf("quote: %+v, %v", q, err)
		}
		bars, err := b.RecentBars(ctx, "AAPL", 5)
		if err != nil || len(bars) != 5 {
			t.Fatalf("bars: %d, %v; want 5", len(bars), err)
		}
		for i := 1; i < len(bars); i++ {
			if !bars[i].Time.After(bars[i-1].Time) || !bars[i].Close.IsPositive() {
				t.Fatalf("bars not oldest first with prices: %+v", bars)
			}
		}
		if age := time.Since(bars[4].Time); age > 10*time.Minute {
			t.Fatalf("newest bar is %v old, want recent", age)
		}
	})
}
