package alpaca

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// This file holds what the three stream clients share: options, errors,
// the reconnect loop, backoff and the liveness bookkeeping. The clients
// themselves live in stream_sse.go (trade updates over SSE), ws_trade.go
// (trade updates over a websocket) and ws_marketdata.go (market data).

// Defaults for StreamOptions.
const (
	DefaultStreamReconnectMin     = 250 * time.Millisecond
	DefaultStreamReconnectMax     = 30 * time.Second
	DefaultStreamLivenessTimeout  = 30 * time.Second
	DefaultStreamPingInterval     = 10 * time.Second
	DefaultStreamPingTimeout      = 5 * time.Second
	DefaultStreamHandshakeTimeout = 10 * time.Second
	DefaultStreamBufferSize       = 1024
	// DefaultStreamReadLimit caps one websocket message. Market-data
	// batches for wide subscriptions run far past coder/websocket's 32 KiB
	// default, so the default is generous but still bounded.
	DefaultStreamReadLimit = 32 << 20
)

// Stream state errors.
var (
	// ErrStreamRunCalledTwice is returned by Run on a stream that has
	// already run: its output channel is closed when Run returns, so a
	// stream cannot be restarted. Build a new one instead.
	ErrStreamRunCalledTwice = errors.New("alpaca: stream Run called twice")

	// ErrStreamStalled is the disconnect cause when a connection went
	// silent: no SSE line (heartbeats included) within the liveness
	// timeout, or no websocket pong within the ping timeout.
	ErrStreamStalled = errors.New("alpaca: stream stalled")

	// ErrStreamUnauthorized matches (with errors.Is) every credential
	// rejection from any stream: HTTP 401/403 on the SSE request or the
	// websocket upgrade, an "unauthorized" reply on the trade_updates
	// websocket and market-data error 402. Such errors end Run.
	ErrStreamUnauthorized = errors.New("alpaca: stream unauthorized")
)

// StreamStats are a stream's running counters. All counts are since the
// stream was created.
type StreamStats struct {
	// Connects counts successful handshakes.
	Connects uint64
	// Reconnects counts connection attempts after the first one,
	// successful or not.
	Reconnects uint64
	// Received counts messages handed to the output channel (trade
	// updates) or decoded data messages (market data, dropped ones
	// included).
	Received uint64
	// Duplicates counts trade updates dropped because their event_id was
	// not after the last one delivered.
	Duplicates uint64
	// BufferFull counts, for trade updates, the times the reader found the
	// output channel full and had to wait; for market data, the messages
	// dropped because the output channel was full.
	BufferFull uint64
	// Malformed counts frames or events that could not be decoded and were
	// skipped.
	Malformed uint64
}

type streamCounters struct {
	connects, reconnects, received, duplicates, bufferFull, malformed atomic.Uint64
}

func (c *streamCounters) snapshot() StreamStats {
	return StreamStats{
		Connects:   c.connects.Load(),
		Reconnects: c.reconnects.Load(),
		Received:   c.received.Load(),
		Duplicates: c.duplicates.Load(),
		BufferFull: c.bufferFull.Load(),
		Malformed:  c.malformed.Load(),
	}
}

// StreamOptions configures TradeUpdateStream, TradeUpdateSocket and
// MarketDataStream. Start from DefaultStreamOptions; a field that only
// some clients read says which.
type StreamOptions struct {
	// KeyID and SecretKey are the API credentials. Required.
	KeyID     string
	SecretKey string

	// HTTPClient carries the SSE request and the websocket upgrades. Its
	// Timeout must be zero, because a stream request lasts for hours.
	// Default nil: the websockets use a client with its own clone of
	// http.DefaultTransport, so that one tenant's streams share no
	// connection pool with another's, closed when Run returns; the SSE
	// stream dials a connection of its own that only its reader touches
	// (HTTP/1.1, no goroutine besides the reader's).
	HTTPClient *http.Client

	// TLSConfig is used by the SSE stream's own connection when
	// HTTPClient is nil, for example to trust a test CA. Default: the
	// system roots, TLS 1.2 or later.
	TLSConfig *tls.Config

	// Logger receives connection events and rate-limited warnings.
	// Defaults to nil, which logs nothing; the library reports through
	// errors, callbacks and Stats instead.
	Logger *slog.Logger

	// ReconnectMin and ReconnectMax bound the jittered exponential
	// backoff between connection attempts. Defaults 250ms and 30s. The
	// backoff restarts from ReconnectMin once a connection has stayed up
	// for ReconnectMax.
	ReconnectMin time.Duration
	ReconnectMax time.Duration

	// LivenessTimeout is how long the SSE stream may stay silent (no
	// event, no heartbeat comment) before the connection is taken for dead
	// and redialed. Default 30s. SSE only; websockets use pings.
	LivenessTimeout time.Duration

	// PingInterval and PingTimeout drive websocket keepalive: a ping every
	// PingInterval, and a connection whose pong takes longer than
	// PingTimeout is redialed. Defaults 10s and 5s. Websockets only.
	PingInterval time.Duration
	PingTimeout  time.Duration

	// HandshakeTimeout bounds each step of connecting: the HTTP request
	// or upgrade, and each websocket auth/listen/subscribe exchange.
	// Default 10s.
	HandshakeTimeout time.Duration

	// BufferSize is the capacity of the output channel. Default 1024.
	// What happens when it is full differs on purpose: trade-update
	// streams block (a fill must never be lost), market data drops (a
	// newer quote supersedes an old one). Wide market-data subscriptions
	// want a larger buffer.
	BufferSize int

	// ReadLimit caps one websocket message in bytes. Default 32 MiB.
	// Websockets only.
	ReadLimit int64

	// Msgpack asks the server for MessagePack instead of JSON, with
	// Content-Type: application/msgpack on the upgrade. Market-data
	// requests are then sent in MessagePack too, as Alpaca's own SDK does;
	// trade-socket requests stay JSON, their documented form. Replies are
	// decoded by sniffing each frame, so JSON still works if the server
	// ignores the request. Websockets only; default false.
	Msgpack bool

	// Since, SinceID, Until and UntilID are where the first SSE connection
	// starts and ends (query parameters since, since_id, until, until_id).
	// All zero means live events only. Since and SinceID are exclusive;
	// Until needs Since and UntilID needs SinceID. With an end set, the
	// server closing the stream cleanly ends Run with a nil error. SSE only.
	Since   time.Time
	SinceID string
	Until   time.Time
	UntilID string

	// OnConnect is called after each successful handshake, on the Run
	// goroutine; it must not block.
	OnConnect func()

	// OnDisconnect is called with the cause each time a connection that
	// OnConnect reported ends, on the Run goroutine; it must not block.
	OnDisconnect func(err error)

	// OnBufferFull is called on the reader goroutine each time the output
	// channel is found full, with the running total (StreamStats
	// BufferFull). For trade updates the reader then waits for room; for
	// market data the message is dropped. It must be cheap: think
	// "increment a metric", not "log a line".
	OnBufferFull func(total uint64)

	// OnTradeUpdate, when set on a TradeUpdateStream (SSE), receives each
	// update on Run's goroutine instead of the Updates channel, and
	// OnResync replaces the ResyncNeeded signal. A handler that blocks
	// holds the reader (back-pressure, nothing dropped); one that returns
	// an error ends Run with it. This saves a consumer goroutine and the
	// channel's buffer per stream, which adds up over thousands of
	// tenants. Default: nil, the channels.
	OnTradeUpdate func(context.Context, TradeUpdate) error
	OnResync      func(context.Context) error
}

// StreamOption sets one field of StreamOptions.
type StreamOption func(*StreamOptions) error

// DefaultStreamOptions returns the defaults described on StreamOptions.
func DefaultStreamOptions() StreamOptions {
	return StreamOptions{
		ReconnectMin:     DefaultStreamReconnectMin,
		ReconnectMax:     DefaultStreamReconnectMax,
		LivenessTimeout:  DefaultStreamLivenessTimeout,
		PingInterval:     DefaultStreamPingInterval,
		PingTimeout:      DefaultStreamPingTimeout,
		HandshakeTimeout: DefaultStreamHandshakeTimeout,
		BufferSize:       DefaultStreamBufferSize,
		ReadLimit:        DefaultStreamReadLimit,
	}
}

// WithStreamCredentials sets the API key id and secret. Required.
func WithStreamCredentials(keyID, secretKey string) StreamOption {
	return func(o *StreamOptions) error {
		o.KeyID, o.SecretKey = keyID, secretKey
		return nil
	}
}

// WithStreamHTTPClient sets the HTTP client used for the SSE request and
// websocket upgrades; its Timeout must be zero. Default: a private client,
// see StreamOptions.HTTPClient.
func WithStreamHTTPClient(c *http.Client) StreamOption {
	return func(o *StreamOptions) error {
		if c != nil && c.Timeout != 0 {
			return errors.New("alpaca: stream HTTP client must have no Timeout")
		}
		o.HTTPClient = c
		return nil
	}
}

// WithStreamTLSConfig sets the TLS configuration of the SSE stream's own
// connection; see StreamOptions.TLSConfig.
func WithStreamTLSConfig(c *tls.Config) StreamOption {
	return func(o *StreamOptions) error {
		o.TLSConfig = c
		return nil
	}
}

// WithStreamLogger sets the logger. Default nil, which logs nothing.
func WithStreamLogger(l *slog.Logger) StreamOption {
	return func(o *StreamOptions) error {
		o.Logger = l
		return nil
	}
}

// WithReconnectBackoff sets the bounds of the reconnect backoff. Defaults
// 250ms and 30s.
func WithReconnectBackoff(minDelay, maxDelay time.Duration) StreamOption {
	return func(o *StreamOptions) error {
		if minDelay <= 0 || maxDelay < minDelay {
			return fmt.Errorf("alpaca: bad reconnect backoff %v..%v", minDelay, maxDelay)
		}
		o.ReconnectMin, o.ReconnectMax = minDelay, maxDelay
		return nil
	}
}

// WithLivenessTimeout sets how long an SSE stream may stay silent before
// it is redialed. Default 30s.
func WithLivenessTimeout(d time.Duration) StreamOption {
	return func(o *StreamOptions) error {
		if d <= 0 {
			return fmt.Errorf("alpaca: bad liveness timeout %v", d)
		}
		o.LivenessTimeout = d
		return nil
	}
}

// WithPing sets the websocket ping interval and pong timeout. Defaults 10s
// and 5s.
func WithPing(interval, timeout time.Duration) StreamOption {
	return func(o *StreamOptions) error {
		if interval <= 0 || timeout <= 0 {
			return fmt.Errorf("alpaca: bad ping settings %v/%v", interval, timeout)
		}
		o.PingInterval, o.PingTimeout = interval, timeout
		return nil
	}
}

// WithHandshakeTimeout bounds each connection step. Default 10s.
func WithHandshakeTimeout(d time.Duration) StreamOption {
	return func(o *StreamOptions) error {
		if d <= 0 {
			return fmt.Errorf("alpaca: bad handshake timeout %v", d)
		}
		o.HandshakeTimeout = d
		return nil
	}
}

// WithBufferSize sets the output channel's capacity. Default 1024.
func WithBufferSize(n int) StreamOption {
	return func(o *StreamOptions) error {
		if n < 1 {
			return fmt.Errorf("alpaca: bad buffer size %d", n)
		}
		o.BufferSize = n
		return nil
	}
}

// WithMsgpack asks websocket servers for MessagePack. Default off.
func WithMsgpack(on bool) StreamOption {
	return func(o *StreamOptions) error {
		o.Msgpack = on
		return nil
	}
}

// WithResumeAfter starts the first SSE connection after the given event
// id (since_id), typically the last id the caller durably processed.
func WithResumeAfter(eventID string) StreamOption {
	return func(o *StreamOptions) error {
		o.SinceID = eventID
		return nil
	}
}

// WithTimeRange starts the first SSE connection at since and, when until
// is not zero, ends the stream there.
func WithTimeRange(since, until time.Time) StreamOption {
	return func(o *StreamOptions) error {
		o.Since, o.Until = since, until
		return nil
	}
}

// WithUntilID ends the SSE stream at the given event id (until_id); it
// needs WithResumeAfter.
func WithUntilID(eventID string) StreamOption {
	return func(o *StreamOptions) error {
		o.UntilID = eventID
		return nil
	}
}

// WithConnectHandlers sets OnConnect and OnDisconnect; either may be nil.
func WithConnectHandlers(onConnect func(), onDisconnect func(error)) StreamOption {
	return func(o *StreamOptions) error {
		o.OnConnect, o.OnDisconnect = onConnect, onDisconnect
		return nil
	}
}

// WithBufferFullHandler sets OnBufferFull.
func WithBufferFullHandler(fn func(total uint64)) StreamOption {
	return func(o *StreamOptions) error {
		o.OnBufferFull = fn
		return nil
	}
}

// WithTradeUpdateHandler delivers a TradeUpdateStream's updates and resync
// signals to callbacks on Run's goroutine; see StreamOptions.OnTradeUpdate.
func WithTradeUpdateHandler(onUpdate func(context.Context, TradeUpdate) error, onResync func(context.Context) error) StreamOption {
	return func(o *StreamOptions) error {
		if onUpdate == nil || onResync == nil {
			return errors.New("alpaca: both trade update handlers are required")
		}
		o.OnTradeUpdate, o.OnResync = onUpdate, onResync
		return nil
	}
}

func buildStreamOptions(opts []StreamOption) (StreamOptions, error) {
	o := DefaultStreamOptions()
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return o, err
		}
	}
	if o.KeyID == "" || o.SecretKey == "" {
		return o, errors.New("alpaca: stream credentials missing")
	}
	if o.BufferSize < 1 {
		return o, fmt.Errorf("alpaca: bad buffer size %d", o.BufferSize)
	}
	if o.ReconnectMin <= 0 || o.ReconnectMax < o.ReconnectMin {
		return o, fmt.Errorf("alpaca: bad reconnect backoff %v..%v", o.ReconnectMin, o.ReconnectMax)
	}
	if o.LivenessTimeout <= 0 || o.PingInterval <= 0 || o.PingTimeout <= 0 || o.HandshakeTimeout <= 0 {
		return o, errors.New("alpaca: stream timeouts must be positive")
	}
	if o.ReadLimit <= 0 {
		o.ReadLimit = DefaultStreamReadLimit
	}
	return o, nil
}

// streamHTTPClient returns the client to use and whether the stream owns
// it (and so must close its idle connections when Run returns, or the
// transport's goroutines would outlive Run).
func streamHTTPClient(o *StreamOptions) (*http.Client, bool) {
	if o.HTTPClient != nil {
		return o.HTTPClient, false
	}
	var rt http.RoundTripper = http.DefaultTransport
	if t, ok := http.DefaultTransport.(*http.Transport); ok {
		t = t.Clone()
		// The library reads no environment (HTTPS_PROXY included): the
		// caller decides, through HTTPClient.
		t.Proxy = nil
		rt = t
	}
	return &http.Client{Transport: rt}, true
}

func streamLogger(o *StreamOptions, kind string) *slog.Logger {
	if o.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return o.Logger.With("stream", kind)
}

// parseStreamBase checks a base URL and maps it to the wanted scheme
// family: ws/wss for websockets, http/https for SSE.
func parseStreamBase(base string, websocket bool) (*url.URL, error) {
	u, err := url.Parse(base)
	if err != nil {
		return nil, fmt.Errorf("alpaca: bad stream base URL: %w", err)
	}
	var secure bool
	switch strings.ToLower(u.Scheme) {
	case "http", "ws":
	case "https", "wss":
		secure = true
	default:
		return nil, fmt.Errorf("alpaca: bad stream base URL scheme %q", u.Scheme)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("alpaca: stream base URL %q has no host", base)
	}
	switch {
	case websocket && secure:
		u.Scheme = "wss"
	case websocket:
		u.Scheme = "ws"
	case secure:
		u.Scheme = "https"
	default:
		u.Scheme = "http"
	}
	u.RawQuery, u.Fragment = "", ""
	return u, nil
}

// StreamError is an error message sent by the market-data stream
// ([{"T":"error","code":...,"msg":...}]). Use errors.Is with the
// ErrStream* code sentinels below, or Retryable.
type StreamError struct {
	Code int
	Msg  string
}

// Market-data stream error codes as sentinels; errors.Is matches on Code.
var (
	ErrStreamInvalidSyntax            = &StreamError{Code: 400, Msg: "invalid syntax"}
	ErrStreamNotAuthenticated         = &StreamError{Code: 401, Msg: "not authenticated"}
	ErrStreamAuthFailed               = &StreamError{Code: 402, Msg: "auth failed"}
	ErrStreamAlreadyAuthenticated     = &StreamError{Code: 403, Msg: "already authenticated"}
	ErrStreamAuthTimeout              = &StreamError{Code: 404, Msg: "auth timeout"}
	ErrStreamSymbolLimit              = &StreamError{Code: 405, Msg: "symbol limit exceeded"}
	ErrStreamConnectionLimit          = &StreamError{Code: 406, Msg: "connection limit exceeded"}
	ErrStreamSlowClient               = &StreamError{Code: 407, Msg: "slow client"}
	ErrStreamInsufficientSubscription = &StreamError{Code: 409, Msg: "insufficient subscription"}
	ErrStreamInvalidSubscribeAction   = &StreamError{Code: 410, Msg: "invalid subscribe action for this feed"}
	ErrStreamInsufficientScope        = &StreamError{Code: 411, Msg: "insufficient scope"}
	ErrStreamInternal                 = &StreamError{Code: 500, Msg: "internal error"}
)

// Error reports the code and the server's message.
func (e *StreamError) Error() string {
	return fmt.Sprintf("alpaca: stream error %d: %s", e.Code, e.Msg)
}

// Is matches another *StreamError with the same Code, and
// ErrStreamUnauthorized for code 402.
func (e *StreamError) Is(target error) bool {
	if target == ErrStreamUnauthorized {
		return e.Code == 402
	}
	t, ok := target.(*StreamError)
	return ok && t.Code == e.Code
}

// Retryable reports whether reconnecting can help. Auth failure (402),
// insufficient subscription (409), an action the feed does not support
// (410) and insufficient scope (411) will fail the same way every time.
func (e *StreamError) Retryable() bool {
	switch e.Code {
	case 402, 409, 410, 411:
		return false
	}
	return true
}

// streamHTTPError is a non-101/non-200 reply to a stream request. It is
// private because the REST side owns the public HTTP error type; the
// message carries what a caller needs.
type streamHTTPError struct {
	op     string
	status int
	body   string
}

func (e *streamHTTPError) Error() string {
	if e.body == "" {
		return fmt.Sprintf("alpaca: %s: HTTP %d", e.op, e.status)
	}
	return fmt.Sprintf("alpaca: %s: HTTP %d: %s", e.op, e.status, e.body)
}

func (e *streamHTTPError) Is(target error) bool {
	return target == ErrStreamUnauthorized && (e.status == http.StatusUnauthorized || e.status == http.StatusForbidden)
}

// streamClassifyStatus decides whether a failed stream request is worth
// retrying: rate limits, timeouts and server errors are; anything else in
// 4xx (bad credentials, bad parameters, wrong path) will not get better.
func streamClassifyStatus(err *streamHTTPError) error {
	switch {
	case err.status == http.StatusTooManyRequests, err.status == http.StatusRequestTimeout, err.status >= 500:
		return err
	default:
		return streamFatal(err)
	}
}

// streamFatalError marks an error that ends Run instead of causing a
// reconnect. Run returns the wrapped error, not this wrapper.
type streamFatalError struct{ err error }

func (e *streamFatalError) Error() string { return e.err.Error() }
func (e *streamFatalError) Unwrap() error { return e.err }

func streamFatal(err error) error {
	if err == nil {
		return nil
	}
	return &streamFatalError{err}
}

// errStreamEnded marks a clean end of stream that Run should treat as
// success (an SSE replay that reached until/until_id).
var errStreamEnded = errors.New("alpaca: stream ended")

// streamBackoff is jittered exponential backoff. Jitter keeps a fleet of
// tenants that lost their streams at the same moment from redialing in
// lockstep.
type streamBackoff struct {
	min, max time.Duration
	attempt  int
}

func (b *streamBackoff) next() time.Duration {
	d := b.max
	if b.attempt < 30 {
		if e := b.min << b.attempt; e > 0 && e < b.max {
			d = e
		}
	}
	b.attempt++
	// Equal jitter: never less than half the nominal delay, so a flapping
	// server is not hammered at ReconnectMin/2 forever.
	half := d / 2
	return half + rand.N(d-half+1)
}

func (b *streamBackoff) reset() { b.attempt = 0 }

func streamSleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// streamConnectFunc runs one connection to completion. connected reports whether
// the handshake succeeded (OnConnect was called). A nil or errStreamEnded
// error ends Run successfully; a permanent error ends Run with it; any
// other error causes a reconnect.
type streamConnectFunc func(ctx context.Context) (connected bool, err error)

// runStream is the supervised reconnect loop shared by the clients.
func runStream(ctx context.Context, o *StreamOptions, log *slog.Logger, stats *streamCounters, connect streamConnectFunc) error {
	bo := streamBackoff{min: o.ReconnectMin, max: o.ReconnectMax}
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			stats.reconnects.Add(1)
		}
		start := time.Now()
		connected, err := connect(ctx)
		if connected && o.OnDisconnect != nil {
			cause := err
			if ctx.Err() != nil {
				cause = ctx.Err()
			}
			o.OnDisconnect(cause)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err == nil || errors.Is(err, errStreamEnded) {
			log.Info("stream ended")
			return nil
		}
		var fatal *streamFatalError
		if errors.As(err, &fatal) {
			log.Error("stream failed permanently", "err", fatal.err)
			return fatal.err
		}
		var r interface{ Retryable() bool }
		if errors.As(err, &r) && !r.Retryable() {
			log.Error("stream failed permanently", "err", err)
			return err
		}
		if connected && time.Since(start) >= o.ReconnectMax {
			bo.reset()
		}
		delay := bo.next()
		log.Warn("stream disconnected; reconnecting", "err", err, "connected", connected, "delay", delay)
		if err := streamSleep(ctx, delay); err != nil {
			return err
		}
	}
}

// streamLiveness tracks when a connection last showed signs of life, and
// whether the reader is parked on a full output channel. While parked, the
// reader cannot consume heartbeats or pongs, so silence is our doing, not
// the server's: the watchdog and pinger must not count it.
type streamLiveness struct {
	start  time.Time
	last   atomic.Int64 // time.Since(start) at the last activity, monotonic
	paused atomic.Bool
	pauses atomic.Uint64 // bumped on every pause, so a pinger can tell one happened
}

func newStreamLiveness() *streamLiveness {
	return &streamLiveness{start: time.Now()}
}

func (l *streamLiveness) touch() { l.last.Store(int64(time.Since(l.start))) }

func (l *streamLiveness) pause() {
	l.pauses.Add(1)
	l.paused.Store(true)
}

func (l *streamLiveness) resume() {
	l.touch()
	l.paused.Store(false)
}

func (l *streamLiveness) idle() time.Duration {
	return time.Since(l.start) - time.Duration(l.last.Load())
}

// arm calls kill once the connection has been idle for timeout, not
// counting time the reader spent parked. It runs on a timer, not a
// goroutine of its own: a thousand idle tenants hold a thousand timers
// rather than a thousand stacks. The returned stop disarms it; kill is
// never called after stop returns.
func (l *streamLiveness) arm(timeout time.Duration, kill func()) (stop func()) {
	var mu sync.Mutex
	var t *time.Timer
	done := false
	check := func() {
		mu.Lock()
		defer mu.Unlock()
		if done {
			return
		}
		if l.paused.Load() {
			t.Reset(timeout)
			return
		}
		idle := l.idle()
		if idle >= timeout {
			done = true
			kill()
			return
		}
		t.Reset(timeout - idle)
	}
	mu.Lock()
	t = time.AfterFunc(timeout, check)
	mu.Unlock()
	return func() {
		mu.Lock()
		done = true
		t.Stop()
		mu.Unlock()
	}
}

// streamLogLimiter lets a hot path log at most once per interval.
type streamLogLimiter struct {
	interval time.Duration
	next     atomic.Int64
}

func (l *streamLogLimiter) allow() bool {
	now := time.Now().UnixNano()
	n := l.next.Load()
	return now >= n && l.next.CompareAndSwap(n, now+int64(l.interval))
}

// streamEventIDAfter reports whether event id a sorts after b. ULIDs have a
// fixed length and sort lexicographically; comparing lengths first also
// orders the integer ids of the v1 stream correctly.
func streamEventIDAfter(a, b string) bool {
	if len(a) != len(b) {
		return len(a) > len(b)
	}
	return a > b
}

// signal does a non-blocking send on a capacity-1 channel, so repeated
// signals before the reader looks coalesce into one.
func streamSignal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// streamMaskKey shows enough of a key id to tell keys apart in errors and logs.
func streamMaskKey(k string) string {
	if len(k) <= 4 {
		return "****"
	}
	return k[:4] + "****"
}

// resumePoint is the last trade update handed to the consumer: the id a
// reconnect resumes after and duplicates are judged against. It moves
// before an update is handed over, so that a consumer that has received
// it never reads an older id, and moves back if the hand-over fails.
type resumePoint struct {
	mu sync.Mutex
	m  resumeMark
}

// resumeMark is a resume point's value.
type resumeMark struct {
	id string
	at time.Time
}

// get returns the last update's id and time.
func (p *resumePoint) get() (string, time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.m.id, p.m.at
}

// seen reports whether an update with this id was already handed over.
func (p *resumePoint) seen(id string) bool {
	if id == "" {
		return false
	}
	last, _ := p.get()
	return last != "" && !streamEventIDAfter(id, last)
}

// advance moves the point to tu, if it carries an id, and returns the
// mark it left for restore.
func (p *resumePoint) advance(tu TradeUpdate) resumeMark {
	p.mu.Lock()
	defer p.mu.Unlock()
	prev := p.m
	if tu.EventID != "" {
		p.m = resumeMark{id: tu.EventID, at: tu.At}
	}
	return prev
}

// restore puts the point back where advance found it.
func (p *resumePoint) restore(prev resumeMark) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.m = prev
}
