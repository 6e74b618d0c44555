package market

import (
	"math"
	"slices"
	"sort"
	"sync"
	"time"
)

// Splits in the price series (issue 9 item 6): a split whose ex date
// comes after the market's construction divides the walk at 00:00 New
// York of that date, by new_rate/old_rate, as an unadjusted (raw) series
// drops on the ex date; the walk goes on from the divided price. The
// history before the construction is generated back from Price and is
// left as it is: a split inside those days does not show in it. Bars
// asked for with adjustment=split (or all) have the bars before each
// split the walk has taken scaled to its terms (splitAdjusted). Cash
// dividends do not move the price, so adjustment=dividend changes
// nothing.

// splitStep is a split of one symbol's walk: at minute min the price is
// multiplied by f (old_rate/new_rate).
type splitStep struct {
	min int64
	f   float64
}

// splitCache keeps each symbol's split of each quarter: the walks ask
// every minute, and generating an action hashes a formatted key. It
// lives in the Market's lazyCache (Market.cache.splits).
type splitCache struct {
	mu sync.Mutex
	m  map[int64]splitMemo
}

type splitMemo struct {
	s  splitStep
	ok bool
}

func (m *Market) quarterSplit(i, q int) (splitStep, bool) {
	key := int64(i)<<20 | int64(q)
	m.cache.splits.mu.Lock()
	defer m.cache.splits.mu.Unlock()
	if v, hit := m.cache.splits.m[key]; hit {
		return v.s, v.ok
	}
	var memo splitMemo
	if a, ok := m.action(caKindSplit, i, q); ok {
		ex := time.Date(a.Ex.Year(), a.Ex.Month(), a.Ex.Day(), 0, 0, 0, 0, m.loc)
		memo = splitMemo{s: splitStep{min: ex.Unix() / 60, f: float64(a.OldRate) / float64(a.NewRate)}, ok: true}
	}
	if m.cache.splits.m == nil {
		m.cache.splits.m = map[int64]splitMemo{}
	}
	m.cache.splits.m[key] = memo
	return memo.s, memo.ok
}

// walkSplits returns symbol i's splits at minutes in (after, through],
// oldest first; none at or before the construction minute m0.
func (m *Market) walkSplits(i int, after, through int64) []splitStep {
	after = max(after, m.m0)
	if m.rep != nil || through <= after {
		return nil
	}
	// A split's ex date lies within the first 90 days of its quarter.
	q0 := quarterOf(time.Unix(after*60, 0).UTC()) - 1
	q1 := quarterOf(time.Unix(through*60, 0).UTC())
	var out []splitStep
	for q := max(q0, 0); q <= min(q1, caQuarters-1); q++ {
		if s, ok := m.quarterSplit(i, q); ok && s.min > after && s.min <= through {
			out = append(out, s)
		}
	}
	sort.Slice(out, func(a, b int) bool { return out[a].min < out[b].min })
	return out
}

// splitLive divides the walk of every live symbol with a split at a
// minute in (m.curMinute, minute] and publishes its quote at once, so
// that the post-split price is the quote from the ex date's first
// minute, in session or not. The caller holds stepMu.
func (m *Market) splitLive(minute int64) {
	if m.rep != nil || minute <= m.curMinute {
		return
	}
	var moved []int
	for _, i := range m.liveIdx {
		sp := m.walkSplits(i, m.curMinute, minute)
		if len(sp) == 0 {
			continue
		}
		ls := &m.live[i]
		for _, s := range sp {
			ls.mid *= s.f
		}
		ls.setQuote()
		p := &symPub{quote: ls.quote(minute * nsPerMinute), hasQuote: true}
		if prev := m.pubs[i].Load(); prev != nil {
			p.trade, p.hasTrade = prev.trade, prev.hasTrade
		}
		m.pubs[i].Store(p)
		moved = append(moved, i)
	}
	if len(moved) == 0 {
		return
	}
	for _, s := range m.subs {
		s.offer(m, moved)
	}
}

// splitAdjusted returns bars (symbol i's, oldest first) with each bar
// before a split the walk has taken so far scaled as Alpaca's
// adjustment=split scales it: prices times old_rate/new_rate, rounded to
// the cent the series keeps, volume divided by it. bars itself is shared
// and not written; without such a split it is returned as it is.
func (m *Market) splitAdjusted(i int, bars []mbar) []mbar {
	if len(bars) == 0 {
		return bars
	}
	sp := m.walkSplits(i, m.m0, m.curMin.Load())
	if len(sp) == 0 || bars[0].m >= sp[len(sp)-1].min {
		return bars
	}
	out := slices.Clone(bars)
	for k := range out {
		b := &out[k]
		f := 1.0
		for _, s := range sp {
			if b.m < s.min {
				f *= s.f
			}
		}
		if f == 1 {
			continue
		}
		scale := func(c int32) int32 { return int32(math.Round(float64(c) * f)) }
		b.o, b.h, b.l, b.c = scale(b.o), scale(b.h), scale(b.l), scale(b.c)
		b.v = uint64(math.Round(float64(b.v) / f))
		b.vw *= f
	}
	return out
}
