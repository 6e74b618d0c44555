package alpacabroker_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/quantum-alpaca/quantum/alpacabroker"
	"github.com/quantum-alpaca/quantum/sim"
	"github.com/quantum-alpaca/quantum/trading"
)

// A tenant holds two connections while it trades: one for REST (HTTP/2,
// however many calls run at once) and the trade-update stream's own. When
// REST goes quiet its connection closes and only the stream's remains,
// which is what keeps an idle tenant small.
func TestTenantConnections(t *testing.T) {
	s, err := sim.New(sim.Config{AutoProvision: true, Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	// open is how many connections are open now, maxOpen the most at once.
	var conns, closed, open, maxOpen atomic.Int32
	closings := make(chan struct{}, 16)
	hs := httptest.NewUnstartedServer(s.Handler())
	hs.Config.Protocols = new(http.Protocols)
	hs.Config.Protocols.SetHTTP1(true)
	hs.Config.Protocols.SetUnencryptedHTTP2(true)
	hs.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		switch st {
		case http.StateNew:
			conns.Add(1)
			n := open.Add(1)
			for m := maxOpen.Load(); n > m && !maxOpen.CompareAndSwap(m, n); m = maxOpen.Load() {
			}
		case http.StateClosed, http.StateHijacked:
			closed.Add(1)
			open.Add(-1)
			select {
			case closings <- struct{}{}:
			default:
			}
		}
	}
	hs.Start()
	t.Cleanup(func() { _ = s.Close(); hs.CloseClientConnections(); hs.Close() })

	b, err := alpacabroker.New(alpacabroker.Config{BaseURL: hs.URL, KeyID: "PKH2C", SecretKey: "h2c-test-secret-0123456789",
		UnencryptedHTTP2: true, IdleConnTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	// One REST call first: two requests racing on a fresh client may each
	// dial (the spare connection idles out); once one is up, all share it.
	if _, err := b.LookupOrder(context.Background(), "none"); !errors.Is(err, trading.ErrOrderNotFound) {
		t.Fatalf("look-up: %v", err)
	}
	updates := make(chan trading.OrderUpdate, 64)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.StreamUpdates(ctx, updates) }()
	defer func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("StreamUpdates = %v", err)
		}
	}()
	var wg sync.WaitGroup
	for i := 1; i <= 5; i++ {
		wg.Go(func() {
			in := trading.Intent{Tenant: "h2", Seq: uint64(i), ClientOrderID: trading.ClientOrderID("h2", uint64(i)), Symbol: "AAPL",
				Side: trading.Buy, Type: trading.Market, TimeInForce: trading.Day, Qty: decimal.NewFromInt(1)}
			if _, err := b.SubmitOrder(ctx, in); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	fills := map[string]bool{}
	deadline := time.After(10 * time.Second)
	for len(fills) < 5 {
		select {
		case u := <-updates:
			if u.Event == "fill" {
				fills[u.Order.ClientOrderID] = true
			}
		case <-deadline:
			t.Fatalf("%d of 5 fills over the stream", len(fills))
		}
	}
	// Five concurrent REST calls and the stream never needed more than two
	// connections at once. (The REST one may have idled out and been
	// dialed again on a slow machine; that is not what is checked here.)
	if n := maxOpen.Load(); n != 2 {
		t.Fatalf("%d connections open at once for concurrent REST calls and the stream, want 2", n)
	}
	select {
	case <-closings: // the idle REST connection timed out
	case <-time.After(10 * time.Second):
		t.Fatal("the idle REST connection stayed open")
	}
	// The stream is still up: one more order's fill arrives on it.
	in := trading.Intent{Tenant: "h2", Seq: 6, ClientOrderID: trading.ClientOrderID("h2", 6), Symbol: "AAPL",
		Side: trading.Buy, Type: trading.Market, TimeInForce: trading.Day, Qty: decimal.NewFromInt(1)}
	if _, err := b.SubmitOrder(ctx, in); err != nil {
		t.Fatal(err)
	}
	for {
		select {
		case u := <-updates:
			if u.Event == "fill" && u.Order.ClientOrderID == in.ClientOrderID {
				if n := maxOpen.Load(); n != 2 {
					t.Errorf("%d connections open at once, want 2 (the stream and one for REST)", n)
				}
				if open.Load() < 1 {
					t.Errorf("no connection open: the stream's was closed too")
				}
				return
			}
		case <-time.After(10 * time.Second):
			t.Fatal("no fill over the stream after the REST connection idled out")
		}
	}
}
