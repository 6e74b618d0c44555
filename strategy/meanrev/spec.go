package meanrev

import "github.com/quantum-alpaca/quantum/strategy"

// Spec describes meanrev to a registry: its name, its parameters as
// Parse reads them, and its constructor.
func Spec() strategy.Spec {
	return strategy.Spec{
		Name:    Name,
		Summary: "mean reversion: buy a lot well below the moving average, sell one well above",
		Params: []strategy.Param{
			{Name: "symbol", Required: true, Help: "the ticker to trade"},
			{Name: "qty", Default: "1", Help: "shares per lot"},
			{Name: "window", Default: "20", Help: "samples in the moving average"},
			{Name: "threshold", Default: "1.5", Help: "distance from the average that trades, in standard deviations"},
			{Name: "max_lots", Default: "5", Help: "most lots held at once"},
			{Name: "interval", Default: "1s", Help: "time between samples of the quote's mid"},
		},
		New: strategy.Factory(Parse, New),
	}
}
