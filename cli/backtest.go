package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/quantum-alpaca/quantum/backtest"
	"github.com/quantum-alpaca/quantum/backtest/report"
	"github.com/quantum-alpaca/quantum/bars"
	"github.com/quantum-alpaca/quantum/sim"
	"github.com/quantum-alpaca/quantum/sim/market"
	"github.com/quantum-alpaca/quantum/sim/match"
)

// backtestCommand is `quantum backtest`.
type backtestCommand struct{ app *App }

const backtestUsage = `Usage: quantum backtest --config FILE --from DATE --to DATE [--data DIR | --seed N]
                        [--report DIR] [--json] [--sweep SPEC [--rank METRIC] [--parallel N]]

Runs the config's tenants over history on a simulated clock, in process and
as fast as the CPU allows: the same strategies, risk gate and journal
semantics as "quantum run", against the paper broker's matching engine
(fills, partial fills, buying power, NYSE sessions). Broker, journal and key
settings in the config are ignored. Without --data it replays the broker's
seeded synthetic market for the dates; --data DIR reads recorded minute bars
(DIR/1Min/SYMBOL/YYYY-MM-DD.csv, as the bars package stores them).

A bar that starts at T becomes the quote at T+1m; timers fire at most once
per replayed minute. Same config, data and seed: same orders and report.

--sweep runs the config once for every combination of parameter values,
several at a time, and ranks them: 'fast=5..20:5,slow=30..60:10' is 16
runs (FROM..TO:STEP, inclusive; or a list, sample=bar|quote). A value goes
to every tenant whose strategy has that parameter; a combination a
strategy refuses (fast not below slow) is listed as skipped.

Flags:
`

func (c *backtestCommand) Run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("backtest", flag.ContinueOnError)
	fs.SetOutput(c.app.Stderr)
	cfgPath := fs.String("config", "", "config `FILE` (the format of quantum run)")
	fromS := fs.String("from", "", "first day, YYYY-MM-DD (New York) or RFC 3339")
	toS := fs.String("to", "", "end, exclusive: YYYY-MM-DD (New York) or RFC 3339")
	data := fs.String("data", "", "recorded bars `DIR`; empty: the synthetic market")
	seed := fs.Int64("seed", 1, "seed of the synthetic market and of partial fills")
	cash := fs.Float64("cash", backtest.DefaultCash, "starting cash of each tenant's account, USD")
	alwaysOpen := fs.Bool("always-open", false, "trade 24/7 instead of NYSE sessions")
	partial := fs.Float64("partial-fill-rate", match.DefaultPartialFillRate, "probability `P` in [0,1] that an eligible fill is partial (Alpaca paper: 0.1)")
	asJSON := fs.Bool("json", false, "print exactly one JSON object on stdout")
	reportDir := fs.String("report", "", "write index.html (self-contained) and each tenant's orders.csv and fills.csv into `DIR`")
	sweepSpec := fs.String("sweep", "", "parameter grid `SPEC` to run every combination of, e.g. 'fast=5..20:5,slow=30..60:10'")
	rank := fs.String("rank", "sharpe", "with --sweep: the `METRIC` to rank by ("+rankNames()+"), averaged over tenants")
	parallel := fs.Int("parallel", runtime.GOMAXPROCS(0), "with --sweep: combinations run at once")
	top := fs.Int("top", 20, "with --sweep: rows of the ranked table (0: all)")
	fs.Usage = func() {
		fmt.Fprint(c.app.Stderr, backtestUsage)
		fs.PrintDefaults()
		fmt.Fprintln(c.app.Stderr)
		writeStrategies(c.app.Stderr, c.app.strategies.Specs())
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("backtest: unexpected argument %q", fs.Arg(0))}
	}
	if *cfgPath == "" {
		return usageError{"backtest: --config is required"}
	}
	from, err := parseDay(*fromS)
	if err != nil {
		return usageError{"backtest: --from: " + err.Error()}
	}
	to, err := parseDay(*toS)
	if err != nil {
		return usageError{"backtest: --to: " + err.Error()}
	}
	if !from.Before(to) {
		return usageError{"backtest: --from must be before --to"}
	}
	var grid backtest.Grid
	if *sweepSpec != "" {
		if grid, err = backtest.ParseGrid(*sweepSpec); err != nil {
			return usageError{"backtest: --" + err.Error()}
		}
		if _, ok := rankMetrics[*rank]; !ok {
			return usageError{fmt.Sprintf("backtest: --rank %q: want one of %s", *rank, rankNames())}
		}
		if *parallel < 1 || *top < 0 {
			return usageError{"backtest: --parallel must be at least 1 and --top not negative"}
		}
	}
	cfg, err := ReadConfigFile(*cfgPath, c.app.getenv)
	if err != nil {
		return err
	}
	specs, err := cfg.validate(&c.app.strategies, true)
	if err != nil {
		return err
	}
	if !(*partial >= 0 && *partial <= 1) {
		return usageError{"backtest: --partial-fill-rate must be between 0 and 1"}
	}
	bc := backtest.Config{From: from, To: to, Seed: uint64(*seed), Cash: *cash, PartialFillRate: partial}
	var session func(time.Time) bool
	if !*alwaysOpen {
		bc.Calendar = sim.NYSE{}
		session = sim.NYSE{}.Open
	}
	if *data != "" {
		if st, err := os.Stat(*data); err != nil || !st.IsDir() {
			return usageError{fmt.Sprintf("backtest: --data %s: not a directory", *data)}
		}
		store, err := bars.Open(*data)
		if err != nil {
			return err
		}
		bc.Source = storeSource{store}
	} else {
		bc.Source = backtest.Synthetic{Seed: *seed, Session: session}
	}
	if grid != nil {
		if *reportDir != "" {
			return usageError{"backtest: --report is for one run, not a --sweep (run the combination you pick with --report)"}
		}
		return c.sweep(ctx, &cfg, bc, sweepOptions{grid: grid, rank: *rank, parallel: *parallel, top: *top, json: *asJSON})
	}
	for _, s := range specs {
		bc.Tenants = append(bc.Tenants, backtest.Tenant{ID: s.ID, StrategyName: s.Strategy, NewStrategy: s.NewStrategy, Limits: s.Limits, State: s.State})
	}
	if !*asJSON {
		fmt.Fprintf(c.app.Stderr, "backtest: %d tenant(s), %s to %s\n", len(bc.Tenants), from.Format(time.RFC3339), to.Format(time.RFC3339))
	}
	res, err := backtest.Run(ctx, bc)
	if err != nil {
		return err
	}
	if *reportDir != "" {
		source := "synthetic market, seed " + strconv.FormatInt(*seed, 10)
		if *data != "" {
			source = "recorded bars in " + *data
		}
		if err := report.Write(*reportDir, res, report.Meta{Source: source, Config: *cfgPath, From: from, To: to}); err != nil {
			return err
		}
		if !*asJSON {
			fmt.Fprintf(c.app.Stderr, "backtest: report in %s\n", filepath.Join(*reportDir, "index.html"))
		}
	}
	if *asJSON {
		enc := json.NewEncoder(c.app.Stdout)
		return enc.Encode(res)
	}
	tw := tabwriter.NewWriter(c.app.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "tenant\tstrategy\torders\tfills\tend equity\treturn %\tmax dd %\tsharpe\twin %\texposure %\t")
	for _, t := range res.Tenants {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%.2f\t%.4f\t%.4f\t%.4f\t%.2f\t%.2f\t\n", t.ID, t.Strategy, t.Orders, t.Fills, t.EndEquity, t.ReturnPct, t.MaxDrawdownPct, t.Sharpe, t.WinRate, t.ExposurePct)
	}
	tw.Flush()
	fmt.Fprintf(c.app.Stdout, "%d bars in %d ms (%.0f bars/s)\n", res.Bars, res.ElapsedMS, res.BarsPerSec)
	for _, t := range res.Tenants {
		if t.Error != "" {
			fmt.Fprintf(c.app.Stderr, "backtest: tenant %s stopped early: %s\n", t.ID, t.Error)
		}
	}
	return nil
}

// parseDay reads a date (midnight New York) or an RFC 3339 time.
func parseDay(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, errors.New("required")
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	d, err := bars.ParseDay(s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q: want YYYY-MM-DD or RFC 3339", s)
	}
	return d.Start(), nil
}

// storeSource reads recorded minute bars for a backtest.
type storeSource struct{ s *bars.Store }

func (s storeSource) Bars(symbol string, from, to time.Time) ([]backtest.Bar, error) {
	bs, err := s.s.Read(symbol, "1Min", from, to)
	if err != nil {
		return nil, err
	}
	out := make([]backtest.Bar, len(bs))
	for i, b := range bs {
		out[i] = backtest.Bar{Time: b.Time, Open: b.Open, High: b.High, Low: b.Low, Close: b.Close, Volume: b.Volume}
	}
	return out, nil
}

// Spread implements backtest.Source with the replaying broker's rule, so
// that a backtest over recorded bars fills at the prices "quantum broker
// --bars" quotes.
func (s storeSource) Spread(symbol string, close float64) int64 {
	return market.RecordedSpread(symbol, close)
}
