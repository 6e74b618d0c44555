// Package market is the broker simulator's synthetic stock market: a
// seeded random walk per symbol with a quoted spread, minute bars built
// from the simulated prints on top of a deterministic history, and
// Alpaca's Market Data v2 API (REST and the stocks websocket) served from
// it.
//
// Determinism: given the same Config.Seed, universe and clock (the time
// at New and the times passed to Step), every quote, trade and bar is the
// same. Live ticks draw from one sequential stream per symbol; history and
// synthesized trades/quotes draw from streams keyed by (seed, symbol,
// minute), so any window can be regenerated on its own.
//
// Lazy symbols (Symbol.Lazy; most of the default universe, and any list
// of thousands) do not walk tick by tick: their minute bars are generated
// on demand from (seed, symbol, minute), back from Price for the history
// and forward from it after the market's construction, so they read the
// same whatever is asked for first or when, and a symbol nobody uses
// costs a few hundred bytes. A quote, trade, snapshot or stream
// subscription wakes one: from then its quote is the last minute's close
// with the spread around it (as a replay quotes), moving once a minute.
//
// Trades and quotes history: the last Config.RecentTicks ticks of each
// symbol are kept verbatim in a ring. Older minutes — the generated
// history and live minutes that have left the ring — are served by
// regenerating prints and quotes from the stored minute bar, consistent
// with its open, high, low, close, volume and trade count (the VWAP of
// the regenerated prints is only approximate). A minute therefore reads
// the same every time, except once, when it leaves the ring.
//
// Replay: with Config.Recorded the market replays recorded one-minute
// bars instead of walking at random. The universe is the recorded
// symbols (listed as in the default universe when it has them). Only bars
// that have ended by the market's current minute exist: history, latest
// bar, snapshots and the trades and quotes synthesized from the bars
// never show anything after the clock. While the clock is inside minute
// m+1 the quote is QuoteAtClose of bar m's close with RecordedSpread, the
// latest trade is bar m's close, and a minute without a recorded bar
// keeps the quote before it. When Step crosses the end of a minute that
// has bars, their closing prints, quotes, minute bars and daily bars go
// to the streams, as Alpaca publishes minute bars at the end of the
// minute, and the quotes to subscribers. Bars are served with their
// recorded values; synthesized trades and quotes are on the cent grid.
//
// Values returned by this package share their Conditions slices; callers
// must not modify them.
package market

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"time"
	_ "time/tzdata" // bars are bucketed in New York time on hosts without a zone database too

	"github.com/quantum-alpaca/quantum/alpaca"
)

// Defaults for Config fields left zero.
const (
	DefaultTickInterval = 100 * time.Millisecond
	DefaultHistoryDays  = 7
	DefaultStreamBuffer = 256
	DefaultAuthTimeout  = 10 * time.Second
)

// Config configures a Market. The zero value is usable.
type Config struct {
	// Seed selects the random walk; the same seed and clock give the same
	// market.
	Seed int64
	// Universe lists the symbols; DefaultUniverse() when empty.
	Universe []Symbol
	// Now is the clock; time.Now when nil. It is read at New (the end of
	// history) and by the ticker started with Start.
	Now func() time.Time
	// TickInterval is the ticker period of Start; each tick moves every
	// symbol one step. Defaults to DefaultTickInterval.
	TickInterval time.Duration
	// HistoryDays is how many calendar days of minute bars are generated
	// before the construction time. Defaults to DefaultHistoryDays (which
	// covers at least the last five trading days).
	HistoryDays int
	// Session reports whether the market is in session at t: outside it
	// prices do not move and no history is generated. Always open when
	// nil.
	Session func(t time.Time) bool
	// Auth checks stream credentials (APCA-API-KEY-ID/SECRET headers on
	// the upgrade or the auth message). When nil any non-empty pair is
	// accepted.
	Auth func(keyID, secret string) bool
	// Logger receives connection-level events; nil discards them.
	Logger *slog.Logger
	// RecentTicks is how many real ticks per symbol are kept verbatim for
	// trades/quotes history. Defaults to ten minutes' worth, between 1024
	// and 16384; it should cover more than a minute.
	RecentTicks int
	// StreamBuffer bounds each stream connection's outbound queue, in
	// messages (one per tick at most). A client that falls this far behind
	// gets error 407 and is disconnected. Defaults to DefaultStreamBuffer.
	StreamBuffer int
	// AuthTimeout is how long a stream connection may stay
	// unauthenticated. Defaults to DefaultAuthTimeout.
	AuthTimeout time.Duration
	// SeriesCache is how many Lazy symbols' generated series are kept
	// for reading at once; others are generated again when read.
	// Defaults to DefaultSeriesCache.
	SeriesCache int
	// Recorded, when non-nil, makes the market a replay of these
	// one-minute bars, keyed by symbol, instead of a random walk; see
	// Replay in the package documentation. Universe, Session,
	// HistoryDays and TickInterval's effect on prices do not apply. New
	// copies the bars.
	Recorded map[string][]alpaca.Bar
}

// Market is a running synthetic market. Its read methods are safe for
// concurrent use; Step calls are serialized.
type Market struct {
	cfg   Config
	log   *slog.Logger
	syms  []Symbol
	index map[string]int // ticker -> position in syms
	byID  map[string]int // asset id -> position in syms
	seed  uint64
	loc   *time.Location
	ring  int // max ticks per symbol, rounded up to whole chunks
	keep  int64

	// stepMu serializes Step and guards live, lastStep, curMinute and
	// subs.
	stepMu    sync.Mutex
	live      []liveState
	lastStep  int64
	curMinute int64
	subs      []*Subscription
	changed   []int

	// mu guards the series headers (see series).
	mu     sync.RWMutex
	series []series

	// pubs is each symbol's latest quote and trade, replaced whole so
	// that Quote and LatestTrade read them without locks; nil until a
	// symbol has any.
	pubs []atomic.Pointer[symPub]

	// liveIdx lists the symbols that walk tick by tick (all but the Lazy
	// ones).
	liveIdx []int
	// Lazy symbols: lazy (guarded by stepMu) is each one's forward walk,
	// awake marks those in use, which follow the clock minute by minute;
	// histOpen is whether each minute of [m0-len, m0) is in session, the
	// minutes their history has bars for. cache holds generated series.
	lazy        []lazyState
	awake       []atomic.Bool
	awakeList   []int
	lazyChanged []int
	histOpen    []bool
	m0          int64
	cache       lazyCache
	// curMin mirrors curMinute for readers that do not take stepMu.
	curMin atomic.Int64

	// rep is the replay state; nil for the synthetic market.
	rep *replay

	connMu sync.Mutex
	conns  map[*streamConn]struct{}
	// news is the news stream's clients and cursor (newsstream.go).
	news   newsHub
	fanout atomic.Pointer[[]*streamConn]
	closed bool

	ctx       context.Context
	cancel    context.CancelFunc
	connWG    sync.WaitGroup
	tickWG    sync.WaitGroup
	startOnce sync.Once
	closeOnce sync.Once

	// writeCtx bounds stream writes. Close cancels it streamFinalTimeout
	// after ctx, so that only a write stalled on its client is cut short:
	// canceling a write's context as the write completes drops the
	// connection without the close frame its writer is about to send.
	writeCtx    context.Context
	abortWrites context.CancelFunc
}

// liveState is the random walk of one symbol; only Step touches it.
type liveState struct {
	key    uint64
	r      rng
	mid    float64
	sigma  float64 // per-tick log volatility
	pTrade float64
	spread int64
	tape   string

	bid, ask  int32
	bs, as    uint32
	bx, ax    uint8
	cur       mbar
	curOK     bool
	seq       int64
	seqMinute int64
}

// symPub is a symbol's latest quote and trade, immutable once published.
type symPub struct {
	quote    alpaca.Quote
	trade    alpaca.Trade
	hasQuote bool // a replayed symbol has none before its first bar
	hasTrade bool
}

// New builds a market and its history. It starts nothing; call Start to
// run the ticker, or drive it with Step.
func New(cfg Config) (*Market, error) {
	var rep *replay
	if cfg.Recorded != nil {
		var err error
		if rep, cfg.Universe, err = newReplay(cfg.Recorded); err != nil {
			return nil, err
		}
	} else if len(cfg.Universe) == 0 {
		cfg.Universe = DefaultUniverse()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.TickInterval <= 0 {
		cfg.TickInterval = DefaultTickInterval
	}
	if cfg.HistoryDays <= 0 {
		cfg.HistoryDays = DefaultHistoryDays
	}
	if cfg.Session == nil {
		cfg.Session = func(time.Time) bool { return true }
	}
	if cfg.Auth == nil {
		cfg.Auth = func(k, s string) bool { return k != "" && s != "" }
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.RecentTicks <= 0 {
		cfg.RecentTicks = min(16384, max(1024, int(10*time.Minute/cfg.TickInterval)))
	}
	if cfg.StreamBuffer <= 0 {
		cfg.StreamBuffer = DefaultStreamBuffer
	}
	if cfg.AuthTimeout <= 0 {
		cfg.AuthTimeout = DefaultAuthTimeout
	}
	if cfg.SeriesCache <= 0 {
		cfg.SeriesCache = DefaultSeriesCache
	}
	loc, err := time.LoadLocation("America/New_York")
	if err != nil {
		return nil, err
	}
	m := &Market{
		cfg:   cfg,
		log:   cfg.Logger,
		syms:  make([]Symbol, len(cfg.Universe)),
		index: make(map[string]int, len(cfg.Universe)),
		byID:  make(map[string]int, len(cfg.Universe)),
		seed:  uint64(cfg.Seed),
		loc:   loc,
		ring:  (cfg.RecentTicks + chunkSize - 1) / chunkSize * chunkSize,
		keep:  int64(max(cfg.HistoryDays, 30)) * 1440,
		conns: map[*streamConn]struct{}{},
		rep:   rep,
	}
	copy(m.syms, cfg.Universe)
	for i := range m.syms {
		s := &m.syms[i]
		if s.Symbol == "" {
			return nil, errors.New("market: universe symbol with empty ticker")
		}
		if _, dup := m.index[s.Symbol]; dup {
			return nil, errors.New("market: duplicate symbol " + s.Symbol)
		}
		if rep == nil && (!(s.Price >= 1) || math.IsInf(s.Price, 0) || s.Price > 1e6) {
			return nil, errors.New("market: price of " + s.Symbol + " must be between 1 and 1e6")
		}
		if s.AssetID == "" {
			s.AssetID = AssetID(s.Symbol)
		}
		if s.Volatility <= 0 {
			s.Volatility = 0.25
		}
		if s.SpreadCents <= 0 {
			s.SpreadCents = defaultSpread(s.Price, false)
		}
		if s.TradesPerMinute <= 0 {
			s.TradesPerMinute = 30
		}
		m.index[s.Symbol] = i
		m.byID[s.AssetID] = i
	}
	m.ctx, m.cancel = context.WithCancel(context.Background())
	m.writeCtx, m.abortWrites = context.WithCancel(context.Background())

	t0 := cfg.Now().UnixNano()
	m0 := floorDiv(t0, nsPerMinute)
	m.lastStep, m.curMinute, m.m0 = t0, m0, m0
	m.curMin.Store(m0)
	m.pubs = make([]atomic.Pointer[symPub], len(m.syms))
	if rep != nil {
		m.startReplay(m0)
		return m, nil
	}
	open := make([]bool, cfg.HistoryDays*1440)
	for i := range open {
		open[i] = cfg.Session(time.Unix(0, (m0-int64(len(open))+int64(i))*nsPerMinute))
	}
	m.histOpen = open
	ticksPerMinute := float64(time.Minute) / float64(cfg.TickInterval)
	m.live = make([]liveState, len(m.syms))
	m.series = make([]series, len(m.syms))
	m.lazy = make([]lazyState, len(m.syms))
	m.awake = make([]atomic.Bool, len(m.syms))
	m.cache.init(cfg.SeriesCache)
	for i, s := range m.syms {
		key := hashString(s.Symbol)
		ls := &m.live[i]
		ls.key = key
		if s.Lazy && !s.Test {
			ls.spread, ls.tape, ls.seqMinute = s.SpreadCents, s.Tape(), -1
			m.series[i] = series{boundary: noTicks}
			continue
		}
		m.syms[i].Lazy = false
		m.liveIdx = append(m.liveIdx, i)
		ls.r = newRNG(m.seed, key, 0x11fe)
		ls.mid = s.Price
		ls.sigma = s.Volatility * math.Sqrt(cfg.TickInterval.Seconds()/(252*6.5*3600))
		ls.pTrade = min(1, s.TradesPerMinute/ticksPerMinute)
		ls.spread = s.SpreadCents
		ls.tape = s.Tape()
		ls.seqMinute = -1
		ls.bs, ls.as = lotSize(&ls.r), lotSize(&ls.r)
		ls.bx, ls.ax = uint8(ls.r.intn(quoteExchanges)), uint8(ls.r.intn(quoteExchanges))
		ls.setQuote()

		bars := genHistory(m.seed, key, s, m0, open)
		m.series[i] = series{bars: bars, boundary: m0}
		p := &symPub{quote: ls.quote(t0), hasQuote: true}
		if len(bars) > 0 {
			last := synthMinute(m.seed, key, ls.spread, bars[len(bars)-1], nil)
			p.trade, p.hasTrade = tradeOf(&last[len(last)-1], ls.tape), true
		}
		m.pubs[i].Store(p)
	}
	return m, nil
}

// setQuote derives the quoted prices from the mid: a bid on the cent grid
// and an ask one spread above it, never below $1.
func (ls *liveState) setQuote() {
	sp := ls.spread
	if ls.r.float() < 0.15 {
		sp++ // the spread flickers a tick wider now and then
	}
	bid := int32(math.Floor(ls.mid*100 - float64(sp)/2))
	bid = max(bid, 100)
	ls.bid, ls.ask = bid, bid+int32(sp)
}

func (ls *liveState) quote(ns int64) alpaca.Quote {
	return alpaca.Quote{
		Timestamp:   time.Unix(0, ns).UTC(),
		BidExchange: exchCodes[ls.bx],
		BidPrice:    dollars(ls.bid),
		BidSize:     ls.bs,
		AskExchange: exchCodes[ls.ax],
		AskPrice:    dollars(ls.ask),
		AskSize:     ls.as,
		Conditions:  condQuote,
		Tape:        ls.tape,
	}
}

func tradeOf(t *tick, tape string) alpaca.Trade {
	return alpaca.Trade{
		Timestamp:  time.Unix(0, t.t).UTC(),
		Exchange:   exchCodes[t.tx],
		Price:      dollars(t.tp),
		Size:       t.ts,
		ID:         t.tid,
		Conditions: tradeConditions(t.ts),
		Tape:       tape,
	}
}

func quoteOf(t *tick, tape string) alpaca.Quote {
	return alpaca.Quote{
		Timestamp:   time.Unix(0, t.qt).UTC(),
		BidExchange: exchCodes[t.bx],
		BidPrice:    dollars(t.bid),
		BidSize:     t.bs,
		AskExchange: exchCodes[t.ax],
		AskPrice:    dollars(t.ask),
		AskSize:     t.as,
		Conditions:  condQuote,
		Tape:        tape,
	}
}

// Start runs the ticker: every TickInterval it calls Step with the
// configured clock, until ctx is done or Close is called. Calls after the
// first do nothing.
func (m *Market) Start(ctx context.Context) {
	m.startOnce.Do(func() {
		m.tickWG.Add(1)
		go func() {
			defer m.tickWG.Done()
			t := time.NewTicker(m.cfg.TickInterval)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-m.ctx.Done():
					return
				case <-t.C:
					m.Step(m.cfg.Now())
				}
			}
		}()
	})
}

// Close stops the ticker, disconnects every stream connection, closes
// every Subscription and waits for all of the market's goroutines. The
// read methods keep working on the last state.
func (m *Market) Close() error {
	m.closeOnce.Do(func() {
		m.connMu.Lock()
		m.closed = true
		m.connMu.Unlock()
		m.cancel()
		abort := time.AfterFunc(streamFinalTimeout, m.abortWrites)
		m.tickWG.Wait()
		m.connWG.Wait()
		abort.Stop()
		m.abortWrites()
		m.stepMu.Lock()
		for _, s := range m.subs {
			s.closeLocked()
		}
		m.subs = nil
		m.stepMu.Unlock()
	})
	return nil
}

// Step advances the market by one tick at now: it closes the previous
// minute's bars when now is in a later minute and, if the session is
// open, moves every symbol one step, prints quotes and trades, publishes
// them to Quote/LatestTrade readers, subscribers and stream clients. A
// now earlier than the previous step is treated as the previous step's
// time.
func (m *Market) Step(now time.Time) {
	m.stepMu.Lock()
	defer m.stepMu.Unlock()
	ns := max(now.UnixNano(), m.lastStep)
	m.lastStep = ns
	minute := floorDiv(ns, nsPerMinute)
	conns := m.fanout.Load()
	streaming := conns != nil && len(*conns) > 0
	var b *batch
	if streaming {
		b = &batch{}
	}
	if m.rep != nil {
		if minute > m.curMinute {
			m.rollReplay(minute, b)
			m.curMinute = minute
		}
	} else if minute > m.curMinute {
		m.rollMinute(b)
		m.rollLazy(minute, b)
		m.curMinute = minute
	}
	m.curMin.Store(m.curMinute)
	if m.rep == nil && m.cfg.Session(time.Unix(0, ns)) {
		m.tick(ns, minute, b)
	}
	if streaming && len(b.items) > 0 {
		for _, c := range *conns {
			c.offer(b)
		}
	}
	m.publishNews(ns)
}

// rollMinute closes the in-progress minute bars.
func (m *Market) rollMinute(b *batch) {
	cutoff := m.curMinute - m.keep
	rolled := m.changed[:0]
	m.mu.Lock()
	for _, i := range m.liveIdx {
		ls := &m.live[i]
		if !ls.curOK {
			continue
		}
		ls.curOK = false
		rolled = append(rolled, i)
		s := &m.series[i]
		s.bars = append(s.bars, ls.cur)
		if len(s.bars) > 0 && s.bars[0].m < cutoff-1440 {
			// Trim a day at a time, into a new array: readers may hold
			// the old one.
			k := 0
			for k < len(s.bars) && s.bars[k].m < cutoff {
				k++
			}
			s.bars = append([]mbar(nil), s.bars[k:]...)
		}
	}
	m.mu.Unlock()
	if b == nil {
		return
	}
	for _, i := range rolled {
		ls := &m.live[i]
		b.items = append(b.items, item{kind: 'b', sym: i, bar: ls.cur.wire()})
		v := view{bars: m.series[i].bars}
		if d := m.dailyBars(&v, 1); len(d) > 0 {
			b.items = append(b.items, item{kind: 'd', sym: i, bar: d[0]})
		}
	}
}

// dailyBars returns up to n most recent daily bars of v, newest first.
func (m *Market) dailyBars(v *view, n int) []alpaca.Bar {
	out := make([]alpaca.Bar, 0, n)
	aggregate(v.bars, timeframe{1, unitDay}, m.loc, math.MinInt64, math.MaxInt64, true, func(s int64, i, j int) bool {
		out = append(out, v.merge(s, i, j))
		return len(out) < n
	})
	return out
}

// tick moves every symbol one step.
func (m *Market) tick(ns, minute int64, b *batch) {
	m.changed = m.changed[:0]
	m.mu.Lock()
	for _, i := range m.liveIdx {
		ls := &m.live[i]
		t := ls.advance(ns, minute)
		m.appendTick(i, t)
		p := &symPub{quote: quoteOf(&t, ls.tape), hasQuote: true}
		if t.tid != 0 {
			p.trade, p.hasTrade = tradeOf(&t, ls.tape), true
		} else if prev := m.pubs[i].Load(); prev != nil {
			p.trade, p.hasTrade = prev.trade, prev.hasTrade
		}
		m.pubs[i].Store(p)
		m.changed = append(m.changed, i)
		if b != nil {
			if t.tid != 0 {
				b.items = append(b.items, item{kind: 't', sym: i, trade: p.trade})
			}
			b.items = append(b.items, item{kind: 'q', sym: i, quote: p.quote})
		}
	}
	m.mu.Unlock()
	for _, s := range m.subs {
		s.offer(m, m.changed)
	}
}

// advance moves the walk one step and returns the resulting tick.
func (ls *liveState) advance(ns, minute int64) tick {
	r := &ls.r
	ls.mid *= math.Exp(ls.sigma*r.norm() - ls.sigma*ls.sigma/2)
	if floor := 1 + float64(ls.spread)/100; ls.mid < floor {
		ls.mid = 2*floor - ls.mid // reflect off the $1 floor
	}
	ls.setQuote()
	if r.float() < 0.4 {
		ls.bs = lotSize(r)
	}
	if r.float() < 0.4 {
		ls.as = lotSize(r)
	}
	if r.float() < 0.05 {
		ls.bx = uint8(r.intn(quoteExchanges))
	}
	if r.float() < 0.05 {
		ls.ax = uint8(r.intn(quoteExchanges))
	}
	t := tick{t: ns, qt: ns, bid: ls.bid, ask: ls.ask, bs: ls.bs, as: ls.as, bx: ls.bx, ax: ls.ax}
	if r.float() >= ls.pTrade {
		return t
	}
	if ls.seqMinute != minute {
		ls.seq, ls.seqMinute = 0, minute
	}
	t.tid = minute*idsPerMinute + ls.seq
	ls.seq++
	t.tp = ls.bid + int32(r.intn(int64(ls.ask-ls.bid)+1))
	t.ts = tradeSize(r)
	t.tx = uint8(r.intn(int64(len(exchCodes))))
	if ls.curOK {
		ls.cur.addTrade(t.tp, t.ts)
	} else {
		ls.cur = mbar{m: minute, o: t.tp, h: t.tp, l: t.tp, c: t.tp, n: 1, v: uint64(t.ts), vw: dollars(t.tp)}
		ls.curOK = true
	}
	return t
}

// appendTick stores a tick in the symbol's ring; the caller holds m.mu.
func (m *Market) appendTick(i int, t tick) {
	s := &m.series[i]
	if n := len(s.chunks); n == 0 || s.chunks[n-1].n == chunkSize {
		if n*chunkSize >= m.ring {
			// Evict whole chunks: a reader may still hold the old one.
			s.chunks = s.chunks[1:]
			s.boundary = max(s.boundary, floorDiv(s.chunks[0].ticks[0].t, nsPerMinute)+1)
		}
		s.chunks = append(s.chunks, new(tickChunk))
	}
	c := s.chunks[len(s.chunks)-1]
	c.ticks[c.n] = t
	c.n++
}

// view returns a lock-free read handle on symbol i's series.
func (m *Market) view(i int) view {
	if m.syms[i].Lazy {
		return m.lazyView(i)
	}
	m.mu.RLock()
	s := &m.series[i]
	v := view{bars: s.bars, exact: s.exact, chunks: s.chunks, boundary: s.boundary}
	if n := len(s.chunks); n > 0 {
		v.lastN = s.chunks[n-1].n
	}
	m.mu.RUnlock()
	v.key, v.spread, v.seed = m.live[i].key, m.syms[i].SpreadCents, m.seed
	return v
}

// Quote returns the latest quote of symbol; false when the symbol is
// unknown or, in replay, before its first recorded bar has ended. It does
// not lock or allocate (but for a Lazy symbol's first use, which wakes
// it), so the order path may call it freely.
func (m *Market) Quote(symbol string) (alpaca.Quote, bool) {
	p := m.latest(symbol)
	if p == nil {
		return alpaca.Quote{}, false
	}
	return p.quote, p.hasQuote
}

// latest is symbol's published prints, waking a Lazy symbol; nil when
// there are none.
func (m *Market) latest(symbol string) *symPub {
	i, ok := m.index[symbol]
	if !ok {
		return nil
	}
	if m.syms[i].Lazy && !m.awake[i].Load() {
		m.wake(i)
	}
	return m.pubs[i].Load()
}

// LatestTrade returns the latest print of symbol; false when the symbol is
// unknown or has never traded.
func (m *Market) LatestTrade(symbol string) (alpaca.Trade, bool) {
	p := m.latest(symbol)
	if p == nil {
		return alpaca.Trade{}, false
	}
	return p.trade, p.hasTrade
}

// LatestBar returns the latest completed minute bar of symbol.
func (m *Market) LatestBar(symbol string) (alpaca.Bar, bool) {
	i, ok := m.index[symbol]
	if !ok {
		return alpaca.Bar{}, false
	}
	v := m.view(i)
	n := len(v.bars)
	if n == 0 {
		return alpaca.Bar{}, false
	}
	return v.merge(v.bars[n-1].m, n-1, n), true
}

// Snapshot returns symbol's latest trade and quote, latest minute bar,
// and the current and previous daily bars (derived from minute bars in
// New York days).
func (m *Market) Snapshot(symbol string) (alpaca.Snapshot, bool) {
	i, ok := m.index[symbol]
	if !ok {
		return alpaca.Snapshot{}, false
	}
	var s alpaca.Snapshot
	if p := m.latest(symbol); p != nil {
		if p.hasQuote {
			q := p.quote
			s.LatestQuote = &q
		}
		if p.hasTrade {
			t := p.trade
			s.LatestTrade = &t
		}
	}
	v := m.view(i)
	if n := len(v.bars); n > 0 {
		b := v.merge(v.bars[n-1].m, n-1, n)
		s.MinuteBar = &b
	}
	days := m.dailyBars(&v, 2)
	if len(days) > 0 {
		s.DailyBar = &days[0]
	}
	if len(days) > 1 {
		s.PrevDailyBar = &days[1]
	}
	return s, true
}

// Symbols returns the universe, in configuration order. The slice is a
// copy.
func (m *Market) Symbols() []Symbol {
	return append([]Symbol(nil), m.syms...)
}

// Lookup finds a symbol by ticker or by asset id.
func (m *Market) Lookup(symbolOrAssetID string) (Symbol, bool) {
	if i, ok := m.index[symbolOrAssetID]; ok {
		return m.syms[i], true
	}
	if i, ok := m.byID[symbolOrAssetID]; ok {
		return m.syms[i], true
	}
	return Symbol{}, false
}
