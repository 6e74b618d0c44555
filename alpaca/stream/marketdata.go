package stream

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/quantum-alpaca/quantum/alpaca"
)

// Feed names a market-data stream feed, the last path segment of
// <base>/v2/{feed}.
type Feed string

// Stock feeds.
const (
	FeedIEX        Feed = "iex"
	FeedSIP        Feed = "sip"
	FeedDelayedSIP Feed = "delayed_sip"
	// FeedTest is Alpaca's always-on test stream (symbol FAKEPACA).
	FeedTest Feed = "test"
)

// Kind says which field of a Message is set.
type Kind uint8

// Market data kinds.
const (
	KindTrade      Kind = iota + 1 // Trade is set
	KindQuote                      // Quote is set
	KindBar                        // Bar is set: a minute bar
	KindDailyBar                   // Bar is set: the running daily bar
	KindUpdatedBar                 // Bar is set: a minute bar corrected by late trades
	KindOrderbook                  // Orderbook is set (crypto only): a whole book or an update
)

// Message is one message from the market-data stream. It is a flat
// union rather than an interface so that the hot path allocates nothing
// per message beyond what decoding needs, and so a consumer switches on
// Kind instead of type-asserting.
type Message struct {
	Kind   Kind
	Symbol string
	Trade  alpaca.Trade
	Quote  alpaca.Quote
	Bar    alpaca.Bar
}

// MarketData is a client for the market-data websocket,
// <base>/v2/{feed}. It delivers trades, quotes and bars on the channel
// returned by Messages.
//
// Overflow policy: the channel is bounded and the reader never waits for
// it. When it is full the message is dropped, counted in
// Stats().BufferFull and reported to OnBufferFull, and a warning is logged
// at most once a second. Market data is coalescable (the next quote
// supersedes the one dropped), and a reader that stalls would make the
// server cut the connection as a slow client (error 407) and lose far
// more. Trade updates take the opposite policy; see TradeEvents.
//
// Subscriptions survive reconnects: the client remembers the set and
// re-sends it after each re-authentication. Create it with
// NewMarketData and call Run exactly once.
type MarketData struct {
	md mdStream[Message]
}

// NewMarketData returns a client for <baseURL>/v2/<feed>, where
// baseURL is the stream host (https://stream.data.alpaca.markets, or a
// simulator's http://host:port); http maps to ws and https to wss. A
// baseURL that already ends in /v2 is accepted too. Credentials are
// required; see Options for the rest (the SSE-only fields are
// ignored).
func NewMarketData(baseURL string, feed Feed, opts ...Option) (*MarketData, error) {
	if feed == "" || strings.ContainsAny(string(feed), "/?#") {
		return nil, fmt.Errorf("alpaca: bad stream feed %q", feed)
	}
	s := &MarketData{}
	if err := s.md.init(baseURL, []string{"v2", string(feed)}, opts, "market_data", "market data", (*mdWire).toMessage); err != nil {
		return nil, err
	}
	return s, nil
}

// Messages returns the channel of market data. It is closed when Run
// returns.
func (s *MarketData) Messages() <-chan Message { return s.md.out }

// Stats returns the stream's counters; BufferFull counts dropped messages.
func (s *MarketData) Stats() Stats { return s.md.stats.snapshot() }

// Subscribe adds symbols to the subscription; subscriptions are additive.
// It may be called before or during Run. When connected it returns once
// the server has confirmed the change, or with the server's error (for
// example a *Error matching ErrSymbolLimit or
// ErrInsufficientSubscription) in which case the change is undone.
// When not connected, or if the connection drops before the server
// answers, it returns nil and the change is sent on the next connection.
// Order books are crypto's: a change naming Orderbooks is refused with
// alpaca.ErrValidation and nothing is sent.
func (s *MarketData) Subscribe(ctx context.Context, sub Subscription) error {
	return s.md.change(ctx, true, sub)
}

// Unsubscribe removes symbols from the subscription, with the same
// semantics as Subscribe.
func (s *MarketData) Unsubscribe(ctx context.Context, sub Subscription) error {
	return s.md.change(ctx, false, sub)
}

// Subscribed returns the subscription the server last confirmed on the
// current connection; it is empty while disconnected.
func (s *MarketData) Subscribed() Subscription { return s.md.subscribed() }

// Run connects, authenticates, subscribes and keeps doing so until ctx is
// done, then returns ctx.Err(). It returns earlier with a non-retryable
// *Error (402 auth failed, 409, 410, 411) or a non-retryable HTTP
// status on the upgrade. All goroutines Run starts have exited when it
// returns, and the Messages channel is closed.
func (s *MarketData) Run(ctx context.Context) error { return s.md.run(ctx) }

// mdStream is one market-data websocket session, the machinery that
// MarketData (stocks) and CryptoMarketData share: the connection, auth,
// the remembered subscription and its changes, reconnects, and the
// bounded output of M, the public message type that convert makes of a
// decoded wire message. The two streams speak the same protocol and
// differ only in their path and in what a message carries.
type mdStream[M any] struct {
	endpoint string
	what     string // names the stream in errors and logs
	opts     Options
	log      *slog.Logger
	client   *http.Client
	ownedHC  bool
	out      chan M
	convert  func(*mdWire) (M, bool)
	books    bool // the stream has the orderbooks channel (crypto)
	running  atomic.Bool
	stats    counters
	dropLog  logLimiter

	mu        sync.Mutex
	desired   mdSet
	confirmed mdSet
	cur       *mdConn
}

// init sets s up for <baseURL>/<path...>. A baseURL that already ends in
// the path's leading segments (".../v2", ".../v1beta3/crypto") is
// accepted too.
func (s *mdStream[M]) init(baseURL string, path []string, opts []Option, kind, what string, convert func(*mdWire) (M, bool)) error {
	o, err := buildOptions(opts)
	if err == nil {
		err = needKeys(&o)
	}
	if err != nil {
		return err
	}
	u, err := parseBase(baseURL, true)
	if err != nil {
		return err
	}
	base := strings.TrimSuffix(u.Path, "/")
	for i := len(path) - 1; i > 0; i-- {
		if strings.HasSuffix(base, "/"+strings.Join(path[:i], "/")) {
			path = path[i:]
			break
		}
	}
	u = u.JoinPath(path...)
	hc, owned := httpClient(&o)
	s.endpoint, s.what, s.opts = u.String(), what, o
	s.log = newLogger(&o, kind).With("url", u.String())
	s.client, s.ownedHC = hc, owned
	s.out = make(chan M, o.BufferSize)
	s.convert = convert
	s.dropLog = logLimiter{interval: time.Second}
	return nil
}

func (s *mdStream[M]) subscribed() Subscription {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.confirmed.subscription()
}

func (s *mdStream[M]) change(ctx context.Context, subscribe bool, sub Subscription) error {
	if !s.books && len(sub.Orderbooks) > 0 {
		return fmt.Errorf("%w: the %s stream has no order books", alpaca.ErrValidation, s.what)
	}
	if sub.Empty() {
		return nil
	}
	ch := &mdChange{subscribe: subscribe, sub: sub, done: make(chan error, 1)}
	s.mu.Lock()
	s.desired.apply(subscribe, sub)
	c := s.cur
	if c != nil {
		// Queued under the same lock as the desired-set update, so the
		// server sees changes in the order callers made them.
		c.queue = append(c.queue, ch)
		signal(c.wake)
	}
	s.mu.Unlock()
	if c == nil {
		return nil
	}
	select {
	case err := <-ch.done:
		return err
	case <-c.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// recomputeDesiredLocked rebuilds the desired set as what the server
// confirmed plus every change it has not answered yet. Called after each
// reply, it drops a rejected change, so that a reconnect does not
// re-send a subscription the server refused.
func (s *mdStream[M]) recomputeDesiredLocked(c *mdConn) {
	d := mdSetOf(s.confirmed.subscription())
	for _, ch := range c.sent {
		d.apply(ch.subscribe, ch.sub)
	}
	for _, ch := range c.queue {
		d.apply(ch.subscribe, ch.sub)
	}
	s.desired = d
}

func (s *mdStream[M]) run(ctx context.Context) error {
	if !s.running.CompareAndSwap(false, true) {
		return ErrRunCalledTwice
	}
	defer close(s.out)
	if s.ownedHC {
		defer s.client.CloseIdleConnections()
	}
	return runLoop(ctx, &s.opts, s.log, &s.stats, s.connect)
}

func (s *mdStream[M]) connect(ctx context.Context) (connected bool, err error) {
	conn, err := wsDial(ctx, s.client, s.endpoint, &s.opts, s.what)
	if err != nil {
		return false, err
	}
	defer conn.CloseNow()

	c := &mdConn{wake: make(chan struct{}, 1), done: make(chan struct{})}
	defer func() {
		s.mu.Lock()
		if s.cur == c {
			s.cur = nil
		}
		s.confirmed = mdSet{}
		s.mu.Unlock()
		close(c.done)
	}()

	var dec mdDecoder
	var buf bytes.Buffer
	if err := s.handshake(ctx, conn, c, &dec, &buf); err != nil {
		return false, err
	}
	s.stats.connects.Add(1)
	s.log.Info("connected", "subscribed", s.subscribed())
	if s.opts.OnConnect != nil {
		s.opts.OnConnect()
	}

	connCtx, cancel := context.WithCancelCause(ctx)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel(nil)
	live := newLiveness()
	wg.Add(1)
	go func() {
		defer wg.Done()
		wsKeepAlive(connCtx, conn, &s.opts, live, c.wake, func(ctx context.Context) error {
			return s.writeQueued(ctx, conn, c)
		}, cancel)
	}()

	for {
		frame, err := wsReadFrame(connCtx, conn, &buf)
		if err != nil {
			if cause := context.Cause(connCtx); cause != nil && ctx.Err() == nil {
				return true, cause
			}
			return true, err
		}
		msgs, err := dec.decode(frame)
		if err != nil {
			s.stats.malformed.Add(1)
			s.log.Warn("skipping undecodable frame", "err", err, "bytes", len(frame))
			continue
		}
		for i := range msgs {
			if err := s.handle(c, &msgs[i]); err != nil {
				return true, err
			}
		}
	}
}

// handshake waits for the welcome, authenticates and sends the remembered
// subscription. It runs before the writer goroutine starts, so it is the
// connection's only writer at that point.
func (s *mdStream[M]) handshake(ctx context.Context, conn *websocket.Conn, c *mdConn, dec *mdDecoder, buf *bytes.Buffer) error {
	if _, err := s.await(ctx, conn, dec, buf, "success", "connected"); err != nil {
		return fmt.Errorf("welcome: %w", err)
	}
	auth := map[string]string{"action": "auth", "key": s.opts.KeyID, "secret": string(s.opts.SecretKey)}
	if err := s.write(ctx, conn, auth); err != nil {
		return fmt.Errorf("auth: %w", err)
	}
	if _, err := s.await(ctx, conn, dec, buf, "success", "authenticated"); err != nil {
		// Name the key so the operator can tell which tenant's credentials
		// failed, never the secret.
		return fmt.Errorf("auth with key %s: %w", maskKey(s.opts.KeyID), err)
	}

	// Publishing the connection and snapshotting the set happen under one
	// lock: a Subscribe that lands after this is queued for the writer, one
	// that landed before is in the snapshot, and none falls in between.
	s.mu.Lock()
	s.cur = c
	want := s.desired.subscription()
	s.mu.Unlock()
	if want.Empty() {
		return nil
	}
	if err := s.write(ctx, conn, newMDSubRequest("subscribe", want, s.books)); err != nil {
		return fmt.Errorf("subscribe: %w", err)
	}
	w, err := s.await(ctx, conn, dec, buf, "subscription", "")
	if err != nil {
		return fmt.Errorf("subscribe: %w", err)
	}
	s.mu.Lock()
	s.confirmed = mdSetOf(w)
	s.recomputeDesiredLocked(c)
	s.mu.Unlock()
	if s.opts.OnSubscribed != nil {
		s.opts.OnSubscribed(s.subscribed())
	}
	return nil
}

func (s *mdStream[M]) write(ctx context.Context, conn *websocket.Conn, v any) error {
	wctx, cancel := context.WithTimeout(ctx, s.opts.HandshakeTimeout)
	defer cancel()
	return wsWrite(wctx, conn, s.opts.Msgpack, v)
}

// await reads control messages until one of type T (and msg, if given)
// arrives, within the handshake timeout. An error message ends the wait
// with a *Error, which ends Run if it is not Retryable.
func (s *mdStream[M]) await(ctx context.Context, conn *websocket.Conn, dec *mdDecoder, buf *bytes.Buffer,
	typ, msg string) (Subscription, error) {
	hctx, cancel := context.WithTimeout(ctx, s.opts.HandshakeTimeout)
	defer cancel()
	for {
		frame, err := wsReadFrame(hctx, conn, buf)
		if err != nil {
			return Subscription{}, err
		}
		msgs, err := dec.decode(frame)
		if err != nil {
			return Subscription{}, err
		}
		for i := range msgs {
			w := &msgs[i]
			switch {
			case w.T == "error":
				return Subscription{}, &Error{Code: w.Code, Msg: w.Msg}
			case w.T == typ && (msg == "" || w.Msg == msg):
				return w.subscription(), nil
			case w.T == "subscription", w.T == "success":
				s.log.Debug("unexpected control message", "T", w.T, "msg", w.Msg)
			default:
				s.deliver(w)
			}
		}
	}
}

func (w *mdWire) subscription() Subscription {
	return Subscription{Trades: w.Trades, Quotes: w.Quotes, Bars: w.Bars, DailyBars: w.DailyBars, UpdatedBars: w.UpdatedBars,
		Orderbooks: w.Orderbooks}
}

// writeQueued sends queued changes; it runs on the writer goroutine.
// Each change moves to sent before its write, so the reader can match the
// reply even if it comes back before Write returns.
func (s *mdStream[M]) writeQueued(ctx context.Context, conn *websocket.Conn, c *mdConn) error {
	s.mu.Lock()
	q := c.queue
	c.queue = nil
	c.sent = append(c.sent, q...)
	s.mu.Unlock()
	for _, ch := range q {
		action := "unsubscribe"
		if ch.subscribe {
			action = "subscribe"
		}
		if err := s.write(ctx, conn, newMDSubRequest(action, ch.sub, s.books)); err != nil {
			return err
		}
	}
	return nil
}

// handle processes one message after the handshake.
func (s *mdStream[M]) handle(c *mdConn, w *mdWire) error {
	switch w.T {
	case "subscription":
		s.mu.Lock()
		s.confirmed = mdSetOf(w.subscription())
		ch := s.popSentLocked(c)
		s.recomputeDesiredLocked(c)
		s.mu.Unlock()
		if s.opts.OnSubscribed != nil {
			s.opts.OnSubscribed(s.subscribed())
		}
		if ch != nil {
			ch.done <- nil
		}
	case "error":
		se := &Error{Code: w.Code, Msg: w.Msg}
		s.mu.Lock()
		ch := s.popSentLocked(c)
		s.recomputeDesiredLocked(c)
		s.mu.Unlock()
		if ch != nil {
			// A reply to a change: the caller gets it and the connection
			// carries on with the old subscription.
			ch.done <- se
			return nil
		}
		s.log.Warn("stream error", "code", se.Code, "msg", se.Msg)
		if !se.Retryable() {
			return se
		}
		// Anything else (407 slow client, 500) is the server's call: if it
		// wants the connection gone it closes it, and Run redials.
	case "success":
		s.log.Debug("success message", "msg", w.Msg)
	default:
		s.deliver(w)
	}
	return nil
}

func (s *mdStream[M]) popSentLocked(c *mdConn) *mdChange {
	if len(c.sent) == 0 {
		return nil
	}
	ch := c.sent[0]
	c.sent = c.sent[1:]
	return ch
}

// deliver hands a data message to the consumer without ever waiting.
func (s *mdStream[M]) deliver(w *mdWire) {
	m, ok := s.convert(w)
	if !ok {
		return
	}
	s.stats.received.Add(1)
	select {
	case s.out <- m:
		return
	default:
	}
	n := s.stats.bufferFull.Add(1)
	if s.opts.OnBufferFull != nil {
		s.opts.OnBufferFull(n)
	}
	if s.dropLog.allow() {
		s.log.Warn(s.what+" buffer full; dropping", "dropped", n, "capacity", cap(s.out))
	}
}
