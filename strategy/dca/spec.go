package dca

import "github.com/quantum-alpaca/quantum/strategy"

// Spec describes dca to a registry: its name, its parameters as Parse
// reads them, and its constructor.
func Spec() strategy.Spec {
	return strategy.Spec{
		Name:    Name,
		Summary: "dollar-cost averaging: buy a fixed quantity or amount of one symbol every interval, up to a lifetime count",
		Params: []strategy.Param{
			{Name: "symbol", Required: true, Help: "the ticker to buy"},
			{Name: "qty", Default: "1", Help: "shares (or coins) per order; fractions allowed where the asset is fractionable"},
			{Name: "notional", Help: "money per order instead of qty (fractional quantities, e.g. 25 for $25 of BTC/USD)"},
			{Name: "interval", Default: "1m", Help: "time between orders"},
			{Name: "count", Default: "0", Help: "orders over the tenant's whole life, restarts included; 0 is no limit"},
		},
		New: strategy.Factory(Parse, New),
	}
}
