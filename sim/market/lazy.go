package market

import (
	"container/list"
	"sort"
	"sync"
	"time"

	"github.com/quantum-alpaca/quantum/alpaca"
)

// DefaultSeriesCache is how many Lazy symbols' generated series are kept
// at once (Config.SeriesCache).
const DefaultSeriesCache = 128

// lazyState is the forward walk of a Lazy symbol that is awake: where it
// has got to, and the last bar it made, whose close is the quote.
type lazyState struct {
	through int64   // the walk covers the minutes before through
	close   float64 // the price at through
	last    mbar
	hasLast bool
	// day is the last bar's New York day so far, [dayStart, dayEnd) in
	// minutes, folded bar by bar for the streams' daily bars once dayOK.
	day              mbar
	dayStart, dayEnd int64
	dayOK            bool
	// split is the minute of the last split the walk has taken (see
	// splitwalk.go); the quote follows it when no bar has since.
	split int64
}

// wake starts following a Lazy symbol minute by minute, from the walk it
// has had since the market was built, so that its quote and latest trade
// exist and move (and reach subscribers). Only symbols in use are awake:
// each costs a few hundred bytes and one generated bar a minute.
func (m *Market) wake(i int) {
	m.stepMu.Lock()
	defer m.stepMu.Unlock()
	if m.awake[i].Load() {
		return
	}
	st := &m.lazy[i]
	st.through, st.close = m.m0, m.syms[i].Price
	st.last, st.hasLast = m.lastHistBar(i)
	m.walkLazy(i, m.curMinute, m.openFlags(st.through, m.curMinute))
	m.publishLazy(i)
	m.awake[i].Store(true)
	m.awakeList = append(m.awakeList, i)
}

// wakeNamed wakes the Lazy symbols among names (a stream subscription's).
func (m *Market) wakeNamed(names []string) {
	for _, n := range names {
		if i, ok := m.index[n]; ok && m.syms[i].Lazy && !m.awake[i].Load() {
			m.wake(i)
		}
	}
}

// lastHistBar is the newest bar of symbol i's history: the last minute in
// session before the market was built, which closes at Price.
func (m *Market) lastHistBar(i int) (mbar, bool) {
	for k := len(m.histOpen) - 1; k >= 0; k-- {
		if m.histOpen[k] {
			sigma, rate := walkParams(m.syms[i])
			b, _ := histBar(m.seed, m.live[i].key, sigma, rate, m.m0-int64(len(m.histOpen)-k), m.syms[i].Price)
			return b, true
		}
	}
	return mbar{}, false
}

// openFlags reports for each minute of [from, to) whether it is in
// session.
func (m *Market) openFlags(from, to int64) []bool {
	if to <= from {
		return nil
	}
	out := make([]bool, to-from)
	for k := range out {
		out[k] = m.cfg.Session(time.Unix((from+int64(k))*60, 0))
	}
	return out
}

// walkLazy moves symbol i's walk from its through to minute to, open
// being the session flags from its through; true when that made a bar.
// The caller holds stepMu.
func (m *Market) walkLazy(i int, to int64, open []bool) bool {
	st := &m.lazy[i]
	sigma, rate := walkParams(m.syms[i])
	moved := false
	sp := m.walkSplits(i, st.through, to)
	for k, in := range open {
		mm := st.through + int64(k)
		for len(sp) > 0 && sp[0].min <= mm {
			st.close *= sp[0].f
			st.split, sp = sp[0].min, sp[1:]
		}
		if !in {
			continue
		}
		st.last, st.close = fwdBar(m.seed, m.live[i].key, sigma, rate, mm, st.close)
		st.hasLast, moved = true, true
		if st.dayOK {
			if mm >= st.dayEnd {
				st.day = st.last
				st.dayStart, st.dayEnd = m.daySpan(mm)
			} else {
				st.day.mergeAfter(st.last)
			}
		}
	}
	for _, x := range sp { // a split at minute to itself
		st.close *= x.f
		st.split = x.min
	}
	st.through = max(st.through, to)
	return moved
}

// publishLazy publishes what symbol i's last bar leaves behind, as a
// replay does: the quote around its close, stamped at its end, and its
// closing print. The caller holds stepMu.
func (m *Market) publishLazy(i int) {
	st := &m.lazy[i]
	if !st.hasLast {
		return
	}
	ls := &m.live[i]
	b := st.last
	prints := synthMinute(m.seed, ls.key, ls.spread, b, nil)
	tr := tradeOf(&prints[len(prints)-1], ls.tape)
	bid, ask := QuoteAtClose(dollars(b.c), ls.spread)
	stamp := (b.m + 1) * 60
	if st.split > b.m {
		// A split since the last bar: quoted at the divided price from
		// the ex date's first minute; the last print stays the pre-split
		// one, as it happened.
		bid, ask = QuoteAtClose(st.close, ls.spread)
		stamp = st.split * 60
	}
	g := newRNG(m.seed, ls.key, uint64(b.m), quoteStream)
	bs, as := lotSize(&g), lotSize(&g)
	q := alpaca.Quote{
		Timestamp:   time.Unix(stamp, 0).UTC(),
		BidExchange: exchCodes[g.intn(quoteExchanges)],
		BidPrice:    bid,
		BidSize:     bs,
		AskExchange: exchCodes[g.intn(quoteExchanges)],
		AskPrice:    ask,
		AskSize:     as,
		Conditions:  condQuote,
		Tape:        ls.tape,
	}
	m.pubs[i].Store(&symPub{quote: q, trade: tr, hasQuote: true, hasTrade: true})
}

// rollLazy moves every awake Lazy symbol to minute: those that made a bar
// publish their new quote and print, to subscribers and, with their bar
// and daily bar, to the streams. Awake symbols are all at curMinute, so
// the session flags are drawn once. The caller holds stepMu.
func (m *Market) rollLazy(minute int64, b *batch) {
	// The live symbols' splits are taken here too: this is where the
	// market crosses into a new minute.
	m.splitLive(minute)
	if len(m.awakeList) == 0 {
		return
	}
	open := m.openFlags(m.curMinute, minute)
	changed := m.lazyChanged[:0]
	var requoted []int // a split and no bar: only the quote moves
	for _, i := range m.awakeList {
		before := m.lazy[i].split
		if m.walkLazy(i, minute, open) {
			m.publishLazy(i)
			changed = append(changed, i)
		} else if m.lazy[i].split != before {
			m.publishLazy(i)
			requoted = append(requoted, i)
		}
	}
	m.lazyChanged = changed
	if len(requoted) > 0 {
		for _, s := range m.subs {
			s.offer(m, requoted)
		}
		if b != nil {
			for _, i := range requoted {
				b.items = append(b.items, item{kind: 'q', sym: i, quote: m.pubs[i].Load().quote})
			}
		}
	}
	if len(changed) == 0 {
		return
	}
	for _, s := range m.subs {
		s.offer(m, changed)
	}
	if b == nil {
		return
	}
	for _, i := range changed {
		p := m.pubs[i].Load()
		b.items = append(b.items,
			item{kind: 't', sym: i, trade: p.trade},
			item{kind: 'q', sym: i, quote: p.quote},
			item{kind: 'b', sym: i, bar: m.lazy[i].last.wire()})
		st := &m.lazy[i]
		if !st.dayOK {
			// Folded from the series once; bar by bar from then on, so
			// that streaming costs no series per minute.
			st.dayStart, st.dayEnd = m.daySpan(st.last.m)
			bars := m.cache.bars(m, i, minute)
			k := sort.Search(len(bars), func(k int) bool { return bars[k].m >= st.dayStart })
			st.day = bars[k]
			for _, x := range bars[k+1:] {
				st.day.mergeAfter(x)
			}
			st.dayOK = true
		}
		d := st.day
		d.m = st.dayStart
		b.items = append(b.items, item{kind: 'd', sym: i, bar: d.wire()})
	}
}

// daySpan is the New York day of minute mm, in minutes.
func (m *Market) daySpan(mm int64) (int64, int64) {
	bk := bucketer{tf: timeframe{1, unitDay}, loc: m.loc}
	return bk.span(mm)
}

// lazyView is the read handle on a Lazy symbol's series up to the
// market's current minute.
func (m *Market) lazyView(i int) view {
	return view{bars: m.cache.bars(m, i, m.curMin.Load()), boundary: noTicks,
		key: m.live[i].key, spread: m.syms[i].SpreadCents, seed: m.seed}
}

// ActiveSymbols lists the symbols whose prices move: all but the Lazy
// symbols nobody has used yet.
func (m *Market) ActiveSymbols() []string {
	m.stepMu.Lock()
	defer m.stepMu.Unlock()
	out := make([]string, 0, len(m.liveIdx)+len(m.awakeList))
	for _, i := range m.liveIdx {
		out = append(out, m.syms[i].Symbol)
	}
	for _, i := range m.awakeList {
		out = append(out, m.syms[i].Symbol)
	}
	return out
}

// lazyCache keeps the generated series of the most recently read Lazy
// symbols. Any series can be generated again, identically, so evicting
// one costs time, never consistency.
type lazyCache struct {
	// The corporate actions' caches (corpactions.go, splitwalk.go).
	splits   splitCache
	quarters quarterCache

	mu      sync.Mutex
	size    int
	entries map[int]*lazyEntry
	lru     list.List // of *lazyEntry, most recent first
}

type lazyEntry struct {
	i       int
	bars    []mbar
	through int64   // bars cover the minutes before through
	close   float64 // the walk's price at through
	el      *list.Element
}

func (c *lazyCache) init(size int) {
	c.size = max(size, 1)
	c.entries = map[int]*lazyEntry{}
}

// bars returns symbol i's minute bars before minute to: its history,
// generated back from Price at the market's construction, and the
// forward walk since. The slice is shared: elements are never written
// once there (it is only appended to or trimmed into a new array).
func (c *lazyCache) bars(m *Market, i int, to int64) []mbar {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.entries[i]
	if e == nil {
		e = &lazyEntry{i: i, through: m.m0, close: m.syms[i].Price,
			bars: genHistory(m.seed, m.live[i].key, m.syms[i], m.m0, m.histOpen)}
		e.el = c.lru.PushFront(e)
		c.entries[i] = e
		for c.lru.Len() > c.size {
			old := c.lru.Remove(c.lru.Back()).(*lazyEntry)
			delete(c.entries, old.i)
		}
	} else {
		c.lru.MoveToFront(e.el)
	}
	if to > e.through {
		sigma, rate := walkParams(m.syms[i])
		// Splits as walkLazy takes them, so that both walks agree.
		sp := m.walkSplits(i, e.through, to)
		for k, in := range m.openFlags(e.through, to) {
			mm := e.through + int64(k)
			for len(sp) > 0 && sp[0].min <= mm {
				e.close *= sp[0].f
				sp = sp[1:]
			}
			if in {
				var b mbar
				b, e.close = fwdBar(m.seed, m.live[i].key, sigma, rate, mm, e.close)
				e.bars = append(e.bars, b)
			}
		}
		for _, x := range sp {
			e.close *= x.f
		}
		e.through = to
		if cutoff := to - m.keep; len(e.bars) > 0 && e.bars[0].m < cutoff-1440 {
			k := sort.Search(len(e.bars), func(k int) bool { return e.bars[k].m >= cutoff })
			e.bars = append([]mbar(nil), e.bars[k:]...)
		}
	}
	n := sort.Search(len(e.bars), func(k int) bool { return e.bars[k].m >= to })
	return e.bars[:n:n]
}
