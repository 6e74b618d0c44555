package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/quantum-alpaca/quantum/stress"
)

type stressCommand struct{ app *App }

const stressUsage = `Usage: quantum stress [flags]

Places orders from many concurrent workers through the project's alpaca
client, then lists every account's orders at the broker and proves that no
order was lost or placed twice. Exits non-zero if any was lost, duplicated
or errored.

Without --target it starts the embedded paper broker on a loopback port.
With --target it drives any Alpaca-compatible endpoint; keys then come from
APCA_API_KEY_ID / APCA_API_SECRET_KEY (one tenant), or are generated per
tenant when the target auto-provisions accounts (quantum broker --auto-provision).

Examples:
  quantum stress --threads 100 --orders-per-thread 1000
  quantum stress --target http://127.0.0.1:8090 --threads 100 --orders-per-thread 1000 --json

Flags:
`

// stressFlags are the command line of quantum stress.
type stressFlags struct {
	target                 string
	threads, perThread     int
	tenants                int
	perWorker              bool
	rateLimit              int
	symbols                string
	asJSON, yes, baseline  bool
	timeout                time.Duration
	cpuProfile, memProfile string
}

func (c *stressCommand) parse(args []string) (stressFlags, error) {
	var f stressFlags
	fs := flag.NewFlagSet("stress", flag.ContinueOnError)
	fs.SetOutput(c.app.Stderr)
	fs.Usage = func() { fmt.Fprint(c.app.Stderr, stressUsage); fs.PrintDefaults() }
	fs.StringVar(&f.target, "target", "", "trading base `URL` of the broker (default: embedded broker on loopback)")
	fs.IntVar(&f.threads, "threads", 100, "concurrent workers")
	fs.IntVar(&f.perThread, "orders-per-thread", 1000, "orders each worker places")
	fs.IntVar(&f.tenants, "tenants", 0, "accounts the workers are spread over (default: one per worker)")
	fs.BoolVar(&f.perWorker, "client-per-worker", false, "give every worker its own client instead of one shared client per tenant")
	fs.IntVar(&f.rateLimit, "rate-limit", -1, "requests/min per client; 0 is unlimited, -1 picks: unlimited on loopback, 200 on Alpaca's hosts")
	fs.StringVar(&f.symbols, "symbols", "AAPL,MSFT,NVDA,AMZN,GOOGL,META,TSLA,JPM", "comma-separated symbols to trade")
	fs.BoolVar(&f.asJSON, "json", false, "print exactly one JSON object on stdout")
	fs.BoolVar(&f.yes, "yes", false, "confirm a run of more than 300 orders against Alpaca's own servers")
	fs.BoolVar(&f.baseline, "baseline", false, "also measure a bare net/http handler with the same request and response sizes, and report the ratio")
	fs.DurationVar(&f.timeout, "timeout", 30*time.Minute, "give up after this long")
	fs.StringVar(&f.cpuProfile, "cpuprofile", "", "write a CPU profile of the run (client and embedded broker) to `FILE`")
	fs.StringVar(&f.memProfile, "memprofile", "", "write a heap profile taken after the run to `FILE`")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return f, err
		}
		return f, usageError{err.Error()}
	}
	switch {
	case fs.NArg() > 0:
		return f, usageError{fmt.Sprintf("stress takes no arguments, got %q", fs.Args())}
	case f.threads < 1 || f.threads > 10000:
		return f, usageError{"--threads must be between 1 and 10000"}
	case f.perThread < 1:
		return f, usageError{"--orders-per-thread must be at least 1"}
	case f.tenants < 0 || f.tenants > f.threads:
		return f, usageError{"--tenants must be between 1 and --threads"}
	}
	if f.tenants == 0 {
		f.tenants = f.threads
	}
	return f, nil
}

func (c *stressCommand) Run(ctx context.Context, args []string) error {
	f, err := c.parse(args)
	if err != nil {
		return err
	}
	if f.target == "" {
		url, stop, err := startEmbeddedBroker(1)
		if err != nil {
			return err
		}
		defer stop()
		f.target = url
		if !f.asJSON {
			fmt.Fprintf(c.app.Stderr, "quantum stress: embedded broker on %s\n", f.target)
		}
	}
	cfg, err := c.config(&f)
	if err != nil {
		return err
	}
	bar := c.progress(f, &cfg)
	rep, err := measure(ctx, cfg, f)
	if bar != nil {
		_ = bar.Finish()
	}
	if err != nil && rep == nil {
		return err
	}
	if f.asJSON {
		enc := json.NewEncoder(c.app.Stdout)
		enc.SetIndent("", "  ")
		if jerr := enc.Encode(rep); jerr != nil {
			return jerr
		}
	} else {
		printReport(c.app.Stdout, rep)
	}
	if err != nil {
		return exitError{1, err.Error()}
	}
	if !rep.OK() {
		return exitError{1, fmt.Sprintf("FAILED: %d lost, %d duplicates, %d unexpected, %d errors, %d unknown", rep.Lost, rep.Duplicates, rep.Unexpected, rep.Errors, rep.Unknown)}
	}
	return nil
}

// config turns the flags into the stress run: the tenants' keys (from the
// environment, or generated for a broker that provisions accounts), the
// rate limit, and a confirmation for runs against Alpaca's own servers.
func (c *stressCommand) config(f *stressFlags) (stress.Config, error) {
	u, err := url.Parse(f.target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return stress.Config{}, usageError{fmt.Sprintf("--target %q is not an http(s) URL", f.target)}
	}
	runID := "st" + randomHex(5)
	cfg := stress.Config{
		Target:          strings.TrimRight(f.target, "/"),
		Threads:         f.threads,
		OrdersPerThread: f.perThread,
		ClientPerWorker: f.perWorker,
		RunID:           runID,
		Timeout:         f.timeout,
	}
	for _, s := range strings.Split(f.symbols, ",") {
		if s = strings.TrimSpace(s); s != "" {
			cfg.Symbols = append(cfg.Symbols, strings.ToUpper(s))
		}
	}
	alpacaHost := strings.HasSuffix(u.Hostname(), "alpaca.markets")
	if f.rateLimit < 0 {
		f.rateLimit = 0
		if alpacaHost {
			f.rateLimit = 200
		}
	}
	cfg.RateLimit = f.rateLimit

	if key := c.app.getenv("APCA_API_KEY_ID"); key != "" && alpacaHost || key != "" && f.tenants == 1 {
		cfg.Tenants = []stress.Tenant{{KeyID: key, Secret: c.app.getenv("APCA_API_SECRET_KEY")}}
		if f.tenants > 1 && !f.asJSON {
			fmt.Fprintln(c.app.Stderr, "quantum stress: one key pair in the environment: all workers share one tenant")
		}
	} else {
		if alpacaHost {
			return stress.Config{}, usageError{"Alpaca's servers need APCA_API_KEY_ID and APCA_API_SECRET_KEY"}
		}
		for i := 0; i < f.tenants; i++ {
			cfg.Tenants = append(cfg.Tenants, stress.Tenant{
				KeyID:  fmt.Sprintf("PK%s%04d", strings.ToUpper(runID), i),
				Secret: randomHex(16),
			})
		}
	}
	if alpacaHost {
		total := f.threads * f.perThread
		minutes := float64(total) / float64(max(1, f.rateLimit)) / float64(len(cfg.Tenants))
		fmt.Fprintf(c.app.Stderr, "quantum stress: %d orders at %d requests/min will take at least %.1f minutes\n", total, f.rateLimit, minutes)
		if total > 300 && !f.yes {
			return stress.Config{}, usageError{"more than 300 orders against Alpaca's servers: pass --yes to confirm"}
		}
	}
	return cfg, nil
}

// progress shows a progress bar on a terminal (never with --json) and
// hooks it into cfg; nil when there is none.
func (c *stressCommand) progress(f stressFlags, cfg *stress.Config) *progressbar.ProgressBar {
	tty, ok := c.app.Stderr.(*os.File)
	if !ok || !term.IsTerminal(int(tty.Fd())) || f.asJSON {
		return nil
	}
	bar := progressbar.NewOptions64(int64(f.threads*f.perThread),
		progressbar.OptionSetWriter(c.app.Stderr),
		progressbar.OptionSetDescription("orders"),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString("orders"),
		progressbar.OptionThrottle(200*time.Millisecond),
		progressbar.OptionClearOnFinish())
	cfg.Progress = func(done, errs int64) {
		_ = bar.Set64(done)
		if errs > 0 {
			bar.Describe(fmt.Sprintf("orders (%d errors)", errs))
		}
	}
	return bar
}

// measure runs the stress test, with the profiles and the bare net/http
// baseline the flags ask for. A report with an error means the run
// finished but failed.
func measure(ctx context.Context, cfg stress.Config, f stressFlags) (*stress.Report, error) {
	if f.cpuProfile != "" {
		out, err := os.Create(f.cpuProfile)
		if err != nil {
			return nil, err
		}
		defer out.Close()
		if err := pprof.StartCPUProfile(out); err != nil {
			return nil, err
		}
		defer pprof.StopCPUProfile()
	}
	var before float64
	if f.baseline {
		var err error
		if before, err = stress.Baseline(ctx, cfg.Threads, baselineRequests); err != nil {
			return nil, fmt.Errorf("baseline: %w", err)
		}
	}
	rep, err := stress.Run(ctx, cfg)
	if f.memProfile != "" {
		if perr := writeHeapProfile(f.memProfile); perr != nil {
			return nil, perr
		}
	}
	if !f.baseline || err != nil {
		return rep, err
	}
	// The ceiling is the better of a measurement before and one after the
	// run, so that a machine busy at one moment does not flatter the
	// ratio.
	after, berr := stress.Baseline(ctx, cfg.Threads, baselineRequests)
	if berr != nil {
		return nil, fmt.Errorf("baseline: %w", berr)
	}
	best := max(before, after)
	rep.BaselineOrdersPerSec = best
	if best > 0 {
		rep.RatioToBaseline = rep.OrdersPerSec / best
	}
	return rep, nil
}

// baselineRequests is enough for a stable rate at 100 connections while
// keeping the two measurements a few seconds each.
const baselineRequests = 100_000

func printReport(w io.Writer, r *stress.Report) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(k string, v any) { fmt.Fprintf(tw, "%s\t%v\n", k, v) }
	row("target", r.Target)
	row("client mode", r.ClientMode)
	row("tenants / threads", fmt.Sprintf("%d / %d", r.Tenants, r.Threads))
	row("orders", r.Orders)
	row("acknowledged", r.Acked)
	row("rejected", r.Rejected)
	row("errors", r.Errors)
	row("unknown outcome", r.Unknown)
	row("retries / look-ups", fmt.Sprintf("%d / %d", r.Retries, r.Lookups))
	row("LOST", r.Lost)
	row("DUPLICATES", r.Duplicates)
	row("unexpected", r.Unexpected)
	row("seconds", fmt.Sprintf("%.2f", r.Seconds))
	row("orders/s", fmt.Sprintf("%.0f", r.OrdersPerSec))
	row("latency ms p50/p90/p99/p99.9/max", fmt.Sprintf("%.2f / %.2f / %.2f / %.2f / %.2f", r.LatencyMS.P50, r.LatencyMS.P90, r.LatencyMS.P99, r.LatencyMS.P999, r.LatencyMS.Max))
	row("peak RSS MiB", fmt.Sprintf("%.0f", r.RSSMiB))
	row("peak goroutines", r.GoroutinesPeak)
	row("reconcile seconds", fmt.Sprintf("%.2f", r.ReconcileSecs))
	if r.BaselineOrdersPerSec > 0 {
		row("bare net/http ceiling req/s", fmt.Sprintf("%.0f", r.BaselineOrdersPerSec))
		row("ratio to ceiling", fmt.Sprintf("%.2f", r.RatioToBaseline))
	}
	for _, e := range r.FirstErrors {
		row("first error", e)
	}
	verdict := "OK: nothing lost, nothing duplicated"
	if !r.OK() {
		verdict = "FAILED"
	}
	row("verdict", verdict)
	_ = tw.Flush()
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	runtime.GC()
	return pprof.WriteHeapProfile(f)
}
