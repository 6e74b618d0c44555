package rebalance

import "github.com/quantum-alpaca/quantum/strategy"

// Spec describes rebalance to a registry: its name, its parameters as
// Parse reads them, and its constructor.
func Spec() strategy.Spec {
	return strategy.Spec{
		Name:    Name,
		Summary: "hold a portfolio at target weights: every interval, trade each symbol back towards budget × weight",
		Params: []strategy.Param{
			{Name: "targets", Required: true, Help: "SYMBOL:WEIGHT,... (AAPL:0.6,MSFT:0.4); weights sum to at most 1"},
			{Name: "budget", Default: "10000", Help: "the money the portfolio is sized against, USD"},
			{Name: "band", Default: "0.05", Help: "drift tolerated before trading, as a fraction of a symbol's target value"},
			{Name: "interval", Default: "1m", Help: "time between rebalances"},
		},
		New: strategy.Factory(Parse, New),
	}
}
