package market

import (
	"math"
	"sort"
	"time"

	"github.com/quantum-alpaca/quantum/alpaca"
)

const (
	nsPerMinute = int64(time.Minute)
	// chunkSize is the number of ticks per ring chunk. Chunks are never
	// written once full, so a reader holding a chunk list can read them
	// without the lock.
	chunkSize = 512
	// idsPerMinute spaces trade ids so that an id encodes its minute:
	// minute*idsPerMinute + sequence. Live and synthesized prints of the
	// same minute are never both served, so ids stay unique.
	idsPerMinute = 1_000_000
	// sizeStream keys the per-minute stream of print sizes, shared by
	// history generation and synthesis.
	sizeStream = 0x5153
)

// Exchange codes as the SIP reports them: IEX, Nasdaq, NYSE, Arca, Cboe
// BZX, Cboe EDGX, and FINRA ADF (off-exchange prints; trades only).
var exchCodes = [...]string{"V", "Q", "N", "P", "Z", "K", "D"}

const quoteExchanges = 6 // the first six codes also quote

// Shared condition slices; returned values alias them, which is why the
// package documents that callers must not modify Conditions.
var (
	condRegular = []string{"@"}
	condOddLot  = []string{"@", "I"}
	condQuote   = []string{"R"}
)

// mbar is a compact OHLCV bar: prices in cents, m the unix minute of the
// bar's start. History for a large universe is hundreds of thousands of
// these, so it is kept small.
type mbar struct {
	m          int64
	o, h, l, c int32
	n          uint32
	v          uint64
	vw         float64
}

func (b mbar) wire() alpaca.Bar {
	return alpaca.Bar{
		Timestamp:  time.Unix(b.m*60, 0).UTC(),
		Open:       dollars(b.o),
		High:       dollars(b.h),
		Low:        dollars(b.l),
		Close:      dollars(b.c),
		Volume:     b.v,
		TradeCount: uint64(b.n),
		VWAP:       math.Round(b.vw*10000) / 10000,
	}
}

// mergeAfter folds a later bar into b.
func (b *mbar) mergeAfter(x mbar) {
	b.c = x.c
	b.mergeRange(x)
}

func (b *mbar) mergeRange(x mbar) {
	b.h = max(b.h, x.h)
	b.l = min(b.l, x.l)
	if b.v+x.v > 0 {
		b.vw = (b.vw*float64(b.v) + x.vw*float64(x.v)) / float64(b.v+x.v)
	}
	b.v += x.v
	b.n += x.n
}

// addTrade folds one print into a bar that already has at least one.
func (b *mbar) addTrade(p int32, size uint32) {
	b.c = p
	b.h = max(b.h, p)
	b.l = min(b.l, p)
	b.vw = (b.vw*float64(b.v) + dollars(p)*float64(size)) / float64(b.v+uint64(size))
	b.v += uint64(size)
	b.n++
}

// tick is one event of a symbol: always a quote, and a trade when tid is
// non-zero. Prices are cents; bx/ax/tx index exchCodes.
type tick struct {
	t, qt        int64 // trade and quote time, unix ns
	tid          int64
	bid, ask, tp int32
	bs, as, ts   uint32
	bx, ax, tx   uint8
}

type tickChunk struct {
	n     int
	ticks [chunkSize]tick
}

// series is one symbol's stored market data. Market.mu guards the slice
// headers; elements are immutable once published (bars are only appended,
// trimming copies, full chunks are never written), so a reader copies the
// headers under RLock and reads without holding it.
type series struct {
	bars   []mbar
	chunks []*tickChunk
	// boundary is the first minute served from real ticks; earlier
	// minutes are synthesized from their bars.
	boundary int64
	// exact, in replay, is bars as recorded (index for index); nil for
	// the synthetic market.
	exact []exactBar
}

// view is a lock-free read handle on a series.
type view struct {
	bars     []mbar
	exact    []exactBar
	chunks   []*tickChunk
	lastN    int
	boundary int64
	key      uint64
	spread   int64
	seed     uint64
}

func dollars(c int32) float64 { return float64(c) / 100 }

func toCents(p float64) int32 {
	c := int32(math.Round(p * 100))
	return max(c, 100)
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// tradeSize draws a print size: odd lots are common, round lots the norm,
// blocks occasional.
func tradeSize(r *rng) uint32 {
	u := r.float()
	switch {
	case u < 0.35:
		return uint32(1 + r.intn(99))
	case u < 0.9:
		return uint32(100 * (1 + r.intn(3)))
	default:
		return uint32(100 * (1 + r.intn(20)))
	}
}

func lotSize(r *rng) uint32 { return uint32(100 * (1 + r.intn(9))) }

func tradeConditions(size uint32) []string {
	if size < 100 {
		return condOddLot
	}
	return condRegular
}

// genHistory walks backward from startPrice over the minutes [m0-count,
// m0) that open reports as in session and returns their bars, oldest
// first. Each minute draws from its own keyed stream, so the walk is
// reproducible from (seed, symbol, clock) alone.
func genHistory(seed, key uint64, sym Symbol, m0 int64, open []bool) []mbar {
	sigma, rate := walkParams(sym)
	bars := make([]mbar, 0, len(open))
	c := sym.Price
	for i := len(open) - 1; i >= 0; i-- {
		if !open[i] {
			continue
		}
		m := m0 - int64(len(open)) + int64(i)
		var b mbar
		b, c = histBar(seed, key, sigma, rate, m, c)
		bars = append(bars, b)
	}
	for i, j := 0, len(bars)-1; i < j; i, j = i+1, j-1 {
		bars[i], bars[j] = bars[j], bars[i]
	}
	return bars
}

// walkParams are the per-minute volatility and the mean prints per minute
// of sym's minute walk.
func walkParams(sym Symbol) (sigma, rate float64) {
	return sym.Volatility * math.Sqrt(1.0/(252*390)), sym.TradesPerMinute
}

// histBar is minute m of the backward walk: the bar that closes at c, and
// its open, which is where the minute before closed.
func histBar(seed, key uint64, sigma, rate float64, m int64, c float64) (mbar, float64) {
	r := newRNG(seed, key, uint64(m))
	o := c * math.Exp(-sigma*r.norm())
	if o < 1.01 {
		o = 1.01 + (1.01 - o)
	}
	return shapeBar(&r, seed, key, sigma, rate, m, o, c), o
}

// fwdBar is minute m of the forward walk of a Lazy symbol: the bar that
// opens at o, and its close. It draws from the same keyed stream the
// backward walk would for that minute.
func fwdBar(seed, key uint64, sigma, rate float64, m int64, o float64) (mbar, float64) {
	r := newRNG(seed, key, uint64(m))
	c := o * math.Exp(sigma*r.norm())
	if c < 1.01 {
		c = 1.01 + (1.01 - c)
	}
	return shapeBar(&r, seed, key, sigma, rate, m, o, c), c
}

// shapeBar completes a minute's bar from its open and close: prints,
// wicks, volume and VWAP, drawing from r after the move.
func shapeBar(r *rng, seed, key uint64, sigma, rate float64, m int64, o, c float64) mbar {
	n := max(1, int(rate*(0.4+1.2*r.float())))
	b := mbar{m: m, o: toCents(o), c: toCents(c), n: uint32(n)}
	if n == 1 {
		b.o = b.c
	}
	b.h, b.l = max(b.o, b.c), min(b.o, b.c)
	if n >= 4 {
		wick := sigma * c * 100 * 0.6
		b.h += int32(math.Abs(r.norm()) * wick)
		b.l = max(100, b.l-int32(math.Abs(r.norm())*wick))
	}
	rs := newRNG(seed, key, uint64(m), sizeStream)
	for range n {
		b.v += uint64(tradeSize(&rs))
	}
	vw := (float64(b.o) + float64(b.h) + float64(b.l) + float64(b.c)) / 400
	b.vw = math.Round(vw*10000) / 10000
	return b
}

// synthMinute regenerates the prints and quotes of a minute from its bar:
// n trades whose first is the open, last the close, touching the high and
// low, sizes summing to the volume, each preceded by a quote that brackets
// it. Only the VWAP is approximate. It is how trades and quotes older than
// the retained tick ring are served.
func synthMinute(seed, key uint64, spread int64, b mbar, dst []tick) []tick {
	n := int(b.n)
	if n == 0 {
		return dst
	}
	r := newRNG(seed, key, uint64(b.m), 0x71c5)
	base := len(dst)
	for range n {
		dst = append(dst, tick{})
	}
	ts := dst[base:]
	// Prices follow a random-walk bridge from the open to the close,
	// scaled into the bar's range; the extremes land on the bridge's own
	// highest and lowest interior points.
	if n == 1 {
		ts[0].tp = b.c
	} else {
		xs := make([]float64, n)
		for k := 1; k < n; k++ {
			xs[k] = xs[k-1] + r.norm()
		}
		lo, hi := 0.0, 0.0
		hiAt, loAt := -1, -1
		for k := range xs {
			xs[k] -= xs[n-1] * float64(k) / float64(n-1)
			if k > 0 && k < n-1 {
				if hiAt < 0 || xs[k] > hi {
					hi, hiAt = xs[k], k
				}
				if loAt < 0 || xs[k] < lo {
					lo, loAt = xs[k], k
				}
			}
		}
		scale := 0.0
		if hi > lo {
			scale = float64(b.h-b.l) / (hi - lo) / 2
		}
		for k := range ts {
			p := float64(b.o) + float64(b.c-b.o)*float64(k)/float64(n-1) + scale*xs[k]
			ts[k].tp = min(b.h, max(b.l, int32(math.Round(p))))
		}
		ts[0].tp, ts[n-1].tp = b.o, b.c
		if hiAt == loAt {
			loAt = -1 // a single interior print can carry only one extreme
		}
		if b.h > max(b.o, b.c) && hiAt > 0 {
			ts[hiAt].tp = b.h
		}
		if b.l < min(b.o, b.c) && loAt > 0 {
			ts[loAt].tp = b.l
		} else if b.l < min(b.o, b.c) && hiAt > 0 && b.h <= max(b.o, b.c) {
			ts[hiAt].tp = b.l
		}
	}
	// Sizes: the bar's own size draws (history bars are built from the same
	// stream, so these reproduce them exactly), rescaled to sum to the
	// volume for live bars.
	rs := newRNG(seed, key, uint64(b.m), sizeStream)
	var wsum uint64
	for k := range ts {
		w := tradeSize(&rs)
		ts[k].ts = w
		wsum += uint64(w)
	}
	var sum uint64
	for k := range ts {
		s := uint64(ts[k].ts)
		if wsum != b.v {
			s = max(1, b.v*s/wsum)
		}
		ts[k].ts = uint32(s)
		sum += s
	}
	for k := 0; sum != b.v; k = (k + 1) % n {
		switch {
		case sum < b.v:
			add := b.v - sum
			ts[k].ts += uint32(add)
			sum += add
		case ts[k].ts > 1:
			sub := min(uint64(ts[k].ts-1), sum-b.v)
			ts[k].ts -= uint32(sub)
			sum -= sub
		}
	}
	// times: one slot per print, the quote just before its trade
	slot := nsPerMinute / int64(n)
	start := b.m * nsPerMinute
	for k := range ts {
		t := start + int64(k)*slot + slot/10 + r.intn(max(1, slot*8/10))
		ts[k].t = t
		ts[k].qt = t - 1 - r.intn(max(1, slot/10-1))
		ts[k].tid = b.m*idsPerMinute + int64(k)
		ts[k].tx = uint8(r.intn(int64(len(exchCodes))))
		bid := max(1, int64(ts[k].tp)-r.intn(spread+1))
		ts[k].bid = int32(bid)
		ts[k].ask = int32(bid + spread)
		ts[k].bs, ts[k].as = lotSize(&r), lotSize(&r)
		ts[k].bx = uint8(r.intn(quoteExchanges))
		ts[k].ax = uint8(r.intn(quoteExchanges))
	}
	return dst
}

// eachTick walks the ticks of minutes [fromMin, toMin] in time order (or
// reverse), synthesizing minutes before the boundary and reading the ring
// for the rest. It stops when yield returns false.
func (v *view) eachTick(fromMin, toMin int64, desc bool, yield func(*tick) bool) {
	synthTo := min(toMin, v.boundary-1)
	lo := sort.Search(len(v.bars), func(i int) bool { return v.bars[i].m >= fromMin })
	hi := sort.Search(len(v.bars), func(i int) bool { return v.bars[i].m > synthTo })
	var buf []tick
	synth := func(i int) bool {
		buf = synthMinute(v.seed, v.key, v.spread, v.bars[i], buf[:0])
		if desc {
			for k := len(buf) - 1; k >= 0; k-- {
				if !yield(&buf[k]) {
					return false
				}
			}
			return true
		}
		for k := range buf {
			if !yield(&buf[k]) {
				return false
			}
		}
		return true
	}
	realFrom := max(fromMin, v.boundary) * nsPerMinute
	realTo := (toMin + 1) * nsPerMinute
	// ring reports false only when yield asked to stop.
	ring := func() bool {
		nc := len(v.chunks)
		count := func(ci int) int {
			if ci == nc-1 {
				return v.lastN
			}
			return chunkSize
		}
		if desc {
			for ci := nc - 1; ci >= 0; ci-- {
				c := v.chunks[ci]
				for k := count(ci) - 1; k >= 0; k-- {
					t := &c.ticks[k]
					if t.t < realFrom {
						return true // done with the ring, not stopped
					}
					if t.t < realTo && !yield(t) {
						return false
					}
				}
			}
			return true
		}
		for ci := 0; ci < nc; ci++ {
			c := v.chunks[ci]
			for k := range count(ci) {
				t := &c.ticks[k]
				if t.t >= realTo {
					return true
				}
				if t.t >= realFrom && !yield(t) {
					return false
				}
			}
		}
		return true
	}
	if desc {
		if toMin >= v.boundary && !ring() {
			return
		}
		for i := hi - 1; i >= lo; i-- {
			if !synth(i) {
				return
			}
		}
		return
	}
	for i := lo; i < hi; i++ {
		if !synth(i) {
			return
		}
	}
	if toMin >= v.boundary {
		ring()
	}
}

// Timeframe units.
const (
	unitMin = iota
	unitHour
	unitDay
	unitWeek
	unitMonth
)

type timeframe struct {
	n    int
	unit int
}

// parseTimeframe accepts Alpaca's spellings: [1-59]Min|T, [1-23]Hour|H,
// 1Day|D, 1Week|W, [1,2,3,4,6,12]Month|M.
func parseTimeframe(s string) (timeframe, bool) {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == 0 || i > 2 || s[0] == '0' {
		return timeframe{}, false
	}
	n := 0
	for _, ch := range s[:i] {
		n = n*10 + int(ch-'0')
	}
	switch s[i:] {
	case "Min", "T":
		return timeframe{n, unitMin}, n <= 59
	case "Hour", "H":
		return timeframe{n, unitHour}, n <= 23
	case "Day", "D":
		return timeframe{n, unitDay}, n == 1
	case "Week", "W":
		return timeframe{n, unitWeek}, n == 1
	case "Month", "M":
		return timeframe{n, unitMonth}, n == 1 || n == 2 || n == 3 || n == 4 || n == 6 || n == 12
	}
	return timeframe{}, false
}

// bucketer maps a minute to the start minute of its timeframe bucket.
// Buckets are aligned in New York time, as Alpaca's are: days start at
// midnight ET, weeks on Monday, months on the 1st, and intraday buckets
// count from midnight. The last span is cached because bars arrive in
// order.
type bucketer struct {
	tf     timeframe
	loc    *time.Location
	lo, hi int64
}

func (b *bucketer) bucket(m int64) int64 {
	if b.tf.unit == unitMin && b.tf.n == 1 {
		return m
	}
	if m < b.lo || m >= b.hi || b.hi == 0 {
		b.lo, b.hi = b.span(m)
	}
	switch b.tf.unit {
	case unitMin:
		return b.lo + (m-b.lo)/int64(b.tf.n)*int64(b.tf.n)
	case unitHour:
		w := int64(b.tf.n) * 60
		return b.lo + (m-b.lo)/w*w
	}
	return b.lo
}

func (b *bucketer) span(m int64) (int64, int64) {
	t := time.Unix(m*60, 0).In(b.loc)
	y, mo, d := t.Date()
	var lo, hi time.Time
	switch b.tf.unit {
	case unitWeek:
		off := (int(t.Weekday()) + 6) % 7
		lo = time.Date(y, mo, d-off, 0, 0, 0, 0, b.loc)
		hi = time.Date(y, mo, d-off+7, 0, 0, 0, 0, b.loc)
	case unitMonth:
		first := (int(mo)-1)/b.tf.n*b.tf.n + 1
		lo = time.Date(y, time.Month(first), 1, 0, 0, 0, 0, b.loc)
		hi = time.Date(y, time.Month(first+b.tf.n), 1, 0, 0, 0, 0, b.loc)
	default:
		lo = time.Date(y, mo, d, 0, 0, 0, 0, b.loc)
		hi = time.Date(y, mo, d+1, 0, 0, 0, 0, b.loc)
	}
	return floorDiv(lo.Unix(), 60), floorDiv(hi.Unix(), 60)
}

// aggregate yields the buckets of timeframe tf whose start lies in
// [from, to] (unix ns) as spans of the minute bars: bucket start minute s
// and bars[i:j]. A bucket always covers all of its minutes even when they
// extend past to. Spans rather than merged bars, so that the caller merges
// with whichever prices it keeps (cents, or a replay's recorded values),
// always oldest first, and asc and desc requests agree to the last digit.
func aggregate(bars []mbar, tf timeframe, loc *time.Location, from, to int64, desc bool, yield func(s int64, i, j int) bool) {
	bk := bucketer{tf: tf, loc: loc}
	if !desc {
		i := sort.Search(len(bars), func(i int) bool { return bars[i].m*nsPerMinute >= from })
		lo, cur := -1, int64(0)
		for ; i < len(bars); i++ {
			s := bk.bucket(bars[i].m)
			if s*nsPerMinute < from {
				continue
			}
			if lo >= 0 && s != cur {
				if !yield(cur, lo, i) {
					return
				}
				lo = -1
			}
			if s*nsPerMinute > to {
				return
			}
			if lo < 0 {
				lo, cur = i, s
			}
		}
		if lo >= 0 {
			yield(cur, lo, len(bars))
		}
		return
	}
	k := sort.Search(len(bars), func(i int) bool { return bars[i].m*nsPerMinute > to })
	for k < len(bars) && bk.bucket(bars[k].m)*nsPerMinute <= to {
		k++
	}
	hi, lo, cur := -1, 0, int64(0)
	for i := k - 1; i >= 0; i-- {
		s := bk.bucket(bars[i].m)
		if s*nsPerMinute < from {
			break
		}
		if hi >= 0 && s != cur {
			if !yield(cur, lo, hi) {
				return
			}
			hi = -1
		}
		if hi < 0 {
			hi, cur = i+1, s
		}
		lo = i
	}
	if hi >= 0 {
		yield(cur, lo, hi)
	}
}

// merge renders bars [i, j) of the view as one bar starting at minute s:
// from the recorded values in replay, from the cents otherwise.
func (v *view) merge(s int64, i, j int) alpaca.Bar {
	if v.exact != nil {
		return mergeExact(s, v.exact[i:j])
	}
	acc := v.bars[i]
	for _, b := range v.bars[i+1 : j] {
		acc.mergeAfter(b)
	}
	acc.m = s
	return acc.wire()
}
