// Package sim is an Alpaca-compatible paper broker: the Trading API v2,
// Market Data v2 for stocks, and the trade-update and market-data streams,
// all on one listener, over a seeded synthetic market. It is the embedded
// default that Quantum Alpaca runs and is tested against offline, and the
// official Alpaca SDKs work against it unchanged.
//
// Each account's state is owned by one match.Account behind the account's
// own mutex, so requests for different accounts never contend; the market
// is shared read-only.
//
// # Replaying recorded bars
//
// With Config.Recorded the market replays recorded one-minute bars instead
// of the synthetic walk (see package market): the recorded symbols are the
// assets, history is the bars that have ended by the server's clock, and
// each bar's close sets the quote orders fill against for the next
// minute. Config.Clock sets that clock: NewReplayClock runs from a start
// time at a multiple of wall speed; NewSteppedClock stands still until it
// is advanced, in process with Server.AdvanceClock or over HTTP:
//
//	POST /sim/v1/clock  {"advance":"1m"}  or  {"to":"2024-01-02T15:00:00Z"}
//	GET  /sim/v1/clock
//
// Both answer {"now": RFC 3339, "stepped": bool}; the POST answers only once
// the market has been stepped to the new time (bars published on the
// streams, quotes derived) and every resting order has been evaluated
// against the new quotes, minute by minute. These simulator-only routes
// take the same API key headers as the Alpaca routes, but no rate limit
// or injected faults. GET /sim/v1/streams answers {"connections": n,
// "subscriptions": {"bars": [...], "quotes": [...], ...}}, the union over
// the connected market-data stream clients, so that a driver can wait for
// its clients to listen before it steps. A POST answers 409 unless the clock is stepped, and
// 422 for a time before the clock's. Under a stepped clock the market does
// not tick on its own and session events (the open, close and end of day)
// happen as the clock passes them.
package sim

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quantum-alpaca/quantum/alpaca"
	"github.com/quantum-alpaca/quantum/sim/market"
)

// Defaults.
const (
	DefaultCash         = 100_000
	DefaultFeedCapacity = 4096
	DefaultTickInterval = 100 * time.Millisecond
	DefaultMaxAccounts  = 10_000

	DefaultReadHeaderTimeout  = 10 * time.Second
	DefaultReadTimeout        = 30 * time.Second
	DefaultWriteTimeout       = 30 * time.Second
	DefaultIdleTimeout        = 120 * time.Second
	DefaultStreamWriteTimeout = 10 * time.Second
	DefaultHeartbeatInterval  = 15 * time.Second
	DefaultResponseBudget     = 64 << 20

	// DefaultMaxConcurrentStreams is the HTTP/2 streams one connection
	// may have open at once.
	DefaultMaxConcurrentStreams = 100
)

// Config configures a Server. The zero value is usable: a closed server
// with no accounts, always-open market, no faults.
type Config struct {
	// Seed makes the market, partial fills and faults repeatable.
	Seed uint64
	// PartialFillRate, when set, is the probability in [0,1] that an
	// eligible fill is partial; nil means Alpaca paper's 10%.
	PartialFillRate *float64
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
	// Clock, when set, is the clock instead of Now: a replay clock that
	// runs at a multiple of wall speed or only when advanced (see the
	// package documentation).
	Clock *ReplayClock
	// Universe is the synthetic market's listing (ParseAssets reads one
	// from Alpaca's GET /v2/assets); market.DefaultUniverse() when empty.
	Universe []market.Symbol
	// Recorded, when non-nil, replaces the synthetic market with a replay
	// of these one-minute bars, keyed by symbol (market.Config.Recorded):
	// the universe is their symbols, and Seed and TickInterval no longer
	// shape prices. It is usually paired with Clock, starting where the
	// replay should start.
	Recorded map[string][]alpaca.Bar
	// Logger receives the server's own log lines. Defaults to discarding.
	Logger *slog.Logger

	// MaxAccounts caps the number of accounts: under AutoProvision a new
	// key beyond it is refused with 403 (code 40310000), so that a client
	// inventing keys cannot make the server create accounts without end.
	// Accounts listed in Credentials count toward it but are always
	// created. Defaults to DefaultMaxAccounts; negative means no cap.
	MaxAccounts int

	// The timeouts and bounds below are those of the http.Server that
	// HTTPServer builds (issue 8, item 6), except StreamWriteTimeout,
	// HeartbeatInterval and ResponseBudget, which the handlers apply
	// whoever serves them.

	// ReadHeaderTimeout bounds reading a request's headers. Defaults to
	// 10s.
	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds reading a whole request, body included: a client
	// that trickles a body is cut off. Defaults to 30s.
	ReadTimeout time.Duration
	// WriteTimeout bounds a REST response, from the end of reading its
	// request to the end of writing it: a client that does not read its
	// response is cut off. Streams clear it and bound each of their
	// writes by StreamWriteTimeout instead. Defaults to 30s.
	WriteTimeout time.Duration
	// IdleTimeout is how long an idle keep-alive connection, HTTP/1.1 or
	// HTTP/2, is kept open. Defaults to 120s.
	IdleTimeout time.Duration
	// StreamWriteTimeout bounds each write of a trade-update stream (SSE
	// or websocket): a client that does not take one within it is
	// disconnected and counted as slow (StreamStats). Defaults to 10s.
	StreamWriteTimeout time.Duration
	// HeartbeatInterval is how often an idle SSE stream gets a comment
	// line, which shows the client the stream is alive. Defaults to 15s.
	HeartbeatInterval time.Duration
	// ResponseBudget, in bytes, bounds the memory that market-data
	// responses (bars, trades, quotes: up to 10,000 items, about 1 MB of
	// JSON) hold at once, while being built and until their clients have
	// read them. A request that finds it spent waits up to WriteTimeout,
	// then gets 503 with Retry-After. Defaults to 64 MiB.
	ResponseBudget int64

	// BrokerKey and BrokerSecret, when set, serve Alpaca's Broker API
	// beside the Trading API for one firm with these credentials (HTTP
	// Basic or Alpaca's key headers, or, as client_id and client_secret,
	// bearer tokens from POST /v1/oauth2/token): customer accounts, cash
	// journals and transfers, per-account trading under
	// /v1/trading/accounts/{account_id}, and the firm-wide trade-event
	// stream. See FirmAccountID.
	BrokerKey, BrokerSecret string
	// BrokerRateLimit is the firm's REST requests per minute, across all
	// its accounts (Alpaca's is 1,000); 0 means unlimited.
	BrokerRateLimit int
	// BrokerFeedCapacity is how many trade events the firm-wide stream
	// keeps for replay (since_id). Defaults to DefaultBrokerFeedCapacity.
	BrokerFeedCapacity int
	// TokenLifetime is how long an access token from the token endpoint
	// lives. Defaults to DefaultTokenLifetime.
	TokenLifetime time.Duration
}

// Server is the simulated broker. Create it with New, serve Handler, and
// stop it with Close.
type Server struct {
	cfg    Config
	mux    *http.ServeMux
	market *market.Market
	crypto *cryptoMarket
	// cryptoStreams is the crypto websocket's connections.
	cryptoStreams cryptoStreams
	accounts      registry
	interest      interest
	faults        *faultInjector
	log           *slog.Logger
	streams       streamCounters
	budget        *budget
	firm          *firm // the Broker API; nil without Config.BrokerKey
	corp          corpState

	lastLimitLog atomic.Int64 // unix ns of the last "account limit" line

	ctx    context.Context // canceled by Close: ends streams and loops
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once

	started   atomic.Bool
	flush     chan chan struct{} // flushQuotes to quoteLoop
	advanceMu sync.Mutex         // serializes AdvanceClock
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
	if cfg.Clock != nil {
		if !cfg.Clock.Stepped() && !(cfg.Clock.speed > 0 && cfg.Clock.speed < 1e9) {
			return nil, errors.New("sim: a replay clock's speed must be positive")
		}
		cfg.Now = cfg.Clock.Now
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxAccounts == 0 {
		cfg.MaxAccounts = DefaultMaxAccounts
	}
	for _, d := range []struct {
		v   *time.Duration
		def time.Duration
	}{
		{&cfg.ReadHeaderTimeout, DefaultReadHeaderTimeout},
		{&cfg.ReadTimeout, DefaultReadTimeout},
		{&cfg.WriteTimeout, DefaultWriteTimeout},
		{&cfg.IdleTimeout, DefaultIdleTimeout},
		{&cfg.StreamWriteTimeout, DefaultStreamWriteTimeout},
		{&cfg.HeartbeatInterval, DefaultHeartbeatInterval},
	} {
		if *d.v <= 0 {
			*d.v = d.def
		}
	}
	if cfg.ResponseBudget <= 0 {
		cfg.ResponseBudget = DefaultResponseBudget
	}
	if (cfg.BrokerKey == "") != (cfg.BrokerSecret == "") {
		return nil, errors.New("sim: the Broker API needs both a key and a secret")
	}
	if strings.Contains(cfg.BrokerKey, ":") {
		return nil, errors.New("sim: the Broker API key must not contain a colon")
	}
	if cfg.BrokerRateLimit < 0 {
		return nil, errors.New("sim: the Broker API rate limit must not be negative")
	}
	if cfg.BrokerFeedCapacity <= 0 {
		cfg.BrokerFeedCapacity = DefaultBrokerFeedCapacity
	}
	if cfg.TokenLifetime <= 0 {
		cfg.TokenLifetime = DefaultTokenLifetime
	}
	if cfg.Faults.FailRate < 0 || cfg.Faults.DropRate < 0 || cfg.Faults.FailRate+cfg.Faults.DropRate > 1 {
		return nil, errors.New("sim: fail and drop rates must be in [0, 1] and sum to at most 1")
	}
	s := &Server{cfg: cfg, mux: http.NewServeMux(), log: cfg.Logger, budget: newBudget(cfg.ResponseBudget), flush: make(chan chan struct{})}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.corp.through = cfg.Now()
	s.faults = newFaultInjector(cfg.Faults, cfg.Seed)
	if cfg.BrokerKey != "" {
		s.firm = newFirm(cfg.BrokerKey, cfg.BrokerSecret)
	}
	s.crypto = newCryptoMarket(cfg.Seed, cfg.Now())
	m, err := market.New(market.Config{
		Seed:         int64(cfg.Seed),
		Now:          cfg.Now,
		TickInterval: cfg.TickInterval,
		Session:      cfg.Session.Open,
		Auth:         s.marketDataAuth,
		Logger:       cfg.Logger,
		Universe:     cfg.Universe,
		Recorded:     cfg.Recorded,
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
		s.accounts.getOrCreate(c.KeyID, -1, func() *account { return s.newAccount(c.KeyID, hashSecret(c.Secret), cash) })
	}
	s.routes()
	return s, nil
}

func (s *Server) now() time.Time { return s.cfg.Now() }

// Handler serves the whole API.
func (s *Server) Handler() http.Handler { return s.mux }

// Bounds of what one connection may make the server hold, beyond the
// Config's timeouts.
const (
	// maxHeaderBytes: Alpaca's clients send a few hundred bytes of
	// headers; net/http's default would let each connection buffer 1 MB.
	maxHeaderBytes = 32 << 10
	// An HTTP/2 client may send this much request body, per stream and
	// per connection, before the handler reads it. An order body is at
	// most maxBody. The defaults are 1 MB each.
	h2StreamWindow = maxBody
	h2ConnWindow   = 4 * maxBody
	// h2MaxFrame is the largest frame a client may send, which sizes the
	// connection's read buffer: the protocol's minimum (the default is
	// 1 MB).
	h2MaxFrame = 16 << 10
)

// HTTPServer returns an http.Server for Handler that speaks HTTP/1.1 and
// cleartext HTTP/2 (h2c: the engine keeps one such connection per tenant)
// on one listener, with the Config's timeouts and with bounds on what one
// connection may make the server hold: header bytes, HTTP/2 streams,
// frame size and flow-control windows (issue 8, item 6). The caller sets
// anything else (BaseContext, ErrorLog, ...) and serves it.
func (s *Server) HTTPServer() *http.Server {
	hs := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: s.cfg.ReadHeaderTimeout,
		ReadTimeout:       s.cfg.ReadTimeout,
		WriteTimeout:      s.cfg.WriteTimeout,
		IdleTimeout:       s.cfg.IdleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		HTTP2: &http.HTTP2Config{
			MaxConcurrentStreams:          DefaultMaxConcurrentStreams,
			MaxReadFrameSize:              h2MaxFrame,
			MaxReceiveBufferPerStream:     h2StreamWindow,
			MaxReceiveBufferPerConnection: h2ConnWindow,
			// A connection whose peer takes no bytes at all (as opposed to
			// a stream stalled by flow control, which WriteTimeout and
			// StreamWriteTimeout end) is closed after this long.
			WriteByteTimeout: s.cfg.WriteTimeout,
		},
		Protocols: new(http.Protocols),
	}
	hs.Protocols.SetHTTP1(true)
	hs.Protocols.SetUnencryptedHTTP2(true)
	return hs
}

// Market is the server's synthetic market.
func (s *Server) Market() *market.Market { return s.market }

// Start runs the market clock and the loop that re-evaluates resting orders
// when quotes move. Close stops them. Under a stepped clock the market and
// the session move only in AdvanceClock.
func (s *Server) Start() {
	stepped := s.cfg.Clock != nil && s.cfg.Clock.Stepped()
	if !stepped {
		s.market.Start(s.ctx)
	}
	// Subscribed before Start returns, so that no quote of a step that
	// follows is missed.
	sub := s.market.Subscribe(256)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.quoteLoop(sub)
	}()
	if !stepped {
		s.wg.Add(4)
		go func() {
			defer s.wg.Done()
			s.corpLoop()
		}()
		go func() {
			defer s.wg.Done()
			s.sessionLoop()
		}()
		go func() {
			defer s.wg.Done()
			s.cryptoLoop()
		}()
		go func() {
			defer s.wg.Done()
			s.equityLoop()
		}()
	}
	s.started.Store(true)
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
	// SPLIT and DIV activities of corporate actions join the engine's.
	rest("GET /v2/account/activities", s.getAccountActivities)
	rest("GET /v2/account/activities/{type}", s.getAccountActivities)
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
	// A crypto pair's slash may come unescaped: /v2/assets/BTC/USD.
	rest("GET /v2/assets/{base}/{quote}", pairPath(s.getAsset))
	rest("GET /v2/positions/{base}/{quote}", pairPath(s.getPosition))
	rest("DELETE /v2/positions/{base}/{quote}", pairPath(s.closePosition))
	rest("GET /v2/clock", s.getClock)
	rest("GET /v2/calendar", s.getCalendar)
	rest("GET /v3/clock", s.getClockV3)
	rest("GET /v3/calendar/{market}", s.getCalendarV3)
	rest("GET /v2/corporate_actions/announcements", s.listAnnouncements)
	rest("GET /v2/corporate_actions/announcements/{id}", s.getAnnouncement)

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
	s.mux.HandleFunc("GET /v2beta1/events/activities", s.sseActivities)

	s.mux.Handle("GET /sim/v1/clock", s.admin(s.getSimClock))
	s.mux.Handle("POST /sim/v1/clock", s.admin(s.postSimClock))
	s.mux.Handle("GET /sim/v1/streams", s.admin(s.getSimStreams))

	dataWrap := func(h http.Handler) http.Handler {
		acct := s.authorized(func(w http.ResponseWriter, r *http.Request, _ *account) { s.serveBudgeted(w, r, h) })
		if s.firm == nil {
			return acct
		}
		// The firm reads market data with its own credentials too.
		firm := s.firmAuthorized(func(w http.ResponseWriter, r *http.Request) { s.serveBudgeted(w, r, h) })
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if s.firm.authenticate(r, s.rateNow()) != firmNotIt {
				firm.ServeHTTP(w, r)
				return
			}
			acct.ServeHTTP(w, r)
		})
	}
	s.market.Register(s.mux, dataWrap)
	s.cryptoDataRoutes(dataWrap)
	// The stream authenticates in-band, like the stock feeds.
	s.mux.HandleFunc("GET /v1beta3/crypto/{loc}", s.serveCryptoStream)
	if s.firm != nil {
		s.brokerRoutes()
		// The Broker API's path of the announcements (issue 9 item 6).
		s.mux.Handle("GET /v1/corporate_actions/announcements", s.firmOnly(s.listAnnouncements))
		s.mux.Handle("GET /v1/corporate_actions/announcements/{id}", s.firmOnly(s.getAnnouncement))
	}

	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		notFound(w, "endpoint not found")
	})
}
