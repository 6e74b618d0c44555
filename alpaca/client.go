// Package alpaca is a client for Alpaca's trading and market-data REST APIs
// (and for any server that speaks the same wire format, such as the project's
// broker simulator).
//
// One Client serves one set of credentials and is safe for any number of
// goroutines. Each Client owns its connection pool, its rate limiters and
// its retry policy, so a busy or misbehaving tenant cannot starve another
// tenant's Client or observe its traffic.
//
// Every call takes a context. Cancelling it stops limiter waits, backoff
// waits and in-flight requests at once.
//
// Reads and other idempotent requests are retried on 429, 5xx and network
// errors with jittered exponential backoff that honours Retry-After and
// X-RateLimit-Reset. Requests that create something (orders, closing a
// position) are retried only where the server certainly did not act on
// them: a 429, or a connection that failed before the request could be
// written. SubmitOrder adds look-up-before-resend on top of that, so an
// order is placed at most once per client_order_id (see SubmitOrder).
//
// The package logs nothing unless given a logger (WithLogger) and never
// reads the process environment.
package alpaca

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// Base URLs of Alpaca's hosted APIs.
const (
	// LiveURL is the trading API for live (real-money) accounts.
	LiveURL = "https://api.alpaca.markets"
	// PaperURL is the trading API for paper accounts.
	PaperURL = "https://paper-api.alpaca.markets"
	// DataURL is the market-data API for both live and paper accounts.
	DataURL = "https://data.alpaca.markets"
)

// Defaults applied by DefaultOptions.
const (
	// DefaultMaxConns bounds the connections a Client keeps to one host,
	// busy and idle alike. net/http's default of two idle connections per
	// host makes a Client shared by many goroutines open (and TIME_WAIT) a
	// new TCP connection for most requests under load.
	DefaultMaxConns = 256

	// DefaultIdleConnTimeout is how long an unused connection is kept.
	DefaultIdleConnTimeout = 90 * time.Second

	// DefaultRateLimit and DefaultRateBurst make a token bucket that can
	// never send more than 200 requests in any 60-second window
	// (190/min refill + 10 burst), which is Alpaca's default per-key limit.
	// A plain 200/min bucket with a burst would overshoot the server's
	// window and turn the excess into 429s.
	DefaultRateLimit = 190
	DefaultRateBurst = 10

	// DefaultRateReserve is the share of the trading rate that order
	// placement (SubmitOrder, ReplaceOrder) may not use, so that the
	// reconciliation reads that follow an ambiguous submission, cancels and
	// account reads always find tokens even while a strategy floods orders.
	DefaultRateReserve = 0.2

	// DefaultMaxRetries is the number of retries after the first attempt.
	DefaultMaxRetries = 4
	// DefaultRetryBaseDelay is the first backoff; it doubles per retry.
	DefaultRetryBaseDelay = 250 * time.Millisecond
	// DefaultRetryMaxDelay caps computed backoff.
	DefaultRetryMaxDelay = 8 * time.Second
	// DefaultMaxServerWait caps how long a server's Retry-After or
	// X-RateLimit-Reset hint is honoured; Alpaca's window is one minute.
	DefaultMaxServerWait = 65 * time.Second

	// DefaultTimeout bounds one attempt: connecting, sending, and reading
	// the whole response.
	DefaultTimeout = 15 * time.Second

	// DefaultSubmitRounds bounds SubmitOrder's send/look-up rounds.
	DefaultSubmitRounds = 3

	// DefaultUserAgent is sent unless WithUserAgent says otherwise.
	DefaultUserAgent = "quantum-alpaca/1"
)

// Secret is a credential. Its String, GoString and LogValue methods redact
// it, so printing an Options value or logging it with slog cannot leak it.
type Secret string

// String implements fmt.Stringer and never returns the secret.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "[REDACTED]"
}

// GoString implements fmt.GoStringer and never returns the secret.
func (s Secret) GoString() string { return `"` + s.String() + `"` }

// LogValue implements slog.LogValuer and never returns the secret.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalText keeps the secret out of JSON, YAML and similar encodings.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Options configures a Client. Start from DefaultOptions; the zero value is
// not useful. Options are normally set through Option functions passed to
// New.
type Options struct {
	// KeyID and SecretKey are sent as APCA-API-KEY-ID and
	// APCA-API-SECRET-KEY. Default: none.
	KeyID     string
	SecretKey Secret
	// OAuthToken, when set, is sent as "Authorization: Bearer" instead of
	// the key pair. Default: none.
	OAuthToken Secret

	// DataURL is the market-data base URL. Default: DataURL when the
	// trading base URL is an alpaca.markets host, else the trading base URL
	// itself (a simulator serves both on one host).
	DataURL string

	// HTTPClient, when set, is used instead of a Client-owned one. Its
	// Timeout should be zero (Timeout below bounds attempts); redirects are
	// disabled on the copy the Client keeps unless it sets CheckRedirect.
	// Default: nil.
	HTTPClient *http.Client
	// Transport, when set, is the RoundTripper for requests (it replaces
	// HTTPClient's Transport if both are set). Default: nil, meaning a
	// Client-owned *http.Transport sized by MaxConns.
	Transport http.RoundTripper
	// MaxConns sizes the Client-owned transport (idle and total
	// connections per host). Default: DefaultMaxConns.
	MaxConns int
	// UnencryptedHTTP2 makes the Client-owned transport speak HTTP/2
	// without TLS (prior knowledge) to http:// hosts, so that concurrent
	// calls ride one connection. Only for servers known to accept it,
	// such as this project's broker; https hosts negotiate HTTP/2 by
	// themselves. Default: false.
	UnencryptedHTTP2 bool
	// IdleConnTimeout is how long the Client-owned transport keeps an
	// unused connection. A client that calls rarely (an idle tenant)
	// holds no connection between calls when this is shorter than the gap
	// between them. Default: DefaultIdleConnTimeout.
	IdleConnTimeout time.Duration

	// RateLimit is the trading API budget in requests per minute and
	// RateBurst its bucket size; 0 disables limiting. Default:
	// DefaultRateLimit, DefaultRateBurst.
	RateLimit int
	RateBurst int
	// RateReserve is the fraction of RateLimit that order placement may
	// not consume. Default: DefaultRateReserve.
	RateReserve float64
	// DataRateLimit and DataRateBurst are the market-data budget, limited
	// separately because Alpaca counts it separately. Default: same as the
	// trading budget.
	DataRateLimit int
	DataRateBurst int

	// MaxRetries is how many times a retryable failure is retried.
	// Default: DefaultMaxRetries.
	MaxRetries int
	// RetryBaseDelay and RetryMaxDelay shape exponential backoff.
	// Default: DefaultRetryBaseDelay, DefaultRetryMaxDelay.
	RetryBaseDelay time.Duration
	RetryMaxDelay  time.Duration
	// MaxServerWait caps how long a server hint (Retry-After,
	// X-RateLimit-Reset) is honoured. Default: DefaultMaxServerWait.
	MaxServerWait time.Duration
	// CheckRetry decides whether a failed attempt is retried. Default:
	// DefaultCheckRetry.
	CheckRetry CheckRetry
	// Backoff computes the wait before a retry. Default: DefaultBackoff.
	Backoff Backoff

	// Timeout bounds each attempt, including reading the response body;
	// 0 means no per-attempt bound. Default: DefaultTimeout.
	Timeout time.Duration
	// SubmitRounds bounds SubmitOrder's send/look-up rounds. Default:
	// DefaultSubmitRounds.
	SubmitRounds int

	// Logger receives debug records for retries and warnings for
	// ambiguous order submissions. Default: nil, no logging.
	Logger *slog.Logger
	// Observer is called after every attempt, on the calling goroutine;
	// it must be fast and safe for concurrent use. Default: nil.
	Observer func(RequestInfo)
	// UserAgent is the User-Agent header. Default: DefaultUserAgent.
	UserAgent string
}

// Option changes Options; it returns an error for invalid values.
type Option func(*Options) error

// DefaultOptions returns the options New starts from.
func DefaultOptions() Options {
	return Options{
		MaxConns:        DefaultMaxConns,
		IdleConnTimeout: DefaultIdleConnTimeout,
		RateLimit:       DefaultRateLimit,
		RateBurst:       DefaultRateBurst,
		RateReserve:     DefaultRateReserve,
		DataRateLimit:   DefaultRateLimit,
		DataRateBurst:   DefaultRateBurst,
		MaxRetries:      DefaultMaxRetries,
		RetryBaseDelay:  DefaultRetryBaseDelay,
		RetryMaxDelay:   DefaultRetryMaxDelay,
		MaxServerWait:   DefaultMaxServerWait,
		CheckRetry:      DefaultCheckRetry,
		Backoff:         DefaultBackoff,
		Timeout:         DefaultTimeout,
		SubmitRounds:    DefaultSubmitRounds,
		UserAgent:       DefaultUserAgent,
	}
}

// WithCredentials authenticates with an API key pair. Default: none.
func WithCredentials(keyID, secretKey string) Option {
	return func(o *Options) error {
		if keyID == "" || secretKey == "" {
			return errors.New("alpaca: WithCredentials: key id and secret must both be set")
		}
		o.KeyID, o.SecretKey = keyID, Secret(secretKey)
		return nil
	}
}

// WithOAuthToken authenticates with an OAuth access token, which takes
// precedence over a key pair. Default: none.
func WithOAuthToken(token string) Option {
	return func(o *Options) error {
		if token == "" {
			return errors.New("alpaca: WithOAuthToken: empty token")
		}
		o.OAuthToken = Secret(token)
		return nil
	}
}

// WithDataURL sets the market-data base URL. Default: DataURL for
// alpaca.markets trading hosts, the trading base URL otherwise.
func WithDataURL(u string) Option {
	return func(o *Options) error {
		if _, err := parseBaseURL(u); err != nil {
			return fmt.Errorf("alpaca: WithDataURL: %w", err)
		}
		o.DataURL = u
		return nil
	}
}

// WithHTTPClient uses hc for requests. Default: a Client-owned client.
func WithHTTPClient(hc *http.Client) Option {
	return func(o *Options) error {
		if hc == nil {
			return errors.New("alpaca: WithHTTPClient: nil client")
		}
		o.HTTPClient = hc
		return nil
	}
}

// WithTransport uses rt for requests. Default: a Client-owned
// *http.Transport sized by WithMaxConns. Use this for proxies: the
// Client-owned transport does not read proxy settings from the environment.
func WithTransport(rt http.RoundTripper) Option {
	return func(o *Options) error {
		if rt == nil {
			return errors.New("alpaca: WithTransport: nil transport")
		}
		o.Transport = rt
		return nil
	}
}

// WithMaxConns sizes the Client-owned transport: n idle and at most n
// total connections per host. Default: DefaultMaxConns (256).
func WithMaxConns(n int) Option {
	return func(o *Options) error {
		if n < 1 {
			return errors.New("alpaca: WithMaxConns: n must be at least 1")
		}
		o.MaxConns = n
		return nil
	}
}

// WithRateLimit sets the trading API budget: perMinute requests refilled
// evenly, bursts of up to burst. perMinute 0 disables client-side limiting
// (the server's 429s are still honoured). Default: 190/min, burst 10.
func WithRateLimit(perMinute, burst int) Option {
	return func(o *Options) error {
		if perMinute < 0 || burst < 0 || (perMinute > 0 && burst == 0) {
			return errors.New("alpaca: WithRateLimit: need perMinute >= 0 and burst >= 1")
		}
		o.RateLimit, o.RateBurst = perMinute, burst
		return nil
	}
}

// WithDataRateLimit sets the market-data budget like WithRateLimit.
// Default: 190/min, burst 10.
func WithDataRateLimit(perMinute, burst int) Option {
	return func(o *Options) error {
		if perMinute < 0 || burst < 0 || (perMinute > 0 && burst == 0) {
			return errors.New("alpaca: WithDataRateLimit: need perMinute >= 0 and burst >= 1")
		}
		o.DataRateLimit, o.DataRateBurst = perMinute, burst
		return nil
	}
}

// WithRateReserve sets the fraction (0 to 0.9) of the trading budget that
// order placement may not consume. Default: 0.2.
func WithRateReserve(fraction float64) Option {
	return func(o *Options) error {
		if fraction < 0 || fraction > 0.9 {
			return errors.New("alpaca: WithRateReserve: fraction must be within [0, 0.9]")
		}
		o.RateReserve = fraction
		return nil
	}
}

// WithRetry sets the retry budget: max retries after the first attempt
// (0 disables retries), the first backoff and the backoff cap.
// Default: 4 retries, 250ms, 8s.
func WithRetry(max int, baseDelay, maxDelay time.Duration) Option {
	return func(o *Options) error {
		if max < 0 || baseDelay < 0 || maxDelay < baseDelay {
			return errors.New("alpaca: WithRetry: need max >= 0 and 0 <= baseDelay <= maxDelay")
		}
		o.MaxRetries, o.RetryBaseDelay, o.RetryMaxDelay = max, baseDelay, maxDelay
		return nil
	}
}

// WithRetryPolicy replaces the retry decision and the backoff; a nil
// argument keeps the current one. Default: DefaultCheckRetry,
// DefaultBackoff.
func WithRetryPolicy(check CheckRetry, backoff Backoff) Option {
	return func(o *Options) error {
		if check != nil {
			o.CheckRetry = check
		}
		if backoff != nil {
			o.Backoff = backoff
		}
		return nil
	}
}

// WithUnencryptedHTTP2 speaks HTTP/2 without TLS to http:// hosts; see
// Options.UnencryptedHTTP2. Default: off.
func WithUnencryptedHTTP2() Option {
	return func(o *Options) error { o.UnencryptedHTTP2 = true; return nil }
}

// WithIdleConnTimeout sets how long the Client-owned transport keeps an
// unused connection open, 0 for as long as the server allows; see
// Options.IdleConnTimeout. Default: 90s.
func WithIdleConnTimeout(d time.Duration) Option {
	return func(o *Options) error {
		if d < 0 {
			return errors.New("alpaca: negative idle connection timeout")
		}
		o.IdleConnTimeout = d
		return nil
	}
}

// WithTimeout bounds each attempt (connect, send, read the whole
// response); 0 means unbounded. Default: 15s.
func WithTimeout(d time.Duration) Option {
	return func(o *Options) error {
		if d < 0 {
			return errors.New("alpaca: WithTimeout: negative duration")
		}
		o.Timeout = d
		return nil
	}
}

// WithSubmitRounds bounds SubmitOrder's send/look-up rounds (at least 1).
// Default: 3.
func WithSubmitRounds(n int) Option {
	return func(o *Options) error {
		if n < 1 {
			return errors.New("alpaca: WithSubmitRounds: n must be at least 1")
		}
		o.SubmitRounds = n
		return nil
	}
}

// WithLogger sends the Client's few log records to l; nil disables
// logging. Records never contain credentials. Default: nil.
func WithLogger(l *slog.Logger) Option {
	return func(o *Options) error { o.Logger = l; return nil }
}

// WithObserver calls fn after every attempt, for metrics. Give each
// tenant's Client its own fn (closing over the tenant) to get per-tenant
// series. Default: nil.
func WithObserver(fn func(RequestInfo)) Option {
	return func(o *Options) error { o.Observer = fn; return nil }
}

// WithUserAgent sets the User-Agent header. Default: DefaultUserAgent.
func WithUserAgent(ua string) Option {
	return func(o *Options) error { o.UserAgent = ua; return nil }
}

// RequestInfo describes one attempt of one request, for metrics.
type RequestInfo struct {
	// Method is the HTTP method.
	Method string
	// Route is the path template ("/v2/orders/{order_id}"), never the raw
	// path, so that it is safe as a metric label.
	Route string
	// StatusCode is the response status, or 0 if no response arrived.
	StatusCode int
	// Attempt counts from 1.
	Attempt int
	// Duration is the time from sending to the end of the response body.
	Duration time.Duration
	// RateLimitWait is the time spent waiting for the client-side limiter
	// and for a server-imposed pause before this attempt.
	RateLimitWait time.Duration
	// RequestID is Alpaca's X-Request-ID, if any.
	RequestID string
	// Err is the transport or API error of this attempt, if any.
	Err error
}

// Client is an Alpaca REST client for one set of credentials. It is safe
// for concurrent use; create one per tenant and reuse it.
type Client struct {
	base string // trading base URL without a trailing slash
	data string // market-data base URL without a trailing slash
	hc   *http.Client
	opts Options
	log  *slog.Logger

	// auth is behind a pointer so that printing a Client with %v shows an
	// address, not the credentials.
	auth *authHeaders

	trading *hostLimiter
	market  *hostLimiter
}

type authHeaders struct {
	keyID, secret, bearer []string
	redact                []string // raw secrets to scrub from server text
}

// hostLimiter is the client-side budget of one API host.
type hostLimiter struct {
	all    *rate.Limiter // every request; nil when unlimited
	submit *rate.Limiter // order placement on top of all; nil when no reserve
	// pausedUntil (unix nanoseconds) holds every request to this host after
	// a 429, so that the goroutines sharing a Client wait together instead
	// of each burning its retries against a closed window.
	pausedUntil atomic.Int64
}

func newHostLimiter(perMinute, burst int, reserve float64) *hostLimiter {
	h := &hostLimiter{}
	if perMinute <= 0 {
		return h
	}
	h.all = rate.NewLimiter(rate.Limit(float64(perMinute)/60), burst)
	if reserve > 0 {
		sub := float64(perMinute) * (1 - reserve)
		sb := int(float64(burst) * (1 - reserve))
		if sb < 1 {
			sb = 1
		}
		h.submit = rate.NewLimiter(rate.Limit(sub/60), sb)
	}
	return h
}

// New returns a Client for the trading API at baseURL (PaperURL, LiveURL
// or a simulator's address).
func New(baseURL string, opts ...Option) (*Client, error) {
	o := DefaultOptions()
	for _, opt := range opts {
		if opt == nil {
			continue
		}
		if err := opt(&o); err != nil {
			return nil, err
		}
	}
	base, err := parseBaseURL(baseURL)
	if err != nil {
		return nil, fmt.Errorf("alpaca: New: %w", err)
	}
	if o.DataURL == "" {
		o.DataURL = defaultDataURL(base)
	}
	data, err := parseBaseURL(o.DataURL)
	if err != nil {
		return nil, fmt.Errorf("alpaca: New: data URL: %w", err)
	}
	if o.CheckRetry == nil {
		o.CheckRetry = DefaultCheckRetry
	}
	if o.Backoff == nil {
		o.Backoff = DefaultBackoff
	}
	if o.SubmitRounds < 1 {
		o.SubmitRounds = 1
	}

	c := &Client{
		base:    base.String(),
		data:    data.String(),
		opts:    o,
		log:     o.Logger,
		auth:    newAuthHeaders(o),
		trading: newHostLimiter(o.RateLimit, o.RateBurst, o.RateReserve),
		market:  newHostLimiter(o.DataRateLimit, o.DataRateBurst, 0),
	}
	// Options keeps the secrets for nobody: the Client reads them from auth.
	c.opts.SecretKey, c.opts.OAuthToken = "", ""

	switch {
	case o.HTTPClient != nil:
		hc := *o.HTTPClient
		c.hc = &hc
	default:
		c.hc = &http.Client{}
	}
	if o.Transport != nil {
		c.hc.Transport = o.Transport
	} else if o.HTTPClient == nil {
		c.hc.Transport = newTransport(o.MaxConns, o.IdleConnTimeout, o.UnencryptedHTTP2)
	}
	if c.hc.CheckRedirect == nil {
		// net/http forwards custom headers such as APCA-API-SECRET-KEY to
		// redirect targets; Alpaca does not redirect API calls, so a
		// redirect is an error to surface, not a place to send keys.
		c.hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	}
	return c, nil
}

func newAuthHeaders(o Options) *authHeaders {
	a := &authHeaders{}
	if o.OAuthToken != "" {
		a.bearer = []string{"Bearer " + string(o.OAuthToken)}
		a.redact = append(a.redact, string(o.OAuthToken))
	} else if o.KeyID != "" {
		a.keyID = []string{o.KeyID}
		a.secret = []string{string(o.SecretKey)}
		a.redact = append(a.redact, string(o.SecretKey))
	}
	return a
}

// newDialer is how every connection of the package is dialed: the REST
// transport's and the SSE stream's own.
func newDialer() *net.Dialer {
	return &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
}

func newTransport(maxConns int, idle time.Duration, h2c bool) *http.Transport {
	d := newDialer()
	t := &http.Transport{
		// No Proxy: ProxyFromEnvironment would read the environment.
		DialContext:           d.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          2 * maxConns, // trading and data hosts
		MaxIdleConnsPerHost:   maxConns,
		MaxConnsPerHost:       maxConns,
		IdleConnTimeout:       idle,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
	if h2c {
		t.Protocols = new(http.Protocols)
		t.Protocols.SetHTTP2(true)
		t.Protocols.SetUnencryptedHTTP2(true)
	}
	return t
}

func parseBaseURL(s string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimRight(s, "/"))
	if err != nil {
		// url.Error repeats the input, which may hold user info.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("invalid base URL: %w", err)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, errors.New("invalid base URL: must not carry user info, query or fragment")
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("invalid base URL %q: need http(s)://host", u.Redacted())
	}
	return u, nil
}

func defaultDataURL(base *url.URL) string {
	h := base.Hostname()
	if h == "alpaca.markets" || strings.HasSuffix(h, ".alpaca.markets") {
		return DataURL
	}
	return base.String()
}

// BaseURL returns the trading base URL the Client talks to.
func (c *Client) BaseURL() string { return c.base }

// DataBaseURL returns the market-data base URL the Client talks to.
func (c *Client) DataBaseURL() string { return c.data }

// HTTPClient returns the *http.Client the Client sends with, for a
// websocket stream (WithStreamHTTPClient) that should share the tenant's
// connection pool and dialer. The SSE trade-update stream is better left
// on its own connection (see StreamOptions.HTTPClient). Do not set a
// Timeout on it.
func (c *Client) HTTPClient() *http.Client { return c.hc }

// CloseIdleConnections closes the Client's idle keep-alive connections,
// for example when a tenant is removed.
func (c *Client) CloseIdleConnections() { c.hc.CloseIdleConnections() }
