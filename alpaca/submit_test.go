package alpaca_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
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
// exactly once (or not at all where the failure proves it was refused),
// and the answer falls in the class the failure proves: the order,
// ErrOrderRejected or ErrUnknownOutcome.
func TestSubmitOrder(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		script      []fault
		stored      bool  // the order exists at the broker before the call
		wantErr     error // nil: success
		wantClass   error // ErrOrderRejected or ErrUnknownOutcome, with wantErr
		wantStored  int
		wantPosts   int32
		wantLookups int32
		timeout     time.Duration // per attempt; default 5s
	}{
		{name: "OK", wantStored: 1, wantPosts: 1},
		// The reply is held back until the client gives up on it; the
		// per-attempt timeout only has to leave room for the look-up.
		{name: "TimeoutAfterStore", script: []fault{faultSlowAfter}, wantStored: 1, wantPosts: 1, wantLookups: 1, timeout: time.Second},
		{name: "500AfterStore", script: []fault{fault500After}, wantStored: 1, wantPosts: 1, wantLookups: 1},
		{name: "500BeforeStore", script: []fault{fault500Before}, wantStored: 1, wantPosts: 2, wantLookups: 1},
		{name: "DroppedBeforeStore", script: []fault{faultDropBefore}, wantStored: 1, wantPosts: 2, wantLookups: 1},
		{name: "DroppedAfterStore", script: []fault{faultDropAfter}, wantStored: 1, wantPosts: 1, wantLookups: 1},
		{name: "TruncatedReply", script: []fault{faultTruncatedAfter}, wantStored: 1, wantPosts: 1, wantLookups: 1},
		{name: "429ThenOK", script: []fault{fault429, fault429}, wantStored: 1, wantPosts: 3},
		// Not placed, but resending later may succeed: unknown.
		{name: "429Exhausted", script: []fault{fault429, fault429, fault429, fault429}, wantErr: alpaca.ErrRateLimited,
			wantClass: alpaca.ErrUnknownOutcome, wantPosts: 4},
		{name: "ErrInsufficientBuyingPower", script: []fault{faultBuyingPower}, wantErr: alpaca.ErrInsufficientBuyingPower,
			wantClass: alpaca.ErrOrderRejected, wantPosts: 1},
		{name: "500ThenRefused", script: []fault{fault500Before, faultBuyingPower}, wantErr: alpaca.ErrInsufficientBuyingPower,
			wantClass: alpaca.ErrOrderRejected, wantPosts: 2, wantLookups: 2},
		{name: "AlwaysFailing", script: []fault{fault500Before, fault500Before, fault500Before}, wantErr: alpaca.ErrServer,
			wantClass: alpaca.ErrUnknownOutcome, wantPosts: 3, wantLookups: 3},
		{name: "500AfterStoreTwiceViaDropThen500", script: []fault{faultDropBefore, fault500After}, wantStored: 1, wantPosts: 2, wantLookups: 2},
		// A 422 may hide a duplicate refusal: it is looked up before it is
		// called a refusal.
		{name: "422Invalid", script: []fault{faultInvalid}, wantErr: alpaca.ErrValidation,
			wantClass: alpaca.ErrOrderRejected, wantPosts: 1, wantLookups: 1},
		{name: "422OddlyWordedDuplicate", script: []fault{faultOddDuplicate}, stored: true, wantStored: 1, wantPosts: 1, wantLookups: 1},
		{name: "422DuplicateAdopted", stored: true, wantStored: 1, wantPosts: 1, wantLookups: 1},
		// The broker says the id is taken but cannot show the order: not
		// confirmed, so unknown once the rounds run out.
		{name: "422DuplicateNotFound", script: []fault{faultDuplicate, faultDuplicate, faultDuplicate}, wantErr: alpaca.ErrDuplicateClientOrderID,
			wantClass: alpaca.ErrUnknownOutcome, wantPosts: 3, wantLookups: 3},
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
			req := orderReq("cid-" + tt.name)
			if tt.stored {
				b.store(&req) // placed earlier, e.g. by a process that crashed
			}

			o, err := c.SubmitOrder(t.Context(), req)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("SubmitOrder: %v", err)
				}
				if o.ClientOrderID != "cid-"+tt.name || o.ID == "" {
					t.Fatalf("got order %+v", o)
				}
			} else {
				if !errors.Is(err, tt.wantErr) || !errors.Is(err, tt.wantClass) {
					t.Fatalf("got err %v, want %v and %v", err, tt.wantErr, tt.wantClass)
				}
				assertOneClass(t, err)
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
		// The broker holds an order under the id, just not this one: not a
		// refusal (the id is taken), so the outcome class is unknown.
		if !errors.Is(err, alpaca.ErrDuplicateClientOrderID) || !errors.Is(err, alpaca.ErrUnknownOutcome) {
			t.Fatalf("got %v, want ErrDuplicateClientOrderID within an unknown outcome", err)
		}
		assertOneClass(t, err)
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
	// The order is stored and its reply held back; the caller gives up.
	t.Run("CancelledInFlight", func(t *testing.T) {
		t.Parallel()
		b := newBroker(t, faultSlowAfter)
		b.stall = time.Hour // until the client goes away
		srv := httptest.NewServer(b)
		defer srv.Close()
		c := MustClient(t, srv)
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		done := make(chan error, 1)
		go func() { _, err := c.SubmitOrder(ctx, orderReq("cid-cancel")); done <- err }()
		await(t, b.storedIDs, "the order stored")
		cancel()
		err := await(t, done, "SubmitOrder after cancel")
		if !errors.Is(err, alpaca.ErrUnknownOutcome) || !errors.Is(err, context.Canceled) {
			t.Fatalf("got %v, want unknown outcome caused by the cancellation", err)
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
	// Nothing listens: the request never leaves, so nothing is placed,
	// but the same request may succeed once the broker is back. That is
	// not a refusal: unknown, with the transport failure kept.
	t.Run("ConnectionRefused", func(t *testing.T) {
		t.Parallel()
		srv := httptest.NewServer(newBroker(t))
		c := MustClient(t, srv, alpaca.WithRetry(1, time.Millisecond, time.Millisecond))
		srv.Close()
		_, err := c.SubmitOrder(t.Context(), orderReq("cid-refused"))
		var re *alpaca.RequestError
		if !errors.Is(err, alpaca.ErrUnknownOutcome) || !errors.As(err, &re) {
			t.Fatalf("got %v, want an unknown outcome caused by a *RequestError", err)
		}
		if re.Attempts != 2 {
			t.Errorf("attempts = %d, want 2 (a failed connect is safe to retry)", re.Attempts)
		}
	})
	// The credentials are refused before the order is looked at: nothing
	// is placed, but the same order goes through once they work.
	t.Run("Unauthorized", func(t *testing.T) {
		t.Parallel()
		b := newBroker(t)
		srv := httptest.NewServer(b)
		defer srv.Close()
		c := MustClient(t, srv, alpaca.WithCredentials(testKey, "not-the-secret"))
		_, err := c.SubmitOrder(t.Context(), orderReq("cid-401"))
		if !errors.Is(err, alpaca.ErrUnknownOutcome) || !errors.Is(err, alpaca.ErrUnauthorized) {
			t.Fatalf("got %v, want an unknown outcome caused by a 401", err)
		}
		assertOneClass(t, err)
		if b.posts.Load() != 0 || b.lookups.Load() != 0 {
			t.Errorf("posts=%d lookups=%d reached the order service, want none", b.posts.Load(), b.lookups.Load())
		}
	})
	// A 429 proves the order was not placed: if ctx ends during the wait
	// the server asked for, the caller gets its context's error.
	t.Run("CancelledWaitingOut429", func(t *testing.T) {
		t.Parallel()
		b := newBroker(t, fault429)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPost {
				b.posts.Add(1)
				w.Header().Set("Retry-After", "30")
				writeJSON(w, 429, map[string]any{"code": 42910000, "message": "rate limit exceeded"})
				return
			}
			b.ServeHTTP(w, r)
		}))
		defer srv.Close()
		events := newLogEvents("alpaca: retrying request")
		c := MustClient(t, srv, alpaca.WithLogger(slog.New(events)))
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		done := make(chan error, 1)
		go func() { _, err := c.SubmitOrder(ctx, orderReq("cid-429-cancel")); done <- err }()
		events.next(t) // waiting out the 30s the server asked for
		cancel()
		err := await(t, done, "SubmitOrder after cancel")
		if !errors.Is(err, context.Canceled) || errors.Is(err, alpaca.ErrUnknownOutcome) || errors.Is(err, alpaca.ErrOrderRejected) {
			t.Fatalf("got %v, want context.Canceled and no outcome class", err)
		}
		if !errors.Is(err, alpaca.ErrRateLimited) {
			t.Errorf("the 429 is not kept for the record: %v", err)
		}
		if b.posts.Load() != 1 || b.lookups.Load() != 0 {
			t.Errorf("posts=%d lookups=%d, want 1 and 0", b.posts.Load(), b.lookups.Load())
		}
	})
}

// assertOneClass checks that a SubmitOrder error falls in exactly one of
// the classes SubmitOrder documents.
func assertOneClass(tb testing.TB, err error) {
	tb.Helper()
	n := 0
	for _, class := range []error{alpaca.ErrOrderRejected, alpaca.ErrUnknownOutcome, context.Canceled, context.DeadlineExceeded} {
		if errors.Is(err, class) {
			n++
		}
	}
	if n != 1 {
		tb.Errorf("error %v is in %d classes, want exactly one", err, n)
	}
}
