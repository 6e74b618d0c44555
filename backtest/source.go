package backtest

import (
	"fmt"
	"time"

	"github.com/quantum-alpaca/quantum/sim/market"
)

// Synthetic is the broker simulator's seeded synthetic market as a
// Source: the generator behind `quantum broker`'s bar history, for the
// symbols of its default universe.
type Synthetic struct {
	Seed int64
	// Session reports the minutes that have bars; nil: every minute.
	Session func(time.Time) bool
}

// Bars implements Source.
func (s Synthetic) Bars(symbol string, from, to time.Time) ([]Bar, error) {
	sym, ok := market.LookupSymbol(symbol)
	if !ok {
		return nil, fmt.Errorf("symbol %s is not in the synthetic market's universe (use recorded bars for it)", symbol)
	}
	wire := market.SyntheticBars(s.Seed, sym, from, to, s.Session)
	out := make([]Bar, len(wire))
	for i, b := range wire {
		out[i] = Bar{Time: b.Timestamp, Open: b.Open, High: b.High, Low: b.Low, Close: b.Close, Volume: b.Volume}
	}
	return out, nil
}

// Spread implements Source: the symbol's listed spread, whatever the
// price, as the synthetic market quotes it.
func (s Synthetic) Spread(symbol string, _ float64) int64 {
	if sym, ok := market.LookupSymbol(symbol); ok {
		return sym.Spread()
	}
	return 1
}
