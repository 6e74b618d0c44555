package backtest

import (
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/shopspring/decimal"

	"github.com/quantum-alpaca/quantum/sim/match"
	"github.com/quantum-alpaca/quantum/trading"
)

// Bar is a one-minute OHLCV bar as a Source gives it; Time is its start.
type Bar struct {
	Time                   time.Time
	Open, High, Low, Close float64
	Volume                 uint64
}

// Source gives a backtest its history.
type Source interface {
	// Bars returns symbol's one-minute bars starting in [from, to),
	// oldest first; an unknown symbol is an error that names it.
	Bars(symbol string, from, to time.Time) ([]Bar, error)
	// Spread returns the quoted spread, in cents, of the quote derived
	// from a bar of symbol that closed at close (the broker's rule is
	// market.RecordedSpread for recorded bars).
	Spread(symbol string, close float64) int64
}

// series is one symbol's bars in the compact form the loop runs on.
type series struct {
	symbol string
	min    []int64 // unix minute of each bar's start
	o, h   []match.Price
	l, c   []match.Price
	vol    []uint64
	// q is the quote each bar's close leaves for the next minute,
	// derived once here rather than on every replayed minute.
	q []match.Quote
	// warm is how many leading bars come before the backtest's start:
	// history for RecentBars, never replayed.
	warm int
	decs map[match.Price]decimal.Decimal
	// at is the index of the last bar replayed (warm-1: none yet); the
	// tape's at map holds the same for look-ups by symbol.
	at int
}

func newSeries(symbol string, spread func(close float64) int64, bars []Bar, start time.Time) (*series, error) {
	s := &series{symbol: symbol}
	n := len(bars)
	s.min = make([]int64, 0, n)
	s.o, s.h, s.l, s.c = make([]match.Price, 0, n), make([]match.Price, 0, n), make([]match.Price, 0, n), make([]match.Price, 0, n)
	s.vol = make([]uint64, 0, n)
	s.q = make([]match.Quote, 0, n)
	prev := int64(math.MinInt64)
	for i, b := range bars {
		m := b.Time.Unix() / 60
		if b.Time.Unix()%60 != 0 || m <= prev {
			return nil, fmt.Errorf("%s: bar %d at %s: bars must start on whole minutes, in increasing order", symbol, i, b.Time.UTC().Format(time.RFC3339))
		}
		prev = m
		var ps [4]match.Price
		for j, f := range [4]float64{b.Open, b.High, b.Low, b.Close} {
			p, ok := match.PriceFromFloat(f)
			if !ok || p <= 0 {
				return nil, fmt.Errorf("%s: bar at %s: price %v out of range", symbol, b.Time.UTC().Format(time.RFC3339), f)
			}
			ps[j] = p
		}
		s.min = append(s.min, m)
		s.o, s.h, s.l, s.c = append(s.o, ps[0]), append(s.h, ps[1]), append(s.l, ps[2]), append(s.c, ps[3])
		s.vol = append(s.vol, b.Volume)
		s.q = append(s.q, QuoteAtClose(ps[3], spread(b.Close)))
		if b.Time.Before(start) {
			s.warm++
		}
	}
	return s, nil
}

// bar returns bar i for a strategy.
func (s *series) bar(i int) trading.Bar {
	return trading.Bar{
		Symbol: s.symbol, Time: time.Unix(s.min[i]*60, 0).UTC(),
		Open: s.dec(s.o[i]), High: s.dec(s.h[i]), Low: s.dec(s.l[i]), Close: s.dec(s.c[i]), Volume: float64(s.vol[i]),
	}
}

// maxDecCache bounds a series' cache of price decimals.
const maxDecCache = 1 << 15

// dec returns p as a decimal. A decimal is a pointer to a big integer,
// two allocations to make; a symbol's prices repeat over a backtest, and
// decimals are immutable, so one made once is shared from then on.
func (s *series) dec(p match.Price) decimal.Decimal {
	if d, ok := s.decs[p]; ok {
		return d
	}
	d := p.Decimal()
	if s.decs == nil {
		s.decs = make(map[match.Price]decimal.Decimal)
	}
	if len(s.decs) < maxDecCache {
		s.decs[p] = d
	}
	return d
}

// closes samples the closes of the replayed bars, warm+1 through last,
// down to at most maxCurvePoints (each sample the last close of its
// stretch).
func (s *series) closes(last int) []Point {
	first := s.warm
	n := last - first + 1
	if n <= 0 {
		return nil
	}
	every := (n + maxCurvePoints - 1) / maxCurvePoints
	out := make([]Point, 0, (n+every-1)/every)
	for i := first; i <= last; i += every {
		j := min(i+every-1, last)
		out = append(out, Point{Time: time.Unix(s.min[j]*60, 0).UTC(), Value: s.c[j].Float64()})
	}
	return out
}

// QuoteAtClose is the quote a backtest derives from a bar's close: the
// bid on the cent grid at or below the close minus half the spread, the
// ask one spread above the bid. It is market.QuoteAtClose, the replaying
// broker's rule, in fixed point (a test holds them equal).
func QuoteAtClose(close match.Price, spreadCents int64) match.Quote {
	const cent = match.PriceScale / 100
	spread := match.Price(max(spreadCents, 1)) * cent
	bid := (close - spread/2) / cent * cent
	if bid < cent {
		bid = cent
	}
	return match.Quote{Bid: bid, Ask: bid + spread}
}

// tape is the market as the backtest has replayed it so far: each
// symbol's last bar, shared by every tenant's broker.
type tape struct {
	series map[string]*series
	// at is the index of each symbol's last bar replayed (-1: none).
	at    map[string]int
	quote func(symbol string) (match.Quote, bool)
	mark  match.MarkFunc
	// loadHook, while set, loads a symbol's history on first request.
	loadHook func(symbol string) error
}

func newTape() *tape {
	t := &tape{series: map[string]*series{}, at: map[string]int{}}
	t.quote = func(symbol string) (match.Quote, bool) {
		s, i := t.last(symbol)
		if s == nil {
			return match.Quote{}, false
		}
		return s.q[i], true
	}
	t.mark = func(symbol string) (match.Price, bool) {
		q, ok := t.quote(symbol)
		return (q.Bid + q.Ask) / 2, ok
	}
	return t
}

func (t *tape) last(symbol string) (*series, int) {
	s := t.series[symbol]
	if s == nil {
		return nil, 0
	}
	i := t.at[symbol]
	if i < 0 {
		return nil, 0
	}
	return s, i
}

// recent answers RecentBars: up to n bars that ended by now.
func (t *tape) recent(symbol string, n int, now time.Time) ([]trading.Bar, error) {
	s := t.series[symbol]
	if s == nil && t.loadHook != nil {
		if err := t.loadHook(symbol); err != nil {
			return nil, err
		}
		s = t.series[symbol]
	}
	if s == nil || n <= 0 {
		return nil, nil
	}
	end := now.Unix()/60 - 1 // the last minute that has ended
	hi := sort.Search(len(s.min), func(i int) bool { return s.min[i] > end })
	lo := max(0, hi-n)
	out := make([]trading.Bar, 0, hi-lo)
	for i := lo; i < hi; i++ {
		out = append(out, s.bar(i))
	}
	return out, nil
}
