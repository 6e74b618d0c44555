package alpaca_test

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/quantum-alpaca/quantum/alpaca"
	"github.com/quantum-alpaca/quantum/sim"
)

// TestSubmitOrderClassesAgainstSim checks each of SubmitOrder's answers
// against the project's broker simulator over real TCP: the order, a
// refusal (ErrOrderRejected), an unknown outcome (ErrUnknownOutcome) and
// the context's error. Where the class claims the broker holds nothing,
// the broker is asked.
func TestSubmitOrderClassesAgainstSim(t *testing.T) {
	t.Parallel()
	var lookups atomic.Int32
	c, _ := MustSim(t, sim.Config{}, alpaca.WithObserver(func(ri alpaca.RequestInfo) {
		if ri.Route == "/v2/orders:by_client_order_id" {
			lookups.Add(1)
		}
	}))
	one := decimal.NewFromInt(1)
	order := func(id string) alpaca.OrderRequest {
		return alpaca.OrderRequest{Symbol: "AAPL", Qty: &one, Side: alpaca.Buy, Type: alpaca.Market,
			TimeInForce: alpaca.Day, ClientOrderID: id}
	}
	// notHeld checks that the broker holds no order with id.
	notHeld := func(t *testing.T, id string) {
		t.Helper()
		if o, err := c.GetOrderByClientOrderID(t.Context(), id); !errors.Is(err, alpaca.ErrNotFound) {
			t.Errorf("broker holds %+v (%v) after the answer said it does not", o, err)
		}
	}

	t.Run("Placed", func(t *testing.T) {
		o, err := c.SubmitOrder(t.Context(), order("class-placed"))
		if err != nil || o.ClientOrderID != "class-placed" || o.ID == "" {
			t.Fatalf("got %+v, %v", o, err)
		}
	})
	// The same request again, as after a crash between sending and
	// journaling the reply: the broker refuses the duplicate id and the
	// client adopts the order it holds.
	t.Run("DuplicateAdopted", func(t *testing.T) {
		first, err := c.SubmitOrder(t.Context(), order("class-dup"))
		if err != nil {
			t.Fatal(err)
		}
		again, err := c.SubmitOrder(t.Context(), order("class-dup"))
		if err != nil || again.ID != first.ID {
			t.Fatalf("resubmit: %+v, %v; want order %s", again, err, first.ID)
		}
	})
	t.Run("RejectedBuyingPower", func(t *testing.T) {
		req := order("class-huge")
		huge := decimal.NewFromInt(1_000_000)
		req.Qty = &huge
		_, err := c.SubmitOrder(t.Context(), req)
		var re *alpaca.OrderRejectedError
		if !errors.As(err, &re) || !errors.Is(err, alpaca.ErrOrderRejected) || !errors.Is(err, alpaca.ErrInsufficientBuyingPower) {
			t.Fatalf("got %v, want ErrOrderRejected for buying power", err)
		}
		if re.ClientOrderID != "class-huge" || re.Err.StatusCode != http.StatusForbidden || re.Err.Message == "" {
			t.Errorf("rejection %+v does not carry the broker's reply", re.Err)
		}
		assertOneClass(t, err)
		notHeld(t, "class-huge")
	})
	// A 422 is looked up before it is called a refusal: it may be a
	// duplicate refusal in other words.
	t.Run("RejectedInvalid", func(t *testing.T) {
		req := order("class-invalid")
		req.Symbol = "NOSUCHSYMBOL"
		before := lookups.Load()
		_, err := c.SubmitOrder(t.Context(), req)
		if !errors.Is(err, alpaca.ErrOrderRejected) || !errors.Is(err, alpaca.ErrValidation) {
			t.Fatalf("got %v, want ErrOrderRejected for validation", err)
		}
		assertOneClass(t, err)
		if n := lookups.Load() - before; n != 1 {
			t.Errorf("%d look-ups before the 422 was called a refusal, want 1", n)
		}
		notHeld(t, "class-invalid")
	})
	// The id is taken by a different order: not a refusal of this one
	// (the broker does hold an order under the id), so unknown.
	t.Run("IDReusedByOtherOrder", func(t *testing.T) {
		if _, err := c.SubmitOrder(t.Context(), order("class-reused")); err != nil {
			t.Fatal(err)
		}
		other := order("class-reused")
		other.Side = alpaca.Sell
		_, err := c.SubmitOrder(t.Context(), other)
		if !errors.Is(err, alpaca.ErrUnknownOutcome) || !errors.Is(err, alpaca.ErrDuplicateClientOrderID) {
			t.Fatalf("got %v, want an unknown outcome matching ErrDuplicateClientOrderID", err)
		}
		assertOneClass(t, err)
	})
	// No credentials: the gateway refuses before the order is looked at.
	// Nothing is placed, but the same order goes through once the
	// credentials work, so it is not a refusal.
	t.Run("Unauthorized", func(t *testing.T) {
		anon, err := alpaca.New(c.BaseURL(), alpaca.WithRetry(0, 0, 0))
		if err != nil {
			t.Fatal(err)
		}
		_, err = anon.SubmitOrder(t.Context(), order("class-401"))
		if !errors.Is(err, alpaca.ErrUnknownOutcome) || !errors.Is(err, alpaca.ErrUnauthorized) {
			t.Fatalf("got %v, want an unknown outcome caused by a 401", err)
		}
		assertOneClass(t, err)
		notHeld(t, "class-401")
	})
	t.Run("CancelledBeforeSend", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		_, err := c.SubmitOrder(ctx, order("class-cancelled"))
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("got %v, want context.Canceled", err)
		}
		assertOneClass(t, err)
		notHeld(t, "class-cancelled")
	})
}
