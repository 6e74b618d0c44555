package market

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/vmihailenco/msgpack/v5"
)

// Stream error codes and messages, as Alpaca sends them.
const (
	codeInvalidSyntax   = 400
	codeNotAuthed       = 401
	codeAuthFailed      = 402
	codeAlreadyAuthed   = 403
	codeAuthTimeout     = 404
	codeSlowClient      = 407
	maxAuthFailures     = 3
	streamWriteTimeout  = 10 * time.Second
	streamFinalTimeout  = time.Second
	streamReadLimit     = 1 << 20
	streamControlBuffer = 16
)

// Subscription channels, in the order the subscription echo lists them.
const (
	chTrades = iota
	chQuotes
	chBars
	chUpdatedBars
	chDailyBars
	chStatuses
	chLULDs
	chImbalances
	numChannels
)

var channelNames = [numChannels]string{"trades", "quotes", "bars", "updatedBars", "dailyBars", "statuses", "lulds", "imbalances"}

// chanSet is the symbols of one channel: "*" or an explicit list.
type chanSet struct {
	all  bool
	syms []string
}

func (c *chanSet) any() bool { return c.all || len(c.syms) > 0 }

func (c *chanSet) has(sym string) bool { return c.all || slices.Contains(c.syms, sym) }

// list renders the set for the echo; never nil, so JSON shows [].
func (c *chanSet) list() []string {
	out := make([]string, 0, len(c.syms)+1)
	if c.all {
		out = append(out, "*")
	}
	return append(out, c.syms...)
}

// subscriptions is a connection's immutable subscription state; a change
// publishes a new value, so the writer reads it without locks.
type subscriptions struct {
	ch [numChannels]chanSet
}

func (s *subscriptions) empty() bool {
	for i := range s.ch {
		if s.ch[i].any() {
			return false
		}
	}
	return true
}

func (s *subscriptions) apply(subscribe bool, req *clientMsg) *subscriptions {
	n := &subscriptions{}
	for c := range numChannels {
		cur := s.ch[c]
		cur.syms = slices.Clone(cur.syms)
		for _, sym := range req.channel(c) {
			switch {
			case sym == "*":
				cur.all = subscribe
			case subscribe:
				if !slices.Contains(cur.syms, sym) {
					cur.syms = append(cur.syms, sym)
				}
			default:
				cur.syms = slices.DeleteFunc(cur.syms, func(x string) bool { return x == sym })
			}
		}
		n.ch[c] = cur
	}
	return n
}

// clientMsg is any message a stream client sends.
type clientMsg struct {
	Action      string   `json:"action" msgpack:"action"`
	Key         string   `json:"key" msgpack:"key"`
	Secret      string   `json:"secret" msgpack:"secret"`
	Trades      []string `json:"trades" msgpack:"trades"`
	Quotes      []string `json:"quotes" msgpack:"quotes"`
	Bars        []string `json:"bars" msgpack:"bars"`
	UpdatedBars []string `json:"updatedBars" msgpack:"updatedBars"`
	DailyBars   []string `json:"dailyBars" msgpack:"dailyBars"`
	Statuses    []string `json:"statuses" msgpack:"statuses"`
	LULDs       []string `json:"lulds" msgpack:"lulds"`
	Imbalances  []string `json:"imbalances" msgpack:"imbalances"`
}

func (m *clientMsg) channel(c int) []string {
	switch c {
	case chTrades:
		return m.Trades
	case chQuotes:
		return m.Quotes
	case chBars:
		return m.Bars
	case chUpdatedBars:
		return m.UpdatedBars
	case chDailyBars:
		return m.DailyBars
	case chStatuses:
		return m.Statuses
	case chLULDs:
		return m.LULDs
	default:
		return m.Imbalances
	}
}

// decodeClientMsg accepts JSON or msgpack regardless of the negotiated
// codec: the official SDK sends msgpack, most hand-written clients JSON.
func decodeClientMsg(data []byte) (*clientMsg, bool) {
	var msg clientMsg
	if DecodeClientMessage(data, &msg) != nil {
		return nil, false
	}
	return &msg, true
}

// DecodeClientMessage decodes a message a market-data stream client sent
// into msg: JSON when it starts with '{' (after white space), msgpack
// otherwise, whatever codec the connection negotiated, since the official
// SDK sends msgpack and most hand-written clients JSON. Every
// market-data websocket of the broker reads its clients with it.
func DecodeClientMessage(data []byte, msg any) error {
	if t := bytes.TrimLeft(data, " \t\r\n"); len(t) > 0 && t[0] == '{' {
		return json.Unmarshal(t, msg)
	}
	return msgpack.Unmarshal(data, msg)
}

// streamConn is one websocket client. The handler goroutine reads; one
// writer goroutine owns every write, fed by a bounded queue that the
// ticker and the reader only ever offer to without blocking.
type streamConn struct {
	m      *Market
	ws     *websocket.Conn
	codec  int
	test   bool // the /v2/test feed: FAKEPACA only
	out    chan outMsg
	slow   chan struct{}
	once   sync.Once
	authed atomic.Bool
	subs   atomic.Pointer[subscriptions]
	done   chan struct{} // closed when the reader stops
	fails  int           // reader-owned
}

// outMsg is a pre-encoded control frame or a tick batch to filter.
type outMsg struct {
	ctrl  []byte
	b     *batch
	close bool // close the connection after writing ctrl
}

// StreamHandler returns the websocket handler of one market-data feed:
// "iex", "sip", "delayed_sip" or "test" (which streams only FAKEPACA).
// Register mounts it at /v2/{feed}.
func (m *Market) StreamHandler(feed string) http.Handler {
	test := feed == "test"
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.serveStream(w, r, test)
	})
}

func (m *Market) serveStream(w http.ResponseWriter, r *http.Request, test bool) {
	ws, codec, key, secret, ok := m.acceptStream(w, r)
	if !ok {
		return
	}
	defer m.connWG.Done()
	c := &streamConn{
		m:     m,
		ws:    ws,
		codec: codec,
		test:  test,
		out:   make(chan outMsg, m.cfg.StreamBuffer+streamControlBuffer),
		slow:  make(chan struct{}),
		done:  make(chan struct{}),
	}
	c.subs.Store(&subscriptions{})
	c.send(ctrlSuccess(c.codec, "connected"))
	if key != "" || secret != "" {
		c.authenticate(key, secret)
	}
	m.addConn(c)
	defer m.removeConn(c)

	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		c.writeLoop()
	}()
	c.readLoop()
	close(c.done)
	wg.Wait()
}

// acceptStream is how every market-data websocket of the market (the
// stock feeds, news) starts: refused once the market is closed, counted
// for Close to wait for, upgraded, its reads bounded, its codec the
// upgrade's Content-Type, and any credentials sent as headers (Alpaca's
// key headers, or HTTP Basic) returned for an authentication before the
// first message. When ok the caller calls m.connWG.Done as it ends.
func (m *Market) acceptStream(w http.ResponseWriter, r *http.Request) (ws *websocket.Conn, codec int, key, secret string, ok bool) {
	m.connMu.Lock()
	if m.closed {
		m.connMu.Unlock()
		http.Error(w, "market closed", http.StatusServiceUnavailable)
		return nil, 0, "", "", false
	}
	m.connWG.Add(1)
	m.connMu.Unlock()

	// Credentials travel in-band, so a cross-site page gains nothing by
	// opening a socket; accept any Origin (dashboards run elsewhere).
	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		m.connWG.Done()
		return nil, 0, "", "", false
	}
	ws.SetReadLimit(streamReadLimit)
	if strings.HasPrefix(strings.ToLower(r.Header.Get("Content-Type")), "application/msgpack") {
		codec = codecMsgpack
	}
	key, secret = r.Header.Get("APCA-API-KEY-ID"), r.Header.Get("APCA-API-SECRET-KEY")
	if u, p, ok := r.BasicAuth(); ok && key == "" {
		key, secret = u, p
	}
	return ws, codec, key, secret, true
}

func (m *Market) addConn(c *streamConn) {
	m.connMu.Lock()
	defer m.connMu.Unlock()
	m.conns[c] = struct{}{}
	m.publishConnsLocked()
}

func (m *Market) removeConn(c *streamConn) {
	m.connMu.Lock()
	defer m.connMu.Unlock()
	delete(m.conns, c)
	m.publishConnsLocked()
}

// StreamSubscriptions returns, per channel name ("trades", "quotes",
// "bars", ...), the symbols any connected stream client subscribes to,
// sorted ("*" for a wildcard), and how many clients are connected. It is
// how a test (or an operator) knows a client is listening before it
// steps a replay clock.
func (m *Market) StreamSubscriptions() (map[string][]string, int) {
	m.connMu.Lock()
	conns := make([]*streamConn, 0, len(m.conns))
	for c := range m.conns {
		conns = append(conns, c)
	}
	m.connMu.Unlock()
	out := make(map[string][]string, numChannels)
	for ch := range numChannels {
		set := map[string]bool{}
		for _, c := range conns {
			cs := &c.subs.Load().ch[ch]
			if cs.all {
				set["*"] = true
			}
			for _, sym := range cs.syms {
				set[sym] = true
			}
		}
		list := make([]string, 0, len(set))
		for sym := range set {
			list = append(list, sym)
		}
		slices.Sort(list)
		out[channelNames[ch]] = list
	}
	return out, len(conns)
}

func (m *Market) publishConnsLocked() {
	list := make([]*streamConn, 0, len(m.conns))
	for c := range m.conns {
		list = append(list, c)
	}
	m.fanout.Store(&list)
}

// send queues a control frame; a full queue marks the client slow.
func (c *streamConn) send(frame []byte) { c.enqueue(outMsg{ctrl: frame}) }

func (c *streamConn) enqueue(msg outMsg) {
	select {
	case c.out <- msg:
	default:
		c.markSlow()
	}
}

func (c *streamConn) markSlow() { c.once.Do(func() { close(c.slow) }) }

// offer hands a tick batch to the writer without blocking the ticker.
// The control headroom of the queue is kept for the reader's replies.
func (c *streamConn) offer(b *batch) {
	if !c.authed.Load() || c.subs.Load().empty() {
		return
	}
	if len(c.out) >= cap(c.out)-streamControlBuffer {
		c.markSlow()
		return
	}
	c.enqueue(outMsg{b: b})
}

func (c *streamConn) authenticate(key, secret string) {
	if c.m.cfg.Auth(key, secret) {
		c.authed.Store(true)
		c.send(ctrlSuccess(c.codec, "authenticated"))
		return
	}
	c.fails++
	c.m.log.Info("market stream auth failed", "key_id", key)
	c.enqueue(outMsg{ctrl: ctrlError(c.codec, codeAuthFailed, "auth failed"), close: c.fails >= maxAuthFailures})
}

func (c *streamConn) readLoop() {
	for {
		_, data, err := c.ws.Read(context.Background())
		if err != nil {
			return
		}
		msg, ok := decodeClientMsg(data)
		if !ok {
			c.send(ctrlError(c.codec, codeInvalidSyntax, "invalid syntax"))
			continue
		}
		switch msg.Action {
		case "auth":
			if c.authed.Load() {
				c.send(ctrlError(c.codec, codeAlreadyAuthed, "already authenticated"))
				continue
			}
			c.authenticate(msg.Key, msg.Secret)
		case "subscribe", "unsubscribe":
			if !c.authed.Load() {
				c.send(ctrlError(c.codec, codeNotAuthed, "not authenticated"))
				continue
			}
			if msg.Action == "subscribe" && !c.test {
				for ch := range numChannels {
					c.m.wakeNamed(msg.channel(ch))
				}
			}
			next := c.subs.Load().apply(msg.Action == "subscribe", msg)
			c.subs.Store(next)
			c.send(ctrlSubscription(c.codec, next))
		default:
			c.send(ctrlError(c.codec, codeInvalidSyntax, "invalid syntax"))
		}
	}
}

func (c *streamConn) writeLoop() {
	authTimer := time.NewTimer(c.m.cfg.AuthTimeout)
	defer authTimer.Stop()
	var frame []byte
	var sel []int
	for {
		select {
		case <-c.slow:
			c.final(codeSlowClient, "slow client")
			return
		default:
		}
		select {
		case <-c.m.ctx.Done():
			_ = c.ws.Close(websocket.StatusGoingAway, "server shutting down")
			return
		case <-c.done:
			_ = c.ws.CloseNow()
			return
		case <-c.slow:
			c.final(codeSlowClient, "slow client")
			return
		case <-authTimer.C:
			if !c.authed.Load() {
				c.final(codeAuthTimeout, "auth timeout")
				return
			}
		case msg := <-c.out:
			data := msg.ctrl
			if msg.b != nil {
				frame, sel = c.frame(frame[:0], sel[:0], msg.b)
				if len(sel) == 0 {
					continue
				}
				data = frame
			}
			if err := c.write(data, streamWriteTimeout); err != nil {
				_ = c.ws.CloseNow()
				return
			}
			if msg.close {
				_ = c.ws.Close(websocket.StatusPolicyViolation, "auth failed")
				return
			}
		}
	}
}

// final sends a last error and drops the connection without waiting for
// the close handshake, which a stalled client would never answer.
func (c *streamConn) final(code int, msg string) {
	c.m.log.Info("market stream closed", "code", code, "reason", msg)
	_ = c.write(ctrlError(c.codec, code, msg), streamFinalTimeout)
	_ = c.ws.CloseNow()
}

func (c *streamConn) write(data []byte, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(c.m.writeCtx, timeout)
	defer cancel()
	typ := websocket.MessageText
	if c.codec == codecMsgpack {
		typ = websocket.MessageBinary
	}
	return c.ws.Write(ctx, typ, data)
}

// frame selects the batch messages this connection subscribed to and
// frames them as one array.
func (c *streamConn) frame(dst []byte, sel []int, b *batch) ([]byte, []int) {
	subs := c.subs.Load()
	syms := c.m.syms
	for i := range b.items {
		it := &b.items[i]
		sym := &syms[it.sym]
		if sym.Test != c.test {
			continue
		}
		var ch int
		switch it.kind {
		case 't':
			ch = chTrades
		case 'q':
			ch = chQuotes
		case 'b':
			ch = chBars
		default:
			ch = chDailyBars
		}
		if subs.ch[ch].has(sym.Symbol) {
			sel = append(sel, i)
		}
	}
	if len(sel) == 0 {
		return dst, sel
	}
	return appendFrame(dst, c.codec, b.encoded(c.codec, syms), sel), sel
}
