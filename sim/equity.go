package sim

import (
	"sort"
	"time"

	"github.com/quantum-alpaca/quantum/sim/match"
)

// Retention of an account's equity samples (issue 9, item 5). Portfolio
// history answers intraday timeframes for at most 30 days and daily ones
// for as long as the account exists. An account keeps its last
// maxRecent samples at minute resolution (a day of an always-open market,
// almost four NYSE sessions: outside a session prices stand still), the
// last of every 15 minutes before that for a month, and the trading days'
// closes for years. Samples are kept only when the equity changed, so an
// account without positions holds almost nothing; one that holds
// positions around the clock holds at most about 1,440 + 2,980 samples of
// 16 bytes, plus 16 bytes per trading day for its closes: some 100 KB,
// a gigabyte for 10,000 such accounts.
const (
	maxRecent   = 1440
	olderStep   = 15 * time.Minute
	olderSpan   = 31 * 24 * time.Hour
	maxCloses   = 1830 // five years of always-open days, seven of NYSE's
	sampleEvery = time.Minute
)

// equitySample is the account's equity from at (unix ns) until the next
// sample.
type equitySample struct {
	at     int64
	equity match.Money
}

// dayClose is the equity at the end of a trading day, keyed by the day's
// New York midnight (unix seconds).
type dayClose struct {
	day    int64
	equity match.Money
}

// equityHistory is one account's equity over time: change-only samples in
// two tiers of resolution, and the day-end closes. The account's mutex
// guards it.
type equityHistory struct {
	recent  []equitySample // oldest first, at most one per minute
	older   []equitySample // before recent: at most one per olderStep
	closes  []dayClose     // oldest first, at most maxCloses
	through int64          // samples are complete up to this time (unix ns)
}

// record notes the equity at time at. Times never go backwards: a sample
// earlier than the last one counts as taken at the last one's time. The
// samples that portfolio history reads are those on minute boundaries
// (its buckets end on them), so within a minute only the latest other
// sample is kept, however often a stepped clock stops; the account's
// first sample, which dates its opening, is never replaced.
func (h *equityHistory) record(at time.Time, eq match.Money) {
	t := max(at.UnixNano(), h.through)
	h.through = t
	last, ok := h.last()
	n := len(h.recent)
	switch {
	case ok && last.equity == eq:
		return
	case n > 0 && (n > 1 || len(h.older) > 0) && last.at%int64(time.Minute) != 0 && sameMinute(last.at, t):
		h.recent[n-1] = equitySample{t, eq}
		// The replaced sample may now repeat the one before it.
		if n > 1 && h.recent[n-2].equity == eq {
			h.recent = h.recent[:n-1]
		}
	default:
		h.recent = append(h.recent, equitySample{t, eq})
	}
	h.age(t)
}

func sameMinute(a, b int64) bool {
	m := int64(time.Minute)
	return floorDiv(a, m) == floorDiv(b, m)
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func (h *equityHistory) last() (equitySample, bool) {
	switch {
	case len(h.recent) > 0:
		return h.recent[len(h.recent)-1], true
	case len(h.older) > 0:
		return h.older[len(h.older)-1], true
	}
	return equitySample{}, false
}

// age moves the samples beyond maxRecent into the coarse tier, keeping
// the last of each olderStep (and the account's first sample, which
// dates its opening), and drops coarse samples older than olderSpan. A
// sample stands for the equity until the next one, so the newest sample
// before the span's edge stays: a lookup at the edge needs it.
func (h *equityHistory) age(now int64) {
	if n := len(h.recent) - maxRecent; n > 0 {
		for _, smp := range h.recent[:n] {
			k := len(h.older)
			if k > 1 && olderSlot(h.older[k-1].at) == olderSlot(smp.at) {
				h.older[k-1] = smp
			} else {
				h.older = append(h.older, smp)
			}
		}
		h.recent = h.recent[n:]
	}
	cut := now - int64(olderSpan)
	next := func(i int) (int64, bool) {
		switch {
		case i+1 < len(h.older):
			return h.older[i+1].at, true
		case len(h.recent) > 0:
			return h.recent[0].at, true
		}
		return 0, false
	}
	n := 0
	for n < len(h.older) {
		if t, ok := next(n); !ok || t > cut {
			break
		}
		n++
	}
	h.older = h.older[n:]
}

// olderSlot numbers the coarse tier's steps so that the one a sample
// keeps is the one closest before the step's end: a lookup at a multiple
// of olderStep, where history's buckets end, is then exact.
func olderSlot(at int64) int64 { return floorDiv(at-1, int64(olderStep)) }

// at returns the equity at time t (unix ns): the last sample at or before
// it; false before the first.
func (h *equityHistory) at(t int64) (match.Money, bool) {
	for _, tier := range [][]equitySample{h.recent, h.older} {
		i := sort.Search(len(tier), func(i int) bool { return tier[i].at > t })
		if i > 0 {
			return tier[i-1].equity, true
		}
	}
	return 0, false
}

// close records the equity at the end of trading day day (its New York
// midnight).
func (h *equityHistory) close(day time.Time, eq match.Money) {
	d := day.Unix()
	if n := len(h.closes); n > 0 && h.closes[n-1].day >= d {
		if h.closes[n-1].day == d {
			h.closes[n-1].equity = eq
		}
		return
	}
	if len(h.closes) == maxCloses {
		h.closes = h.closes[1:]
	}
	h.closes = append(h.closes, dayClose{d, eq})
}

// closeBefore returns the last close of a trading day before day (a New
// York midnight, unix seconds).
func closeBefore(closes []dayClose, day int64) (dayClose, bool) {
	i := sort.Search(len(closes), func(i int) bool { return closes[i].day >= day })
	if i == 0 {
		return dayClose{}, false
	}
	return closes[i-1], true
}

// clone copies what a portfolio history request reads, so that it is
// answered without holding the account.
func (h *equityHistory) clone() equityHistory {
	return equityHistory{
		recent:  append([]equitySample(nil), h.recent...),
		older:   append([]equitySample(nil), h.older...),
		closes:  append([]dayClose(nil), h.closes...),
		through: h.through,
	}
}
