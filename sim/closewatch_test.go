package sim_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/quantum-alpaca/quantum/sim"
)

// A closing order that fills only partly (Alpaca paper makes some fills
// partial) must go on meeting quotes until the position is closed, for
// DELETE /v2/positions/{symbol} and DELETE /v2/positions alike.
func TestClosingOrdersKeepFilling(t *testing.T) {
	s, err := sim.New(sim.Config{AutoProvision: true, Seed: 5, TickInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	defer s.Close()
	h := s.Handler()
	do := func(method, path, body string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, path, strings.NewReader(body))
		r.Header.Set("APCA-API-KEY-ID", "PKCLOSE")
		r.Header.Set("APCA-API-SECRET-KEY", "secret")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	positions := func() int {
		var ps []json.RawMessage
		if err := json.Unmarshal(do("GET", "/v2/positions", "").Body.Bytes(), &ps); err != nil {
			t.Fatal(err)
		}
		return len(ps)
	}
	// The waits are safety nets only: on a loaded machine fills take as
	// long as the ticker takes to be scheduled.
	const patience = 30 * time.Second
	waitPositions := func(what string, want int) {
		t.Helper()
		deadline := time.Now().Add(patience)
		for positions() != want {
			if time.Now().After(deadline) {
				t.Fatalf("%s: %d positions after %v, want %d; orders: %s", what, positions(), patience, want, do("GET", "/v2/orders?status=open", "").Body)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	for round := 0; round < 30; round++ {
		for _, sym := range []string{"AAPL", "MSFT"} {
			if w := do("POST", "/v2/orders", `{"symbol":"`+sym+`","qty":"10","side":"buy","type":"market","time_in_force":"day"}`); w.Code != http.StatusOK {
				t.Fatalf("buy: %d %s", w.Code, w.Body)
			}
		}
		waitPositions("buy", 2)
		// Wait for the buys to fill completely so the whole position is
		// available to close.
		deadline := time.Now().Add(patience)
		for open := do("GET", "/v2/orders?status=open", "").Body.String(); strings.TrimSpace(open) != "[]"; open = do("GET", "/v2/orders?status=open", "").Body.String() {
			if time.Now().After(deadline) {
				t.Fatalf("buys still open after %v: %s", patience, open)
			}
			time.Sleep(5 * time.Millisecond)
		}
		if w := do("DELETE", "/v2/positions/AAPL", ""); w.Code != http.StatusOK {
			t.Fatalf("close AAPL: %d %s", w.Code, w.Body)
		}
		waitPositions("close one", 1)
		if w := do("DELETE", "/v2/positions?cancel_orders=true", ""); w.Code != http.StatusMultiStatus {
			t.Fatalf("close all: %d %s", w.Code, w.Body)
		}
		waitPositions("close all", 0)
	}
}
