package stream

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/quantum-alpaca/quantum/alpaca"
	"github.com/quantum-alpaca/quantum/alpaca/internal/netx"
)

// sseMaxLine bounds one SSE line. A trade update with bracket legs is a few
// KiB; anything near this is a broken server, not a big order.
const sseMaxLine = 4 << 20

// TradeEvents receives the account's trade updates (order events and
// fills) from GET <base>/v2/events/trades, Alpaca's server-sent-events
// feed. It is the preferred trade-update transport because the server can
// replay: after a dropped connection the stream resumes with since_id set
// to the last event id it delivered and drops anything at or before that
// id, so a reconnect loses nothing and repeats nothing.
//
// Delivery is through the channel returned by Updates, which Run closes
// when it returns. A channel, rather than a handler func, lets the owning
// tenant goroutine select on updates alongside its other inputs, and makes
// the buffer and its policy visible: when the channel is full the reader
// stops reading (the server sees TCP backpressure) instead of dropping,
// because a trade update can be a fill and a lost fill is a wrong position.
// OnBufferFull and Stats().BufferFull report each time that happens. This
// is the opposite of MarketData, which drops.
//
// Create it with NewTradeEvents and call Run exactly once.
type TradeEvents struct {
	endpoint *url.URL
	opts     Options
	log      *slog.Logger
	client   *http.Client // nil: the stream dials its own connections
	out      chan alpaca.TradeUpdate
	resync   chan struct{}
	running  atomic.Bool
	stats    counters
	fullLog  logLimiter

	last resumePoint
	// reauthed is set when a 401 made the Authorizer replace its token,
	// and cleared by a successful connection; only Run's goroutine uses it.
	reauthed bool
}

// scrubCredentials keeps a server that echoes the request's credentials
// in an error body from putting them in an error.
func scrubCredentials(body string, req *http.Request, secret alpaca.Secret) string {
	if _, cred, ok := strings.Cut(req.Header.Get("Authorization"), " "); ok && cred != "" {
		body = strings.ReplaceAll(body, cred, "[REDACTED]")
	}
	if _, pass, ok := req.BasicAuth(); ok && pass != "" {
		body = strings.ReplaceAll(body, pass, "[REDACTED]")
	}
	if secret != "" {
		body = strings.ReplaceAll(body, string(secret), "[REDACTED]")
	}
	return body
}

// NewTradeEvents returns a stream for <baseURL>/v2/events/trades,
// where baseURL is the trading API host (https://paper-api.alpaca.markets
// or a simulator's http://host:port). Credentials are required; see
// Options for the rest.
func NewTradeEvents(baseURL string, opts ...Option) (*TradeEvents, error) {
	o, err := buildOptions(opts)
	if err != nil {
		return nil, err
	}
	switch {
	case !o.Since.IsZero() && o.SinceID != "":
		return nil, errors.New("alpaca: since and since_id are exclusive")
	case !o.Until.IsZero() && o.Since.IsZero():
		return nil, errors.New("alpaca: until needs since")
	case o.UntilID != "" && o.SinceID == "":
		return nil, errors.New("alpaca: until_id needs since_id")
	}
	u, err := parseBase(baseURL, false)
	if err != nil {
		return nil, err
	}
	u = u.JoinPath("v2", "events", "trades")
	buf := o.BufferSize
	if o.OnTradeUpdate != nil {
		buf = 0 // the handler receives the updates; the channel only closes
	}
	return &TradeEvents{
		endpoint: u,
		opts:     o,
		log:      newLogger(&o, "trade_events").With("url", u.String()),
		client:   o.HTTPClient,
		out:      make(chan alpaca.TradeUpdate, buf),
		resync:   make(chan struct{}, 1),
		fullLog:  logLimiter{interval: time.Second},
		last:     resumePoint{m: resumeMark{id: o.SinceID}},
	}, nil
}

// Updates returns the channel of trade updates, in event order, without
// duplicates. It is closed when Run returns.
//
// To resume after a restart, persist alpaca.TradeUpdate.EventID of each update
// once it is processed, and pass the last one to WithResumeAfter. Do not
// persist LastEventID: it runs ahead of what has been processed by up to
// the buffer size.
func (s *TradeEvents) Updates() <-chan alpaca.TradeUpdate { return s.out }

// ResyncNeeded signals that events may have been missed and the caller
// should reconcile by REST (list open and recent orders). For SSE that
// happens only when a connection starts without a resume point: when the
// stream was created without WithResumeAfter/WithTimeRange and no event
// has arrived yet, the server sends live events only. The channel has
// capacity one, so signals that arrive before the caller looks coalesce.
func (s *TradeEvents) ResyncNeeded() <-chan struct{} { return s.resync }

// LastEventID returns the id of the last update put on the Updates
// channel (or the WithResumeAfter id before any arrive).
func (s *TradeEvents) LastEventID() string {
	id, _ := s.last.get()
	return id
}

// Stats returns the stream's counters.
func (s *TradeEvents) Stats() Stats { return s.stats.snapshot() }

// Run connects and keeps the stream connected until ctx is done, then
// returns ctx.Err(). It returns earlier with an error that reconnecting
// cannot fix (rejected credentials, bad parameters: anything wrapping
// ErrUnauthorized or a non-retryable HTTP status) and with nil when
// a stream bounded by WithTimeRange's until or an UntilID reaches its
// end. All goroutines Run starts have exited when it returns, and the
// Updates channel is closed.
func (s *TradeEvents) Run(ctx context.Context) error {
	if !s.running.CompareAndSwap(false, true) {
		return ErrRunCalledTwice
	}
	defer close(s.out)
	return runLoop(ctx, &s.opts, s.log, &s.stats, s.connect)
}

func (s *TradeEvents) bounded() bool {
	return !s.opts.Until.IsZero() || s.opts.UntilID != ""
}

// query builds the request parameters. After the first event it resumes
// from the last one: by since_id normally, by since when the caller
// bounded the stream by time (the API wants until paired with since); the
// id filter in deliver removes the overlap that since allows.
func (s *TradeEvents) query() (q url.Values, resumed bool) {
	q = url.Values{}
	lastID, lastAt := s.last.get()
	o := &s.opts
	switch {
	case !o.Until.IsZero():
		since := o.Since
		if !lastAt.IsZero() && lastAt.After(since) {
			since = lastAt
		}
		q.Set("since", since.Format(time.RFC3339Nano))
		q.Set("until", o.Until.Format(time.RFC3339Nano))
	case lastID != "":
		q.Set("since_id", lastID)
		if o.UntilID != "" {
			q.Set("until_id", o.UntilID)
		}
	case !o.Since.IsZero():
		q.Set("since", o.Since.Format(time.RFC3339Nano))
	default:
		return q, false
	}
	return q, true
}

func (s *TradeEvents) connect(ctx context.Context) (connected bool, err error) {
	q, resumed := s.query()
	u := *s.endpoint
	u.RawQuery = q.Encode()

	connCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	// The watchdog starts before the request so that a server that
	// accepts the connection but never answers is caught as well; the
	// handshake timeout would also catch it, but this keeps one notion of
	// "silent".
	live := newLiveness()
	live.touch()
	defer live.arm(s.opts.LivenessTimeout, func() { cancel(ErrStalled) })()

	req, err := http.NewRequestWithContext(connCtx, http.MethodGet, u.String(), nil)
	if err != nil {
		return false, fatal(err)
	}
	if a := s.opts.Authorizer; a != nil {
		actx, acancel := context.WithTimeout(connCtx, s.opts.HandshakeTimeout)
		err := a.Authorize(actx, req)
		acancel()
		if err != nil {
			if ctx.Err() != nil {
				return false, ctx.Err()
			}
			if errors.Is(err, alpaca.ErrUnauthorized) || errors.Is(err, alpaca.ErrForbidden) {
				return false, fatal(fmt.Errorf("authorizing stream: %w: %w", ErrUnauthorized, err))
			}
			// A token endpoint that fails otherwise may recover; the
			// reconnect loop's backoff paces the tries.
			return false, fmt.Errorf("authorizing stream: %w", err)
		}
	} else {
		req.Header.Set(netx.KeyIDHeader, s.opts.KeyID)
		req.Header.Set(netx.SecretKeyHeader, string(s.opts.SecretKey))
	}
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Cache-Control", "no-cache")

	s.log.Debug("connecting", "query", u.RawQuery)
	var resp *http.Response
	if s.client == nil {
		resp, err = openDirect(connCtx, req, s.opts.TLSConfig)
	} else {
		resp, err = s.client.Do(req)
	}
	if err != nil {
		if cause := context.Cause(connCtx); cause != nil && ctx.Err() == nil {
			return false, cause
		}
		return false, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		herr := &httpError{
			op:     "GET /v2/events/trades",
			status: resp.StatusCode,
			body:   scrubCredentials(string(bytes.TrimSpace(body)), req, s.opts.SecretKey),
		}
		if resp.StatusCode == http.StatusUnauthorized && s.opts.Authorizer != nil && !s.reauthed &&
			s.opts.Authorizer.Unauthorized(req) {
			// A refused token is replaced on the next attempt; refused
			// twice running, the credentials themselves are wrong.
			s.reauthed = true
			return false, herr
		}
		return false, classifyStatus(herr)
	}
	live.touch()
	s.reauthed = false
	s.stats.connects.Add(1)
	s.log.Info("connected", "resumed", resumed, "query", u.RawQuery)
	if s.opts.OnConnect != nil {
		s.opts.OnConnect()
	}
	if !resumed {
		if s.opts.OnResync != nil {
			if err := s.opts.OnResync(connCtx); err != nil {
				return true, fatal(err)
			}
		} else {
			signal(s.resync)
		}
	}

	err = s.read(connCtx, resp.Body, live)
	if cause := context.Cause(connCtx); cause != nil && ctx.Err() == nil {
		// Reading failed because the watchdog cut the connection; report
		// why, not the "context canceled" it surfaced as.
		err = cause
	}
	return true, err
}

// read parses the event stream. Per the SSE format an event is a run of
// lines ended by a blank line; only data lines matter here, and comment
// lines (":heartbeat") only prove the connection is alive.
func (s *TradeEvents) read(ctx context.Context, body io.Reader, live *liveness) error {
	sc := bufio.NewScanner(body)
	// Start small: an idle tenant's stream should not pin 64 KiB; the
	// scanner grows the buffer up to sseMaxLine when a line needs it.
	sc.Buffer(make([]byte, 0, sseConnBuffer), sseMaxLine)
	var data []byte
	for sc.Scan() {
		live.touch()
		line := sc.Bytes()
		if len(line) == 0 {
			if len(data) > 0 {
				if err := s.dispatch(ctx, data, live); err != nil {
					return err
				}
				data = data[:0]
			}
			continue
		}
		if line[0] == ':' {
			continue
		}
		field, value, _ := bytes.Cut(line, []byte(":"))
		if string(field) != "data" {
			continue // event, id and retry carry nothing we use
		}
		value = bytes.TrimPrefix(value, []byte(" "))
		if len(data) > 0 {
			data = append(data, '\n')
		}
		data = append(data, value...)
	}
	if err := sc.Err(); err != nil {
		return err
	}
	if s.bounded() {
		return errEnded
	}
	return io.ErrUnexpectedEOF
}

func (s *TradeEvents) dispatch(ctx context.Context, data []byte, live *liveness) error {
	var tu alpaca.TradeUpdate
	if err := json.Unmarshal(data, &tu); err != nil {
		s.stats.malformed.Add(1)
		s.log.Warn("skipping undecodable trade event", "err", err, "bytes", len(data))
		return nil
	}
	if s.last.seen(tu.EventID) {
		s.stats.duplicates.Add(1)
		return nil
	}
	prev := s.last.advance(tu)
	var err error
	if s.opts.OnTradeUpdate != nil {
		live.pause() // the handler may wait on its consumer: not silence
		err = s.opts.OnTradeUpdate(ctx, tu)
		live.resume()
		if err != nil {
			err = fatal(err)
		} else {
			s.stats.received.Add(1)
		}
	} else {
		err = deliverTradeUpdate(ctx, s.out, tu, live, &s.stats, s.opts.OnBufferFull, &s.fullLog, s.log)
	}
	if err != nil {
		s.last.restore(prev) // the stream is ending
	}
	return err
}
