package alpaca

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"
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

	// BrokerKey and BrokerSecret are a Broker API firm's key pair, sent
	// as HTTP Basic authentication; they take precedence over the fields
	// above. Default: none.
	BrokerKey    string
	BrokerSecret Secret
	// ClientID and ClientSecret are a Broker API firm's client
	// credentials: the Client exchanges them at TokenURL for a
	// short-lived access token, shared by all its goroutines and account
	// views and renewed before it expires, and sends that as a bearer
	// token. They take precedence over every other credential. Default:
	// none.
	ClientID     string
	ClientSecret Secret
	// TokenURL is the token endpoint for ClientID. Default: Alpaca's
	// authentication host for Alpaca's Broker API hosts (AuthLiveURL,
	// AuthSandboxURL), else TokenPath on the base URL's host.
	TokenURL string
	// AccountRateLimit and AccountRateBurst, when AccountRateLimit is
	// above 0, give every Broker API account view a budget of its own on
	// top of the firm's RateLimit. Default: 0, no per-account budget.
	AccountRateLimit int
	AccountRateBurst int

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

// WithBrokerCredentials authenticates with a Broker API firm's key pair
// over HTTP Basic; see Options.BrokerKey. Default: none.
func WithBrokerCredentials(key, secret string) Option {
	return func(o *Options) error {
		if key == "" || secret == "" {
			return errors.New("alpaca: WithBrokerCredentials: key and secret must both be set")
		}
		if strings.Contains(key, ":") {
			return errors.New("alpaca: WithBrokerCredentials: key must not contain a colon")
		}
		o.BrokerKey, o.BrokerSecret = key, Secret(secret)
		return nil
	}
}

// WithClientCredentials authenticates with a Broker API firm's client
// credentials through short-lived access tokens; see Options.ClientID.
// Default: none.
func WithClientCredentials(clientID, clientSecret string) Option {
	return func(o *Options) error {
		if clientID == "" || clientSecret == "" {
			return errors.New("alpaca: WithClientCredentials: client id and secret must both be set")
		}
		o.ClientID, o.ClientSecret = clientID, Secret(clientSecret)
		return nil
	}
}

// WithTokenURL sets the token endpoint of WithClientCredentials (the
// whole URL, path included). Default: see Options.TokenURL.
func WithTokenURL(u string) Option {
	return func(o *Options) error {
		if _, err := parseBaseURL(u); err != nil {
			return fmt.Errorf("alpaca: WithTokenURL: %w", err)
		}
		o.TokenURL = u
		return nil
	}
}

// WithAccountRateLimit gives each Broker API account view a budget of its
// own, perMinute requests with bursts of burst, inside the firm's budget;
// perMinute 0 removes it. Default: none.
func WithAccountRateLimit(perMinute, burst int) Option {
	return func(o *Options) error {
		if perMinute < 0 || burst < 0 || (perMinute > 0 && burst == 0) {
			return errors.New("alpaca: WithAccountRateLimit: need perMinute >= 0 and burst >= 1")
		}
		o.AccountRateLimit, o.AccountRateBurst = perMinute, burst
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
