package sim_test

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/quantum-alpaca/quantum/sim"
)

// GET /v3/clock answers per market with the phase of the day and when it
// ends, as the TypeScript SDK's clock() reads it; /v3/calendar/{market}
// lists the sessions as full times.
func TestClockV3(t *testing.T) {
	srv, err := sim.New(sim.Config{AutoProvision: true, Session: sim.NYSE{}})
	if err != nil {
		t.Fatal(err)
	}
	h := srv.Handler()
	type clock struct {
		Market struct {
			Acronym, MIC, Timezone string
		}
		IsMarketDay     bool      `json:"is_market_day"`
		Phase           string    `json:"phase"`
		PhaseUntil      time.Time `json:"phase_until"`
		NextMarketOpen  time.Time `json:"next_market_open"`
		NextMarketClose time.Time `json:"next_market_close"`
		Timestamp       time.Time `json:"timestamp"`
	}
	get := func(at string, markets string) []clock {
		t.Helper()
		path := "/v3/clock?time=" + at
		if markets != "" {
			path += "&markets=" + markets
		}
		w := call(h, "GET", path, "")
		if w.Code != http.StatusOK {
			t.Fatalf("%s: %d %s", path, w.Code, w.Body)
		}
		var r struct{ Clocks []clock }
		if err := json.Unmarshal(w.Body.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		return r.Clocks
	}
	// Tuesday 2 January 2024, New York (UTC-5).
	for _, tc := range []struct {
		at, phase, until string
		marketDay        bool
	}{
		{"2024-01-02T08:00:00Z", "closed", "2024-01-02T09:00:00Z", true}, // 03:00
		{"2024-01-02T10:00:00Z", "pre", "2024-01-02T14:30:00Z", true},
		{"2024-01-02T15:00:00Z", "core", "2024-01-02T21:00:00Z", true},
		{"2024-01-02T22:00:00Z", "post", "2024-01-03T01:00:00Z", true},
		{"2024-01-03T02:00:00Z", "closed", "2024-01-03T09:00:00Z", true},  // 21:00 on the 2nd
		{"2024-01-06T15:00:00Z", "closed", "2024-01-08T09:00:00Z", false}, // Saturday
	} {
		c := get(tc.at, "")
		if len(c) != 1 || c[0].Market.Acronym != "NYSE" || c[0].Market.MIC != "XNYS" || c[0].Market.Timezone != "America/New_York" {
			t.Fatalf("%s: %+v", tc.at, c)
		}
		until, _ := time.Parse(time.RFC3339, tc.until)
		if c[0].Phase != tc.phase || !c[0].PhaseUntil.Equal(until) || c[0].IsMarketDay != tc.marketDay {
			t.Errorf("%s: phase %s until %s market day %v, want %s until %s %v", tc.at, c[0].Phase, c[0].PhaseUntil, c[0].IsMarketDay, tc.phase, until, tc.marketDay)
		}
		if !c[0].NextMarketOpen.After(c[0].Timestamp) || !c[0].NextMarketClose.After(c[0].Timestamp) {
			t.Errorf("%s: next open %s, next close %s", tc.at, c[0].NextMarketOpen, c[0].NextMarketClose)
		}
	}
	if c := get("2024-01-02T15:00:00Z", "NYSE,nasdaq"); len(c) != 2 || c[1].Market.Acronym != "NASDAQ" {
		t.Errorf("two markets: %+v", c)
	}
	if w := call(h, "GET", "/v3/clock?markets=LSE", ""); w.Code != http.StatusUnprocessableEntity {
		t.Errorf("unsupported market: %d", w.Code)
	}

	w := call(h, "GET", "/v3/calendar/NYSE?start=2024-07-03&end=2024-07-05&timezone=UTC", "")
	if w.Code != http.StatusOK {
		t.Fatalf("calendar: %d %s", w.Code, w.Body)
	}
	var cal struct {
		Market   struct{ Acronym string }
		Calendar []struct {
			Date      string    `json:"date"`
			CoreStart time.Time `json:"core_start"`
			CoreEnd   time.Time `json:"core_end"`
			PreStart  time.Time `json:"pre_start"`
			PostEnd   time.Time `json:"post_end"`
		}
	}
	if err := json.Unmarshal(w.Body.Bytes(), &cal); err != nil {
		t.Fatal(err)
	}
	// 3 July closes early, the 4th is a holiday, the 5th is a full day.
	if len(cal.Calendar) != 2 || cal.Calendar[0].Date != "2024-07-03" || cal.Calendar[1].Date != "2024-07-05" {
		t.Fatalf("calendar %+v", cal.Calendar)
	}
	if d := cal.Calendar[0]; d.CoreEnd.Format(time.RFC3339) != "2024-07-03T17:00:00Z" || d.CoreStart.Format(time.RFC3339) != "2024-07-03T13:30:00Z" || d.PreStart.Format(time.RFC3339) != "2024-07-03T08:00:00Z" {
		t.Errorf("early close day %+v", d)
	}
	if w := call(h, "GET", "/v3/calendar/LSE", ""); w.Code != http.StatusNotFound {
		t.Errorf("unknown market calendar: %d", w.Code)
	}
}
