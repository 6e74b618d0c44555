package strategy

import (
	"math/rand/v2"
	"testing"

	"github.com/shopspring/decimal"
)

// Trend must agree with comparing the decimal means, whatever the values:
// it is how macross decides, live and in a backtest.
func TestWindowTrendMatchesMeans(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{1, 2, 5, 20} {
		w := NewWindow(n)
		for i := 0; i < 500; i++ {
			var v decimal.Decimal
			switch r.IntN(10) {
			case 0:
				v = decimal.RequireFromString("1e20") // no fixed form
			case 1:
				v = decimal.New(r.Int64N(1e6), -9) // too many decimals
			default:
				v = decimal.New(9000+r.Int64N(200), -2)
			}
			w.Add(v)
			for k := 0; k <= n; k++ {
				if got, want := w.Trend(k), w.Mean(k).Cmp(w.Mean(0)); got != want {
					t.Fatalf("n=%d step %d k=%d: Trend %d, means compare %d", n, i, k, got, want)
				}
			}
		}
	}
}
