package sim

import (
	"testing"
	"time"

	"github.com/quantum-alpaca/quantum/sim/match"
)

// An account's equity samples stay bounded however long it trades: a
// day's worth at minute resolution, then one per 15 minutes for a month,
// and lookups at the coarse tier's step ends stay exact.
func TestEquityHistoryRetention(t *testing.T) {
	t0 := time.Date(2024, 1, 1, 0, 0, 30, 0, time.UTC) // opened mid-minute
	value := func(i int) match.Money { return match.Money(10_000_000 + i) }
	minute := func(i int) time.Time { return t0.Truncate(time.Minute).Add(time.Duration(i) * time.Minute) }

	t.Run("Busy", func(t *testing.T) {
		var h equityHistory
		h.record(t0, value(0))
		const days = 40
		for i := 1; i <= days*1440; i++ {
			h.record(minute(i), value(i))
		}
		now := minute(days * 1440)
		if len(h.recent) != maxRecent || len(h.older) > int(olderSpan/olderStep)+2 {
			t.Fatalf("kept %d recent and %d older samples", len(h.recent), len(h.older))
		}
		if edge := now.Add(-olderSpan).UnixNano(); h.older[0].at > edge || h.older[1].at <= edge {
			t.Errorf("oldest coarse samples at %s and %s, want the last one before %s", time.Unix(0, h.older[0].at), time.Unix(0, h.older[1].at), time.Unix(0, edge))
		}
		for _, back := range []int{0, 1, 1439} { // minute resolution
			if got, ok := h.at(minute(days*1440 - back).UnixNano()); !ok || got != value(days*1440-back) {
				t.Errorf("%d minutes back: %v %v", back, got, ok)
			}
		}
		for _, back := range []int{1440 + 15, 10 * 1440, 30 * 1440} { // every 15 minutes, exact at their ends
			at := minute(days*1440 - back)
			if got, ok := h.at(at.UnixNano()); !ok || got != value(days*1440-back) {
				t.Errorf("%s: %v %v, want %v", at, got, ok, value(days*1440-back))
			}
			if got, _ := h.at(at.Add(7 * time.Minute).UnixNano()); got != value(days*1440-back) {
				t.Errorf("inside the step after %s: %v, want the step's start value", at, got)
			}
		}
		if _, ok := h.at(minute(2 * 1440).UnixNano()); ok {
			t.Errorf("a month and more back is still answered")
		}
	})
	t.Run("Idle", func(t *testing.T) {
		var h equityHistory
		h.record(t0, value(0))
		for i := 1; i <= 40*1440; i++ {
			h.record(minute(i), value(0))
		}
		if len(h.recent)+len(h.older) != 1 {
			t.Fatalf("an account whose equity stood still kept %d samples", len(h.recent)+len(h.older))
		}
		if got, ok := h.at(minute(40 * 1440).UnixNano()); !ok || got != value(0) {
			t.Errorf("now: %v %v", got, ok)
		}
		if _, ok := h.at(t0.Add(-time.Second).UnixNano()); ok {
			t.Errorf("answered before the account opened")
		}
	})
	t.Run("OpeningKept", func(t *testing.T) {
		var h equityHistory
		h.record(t0, value(0))
		for i := 1; i <= maxRecent+30; i++ {
			h.record(minute(i), value(i))
		}
		if h.older[0].at != t0.UnixNano() {
			t.Fatalf("first coarse sample at %s, want the opening %s", time.Unix(0, h.older[0].at), t0)
		}
		if got, ok := h.at(t0.Add(10 * time.Second).UnixNano()); !ok || got != value(0) {
			t.Errorf("just after opening: %v %v", got, ok)
		}
	})
	t.Run("SteppedWithinAMinute", func(t *testing.T) {
		var h equityHistory
		h.record(t0, value(0))
		for s := 0; s < 600; s++ { // a clock stopping every second for ten minutes
			h.record(t0.Truncate(time.Minute).Add(time.Minute+time.Duration(s)*time.Second), value(s))
		}
		if n := len(h.recent); n > 1+2*10 {
			t.Fatalf("kept %d samples for ten minutes", n)
		}
		for m := 1; m <= 10; m++ {
			if got, _ := h.at(minute(m).UnixNano()); got != value((m-1)*60) {
				t.Errorf("minute %d: %v, want %v", m, got, value((m-1)*60))
			}
		}
	})
	t.Run("Closes", func(t *testing.T) {
		var h equityHistory
		day := time.Date(2024, 1, 1, 0, 0, 0, 0, newYork)
		for i := range maxCloses + 10 {
			h.close(day.AddDate(0, 0, i), value(i))
		}
		h.close(day.AddDate(0, 0, maxCloses+9), value(-1)) // the same day again
		if len(h.closes) != maxCloses || h.closes[len(h.closes)-1].equity != value(-1) {
			t.Fatalf("%d closes, last %v", len(h.closes), h.closes[len(h.closes)-1])
		}
		if c, ok := closeBefore(h.closes, day.AddDate(0, 0, 100).Unix()); !ok || c.equity != value(99) {
			t.Errorf("close before day 100: %v %v", c, ok)
		}
	})
}
