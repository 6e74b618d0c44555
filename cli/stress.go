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
	"github.com/shopspring/decimal"
	"golang.org/x/term"

	"github.com/quantum-alpaca/quantum/alpaca"
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

With --broker-api the tenants are customer accounts behind one Broker API
firm key instead: the run opens --tenants accounts (test customers with
made-up identities), spreads the orders over them through the firm's one
client and rate limiter (/v1/trading/accounts/{id}/orders), and proves for
each account that it holds exactly the orders meant for it, each once. The
embedded broker then serves the Broker API for a firm key it makes up. With
--target (the Broker API's base URL: the sandbox, or quantum broker
--broker-key ... --broker-secret ...) the firm's key and secret come from
--broker-key and --broker-secret or BROKER_API_KEY and BROKER_API_SECRET;
Alpaca's live Broker API is refused. Sandbox accounts open empty: fund them
with --fund-from and --cash. The accounts stay open after the run, with the
orders that are its evidence.

Examples:
  quantum stress --threads 100 --orders-per-thread 1000
  quantum stress --target http://127.0.0.1:8090 --threads 100 --orders-per-thread 1000 --json
  quantum stress --broker-api --tenants 100 --threads 100 --orders-per-thread 1000
  quantum stress --broker-api --target http://127.0.0.1:8090 --broker-key KEY --broker-secret SECRET --tenants 10

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

	brokerAPI               bool
	brokerKey, brokerSecret string
	fundFrom                string
	cash                    decimal.Decimal
	embedded                bool // no --target: the run starts its own broker
}

func (c *stressCommand) parse(args []string) (stressFlags, error) {
	var f stressFlags
	fs := flag.NewFlagSet("stress", flag.ContinueOnError)
	fs.SetOutput(c.app.Stderr)
	fs.Usage = func() { fmt.Fprint(c.app.Stderr, stressUsage); fs.PrintDefaults() }
	fs.StringVar(&f.target, "target", "", "trading base `URL` of the broker, or with --broker-api its Broker API base URL (default: embedded broker on loopback)")
	fs.IntVar(&f.threads, "threads", 100, "concurrent workers")
	fs.IntVar(&f.perThread, "orders-per-thread", 1000, "orders each worker places")
	fs.IntVar(&f.tenants, "tenants", 0, "accounts the workers are spread over, at most --threads (default: one per worker); with --broker-api, customer accounts to open, at most threads x ceil(orders-per-thread / 2)")
	fs.BoolVar(&f.perWorker, "client-per-worker", false, "give every worker its own client instead of one shared client per tenant")
	fs.IntVar(&f.rateLimit, "rate-limit", -1, "requests/min per client (with --broker-api, for the whole firm); 0 is unlimited, -1 picks: unlimited on loopback, 200 on Alpaca's hosts (Broker API: 950 anywhere but loopback)")
	fs.StringVar(&f.symbols, "symbols", "AAPL,MSFT,NVDA,AMZN,GOOGL,META,TSLA,JPM", "comma-separated symbols to trade")
	fs.BoolVar(&f.asJSON, "json", false, "print exactly one JSON object on stdout")
	fs.BoolVar(&f.yes, "yes", false, "confirm a run of more than 300 orders against Alpaca's own servers")
	fs.BoolVar(&f.baseline, "baseline", false, "also measure a bare net/http handler with the same request and response sizes, and report the ratio")
	fs.DurationVar(&f.timeout, "timeout", 30*time.Minute, "give up after this long")
	fs.StringVar(&f.cpuProfile, "cpuprofile", "", "write a CPU profile of the run (client and embedded broker) to `FILE`")
	fs.StringVar(&f.memProfile, "memprofile", "", "write a heap profile taken after the run to `FILE`")
	fs.BoolVar(&f.brokerAPI, "broker-api", false, "trade in customer accounts opened behind one Broker API firm key (see above)")
	fs.StringVar(&f.brokerKey, "broker-key", "", "with --broker-api: the firm's `KEY` (default: $BROKER_API_KEY; made up for the embedded broker)")
	fs.StringVar(&f.brokerSecret, "broker-secret", "", "with --broker-api: the firm's `SECRET` (default: $BROKER_API_SECRET)")
	fs.StringVar(&f.fundFrom, "fund-from", "", "with --broker-api and --target: firm `ACCOUNT` to journal --cash from into each new account")
	cash := fs.String("cash", "10000", "`AMOUNT` journaled into each account with --fund-from")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return f, err
		}
		return f, usageError{err.Error()}
	}
	set := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	f.embedded = f.target == ""
	switch {
	case fs.NArg() > 0:
		return f, usageError{fmt.Sprintf("stress takes no arguments, got %q", fs.Args())}
	case f.threads < 1 || f.threads > 10000:
		return f, usageError{"--threads must be between 1 and 10000"}
	case f.perThread < 1:
		return f, usageError{"--orders-per-thread must be at least 1"}
	case set["tenants"] && f.tenants < 1:
		return f, usageError{fmt.Sprintf("--tenants %d: want at least 1 account", f.tenants)}
	}
	if !f.brokerAPI {
		for _, name := range []string{"broker-key", "broker-secret", "fund-from", "cash"} {
			if set[name] {
				return f, usageError{fmt.Sprintf("--%s needs --broker-api", name)}
			}
		}
		if f.tenants > f.threads {
			return f, usageError{"--tenants must be between 1 and --threads"}
		}
	} else {
		most := min(stress.MaxAccounts(f.threads, f.perThread), maxStressAccounts)
		var err error
		switch {
		case f.perWorker:
			return f, usageError{"--client-per-worker does not go with --broker-api: the firm has one client for all its accounts"}
		case f.tenants > most:
			return f, usageError{fmt.Sprintf("--tenants %d with --broker-api: want at most %d (one account per order pair, and no more than %d)", f.tenants, most, maxStressAccounts)}
		case (f.brokerKey == "") != (f.brokerSecret == ""):
			return f, usageError{"--broker-key and --broker-secret go together"}
		case f.fundFrom != "" && f.embedded:
			return f, usageError{"--fund-from needs --target: the embedded broker opens accounts with cash already in them"}
		case set["cash"] && f.fundFrom == "":
			return f, usageError{"--cash is journaled from --fund-from; pass both"}
		}
		if f.cash, err = decimal.NewFromString(*cash); err != nil || !f.cash.IsPositive() {
			return f, usageError{fmt.Sprintf("--cash %q: want a positive amount", *cash)}
		}
	}
	if f.tenants == 0 {
		f.tenants = f.threads
	}
	return f, nil
}

// maxStressAccounts bounds the Broker API accounts one run opens, as
// tenants create bounds its count.
const maxStressAccounts = 100_000

func (c *stressCommand) Run(ctx context.Context, args []string) error {
	f, err := c.parse(args)
	if err != nil {
		return err
	}
	if f.embedded {
		start, what := startEmbeddedBroker, "embedded broker"
		if f.brokerAPI {
			if f.brokerKey == "" {
				// Nothing outside this process ever sees the firm.
				f.brokerKey, f.brokerSecret = "CK"+strings.ToUpper(randomHex(8)), randomHex(16)
			}
			start = func(seed uint64) (string, func(), error) {
				return startEmbeddedFirm(seed, f.brokerKey, f.brokerSecret, f.tenants)
			}
			what = "embedded broker (Broker API)"
		}
		url, stop, err := start(1)
		if err != nil {
			return err
		}
		defer stop()
		f.target = url
		if !f.asJSON {
			fmt.Fprintf(c.app.Stderr, "quantum stress: %s on %s\n", what, f.target)
		}
	}
	cfg, err := c.config(&f)
	if err != nil {
		return err
	}
	if cfg.Broker != nil {
		cfg.Broker.Progress = c.accountProgress(f)
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
	if f.brokerAPI {
		return c.brokerConfig(f, u, alpacaHost, cfg)
	}
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

// brokerConfig is config for --broker-api: the firm's credentials, and
// one rate limit for the whole firm.
func (c *stressCommand) brokerConfig(f *stressFlags, u *url.URL, alpacaHost bool, cfg stress.Config) (stress.Config, error) {
	if liveBrokerAPI(u) {
		return stress.Config{}, usageError{"--target is Alpaca's live Broker API: the run opens test customers with made-up identities; use the sandbox"}
	}
	if f.brokerKey == "" {
		f.brokerKey, f.brokerSecret = c.app.getenv("BROKER_API_KEY"), c.app.getenv("BROKER_API_SECRET")
	}
	if f.brokerKey == "" || f.brokerSecret == "" {
		return stress.Config{}, usageError{"--broker-api with --target needs the firm's key and secret: --broker-key and --broker-secret, or BROKER_API_KEY and BROKER_API_SECRET"}
	}
	if f.rateLimit < 0 {
		// A broker on this machine is ours to saturate; any other answers
		// for a firm under Alpaca's per-firm budget.
		f.rateLimit = alpaca.DefaultBrokerRateLimit
		if f.embedded || loopbackURL(u.String()) {
			f.rateLimit = 0
		}
	}
	cfg.RateLimit = f.rateLimit
	cfg.Broker = &stress.BrokerAPI{Key: f.brokerKey, Secret: f.brokerSecret, Accounts: f.tenants, FundFrom: f.fundFrom, Cash: f.cash}
	if alpacaHost {
		total := f.threads * f.perThread
		// Every account's orders and the applications draw from the
		// firm's one budget.
		minutes := float64(total+f.tenants) / float64(max(1, f.rateLimit))
		fmt.Fprintf(c.app.Stderr, "quantum stress: %d accounts and %d orders at %d requests/min for the firm will take at least %.1f minutes\n", f.tenants, total, f.rateLimit, minutes)
		if total > 300 && !f.yes {
			return stress.Config{}, usageError{"more than 300 orders against Alpaca's servers: pass --yes to confirm"}
		}
	}
	return cfg, nil
}

// accountProgress reports the opening of the Broker API accounts: a bar on
// a terminal, else a line every few seconds, and nothing with --json,
// whose stderr should be quiet.
func (c *stressCommand) accountProgress(f stressFlags) func(done int) {
	if f.asJSON {
		return nil
	}
	if tty, ok := c.app.Stderr.(*os.File); ok && term.IsTerminal(int(tty.Fd())) {
		bar := progressbar.NewOptions(f.tenants,
			progressbar.OptionSetWriter(c.app.Stderr),
			progressbar.OptionSetDescription("accounts"),
			progressbar.OptionShowCount(),
			progressbar.OptionThrottle(200*time.Millisecond),
			progressbar.OptionClearOnFinish())
		return func(done int) {
			_ = bar.Set(done)
			if done == f.tenants {
				_ = bar.Finish()
			}
		}
	}
	last := time.Now()
	return func(done int) {
		if time.Since(last) > 2*time.Second || done == f.tenants {
			fmt.Fprintf(c.app.Stderr, "quantum stress: opening accounts: %d of %d done\n", done, f.tenants)
			last = time.Now()
		}
	}
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
	row("api", r.API)
	row("client mode", r.ClientMode)
	row("tenants / threads", fmt.Sprintf("%d / %d", r.Tenants, r.Threads))
	if r.API == "broker" {
		row("accounts opened in seconds", fmt.Sprintf("%.2f", r.AccountsSecs))
	}
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
	row("accounts exact", fmt.Sprintf("%d of %d", r.AccountsExact, len(r.Accounts)))
	shown := 0
	for _, a := range r.Accounts {
		if a.Exact() || shown == 5 {
			continue
		}
		shown++
		name := fmt.Sprint("tenant ", a.Tenant)
		if a.AccountID != "" {
			name = "account " + a.AccountID
		}
		row("not exact: "+name, fmt.Sprintf("%d of %d held, %d lost, %d duplicates, %d unexpected", a.Held, a.Orders, a.Lost, a.Duplicates, a.Unexpected))
	}
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
