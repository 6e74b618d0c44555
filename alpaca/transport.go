package alpaca

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quantum-alpaca/quantum/alpaca/backoff"
	"github.com/quantum-alpaca/quantum/alpaca/internal/netx"
)

const (
	// maxResponseBytes bounds a successful body; a full page of 10,000
	// bars is about 1 MB.
	maxResponseBytes = 32 << 20
	// maxDrainBytes bounds how much of an unwanted body is read so the
	// connection can be reused; larger bodies cost a new connection.
	maxDrainBytes = 256 << 10
	// maxPooledBuffer keeps huge market-data buffers out of the pool.
	maxPooledBuffer = 1 << 20
)

// Attempt describes a failed attempt to CheckRetry and Backoff.
type Attempt struct {
	// Method and Route identify the request (Route is the path template).
	Method, Route string
	// Idempotent says whether repeating the request is harmless.
	Idempotent bool
	// Number counts attempts from 1.
	Number int
	// StatusCode is the reply's status, 0 when no reply arrived.
	StatusCode int
	// Header is the reply's header, nil when no reply arrived.
	Header http.Header
	// Err is the transport error, nil when a reply arrived.
	Err error
	// Sent is false only when the request certainly never left the
	// client (the connection could not be established).
	Sent bool
	// Now is the time the attempt ended.
	Now time.Time
}

// CheckRetry decides whether a failed attempt should be retried. A non-nil
// error stops retrying and is returned to the caller.
type CheckRetry func(ctx context.Context, a *Attempt) (bool, error)

// Backoff returns how long to wait before retrying after a. base and max
// come from Options (RetryBaseDelay, RetryMaxDelay); maxServerWait caps
// server hints.
type Backoff func(a *Attempt, base, max, maxServerWait time.Duration) time.Duration

// DefaultCheckRetry retries:
//   - any request the server refused with 429: Alpaca's limiter rejects
//     the request before it is processed, so even an order POST is safe to
//     repeat after the wait;
//   - any request that never left the client (dial failure);
//   - idempotent requests on 500, 502, 503, 504 and transport errors,
//     except errors that cannot heal (TLS certificate problems).
//
// Everything else, notably a 5xx or lost connection on an order POST, is
// returned, because the server may have acted on the request.
func DefaultCheckRetry(ctx context.Context, a *Attempt) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	if a.Err != nil {
		var cv *tls.CertificateVerificationError
		if errors.As(a.Err, &cv) {
			return false, nil
		}
		return !a.Sent || a.Idempotent, nil
	}
	switch a.StatusCode {
	case http.StatusTooManyRequests:
		return true, nil
	case http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return a.Idempotent, nil
	}
	return false, nil
}

// DefaultBackoff waits as long as the server asks (Retry-After, or
// X-RateLimit-Reset on a 429), capped at maxServerWait, plus a little
// jitter so that goroutines do not return in lockstep. Without a hint it
// uses exponential backoff, base·2^(n-1) capped at max, with "equal
// jitter": half fixed, half random (backoff.Exponential).
func DefaultBackoff(a *Attempt, base, max, maxServerWait time.Duration) time.Duration {
	if d, ok := serverWait(a.StatusCode, a.Header, a.Now); ok {
		if d > maxServerWait {
			d = maxServerWait
		}
		return d + backoff.Jitter(min(time.Second, d/10+50*time.Millisecond))
	}
	return backoff.Exponential(base, max, a.Number)
}

// serverWait extracts the server's requested wait from a reply. Retry-After
// (seconds or an HTTP date) applies to any status; X-RateLimit-Reset (unix
// epoch seconds when the window reopens) only to 429, because Alpaca sends
// it on every reply.
func serverWait(status int, h http.Header, now time.Time) (time.Duration, bool) {
	if h == nil {
		return 0, false
	}
	if d, ok := parseRetryAfter(h.Get("Retry-After"), now); ok {
		return d, true
	}
	if status == http.StatusTooManyRequests {
		if d, ok := parseRateLimitReset(h.Get("X-Ratelimit-Reset"), now); ok {
			return d, true
		}
	}
	return 0, false
}

func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs < 0 {
			return 0, false
		}
		return time.Duration(min(secs, 1<<20)) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d, true
		}
		return 0, true
	}
	return 0, false
}

// parseRateLimitReset reads X-RateLimit-Reset. Alpaca sends epoch seconds;
// small values are taken as seconds from now, which some gateways send.
func parseRateLimitReset(v string, now time.Time) (time.Duration, bool) {
	if v == "" {
		return 0, false
	}
	n, err := strconv.ParseFloat(v, 64)
	if err != nil || n < 0 {
		return 0, false
	}
	if n < 1e9 {
		return time.Duration(n * float64(time.Second)), true
	}
	reset := time.Unix(0, int64(n*1e9))
	if d := reset.Sub(now); d > 0 {
		return d, true
	}
	return 0, true
}

// call is one logical request, possibly sent several times.
type call struct {
	method string
	route  string // path template, for metrics and errors
	path   string // escaped path
	query  url.Values
	// body is replayed through a fresh reader on every attempt, so a retry
	// never sends a drained body (alpaca-trade-api-go#307).
	body       []byte
	data       bool // market-data host
	idempotent bool
	submit     bool // counts against the order-placement budget
	maxRetries int  // 0: Options.MaxRetries; negative: none
	// url, when set, is the absolute URL to send to instead of a base URL
	// and path (the token endpoint); such a request bypasses the rate
	// limiters and account mapping.
	url    string
	form   bool // body is application/x-www-form-urlencoded, not JSON
	noAuth bool // send no credentials

	// out receives a 2xx body; nil discards it.
	out any
}

// result reports what do learned beyond the error.
type result struct {
	status int
	header http.Header
	// sent is true when any attempt may have reached the server.
	sent bool
	// reached is true when any attempt may have been acted on: it may
	// have reached the server and was not turned away by the gateway in
	// front of the API (429 from the rate limiter, 401 from
	// authentication), which answers before the request is processed.
	reached  bool
	attempts int
}

// do sends cl, retrying per policy, and decodes a 2xx body into cl.out.
// Errors are *APIError for replies with an error status, *RequestError for
// everything else, or the context's error when ctx ended before anything
// was sent.
func (c *Client) do(ctx context.Context, cl *call) (result, error) {
	var res result
	lim, base := c.trading, c.base
	if cl.data {
		lim, base = c.market, c.data
	}
	var acctLim *hostLimiter
	route, path, query := cl.route, cl.path, cl.query
	if c.acct != nil && !cl.data && cl.url == "" {
		route, path, query = c.acct.target(cl.route, cl.path, cl.query)
		acctLim = c.acct.lim
	}
	u := base + path
	if cl.url != "" {
		lim, u = c.authx, cl.url
	}
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	var acctID string
	if c.acct != nil {
		acctID = c.acct.id
	}
	reauthed := false // a refused token has been replaced once
	maxRetries := c.opts.MaxRetries
	if cl.maxRetries != 0 {
		maxRetries = max(cl.maxRetries, 0)
	}
	var trace *sentTrace
	if !cl.idempotent {
		trace = new(sentTrace)
	}

	for attempt := 1; ; attempt++ {
		waited, err := c.waitTurn(ctx, acctLim, lim, cl.submit)
		if err != nil {
			if res.attempts == 0 {
				return res, err // nothing was sent
			}
			return res, &RequestError{Method: cl.method, Route: route, Attempts: res.attempts, Err: err}
		}
		var authz []string
		if !cl.noAuth {
			if authz, err = c.auth.authorization(ctx, c); err != nil {
				// Nothing of this attempt was sent; the token fetch has
				// had its own retries.
				if res.attempts == 0 && ctx.Err() != nil {
					return res, err
				}
				return res, &RequestError{Method: cl.method, Route: route, Attempts: res.attempts, Err: err}
			}
		}
		res.attempts = attempt
		start := time.Now()
		out := c.attempt(ctx, cl, u, authz, trace)
		dur := time.Since(start)
		res.status, res.header = out.status, out.header
		res.sent = res.sent || out.sent
		res.reached = res.reached || (out.sent && !turnedAway(out.status))
		if c.opts.Observer != nil {
			info := RequestInfo{Method: cl.method, Route: route, StatusCode: out.status, Attempt: attempt,
				Duration: dur, RateLimitWait: waited, Err: out.err, AccountID: acctID}
			if out.header != nil {
				info.RequestID = out.header.Get("X-Request-Id")
			}
			c.opts.Observer(info)
		}
		if out.err == nil {
			return res, nil
		}
		err = out.err
		if out.status == http.StatusUnauthorized && c.auth.tokens != nil && !reauthed && !cl.noAuth &&
			c.auth.tokens.invalidate(authz) {
			// The token was refused before the request was looked at
			// (revoked, or expired early): one more try with a fresh one
			// is safe for any request, orders included.
			reauthed = true
			continue
		}
		var apiErr *APIError
		isAPI := errors.As(err, &apiErr)
		if !isAPI {
			err = &RequestError{Method: cl.method, Route: route, Attempts: attempt, StatusCode: out.status, Err: err}
		}
		if attempt > maxRetries || out.final {
			return res, err
		}
		a := &Attempt{Method: cl.method, Route: route, Idempotent: cl.idempotent, Number: attempt,
			StatusCode: out.status, Header: out.header, Sent: out.sent, Now: time.Now()}
		if !isAPI {
			a.Err = out.err
		}
		retry, cerr := c.opts.CheckRetry(ctx, a)
		if cerr != nil || !retry {
			return res, err
		}
		wait := c.opts.Backoff(a, c.opts.RetryBaseDelay, c.opts.RetryMaxDelay, c.opts.MaxServerWait)
		if out.status == http.StatusTooManyRequests {
			lim.pause(a.Now.Add(wait))
		}
		if c.log != nil {
			c.log.LogAttrs(ctx, slog.LevelDebug, "alpaca: retrying request",
				slog.String("method", cl.method), slog.String("route", route),
				slog.Int("attempt", attempt), slog.Int("status", out.status),
				slog.Duration("wait", wait), slog.String("error", err.Error()))
		}
		if backoff.Sleep(ctx, wait) != nil {
			return res, err
		}
	}
}

// turnedAway reports whether a reply status proves that the request was
// not processed: Alpaca's gateway rate-limits and authenticates before
// the API sees a request.
func turnedAway(status int) bool {
	return status == http.StatusTooManyRequests || status == http.StatusUnauthorized
}

func (h *hostLimiter) pause(until time.Time) {
	n := until.UnixNano()
	for {
		cur := h.pausedUntil.Load()
		if cur >= n || h.pausedUntil.CompareAndSwap(cur, n) {
			return
		}
	}
}

// waitTurn waits out a server-imposed pause and the client-side limiters,
// returning the time spent: the account's own budget first (acct, nil for
// none), then the host's, so that an account waiting on its own budget
// holds none of the budget it shares with the others.
func (c *Client) waitTurn(ctx context.Context, acct, lim *hostLimiter, submit bool) (time.Duration, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	var waited time.Duration
	if acct != nil && acct.all != nil {
		start := time.Now()
		err := acct.all.Wait(ctx)
		waited = time.Since(start)
		if err != nil {
			return waited, err
		}
	}
	d, err := c.waitHost(ctx, lim, submit)
	return waited + d, err
}

// waitHost is waitTurn's part for one host's limiter.
func (c *Client) waitHost(ctx context.Context, lim *hostLimiter, submit bool) (time.Duration, error) {
	var start time.Time
	if p := lim.pausedUntil.Load(); p != 0 {
		start = time.Now()
		if d := time.Duration(p - start.UnixNano()); d > 0 {
			if err := backoff.Sleep(ctx, d); err != nil {
				return time.Since(start), err
			}
		}
	}
	if lim.all == nil {
		if start.IsZero() {
			return 0, nil
		}
		return time.Since(start), nil
	}
	if start.IsZero() {
		start = time.Now()
	}
	if submit && lim.submit != nil {
		if err := lim.submit.Wait(ctx); err != nil {
			return time.Since(start), err
		}
	}
	if err := lim.all.Wait(ctx); err != nil {
		return time.Since(start), err
	}
	return time.Since(start), nil
}

// sentTrace records whether a connection was obtained: until then the
// request cannot have reached the server, so even a POST may be retried.
type sentTrace struct {
	gotConn atomic.Bool
	trace   httptrace.ClientTrace
	once    sync.Once
}

func (s *sentTrace) clientTrace() *httptrace.ClientTrace {
	s.once.Do(func() {
		s.trace.GotConn = func(httptrace.GotConnInfo) { s.gotConn.Store(true) }
	})
	return &s.trace
}

// outcome is what one attempt produced.
type outcome struct {
	status int
	header http.Header
	// sent is false only when the request certainly did not leave.
	sent bool
	// final marks failures no retry can fix (undecodable or oversized
	// replies).
	final bool
	err   error
}

// attempt sends cl once and reads the whole reply within the per-attempt
// timeout.
func (c *Client) attempt(ctx context.Context, cl *call, u string, authz []string, trace *sentTrace) outcome {
	actx := ctx
	if c.opts.Timeout > 0 {
		var cancel context.CancelFunc
		actx, cancel = context.WithTimeout(ctx, c.opts.Timeout)
		defer cancel()
	}
	if trace != nil {
		trace.gotConn.Store(false)
		actx = httptrace.WithClientTrace(actx, trace.clientTrace())
	}
	req, err := http.NewRequestWithContext(actx, cl.method, u, nil)
	if err != nil {
		return outcome{err: err, final: true}
	}
	if cl.body != nil {
		req.Body = io.NopCloser(bytes.NewReader(cl.body))
		req.ContentLength = int64(len(cl.body))
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(cl.body)), nil }
		req.Header["Content-Type"] = jsonContentType
		if cl.form {
			req.Header["Content-Type"] = formContentType
		}
	}
	req.Header["Accept"] = jsonContentType
	if c.opts.UserAgent != "" {
		req.Header["User-Agent"] = []string{c.opts.UserAgent}
	}
	if authz != nil {
		req.Header["Authorization"] = authz
	} else if c.auth.keyID != nil && !cl.noAuth {
		req.Header[netx.KeyIDHeader] = c.auth.keyID
		req.Header[netx.SecretKeyHeader] = c.auth.secret
	}

	resp, err := c.hc.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // RequestError already names method and route
		}
		return outcome{sent: trace == nil || trace.gotConn.Load(), err: c.timeoutErr(ctx, actx, err)}
	}
	o := outcome{status: resp.StatusCode, header: resp.Header, sent: true}

	buf := getBuffer()
	defer putBuffer(buf)
	limit := int64(maxResponseBytes)
	if o.status >= 300 {
		limit = maxDrainBytes
	}
	n, rerr := buf.ReadFrom(io.LimitReader(resp.Body, limit+1))
	resp.Body.Close()
	switch {
	case rerr != nil:
		// The reply broke off; a retry of an idempotent request may heal it.
		o.err = fmt.Errorf("reading reply: %w", c.timeoutErr(ctx, actx, rerr))
	case o.status >= 300:
		o.err = c.newAPIError(o.status, o.header, buf.Bytes())
	case n > limit:
		o.err, o.final = ErrResponseTooLarge, true
	case cl.out != nil && o.status != http.StatusNoContent && n > 0:
		if err := decodeReply(buf.Bytes(), cl.out); err != nil {
			o.err, o.final = fmt.Errorf("decoding reply: %w", err), true
		}
	}
	return o
}

// timeoutErr says so when the per-attempt timeout, not the caller's
// context, ended the attempt.
func (c *Client) timeoutErr(ctx, actx context.Context, err error) error {
	if ctx.Err() == nil && actx.Err() != nil {
		return fmt.Errorf("attempt timed out after %s: %w", c.opts.Timeout, err)
	}
	return err
}

var (
	jsonContentType = []string{"application/json"}
	formContentType = []string{"application/x-www-form-urlencoded"}
)

var restBufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func getBuffer() *bytes.Buffer { return restBufPool.Get().(*bytes.Buffer) }

func putBuffer(b *bytes.Buffer) {
	if b == nil || b.Cap() > maxPooledBuffer {
		return
	}
	b.Reset()
	restBufPool.Put(b)
}

// encodeBody marshals v in a pooled scratch buffer and returns an
// exact-size copy. The copy, not the pooled buffer, goes to the transport:
// a RoundTripper may read the body after RoundTrip returns, and a body
// net/http recognises as in-memory (a *bytes.Reader) lets it write headers
// and body in one go; a close-tracking wrapper that would make pooling the
// body itself safe costs a separate header write, about 7µs per request on
// loopback, far more than the one allocation saved.
func encodeBody(v any) ([]byte, error) {
	buf := getBuffer()
	defer putBuffer(buf)
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("alpaca: encoding request: %w", err)
	}
	b := buf.Bytes()
	return bytes.Clone(b[:len(b)-1]), nil // drop Encode's newline
}
