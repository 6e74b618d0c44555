package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/quantum-alpaca/quantum/alpaca"
	"github.com/quantum-alpaca/quantum/bars"
	"github.com/quantum-alpaca/quantum/sim"
	"github.com/quantum-alpaca/quantum/sim/match"
)

type brokerCommand struct{ app *App }

const brokerUsage = `Usage: quantum broker [flags]

Runs the Alpaca-compatible paper broker: Trading API v2, Market Data v2
(stocks), the trade_updates SSE and websocket streams and the market-data
websocket, all on one listener, over a seeded synthetic market.

Point any Alpaca client at it, for example:
  APCA_API_BASE_URL=http://127.0.0.1:8090 APCA_API_KEY_ID=PKTEST APCA_API_SECRET_KEY=secret

With --bars DIR it replays recorded minute bars (as "quantum data fetch" or
"quantum data import" store them) instead of the synthetic market: its clock
starts at --from and runs at --speed times real time, or, with --step,
stands still until a client advances it:
  POST /sim/v1/clock {"advance":"1m"}   or   {"to":"2024-01-02T15:00:00Z"}
GET /sim/v1/streams lists what the market-data clients subscribe to, so a
driver can wait for them before it steps.

With --broker-key and --broker-secret (or an accounts file entry with
broker: true) it serves Alpaca's Broker API beside the Trading API, for one
firm with those credentials (HTTP Basic, or bearer tokens from
POST /v1/oauth2/token with them as client_id and client_secret): accounts
created with POST /v1/accounts are ACTIVE at once with --cash, cash journals
from the firm's account (printed at start) settle at once, each account
trades under /v1/trading/accounts/{account_id}/..., and GET /v2/events/trades
with the firm's credentials streams every account's trade events.

The synthetic market lists the S&P 500 and the most traded ETFs; --assets FILE
lists instead the active US equities of an asset list saved from Alpaca's own
GET /v2/assets, each with a seeded synthetic series.

Flags:
`

func (c *brokerCommand) Run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("broker", flag.ContinueOnError)
	fs.SetOutput(c.app.Stderr)
	fs.Usage = func() { fmt.Fprint(c.app.Stderr, brokerUsage); fs.PrintDefaults() }
	listen := fs.String("listen", "127.0.0.1:8090", "address to serve on")
	auto := fs.Bool("auto-provision", false, "give any new API key pair a fresh account (as Alpaca paper does)")
	accounts := fs.String("accounts", "", "YAML or JSON `FILE` listing accounts: [{key_id, secret, cash}]; an entry with broker: true is the Broker API firm instead")
	brokerKey := fs.String("broker-key", "", "serve the Broker API for a firm with this `KEY` (needs --broker-secret)")
	brokerSecret := fs.String("broker-secret", "", "the Broker API firm's `SECRET`")
	brokerRate := fs.Int("broker-rate-limit", 0, "Broker API REST requests per minute for the firm, all its accounts together (Alpaca: 1000; 0 = unlimited)")
	cash := fs.Float64("cash", sim.DefaultCash, "starting cash of each new account, USD")
	seed := fs.Uint64("seed", 1, "seed of the synthetic market, partial fills and faults")
	marketMode := fs.String("market", "always-open", "trading hours: always-open or nyse")
	latency := fs.Duration("latency", 0, "latency added to every REST request")
	failRate := fs.Float64("fail-rate", 0, "probability `P` in [0,1] that a REST request gets a 500/503")
	dropRate := fs.Float64("drop-rate", 0, "probability `P` in [0,1] that a REST request's connection is dropped")
	rateLimit := fs.Int("rate-limit", 0, "REST requests per minute per key, answered with 429 beyond (0 = unlimited)")
	maxAccounts := fs.Int("max-accounts", sim.DefaultMaxAccounts, "most accounts the broker holds: with --auto-provision a new key beyond gets 403 (-1 = no cap)")
	partial := fs.Float64("partial-fill-rate", match.DefaultPartialFillRate, "probability `P` in [0,1] that an eligible fill is partial (Alpaca paper: 0.1)")
	barsDir := fs.String("bars", "", "replay the recorded minute bars in `DIR` instead of the synthetic market")
	assetsFile := fs.String("assets", "", "list the assets in `FILE` (the JSON of Alpaca's GET /v2/assets) instead of the default universe")
	fromS := fs.String("from", "", "with --bars: the replay clock's start, YYYY-MM-DD (New York midnight) or RFC 3339; default the first recorded bar")
	speed := fs.Float64("speed", 1, "with --bars: how many times faster than real time the replay clock runs")
	step := fs.Bool("step", false, "with --bars: the clock moves only when POST /sim/v1/clock advances it")
	verbose := fs.Bool("v", false, "log every account creation and stream connection")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("broker takes no arguments, got %q", fs.Args())}
	}
	cfg := sim.Config{
		Seed:          *seed,
		Cash:          *cash,
		AutoProvision: *auto,
		Faults:        sim.Faults{Latency: *latency, FailRate: *failRate, DropRate: *dropRate},
		RateLimit:     *rateLimit,
		MaxAccounts:   *maxAccounts,

		BrokerKey:       *brokerKey,
		BrokerSecret:    *brokerSecret,
		BrokerRateLimit: *brokerRate,
	}
	switch *marketMode {
	case "always-open":
		cfg.Session = sim.AlwaysOpen{}
	case "nyse":
		cfg.Session = sim.NYSE{}
	default:
		return usageError{fmt.Sprintf("--market must be always-open or nyse, not %q", *marketMode)}
	}
	if *failRate < 0 || *failRate > 1 || *dropRate < 0 || *dropRate > 1 {
		return usageError{"--fail-rate and --drop-rate must be between 0 and 1"}
	}
	if *rateLimit < 0 {
		return usageError{"--rate-limit must not be negative"}
	}
	if !(*partial >= 0 && *partial <= 1) {
		return usageError{"--partial-fill-rate must be between 0 and 1"}
	}
	cfg.PartialFillRate = partial
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if *barsDir == "" && (set["from"] || set["speed"] || set["step"]) {
		return usageError{"--from, --speed and --step need --bars DIR"}
	}
	if set["speed"] && *step {
		return usageError{"give --speed or --step, not both"}
	}
	if !(*speed > 0 && *speed < 1e9) {
		return usageError{"--speed must be positive"}
	}
	if *maxAccounts == 0 || *maxAccounts < -1 {
		return usageError{"--max-accounts must be positive, or -1 for no cap"}
	}
	if *assetsFile != "" {
		if *barsDir != "" {
			return usageError{"give --assets or --bars, not both: a replay lists the recorded symbols"}
		}
		data, err := os.ReadFile(*assetsFile)
		if err != nil {
			return fmt.Errorf("assets file: %w", err)
		}
		if cfg.Universe, err = sim.ParseAssets(data); err != nil {
			return fmt.Errorf("assets file %s: %w", *assetsFile, err)
		}
	}
	if *accounts != "" {
		creds, firm, err := readAccounts(*accounts)
		if err != nil {
			return err
		}
		cfg.Credentials = creds
		if firm != nil {
			if cfg.BrokerKey != "" {
				return usageError{"the Broker API firm is given twice: by --broker-key and in " + *accounts}
			}
			cfg.BrokerKey, cfg.BrokerSecret = firm.KeyID, firm.Secret
		}
	}
	if (cfg.BrokerKey == "") != (cfg.BrokerSecret == "") {
		return usageError{"--broker-key and --broker-secret go together"}
	}
	if *brokerRate < 0 {
		return usageError{"--broker-rate-limit must not be negative"}
	}
	if !*auto && len(cfg.Credentials) == 0 && cfg.BrokerKey == "" {
		return usageError{"no accounts: pass --auto-provision, --accounts FILE or --broker-key and --broker-secret"}
	}
	level := slog.LevelInfo
	if !*verbose {
		level = slog.LevelWarn
	}
	cfg.Logger = slog.New(slog.NewTextHandler(c.app.Stderr, &slog.HandlerOptions{Level: level}))

	mode := *marketMode
	if *barsDir != "" {
		rec, first, err := readRecorded(*barsDir)
		if err != nil {
			return err
		}
		start := first
		if *fromS != "" {
			if start, err = parseDay(*fromS); err != nil {
				return usageError{"--from: " + err.Error()}
			}
		}
		cfg.Recorded = rec
		// The clock is made last, just before the server, so that a
		// running replay starts at --from rather than reading time spent
		// loading the bars.
		if *step {
			cfg.Clock = sim.NewSteppedClock(start)
			mode += ", replaying " + *barsDir + " stepped from " + start.UTC().Format(time.RFC3339)
		} else {
			cfg.Clock = sim.NewReplayClock(start, *speed)
			mode += fmt.Sprintf(", replaying %s from %s at %gx", *barsDir, start.UTC().Format(time.RFC3339), *speed)
		}
	}
	srv, err := sim.New(cfg)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	return serveBroker(ctx, srv, ln, c.app.Stderr, mode)
}

// readRecorded loads every symbol's minute bars from a bar store, and
// returns the earliest bar's start.
func readRecorded(dir string) (map[string][]alpaca.Bar, time.Time, error) {
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return nil, time.Time{}, usageError{fmt.Sprintf("--bars %s: not a directory", dir)}
	}
	store, err := bars.Open(dir)
	if err != nil {
		return nil, time.Time{}, err
	}
	all, err := store.ReadAll("1Min", time.Time{}, time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		return nil, time.Time{}, err
	}
	rec := make(map[string][]alpaca.Bar, len(all))
	var first time.Time
	for sym, bs := range all {
		if len(bs) == 0 {
			continue
		}
		rec[sym] = bars.Wire(bs)
		if first.IsZero() || bs[0].Time.Before(first) {
			first = bs[0].Time
		}
	}
	if len(rec) == 0 {
		return nil, time.Time{}, usageError{fmt.Sprintf("--bars %s: no one-minute bars (want %s)", dir, filepath.Join(dir, "1Min", "SYMBOL", "YYYY-MM-DD.csv"))}
	}
	return rec, first, nil
}

// serveBroker runs srv on ln until ctx ends, then drains requests and
// stops the market.
func serveBroker(ctx context.Context, srv *sim.Server, ln net.Listener, stderr io.Writer, mode string) error {
	// HTTP/1.1 for every Alpaca client, plus HTTP/2 without TLS for
	// clients that ask for it (the engine: one connection per tenant for
	// its REST calls and trade-update stream), with the timeouts and
	// per-connection bounds that keep hostile clients from exhausting
	// memory (issue 8, item 6).
	hs := srv.HTTPServer()
	srv.Start()
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	fmt.Fprintf(stderr, "quantum broker: serving the Alpaca API on http://%s (market %s)\n", ln.Addr(), mode)
	if id := srv.FirmAccountID(); id != "" {
		fmt.Fprintf(stderr, "quantum broker: and the Broker API for its firm; the firm's account, for funding journals: %s\n", id)
	}
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Close() // ends long-lived streams so Shutdown can finish
	_ = hs.Shutdown(sctx)
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// startEmbeddedBroker serves an auto-provisioning broker on a loopback
// port for the commands that run against one when no broker URL is given.
// It returns the broker's base URL and a function that stops it and waits.
func startEmbeddedBroker(seed uint64) (url string, stop func(), err error) {
	return startEmbedded(sim.Config{AutoProvision: true, Seed: seed})
}

// startEmbeddedFirm is startEmbeddedBroker serving the Broker API as well,
// for a firm with key and secret that will open up to accounts customer
// accounts, more than an embedded broker allows by default.
func startEmbeddedFirm(seed uint64, key, secret string, accounts int) (url string, stop func(), err error) {
	return startEmbedded(sim.Config{AutoProvision: true, Seed: seed, BrokerKey: key, BrokerSecret: secret,
		MaxAccounts: max(sim.DefaultMaxAccounts, accounts)})
}

func startEmbedded(cfg sim.Config) (url string, stop func(), err error) {
	srv, err := sim.New(cfg)
	if err != nil {
		return "", nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serveBroker(ctx, srv, ln, io.Discard, "always-open") }()
	return "http://" + ln.Addr().String(), func() { cancel(); <-done }, nil
}

type accountEntry struct {
	KeyID  string  `yaml:"key_id"`
	Secret string  `yaml:"secret"`
	Cash   float64 `yaml:"cash"`
	// Broker marks the Broker API firm's key pair, which opens the
	// firm's routes rather than an account.
	Broker bool `yaml:"broker"`
}

// readAccounts reads an accounts file: the Trading API accounts, and the
// Broker API firm's credentials if an entry is marked broker.
func readAccounts(path string) ([]sim.Credential, *sim.Credential, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("accounts file: %w", err)
	}
	defer f.Close()
	var entries []accountEntry
	dec := yaml.NewDecoder(f)
	dec.KnownFields(true)
	if err := dec.Decode(&entries); err != nil {
		return nil, nil, fmt.Errorf("accounts file %s: %w", path, err)
	}
	var firm *sim.Credential
	seen := map[string]bool{}
	out := make([]sim.Credential, 0, len(entries))
	for i, e := range entries {
		if e.KeyID == "" || e.Secret == "" {
			return nil, nil, fmt.Errorf("accounts file %s: entry %d: key_id and secret are required", path, i+1)
		}
		if seen[e.KeyID] {
			return nil, nil, fmt.Errorf("accounts file %s: entry %d: key_id %q appears twice", path, i+1, e.KeyID)
		}
		if e.Cash < 0 {
			return nil, nil, fmt.Errorf("accounts file %s: entry %d: cash must not be negative", path, i+1)
		}
		seen[e.KeyID] = true
		if e.Broker {
			if firm != nil {
				return nil, nil, fmt.Errorf("accounts file %s: entry %d: a second broker entry; the broker serves one firm", path, i+1)
			}
			firm = &sim.Credential{KeyID: e.KeyID, Secret: e.Secret}
			continue
		}
		out = append(out, sim.Credential{KeyID: e.KeyID, Secret: e.Secret, Cash: e.Cash})
	}
	return out, firm, nil
}
