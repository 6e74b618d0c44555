package stream

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/quantum-alpaca/quantum/alpaca"
)

// Defaults for Options.
const (
	DefaultReconnectMin     = 250 * time.Millisecond
	DefaultReconnectMax     = 30 * time.Second
	DefaultLivenessTimeout  = 30 * time.Second
	DefaultPingInterval     = 10 * time.Second
	DefaultPingTimeout      = 5 * time.Second
	DefaultHandshakeTimeout = 10 * time.Second
	DefaultBufferSize       = 1024
	// DefaultReadLimit caps one websocket message. Market-data
	// batches for wide subscriptions run far past coder/websocket's 32 KiB
	// default, so the default is generous but still bounded.
	DefaultReadLimit = 32 << 20
)

// Options configures TradeEvents, TradeSocket and
// MarketData. Start from DefaultOptions; a field that only
// some clients read says which.
type Options struct {
	// KeyID and SecretKey are the API credentials. Required. SecretKey
	// is an alpaca.Secret, like the REST client's: printing or logging
	// Options shows it redacted.
	KeyID     string
	SecretKey alpaca.Secret

	// Authorizer, when set, authenticates the SSE request instead of
	// KeyID and SecretKey: a Broker API firm's stream is opened with the
	// firm's HTTP Basic or bearer credentials (an *alpaca.Broker is an
	// Authorizer). Websockets still need KeyID and SecretKey. SSE only;
	// default nil.
	Authorizer Authorizer

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

	// OnConnectFailed is called with the cause each time an attempt to
	// connect fails before the handshake (refused, unauthorized, a proxy's
	// 502), on the Run goroutine; it must not block. With OnDisconnect it
	// tells a caller why the stream is down, not only that it is.
	OnConnectFailed func(err error)

	// OnBufferFull is called on the reader goroutine each time the output
	// channel is found full, with the running total (Stats
	// BufferFull). For trade updates the reader then waits for room; for
	// market data the message is dropped. It must be cheap: think
	// "increment a metric", not "log a line".
	OnBufferFull func(total uint64)

	// OnSubscribed is called with the whole subscription each time a
	// market-data server confirms it: after the handshake re-sends it,
	// and after each Subscribe or Unsubscribe. It runs on the reader
	// goroutine and must not block. It tells a caller when a symbol's
	// data starts to flow, where Subscribe called while disconnected
	// returns at once. Market data only; default nil.
	OnSubscribed func(Subscription)

	// OnTradeUpdate, when set on a TradeEvents (SSE), receives each
	// update on Run's goroutine instead of the Updates channel, and
	// OnResync replaces the ResyncNeeded signal. A handler that blocks
	// holds the reader (back-pressure, nothing dropped); one that returns
	// an error ends Run with it. This saves a consumer goroutine and the
	// channel's buffer per stream, which adds up over thousands of
	// tenants. Default: nil, the channels.
	OnTradeUpdate func(context.Context, alpaca.TradeUpdate) error
	OnResync      func(context.Context) error
}

// Authorizer sets credentials on a stream's HTTP request. Authorize is
// called before every connection attempt, so credentials that expire
// (access tokens) are fresh each time. When the server refuses them with
// 401, Unauthorized is told, and reports whether to try again (a token
// that can be replaced) or give up (credentials that will not get
// better). *alpaca.Broker implements it.
type Authorizer interface {
	Authorize(ctx context.Context, req *http.Request) error
	Unauthorized(req *http.Request) bool
}

// Option sets one field of Options.
type Option func(*Options) error

// DefaultOptions returns the defaults described on Options.
func DefaultOptions() Options {
	return Options{
		ReconnectMin:     DefaultReconnectMin,
		ReconnectMax:     DefaultReconnectMax,
		LivenessTimeout:  DefaultLivenessTimeout,
		PingInterval:     DefaultPingInterval,
		PingTimeout:      DefaultPingTimeout,
		HandshakeTimeout: DefaultHandshakeTimeout,
		BufferSize:       DefaultBufferSize,
		ReadLimit:        DefaultReadLimit,
	}
}

// WithCredentials sets the API key id and secret. Required.
func WithCredentials(keyID, secretKey string) Option {
	return func(o *Options) error {
		o.KeyID, o.SecretKey = keyID, alpaca.Secret(secretKey)
		return nil
	}
}

// WithAuthorizer authenticates the SSE request with a; see
// Options.Authorizer.
func WithAuthorizer(a Authorizer) Option {
	return func(o *Options) error {
		if a == nil {
			return errors.New("alpaca: nil stream authorizer")
		}
		o.Authorizer = a
		return nil
	}
}

// WithHTTPClient sets the HTTP client used for the SSE request and
// websocket upgrades; its Timeout must be zero. Default: a private client,
// see Options.HTTPClient.
func WithHTTPClient(c *http.Client) Option {
	return func(o *Options) error {
		if c != nil && c.Timeout != 0 {
			return errors.New("alpaca: stream HTTP client must have no Timeout")
		}
		o.HTTPClient = c
		return nil
	}
}

// WithTLSConfig sets the TLS configuration of the SSE stream's own
// connection; see Options.TLSConfig.
func WithTLSConfig(c *tls.Config) Option {
	return func(o *Options) error {
		o.TLSConfig = c
		return nil
	}
}

// WithLogger sets the logger. Default nil, which logs nothing.
func WithLogger(l *slog.Logger) Option {
	return func(o *Options) error {
		o.Logger = l
		return nil
	}
}

// WithReconnectBackoff sets the bounds of the reconnect backoff. Defaults
// 250ms and 30s.
func WithReconnectBackoff(minDelay, maxDelay time.Duration) Option {
	return func(o *Options) error {
		if minDelay <= 0 || maxDelay < minDelay {
			return fmt.Errorf("alpaca: bad reconnect backoff %v..%v", minDelay, maxDelay)
		}
		o.ReconnectMin, o.ReconnectMax = minDelay, maxDelay
		return nil
	}
}

// WithLivenessTimeout sets how long an SSE stream may stay silent before
// it is redialed. Default 30s.
func WithLivenessTimeout(d time.Duration) Option {
	return func(o *Options) error {
		if d <= 0 {
			return fmt.Errorf("alpaca: bad liveness timeout %v", d)
		}
		o.LivenessTimeout = d
		return nil
	}
}

// WithPing sets the websocket ping interval and pong timeout. Defaults 10s
// and 5s.
func WithPing(interval, timeout time.Duration) Option {
	return func(o *Options) error {
		if interval <= 0 || timeout <= 0 {
			return fmt.Errorf("alpaca: bad ping settings %v/%v", interval, timeout)
		}
		o.PingInterval, o.PingTimeout = interval, timeout
		return nil
	}
}

// WithHandshakeTimeout bounds each connection step. Default 10s.
func WithHandshakeTimeout(d time.Duration) Option {
	return func(o *Options) error {
		if d <= 0 {
			return fmt.Errorf("alpaca: bad handshake timeout %v", d)
		}
		o.HandshakeTimeout = d
		return nil
	}
}

// WithBufferSize sets the output channel's capacity. Default 1024.
func WithBufferSize(n int) Option {
	return func(o *Options) error {
		if n < 1 {
			return fmt.Errorf("alpaca: bad buffer size %d", n)
		}
		o.BufferSize = n
		return nil
	}
}

// WithMsgpack asks websocket servers for MessagePack. Default off.
func WithMsgpack(on bool) Option {
	return func(o *Options) error {
		o.Msgpack = on
		return nil
	}
}

// WithResumeAfter starts the first SSE connection after the given event
// id (since_id), typically the last id the caller durably processed.
func WithResumeAfter(eventID string) Option {
	return func(o *Options) error {
		o.SinceID = eventID
		return nil
	}
}

// WithTimeRange starts the first SSE connection at since and, when until
// is not zero, ends the stream there.
func WithTimeRange(since, until time.Time) Option {
	return func(o *Options) error {
		o.Since, o.Until = since, until
		return nil
	}
}

// WithUntilID ends the SSE stream at the given event id (until_id); it
// needs WithResumeAfter.
func WithUntilID(eventID string) Option {
	return func(o *Options) error {
		o.UntilID = eventID
		return nil
	}
}

// WithConnectHandlers sets OnConnect and OnDisconnect; either may be nil.
func WithConnectHandlers(onConnect func(), onDisconnect func(error)) Option {
	return func(o *Options) error {
		o.OnConnect, o.OnDisconnect = onConnect, onDisconnect
		return nil
	}
}

// WithConnectFailedHandler sets OnConnectFailed.
func WithConnectFailedHandler(fn func(error)) Option {
	return func(o *Options) error {
		o.OnConnectFailed = fn
		return nil
	}
}

// WithBufferFullHandler sets OnBufferFull.
func WithBufferFullHandler(fn func(total uint64)) Option {
	return func(o *Options) error {
		o.OnBufferFull = fn
		return nil
	}
}

// WithSubscribedHandler sets OnSubscribed.
func WithSubscribedHandler(fn func(Subscription)) Option {
	return func(o *Options) error {
		o.OnSubscribed = fn
		return nil
	}
}

// WithTradeUpdateHandler delivers a TradeEvents stream's updates and resync
// signals to callbacks on Run's goroutine; see Options.OnTradeUpdate.
func WithTradeUpdateHandler(onUpdate func(context.Context, alpaca.TradeUpdate) error, onResync func(context.Context) error) Option {
	return func(o *Options) error {
		if onUpdate == nil || onResync == nil {
			return errors.New("alpaca: both trade update handlers are required")
		}
		o.OnTradeUpdate, o.OnResync = onUpdate, onResync
		return nil
	}
}

// needKeys is the websockets' credential check: they authenticate in a
// message of their own, so an Authorizer cannot stand in for a key pair.
func needKeys(o *Options) error {
	if o.KeyID == "" || o.SecretKey == "" {
		return errors.New("alpaca: stream credentials missing (a websocket needs a key pair)")
	}
	return nil
}

func buildOptions(opts []Option) (Options, error) {
	o := DefaultOptions()
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return o, err
		}
	}
	if (o.KeyID == "" || o.SecretKey == "") && o.Authorizer == nil {
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
		o.ReadLimit = DefaultReadLimit
	}
	return o, nil
}

// httpClient returns the client to use and whether the stream owns
// it (and so must close its idle connections when Run returns, or the
// transport's goroutines would outlive Run).
func httpClient(o *Options) (*http.Client, bool) {
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

func newLogger(o *Options, kind string) *slog.Logger {
	if o.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return o.Logger.With("stream", kind)
}

// parseBase checks a base URL and maps it to the wanted scheme
// family: ws/wss for websockets, http/https for SSE.
func parseBase(base string, websocket bool) (*url.URL, error) {
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
