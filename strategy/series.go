package strategy

import (
	"github.com/shopspring/decimal"

	"github.com/quantum-alpaca/quantum/trading"
)

// WarmUp fills w with the closes of symbol's latest n minute bars. It is
// best effort: without history the strategy simply starts cold.
func WarmUp(env *trading.Env, w *Window, symbol string, n int) {
	bars, err := env.RecentBars(symbol, n)
	if err != nil {
		env.Logger().Warn("no bar history to warm up on", "symbol", symbol, "err", err)
		return
	}
	for _, b := range bars {
		if b.Close.IsPositive() {
			w.Add(b.Close)
		}
	}
}

// Window keeps the last n values of a price series for moving averages.
type Window struct {
	n    int
	vals []decimal.Decimal
}

// NewWindow returns an empty window of n values.
func NewWindow(n int) *Window { return &Window{n: n, vals: make([]decimal.Decimal, 0, n)} }

// Add appends v, dropping the oldest value when full.
func (w *Window) Add(v decimal.Decimal) {
	if len(w.vals) == w.n {
		copy(w.vals, w.vals[1:])
		w.vals = w.vals[:w.n-1]
	}
	w.vals = append(w.vals, v)
}

// Full reports whether the window holds n values.
func (w *Window) Full() bool { return len(w.vals) == w.n }

// Mean returns the mean of the last k values (all when k <= 0 or more
// than held); zero when empty.
func (w *Window) Mean(k int) decimal.Decimal {
	if k <= 0 || k > len(w.vals) {
		k = len(w.vals)
	}
	if k == 0 {
		return decimal.Zero
	}
	sum := decimal.Zero
	for _, v := range w.vals[len(w.vals)-k:] {
		sum = sum.Add(v)
	}
	return sum.DivRound(decimal.NewFromInt(int64(k)), 8)
}

// StdDev returns the population standard deviation of all values.
func (w *Window) StdDev() decimal.Decimal {
	if len(w.vals) < 2 {
		return decimal.Zero
	}
	m := w.Mean(0)
	ss := decimal.Zero
	for _, v := range w.vals {
		d := v.Sub(m)
		ss = ss.Add(d.Mul(d))
	}
	variance := ss.DivRound(decimal.NewFromInt(int64(len(w.vals))), 12)
	// decimal has no square root; float64 precision is ample for a
	// signal threshold (no money is computed from it).
	f, _ := variance.Float64()
	return decimal.NewFromFloat(sqrt(f))
}

func sqrt(x float64) float64 {
	if x <= 0 {
		return 0
	}
	z := x
	for i := 0; i < 50; i++ {
		z = (z + x/z) / 2
	}
	return z
}
