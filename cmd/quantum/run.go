package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/quantum-alpaca/quantum/alpaca"
	"github.com/quantum-alpaca/quantum/alpacabroker"
	"github.com/quantum-alpaca/quantum/engine"
	"github.com/quantum-alpaca/quantum/metrics"
	"github.com/quantum-alpaca/quantum/postgres"
	"github.com/quantum-alpaca/quantum/sqlite"
	"github.com/quantum-alpaca/quantum/trading"
	"github.com/quantum-alpaca/quantum/web"
)

type runCommand struct{ m *Main }

const runUsage = `Usage: quantum run [--config FILE] [--listen ADDR] [--data DIR] [--broker URL]

Runs the multi-tenant trading engine: one isolated runner per tenant, every
order journaled (SQLite, under --data) before it is sent, reconciled with the
broker after any crash.

Without --config it runs the demo: the embedded paper broker in-process and
three tenants with different built-in strategies (dca, macross, rebalance).

Config file (YAML; unknown keys are errors):
  broker: http://127.0.0.1:8090   # omit: embedded broker
  data: ./quantum-data
  journal: sqlite                 # or postgres://user@host:5432/db (${NAME} from the env)
  rate_limit: 200                 # requests/min per tenant; 0 = unlimited
  idle_conn_timeout: 5s           # an unused REST connection closes after this
  tenants:
    - id: t1
      key_id: PK...               # or key_id_env: NAME, secret_env: NAME
      secret: ...
      strategy: dca               # dca, macross, meanrev, rebalance
      params: {symbol: AAPL, qty: 1, interval: 10ms, count: 200}
      risk: {max_order_notional: 50000, max_position_qty: 1000, max_open_orders: 50}

The ops API (JSON) listens on --listen: GET /healthz, GET /api/tenants,
GET /api/tenants/{id}, GET /api/tenants/{id}/orders,
GET /api/tenants/{id}/fills?after=EVENT_ID&limit=N, GET /metrics (Prometheus),
POST /api/tenants/{id}/state {"state":"HALTED"}. Bound to a non-loopback
address it requires QUANTUM_API_TOKEN as a bearer token.

Flags:
`

// Shutdown budget: the first Ctrl-C lets orders in flight finish for this
// long before they are cancelled and journaled as unknown.
const runShutdownTimeout = 10 * time.Second

func (c *runCommand) Run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(c.m.Stderr)
	fs.Usage = func() { fmt.Fprint(c.m.Stderr, runUsage); fs.PrintDefaults() }
	configPath := fs.String("config", "", "YAML config `FILE` (default: the three-tenant demo)")
	listen := fs.String("listen", "", "ops API address (default "+DefaultListen+")")
	dataDir := fs.String("data", "", "journal directory (default "+DefaultDataDir+")")
	brokerURL := fs.String("broker", "", "trading API base `URL` (default: embedded broker, or APCA_API_BASE_URL)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("run takes no arguments, got %q", fs.Args())}
	}
	getenv := c.m.Getenv
	if getenv == nil {
		getenv = func(string) string { return "" }
	}

	// Everything that can be wrong with the configuration is found here,
	// before anything starts.
	var cfg Config
	demo := *configPath == ""
	if demo {
		cfg = demoConfig()
	} else {
		var err error
		if cfg, err = ReadConfigFile(*configPath, getenv); err != nil {
			return err
		}
	}
	if *brokerURL != "" {
		cfg.Broker = *brokerURL
	}
	if cfg.Broker == "" && !demo {
		cfg.Broker = getenv("APCA_API_BASE_URL")
	}
	if *dataDir != "" {
		cfg.Data = *dataDir
	}
	if *listen != "" {
		cfg.Listen = *listen
	}
	embedded := cfg.Broker == ""
	specs, err := cfg.Validate(embedded || demo)
	if err != nil {
		return err
	}
	token := getenv("QUANTUM_API_TOKEN")
	if !loopback(cfg.Listen) && token == "" {
		return &ConfigValidationError{Field: "listen", Value: cfg.Listen, Err: errors.New("a non-loopback ops API needs QUANTUM_API_TOKEN set")}
	}
	rate := 0
	if cfg.RateLimit != nil {
		rate = *cfg.RateLimit
	} else if !embedded && !loopbackURL(cfg.Broker) {
		rate = alpaca.DefaultRateLimit
	}

	log := slog.New(slog.NewTextHandler(c.m.Stderr, &slog.HandlerOptions{Level: logLevel(getenv("LOG_LEVEL"))}))

	if embedded {
		if cfg.sharedJournal() {
			// Each engine would trade against a broker of its own in its
			// own memory, while sharing one journal: an adopted tenant's
			// orders would be at a broker the adopter cannot see.
			log.Warn("a PostgreSQL journal with the embedded broker: do not run a second engine on this database; give every engine the same broker URL for that")
		}
		url, stop, err := startEmbeddedBroker(uint64(time.Now().UnixNano()))
		if err != nil {
			return err
		}
		// Stopped last (defers run in reverse), after the engine.
		defer stop()
		cfg.Broker = url
	}

	var j interface {
		trading.Journal
		trading.StateStore
		Open(context.Context) error
	}
	journalAt := filepath.Join(cfg.Data, "journal.db")
	if cfg.sharedJournal() {
		journalAt = "PostgreSQL " + redactURL(cfg.journalDSN)
		j = postgres.NewJournal(cfg.journalDSN)
	} else {
		j = sqlite.NewJournal(journalAt)
	}
	if err := j.Open(ctx); err != nil {
		return err
	}
	defer func() {
		if cerr := j.Close(); cerr != nil {
			log.Error("close journal", "err", cerr)
		}
	}()

	e := engine.NewEngine(j)
	e.Logger = log.With("system", "engine")
	// Trading states set through the ops API survive restarts: the journal
	// keeps them, in whichever database it is.
	if err := importStateFile(ctx, cfg.Data, j, log); err != nil {
		return err
	}
	e.States = j
	if cfg.sharedJournal() {
		// Other engines on the database may change a tenant's state.
		e.StateSyncInterval = stateSyncInterval
		// Engines sharing the database share the tenants: each runs the
		// tenants whose advisory lock it holds and adopts those of an
		// engine that dies.
		own, err := postgres.NewOwnership(cfg.journalDSN)
		if err != nil {
			return err
		}
		own.Logger = log.With("system", "ownership")
		own.Tenants = len(specs)
		if err := own.Start(ctx); err != nil {
			return fmt.Errorf("tenant ownership: %w", err)
		}
		defer own.Close()
		e.Owners = own
	}
	reg := metrics.New(e.Statuses)
	for _, s := range specs {
		// The embedded broker speaks HTTP/2 without TLS, so each tenant's
		// concurrent REST calls share one connection.
		b, err := alpacabroker.New(alpacabroker.Config{BaseURL: cfg.Broker, KeyID: s.KeyID, SecretKey: s.Secret, RateLimit: rate,
			UnencryptedHTTP2: embedded, IdleConnTimeout: cfg.idleConn,
			Options: []alpaca.Option{alpaca.WithObserver(reg.Observer(string(s.ID)))}})
		if err != nil {
			return err
		}
		if err := e.AddTenant(engine.TenantConfig{ID: s.ID, Broker: b, StrategyName: s.Strategy, NewStrategy: s.NewStrategy, Limits: s.Limits, State: s.State}); err != nil {
			return err
		}
	}
	// One market-data websocket serves every tenant's quotes (with the
	// first tenant's keys: market data is the same for all accounts).
	dataURL := cfg.Broker
	if u, err := url.Parse(cfg.Broker); err == nil && strings.HasSuffix(u.Hostname(), "alpaca.markets") {
		dataURL = "https://stream.data.alpaca.markets"
	}
	feed, err := alpacabroker.NewFeed(dataURL, alpaca.StreamFeedIEX, specs[0].KeyID, specs[0].Secret)
	if err != nil {
		return err
	}
	e.Hub = engine.NewHub(nil)
	e.Hub.Feed = feed
	e.Hub.Logger = log.With("system", "hub")

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("ops API: %w", err)
	}
	hs := &http.Server{Handler: web.NewOpsAPI(web.Config{Fleet: e, Journal: j, Token: token, Metrics: promhttp.HandlerFor(reg, promhttp.HandlerOpts{})}), ReadHeaderTimeout: 10 * time.Second}
	apiDone := make(chan error, 1)
	go func() { apiDone <- hs.Serve(ln) }()
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = hs.Shutdown(sctx)
		<-apiDone
	}()

	if err := e.Open(); err != nil {
		return err
	}
	where := "external broker " + redactURL(cfg.Broker)
	if embedded {
		where = "embedded paper broker on " + cfg.Broker + " (in memory: its orders vanish when quantum exits)"
	}
	api := "http://" + ln.Addr().String()
	fmt.Fprintf(c.m.Stdout, "quantum run: %d tenants trading against the %s\n", len(specs), where)
	fmt.Fprintf(c.m.Stdout, "  journal:   %s\n", journalAt)
	fmt.Fprintf(c.m.Stdout, "  ops API:   %s/api/tenants\n", api)
	fmt.Fprintf(c.m.Stdout, "  orders:    %s/api/tenants/%s/orders\n", api, specs[0].ID)
	fmt.Fprintf(c.m.Stdout, "  metrics:   %s/metrics\n", api)
	fmt.Fprintf(c.m.Stdout, "  kill switch: curl -X POST -d '{\"state\":\"HALTED\"}' %s/api/tenants/%s/state\n", api, specs[0].ID)
	fmt.Fprintf(c.m.Stdout, "Ctrl-C stops gracefully.\n")

	select {
	case <-ctx.Done():
	case err := <-apiDone:
		apiDone <- err // for the deferred shutdown
		log.Error("ops API stopped", "err", err)
	}
	fmt.Fprintln(c.m.Stderr, "quantum run: shutting down (orders in flight are finished or journaled)")
	sctx, cancel := context.WithTimeout(context.Background(), runShutdownTimeout)
	defer cancel()
	if err := e.Close(sctx); err != nil {
		log.Warn("engine shutdown timed out; unfinished orders will be reconciled on the next start", "err", err)
	}
	return nil
}

func logLevel(s string) slog.Level {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil || s == "" {
		return slog.LevelInfo
	}
	return l
}

func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func loopbackURL(u string) bool {
	p, err := url.Parse(u)
	if err != nil {
		return false
	}
	port := p.Port()
	if port == "" {
		port = "80"
	}
	return loopback(net.JoinHostPort(p.Hostname(), port))
}

// redactURL drops user info, query and fragment from a URL before it is
// printed: a password can sit in the user info or, for PostgreSQL, in the
// query.
func redactURL(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "(invalid URL)"
	}
	p.User, p.RawQuery, p.Fragment = nil, "", ""
	return p.String()
}

// stateSyncInterval is how soon a trading state set on one engine takes
// effect on the engine running the tenant.
const stateSyncInterval = time.Second
