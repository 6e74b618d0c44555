package market

import (
	"testing"
	"time"
)

// caEarliest and caLatest bound every date of an action around its
// quarter's start, holidays included: the walk over the quarters relies
// on it. Checked over every quarter and every ex-date offset the
// generator can draw, not only the drawn ones.
func TestCorporateActionDateBounds(t *testing.T) {
	lo, hi := 0, 0
	for q := range caQuarters {
		qs := quarterStart(q)
		days := func(d time.Time) int { return int(d.Sub(qs).Hours() / 24) }
		for off := range 85 { // a split's ex date
			ex := tradingDay(qs.AddDate(0, 0, off))
			lo = min(lo, days(addTradingDays(ex, -15)))
			hi = max(hi, days(addTradingDays(ex, 1)))
		}
		for off := 20; off < 20+50+5; off++ { // a dividend's ex date
			ex := tradingDay(qs.AddDate(0, 0, off))
			lo = min(lo, days(addTradingDays(ex, -19)))
			hi = max(hi, days(addTradingDays(ex, 19)))
		}
	}
	if lo < caEarliest || hi > caLatest {
		t.Errorf("dates from %d to %d days of their quarter's start, outside [%d, %d]", lo, hi, caEarliest, caLatest)
	}
	t.Logf("dates from %d to %d days of their quarter's start", lo, hi)
}
