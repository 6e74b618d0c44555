package market_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/quantum-alpaca/quantum/alpaca"
	"github.com/quantum-alpaca/quantum/sim/market"
)

// firstSplit is the first split after t0 of a symbol whose Lazy flag is
// lazy, with seed 21 and the default universe.
func firstSplit(t *testing.T, h *harness, lazy bool) market.CorporateAction {
	t.Helper()
	isLazy := map[string]bool{}
	for _, s := range h.m.Symbols() {
		isLazy[s.Symbol] = s.Lazy
	}
	from := time.Date(2026, 3, 11, 0, 0, 0, 0, time.UTC)
	for _, a := range h.m.CorporateActions(from, from.AddDate(1, 0, 0), nil, func(a market.CorporateAction) time.Time { return a.Ex }) {
		if a.Type != market.CashDividend && isLazy[a.Symbol] == lazy {
			return a
		}
	}
	t.Fatalf("no split of a lazy=%v symbol in the year after %s", lazy, from)
	return market.CorporateAction{}
}

func exMidnight(a market.CorporateAction) time.Time {
	loc, _ := time.LoadLocation("America/New_York")
	return time.Date(a.Ex.Year(), a.Ex.Month(), a.Ex.Day(), 0, 0, 0, 0, loc)
}

func mid(q alpaca.Quote) float64 { return (q.BidPrice + q.AskPrice) / 2 }

func near(got, want float64) bool { return got > want*0.98 && got < want*1.02 }

// A split divides the walk at 00:00 New York of its ex date, for the
// symbols generated minute by minute (served bars and quote alike) and
// for those that walk tick by tick (issue 9 item 6).
func TestSplitDividesTheWalk(t *testing.T) {
	t.Run("Lazy", func(t *testing.T) {
		h := MustHarness(t, market.Config{Seed: 21, Universe: market.DefaultUniverse()})
		a := firstSplit(t, h, true)
		f := float64(a.OldRate) / float64(a.NewRate)
		ex := exMidnight(a)
		h.clk.Add(ex.Add(10 * time.Minute).Sub(h.clk.Now()))
		h.m.Step(h.clk.Now())
		var page struct{ Bars []alpaca.Bar }
		h.mustGet(t, fmt.Sprintf("/v2/stocks/%s/bars?timeframe=1Min&start=%s&end=%s", a.Symbol,
			ex.Add(-2*time.Minute).Format(time.RFC3339), ex.Add(time.Minute).Format(time.RFC3339)), &page)
		if len(page.Bars) != 4 || !page.Bars[2].Timestamp.Equal(ex) {
			t.Fatalf("%s bars around %s: %+v", a.Symbol, ex, page.Bars)
		}
		if before, after := page.Bars[1].Close, page.Bars[2].Open; !near(after, before*f) {
			t.Errorf("%s %d-for-%d: close %v before the ex date, open %v after", a.Symbol, a.NewRate, a.OldRate, before, after)
		}
		// adjustment=split scales the bars before the split to its terms
		// and leaves the rest as they are.
		var adj struct{ Bars []alpaca.Bar }
		h.mustGet(t, fmt.Sprintf("/v2/stocks/%s/bars?timeframe=1Min&adjustment=split&start=%s&end=%s", a.Symbol,
			ex.Add(-2*time.Minute).Format(time.RFC3339), ex.Add(time.Minute).Format(time.RFC3339)), &adj)
		if len(adj.Bars) != 4 || adj.Bars[2] != page.Bars[2] || adj.Bars[3] != page.Bars[3] {
			t.Fatalf("adjusted bars %+v, raw %+v", adj.Bars, page.Bars)
		}
		if b, raw := adj.Bars[1], page.Bars[1]; !near(b.Close, raw.Close*f) || !near(float64(b.Volume), float64(raw.Volume)/f) || !near(b.Close, adj.Bars[2].Open) {
			t.Errorf("adjusted %+v, raw %+v, first after %+v", b, raw, adj.Bars[2])
		}
		// Woken after the split, the symbol quotes the divided walk.
		q, ok := h.m.Quote(a.Symbol)
		last, _ := h.m.LatestBar(a.Symbol)
		if !ok || !near(mid(q), last.Close) {
			t.Errorf("%s quote %+v, last bar %+v", a.Symbol, q, last)
		}
	})

	t.Run("LazyAwake", func(t *testing.T) {
		h := MustHarness(t, market.Config{Seed: 21, Universe: market.DefaultUniverse()})
		a := firstSplit(t, h, true)
		f := float64(a.OldRate) / float64(a.NewRate)
		ex := exMidnight(a)
		if _, ok := h.m.Quote(a.Symbol); !ok { // wakes it: it walks minute by minute from here
			t.Fatal("no quote")
		}
		h.clk.Add(ex.Add(-time.Minute).Sub(h.clk.Now()))
		h.m.Step(h.clk.Now())
		q0, _ := h.m.Quote(a.Symbol)
		h.m.Step(h.clk.Add(time.Minute)) // the ex date's first minute
		q1, _ := h.m.Quote(a.Symbol)
		if !near(mid(q1), mid(q0)*f) || !q1.Timestamp.Equal(ex) {
			t.Errorf("%s %d-for-%d: quote %+v before, %+v at the ex date", a.Symbol, a.NewRate, a.OldRate, q0, q1)
		}
		// The walk it took awake is the series it serves.
		h.m.Step(h.clk.Add(5 * time.Minute))
		last, _ := h.m.LatestBar(a.Symbol)
		if q, _ := h.m.Quote(a.Symbol); !near(mid(q), last.Close) {
			t.Errorf("quote %+v, last served bar %+v", q, last)
		}
	})

	t.Run("Live", func(t *testing.T) {
		h := MustHarness(t, market.Config{Seed: 21, Universe: market.DefaultUniverse()})
		a := firstSplit(t, h, false)
		f := float64(a.OldRate) / float64(a.NewRate)
		ex := exMidnight(a)
		h.clk.Add(ex.Add(-time.Minute).Sub(h.clk.Now()))
		h.m.Step(h.clk.Now())
		q0, _ := h.m.Quote(a.Symbol)
		h.m.Step(h.clk.Add(time.Minute))
		q1, _ := h.m.Quote(a.Symbol)
		if !near(mid(q1), mid(q0)*f) {
			t.Errorf("%s %d-for-%d: quote %+v before, %+v at the ex date", a.Symbol, a.NewRate, a.OldRate, q0, q1)
		}
	})
}
