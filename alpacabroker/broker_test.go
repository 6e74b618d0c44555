package alpacabroker_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/quantum-alpaca/quantum/alpaca"
	"github.com/quantum-alpaca/quantum/alpacabroker"
	"github.com/quantum-alpaca/quantum/internal/simtest"
	"github.com/quantum-alpaca/quantum/sim"
	"github.com/quantum-alpaca/quantum/trading"
)

var brokerKeys atomic.Int64

// mustBroker returns a Broker for a fresh account: the simulator
// provisions each new key.
func mustBroker(t *testing.T, url string) *alpacabroker.Broker {
	t.Helper()
	key := fmt.Sprintf("PKAB%d%d", time.Now().UnixNano(), brokerKeys.Add(1))
	b, err := alpacabroker.New(alpacabroker.Config{BaseURL: url, KeyID: key, SecretKey: "adapter-test-secret-0123456789"})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// streamUpdates runs b's trade-update stream until the test ends, and
// checks that it then ends with the cancellation.
func streamUpdates(t *testing.T, b *alpacabroker.Broker) <-chan trading.OrderUpdate {
	t.Helper()
	updates := make(chan trading.OrderUpdate, 16)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.StreamUpdates(ctx, updates) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("StreamUpdates returned %v, want context.Canceled", err)
		}
	})
	return updates
}

// awaitFill reads updates until the fill of the order with id.
func awaitFill(t *testing.T, updates <-chan trading.OrderUpdate, id string) trading.OrderUpdate {
	t.Helper()
	deadline := time.After(safetyNet)
	for {
		select {
		case u := <-updates:
			if u.Order.ClientOrderID == id && u.Event == "fill" {
				return u
			}
		case <-deadline:
			t.Fatalf("no fill update for %s within %v", id, safetyNet)
		}
	}
}

// safetyNet bounds waits for events that are due; it is not part of what
// the tests assert.
const safetyNet = 30 * time.Second

func buyIntent(id string, qty int64) trading.Intent {
	return trading.Intent{Tenant: "ab", Seq: 1, ClientOrderID: id, Symbol: "AAPL", Side: trading.Buy,
		Type: trading.Market, TimeInForce: trading.Day, Qty: decimal.NewFromInt(qty)}
}

// TestBroker drives the adapter against the simulator: submit, look up,
// stream, refusals and not-found map to the engine's errors. Each subtest
// trades on an account of its own, so that each runs alone.
func TestBroker(t *testing.T) {
	t.Parallel()
	srv := simtest.Start(t, sim.Config{Seed: 12})

	t.Run("SubmitAndLookup", func(t *testing.T) {
		b := mustBroker(t, srv.URL)
		in := buyIntent("ab-1", 3)
		bo, err := b.SubmitOrder(t.Context(), in)
		if err != nil {
			t.Fatal(err)
		}
		if bo.ClientOrderID != "ab-1" || bo.ID == "" || !bo.Status.Valid() {
			t.Fatalf("submit: %+v", bo)
		}
		got, err := b.LookupOrder(t.Context(), "ab-1")
		if err != nil || got.ID != bo.ID {
			t.Fatalf("lookup: %+v, %v", got, err)
		}
		// Same id again: the broker refuses the duplicate and the client
		// adopts the existing order; nothing is placed twice.
		again, err := b.SubmitOrder(t.Context(), in)
		if err != nil || again.ID != bo.ID {
			t.Fatalf("resubmit: %+v, %v; want the same order", again, err)
		}
	})
	t.Run("Stream", func(t *testing.T) {
		b := mustBroker(t, srv.URL)
		updates := streamUpdates(t, b)
		if _, err := b.SubmitOrder(t.Context(), buyIntent("ab-stream", 3)); err != nil {
			t.Fatal(err)
		}
		u := awaitFill(t, updates, "ab-stream")
		if !u.Order.FilledQty.Equal(decimal.NewFromInt(3)) || !u.Price.IsPositive() || u.ExecutionID == "" {
			t.Fatalf("fill update: %+v", u)
		}
	})
	t.Run("NotFound", func(t *testing.T) {
		b := mustBroker(t, srv.URL)
		if _, err := b.LookupOrder(t.Context(), "ab-999"); !errors.Is(err, trading.ErrOrderNotFound) {
			t.Fatalf("lookup of a missing order: %v, want ErrOrderNotFound", err)
		}
	})
	t.Run("Rejected", func(t *testing.T) {
		b := mustBroker(t, srv.URL)
		_, err := b.SubmitOrder(t.Context(), buyIntent("ab-huge", 10_000_000))
		if !errors.Is(err, trading.ErrRejected) || trading.ErrorCode(err) != trading.EREJECTED || trading.ErrorMessage(err) == "" {
			t.Fatalf("oversized order: %v, want ErrRejected with a reason", err)
		}
	})
	t.Run("Account", func(t *testing.T) {
		b := mustBroker(t, srv.URL)
		updates := streamUpdates(t, b)
		if _, err := b.SubmitOrder(t.Context(), buyIntent("ab-position", 3)); err != nil {
			t.Fatal(err)
		}
		awaitFill(t, updates, "ab-position")
		a, err := b.Account(t.Context())
		if err != nil || !a.Equity.IsPositive() {
			t.Fatalf("account: %+v, %v", a, err)
		}
		ps, err := b.Positions(t.Context())
		if err != nil || len(ps) != 1 || ps[0].Symbol != "AAPL" || !ps[0].Qty.Equal(decimal.NewFromInt(3)) {
			t.Fatalf("positions: %+v, %v", ps, err)
		}
		q, err := b.LatestQuote(t.Context(), "AAPL")
		if err != nil || !q.Mid().IsPositive() {
			t.Fatalf("quote: %+v, %v", q, err)
		}
		bars, err := b.RecentBars(t.Context(), "AAPL", 5)
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
	t.Run("CryptoData", func(t *testing.T) {
		// Crypto pairs read the crypto endpoints, stocks the stock ones, in
		// one call.
		b := mustBroker(t, srv.URL)
		qs, err := b.LatestQuotes(t.Context(), []string{"AAPL", "BTC/USD", "ETH/USD"})
		if err != nil || len(qs) != 3 {
			t.Fatalf("quotes: %+v, %v; want 3", qs, err)
		}
		q, err := b.LatestQuote(t.Context(), "BTC/USD")
		if err != nil || !q.Mid().IsPositive() || q.Ask.LessThan(q.Bid) {
			t.Fatalf("BTC/USD quote: %+v, %v", q, err)
		}
		if q.Mid().LessThan(qs["AAPL"].Mid()) {
			t.Errorf("BTC/USD mid %s below AAPL's %s: read from the stock endpoint?", q.Mid(), qs["AAPL"].Mid())
		}
		bars, err := b.RecentBars(t.Context(), "BTC/USD", 5)
		if err != nil || len(bars) != 5 {
			t.Fatalf("BTC/USD bars: %d, %v; want 5", len(bars), err)
		}
		for i := 1; i < len(bars); i++ {
			if !bars[i].Time.After(bars[i-1].Time) || !bars[i].Close.IsPositive() {
				t.Fatalf("bars not oldest first with prices: %+v", bars)
			}
		}
	})
}

// TestSubmitOutcomes checks that the adapter maps each of the client's
// answer classes to the engine's, and passes anything else through.
func TestSubmitOutcomes(t *testing.T) {
	t.Parallel()
	const key, secret = "PKOUTCOMES", "outcomes-test-secret-0123456789"
	srv := simtest.Start(t, sim.Config{Seed: 13, Credentials: []sim.Credential{{KeyID: key, Secret: secret}}})
	intent := func(id, symbol string) trading.Intent {
		return trading.Intent{Tenant: "out", Seq: 1, ClientOrderID: id, Symbol: symbol, Side: trading.Buy,
			Type: trading.Market, TimeInForce: trading.Day, Qty: decimal.NewFromInt(1)}
	}
	b, err := alpacabroker.New(alpacabroker.Config{BaseURL: srv.URL, KeyID: key, SecretKey: secret})
	if err != nil {
		t.Fatal(err)
	}

	// A 422 is a refusal once the client has looked the id up and found
	// nothing; the broker's reason reaches the engine.
	t.Run("RejectedInvalid", func(t *testing.T) {
		_, err := b.SubmitOrder(t.Context(), intent("out-invalid", "NOSUCHSYMBOL"))
		if !errors.Is(err, trading.ErrRejected) || errors.Is(err, trading.ErrUnknownOutcome) ||
			trading.ErrorCode(err) != trading.EREJECTED || !strings.Contains(trading.ErrorMessage(err), "NOSUCHSYMBOL") {
			t.Fatalf("got %v (message %q), want ErrRejected with the broker's reason", err, trading.ErrorMessage(err))
		}
	})
	// Refused credentials are not a refusal of the order: it may go
	// through once they work, so the engine must not journal it rejected.
	t.Run("UnauthorizedIsUnknown", func(t *testing.T) {
		stranger, err := alpacabroker.New(alpacabroker.Config{BaseURL: srv.URL, KeyID: "PKSTRANGER", SecretKey: secret,
			Options: []alpaca.Option{alpaca.WithRetry(0, 0, 0)}})
		if err != nil {
			t.Fatal(err)
		}
		_, err = stranger.SubmitOrder(t.Context(), intent("out-401", "AAPL"))
		if !errors.Is(err, trading.ErrUnknownOutcome) || errors.Is(err, trading.ErrRejected) {
			t.Fatalf("got %v, want ErrUnknownOutcome", err)
		}
	})
	// Nothing was sent: neither class, the context's error.
	t.Run("CancelledBeforeSend", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		_, err := b.SubmitOrder(ctx, intent("out-cancelled", "AAPL"))
		if !errors.Is(err, context.Canceled) || errors.Is(err, trading.ErrRejected) || errors.Is(err, trading.ErrUnknownOutcome) {
			t.Fatalf("got %v, want only context.Canceled", err)
		}
		if _, err := b.LookupOrder(t.Context(), "out-cancelled"); !errors.Is(err, trading.ErrOrderNotFound) {
			t.Errorf("look-up after a cancelled submit: %v, want ErrOrderNotFound", err)
		}
	})
}
