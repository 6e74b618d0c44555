package market

import (
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/quantum-alpaca/quantum/sim/internal/mdsession"
)

// Stream limits; the protocol's error codes are mdsession's.
const (
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

// clientMsg is any message a stock stream client sends.
type clientMsg struct {
	mdsession.Request
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

// streamConn is one stock stream client: its session, and the
// subscriptions its writer filters tick batches by.
type streamConn struct {
	*mdsession.Session
	m     *Market
	codec int
	test  bool // the /v2/test feed: FAKEPACA only
	subs  atomic.Pointer[subscriptions]
	sel   []int // writer-owned scratch of frame
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
	c := &streamConn{m: m, test: test}
	c.subs.Store(&subscriptions{})
	var ok bool
	c.Session, ok = m.openStream(w, r, func(cfg *mdsession.Config, codec int) {
		c.codec = codec
		// Ticks are framed as they are written, from a queue that keeps
		// room for the reader's replies.
		cfg.Buffer = m.cfg.StreamBuffer + streamControlBuffer
		cfg.Reserve = streamControlBuffer
		cfg.ShutdownReason = "server shutting down"
		cfg.Logger = m.log
		cfg.NewMessage = func() mdsession.Message { return &clientMsg{} }
		cfg.Subscribe = c.subscribe
		cfg.Frame = func(dst []byte, b any) []byte {
			dst, c.sel = c.frame(dst, c.sel[:0], b.(*batch))
			return dst
		}
	})
	if !ok {
		return
	}
	defer m.connWG.Done()
	m.addConn(c)
	defer m.removeConn(c)
	c.Run(m.ctx)
}

// openStream is how every market-data websocket of the market (the stock
// feeds, news) starts: refused once the market is closed, counted for
// Close to wait for, upgraded, its reads bounded, its codec the
// upgrade's Content-Type; its session configured as the market's
// streams are and then by stream, and authenticated by any credentials
// sent as headers (Alpaca's key headers, or HTTP Basic). When ok the
// caller runs the session and calls m.connWG.Done as it ends.
func (m *Market) openStream(w http.ResponseWriter, r *http.Request, stream func(cfg *mdsession.Config, codec int)) (*mdsession.Session, bool) {
	m.connMu.Lock()
	if m.closed {
		m.connMu.Unlock()
		http.Error(w, "market closed", http.StatusServiceUnavailable)
		return nil, false
	}
	m.connWG.Add(1)
	m.connMu.Unlock()

	// Credentials travel in-band, so a cross-site page gains nothing by
	// opening a socket; accept any Origin (dashboards run elsewhere).
	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		m.connWG.Done()
		return nil, false
	}
	ws.SetReadLimit(streamReadLimit)
	codec := codecJSON
	if strings.HasPrefix(strings.ToLower(r.Header.Get("Content-Type")), "application/msgpack") {
		codec = codecMsgpack
	}
	cfg := mdsession.Config{
		Binary:          codec == codecMsgpack,
		AuthTimeout:     m.cfg.AuthTimeout,
		WriteTimeout:    streamWriteTimeout,
		FinalTimeout:    streamFinalTimeout,
		WriteContext:    m.writeCtx,
		MaxAuthFailures: maxAuthFailures,
		Auth:            m.cfg.Auth,
		Success:         func(msg string) []byte { return ctrlSuccess(codec, msg) },
		Error:           func(code int, msg string) []byte { return ctrlError(codec, code, msg) },
	}
	stream(&cfg, codec)
	s := mdsession.New(ws, cfg)
	key, secret := r.Header.Get("APCA-API-KEY-ID"), r.Header.Get("APCA-API-SECRET-KEY")
	if u, p, ok := r.BasicAuth(); ok && key == "" {
		key, secret = u, p
	}
	if key != "" || secret != "" {
		s.Authenticate(key, secret)
	}
	return s, true
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

// offer hands a tick batch to the writer without blocking the ticker.
func (c *streamConn) offer(b *batch) {
	if !c.Authed() || c.subs.Load().empty() {
		return
	}
	c.OfferLazy(b)
}

// subscribe applies a subscription change and queues its echo.
func (c *streamConn) subscribe(subscribe bool, msg mdsession.Message) {
	req := msg.(*clientMsg)
	if subscribe && !c.test {
		for ch := range numChannels {
			c.m.wakeNamed(req.channel(ch))
		}
	}
	next := c.subs.Load().apply(subscribe, req)
	c.subs.Store(next)
	c.Send(ctrlSubscription(c.codec, next))
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
