package sim

import (
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/quantum-alpaca/quantum/sim/internal/mdsession"
)

// The crypto websocket, /v1beta3/crypto/us: Alpaca's market data stream
// protocol (connected, auth, subscribe with an echo of the subscription,
// errors by code) with the crypto channels trades, quotes, bars,
// updatedBars, dailyBars and orderbooks. When a minute of the crypto
// walk ends its trades, its bar, the new minute's quote, the day's bar so
// far and the order book go to the subscribers. JSON, or msgpack when the
// upgrade asks for it (as the official Go SDK does); each message is a
// struct whose first field is T, which the SDK requires to be the first
// key.

const (
	cryptoStreamBuffer = 256
	cryptoAuthTimeout  = 10 * time.Second
	cryptoWriteTimeout = 10 * time.Second
)

// Stream messages.
type (
	csCtrl struct {
		T    string `json:"T" msgpack:"T"`
		Msg  string `json:"msg,omitempty" msgpack:"msg,omitempty"`
		Code int    `json:"code,omitempty" msgpack:"code,omitempty"`
	}
	csSubs struct {
		T           string   `json:"T" msgpack:"T"`
		Trades      []string `json:"trades" msgpack:"trades"`
		Quotes      []string `json:"quotes" msgpack:"quotes"`
		Orderbooks  []string `json:"orderbooks" msgpack:"orderbooks"`
		Bars        []string `json:"bars" msgpack:"bars"`
		UpdatedBars []string `json:"updatedBars" msgpack:"updatedBars"`
		DailyBars   []string `json:"dailyBars" msgpack:"dailyBars"`
	}
	csTrade struct {
		T   string    `json:"T" msgpack:"T"`
		S   string    `json:"S" msgpack:"S"`
		P   float64   `json:"p" msgpack:"p"`
		Sz  float64   `json:"s" msgpack:"s"`
		Ts  time.Time `json:"t" msgpack:"t"`
		I   int64     `json:"i" msgpack:"i"`
		TKS string    `json:"tks" msgpack:"tks"`
	}
	csQuote struct {
		T  string    `json:"T" msgpack:"T"`
		S  string    `json:"S" msgpack:"S"`
		BP float64   `json:"bp" msgpack:"bp"`
		BS float64   `json:"bs" msgpack:"bs"`
		AP float64   `json:"ap" msgpack:"ap"`
		AS float64   `json:"as" msgpack:"as"`
		Ts time.Time `json:"t" msgpack:"t"`
	}
	csBar struct {
		T  string    `json:"T" msgpack:"T"`
		S  string    `json:"S" msgpack:"S"`
		O  float64   `json:"o" msgpack:"o"`
		H  float64   `json:"h" msgpack:"h"`
		L  float64   `json:"l" msgpack:"l"`
		C  float64   `json:"c" msgpack:"c"`
		V  float64   `json:"v" msgpack:"v"`
		Ts time.Time `json:"t" msgpack:"t"`
		N  int64     `json:"n" msgpack:"n"`
		VW float64   `json:"vw" msgpack:"vw"`
	}
	csLevel struct {
		P float64 `json:"p" msgpack:"p"`
		S float64 `json:"s" msgpack:"s"`
	}
	csBook struct {
		T     string    `json:"T" msgpack:"T"`
		S     string    `json:"S" msgpack:"S"`
		Ts    time.Time `json:"t" msgpack:"t"`
		B     []csLevel `json:"b" msgpack:"b"`
		A     []csLevel `json:"a" msgpack:"a"`
		Reset bool      `json:"r,omitempty" msgpack:"r,omitempty"`
	}
)

func csBarOf(typ, sym string, b cryptoBarJSON) csBar {
	return csBar{T: typ, S: sym, O: b.O, H: b.H, L: b.L, C: b.C, V: b.V, Ts: b.T, N: b.N, VW: b.VW}
}

func csBookOf(sym string, b cryptoBookJSON, reset bool) csBook {
	out := csBook{T: "o", S: sym, Ts: b.T, Reset: reset, B: []csLevel{}, A: []csLevel{}}
	for _, l := range b.B {
		out.B = append(out.B, csLevel(l))
	}
	for _, l := range b.A {
		out.A = append(out.A, csLevel(l))
	}
	return out
}

// Crypto channels, in the order of the subscription echo.
const (
	csTrades = iota
	csQuotes
	csBooks
	csBars
	csUpdated
	csDaily
	csChannels
)

type csClientMsg struct {
	mdsession.Request
	Trades      []string `json:"trades" msgpack:"trades"`
	Quotes      []string `json:"quotes" msgpack:"quotes"`
	Orderbooks  []string `json:"orderbooks" msgpack:"orderbooks"`
	Bars        []string `json:"bars" msgpack:"bars"`
	UpdatedBars []string `json:"updatedBars" msgpack:"updatedBars"`
	DailyBars   []string `json:"dailyBars" msgpack:"dailyBars"`
}

func (m *csClientMsg) channels() [csChannels][]string {
	return [csChannels][]string{m.Trades, m.Quotes, m.Orderbooks, m.Bars, m.UpdatedBars, m.DailyBars}
}

// cryptoConn is one crypto stream client: its session, and the
// subscriptions publishers read. A client that falls cryptoStreamBuffer
// messages behind gets error 407 and is dropped.
type cryptoConn struct {
	*mdsession.Session
	mp   bool
	mu   sync.Mutex // guards subs
	subs [csChannels][]string
}

func (c *cryptoConn) encode(v any) []byte { return mdsession.Encode(c.mp, v) }

// offer queues one frame (an array of messages) without blocking.
func (c *cryptoConn) offer(msgs ...any) { c.Offer(c.encode(msgs)) }

func (c *cryptoConn) has(ch int, sym string) bool {
	return slices.Contains(c.subs[ch], "*") || slices.Contains(c.subs[ch], sym)
}

// cryptoStreams is the set of open crypto stream connections and the
// last minute published to them.
type cryptoStreams struct {
	mu     sync.Mutex
	conns  map[*cryptoConn]struct{}
	minute int64
}

func (s *Server) serveCryptoStream(w http.ResponseWriter, r *http.Request) {
	if r.PathValue("loc") != "us" {
		notFound(w, "endpoint not found")
		return
	}
	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		return
	}
	ws.SetReadLimit(1 << 20)
	c := &cryptoConn{mp: strings.HasPrefix(strings.ToLower(r.Header.Get("Content-Type")), "application/msgpack")}
	// Unlike the stock and news streams, failed logins never close the
	// connection, HTTP Basic credentials are not read, writes are not
	// cut short by the server's shutdown, and errors list msg before
	// code.
	c.Session = mdsession.New(ws, mdsession.Config{
		Binary:            c.mp,
		Buffer:            cryptoStreamBuffer,
		AuthTimeout:       cryptoAuthTimeout,
		WriteTimeout:      cryptoWriteTimeout,
		FinalTimeout:      cryptoWriteTimeout,
		ReadUntilShutdown: true,
		Auth:              s.marketDataAuth,
		Success:           func(msg string) []byte { return c.encode([]any{csCtrl{T: "success", Msg: msg}}) },
		Error:             func(code int, msg string) []byte { return c.encode([]any{csCtrl{T: "error", Code: code, Msg: msg}}) },
		NewMessage:        func() mdsession.Message { return &csClientMsg{} },
		Subscribe:         func(subscribe bool, msg mdsession.Message) { s.cryptoSubscribe(c, subscribe, msg.(*csClientMsg)) },
	})
	if key, secret := r.Header.Get("APCA-API-KEY-ID"), r.Header.Get("APCA-API-SECRET-KEY"); key != "" {
		c.Authenticate(key, secret)
	}
	cs := &s.cryptoStreams
	cs.mu.Lock()
	if cs.conns == nil {
		cs.conns = map[*cryptoConn]struct{}{}
	}
	cs.conns[c] = struct{}{}
	cs.mu.Unlock()
	defer func() {
		cs.mu.Lock()
		delete(cs.conns, c)
		cs.mu.Unlock()
	}()
	c.Run(s.ctx)
}

// marketDataAuth checks the credentials of a market-data stream client: an
// account's keys, or the firm's.
func (s *Server) marketDataAuth(key, secret string) bool {
	if s.firm != nil && s.firm.owns(key, secret) {
		return true // a firm streams market data with its own keys
	}
	a, _ := s.authenticate(key, secret)
	return a != nil
}

// cryptoSubscribe applies a subscription change, symbols in either
// spelling (BTCUSD, BTC/USD), and queues its echo.
func (s *Server) cryptoSubscribe(c *cryptoConn, subscribe bool, msg *csClientMsg) {
	var books []string
	c.mu.Lock()
	defer c.mu.Unlock()
	for ch, syms := range msg.channels() {
		for _, sym := range syms {
			if p, ok := s.crypto.lookup(sym); ok {
				sym = p.symbol()
			}
			has := slices.Contains(c.subs[ch], sym)
			switch {
			case subscribe && !has:
				c.subs[ch] = append(c.subs[ch], sym)
				if ch == csBooks {
					books = append(books, sym)
				}
			case !subscribe && has:
				c.subs[ch] = slices.DeleteFunc(c.subs[ch], func(x string) bool { return x == sym })
			}
		}
	}
	echo := csSubs{T: "subscription"}
	for ch, dst := range []*[]string{&echo.Trades, &echo.Quotes, &echo.Orderbooks, &echo.Bars, &echo.UpdatedBars, &echo.DailyBars} {
		*dst = append([]string{}, c.subs[ch]...)
	}
	// The echo and each new order book subscription's whole book are
	// queued before c.mu is released: publishCrypto reads the
	// subscriptions under c.mu, so no update of a book can reach the
	// client ahead of the book it updates.
	c.offer(echo)
	for _, sym := range books {
		if i, ok := s.crypto.index[sym]; ok {
			c.offer(csBookOf(sym, s.cryptoBook(i).(cryptoBookJSON), true))
		}
	}
}

// publishCrypto sends the subscribers what the minutes ended by now
// brought: at most the last one when the clock jumped further.
func (s *Server) publishCrypto(now time.Time) {
	cs := &s.cryptoStreams
	m := minuteOf(now) - 1 // the last whole minute
	cs.mu.Lock()
	if m <= cs.minute {
		cs.mu.Unlock()
		return
	}
	cs.minute = m
	conns := make([]*cryptoConn, 0, len(cs.conns))
	for c := range cs.conns {
		conns = append(conns, c)
	}
	cs.mu.Unlock()
	if len(conns) == 0 {
		return
	}
	day := time.Unix(m*60, 0).UTC().Truncate(24 * time.Hour)
	for i := range s.crypto.pairs {
		sym := s.crypto.pairs[i].symbol()
		var want [csChannels]bool
		wanted := false
		for _, c := range conns {
			c.mu.Lock()
			for ch := range csChannels {
				if c.has(ch, sym) {
					want[ch], wanted = true, true
				}
			}
			c.mu.Unlock()
		}
		if !wanted {
			continue
		}
		var d, next cryptoMinute
		s.crypto.eachMinute(i, m, m+1, false, func(k int64, x cryptoMinute) bool {
			if k == m {
				d = x
			} else {
				next = x
			}
			return true
		})
		var daily *cryptoBarJSON
		if want[csDaily] {
			daily = s.dailyBar(i, day)
		}
		var book cryptoBookJSON
		if want[csBooks] {
			book = s.cryptoBook(i).(cryptoBookJSON)
		}
		for _, c := range conns {
			var msgs []any
			c.mu.Lock()
			if c.has(csTrades, sym) {
				for _, t := range d.trades {
					msgs = append(msgs, csTrade{T: "t", S: sym, P: t.P, Sz: t.S, Ts: t.T, I: t.I, TKS: t.TKS})
				}
			}
			if c.has(csBars, sym) {
				msgs = append(msgs, csBarOf("b", sym, d.bar))
			}
			if c.has(csQuotes, sym) {
				q := next.quote
				msgs = append(msgs, csQuote{T: "q", S: sym, BP: q.BP, BS: q.BS, AP: q.AP, AS: q.AS, Ts: q.T})
			}
			if c.has(csDaily, sym) && daily != nil {
				msgs = append(msgs, csBarOf("d", sym, *daily))
			}
			if c.has(csBooks, sym) {
				msgs = append(msgs, csBookOf(sym, book, false))
			}
			c.mu.Unlock()
			if len(msgs) > 0 {
				c.offer(msgs...)
			}
		}
	}
}
