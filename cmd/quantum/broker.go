package main

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
	"time"

	"gopkg.in/yaml.v3"

	"github.com/quantum-alpaca/quantum/sim"
)

type brokerCommand struct{ m *Main }

const brokerUsage = `Usage: quantum broker [flags]

Runs the Alpaca-compatible paper broker: Trading API v2, Market Data v2
(stocks), the trade_updates SSE and websocket streams and the market-data
websocket, all on one listener, over a seeded synthetic market.

Point any Alpaca client at it, for example:
  APCA_API_BASE_URL=http://127.0.0.1:8090 APCA_API_KEY_ID=PKTEST APCA_API_SECRET_KEY=secret

Flags:
`

func (c *brokerCommand) Run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("broker", flag.ContinueOnError)
	fs.SetOutput(c.m.Stderr)
	fs.Usage = func() { fmt.Fprint(c.m.Stderr, brokerUsage); fs.PrintDefaults() }
	listen := fs.String("listen", "127.0.0.1:8090", "address to serve on")
	auto := fs.Bool("auto-provision", false, "give any new API key pair a fresh account (as Alpaca paper does)")
	accounts := fs.String("accounts", "", "YAML or JSON `FILE` listing accounts: [{key_id, secret, cash}]")
	cash := fs.Float64("cash", sim.DefaultCash, "starting cash of each new account, USD")
	seed := fs.Uint64("seed", 1, "seed of the synthetic market, partial fills and faults")
	marketMode := fs.String("market", "always-open", "trading hours: always-open or nyse")
	latency := fs.Duration("latency", 0, "latency added to every REST request")
	failRate := fs.Float64("fail-rate", 0, "probability `P` in [0,1] that a REST request gets a 500/503")
	dropRate := fs.Float64("drop-rate", 0, "probability `P` in [0,1] that a REST request's connection is dropped")
	rateLimit := fs.Int("rate-limit", 0, "REST requests per minute per key, answered with 429 beyond (0 = unlimited)")
	maxAccounts := fs.Int("max-accounts", sim.DefaultMaxAccounts, "most accounts the broker holds: with --auto-provision a new key beyond gets 403 (-1 = no cap)")
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
	if *maxAccounts == 0 || *maxAccounts < -1 {
		return usageError{"--max-accounts must be positive, or -1 for no cap"}
	}
	if *accounts != "" {
		creds, err := readAccounts(*accounts)
		if err != nil {
			return err
		}
		cfg.Credentials = creds
	}
	if !*auto && len(cfg.Credentials) == 0 {
		return usageError{"no accounts: pass --auto-provision or --accounts FILE"}
	}
	level := slog.LevelInfo
	if !*verbose {
		level = slog.LevelWarn
	}
	cfg.Logger = slog.New(slog.NewTextHandler(c.m.Stderr, &slog.HandlerOptions{Level: level}))

	srv, err := sim.New(cfg)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	return serveBroker(ctx, srv, ln, c.m, *marketMode)
}

// serveBroker runs srv on ln until ctx ends, then drains requests and
// stops the market.
func serveBroker(ctx context.Context, srv *sim.Server, ln net.Listener, m *Main, mode string) error {
	// HTTP/1.1 for every Alpaca client, plus HTTP/2 without TLS for
	// clients that ask for it (the engine: one connection per tenant for
	// its REST calls and trade-update stream), with the timeouts and
	// per-connection bounds that keep hostile clients from exhausting
	// memory (issue 8, item 6).
	hs := srv.HTTPServer()
	srv.Start()
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	fmt.Fprintf(m.Stderr, "quantum broker: serving the Alpaca API on http://%s (market %s)\n", ln.Addr(), mode)
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
	srv, err := sim.New(sim.Config{AutoProvision: true, Seed: seed})
	if err != nil {
		return "", nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serveBroker(ctx, srv, ln, &Main{Stderr: io.Discard}, "always-open") }()
	return "http://" + ln.Addr().String(), func() { cancel(); <-done }, nil
}

type accountEntry struct {
	KeyID  string  `yaml:"key_id"`
	Secret string  `yaml:"secret"`
	Cash   float64 `yaml:"cash"`
}

func readAccounts(path string) ([]sim.Credential, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("accounts file: %w", err)
	}
	defer f.Close()
	var entries []accountEntry
	dec := yaml.NewDecoder(f)
	dec.KnownFields(true)
	if err := dec.Decode(&entries); err != nil {
		return nil, fmt.Errorf("accounts file %s: %w", path, err)
	}
	seen := map[string]bool{}
	out := make([]sim.Credential, 0, len(entries))
	for i, e := range entries {
		if e.KeyID == "" || e.Secret == "" {
			return nil, fmt.Errorf("accounts file %s: entry %d: key_id and secret are required", path, i+1)
		}
		if seen[e.KeyID] {
			return nil, fmt.Errorf("accounts file %s: entry %d: key_id %q appears twice", path, i+1, e.KeyID)
		}
		if e.Cash < 0 {
			return nil, fmt.Errorf("accounts file %s: entry %d: cash must not be negative", path, i+1)
		}
		seen[e.KeyID] = true
		out = append(out, sim.Credential{KeyID: e.KeyID, Secret: e.Secret, Cash: e.Cash})
	}
	return out, nil
}
