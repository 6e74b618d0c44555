package alpaca_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quantum-alpaca/quantum/alpaca"
	"github.com/quantum-alpaca/quantum/alpaca/stream"
)

// revokingBroker issues access tokens tok-1, tok-2, ... and accepts only
// those from the current one on: revoke makes every token issued so far
// useless, as Alpaca revoking a firm's tokens does.
type revokingBroker struct {
	issued   atomic.Int32
	minValid atomic.Int32
	posts    atomic.Int32 // orders accepted
	refused  atomic.Int32 // requests refused for their token
	mu       sync.Mutex
	orders   map[string]bool
}

func (f *revokingBroker) revoke() { f.minValid.Store(f.issued.Load() + 1) }

func (f *revokingBroker) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == alpaca.TokenPath {
		n := f.issued.Add(1)
		writeJSON(w, 200, map[string]any{"access_token": fmt.Sprintf("tok-%d", n), "expires_in": 900, "token_type": "Bearer"})
		return
	}
	var n int32
	if _, err := fmt.Sscanf(r.Header.Get("Authorization"), "Bearer tok-%d", &n); err != nil || n < f.minValid.Load() {
		f.refused.Add(1)
		writeJSON(w, 401, map[string]any{"message": "unauthorized."})
		return
	}
	switch {
	case r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/orders"):
		var req alpaca.OrderRequest
		_ = json.NewDecoder(r.Body).Decode(&req)
		f.mu.Lock()
		dup := f.orders[req.ClientOrderID]
		f.orders[req.ClientOrderID] = true
		f.mu.Unlock()
		if dup {
			writeJSON(w, 422, map[string]any{"code": 40010001, "message": "client_order_id must be unique"})
			return
		}
		f.posts.Add(1)
		writeJSON(w, 200, map[string]any{"id": "o-" + req.ClientOrderID, "client_order_id": req.ClientOrderID,
			"symbol": req.Symbol, "side": req.Side, "qty": req.Qty, "status": "accepted"})
	case r.URL.Path == "/v2/events/trades":
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, `data: {"account_id":"acct-9","event":"new","event_id":"01JG0000000000000000000001","at":"2026-01-05T15:00:00Z","order":{"id":"o-1","client_order_id":"c-1","symbol":"AAPL"}}`+"\n\n")
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	default:
		writeJSON(w, 200, map[string]any{"id": "acct-9", "status": "ACTIVE", "cash": "100"})
	}
}

// A token the server stops accepting (revoked, or expired early) is
// replaced without the caller noticing: on REST calls, on an order (which
// the refusal proves was not placed, so it is sent again, once), and on
// the event stream.
func TestBrokerRefusedTokenReplaced(t *testing.T) {
	t.Parallel()
	f := &revokingBroker{orders: map[string]bool{}}
	srv := httptest.NewServer(f)
	defer srv.Close()
	b, err := alpaca.NewBroker(srv.URL, alpaca.WithClientCredentials(testClientID, testClientSecret),
		alpaca.WithRetry(0, time.Millisecond, time.Millisecond), alpaca.WithRateLimit(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	defer b.CloseIdleConnections()
	ctx := t.Context()
	acct := b.Account("acct-9")

	if _, err := acct.GetAccount(ctx); err != nil {
		t.Fatalf("GetAccount: %v", err)
	}
	f.revoke()
	o, err := acct.SubmitOrder(ctx, orderReq("cid-revoked"))
	if err != nil {
		t.Fatalf("SubmitOrder after revocation: %v", err)
	}
	if o.ClientOrderID != "cid-revoked" || f.posts.Load() != 1 {
		t.Fatalf("order %+v, %d accepted; want cid-revoked once", o, f.posts.Load())
	}
	if got, want := f.issued.Load(), int32(2); got != want {
		t.Fatalf("%d tokens issued, want %d", got, want)
	}

	f.revoke()
	es, err := stream.NewBrokerTradeEvents(b, stream.WithReconnectBackoff(time.Millisecond, time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- es.Run(sctx) }()
	select {
	case tu := <-es.Updates():
		if tu.AccountID != "acct-9" || tu.Order.ClientOrderID != "c-1" {
			t.Fatalf("update %+v", tu)
		}
	case err := <-done:
		t.Fatalf("stream ended: %v", err)
	case <-time.After(safetyNet):
		t.Fatal("no update")
	}
	cancel()
	<-done
	if f.refused.Load() != 2 {
		t.Fatalf("%d requests refused, want one order and one stream request", f.refused.Load())
	}
}
