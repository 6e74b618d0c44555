package cli

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/quantum-alpaca/quantum/backtest"
	"github.com/quantum-alpaca/quantum/strategy"
)

// rankMetrics are the metrics a sweep can rank by; each is averaged over
// a combination's tenants. lower marks the ones where less is better.
var rankMetrics = map[string]struct {
	get   func(backtest.TenantResult) float64
	lower bool
}{
	"return":   {get: func(t backtest.TenantResult) float64 { return t.ReturnPct }},
	"sharpe":   {get: func(t backtest.TenantResult) float64 { return t.Sharpe }},
	"sortino":  {get: func(t backtest.TenantResult) float64 { return t.Sortino }},
	"drawdown": {get: func(t backtest.TenantResult) float64 { return t.MaxDrawdownPct }, lower: true},
	"win_rate": {get: func(t backtest.TenantResult) float64 { return t.WinRate }},
}

func rankNames() string {
	return strings.Join(slices.Sorted(maps.Keys(rankMetrics)), ", ")
}

// sweepRun is one combination's outcome.
type sweepRun struct {
	Rank   int               `json:"rank,omitempty"`
	Params map[string]string `json:"params"`
	// Score is the ranking metric averaged over the tenants.
	Score          float64                 `json:"score"`
	ReturnPct      float64                 `json:"return_pct"`
	MaxDrawdownPct float64                 `json:"max_drawdown_pct"`
	Sharpe         float64                 `json:"sharpe"`
	Sortino        float64                 `json:"sortino"`
	WinRate        float64                 `json:"win_rate"`
	Orders         int                     `json:"orders"`
	Fills          int                     `json:"fills"`
	Tenants        []backtest.TenantResult `json:"tenants,omitempty"`
	Skipped        string                  `json:"skipped,omitempty"`
	index          int
}

// sweepReport is what --sweep --json prints.
type sweepReport struct {
	Rank         string     `json:"rank"`
	Combinations int        `json:"combinations"`
	Parallel     int        `json:"parallel"`
	Bars         int        `json:"bars"`
	ElapsedMS    int64      `json:"elapsed_ms"`
	Results      []sweepRun `json:"results"`
	Skipped      []sweepRun `json:"skipped,omitempty"`
}

type sweepOptions struct {
	grid     backtest.Grid
	rank     string
	parallel int
	top      int
	json     bool
}

// sweep runs the config once per combination of the grid, opt.parallel
// at a time, each with the combination's values in the params of every
// tenant whose strategy reads them, and prints the ranked outcomes.
func (c *backtestCommand) sweep(ctx context.Context, cfg *Config, base backtest.Config, opt sweepOptions) error {
	for _, a := range opt.grid {
		if !c.someoneReads(cfg, a.Name) {
			return usageError{fmt.Sprintf("backtest: --sweep %s: no tenant's strategy has that parameter", a.Name)}
		}
	}
	combos := opt.grid.Combinations()
	base.Source = newCachedSource(base.Source)
	base.Logger = slog.New(slog.DiscardHandler)
	base.Progress = nil
	runs := make([]sweepRun, len(combos))
	started := time.Now()
	var (
		mu   sync.Mutex
		done int
		bars int
	)
	progress := newSweepProgress(c.app.Stderr, len(combos), !opt.json)
	work := make(chan int)
	var wg sync.WaitGroup
	for range opt.parallel {
		wg.Go(func() {
			for i := range work {
				r, n := c.sweepOne(ctx, cfg, base, combos[i])
				r.index = i
				runs[i] = r
				mu.Lock()
				done++
				bars += n
				progress(done)
				mu.Unlock()
			}
		})
	}
feed:
	for i := range combos {
		select {
		case work <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}

	metric := rankMetrics[opt.rank]
	rep := sweepReport{Rank: opt.rank, Combinations: len(combos), Parallel: opt.parallel, Bars: bars, ElapsedMS: time.Since(started).Milliseconds()}
	for _, r := range runs {
		if r.Skipped != "" {
			rep.Skipped = append(rep.Skipped, r)
			continue
		}
		r.Score = round4(mean(r.Tenants, metric.get))
		rep.Results = append(rep.Results, r)
	}
	slices.SortStableFunc(rep.Results, func(a, b sweepRun) int {
		if a.Score != b.Score {
			if metric.lower {
				return cmp.Compare(a.Score, b.Score)
			}
			return cmp.Compare(b.Score, a.Score)
		}
		return cmp.Compare(a.index, b.index)
	})
	for i := range rep.Results {
		rep.Results[i].Rank = i + 1
	}
	if opt.json {
		// ElapsedMS is the one field that differs between two runs.
		return json.NewEncoder(c.app.Stdout).Encode(rep)
	}
	c.printSweep(rep, opt)
	return nil
}

// someoneReads says whether any tenant's strategy declares param.
func (c *backtestCommand) someoneReads(cfg *Config, param string) bool {
	for _, t := range cfg.Tenants {
		spec, ok := c.app.strategies.Lookup(t.Strategy)
		if !ok {
			continue
		}
		if slices.ContainsFunc(spec.Params, func(p strategy.Param) bool { return p.Name == param }) {
			return true
		}
	}
	return false
}

// sweepOne runs one combination; a combination the strategies refuse
// (fast above slow, say) is skipped with the reason, not fatal.
func (c *backtestCommand) sweepOne(ctx context.Context, cfg *Config, base backtest.Config, combo map[string]string) (sweepRun, int) {
	r := sweepRun{Params: combo}
	cc := *cfg
	cc.Tenants = make([]TenantConfig, len(cfg.Tenants))
	for i, t := range cfg.Tenants {
		spec, _ := c.app.strategies.Lookup(t.Strategy)
		t.Params = maps.Clone(t.Params)
		if t.Params == nil {
			t.Params = strategy.Params{}
		}
		for _, p := range spec.Params {
			if v, ok := combo[p.Name]; ok {
				t.Params[p.Name] = v
			}
		}
		cc.Tenants[i] = t
	}
	specs, err := cc.validate(&c.app.strategies, true)
	if err != nil {
		r.Skipped = err.Error()
		return r, 0
	}
	bc := base
	bc.Tenants = nil
	for _, s := range specs {
		bc.Tenants = append(bc.Tenants, backtest.Tenant{ID: s.ID, StrategyName: s.Strategy, NewStrategy: s.NewStrategy, Limits: s.Limits, State: s.State})
	}
	res, err := backtest.Run(ctx, bc)
	if err != nil {
		r.Skipped = err.Error()
		return r, 0
	}
	r.Tenants = res.Tenants
	r.ReturnPct = round4(mean(res.Tenants, func(t backtest.TenantResult) float64 { return t.ReturnPct }))
	r.Sharpe = round4(mean(res.Tenants, func(t backtest.TenantResult) float64 { return t.Sharpe }))
	r.Sortino = round4(mean(res.Tenants, func(t backtest.TenantResult) float64 { return t.Sortino }))
	r.WinRate = round4(mean(res.Tenants, func(t backtest.TenantResult) float64 { return t.WinRate }))
	for _, t := range res.Tenants {
		r.MaxDrawdownPct = max(r.MaxDrawdownPct, t.MaxDrawdownPct)
		r.Orders += t.Orders
		r.Fills += t.Fills
	}
	return r, res.Bars
}

func (c *backtestCommand) printSweep(rep sweepReport, opt sweepOptions) {
	names := make([]string, len(opt.grid))
	for i, a := range opt.grid {
		names[i] = a.Name
	}
	tw := tabwriter.NewWriter(c.app.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(c.app.Stdout, "ranked by %s, averaged over the tenants\n", opt.rank)
	fmt.Fprintf(tw, "rank\t%s\treturn %%\tmax dd %%\tsharpe\tsortino\twin %%\torders\t\n", strings.Join(names, "\t"))
	for i, r := range rep.Results {
		if opt.top > 0 && i >= opt.top {
			break
		}
		vals := make([]string, len(names))
		for j, n := range names {
			vals[j] = r.Params[n]
		}
		fmt.Fprintf(tw, "%d\t%s\t%.4f\t%.4f\t%.4f\t%.4f\t%.2f\t%d\t\n", r.Rank, strings.Join(vals, "\t"), r.ReturnPct, r.MaxDrawdownPct, r.Sharpe, r.Sortino, r.WinRate, r.Orders)
	}
	tw.Flush()
	if n := len(rep.Results); opt.top > 0 && n > opt.top {
		fmt.Fprintf(c.app.Stdout, "(%d more; --top 0 shows all, --json gives every result)\n", n-opt.top)
	}
	fmt.Fprintf(c.app.Stdout, "%d combinations, %d at a time, %d bars in %d ms\n", rep.Combinations, rep.Parallel, rep.Bars, rep.ElapsedMS)
	for _, r := range rep.Skipped {
		fmt.Fprintf(c.app.Stderr, "backtest: skipped %v: %s\n", r.Params, r.Skipped)
	}
}

func mean(ts []backtest.TenantResult, f func(backtest.TenantResult) float64) float64 {
	if len(ts) == 0 {
		return 0
	}
	var s float64
	for _, t := range ts {
		s += f(t)
	}
	return s / float64(len(ts))
}

func round4(v float64) float64 { return math.Round(v*1e4) / 1e4 }

// newSweepProgress returns a function reporting done of total on w, a
// line at each tenth, when show is set.
func newSweepProgress(w io.Writer, total int, show bool) func(done int) {
	if !show {
		return func(int) {}
	}
	last := 0
	return func(done int) {
		if tenth := done * 10 / total; tenth > last || done == total {
			last = tenth
			fmt.Fprintf(w, "sweep: %d/%d combinations\n", done, total)
		}
	}
}

// cachedSource reads each symbol's bars once for all the combinations of
// a sweep: they all ask for the same window.
type cachedSource struct {
	src backtest.Source
	mu  sync.Mutex
	m   map[cacheKey]*cacheEntry
}

type cacheKey struct {
	symbol   string
	from, to time.Time
}

type cacheEntry struct {
	once sync.Once
	bars []backtest.Bar
	err  error
}

func newCachedSource(src backtest.Source) *cachedSource {
	return &cachedSource{src: src, m: map[cacheKey]*cacheEntry{}}
}

// Bars implements backtest.Source; callers must not modify the slice.
func (c *cachedSource) Bars(symbol string, from, to time.Time) ([]backtest.Bar, error) {
	k := cacheKey{symbol, from, to}
	c.mu.Lock()
	e := c.m[k]
	if e == nil {
		e = &cacheEntry{}
		c.m[k] = e
	}
	c.mu.Unlock()
	e.once.Do(func() { e.bars, e.err = c.src.Bars(symbol, from, to) })
	if e.err != nil {
		return nil, e.err
	}
	return e.bars, nil
}

// Spread implements backtest.Source.
func (c *cachedSource) Spread(symbol string, close float64) int64 { return c.src.Spread(symbol, close) }
