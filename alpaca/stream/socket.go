package stream

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/quantum-alpaca/quantum/alpaca"
)

// TradeSocket receives trade updates over the trading websocket,
// <base>/stream, the older transport that Alpaca's paper and live hosts
// still serve. Unlike TradeEvents it cannot resume: the server does
// not replay what was sent while the client was away. So every time the
// socket is listening again (the first time included, since events can
// fall between the caller's own startup reconciliation and the listen
// ack) it signals ResyncNeeded, and the caller must reconcile by REST
// (list open and recently closed orders, compare filled_qty). Events that
// carry an event_id are still deduplicated by it.
//
// Updates has the same never-drop, block-the-reader policy as
// TradeEvents, reported through OnBufferFull and Stats.
//
// Create it with NewTradeSocket and call Run exactly once.
type TradeSocket struct {
	endpoint string
	opts     Options
	log      *slog.Logger
	client   *http.Client
	ownedHC  bool
	out      chan alpaca.TradeUpdate
	resync   chan struct{}
	running  atomic.Bool
	stats    counters
	fullLog  logLimiter

	last resumePoint
}

// NewTradeSocket returns a socket for <baseURL>/stream, where
// baseURL is the trading API host; http maps to ws and https to wss.
// Credentials are required; see Options for the rest (the SSE-only
// fields are ignored).
func NewTradeSocket(baseURL string, opts ...Option) (*TradeSocket, error) {
	o, err := buildOptions(opts)
	if err == nil {
		err = needKeys(&o)
	}
	if err != nil {
		return nil, err
	}
	if o.OnTradeUpdate != nil {
		return nil, errors.New("alpaca: trade update handlers are for the SSE stream; the socket delivers on Updates")
	}
	u, err := parseBase(baseURL, true)
	if err != nil {
		return nil, err
	}
	u = u.JoinPath("stream")
	hc, owned := httpClient(&o)
	return &TradeSocket{
		endpoint: u.String(),
		opts:     o,
		log:      newLogger(&o, "trade_updates").With("url", u.String()),
		client:   hc,
		ownedHC:  owned,
		out:      make(chan alpaca.TradeUpdate, o.BufferSize),
		resync:   make(chan struct{}, 1),
		fullLog:  logLimiter{interval: time.Second},
	}, nil
}

// Updates returns the channel of trade updates. It is closed when Run
// returns.
func (s *TradeSocket) Updates() <-chan alpaca.TradeUpdate { return s.out }

// ResyncNeeded signals, after every successful listen, that events may
// have been missed and the caller should reconcile by REST. It has
// capacity one: several reconnects before the caller looks coalesce into
// one signal, which is all a sweep needs.
func (s *TradeSocket) ResyncNeeded() <-chan struct{} { return s.resync }

// LastEventID returns the event_id of the last update delivered, if the
// server sends ids on this transport.
func (s *TradeSocket) LastEventID() string {
	id, _ := s.last.get()
	return id
}

// Stats returns the socket's counters.
func (s *TradeSocket) Stats() Stats { return s.stats.snapshot() }

// Run connects, authenticates, listens to trade_updates and keeps doing so
// until ctx is done, then returns ctx.Err(). It returns earlier with an
// error wrapping ErrUnauthorized when the credentials are refused,
// and with a non-retryable error when the server will not stream
// trade_updates. All goroutines Run starts have exited when it returns,
// and the Updates channel is closed.
func (s *TradeSocket) Run(ctx context.Context) error {
	if !s.running.CompareAndSwap(false, true) {
		return ErrRunCalledTwice
	}
	defer close(s.out)
	if s.ownedHC {
		defer s.client.CloseIdleConnections()
	}
	return runLoop(ctx, &s.opts, s.log, &s.stats, s.connect)
}

// wsTradeFrame is the envelope of every trade-socket message.
type wsTradeFrame struct {
	Stream string          `json:"stream"`
	Data   json.RawMessage `json:"data"`
}

type wsTradeControl struct {
	Status  string   `json:"status"`
	Action  string   `json:"action"`
	Message string   `json:"message"`
	Error   string   `json:"error"`
	Streams []string `json:"streams"`
}

func (s *TradeSocket) connect(ctx context.Context) (connected bool, err error) {
	conn, err := wsDial(ctx, s.client, s.endpoint, &s.opts, "trade_updates")
	if err != nil {
		return false, err
	}
	defer conn.CloseNow()

	if err := s.handshake(ctx, conn); err != nil {
		return false, err
	}
	s.stats.connects.Add(1)
	s.log.Info("connected")
	if s.opts.OnConnect != nil {
		s.opts.OnConnect()
	}
	signal(s.resync)

	connCtx, cancel := context.WithCancelCause(ctx)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel(nil)
	live := newLiveness()
	wg.Add(1)
	go func() {
		defer wg.Done()
		wsKeepAlive(connCtx, conn, &s.opts, live, nil, nil, cancel)
	}()

	for {
		_, msg, err := conn.Read(connCtx)
		if err != nil {
			if cause := context.Cause(connCtx); cause != nil && ctx.Err() == nil {
				return true, cause
			}
			return true, err
		}
		f, err := decodeTradeFrame(msg)
		if err != nil {
			s.stats.malformed.Add(1)
			s.log.Warn("skipping undecodable frame", "err", err, "bytes", len(msg))
			continue
		}
		if f.Stream != "trade_updates" {
			s.log.Debug("ignoring frame", "stream", f.Stream)
			continue
		}
		var tu alpaca.TradeUpdate
		if err := json.Unmarshal(f.Data, &tu); err != nil {
			s.stats.malformed.Add(1)
			s.log.Warn("skipping undecodable trade update", "err", err)
			continue
		}
		if s.last.seen(tu.EventID) {
			s.stats.duplicates.Add(1)
			continue
		}
		prev := s.last.advance(tu)
		if err := deliverTradeUpdate(connCtx, s.out, tu, live, &s.stats, s.opts.OnBufferFull, &s.fullLog, s.log); err != nil {
			s.last.restore(prev)
			return true, err
		}
	}
}

// handshake authenticates and subscribes. It runs before the keepalive
// goroutine starts, so it is the connection's only writer at that point.
func (s *TradeSocket) handshake(ctx context.Context, conn *websocket.Conn) error {
	auth := map[string]any{
		"action": "authenticate",
		"data":   map[string]string{"key_id": s.opts.KeyID, "secret_key": string(s.opts.SecretKey)},
	}
	reply, err := s.exchange(ctx, conn, auth, "authorization")
	if err != nil {
		return fmt.Errorf("authenticate: %w", err)
	}
	if reply.Status != "authorized" {
		why := reply.Message
		if why == "" {
			why = reply.Error
		}
		if why == "" {
			why = "status " + reply.Status
		}
		// Name the key so the operator knows which tenant's credentials
		// are wrong, but never the secret.
		return fatal(fmt.Errorf("%w: trade_updates websocket refused key %s: %s",
			ErrUnauthorized, maskKey(s.opts.KeyID), why))
	}
	listen := map[string]any{
		"action": "listen",
		"data":   map[string][]string{"streams": {"trade_updates"}},
	}
	reply, err = s.exchange(ctx, conn, listen, "listening")
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	if !slices.Contains(reply.Streams, "trade_updates") {
		return fatal(fmt.Errorf("alpaca: server does not stream trade_updates (listening to %q)", reply.Streams))
	}
	return nil
}

// exchange sends one request and waits, within the handshake timeout, for
// the reply on the named stream. A listen rejected because the auth did
// not stick comes back on "authorization", so that stream always answers.
func (s *TradeSocket) exchange(ctx context.Context, conn *websocket.Conn, req any, want string) (wsTradeControl, error) {
	hctx, cancel := context.WithTimeout(ctx, s.opts.HandshakeTimeout)
	defer cancel()
	// Requests stay JSON even when replies are MessagePack: JSON is the
	// documented request form on this socket, and servers that speak
	// MessagePack accept it.
	if err := wsWrite(hctx, conn, false, req); err != nil {
		return wsTradeControl{}, err
	}
	for {
		_, msg, err := conn.Read(hctx)
		if err != nil {
			return wsTradeControl{}, err
		}
		f, err := decodeTradeFrame(msg)
		if err != nil {
			return wsTradeControl{}, err
		}
		if f.Stream != want && f.Stream != "authorization" {
			continue
		}
		var c wsTradeControl
		if err := json.Unmarshal(f.Data, &c); err != nil {
			return c, fmt.Errorf("decode %s reply: %w", f.Stream, err)
		}
		if f.Stream == "authorization" && want != "authorization" && c.Status != "authorized" {
			return c, fatal(fmt.Errorf("%w: %s refused: %s", ErrUnauthorized, want, c.Status))
		}
		if f.Stream == want {
			return c, nil
		}
	}
}

// decodeTradeFrame accepts JSON in text or binary frames (the paper server
// sends binary) and MessagePack. MessagePack is converted to JSON so there
// is one decoding path for alpaca.TradeUpdate and its decimal fields; trade
// updates are a few per second, so the detour costs nothing that matters.
func decodeTradeFrame(msg []byte) (wsTradeFrame, error) {
	var f wsTradeFrame
	b := bytes.TrimLeft(msg, " \t\r\n")
	if len(b) == 0 {
		return f, errors.New("empty frame")
	}
	if b[0] != '{' {
		var v map[string]any
		if err := msgpack.Unmarshal(b, &v); err != nil {
			return f, fmt.Errorf("decode msgpack frame: %w", err)
		}
		j, err := json.Marshal(v)
		if err != nil {
			return f, fmt.Errorf("convert msgpack frame: %w", err)
		}
		b = j
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return f, fmt.Errorf("decode frame: %w", err)
	}
	return f, nil
}
