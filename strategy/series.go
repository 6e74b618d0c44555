package strategy

import (
	"math/bits"

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
// Besides the decimals it keeps each value as an integer of 1e-8 units
// with running sums, so that Trend, called on every bar of a backtest,
// compares averages exactly without decimal arithmetic.
type Window struct {
	n     int
	vals  []decimal.Decimal // ring of the last n values
	fixed []int64           // the same values in 1e-8 units
	head  int               // index of the oldest value once full
	bad   int               // values held that do not fit fixed
}

// fixedScale is the unit of Window.fixed: 1e-8, finer than any price.
const fixedScale = 8

// maxFixed bounds a fixed value so that n of them sum without overflow
// for any window up to maxFixedWindow values.
const (
	maxFixed       = int64(1) << 47 // about 1.4e6 dollars at 1e-8
	maxFixedWindow = 1 << 15
)

// NewWindow returns an empty window of n values.
func NewWindow(n int) *Window {
	return &Window{n: n, vals: make([]decimal.Decimal, 0, n), fixed: make([]int64, 0, n)}
}

func toFixed(v decimal.Decimal) (int64, bool) {
	exp := v.Exponent()
	if exp < -fixedScale || exp > 0 {
		return 0, false
	}
	if v.NumDigits() > 18 {
		return 0, false
	}
	f := v.CoefficientInt64()
	for ; exp > -fixedScale; exp-- {
		f *= 10
		if f > maxFixed || f < -maxFixed {
			return 0, false
		}
	}
	return f, f <= maxFixed && f >= -maxFixed
}

// Add appends v, dropping the oldest value when full.
func (w *Window) Add(v decimal.Decimal) {
	f, ok := toFixed(v)
	if len(w.vals) < w.n {
		w.vals = append(w.vals, v)
		w.fixed = append(w.fixed, f)
	} else {
		if !w.fits(w.head) {
			w.bad--
		}
		w.vals[w.head] = v
		w.fixed[w.head] = f
		w.head = (w.head + 1) % w.n
	}
	if !ok {
		w.fixed[w.idx(len(w.vals)-1)] = fixedNone
		w.bad++
	}
}

// fixedNone marks a value that has no fixed form.
const fixedNone = int64(-1) << 62

func (w *Window) fits(i int) bool { return w.fixed[i] != fixedNone }

// idx maps the i-th oldest value to its slot.
func (w *Window) idx(i int) int {
	if len(w.vals) < w.n {
		return i
	}
	return (w.head + i) % w.n
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
	for i := len(w.vals) - k; i < len(w.vals); i++ {
		sum = sum.Add(w.vals[w.idx(i)])
	}
	return sum.DivRound(decimal.NewFromInt(int64(k)), 8)
}

// Trend compares the mean of the last k values with the mean of all of
// them: 1 when it is above, -1 below, 0 equal (and when empty). It
// compares the exact means (Mean rounds to 8 places) in integer
// arithmetic, falling back to decimals for values finer than 1e-8.
func (w *Window) Trend(k int) int {
	n := len(w.vals)
	if k <= 0 || k > n {
		k = n
	}
	if k == 0 {
		return 0
	}
	if w.bad > 0 || n > maxFixedWindow {
		return w.Mean(k).Cmp(w.Mean(0))
	}
	var recent, all int64
	for i := 0; i < n; i++ {
		f := w.fixed[w.idx(i)]
		all += f
		if i >= n-k {
			recent += f
		}
	}
	// recent/k vs all/n  <=>  recent*n vs all*k, in 128 bits.
	return cmp128(recent, int64(n), all, int64(k))
}

// cmp128 compares a*b with c*d without overflow.
func cmp128(a, b, c, d int64) int {
	l := big128(a, b)
	r := big128(c, d)
	return l.cmp(r)
}

type i128 struct {
	neg    bool
	hi, lo uint64
}

func big128(a, b int64) i128 {
	neg := (a < 0) != (b < 0)
	ua, ub := abs(a), abs(b)
	hi, lo := bits.Mul64(ua, ub)
	if hi == 0 && lo == 0 {
		neg = false
	}
	return i128{neg, hi, lo}
}

func abs(v int64) uint64 {
	if v < 0 {
		return uint64(-v)
	}
	return uint64(v)
}

func (x i128) cmp(y i128) int {
	if x.neg != y.neg {
		if x.neg {
			return -1
		}
		return 1
	}
	c := 0
	switch {
	case x.hi != y.hi:
		c = 1
		if x.hi < y.hi {
			c = -1
		}
	case x.lo != y.lo:
		c = 1
		if x.lo < y.lo {
			c = -1
		}
	}
	if x.neg {
		c = -c
	}
	return c
}

// StdDev returns the population standard deviation of all values.
func (w *Window) StdDev() decimal.Decimal {
	if len(w.vals) < 2 {
		return decimal.Zero
	}
	m := w.Mean(0)
	ss := decimal.Zero
	for _, v := range w.vals { // order does not matter for a sum
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
