package market_test

import (
	"testing"
	"time"

	"github.com/quantum-alpaca/quantum/sim/market"
)

// What serving corporate actions costs (issue 9 item 6): a page over the
// whole generated calendar (2000 to 2099, some 120,000 actions) should
// cost about what a page over a quarter does, since the walk stops once
// the page is full; the broker asks for the next action date at every
// stepped-clock midnight.
func BenchmarkCorporateActions(b *testing.B) {
	h := MustHarness(b, market.Config{Seed: 21, Universe: market.DefaultUniverse()})
	for _, bc := range []struct{ name, path string }{
		{"PageOfQuarter", "/v1/corporate-actions?start=2026-01-01&end=2026-03-31&limit=1000"},
		{"PageOfCentury", "/v1/corporate-actions?start=2000-01-01&end=2099-12-31&limit=1000"},
		{"PageOfCenturyDesc", "/v1/corporate-actions?start=2000-01-01&end=2099-12-31&limit=1000&sort=desc"},
		{"Auctions2Symbols", "/v2/stocks/auctions?symbols=AAPL,SPY&start=2026-03-08"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				h.mustGet(b, bc.path, nil)
			}
		})
	}
	b.Run("NextDate", func(b *testing.B) {
		for b.Loop() {
			if _, ok := h.m.NextCorporateActionDate(time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC)); !ok {
				b.Fatal("no next date")
			}
		}
	})
}
