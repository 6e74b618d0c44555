package sim_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
)

// placeAlternating places the i-th of a run of one-share AAPL market
// orders, buys and sells in turn so that the position stays flat, and
// returns the response body.
func placeAlternating(tb testing.TB, h http.Handler, i int, clientID string) []byte {
	tb.Helper()
	side := "buy"
	if i%2 == 1 {
		side = "sell"
	}
	w := call(h, "POST", "/v2/orders", fmt.Sprintf(`{"symbol":"AAPL","qty":"1","side":"%s","type":"market","time_in_force":"day","client_order_id":"%s"}`, side, clientID))
	if w.Code != http.StatusOK {
		tb.Fatalf("order %d: %d %s", i, w.Code, w.Body)
	}
	return w.Body.Bytes()
}

// One account keeps working however many orders it has placed: after
// 50,000 orders the first is still found by id and by client order id,
// and its client order id is still taken. (That the cost of an order
// does not grow with the history is measured by
// BenchmarkOrderAfterHistory, not asserted here: a test must not depend
// on the machine's speed.)
func TestManyOrdersOneAccount(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	h := newServer(t).Handler()
	const n = 50000
	var o struct {
		ID            string `json:"id"`
		ClientOrderID string `json:"client_order_id"`
	}
	if err := json.Unmarshal(placeAlternating(t, h, 0, "m-0"), &o); err != nil || o.ID == "" {
		t.Fatalf("first order: %v %+v", err, o)
	}
	firstID := o.ID
	for i := 1; i < n; i++ {
		placeAlternating(t, h, i, fmt.Sprintf("m-%d", i))
	}
	for _, path := range []string{"/v2/orders/" + firstID, "/v2/orders:by_client_order_id?client_order_id=m-0"} {
		w := call(h, "GET", path, "")
		if err := json.Unmarshal(w.Body.Bytes(), &o); err != nil || w.Code != http.StatusOK || o.ID != firstID || o.ClientOrderID != "m-0" {
			t.Fatalf("GET %s: %d %s", path, w.Code, w.Body)
		}
	}
	w := call(h, "POST", "/v2/orders", `{"symbol":"AAPL","qty":"1","side":"buy","type":"market","time_in_force":"day","client_order_id":"m-0"}`)
	if w.Code != http.StatusUnprocessableEntity {
		t.Fatalf("reused client order id: %d %s", w.Code, w.Body)
	}
	w = call(h, "GET", "/v2/orders?status=all&limit=500", "")
	var page []json.RawMessage
	if err := json.Unmarshal(w.Body.Bytes(), &page); err != nil || len(page) != 500 {
		t.Fatalf("order list: %v, %d orders", err, len(page))
	}
}

// BenchmarkOrderAfterHistory measures a market order on an account with
// no history and on one with 50,000 orders behind it. Every lookup the
// hot path makes is by id, never a scan, so the two should cost about the
// same:
//
//	go test -run '^$' -bench OrderAfterHistory ./sim/
func BenchmarkOrderAfterHistory(b *testing.B) {
	for _, history := range []int{0, 50000} {
		b.Run(fmt.Sprintf("history=%d", history), func(b *testing.B) {
			h := newServer(b).Handler()
			for i := range history {
				placeAlternating(b, h, i, fmt.Sprintf("h-%d", i))
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				placeAlternating(b, h, history+i, fmt.Sprintf("b-%d", i))
			}
		})
	}
}
