package sim_test

import (
	"fmt"
	"testing"
	"time"
)

// One account must stay fast however many orders it has placed: every
// lookup the hot path makes is by id, never a scan.
func TestManyOrdersOneAccount(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	h := newServer(t).Handler()
	const batches, per = 10, 5000
	var first time.Duration
	for b := 0; b < batches; b++ {
		start := time.Now()
		for i := 0; i < per; i++ {
			side := "buy"
			if i%2 == 1 {
				side = "sell"
			}
			w := call(h, "POST", "/v2/orders", fmt.Sprintf(`{"symbol":"AAPL","qty":"1","side":"%s","type":"market","time_in_force":"day","client_order_id":"m-%d-%d"}`, side, b, i))
			if w.Code != 200 {
				t.Fatalf("order %d/%d: %d %s", b, i, w.Code, w.Body)
			}
		}
		d := time.Since(start)
		t.Logf("batch %d: %v", b, d)
		if b == 0 {
			first = d
		} else if d > 5*first+time.Second {
			t.Fatalf("batch %d took %v, first took %v: per-order cost grows with history", b, d, first)
		}
	}
}
