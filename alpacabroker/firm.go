package alpacabroker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quantum-alpaca/quantum/alpaca"
	"github.com/quantum-alpaca/quantum/alpaca/stream"
	"github.com/quantum-alpaca/quantum/trading"
)

// DefaultAccountQueue bounds the trade updates waiting for one Broker API
// account's tenant. A tenant further behind gets a resync instead of the
// rest (it reconciles its orders by REST), so a slow tenant costs only
// itself, never the firm's stream or another tenant.
const DefaultAccountQueue = 1024

// FirmConfig says how to reach a Broker API firm.
type FirmConfig struct {
	// BaseURL is the Broker API (alpaca.BrokerSandboxURL, or a simulator).
	BaseURL string
	// Key and Secret are the firm's Broker API credentials (HTTP Basic).
	Key, Secret string
	// RateLimit is requests per minute for the whole firm, shared by every
	// account; 0 disables the client-side limiter (for a local broker).
	RateLimit int
	// AccountRateLimit, when above 0, is requests per minute for each
	// account, inside the firm's budget.
	AccountRateLimit int
	// StreamLookback defaults to DefaultStreamLookback: how far back the
	// firm's stream replays when it first connects.
	StreamLookback time.Duration
	// AccountQueue defaults to DefaultAccountQueue.
	AccountQueue int
	// StreamGrace defaults to DefaultStreamGrace.
	StreamGrace time.Duration
	// UnencryptedHTTP2 and IdleConnTimeout are as in Config.
	UnencryptedHTTP2 bool
	IdleConnTimeout  time.Duration
	Logger           *slog.Logger
	// Options are extra alpaca client options.
	Options []alpaca.Option
}

// Firm is the engine's side of one Broker API firm: one client (one
// connection pool and one rate limiter for every account, as Alpaca
// limits the firm) and one trade-event stream for all its accounts, whose
// events Run hands to each account's tenant through a queue of its own.
// A tenant needs no connection of its own: see Account.
type Firm struct {
	cfg    FirmConfig
	client *alpaca.Broker
	log    *slog.Logger

	// stream is the firm stream's health, which every account reports:
	// when it is down, no account hears of its fills.
	stream *streamHealth

	mu   sync.Mutex
	subs map[string]*accountQueue // by account id: the tenants following now

	received, unrouted, overflows, resyncs atomic.Uint64
}

// FirmStats counts the firm stream's events.
type FirmStats struct {
	// Received counts the trade events read from the stream.
	Received uint64
	// Unrouted counts events of accounts no tenant here follows (another
	// engine's, or not yet started: a tenant reconciles when it starts).
	Unrouted uint64
	// Overflows counts events a full account queue could not take; each
	// turned into a resync of that tenant.
	Overflows uint64
	// Resyncs counts the stream's own gaps, each passed to every tenant.
	Resyncs uint64
}

// NewFirm returns a Firm for cfg; Run its stream.
func NewFirm(cfg FirmConfig) (*Firm, error) {
	if cfg.BaseURL == "" || cfg.Key == "" || cfg.Secret == "" {
		return nil, errors.New("alpacabroker: Broker API URL, key and secret required")
	}
	if cfg.StreamLookback <= 0 {
		cfg.StreamLookback = DefaultStreamLookback
	}
	if cfg.AccountQueue <= 0 {
		cfg.AccountQueue = DefaultAccountQueue
	}
	if cfg.IdleConnTimeout <= 0 {
		cfg.IdleConnTimeout = DefaultIdleConnTimeout
	}
	if cfg.StreamGrace <= 0 {
		cfg.StreamGrace = DefaultStreamGrace
	}
	opts := []alpaca.Option{alpaca.WithBrokerCredentials(cfg.Key, cfg.Secret), alpaca.WithIdleConnTimeout(cfg.IdleConnTimeout)}
	if cfg.RateLimit > 0 {
		opts = append(opts, alpaca.WithRateLimit(cfg.RateLimit, max(1, min(50, cfg.RateLimit/20))))
	} else {
		opts = append(opts, alpaca.WithRateLimit(0, 0))
	}
	if cfg.AccountRateLimit > 0 {
		opts = append(opts, alpaca.WithAccountRateLimit(cfg.AccountRateLimit, max(1, min(10, cfg.AccountRateLimit/20))))
	}
	if cfg.UnencryptedHTTP2 {
		opts = append(opts, alpaca.WithUnencryptedHTTP2())
	}
	log := slog.New(slog.DiscardHandler)
	if cfg.Logger != nil {
		log = cfg.Logger
		opts = append(opts, alpaca.WithLogger(cfg.Logger))
	}
	opts = append(opts, cfg.Options...)
	b, err := alpaca.NewBroker(cfg.BaseURL, opts...)
	if err != nil {
		return nil, fmt.Errorf("alpacabroker: %w", err)
	}
	h := &streamHealth{grace: cfg.StreamGrace}
	h.connecting() // down until Run has connected: a firm never run is not healthy
	return &Firm{cfg: cfg, client: b, log: log, stream: h, subs: map[string]*accountQueue{}}, nil
}

// Client returns the firm's Broker API client.
func (f *Firm) Client() *alpaca.Broker { return f.client }

// Stats returns the stream's counts so far.
func (f *Firm) Stats() FirmStats {
	return FirmStats{Received: f.received.Load(), Unrouted: f.unrouted.Load(), Overflows: f.overflows.Load(), Resyncs: f.resyncs.Load()}
}

// Account returns the trading.Broker of one customer account: orders,
// positions and the account through the firm's client, trade updates from
// the firm's stream.
func (f *Firm) Account(accountID string) *Account {
	return &Account{&Broker{client: f.client.Account(accountID), firm: f, account: accountID, stream: f.stream}}
}

// Account is a Broker API customer account: a Broker whose updates the
// engine takes from the account's queue (trading.UpdateQueue) rather
// than through a StreamUpdates goroutine of its own.
type Account struct{ *Broker }

var _ trading.UpdateQueue = (*Account)(nil)

// FollowUpdates implements trading.UpdateQueue.
func (a *Account) FollowUpdates() (<-chan struct{}, func() (trading.OrderUpdate, bool), func(), error) {
	q, done, err := a.firm.subscribe(a.account)
	if err != nil {
		return nil, nil, nil, err
	}
	return q.kick, q.pop, done, nil
}

// Run reads the firm's trade-event stream until ctx ends, reconnecting
// (and resuming after the last event id) as needed, and routes each
// event to its account's queue. It never waits for a tenant.
func (f *Firm) Run(ctx context.Context) error {
	s, err := stream.NewBrokerTradeEvents(f.client,
		stream.WithTimeRange(time.Now().Add(-f.cfg.StreamLookback), time.Time{}),
		stream.WithLogger(f.log),
		stream.WithConnectHandlers(f.stream.connected, f.stream.lost),
		stream.WithConnectFailedHandler(f.stream.lost),
		stream.WithTradeUpdateHandler(
			func(_ context.Context, tu alpaca.TradeUpdate) error { f.route(tu); return nil },
			func(context.Context) error { f.resyncAll(); return nil }))
	if err != nil {
		return fmt.Errorf("alpacabroker: %w", err)
	}
	err = s.Run(ctx)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err == nil {
		err = errors.New("alpacabroker: the firm's trade event stream ended")
	}
	f.stream.lost(err)
	return err
}

func (f *Firm) route(tu alpaca.TradeUpdate) {
	f.received.Add(1)
	f.mu.Lock()
	q := f.subs[tu.AccountID]
	f.mu.Unlock()
	if q == nil {
		f.unrouted.Add(1)
		return
	}
	if !q.push(fromUpdate(tu)) {
		f.overflows.Add(1)
	}
}

func (f *Firm) resyncAll() {
	f.resyncs.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, q := range f.subs {
		q.resync()
	}
}

// follow hands account's updates to out until ctx ends: what
// StreamUpdates is for a Broker API account.
func (f *Firm) follow(ctx context.Context, account string, out chan<- trading.OrderUpdate) error {
	q, done, err := f.subscribe(account)
	if err != nil {
		return err
	}
	defer done()
	return q.drain(ctx, out)
}

// subscribe gives account a queue, which starts with a resync: events
// before it subscribed went nowhere. done removes it.
func (f *Firm) subscribe(account string) (q *accountQueue, done func(), err error) {
	q = &accountQueue{max: f.cfg.AccountQueue, kick: make(chan struct{}, 1)}
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, dup := f.subs[account]; dup {
		return nil, nil, fmt.Errorf("alpacabroker: account %s is already followed here", account)
	}
	f.subs[account] = q
	q.resync()
	return q, func() {
		f.mu.Lock()
		delete(f.subs, account)
		f.mu.Unlock()
	}, nil
}

// accountQueue is one account's updates waiting for its tenant: a slice
// that holds nothing while the tenant keeps up (an idle tenant costs a
// few words, not a preallocated buffer), bounded at max, with a resync
// owed once anything was dropped.
type accountQueue struct {
	max  int
	kick chan struct{} // one pending wake-up for the follower

	mu      sync.Mutex
	items   []trading.OrderUpdate
	pending bool // a resync is owed, after the items queued before it
}

func (q *accountQueue) wake() {
	select {
	case q.kick <- struct{}{}:
	default:
	}
}

// push queues u, or reports false and owes a resync when full.
func (q *accountQueue) push(u trading.OrderUpdate) bool {
	q.mu.Lock()
	ok := len(q.items) < q.max
	if ok {
		q.items = append(q.items, u)
	} else {
		q.pending = true
	}
	q.mu.Unlock()
	q.wake()
	return ok
}

func (q *accountQueue) resync() {
	q.mu.Lock()
	q.pending = true
	q.mu.Unlock()
	q.wake()
}

// drain sends the queue's updates to out, waiting for more, until ctx
// ends. Only drain waits on out; push never waits.
func (q *accountQueue) drain(ctx context.Context, out chan<- trading.OrderUpdate) error {
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-q.kick:
		}
		for {
			u, ok := q.pop()
			if !ok {
				break
			}
			select {
			case out <- u:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
}

// pop returns the next update: the queued ones in order, then an owed
// resync, which covers whatever was dropped.
func (q *accountQueue) pop() (trading.OrderUpdate, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.items) > 0 {
		u := q.items[0]
		q.items[0] = trading.OrderUpdate{}
		q.items = q.items[1:]
		if len(q.items) == 0 {
			q.items = nil // let a burst's backing array go
		}
		return u, true
	}
	if q.pending {
		q.pending = false
		return trading.OrderUpdate{Resync: true}, true
	}
	return trading.OrderUpdate{}, false
}
