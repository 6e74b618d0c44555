package sim_test

import (
	"encoding/json"
	"errors"
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

// In the always-open market the clock reads as an open session that
// closes at the coming New York midnight (when day orders expire) and is
// open again at once, and the calendar's times parse (issue 9, item 7):
// next_open is never after the request's time and next_close is always
// strictly after next_open, on both clocks.
func TestAlwaysOpenClock(t *testing.T) {
	ny, _ := time.LoadLocation("America/New_York")
	for _, tc := range []struct {
		name      string
		now       time.Time
		nextClose time.Time
	}{
		{"Noon", time.Date(2026, 11, 21, 12, 0, 0, 0, ny), time.Date(2026, 11, 22, 0, 0, 0, 0, ny)},
		{"Midnight", time.Date(2026, 11, 22, 0, 0, 0, 0, ny), time.Date(2026, 11, 23, 0, 0, 0, 0, ny)},
		{"LastSecond", time.Date(2026, 11, 22, 23, 59, 59, 0, ny), time.Date(2026, 11, 23, 0, 0, 0, 0, ny)},
		{"SpringForward", time.Date(2026, 3, 8, 1, 30, 0, 0, ny), time.Date(2026, 3, 9, 0, 0, 0, 0, ny)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := sim.New(sim.Config{AutoProvision: true, Now: func() time.Time { return tc.now }})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			h := s.Handler()

			var clk alpaca.Clock
			if err := json.Unmarshal(call(h, "GET", "/v2/clock", "").Body.Bytes(), &clk); err != nil {
				t.Fatal(err)
			}
			if !clk.IsOpen || !clk.NextOpen.Equal(tc.now) || !clk.NextClose.Equal(tc.nextClose) || !clk.NextClose.After(clk.NextOpen) {
				t.Errorf("v2 clock = %+v, want open, next_open %s, next_close %s", clk, tc.now, tc.nextClose)
			}

			var v3 struct {
				Clocks []struct {
					IsMarketDay     bool      `json:"is_market_day"`
					Phase           string    `json:"phase"`
					PhaseUntil      time.Time `json:"phase_until"`
					NextMarketOpen  time.Time `json:"next_market_open"`
					NextMarketClose time.Time `json:"next_market_close"`
				}
			}
			if err := json.Unmarshal(call(h, "GET", "/v3/clock", "").Body.Bytes(), &v3); err != nil || len(v3.Clocks) != 1 {
				t.Fatalf("v3 clock: %v %+v", err, v3)
			}
			if c := v3.Clocks[0]; !c.IsMarketDay || c.Phase != "core" || !c.PhaseUntil.Equal(tc.nextClose) ||
				!c.NextMarketOpen.Equal(tc.now) || !c.NextMarketClose.Equal(tc.nextClose) {
				t.Errorf("v3 clock = %+v, want core until %s, next open %s", c, tc.nextClose, tc.now)
			}

			var days []alpaca.CalendarDay
			day := tc.now.Format("2006-01-02")
			if err := json.Unmarshal(call(h, "GET", "/v2/calendar?start="+day+"&end="+day, "").Body.Bytes(), &days); err != nil || len(days) != 1 {
				t.Fatalf("calendar: %v %+v", err, days)
			}
			d := days[0]
			open, err1 := time.Parse("15:04", d.Open)
			closing, err2 := time.Parse("15:04", d.Close)
			_, err3 := time.Parse("1504", d.SessionOpen)
			_, err4 := time.Parse("1504", d.SessionClose)
			if err := errors.Join(err1, err2, err3, err4); err != nil || d.Date != day || d.Open != "00:00" || d.Close != "23:59" || !closing.After(open) {
				t.Errorf("calendar day %+v: %v", d, err)
			}
		})
	}
}
