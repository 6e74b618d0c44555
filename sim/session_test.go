package sim_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/quantum-alpaca/quantum/alpaca"
	"github.com/quantum-alpaca/quantum/sim"
)

// With NYSE hours, the clock and calendar follow the exchange and a day
// order placed while the market is closed waits in "accepted".
func TestNYSEClosedMarket(t *testing.T) {
	ny, _ := time.LoadLocation("America/New_York")
	saturday := time.Date(2026, 11, 21, 12, 0, 0, 0, ny)
	s, err := sim.New(sim.Config{AutoProvision: true, Seed: 2, Session: sim.NYSE{}, Now: func() time.Time { return saturday }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	h := s.Handler()

	var clk alpaca.Clock
	if err := json.Unmarshal(call(h, "GET", "/v2/clock", "").Body.Bytes(), &clk); err != nil {
		t.Fatal(err)
	}
	if clk.IsOpen || !clk.NextOpen.Equal(time.Date(2026, 11, 23, 9, 30, 0, 0, ny)) || !clk.NextClose.Equal(time.Date(2026, 11, 23, 16, 0, 0, 0, ny)) {
		t.Fatalf("clock = %+v", clk)
	}
	var days []alpaca.CalendarDay
	if err := json.Unmarshal(call(h, "GET", "/v2/calendar?start=2026-11-23&end=2026-11-29", "").Body.Bytes(), &days); err != nil {
		t.Fatal(err)
	}
	// Thanksgiving week: Thursday closed, Friday closes at 13:00.
	if len(days) != 4 || days[3].Date != "2026-11-27" || days[3].Close != "13:00" {
		t.Fatalf("calendar = %+v", days)
	}
	w := call(h, "POST", "/v2/orders", `{"symbol":"AAPL","qty":"1","side":"buy","type":"market","time_in_force":"day"}`)
	var o alpaca.Order
	if err := json.Unmarshal(w.Body.Bytes(), &o); err != nil || w.Code != 200 {
		t.Fatalf("order: %d %s", w.Code, w.Body)
	}
	if o.Status != alpaca.StatusAccepted || !o.FilledQty.IsZero() {
		t.Fatalf("order placed while closed: status %s filled %s", o.Status, o.FilledQty)
	}
}
