package market

import (
	"sync"
	"time"

	"github.com/quantum-alpaca/quantum/alpaca"
)

// withDefaults fills the zero parameters of s the way New does.
func (s Symbol) withDefaults() Symbol {
	if s.Volatility <= 0 {
		s.Volatility = 0.25
	}
	if s.SpreadCents <= 0 {
		s.SpreadCents = defaultSpread(s.Price, false)
	}
	if s.TradesPerMinute <= 0 {
		s.TradesPerMinute = 30
	}
	return s
}

// Spread returns the symbol's quoted spread in cents, derived from its
// price when not set.
func (s Symbol) Spread() int64 { return s.withDefaults().SpreadCents }

// SyntheticBars returns the one-minute bars the seeded synthetic market
// has for sym over [from, to): only minutes session reports open (nil:
// always open), oldest first. It is the generator behind the broker's bar
// history, walking back from sym.Price at to, so a backtest over the
// synthetic market sees the series the broker would serve for that
// window with the same seed. For a Lazy symbol that holds up to the
// broker's start: after it, the broker walks forward from Price.
func SyntheticBars(seed int64, sym Symbol, from, to time.Time, session func(time.Time) bool) []alpaca.Bar {
	sym = sym.withDefaults()
	m0 := floorDiv(to.UnixNano(), nsPerMinute)
	first := floorDiv(from.UnixNano()+nsPerMinute-1, nsPerMinute)
	if first >= m0 {
		return nil
	}
	open := make([]bool, m0-first)
	for i := range open {
		open[i] = session == nil || session(time.Unix((first+int64(i))*60, 0))
	}
	mb := genHistory(uint64(seed), hashString(sym.Symbol), sym, m0, open)
	out := make([]alpaca.Bar, len(mb))
	for i, b := range mb {
		out[i] = b.wire()
	}
	return out
}

// LookupSymbol returns the default universe's entry for ticker.
func LookupSymbol(ticker string) (Symbol, bool) {
	s, ok := universeBySymbol()[ticker]
	return s, ok
}

// universeBySymbol is the default universe with its defaults filled in,
// built once: building it derives every asset id, far too slow for a
// look-up made per bar.
var universeBySymbol = sync.OnceValue(func() map[string]Symbol {
	out := map[string]Symbol{}
	for _, s := range DefaultUniverse() {
		out[s.Symbol] = s.withDefaults()
	}
	return out
})
