package main

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

type stressCommand struct{ m *Main }

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

func (c *stressCommand) Run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("stress", flag.ContinueOnError)
	fs.SetOutput(c.m.Stderr)
	fs.Usage = func() { fmt.Fprint(c.m.Stderr, stressUsage); fs.PrintDefaults() }
	target := fs.String("target", "", "trading base `URL` of the broker (default: embedded broker on loopback)")
	threads := fs.Int("threads", 100, "concurrent workers")
	perThread := fs.Int("orders-per-thread", 1000, "orders each worker places")
	tenants := fs.Int("tenants", 0, "accounts the workers are spread over (default: one per worker)")
	perWorker := fs.Bool("client-per-worker", false, "give every worker its own client instead of one shared client per tenant")
	rateLimit := fs.Int("rate-limit", -1, "requests/min per client; 0 is unlimited, -1 picks: unlimited on loopback, 200 on Alpaca's hosts")
	symbols := fs.String("symbols", "AAPL,MSFT,NVDA,AMZN,GOOGL,META,TSLA,JPM", "comma-separated symbols to trade")
	asJSON := fs.Bool("json", false, "print exactly one JSON object on stdout")
	yes := fs.Bool("yes", false, "confirm a run of more than 300 orders against Alpaca's own servers")
	baseline := fs.Bool("baseline", false, "also measure a bare net/http handler with the same request and response sizes, and report the ratio")
	timeout := fs.Duration("timeout", 30*time.Minute, "give up after this long")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the run (client and embedded broker) to `FILE`")
	memProfile := fs.String("memprofile", "", "write a heap profile taken after the run to `FILE`")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err.Error()}
	}
	switch {
	case fs.NArg() > 0:
		return usageError{fmt.Sprintf("stress takes no arguments, got %q", fs.Args())}
	case *threads < 1 || *threads > 10000:
		return usageError{"--threads must be between 1 and 10000"}
	case *perThread < 1:
		return usageError{"--orders-per-thread must be at least 1"}
	case *tenants < 0 || *tenants > *threads:
		return usageError{"--tenants must be between 1 and --threads"}
	}
	if *tenants == 0 {
		*tenants = *threads
	}
	total := *threads * *perThread
	runID := "st" + randomHex(5)
	cfg := stress.Config{
		Threads:         *threads,
		OrdersPerThread: *perThread,
		ClientPerWorker: *perWorker,
		RunID:           runID,
		Timeout:         *timeout,
	}
	for _, s := range strings.Split(*symbols, ",") {
		if s = strings.TrimSpace(s); s != "" {
			cfg.Symbols = append(cfg.Symbols, strings.ToUpper(s))
		}
	}

	if *target == "" {
		url, stop, err := startEmbeddedBroker(1)
		if err != nil {
			return err
		}
		defer stop()
		*target = url
		if !*asJSON {
			fmt.Fprintf(c.m.Stderr, "quantum stress: embedded broker on %s\n", *target)
		}
	}
	u, err := url.Parse(*target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return usageError{fmt.Sprintf("--target %q is not an http(s) URL", *target)}
	}
	cfg.Target = strings.TrimRight(*target, "/")
	alpacaHost := strings.HasSuffix(u.Hostname(), "alpaca.markets")
	if *rateLimit < 0 {
		*rateLimit = 0
		if alpacaHost {
			*rateLimit = 200
		}
	}
	cfg.RateLimit = *rateLimit

	if key := c.m.Getenv("APCA_API_KEY_ID"); key != "" && alpacaHost || key != "" && *tenants == 1 {
		cfg.Tenants = []stress.Tenant{{KeyID: key, Secret: c.m.Getenv("APCA_API_SECRET_KEY")}}
		if *tenants > 1 && !*asJSON {
			fmt.Fprintln(c.m.Stderr, "quantum stress: one key pair in the environment: all workers share one tenant")
		}
	} else {
		if alpacaHost {
			return usageError{"Alpaca's servers need APCA_API_KEY_ID and APCA_API_SECRET_KEY"}
		}
		for i := 0; i < *tenants; i++ {
			cfg.Tenants = append(cfg.Tenants, stress.Tenant{
				KeyID:  fmt.Sprintf("PK%s%04d", strings.ToUpper(runID), i),
				Secret: randomHex(16),
			})
		}
	}
	if alpacaHost {
		minutes := float64(total) / float64(max(1, *rateLimit)) / float64(len(cfg.Tenants))
		fmt.Fprintf(c.m.Stderr, "quantum stress: %d orders at %d requests/min will take at least %.1f minutes\n", total, *rateLimit, minutes)
		if total > 300 && !*yes {
			return usageError{"more than 300 orders against Alpaca's servers: pass --yes to confirm"}
		}
	}

	var bar *progressbar.ProgressBar
	if f, ok := c.m.Stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) && !*asJSON {
		bar = progressbar.NewOptions64(int64(total),
			progressbar.OptionSetWriter(c.m.Stderr),
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
	}

	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	var before float64
	if *baseline {
		if before, err = stress.Baseline(ctx, cfg.Threads, baselineRequests); err != nil {
			return fmt.Errorf("baseline: %w", err)
		}
	}
	rep, err := stress.Run(ctx, cfg)
	if *memProfile != "" {
		if perr := writeHeapProfile(*memProfile); perr != nil {
			return perr
		}
	}
	if bar != nil {
		_ = bar.Finish()
	}
	if err != nil && rep == nil {
		return err
	}
	if *baseline && err == nil {
		// The ceiling is the better of a measurement before and one after
		// the run, so that a machine busy at one moment does not flatter
		// the ratio.
		best := before
		b, berr := stress.Baseline(ctx, cfg.Threads, baselineRequests)
		if berr != nil {
			return fmt.Errorf("baseline: %w", berr)
		}
		best = max(best, b)
		rep.BaselineOrdersPerSec = best
		if best > 0 {
			rep.RatioToBaseline = rep.OrdersPerSec / best
		}
	}
	if *asJSON {
		enc := json.NewEncoder(c.m.Stdout)
		enc.SetIndent("", "  ")
		if jerr := enc.Encode(rep); jerr != nil {
			return jerr
		}
	} else {
		printReport(c.m.Stdout, rep)
	}
	if err != nil {
		return exitError{1, err.Error()}
	}
	if !rep.OK() {
		return exitError{1, fmt.Sprintf("FAILED: %d lost, %d duplicates, %d unexpected, %d errors, %d unknown", rep.Lost, rep.Duplicates, rep.Unexpected, rep.Errors, rep.Unknown)}
	}
	return nil
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
