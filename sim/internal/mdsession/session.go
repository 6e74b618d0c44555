// Package mdsession is the session of the paper broker's market-data
// websockets (stocks and news in sim/market, crypto in sim): Alpaca's
// stream protocol of connected, auth (in-band, or by credentials the
// upgrade carried), subscribe and unsubscribe answered by the stream's
// echo, and errors by code, over one reader and one writer per
// connection. What differs between the streams, and shows on the wire,
// is a Config: the frames of success and error messages (their key
// order), the subscription echo, whether failed logins close the
// connection, the timeouts and the reasons of the closes.
package mdsession

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/vmihailenco/msgpack/v5"
)

// Error codes of the stream protocol, as Alpaca sends them.
const (
	CodeInvalidSyntax = 400
	CodeNotAuthed     = 401
	CodeAuthFailed    = 402
	CodeAlreadyAuthed = 403
	CodeAuthTimeout   = 404
	CodeSlowClient    = 407
)

// Request is what every client message carries: its action and, for
// auth, the credentials. A stream's client message type embeds it and
// adds its channels.
type Request struct {
	Action string `json:"action" msgpack:"action"`
	Key    string `json:"key" msgpack:"key"`
	Secret string `json:"secret" msgpack:"secret"`
}

func (r *Request) request() *Request { return r }

// Message is a stream's client message: a struct that embeds Request.
type Message interface{ request() *Request }

// DecodeMessage decodes a message a stream client sent into msg: JSON
// when it starts with '{' (after white space), msgpack otherwise,
// whatever codec the connection negotiated, since the official SDK sends
// msgpack and most hand-written clients JSON.
func DecodeMessage(data []byte, msg any) error {
	if t := bytes.TrimLeft(data, " \t\r\n"); len(t) > 0 && t[0] == '{' {
		return json.Unmarshal(t, msg)
	}
	return msgpack.Unmarshal(data, msg)
}

// Encode encodes a stream message with encoding/json, or msgpack when
// binary.
func Encode(binary bool, v any) []byte {
	if binary {
		b, _ := msgpack.Marshal(v)
		return b
	}
	b, _ := json.Marshal(v)
	return b
}

// Config is what one stream's sessions do their own way.
type Config struct {
	// Binary sends binary frames (msgpack); text frames (JSON) otherwise.
	Binary bool
	// Buffer bounds the outbound queue: a client that falls this far
	// behind gets error 407 and is dropped. Reserve of it is kept for
	// control frames (Send): data (Offer, OfferLazy) that would eat into
	// it marks the client slow instead.
	Buffer, Reserve int
	// AuthTimeout is how long a connection may stay unauthenticated
	// before error 404 drops it.
	AuthTimeout time.Duration
	// WriteTimeout bounds each write; FinalTimeout the last error sent
	// to a client being dropped (slow, auth timeout).
	WriteTimeout, FinalTimeout time.Duration
	// WriteContext is what the write deadlines derive from; nil is
	// context.Background().
	WriteContext context.Context
	// MaxAuthFailures is the number of failed logins after which the
	// connection closes with 1008 "auth failed"; 0 never closes.
	MaxAuthFailures int
	// ShutdownReason is the reason of the 1001 close sent when the
	// context of Run ends.
	ShutdownReason string
	// ReadUntilShutdown ends the reads with the context of Run too, and
	// the end of reading closes the connection as a shutdown does. When
	// false, reads last until the client goes, whose going drops the
	// connection.
	ReadUntilShutdown bool
	// Logger reports failed logins and dropped clients; nil logs
	// nothing.
	Logger *slog.Logger

	// Auth checks credentials.
	Auth func(key, secret string) bool
	// Success and Error encode a control frame.
	Success func(msg string) []byte
	Error   func(code int, msg string) []byte
	// NewMessage returns a new client message to decode into.
	NewMessage func() Message
	// Subscribe applies an authenticated client's subscribe (or
	// unsubscribe) request and queues the echo.
	Subscribe func(subscribe bool, msg Message)
	// Frame appends to dst the frame of a value queued by OfferLazy, at
	// the time the writer sends it; an empty result sends nothing.
	Frame func(dst []byte, v any) []byte
}

// Session is one client of a stream. Its reader (Run's goroutine)
// handles requests; one writer goroutine owns every write, fed by a
// bounded queue that everyone else only offers to without blocking.
type Session struct {
	cfg      Config
	ws       *websocket.Conn
	out      chan outMsg
	slow     chan struct{}
	slowOnce sync.Once
	authed   atomic.Bool
	fails    int // reader-owned
}

// outMsg is a frame, or a value to frame when it is sent.
type outMsg struct {
	frame []byte
	lazy  any
	close bool // close the connection after sending frame
}

// New returns the session of ws, with "connected" queued.
func New(ws *websocket.Conn, cfg Config) *Session {
	if cfg.WriteContext == nil {
		cfg.WriteContext = context.Background()
	}
	s := &Session{cfg: cfg, ws: ws, out: make(chan outMsg, cfg.Buffer), slow: make(chan struct{})}
	s.Send(cfg.Success("connected"))
	return s
}

// Authed reports whether the client has logged in.
func (s *Session) Authed() bool { return s.authed.Load() }

// Send queues a control frame; a full queue marks the client slow.
func (s *Session) Send(frame []byte) { s.enqueue(outMsg{frame: frame}) }

// Offer queues a data frame, keeping the control reserve.
func (s *Session) Offer(frame []byte) { s.offer(outMsg{frame: frame}) }

// OfferLazy queues v for Config.Frame to frame when it is sent, keeping
// the control reserve.
func (s *Session) OfferLazy(v any) { s.offer(outMsg{lazy: v}) }

func (s *Session) offer(msg outMsg) {
	if s.cfg.Reserve > 0 && len(s.out) >= cap(s.out)-s.cfg.Reserve {
		s.markSlow()
		return
	}
	s.enqueue(msg)
}

func (s *Session) enqueue(msg outMsg) {
	select {
	case s.out <- msg:
	default:
		s.markSlow()
	}
}

func (s *Session) markSlow() { s.slowOnce.Do(func() { close(s.slow) }) }

// Authenticate answers a login: before Run with the credentials of the
// upgrade, then from the reader.
func (s *Session) Authenticate(key, secret string) {
	if s.cfg.Auth(key, secret) {
		s.authed.Store(true)
		s.Send(s.cfg.Success("authenticated"))
		return
	}
	s.fails++
	if s.cfg.Logger != nil {
		s.cfg.Logger.Info("market stream auth failed", "key_id", key)
	}
	last := s.cfg.MaxAuthFailures > 0 && s.fails >= s.cfg.MaxAuthFailures
	s.enqueue(outMsg{frame: s.cfg.Error(CodeAuthFailed, "auth failed"), close: last})
}

// Run serves the client until it goes or ctx ends (a shutdown: 1001
// with Config.ShutdownReason).
func (s *Session) Run(ctx context.Context) {
	readCtx := context.Background()
	done := make(chan struct{})
	stop := func() { close(done) } // reading ended: drop the connection
	if s.cfg.ReadUntilShutdown {
		var cancel context.CancelFunc
		ctx, cancel = context.WithCancel(ctx)
		defer cancel()
		readCtx, stop = ctx, cancel // reading ended: close as a shutdown
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.writeLoop(ctx, done)
	}()
	s.readLoop(readCtx)
	stop()
	wg.Wait()
}

func (s *Session) readLoop(ctx context.Context) {
	for {
		_, data, err := s.ws.Read(ctx)
		if err != nil {
			return
		}
		msg := s.cfg.NewMessage()
		if DecodeMessage(data, msg) != nil {
			s.Send(s.cfg.Error(CodeInvalidSyntax, "invalid syntax"))
			continue
		}
		req := msg.request()
		switch req.Action {
		case "auth":
			if s.authed.Load() {
				s.Send(s.cfg.Error(CodeAlreadyAuthed, "already authenticated"))
				continue
			}
			s.Authenticate(req.Key, req.Secret)
		case "subscribe", "unsubscribe":
			if !s.authed.Load() {
				s.Send(s.cfg.Error(CodeNotAuthed, "not authenticated"))
				continue
			}
			s.cfg.Subscribe(req.Action == "subscribe", msg)
		default:
			s.Send(s.cfg.Error(CodeInvalidSyntax, "invalid syntax"))
		}
	}
}

func (s *Session) writeLoop(ctx context.Context, done <-chan struct{}) {
	auth := time.NewTimer(s.cfg.AuthTimeout)
	defer auth.Stop()
	var frame []byte
	for {
		// A slow client goes before anything else queued for it.
		select {
		case <-s.slow:
			s.final(CodeSlowClient, "slow client")
			return
		default:
		}
		select {
		case <-ctx.Done():
			_ = s.ws.Close(websocket.StatusGoingAway, s.cfg.ShutdownReason)
			return
		case <-done:
			_ = s.ws.CloseNow()
			return
		case <-s.slow:
			s.final(CodeSlowClient, "slow client")
			return
		case <-auth.C:
			if !s.authed.Load() {
				s.final(CodeAuthTimeout, "auth timeout")
				return
			}
		case msg := <-s.out:
			data := msg.frame
			if msg.lazy != nil {
				frame = s.cfg.Frame(frame[:0], msg.lazy)
				if len(frame) == 0 {
					continue
				}
				data = frame
			}
			if s.write(data, s.cfg.WriteTimeout) != nil {
				_ = s.ws.CloseNow()
				return
			}
			if msg.close {
				_ = s.ws.Close(websocket.StatusPolicyViolation, "auth failed")
				return
			}
		}
	}
}

// final sends a last error and drops the connection without waiting for
// the close handshake, which a stalled client would never answer.
func (s *Session) final(code int, msg string) {
	if s.cfg.Logger != nil {
		s.cfg.Logger.Info("market stream closed", "code", code, "reason", msg)
	}
	_ = s.write(s.cfg.Error(code, msg), s.cfg.FinalTimeout)
	_ = s.ws.CloseNow()
}

func (s *Session) write(data []byte, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(s.cfg.WriteContext, timeout)
	defer cancel()
	typ := websocket.MessageText
	if s.cfg.Binary {
		typ = websocket.MessageBinary
	}
	return s.ws.Write(ctx, typ, data)
}
