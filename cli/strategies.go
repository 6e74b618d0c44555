package cli

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/quantum-alpaca/quantum/strategy"
)

// writeStrategies lists specs for the usage of a command that reads a
// config: each strategy with its summary, then its params with their
// defaults, all from the Specs so that the text names every registered
// strategy, a user's included, and cannot go stale.
func writeStrategies(w io.Writer, specs []strategy.Spec) {
	fmt.Fprintln(w, "Strategies (a tenant's strategy, then its params: name, default, meaning):")
	if len(specs) == 0 {
		fmt.Fprintln(w, "  none registered")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, s := range specs {
		// A line without a tab ends tabwriter's column block, so each
		// strategy's params align among themselves.
		fmt.Fprintf(tw, "  %s: %s\n", s.Name, s.Summary)
		for _, p := range s.Params {
			def := p.Default
			switch {
			case p.Required:
				def = "(required)"
			case def == "":
				def = `""`
			}
			fmt.Fprintf(tw, "      %s\t%s\t%s\n", p.Name, def, p.Help)
		}
	}
	tw.Flush()
}
