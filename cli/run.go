package cli

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
	"github.com/quantum-alpaca/quantum/alpaca/stream"
	"github.com/quantum-alpaca/quantum/alpacabroker"
	"github.com/quantum-alpaca/quantum/engine"
	"github.com/quantum-alpaca/quantum/metrics"
	"github.com/quantum-alpaca/quantum/postgres"
	"github.com/quantum-alpaca/quantum/sqlite"
	"github.com/quantum-alpaca/quantum/trading"
	"github.com/quantum-alpaca/quantum/web"
)

type runCommand struct{ app *App }

// runUsage is the text of run -h before the flags; the demo and the
// strategies are filled in from the code, which knows them.
const runUsage = `Usage: quantum run [--config FILE] [--listen ADDR] [--data DIR] [--broker URL]

Runs the multi-tenant trading engine: one isolated runner per tenant, every
order journaled (SQLite, under --data) before it is sent, reconciled with the
broker after any crash.

{{demo}}

Config file (YAML; unknown keys are errors):
  broker: http://127.0.0.1:8090   # omit: embedded broker
  data: ./quantum-data
  journal: sqlite                 # or postgres://user@host:5432/db (${NAME} from the env)
  rate_limit: 200                 # requests/min per tenant; 0 = unlimited
  idle_conn_timeout: 5s           # an unused REST connection closes after this
  notify:                         # alerts to webhooks; never block trading
    - url: https://hooks.slack.com/services/${SLACK_PATH}  # logged redacted
      format: slack               # slack | discord | telegram (+ chat_id) | json
      events: [fill, rejected]    # default: all but order, fill and canceled
      tenants: [t1]               # optional; engine start/stop always sent
  tenants:
    - id: t1
      key_id: PK...               # or key_id_env: NAME, secret_env: NAME
      secret: ...
      strategy: dca               # one of the strategies below
      params: {symbol: AAPL, qty: 1, interval: 10ms, count: 200}
      risk: {max_order_notional: 50000, max_position_qty: 1000, max_open_orders: 50}
    - id: c1                      # a customer account of the Broker API firm
      broker_account_id: 7f3c...  # quantum tenants create prints these
      strategy: dca
      params: {symbol: AAPL}
  broker_api:                     # the firm: one client, limit and event stream
    url: https://broker-api.sandbox.alpaca.markets
    key_env: BROKER_API_KEY       # or key: / secret: inline
    secret_env: BROKER_API_SECRET
    rate_limit: 1000              # requests/min for the firm (0 on loopback)
    account_rate_limit: 0         # requests/min per account inside it; 0 = none

{{strategies}}

The ops listener (--listen) serves the dashboard at GET / (live fleet table,
tenant pages with charts, the kill switch) and the JSON ops API:
GET /healthz (503 with the reasons while any tenant is failing), GET /readyz,
GET /api/v1/tenants[/{id}], GET /api/v1/tenants/{id}/orders|fills?after=&limit=,
GET /api/v1/tenants/{id}/history, GET /api/v1/events (Server-Sent Events),
POST /api/v1/tenants/{id}/state and POST /api/v1/state {"state":"halted"}
(Content-Type: application/json; a cross-origin request is refused),
GET /metrics (Prometheus); the OpenAPI document is GET /api/v1/openapi.json,
and the unversioned /api/tenants... routes still answer. Bound to a loopback
address it answers only loopback host names; bound to any other address it
requires QUANTUM_API_TOKEN as a bearer token.

Logs go to stderr; LOG_LEVEL=debug|info|warn|error sets the level (default
info), --log-format text|json the format. Every order, fill, rejection (by
the risk gate or the broker), cancel, unknown outcome, trading-state change,
tenant failure or recovery and breaker trip is one line (failures and breaker
trips at WARN, the rest at INFO) with its tenant, kind, symbol, side, qty or
notional, price, client_order_id and reason.
{{limits}}

Flags:
`

// Shutdown budget: the first Ctrl-C lets orders in flight finish for this
// long before they are cancelled and journaled as unknown.
const runShutdownTimeout = 10 * time.Second

// runSettings is what the command line and the config file decide,
// checked before anything starts.
type runSettings struct {
	cfg      Config
	specs    []tenantSpec
	demo     bool
	embedded bool   // no broker URL: start the embedded paper broker
	token    string // the ops API's bearer token, if any
	rate     int    // requests/min per tenant; 0 unlimited
	logJSON  bool   // --log-format json

	// freshDemo: the demo on its default data dir, emptied before it
	// starts, as the embedded broker starts empty.
	freshDemo bool
}

func (c *runCommand) Run(ctx context.Context, args []string) error {
	getenv := c.app.getenv
	rs, err := c.settings(args, getenv)
	if err != nil {
		return err
	}
	opts := &slog.HandlerOptions{Level: logLevel(getenv("LOG_LEVEL"))}
	var log *slog.Logger
	if rs.logJSON {
		log = slog.New(slog.NewJSONHandler(c.app.Stderr, opts))
	} else {
		log = slog.New(slog.NewTextHandler(c.app.Stderr, opts))
	}

	// Cleanups run in reverse: the engine stops first, the embedded
	// broker last.
	if rs.embedded {
		if rs.cfg.sharedJournal() {
			// Each engine would trade against a broker of its own in its
			// own memory, while sharing one journal: an adopted tenant's
			// orders would be at a broker the adopter cannot see.
			log.Warn("a PostgreSQL journal with the embedded broker: do not run a second engine on this database; give every engine the same broker URL for that")
		}
		url, stop, err := startEmbeddedBroker(uint64(time.Now().UnixNano()))
		if err != nil {
			return err
		}
		defer stop()
		rs.cfg.Broker = url
	}
	if rs.freshDemo {
		if err := resetDemoData(rs.cfg.Data, log); err != nil {
			return err
		}
	}
	j, journalAt, err := openJournal(ctx, rs.cfg)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := j.Close(); cerr != nil {
			log.Error("close journal", "err", cerr)
		}
	}()
	// Trading states set through the ops API survive restarts: the journal
	// keeps them, in whichever database it is.
	if err := importStateFile(ctx, rs.cfg.Data, j, log); err != nil {
		return err
	}

	e := engine.NewEngine(j)
	e.Logger = log.With("system", "engine")
	e.States = j
	if rs.cfg.sharedJournal() {
		own, err := shareTenants(ctx, e, rs, log)
		if err != nil {
			return err
		}
		defer own.Close()
	}
	reg := metrics.New(e.Statuses)
	stopFirm, err := addTenants(e, rs, reg, log)
	if err != nil {
		return err
	}
	defer stopFirm()
	// Subscribed before Open and stopped after Close (deferred), so the
	// alerts include the engine's start and stop.
	alerts, err := startAlerts(rs.cfg.Notify, e.Activities, log)
	if err != nil {
		return err
	}
	defer alerts.stop()

	// Subscribed before Open, so the dashboard's history and event
	// streams see the engine start.
	ops, err := startOpsAPI(rs.cfg.Listen, web.Config{Fleet: e, Journal: j, Token: rs.token,
		Metrics: promhttp.HandlerFor(reg, promhttp.HandlerOpts{}), LoopbackOnly: loopback(rs.cfg.Listen),
		Subscribe: webFeed(e.Activities), Logger: log.With("system", "web")})
	if err != nil {
		return err
	}
	defer ops.stop()

	// The terminal's activity lines: subscribed before Open and stopped
	// (deferred) after Close, so that the engine's start and stop and the
	// session summary are logged.
	stopActivity := startActivityLog(e.Activities, log.With("system", "activity"), e.Statuses)
	defer stopActivity()
	if err := e.Open(); err != nil {
		return err
	}
	// The banner tells the truth: it waits for the tenants' first
	// broker calls (bounded) and says which are not trading, and why.
	waitStarted(ctx, e, bannerWait)
	c.banner(rs, e.Statuses(), journalAt, "http://"+ops.addr)

	select {
	case <-ctx.Done():
	case err := <-ops.done:
		ops.done <- err // for the deferred stop
		log.Error("ops API stopped", "err", err)
	}
	fmt.Fprintln(c.app.Stderr, "quantum run: shutting down (orders in flight are finished or journaled)")
	sctx, cancel := context.WithTimeout(context.Background(), runShutdownTimeout)
	defer cancel()
	if err := e.Close(sctx); err != nil {
		log.Warn("engine shutdown timed out; unfinished orders will be reconciled on the next start", "err", err)
	}
	return nil
}

// usage is runUsage with the demo's strategies and every registered one.
func (c *runCommand) usage() string {
	var demo []string
	for _, t := range demoConfig().Tenants {
		demo = append(demo, t.Strategy)
	}
	var b strings.Builder
	writeStrategies(&b, c.app.strategies.Specs())
	return strings.NewReplacer(
		"{{demo}}", fmt.Sprintf("Without --config it runs the demo: the embedded paper broker in-process and\n%d tenants with built-in strategies (%s).\nThe embedded broker starts empty, so the demo does too: it empties its\njournal, %s, at each start (not one given with --data).\nquantum init writes a config to start from.", len(demo), strings.Join(demo, ", "), DefaultDemoDataDir),
		"{{limits}}", fmt.Sprintf("Each tenant may log %d such lines at once and %d a second after that; every\n%s a line per tenant counts what the limit held back (state changes,\nfailures and breaker trips always show). On shutdown each tenant gets a\nsummary line: its orders, fills, rejections and final state.", activityBurst, activityRate, activitySummaryEvery),
		"{{strategies}}", strings.TrimSuffix(b.String(), "\n"),
	).Replace(runUsage)
}

// settings reads the flags and the config: everything that can be wrong
// with them is found here, before anything starts.
func (c *runCommand) settings(args []string, getenv func(string) string) (runSettings, error) {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(c.app.Stderr)
	fs.Usage = func() { fmt.Fprint(c.app.Stderr, c.usage()); fs.PrintDefaults() }
	configPath := fs.String("config", "", "YAML config `FILE` (default: the three-tenant demo)")
	listen := fs.String("listen", "", "ops API address (default "+DefaultListen+")")
	logFormat := fs.String("log-format", "text", "log `FORMAT` on stderr: text or json")
	dataDir := fs.String("data", "", "journal directory (default "+DefaultDataDir+"; the demo's, "+DefaultDemoDataDir+", is emptied at each start)")
	brokerURL := fs.String("broker", "", "trading API base `URL` (default: embedded broker, or APCA_API_BASE_URL)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return runSettings{}, err
		}
		return runSettings{}, usageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return runSettings{}, usageError{fmt.Sprintf("run takes no arguments, got %q", fs.Args())}
	}
	if *logFormat != "text" && *logFormat != "json" {
		return runSettings{}, usageError{fmt.Sprintf("--log-format %q: want text or json", *logFormat)}
	}

	rs := runSettings{demo: *configPath == "", logJSON: *logFormat == "json"}
	if rs.demo {
		rs.cfg = demoConfig()
	} else {
		var err error
		if rs.cfg, err = ReadConfigFile(*configPath, getenv); err != nil {
			return runSettings{}, err
		}
	}
	cfg := &rs.cfg
	if *brokerURL != "" {
		cfg.Broker = *brokerURL
	}
	if cfg.Broker == "" && !rs.demo {
		cfg.Broker = getenv("APCA_API_BASE_URL")
	}
	if *dataDir != "" {
		cfg.Data = *dataDir
	} else if rs.demo {
		cfg.Data = c.app.demoDataDir()
	}
	if *listen != "" {
		cfg.Listen = *listen
	}
	rs.embedded = cfg.Broker == ""
	rs.freshDemo = rs.demo && rs.embedded && *dataDir == ""
	var err error
	if rs.specs, err = cfg.validate(&c.app.strategies, rs.embedded || rs.demo); err != nil {
		return runSettings{}, err
	}
	if rs.firmOnly() {
		// Every tenant trades through the firm: an embedded broker would
		// serve nobody.
		rs.embedded = false
	}
	rs.token = getenv("QUANTUM_API_TOKEN")
	if !loopback(cfg.Listen) && rs.token == "" {
		return runSettings{}, &ConfigValidationError{Field: "listen", Value: cfg.Listen, Err: errors.New("a non-loopback ops API needs QUANTUM_API_TOKEN set")}
	}
	if cfg.RateLimit != nil {
		rs.rate = *cfg.RateLimit
	} else if !rs.embedded && !loopbackURL(cfg.Broker) {
		rs.rate = alpaca.DefaultRateLimit
	}
	return rs, nil
}

// firmOnly reports whether every tenant is a Broker API account.
func (rs runSettings) firmOnly() bool {
	for _, s := range rs.specs {
		if s.BrokerAccountID == "" {
			return false
		}
	}
	return len(rs.specs) > 0
}

// runJournal is what quantum run needs of a journal: both stores are one.
type runJournal interface {
	trading.Journal
	trading.StateStore
}

// openJournal opens the configured journal and says where it is, for the
// banner (a PostgreSQL URL without its password).
func openJournal(ctx context.Context, cfg Config) (runJournal, string, error) {
	if cfg.sharedJournal() {
		j := postgres.NewJournal(cfg.journalDSN)
		if err := j.Open(ctx); err != nil {
			return nil, "", err
		}
		return j, cfg.journalAt, nil
	}
	at := filepath.Join(cfg.Data, "journal.db")
	j := sqlite.NewJournal(at)
	if err := j.Open(ctx); err != nil {
		return nil, "", err
	}
	return j, at, nil
}

// shareTenants sets e up for a database that several engines share: each
// runs the tenants whose advisory lock it holds, adopts those of an engine
// that dies, and applies the trading states the others save.
func shareTenants(ctx context.Context, e *engine.Engine, rs runSettings, log *slog.Logger) (*postgres.Ownership, error) {
	e.StateSyncInterval = stateSyncInterval
	own, err := postgres.NewOwnership(rs.cfg.journalDSN)
	if err != nil {
		return nil, err
	}
	own.Logger = log.With("system", "ownership")
	own.Tenants = len(rs.specs)
	own.Name = rs.cfg.EngineName
	if err := own.Start(ctx); err != nil {
		return nil, fmt.Errorf("tenant ownership: %w", err)
	}
	e.Owners = own
	return own, nil
}

// addTenants gives every tenant its broker client and adds it to e, and
// sets up the one market-data feed they share. A Trading API tenant has a
// client of its own; the Broker API tenants share their firm's client and
// its one trade-event stream, which runs until stop.
func addTenants(e *engine.Engine, rs runSettings, reg *metrics.Registry, log *slog.Logger) (stop func(), err error) {
	cfg := rs.cfg
	stop = func() {}
	var firm *alpacabroker.Firm
	for _, s := range rs.specs {
		if s.BrokerAccountID != "" && firm == nil {
			if firm, err = newFirm(rs, log, reg); err != nil {
				return stop, err
			}
			reg.AddFirmStream(func() metrics.FirmStreamCounts {
				st := firm.Stats()
				return metrics.FirmStreamCounts{Received: st.Received, Unrouted: st.Unrouted, Overflows: st.Overflows, Resyncs: st.Resyncs}
			})
		}
	}
	dataKey, dataSecret := "", ""
	for _, s := range rs.specs {
		var b trading.Broker
		if s.BrokerAccountID != "" {
			b = firm.Account(s.BrokerAccountID)
		} else {
			// The embedded broker speaks HTTP/2 without TLS, so each
			// tenant's concurrent REST calls share one connection.
			b, err = alpacabroker.New(alpacabroker.Config{BaseURL: cfg.Broker, KeyID: s.KeyID, SecretKey: s.Secret, RateLimit: rs.rate,
				UnencryptedHTTP2: rs.embedded, IdleConnTimeout: cfg.idleConn,
				Options: []alpaca.Option{alpaca.WithObserver(reg.Observer(string(s.ID)))}})
			if err != nil {
				return stop, err
			}
			if dataKey == "" {
				dataKey, dataSecret = s.KeyID, s.Secret
			}
		}
		if err := e.AddTenant(engine.TenantConfig{ID: s.ID, Broker: b, StrategyName: s.Strategy, NewStrategy: s.NewStrategy, Limits: s.Limits, State: s.State}); err != nil {
			return stop, err
		}
	}
	// One market-data websocket serves every tenant's quotes (with the
	// first tenant's keys, or the firm's: market data is the same for all
	// accounts).
	dataURL := cfg.Broker
	if dataKey == "" {
		dataURL, dataKey, dataSecret = cfg.BrokerAPI.URL, cfg.BrokerAPI.key, cfg.BrokerAPI.secret
	}
	if u, err := url.Parse(dataURL); err == nil && strings.HasSuffix(u.Hostname(), "alpaca.markets") {
		dataURL = "https://stream.data.alpaca.markets"
	}
	feed, err := alpacabroker.NewFeed(dataURL, stream.FeedIEX, dataKey, dataSecret)
	if err != nil {
		return stop, err
	}
	feed.Logger = log.With("system", "feed")
	e.Hub = engine.NewHub(nil)
	e.Hub.Feed = feed
	e.Hub.Logger = e.Logger.With("system", "hub")
	if firm != nil {
		stop = runFirm(firm, log.With("system", "broker_api"))
	}
	return stop, nil
}

// brokerAPIRateLimit is Alpaca's Broker API budget, requests/min for the
// whole firm.
const brokerAPIRateLimit = 1000

func newFirm(rs runSettings, log *slog.Logger, reg *metrics.Registry) (*alpacabroker.Firm, error) {
	b := rs.cfg.BrokerAPI
	rate := 0
	switch {
	case b.RateLimit != nil:
		rate = *b.RateLimit
	case !loopbackURL(b.URL):
		rate = brokerAPIRateLimit
	}
	return alpacabroker.NewFirm(alpacabroker.FirmConfig{BaseURL: b.URL, Key: b.key, Secret: b.secret, RateLimit: rate, AccountRateLimit: b.AccountRateLimit,
		IdleConnTimeout: rs.cfg.idleConn, Logger: log.With("system", "broker_api"),
		// The firm's requests are counted as one: its accounts share one
		// client, and its limiter's waits are the firm's, not a tenant's.
		Options: []alpaca.Option{alpaca.WithObserver(reg.Observer("broker_api"))}})
}

// runFirm reads the firm's trade-event stream until the returned func is
// called. The stream reconnects by itself; an error that ends it (a
// refused key, say) is logged at once and retried with backoff, and the
// tenants resync when it is back.
func runFirm(f *alpacabroker.Firm, log *slog.Logger) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		delay := time.Second
		for {
			err := f.Run(ctx)
			if ctx.Err() != nil {
				return
			}
			log.Error("the firm's trade event stream stopped; retrying", "err", err, "retry_in", delay)
			select {
			case <-ctx.Done():
				return
			case <-time.After(delay):
			}
			delay = min(2*delay, time.Minute)
		}
	}()
	return func() { cancel(); <-done }
}

// opsServer is the running ops API.
type opsServer struct {
	addr string
	done chan error // Serve's result
	srv  *http.Server
	api  *web.OpsAPI
}

func startOpsAPI(listen string, c web.Config) (*opsServer, error) {
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, fmt.Errorf("ops API: %w", err)
	}
	api := web.NewOpsAPI(c)
	if err := api.Open(); err != nil {
		ln.Close()
		return nil, err
	}
	s := &opsServer{addr: ln.Addr().String(), done: make(chan error, 1), api: api,
		srv: &http.Server{Handler: api, ReadHeaderTimeout: 10 * time.Second}}
	go func() { s.done <- s.srv.Serve(ln) }()
	return s, nil
}

// stop shuts the server down and waits for Serve to return. The API's
// event streams end first: Shutdown waits for handlers, and a stream
// never finishes on its own.
func (s *opsServer) stop() {
	s.api.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = s.srv.Shutdown(ctx)
	<-s.done
}

// webFeed lets the ops API subscribe to the engine's activity feed.
func webFeed(a *engine.Activities) func(int) (web.Subscription, func()) {
	return func(buffer int) (web.Subscription, func()) {
		sub := a.Subscribe(buffer)
		return sub, func() { a.Unsubscribe(sub) }
	}
}

// bannerWait bounds how long the banner waits for the tenants to finish
// starting; a tenant still starting then is reported as such.
const bannerWait = 10 * time.Second

// waitStarted waits until no tenant is starting any more, d passes or ctx
// ends.
func waitStarted(ctx context.Context, e *engine.Engine, d time.Duration) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		starting := false
		for _, s := range e.Statuses() {
			starting = starting || s.Health == trading.HealthStarting
		}
		if !starting {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// banner tells the operator where everything is, and which tenants are
// not trading.
func (c *runCommand) banner(rs runSettings, statuses []trading.TenantStatus, journalAt, api string) {
	where := "external broker " + redactURL(rs.cfg.Broker)
	if rs.embedded {
		where = "embedded paper broker on " + rs.cfg.Broker + " (in memory: its orders vanish when quantum exits)"
	}
	if b := rs.cfg.BrokerAPI; b != nil {
		if rs.firmOnly() {
			where = "Broker API firm at " + redactURL(b.URL)
		} else {
			where += " and the Broker API firm at " + redactURL(b.URL)
		}
	}
	var trouble []string
	for _, s := range statuses {
		switch {
		case s.Problem != "":
			trouble = append(trouble, fmt.Sprintf("%s: %s", s.ID, s.Problem))
		case s.Health == trading.HealthStarting:
			trouble = append(trouble, fmt.Sprintf("%s: still starting (reconciling with its broker)", s.ID))
		}
	}
	first := rs.specs[0].ID
	w := c.app.Stdout
	if len(trouble) == 0 {
		fmt.Fprintf(w, "quantum run: %d tenants trading against the %s\n", len(rs.specs), where)
	} else {
		fmt.Fprintf(w, "quantum run: %d of %d tenants trading against the %s; not trading:\n", len(rs.specs)-len(trouble), len(rs.specs), where)
		for _, t := range trouble {
			fmt.Fprintf(w, "  %s\n", t)
		}
	}
	fmt.Fprintf(w, "  journal:   %s\n", journalAt)
	fmt.Fprintf(w, "  dashboard: %s/\n", api)
	fmt.Fprintf(w, "  ops API:   %s/api/v1/tenants   (health: %s/healthz; spec: %s/api/v1/openapi.json)\n", api, api, api)
	fmt.Fprintf(w, "  orders:    %s/api/v1/tenants/%s/orders\n", api, first)
	fmt.Fprintf(w, "  metrics:   %s/metrics\n", api)
	fmt.Fprintf(w, "  kill switch: curl -X POST -H 'Content-Type: application/json' -d '{\"state\":\"HALTED\"}' %s/api/v1/tenants/%s/state\n", api, first)
	fmt.Fprintf(w, "Ctrl-C stops gracefully.\n")
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
