// Package alpaca is a client for Alpaca's trading and market-data REST APIs
// (and for any server that speaks the same wire format, such as the project's
// broker simulator), and the home of the wire types (Order, TradeUpdate,
// Quote, ...) that the streaming clients in package alpaca/stream share.
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
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/quantum-alpaca/quantum/alpaca/internal/netx"
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
	// AccountID is the Broker API account the request was for, when it
	// was sent through an account view (Broker.Account); empty otherwise.
	AccountID string
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
	authx   *hostLimiter // the token endpoint: never limited client-side

	// acct, when set, makes the Client a view of one Broker API account
	// (Broker.Account): its trading paths go to the account's routes on
	// the broker host. The view shares everything above with the firm's
	// Client, connection pool and limiters included.
	acct *accountScope
}

type authHeaders struct {
	keyID, secret, bearer []string
	basic                 []string     // Broker API: "Basic base64(key:secret)"
	tokens                *tokenSource // Broker API: client-credentials tokens
	redact                []string     // raw secrets to scrub from server text
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
	return newClient(baseURL, DefaultOptions(), opts)
}

// newClient is New starting from the defaults o (New's or NewBroker's).
func newClient(baseURL string, o Options, opts []Option) (*Client, error) {
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
		auth:    newAuthHeaders(o, base),
		trading: newHostLimiter(o.RateLimit, o.RateBurst, o.RateReserve),
		market:  newHostLimiter(o.DataRateLimit, o.DataRateBurst, 0),
		authx:   newHostLimiter(0, 0, 0),
	}
	// Options keeps the secrets for nobody: the Client reads them from auth.
	c.opts.SecretKey, c.opts.OAuthToken, c.opts.BrokerSecret, c.opts.ClientSecret = "", "", "", ""

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

func newAuthHeaders(o Options, base *url.URL) *authHeaders {
	a := &authHeaders{}
	switch {
	case o.ClientID != "":
		tokenURL := o.TokenURL
		if tokenURL == "" {
			tokenURL = defaultTokenURL(base)
		}
		a.tokens = newTokenSource(tokenURL, o.ClientID, o.ClientSecret)
		return a
	case o.BrokerKey != "":
		raw := o.BrokerKey + ":" + string(o.BrokerSecret)
		enc := base64.StdEncoding.EncodeToString([]byte(raw))
		a.basic = []string{"Basic " + enc}
		// A server may echo the header (encoded) or the secret (decoded).
		a.redact = append(a.redact, string(o.BrokerSecret), enc)
		return a
	}
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

// authorization returns the Authorization header to send, if the
// credentials take that form; key pairs go in headers of their own.
func (a *authHeaders) authorization(ctx context.Context, c *Client) ([]string, error) {
	switch {
	case a.tokens != nil:
		return a.tokens.authorization(ctx, c)
	case a.basic != nil:
		return a.basic, nil
	}
	return a.bearer, nil
}

func newTransport(maxConns int, idle time.Duration, h2c bool) *http.Transport {
	d := netx.Dialer() // shared with the SSE stream's own connections
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
	if h == "broker-api.sandbox.alpaca.markets" {
		return BrokerDataSandboxURL // sandbox firms have a data host of their own
	}
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
// websocket stream (stream.WithHTTPClient) that should share the tenant's
// connection pool and dialer. The SSE trade-update stream is better left
// on its own connection (see stream.Options.HTTPClient). Do not set a
// Timeout on it.
func (c *Client) HTTPClient() *http.Client { return c.hc }

// CloseIdleConnections closes the Client's idle keep-alive connections,
// for example when a tenant is removed.
func (c *Client) CloseIdleConnections() { c.hc.CloseIdleConnections() }
