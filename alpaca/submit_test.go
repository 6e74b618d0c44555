package alpaca_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/quantum-alpaca/quantum/alpaca"
)

func orderReq(id string) alpaca.OrderRequest {
	qty, px := decimal.NewFromInt(10), decimal.RequireFromString("180.50")
	return alpaca.OrderRequest{Symbol: "AAPL", Qty: &qty, Side: alpaca.Buy, Type: alpaca.Limit,
		TimeInForce: alpaca.Day, LimitPrice: &px, ClientOrderID: id}
}

// TestSubmitOrder drives SubmitOrder through every failure the broker can
// produce and checks the invariant: the broker ends up holding the order
// exactly once (or not at all where the failure proves it was refused).
func TestSubmitOrder(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		script      []fault
		wantErr     error // nil: success
		wantStored  int
		wantPosts   int32
		wantLookups int32
		timeout     time.Duration // per attempt; default 5s
	}{
		{name: "OK", wantStored: 1, wantPosts: 1},
		{name: "TimeoutAfterStore", script: []fault{faultSlowAfter}, wantStored: 1, wantPosts: 1, wantLookups: 1, timeout: 300 * time.Millisecond},
		{name: "500AfterStore", script: []fault{fault500After}, wantStored: 1, wantPosts: 1, wantLookups: 1},
		{name: "500BeforeStore", script: []fault{fault500Before}, wantStored: 1, wantPosts: 2, wantLookups: 1},
		{name: "DroppedBeforeStore", script: []fault{faultDropBefore}, wantStored: 1, wantPosts: 2, wantLookups: 1},
		{name: "DroppedAfterStore", script: []fault{faultDropAfter}, wantStored: 1, wantPosts: 1, wantLookups: 1},
		{name: "TruncatedReply", script: []fault{faultTruncatedAfter}, wantStored: 1, wantPosts: 1, wantLookups: 1},
		{name: "429ThenOK", script: []fault{fault429, fault429}, wantStored: 1, wantPosts: 3},
		{name: "429Exhausted", script: []fault{fault429, fault429, fault429, fault429}, wantErr: alpaca.ErrRateLimited, wantPosts: 4},
		{name: "ErrInsufficientBuyingPower", script: []fault{faultBuyingPower}, wantErr: alpaca.ErrInsufficientBuyingPower, wantPosts: 1},
		{name: "500ThenRefused", script: []fault{fault500Before, faultBuyingPower}, wantErr: alpaca.ErrInsufficientBuyingPower, wantPosts: 2, wantLookups: 2},
		{name: "AlwaysFailing", script: []fault{fault500Before, fault500Before, fault500Before}, wantErr: alpaca.ErrUnknownOutcome, wantPosts: 3, wantLookups: 3},
		{name: "500AfterStoreTwiceViaDropThen500", script: []fault{faultDropBefore, fault500After}, wantStored: 1, wantPosts: 2, wantLookups: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := newBroker(t, tt.script...)
			b.stall = 10 * time.Second // the handler returns when the client gives up
			srv := httptest.NewServer(b)
			defer srv.Close()
			timeout := 5 * time.Second
			if tt.timeout != 0 {
				timeout = tt.timeout
			}
			c := MustClient(t, srv, alpaca.WithTimeout(timeout))

			o, err := c.SubmitOrder(t.Context(), orderReq("cid-"+tt.name))
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("SubmitOrder: %v", err)
				}
				if o.ClientOrderID != "cid-"+tt.name || o.ID == "" {
					t.Fatalf("got order %+v", o)
				}
			} else if !errors.Is(err, tt.wantErr) {
				t.Fatalf("got err %v, want %v", err, tt.wantErr)
			}
			if got := b.stored(); got != tt.wantStored {
				t.Errorf("stored %d orders, want %d", got, tt.wantStored)
			}
			if got := b.posts.Load(); got != tt.wantPosts {
				t.Errorf("POSTs = %d, want %d", got, tt.wantPosts)
			}
			if got := b.lookups.Load(); got != tt.wantLookups {
				t.Errorf("look-ups = %d, want %d", got, tt.wantLookups)
			}
			b.mu.Lock()
			for i, body := range b.bodies {
				if body != b.bodies[0] {
					t.Errorf("body %d differs from the first: %s vs %s", i, body, b.bodies[0])
				}
			}
			b.mu.Unlock()
		})
	}
}

func TestSubmitOrderErrMissingClientOrderID(t *testing.T) {
	t.Parallel()
	b := newBroker(t)
	srv := httptest.NewServer(b)
	defer srv.Close()
	c := MustClient(t, srv)
	_, err := c.SubmitOrder(t.Context(), orderReq(""))
	if !errors.Is(err, alpaca.ErrMissingClientOrderID) {
		t.Fatalf("got %v, want ErrMissingClientOrderID", err)
	}
	if b.posts.Load() != 0 {
		t.Fatal("sent a request without a client_order_id")
	}
}

func TestSubmitOrderDuplicate(t *testing.T) {
	t.Parallel()
	t.Run("AdoptsMatchingOrder", func(t *testing.T) {
		t.Parallel()
		b := newBroker(t)
		srv := httptest.NewServer(b)
		defer srv.Close()
		c := MustClient(t, srv)
		req := orderReq("cid-dup")
		b.store(&req) // placed earlier, e.g. by a process that crashed
		o, err := c.SubmitOrder(t.Context(), req)
		if err != nil {
			t.Fatalf("SubmitOrder: %v", err)
		}
		if o.ID != "ord-cid-dup" {
			t.Fatalf("adopted %q, want ord-cid-dup", o.ID)
		}
		if b.stored() != 1 || b.posts.Load() != 1 || b.lookups.Load() != 1 {
			t.Fatalf("stored=%d posts=%d lookups=%d", b.stored(), b.posts.Load(), b.lookups.Load())
		}
	})
	t.Run("ErrDuplicateClientOrderID", func(t *testing.T) {
		t.Parallel()
		b := newBroker(t)
		srv := httptest.NewServer(b)
		defer srv.Close()
		c := MustClient(t, srv)
		other := orderReq("cid-reused")
		other.Side = alpaca.Sell
		b.store(&other)
		_, err := c.SubmitOrder(t.Context(), orderReq("cid-reused"))
		if !errors.Is(err, alpaca.ErrDuplicateClientOrderID) {
			t.Fatalf("got %v, want ErrDuplicateClientOrderID", err)
		}
	})
}

func TestSubmitOrderUnknownOutcome(t *testing.T) {
	t.Parallel()
	t.Run("LookupFails", func(t *testing.T) {
		t.Parallel()
		b := newBroker(t, fault500After)
		b.lookupStatus = 503
		srv := httptest.NewServer(b)
		defer srv.Close()
		c := MustClient(t, srv)
		_, err := c.SubmitOrder(t.Context(), orderReq("cid-lookup-fails"))
		var ue *alpaca.UnknownOutcomeError
		if !errors.As(err, &ue) || ue.ClientOrderID != "cid-lookup-fails" {
			t.Fatalf("got %v, want *UnknownOutcomeError", err)
		}
		if !errors.Is(err, alpaca.ErrServer) {
			t.Errorf("cause not kept: %v", err)
		}
		if got := b.lookups.Load(); got != 4 { // look-ups are retried
			t.Errorf("look-ups = %d, want 4", got)
		}
	})
	t.Run("CancelledInFlight", func(t *testing.T) {
		t.Parallel()
		b := newBroker(t, faultSlowAfter)
		b.stall = 5 * time.Second
		srv := httptest.NewServer(b)
		defer srv.Close()
		c := MustClient(t, srv)
		ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := c.SubmitOrder(ctx, orderReq("cid-cancel"))
		if !errors.Is(err, alpaca.ErrUnknownOutcome) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("got %v, want unknown outcome caused by the deadline", err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("took %v after cancel", d)
		}
	})
	t.Run("CancelledBeforeSend", func(t *testing.T) {
		t.Parallel()
		b := newBroker(t)
		srv := httptest.NewServer(b)
		defer srv.Close()
		c := MustClient(t, srv)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		_, err := c.SubmitOrder(ctx, orderReq("cid-precancel"))
		if !errors.Is(err, context.Canceled) || errors.Is(err, alpaca.ErrUnknownOutcome) {
			t.Fatalf("got %v, want plain context.Canceled", err)
		}
		if b.posts.Load() != 0 {
			t.Fatal("request was sent")
		}
	})
	t.Run("ConnectionRefused", func(t *testing.T) {
		t.Parallel()
		srv := httptest.NewServer(newBroker(t))
		c := MustClient(t, srv, alpaca.WithRetry(1, time.Millisecond, time.Millisecond))
		srv.Close() // nothing listens now: the request never leaves
		_, err := c.SubmitOrder(t.Context(), orderReq("cid-refused"))
		var re *alpaca.RequestError
		if err == nil || errors.Is(err, alpaca.ErrUnknownOutcome) || !errors.As(err, &re) {
			t.Fatalf("got %v, want a plain *RequestError", err)
		}
		if re.Attempts != 2 {
			t.Errorf("attempts = %d, want 2 (a failed connect is safe to retry)", re.Attempts)
		}
	})
}
