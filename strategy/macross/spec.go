package macross

import "github.com/quantum-alpaca/quantum/strategy"

// Spec describes macross to a registry: its name, its parameters as
// Parse reads them, and its constructor.
func Spec() strategy.Spec {
	return strategy.Spec{
		Name:    Name,
		Summary: "moving-average crossover: long one lot while the fast average is above the slow one, flat otherwise",
		Params: []strategy.Param{
			{Name: "symbol", Required: true, Help: "the ticker to trade"},
			{Name: "qty", Default: "1", Help: "shares per lot"},
			{Name: "fast", Default: "5", Help: "samples in the fast average; less than slow"},
			{Name: "slow", Default: "20", Help: "samples in the slow average"},
			{Name: "interval", Default: "1s", Help: "time between samples of the quote's mid (sample quote)"},
			{Name: "sample", Default: "quote", Help: "quote: the mid every interval; bar: the close of every one-minute bar"},
		},
		New: strategy.Factory(Parse, New),
	}
}
