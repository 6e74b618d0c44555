package market

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/quantum-alpaca/quantum/alpaca"
)

// noTicks is the ring boundary of a replayed series: it has no live ticks,
// so every minute is synthesized from its bar. Small enough that the
// boundary in nanoseconds does not overflow.
const noTicks = math.MaxInt64 / nsPerMinute

// maxRecordedPrice bounds recorded prices: cents must fit the int32 of
// mbar, and the synthetic market uses the same ceiling.
const maxRecordedPrice = 1e6

// maxSynthPrints caps the prints synthesized for one recorded minute.
const maxSynthPrints = 1 << 16

// quoteStream keys the draws of a replayed quote's sizes and exchanges.
const quoteStream = 0x9a07

// exactBar is a recorded bar's values as given. The mbar beside it holds
// them in cents for the trade and quote synthesis; bars are served from
// these, so a recorded sub-penny price comes back unchanged.
type exactBar struct {
	o, h, l, c, vw float64
	v, n           uint64
}

// mergeExact renders recorded bars as one bar starting at minute s. A
// single bar is returned exactly as recorded; the VWAP of an aggregate is
// rounded as the synthetic market rounds it.
func mergeExact(s int64, xs []exactBar) alpaca.Bar {
	acc := xs[0]
	for _, x := range xs[1:] {
		acc.c = x.c
		acc.h = max(acc.h, x.h)
		acc.l = min(acc.l, x.l)
		if acc.v+x.v > 0 {
			acc.vw = (acc.vw*float64(acc.v) + x.vw*float64(x.v)) / float64(acc.v+x.v)
		}
		acc.v += x.v
		acc.n += x.n
	}
	if len(xs) > 1 {
		acc.vw = math.Round(acc.vw*10000) / 10000
	}
	return alpaca.Bar{
		Timestamp: time.Unix(s*60, 0).UTC(),
		Open:      acc.o, High: acc.h, Low: acc.l, Close: acc.c,
		Volume: acc.v, TradeCount: acc.n, VWAP: acc.vw,
	}
}

// replay is the state of a market that replays recorded bars.
type replay struct {
	rec []recSeries // by symbol index
	buf []tick      // synthesis scratch; used under stepMu or in New
}

// recSeries is one symbol's recording. bars and exact never change after
// New; vis, guarded by Market.stepMu, counts the bars that have ended by
// the market's current minute, which are all that readers ever see.
type recSeries struct {
	bars  []mbar
	exact []exactBar
	vis   int
}

// newReplay validates and converts recorded bars and builds the
// universe: the recorded symbols, sorted, with the default universe's
// listing where it has the symbol and a generic one otherwise.
func newReplay(recorded map[string][]alpaca.Bar) (*replay, []Symbol, error) {
	if len(recorded) == 0 {
		return nil, nil, fmt.Errorf("market: no recorded symbols to replay")
	}
	names := make([]string, 0, len(recorded))
	for sym := range recorded {
		names = append(names, sym)
	}
	slices.Sort(names)
	rep := &replay{rec: make([]recSeries, len(names))}
	syms := make([]Symbol, len(names))
	for i, name := range names {
		if name == "" {
			return nil, nil, fmt.Errorf("market: recorded bars under an empty symbol")
		}
		r, err := convertRecorded(name, recorded[name])
		if err != nil {
			return nil, nil, err
		}
		rep.rec[i] = r
		first := 0.0
		if len(r.exact) > 0 {
			first = r.exact[0].c
		}
		sym, ok := LookupSymbol(name)
		if !ok {
			sym = Symbol{
				Symbol: name, Name: name, Exchange: ExchangeNASDAQ,
				Fractionable: true, Shortable: true, EasyToBorrow: true, Marginable: true,
			}
		}
		if _, core := listedSpreads()[name]; !core {
			// A listed symbol without a price process of its own is
			// quoted around its recording, as an unlisted one.
			sym.SpreadCents = defaultSpread(first, false)
		}
		sym.Lazy = false
		sym.AssetID = AssetID(name)
		sym.Price = first
		syms[i] = sym
	}
	return rep, syms, nil
}

func convertRecorded(sym string, bars []alpaca.Bar) (recSeries, error) {
	r := recSeries{bars: make([]mbar, len(bars)), exact: make([]exactBar, len(bars))}
	prev := int64(math.MinInt64)
	for k, b := range bars {
		bad := func(format string, args ...any) error {
			return fmt.Errorf("market: recorded %s bar %d at %s: %s", sym, k, b.Timestamp.UTC().Format(time.RFC3339Nano), fmt.Sprintf(format, args...))
		}
		ns := b.Timestamp.UnixNano()
		if ns%nsPerMinute != 0 {
			return recSeries{}, bad("not at the start of a minute")
		}
		m := floorDiv(ns, nsPerMinute)
		if m <= prev {
			return recSeries{}, bad("not after the bar before it")
		}
		prev = m
		for _, p := range [...]float64{b.Open, b.High, b.Low, b.Close} {
			if !(p > 0 && p <= maxRecordedPrice) {
				return recSeries{}, bad("price %v outside (0, %v]", p, maxRecordedPrice)
			}
		}
		if b.High < max(b.Open, b.Close) || b.Low > min(b.Open, b.Close) {
			return recSeries{}, bad("open %v and close %v not within low %v and high %v", b.Open, b.Close, b.Low, b.High)
		}
		if !(b.VWAP >= 0 && b.VWAP <= maxRecordedPrice) {
			return recSeries{}, bad("vwap %v outside [0, %v]", b.VWAP, maxRecordedPrice)
		}
		r.exact[k] = exactBar{o: b.Open, h: b.High, l: b.Low, c: b.Close, vw: b.VWAP, v: b.Volume, n: b.TradeCount}
		// The synthesis needs at least one print (recordings imported
		// without trade counts have none), each of at least one share and
		// of at most what a tick's uint32 size holds; it also allocates
		// every print of a minute, so absurd counts are capped.
		n := max(1, min(b.TradeCount, maxSynthPrints))
		r.bars[k] = mbar{
			m: m, o: recCents(b.Open), h: recCents(b.High), l: recCents(b.Low), c: recCents(b.Close),
			n: uint32(n), v: min(max(b.Volume, n), n<<20), vw: b.VWAP,
		}
	}
	return r, nil
}

// recCents rounds a recorded price to cents, at least one: rounding is
// monotonic, so low <= open, close <= high still holds.
func recCents(p float64) int32 { return max(1, int32(math.Round(p*100))) }

// startReplay sets up the series and the published prints at minute m0:
// the bars that ended by then are history, the last one's close is the
// quote.
func (m *Market) startReplay(m0 int64) {
	m.live = make([]liveState, len(m.syms))
	m.series = make([]series, len(m.syms))
	for i, s := range m.syms {
		m.live[i] = liveState{key: hashString(s.Symbol), spread: s.SpreadCents, tape: s.Tape(), seqMinute: -1}
		m.liveIdx = append(m.liveIdx, i)
		r := &m.rep.rec[i]
		r.vis = sort.Search(len(r.bars), func(k int) bool { return r.bars[k].m >= m0 })
		m.series[i] = series{bars: r.bars[:r.vis:r.vis], exact: r.exact[:r.vis:r.vis], boundary: noTicks}
		if r.vis > 0 {
			q, t := m.replayPrints(i, r.vis-1)
			m.pubs[i].Store(&symPub{quote: q, trade: t, hasQuote: true, hasTrade: true})
		}
	}
}

// rollReplay makes visible, minute by minute, the recorded bars that ended
// by minute: each minute's bars become history, their closes the quotes
// and latest trades, offered to subscribers one minute at a time so that
// a matcher that keeps up sees every minute's quote; streams get each
// symbol's closing print, quote, bar and daily bar. The caller holds
// stepMu.
func (m *Market) rollReplay(minute int64, b *batch) {
	rep := m.rep
	for {
		next := int64(math.MaxInt64)
		for i := range rep.rec {
			r := &rep.rec[i]
			if r.vis < len(r.bars) && r.bars[r.vis].m < minute {
				next = min(next, r.bars[r.vis].m)
			}
		}
		if next == math.MaxInt64 {
			return
		}
		changed := m.changed[:0]
		m.mu.Lock()
		for i := range rep.rec {
			r := &rep.rec[i]
			if r.vis < len(r.bars) && r.bars[r.vis].m == next {
				r.vis++
				m.series[i].bars = r.bars[:r.vis:r.vis]
				m.series[i].exact = r.exact[:r.vis:r.vis]
				changed = append(changed, i)
			}
		}
		m.mu.Unlock()
		m.changed = changed
		for _, i := range changed {
			q, t := m.replayPrints(i, rep.rec[i].vis-1)
			m.pubs[i].Store(&symPub{quote: q, trade: t, hasQuote: true, hasTrade: true})
		}
		for _, s := range m.subs {
			s.offer(m, changed)
		}
		if b == nil {
			continue
		}
		for _, i := range changed {
			r := &rep.rec[i]
			k := r.vis - 1
			v := view{bars: r.bars[:r.vis], exact: r.exact[:r.vis]}
			p := m.pubs[i].Load()
			b.items = append(b.items,
				item{kind: 't', sym: i, trade: p.trade},
				item{kind: 'q', sym: i, quote: p.quote},
				item{kind: 'b', sym: i, bar: mergeExact(r.bars[k].m, r.exact[k:k+1])})
			if d := m.dailyBars(&v, 1); len(d) > 0 {
				b.items = append(b.items, item{kind: 'd', sym: i, bar: d[0]})
			}
		}
	}
}

// replayPrints derives the quote and the latest trade that recorded bar k
// of symbol i leaves behind: the quote from its close by QuoteAtClose,
// stamped at the bar's end; the trade is the last print synthesized for
// the bar (as trades history serves it) at the recorded close.
func (m *Market) replayPrints(i, k int) (alpaca.Quote, alpaca.Trade) {
	ls := &m.live[i]
	r := &m.rep.rec[i]
	b, x := r.bars[k], r.exact[k]
	m.rep.buf = synthMinute(m.seed, ls.key, ls.spread, b, m.rep.buf[:0])
	tr := tradeOf(&m.rep.buf[len(m.rep.buf)-1], ls.tape)
	tr.Price = x.c
	bid, ask := QuoteAtClose(x.c, RecordedSpread(m.syms[i].Symbol, x.c))
	g := newRNG(m.seed, ls.key, uint64(b.m), quoteStream)
	bs, as := lotSize(&g), lotSize(&g)
	q := alpaca.Quote{
		Timestamp:   time.Unix((b.m+1)*60, 0).UTC(),
		BidExchange: exchCodes[g.intn(quoteExchanges)],
		BidPrice:    bid,
		BidSize:     bs,
		AskExchange: exchCodes[g.intn(quoteExchanges)],
		AskPrice:    ask,
		AskSize:     as,
		Conditions:  condQuote,
		Tape:        ls.tape,
	}
	return q, tr
}

// QuoteAtClose is the quote that follows a bar closing at close with a
// spread of spreadCents (at least one): the bid on the cent grid at or
// below close minus half the spread, never below a cent, and the ask one
// spread above the bid. The replaying market quotes every recorded close
// this way (with RecordedSpread) for the whole next minute, and a
// backtest that derives its quotes with the same call fills orders at the
// same prices the broker does. It works in ten-thousandths of a dollar,
// so a close given with up to four decimals is taken exactly. A close
// that is not a positive finite number has no quote: both are zero.
func QuoteAtClose(close float64, spreadCents int64) (bid, ask float64) {
	if !(close > 0 && close <= maxRecordedPrice) {
		return 0, 0
	}
	const perCent = 100 // ten-thousandths of a dollar in a cent
	sp := max(spreadCents, 1)
	p := int64(math.Round(close * 10000))
	b := max(1, floorDiv(p-sp*perCent/2, perCent))
	return float64(b) / 100, float64(b+sp) / 100
}

// RecordedSpread is the spread, in cents, of a replayed symbol's quotes
// when its last close is close: the default universe's spread for a
// symbol listed there, otherwise the rule the synthetic market sizes
// spreads by, applied to close (a cent under $150, widening with price).
func RecordedSpread(symbol string, close float64) int64 {
	if sp, ok := listedSpreads()[symbol]; ok {
		return sp
	}
	return defaultSpread(close, false)
}

var listedSpreads = sync.OnceValue(func() map[string]int64 {
	out := map[string]int64{}
	for _, s := range coreUniverse() {
		out[s.Symbol] = s.withDefaults().SpreadCents
	}
	return out
})

// NextBarEnd returns the earliest time after t at which a recorded bar
// ends (its start plus a minute), the next moment a replaying market has
// anything to publish; false when no recorded bar ends after t or the
// market is not a replay. A driver that steps the market to each of these
// times in turn shows every recorded minute to the order matcher.
func (m *Market) NextBarEnd(t time.Time) (time.Time, bool) {
	if m.rep == nil {
		return time.Time{}, false
	}
	after := floorDiv(t.UnixNano(), nsPerMinute) // ends at (m+1) minutes > t iff m >= floor(t)
	best := int64(math.MaxInt64)
	for i := range m.rep.rec {
		bars := m.rep.rec[i].bars
		k := sort.Search(len(bars), func(k int) bool { return bars[k].m >= after })
		if k < len(bars) {
			best = min(best, bars[k].m)
		}
	}
	if best == math.MaxInt64 {
		return time.Time{}, false
	}
	return time.Unix((best+1)*60, 0).UTC(), true
}
