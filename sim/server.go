// Package sim is an Alpaca-compatible paper broker: the Trading API v2,
// Market Data v2 for stocks, and the trade-update and market-data streams,
// all on one listener, over a seeded synthetic market. It is the embedded
// default that Quantum Alpaca runs and is tested against offline, and the
// official Alpaca SDKs work against it unchanged.
//
// Each account's state is owned by one match.Account behind the account's
// own mutex, so requests for different accounts never contend; the market
// is shared read-only.
package sim

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/quantum-alpaca/quantum/sim/market"
)

// Defaults.
const (
	DefaultCash         = 100_000
	DefaultFeedCapacity = 4096
	DefaultTickInterval = 100 * time.Millisecond
)

// Config configures a Server. The zero value is usable: a closed server
// with no accounts, always-open market, no faults.
type Config struct {
	// Seed makes the market, partial fills and faults repeatable.
	Seed uint64
	// Cash is the starting cash of a new account. Defaults to 100,000.
	Cash float64
	// AutoProvision gives any new key pair a fresh account, as Alpaca paper
	// does for a new paper key.
	AutoProvision bool
	// Credentials are the accounts of a closed setup.
	Credentials []Credential
	// Session is the market's trading hours. Defaults to AlwaysOpen.
	Session Session
	// Faults are injected into REST requests.
	Faults Faults
	// RateLimit is the number of REST requests per minute per key; 0 means
	// unlimited.
	RateLimit int
	// RateWindow is the window RateLimit counts in. Defaults to a minute;
	// tests shorten it.
	RateWindow time.Duration
	// FeedCapacity is how many trade updates per account are kept for
	// SSE replay. Defaults to 4096; each retained event holds a copy of its order (about 500 bytes).
	FeedCapacity int
	// TickInterval is how often the synthetic market moves. Defaults to
	// 100ms.
	TickInterval time.Duration
	// Now is the clock. Defaults to time.Now.
	Now func() time.Time
	// Logger receives the server's own log lines. Defaults to discarding.
	Logger *slog.Logger
}

// Server is the simulated broker. Create it with New, serve Handler, and
// stop it with Close.
type Server struct {
	cfg      Config
	mux      *http.ServeMux
	market   *market.Market
	accounts registry
	interest interest
	faults   *faultInjector
	log      *slog.Logger

	ctx    context.Context // canceled by Close: ends streams and loops
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once
}

// New builds a server and its market. Call Start to run the market's clock.
func New(cfg Config) (*Server, error) {
	if cfg.Cash == 0 {
		cfg.Cash = DefaultCash
	}
	if cfg.Cash < 0 || cfg.Cash > 1e12 {
		return nil, errors.New("sim: starting cash must be between 0 and 1e12")
	}
	if cfg.Session == nil {
		cfg.Session = AlwaysOpen{}
	}
	if cfg.RateWindow <= 0 {
		cfg.RateWindow = time.Minute
	}
	if cfg.FeedCapacity <= 0 {
		cfg.FeedCapacity = DefaultFeedCapacity
	}
	if cfg.TickInterval <= 0 {
		cfg.TickInterval = DefaultTickInterval
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Faults.FailRate < 0 || cfg.Faults.DropRate < 0 || cfg.Faults.FailRate+cfg.Faults.DropRate > 1 {
		return nil, errors.New("sim: fail and drop rates must be in [0, 1] and sum to at most 1")
	}
	s := &Server{cfg: cfg, mux: http.NewServeMux(), log: cfg.Logger}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.faults = newFaultInjector(cfg.Faults, cfg.Seed)
	m, err := market.New(market.Config{
		Seed:         int64(cfg.Seed),
		Now:          cfg.Now,
		TickInterval: cfg.TickInterval,
		Session:      cfg.Session.Open,
		Auth: func(key, secret string) bool {
			a, _ := s.authenticate(key, secret)
			return a != nil
		},
		Logger: cfg.Logger,
	})
	if err != nil {
		return nil, err
	}
	s.market = m
	for _, c := range cfg.Credentials {
		if c.KeyID == "" || c.Secret == "" {
			return nil, errors.New("sim: every account needs a key id and a secret")
		}
		cash := c.Cash
		if cash == 0 {
			cash = cfg.Cash
		}
		c := c
		s.accounts.getOrCreate(c.KeyID, func() *account { return s.newAccount(c.KeyID, hashSecret(c.Secret), cash) })
	}
	s.routes()
	return s, nil
}

func (s *Server) now() time.Time { return s.cfg.Now() }

// Handler serves the whole API.
func (s *Server) Handler() http.Handler { return s.mux }

// Market is the server's synthetic market.
func (s *Server) Market() *market.Market { return s.market }

// Start runs the market clock and the loop that re-evaluates resting orders
// when quotes move. Close stops them.
func (s *Server) Start() {
	s.market.Start(s.ctx)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.quoteLoop()
	}()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.sessionLoop()
	}()
}

// Close stops the market, ends every open stream and waits for the
// server's goroutines. In-flight REST requests belong to the http.Server
// that serves Handler and are its to drain.
func (s *Server) Close() error {
	s.once.Do(func() {
		s.cancel()
		s.market.Close()
		s.wg.Wait()
	})
	return nil
}

func (s *Server) routes() {
	rest := func(pattern string, h func(http.ResponseWriter, *http.Request, *account)) {
		s.mux.Handle(pattern, s.authorized(h))
	}
	rest("GET /v2/account", s.getAccount)
	rest("GET /v2/account/configurations", s.getConfigurations)
	rest("PATCH /v2/account/configurations", s.patchConfigurations)
	rest("GET /v2/account/activities", s.getActivities)
	rest("GET /v2/account/activities/{type}", s.getActivities)
	rest("GET /v2/account/portfolio/history", s.getPortfolioHistory)

	rest("POST /v2/orders", s.postOrder)
	rest("GET /v2/orders", s.listOrders)
	rest("DELETE /v2/orders", s.cancelAllOrders)
	rest("GET /v2/orders/{id}", s.getOrder)
	rest("PATCH /v2/orders/{id}", s.replaceOrder)
	rest("DELETE /v2/orders/{id}", s.cancelOrder)
	// The colon is literal in Alpaca's path; Go's mux treats it as text.
	rest("GET /v2/orders:by_client_order_id", s.getOrderByClientID)

	rest("GET /v2/positions", s.listPositions)
	rest("DELETE /v2/positions", s.closeAllPositions)
	rest("GET /v2/positions/{symbol}", s.getPosition)
	rest("DELETE /v2/positions/{symbol}", s.closePosition)

	rest("GET /v2/assets", s.listAssets)
	rest("GET /v2/assets/{symbol}", s.getAsset)
	rest("GET /v2/clock", s.getClock)
	rest("GET /v2/calendar", s.getCalendar)

	rest("GET /v2/watchlists", s.listWatchlists)
	rest("POST /v2/watchlists", s.createWatchlist)
	rest("GET /v2/watchlists/{id}", s.getWatchlist)
	rest("PUT /v2/watchlists/{id}", s.updateWatchlist)
	rest("POST /v2/watchlists/{id}", s.addToWatchlist)
	rest("DELETE /v2/watchlists/{id}", s.deleteWatchlist)
	rest("DELETE /v2/watchlists/{id}/{symbol}", s.removeFromWatchlist)
	rest("GET /v2/watchlists:by_name", s.getWatchlist)
	rest("PUT /v2/watchlists:by_name", s.updateWatchlist)
	rest("POST /v2/watchlists:by_name", s.addToWatchlist)
	rest("DELETE /v2/watchlists:by_name", s.deleteWatchlist)

	// Streams authenticate themselves and are not subject to REST faults.
	s.mux.HandleFunc("GET /v2/events/trades", s.sseTradeUpdates)
	s.mux.HandleFunc("GET /stream", s.wsTradeUpdates)

	s.market.Register(s.mux, func(h http.Handler) http.Handler {
		return s.authorized(func(w http.ResponseWriter, r *http.Request, _ *account) { h.ServeHTTP(w, r) })
	})

	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		notFound(w, "endpoint not found")
	})
}
