package alpaca

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// StreamFeed names a market-data stream feed, the last path segment of
// <base>/v2/{feed}.
type StreamFeed string

// Stock feeds.
const (
	StreamFeedIEX        StreamFeed = "iex"
	StreamFeedSIP        StreamFeed = "sip"
	StreamFeedDelayedSIP StreamFeed = "delayed_sip"
	// StreamFeedTest is Alpaca's always-on test stream (symbol FAKEPACA).
	StreamFeedTest StreamFeed = "test"
)

// MarketDataKind says which field of a MarketData is set.
type MarketDataKind uint8

// Market data kinds.
const (
	MarketTrade      MarketDataKind = iota + 1 // Trade is set
	MarketQuote                                // Quote is set
	MarketBar                                  // Bar is set: a minute bar
	MarketDailyBar                             // Bar is set: the running daily bar
	MarketUpdatedBar                           // Bar is set: a minute bar corrected by late trades
)

// MarketData is one message from the market-data stream. It is a flat
// union rather than an interface so that the hot path allocates nothing
// per message beyond what decoding needs, and so a consumer switches on
// Kind instead of type-asserting.
type MarketData struct {
	Kind   MarketDataKind
	Symbol string
	Trade  Trade
	Quote  Quote
	Bar    Bar
}

// Subscription is a set of symbols per channel; "*" means every symbol.
type Subscription struct {
	Trades      []string
	Quotes      []string
	Bars        []string
	DailyBars   []string
	UpdatedBars []string
}

// Empty reports whether s names no symbol.
func (s Subscription) Empty() bool {
	return len(s.Trades)+len(s.Quotes)+len(s.Bars)+len(s.DailyBars)+len(s.UpdatedBars) == 0
}

// mdSubRequest is the wire shape of subscribe/unsubscribe. Every channel
// key is always present (possibly empty), as Alpaca's own clients send it.
type mdSubRequest struct {
	Action      string   `json:"action" msgpack:"action"`
	Trades      []string `json:"trades" msgpack:"trades"`
	Quotes      []string `json:"quotes" msgpack:"quotes"`
	Bars        []string `json:"bars" msgpack:"bars"`
	DailyBars   []string `json:"dailyBars" msgpack:"dailyBars"`
	UpdatedBars []string `json:"updatedBars" msgpack:"updatedBars"`
}

func newMDSubRequest(action string, s Subscription) mdSubRequest {
	nonNil := func(v []string) []string {
		if v == nil {
			return []string{}
		}
		return v
	}
	return mdSubRequest{
		Action:      action,
		Trades:      nonNil(s.Trades),
		Quotes:      nonNil(s.Quotes),
		Bars:        nonNil(s.Bars),
		DailyBars:   nonNil(s.DailyBars),
		UpdatedBars: nonNil(s.UpdatedBars),
	}
}

// mdSet is a Subscription as sets, for applying changes.
type mdSet [5]map[string]struct{}

func (s *mdSet) lists(sub Subscription) [5][]string {
	return [5][]string{sub.Trades, sub.Quotes, sub.Bars, sub.DailyBars, sub.UpdatedBars}
}

func (s *mdSet) apply(subscribe bool, sub Subscription) {
	for i, syms := range s.lists(sub) {
		for _, sym := range syms {
			if subscribe {
				if s[i] == nil {
					s[i] = map[string]struct{}{}
				}
				s[i][sym] = struct{}{}
			} else {
				delete(s[i], sym)
			}
		}
	}
}

func (s *mdSet) subscription() Subscription {
	var l [5][]string
	for i, m := range s {
		for sym := range m {
			l[i] = append(l[i], sym)
		}
		slices.Sort(l[i])
	}
	return Subscription{Trades: l[0], Quotes: l[1], Bars: l[2], DailyBars: l[3], UpdatedBars: l[4]}
}

func mdSetOf(sub Subscription) mdSet {
	var s mdSet
	s.apply(true, sub)
	return s
}

// mdChange is one Subscribe or Unsubscribe call on its way to the server.
type mdChange struct {
	subscribe bool
	sub       Subscription
	done      chan error // capacity 1
}

// mdConn is the state of one connection that Subscribe calls talk to.
// queue and sent are guarded by MarketDataStream.mu.
type mdConn struct {
	wake  chan struct{} // capacity 1: "queue is not empty"
	done  chan struct{} // closed when the connection is over
	queue []*mdChange   // not yet written
	sent  []*mdChange   // written, awaiting the server's reply, in order
}

// MarketDataStream is a client for the market-data websocket,
// <base>/v2/{feed}. It delivers trades, quotes and bars on the channel
// returned by Messages.
//
// Overflow policy: the channel is bounded and the reader never waits for
// it. When it is full the message is dropped, counted in
// Stats().BufferFull and reported to OnBufferFull, and a warning is logged
// at most once a second. Market data is coalescable (the next quote
// supersedes the one dropped), and a reader that stalls would make the
// server cut the connection as a slow client (error 407) and lose far
// more. Trade updates take the opposite policy; see TradeUpdateStream.
//
// Subscriptions survive reconnects: the client remembers the set and
// re-sends it after each re-authentication. Create it with
// NewMarketDataStream and call Run exactly once.
type MarketDataStream struct {
	endpoint string
	opts     StreamOptions
	log      *slog.Logger
	client   *http.Client
	ownedHC  bool
	out      chan MarketData
	running  atomic.Bool
	stats    streamCounters
	dropLog  streamLogLimiter

	mu        sync.Mutex
	desired   mdSet
	confirmed mdSet
	cur       *mdConn
}

// NewMarketDataStream returns a client for <baseURL>/v2/<feed>, where
// baseURL is the stream host (https://stream.data.alpaca.markets, or a
// simulator's http://host:port); http maps to ws and https to wss. A
// baseURL that already ends in /v2 is accepted too. Credentials are
// required; see StreamOptions for the rest (the SSE-only fields are
// ignored).
func NewMarketDataStream(baseURL string, feed StreamFeed, opts ...StreamOption) (*MarketDataStream, error) {
	o, err := buildStreamOptions(opts)
	if err != nil {
		return nil, err
	}
	if feed == "" || strings.ContainsAny(string(feed), "/?#") {
		return nil, fmt.Errorf("alpaca: bad stream feed %q", feed)
	}
	u, err := parseStreamBase(baseURL, true)
	if err != nil {
		return nil, err
	}
	if strings.HasSuffix(strings.TrimSuffix(u.Path, "/"), "/v2") {
		u = u.JoinPath(string(feed))
	} else {
		u = u.JoinPath("v2", string(feed))
	}
	hc, owned := streamHTTPClient(&o)
	return &MarketDataStream{
		endpoint: u.String(),
		opts:     o,
		log:      streamLogger(&o, "market_data").With("url", u.String()),
		client:   hc,
		ownedHC:  owned,
		out:      make(chan MarketData, o.BufferSize),
		dropLog:  streamLogLimiter{interval: time.Second},
	}, nil
}

// Messages returns the channel of market data. It is closed when Run
// returns.
func (s *MarketDataStream) Messages() <-chan MarketData { return s.out }

// Stats returns the stream's counters; BufferFull counts dropped messages.
func (s *MarketDataStream) Stats() StreamStats { return s.stats.snapshot() }

// Subscribe adds symbols to the subscription; subscriptions are additive.
// It may be called before or during Run. When connected it returns once
// the server has confirmed the change, or with the server's error (for
// example a *StreamError matching ErrStreamSymbolLimit or
// ErrStreamInsufficientSubscription) in which case the change is undone.
// When not connected, or if the connection drops before the server
// answers, it returns nil and the change is sent on the next connection.
func (s *MarketDataStream) Subscribe(ctx context.Context, sub Subscription) error {
	return s.change(ctx, true, sub)
}

// Unsubscribe removes symbols from the subscription, with the same
// semantics as Subscribe.
func (s *MarketDataStream) Unsubscribe(ctx context.Context, sub Subscription) error {
	return s.change(ctx, false, sub)
}

// Subscribed returns the subscription the server last confirmed on the
// current connection; it is empty while disconnected.
func (s *MarketDataStream) Subscribed() Subscription {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.confirmed.subscription()
}

func (s *MarketDataStream) change(ctx context.Context, subscribe bool, sub Subscription) error {
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
		streamSignal(c.wake)
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
func (s *MarketDataStream) recomputeDesiredLocked(c *mdConn) {
	d := mdSetOf(s.confirmed.subscription())
	for _, ch := range c.sent {
		d.apply(ch.subscribe, ch.sub)
	}
	for _, ch := range c.queue {
		d.apply(ch.subscribe, ch.sub)
	}
	s.desired = d
}

// Run connects, authenticates, subscribes and keeps doing so until ctx is
// done, then returns ctx.Err(). It returns earlier with a non-retryable
// *StreamError (402 auth failed, 409, 410, 411) or a non-retryable HTTP
// status on the upgrade. All goroutines Run starts have exited when it
// returns, and the Messages channel is closed.
func (s *MarketDataStream) Run(ctx context.Context) error {
	if !s.running.CompareAndSwap(false, true) {
		return ErrStreamRunCalledTwice
	}
	defer close(s.out)
	if s.ownedHC {
		defer s.client.CloseIdleConnections()
	}
	return runStream(ctx, &s.opts, s.log, &s.stats, s.connect)
}

func (s *MarketDataStream) connect(ctx context.Context) (connected bool, err error) {
	conn, err := wsDial(ctx, s.client, s.endpoint, &s.opts, "market data")
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
	s.log.Info("connected", "subscribed", s.Subscribed())
	if s.opts.OnConnect != nil {
		s.opts.OnConnect()
	}

	connCtx, cancel := context.WithCancelCause(ctx)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel(nil)
	live := newStreamLiveness()
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
func (s *MarketDataStream) handshake(ctx context.Context, conn *websocket.Conn, c *mdConn, dec *mdDecoder, buf *bytes.Buffer) error {
	if _, err := s.await(ctx, conn, dec, buf, "success", "connected"); err != nil {
		return fmt.Errorf("welcome: %w", err)
	}
	auth := map[string]string{"action": "auth", "key": s.opts.KeyID, "secret": s.opts.SecretKey}
	if err := s.write(ctx, conn, auth); err != nil {
		return fmt.Errorf("auth: %w", err)
	}
	if _, err := s.await(ctx, conn, dec, buf, "success", "authenticated"); err != nil {
		// Name the key so the operator can tell which tenant's credentials
		// failed, never the secret.
		return fmt.Errorf("auth with key %s: %w", streamMaskKey(s.opts.KeyID), err)
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
	if err := s.write(ctx, conn, newMDSubRequest("subscribe", want)); err != nil {
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
	return nil
}

func (s *MarketDataStream) write(ctx context.Context, conn *websocket.Conn, v any) error {
	wctx, cancel := context.WithTimeout(ctx, s.opts.HandshakeTimeout)
	defer cancel()
	return wsWrite(wctx, conn, s.opts.Msgpack, v)
}

// await reads control messages until one of type T (and msg, if given)
// arrives, within the handshake timeout. An error message ends the wait
// with a *StreamError, which ends Run if it is not Retryable.
func (s *MarketDataStream) await(ctx context.Context, conn *websocket.Conn, dec *mdDecoder, buf *bytes.Buffer,
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
				return Subscription{}, &StreamError{Code: w.Code, Msg: w.Msg}
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
	return Subscription{Trades: w.Trades, Quotes: w.Quotes, Bars: w.Bars, DailyBars: w.DailyBars, UpdatedBars: w.UpdatedBars}
}

// writeQueued sends queued changes; it runs on the writer goroutine.
// Each change moves to sent before its write, so the reader can match the
// reply even if it comes back before Write returns.
func (s *MarketDataStream) writeQueued(ctx context.Context, conn *websocket.Conn, c *mdConn) error {
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
		if err := s.write(ctx, conn, newMDSubRequest(action, ch.sub)); err != nil {
			return err
		}
	}
	return nil
}

// handle processes one message after the handshake.
func (s *MarketDataStream) handle(c *mdConn, w *mdWire) error {
	switch w.T {
	case "subscription":
		s.mu.Lock()
		s.confirmed = mdSetOf(w.subscription())
		ch := s.popSentLocked(c)
		s.recomputeDesiredLocked(c)
		s.mu.Unlock()
		if ch != nil {
			ch.done <- nil
		}
	case "error":
		se := &StreamError{Code: w.Code, Msg: w.Msg}
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

func (s *MarketDataStream) popSentLocked(c *mdConn) *mdChange {
	if len(c.sent) == 0 {
		return nil
	}
	ch := c.sent[0]
	c.sent = c.sent[1:]
	return ch
}

// deliver hands a data message to the consumer without ever waiting.
func (s *MarketDataStream) deliver(w *mdWire) {
	m, ok := w.toMarketData()
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
		s.log.Warn("market data buffer full; dropping", "dropped", n, "capacity", cap(s.out))
	}
}

// wsReadFrame reads one websocket message into buf, reusing its storage.
func wsReadFrame(ctx context.Context, conn *websocket.Conn, buf *bytes.Buffer) ([]byte, error) {
	_, r, err := conn.Reader(ctx)
	if err != nil {
		return nil, err
	}
	buf.Reset()
	if _, err := buf.ReadFrom(r); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
