package market

import (
	"cmp"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/quantum-alpaca/quantum/sim/internal/mdsession"
)

// The news stream (issue 9): Alpaca's real-time news websocket, served at
// /v1beta1/news beside the REST listing of the same path (a websocket
// upgrade is the stream). It speaks the market-data stream protocol
// (connected, auth in-band or by headers, subscribe and unsubscribe with
// the echo, errors by code) with the one channel news, whose symbols are
// "*" or a list. The synthetic wire that GET /v1beta1/news lists is
// published here as the market's clock passes each article's created_at:
// every article the REST listing shows for a window, the stream sent
// while the clock crossed it, with content, to every client listening
// then. Articles published while nobody listens are skipped, not queued.

// newsStreamBuffer bounds a news client's outbound queue: one that falls
// this many frames behind gets error 407 and is dropped.
const newsStreamBuffer = 256

// newsHub is the news stream's connections and the wire's cursor. Its
// publishing half runs in Step, under stepMu.
type newsHub struct {
	mu    sync.Mutex
	conns map[*newsConn]struct{}

	// through: every article created at or before it has been
	// published (or skipped); unix ns, 0 before the first step.
	through int64
	// slot is the start of the period whose articles queue holds, sorted
	// as the REST listing sorts them (created_at, then id).
	slot  time.Time
	queue []newsArticle
}

// newsMsg is an article on the stream; T first, as the Go SDK requires.
type newsMsg struct {
	T         string    `json:"T" msgpack:"T"`
	ID        int64     `json:"id" msgpack:"id"`
	Headline  string    `json:"headline" msgpack:"headline"`
	Summary   string    `json:"summary" msgpack:"summary"`
	Author    string    `json:"author" msgpack:"author"`
	CreatedAt time.Time `json:"created_at" msgpack:"created_at"`
	UpdatedAt time.Time `json:"updated_at" msgpack:"updated_at"`
	URL       string    `json:"url" msgpack:"url"`
	Content   string    `json:"content" msgpack:"content"`
	Symbols   []string  `json:"symbols" msgpack:"symbols"`
	Source    string    `json:"source" msgpack:"source"`
}

type newsSubsMsg struct {
	T    string   `json:"T" msgpack:"T"`
	News []string `json:"news" msgpack:"news"`
}

type newsClientMsg struct {
	mdsession.Request
	News []string `json:"news" msgpack:"news"`
}

// newsConn is one news stream client: its session, and the symbols it
// subscribed to, which the publisher reads.
type newsConn struct {
	*mdsession.Session
	codec int

	mu   sync.Mutex // guards subs
	subs chanSet
}

func encodeNews(codec int, v any) []byte { return mdsession.Encode(codec == codecMsgpack, v) }

// isWebSocket reports whether r asks to upgrade to a websocket.
func isWebSocket(r *http.Request) bool {
	return strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
}

// newsRoute serves /v1beta1/news: the stream for a websocket upgrade,
// which authenticates itself, and rest (the REST listing behind the
// caller's middleware) otherwise.
func (m *Market) newsRoute(rest http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isWebSocket(r) {
			m.serveNewsStream(w, r)
			return
		}
		rest.ServeHTTP(w, r)
	})
}

func (m *Market) serveNewsStream(w http.ResponseWriter, r *http.Request) {
	c := &newsConn{}
	var ok bool
	c.Session, ok = m.openStream(w, r, func(cfg *mdsession.Config, codec int) {
		c.codec = codec
		cfg.Buffer = newsStreamBuffer
		cfg.ReadUntilShutdown = true
		cfg.NewMessage = func() mdsession.Message { return &newsClientMsg{} }
		cfg.Subscribe = c.subscribe
	})
	if !ok {
		return
	}
	defer m.connWG.Done()
	h := &m.news
	h.mu.Lock()
	if h.conns == nil {
		h.conns = map[*newsConn]struct{}{}
	}
	if h.through == 0 {
		// The wire starts now: the first client gets what is created
		// after it connected.
		h.through = m.cfg.Now().UnixNano()
	}
	h.conns[c] = struct{}{}
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		delete(h.conns, c)
		h.mu.Unlock()
	}()
	c.Run(m.ctx)
}

// subscribe applies a subscription change and queues its echo.
func (c *newsConn) subscribe(sub bool, msg mdsession.Message) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, sym := range msg.(*newsClientMsg).News {
		switch {
		case sym == "*":
			c.subs.all = sub
		case sub && !slices.Contains(c.subs.syms, sym):
			c.subs.syms = append(c.subs.syms, sym)
		case !sub:
			c.subs.syms = slices.DeleteFunc(c.subs.syms, func(x string) bool { return x == sym })
		}
	}
	echo := newsSubsMsg{T: "subscription", News: c.subs.list()}
	// Queued under c.mu: the publisher reads the subscription under it
	// too, so no article can overtake its echo.
	c.Send(encodeNews(c.codec, []any{echo}))
}

// activeSymbolsLocked is ActiveSymbols for a caller that holds stepMu.
func (m *Market) activeSymbolsLocked() []string {
	out := make([]string, 0, len(m.liveIdx)+len(m.awakeList))
	for _, i := range m.liveIdx {
		out = append(out, m.syms[i].Symbol)
	}
	for _, i := range m.awakeList {
		out = append(out, m.syms[i].Symbol)
	}
	return out
}

// publishNews sends the news clients the articles created in
// (previous step, ns], each client one frame of those it subscribed to,
// in created_at order. Step calls it with stepMu held.
func (m *Market) publishNews(ns int64) {
	h := &m.news
	h.mu.Lock()
	defer h.mu.Unlock()
	from := h.through
	if ns <= from {
		return
	}
	h.through = ns
	if from == 0 || len(h.conns) == 0 {
		return // nobody listening (yet): nothing to send
	}
	var due []newsMsg
	end := time.Unix(0, ns)
	for slot := time.Unix(0, from+1).Truncate(newsEvery); !slot.After(end); slot = slot.Add(newsEvery) {
		if !h.slot.Equal(slot) {
			h.slot, h.queue = slot, h.queue[:0]
			for _, sym := range m.activeSymbolsLocked() {
				if a, ok := m.article(sym, slot, true); ok {
					h.queue = append(h.queue, a)
				}
			}
			slices.SortFunc(h.queue, func(a, b newsArticle) int {
				return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID))
			})
		}
		for i := range h.queue {
			a := &h.queue[i]
			if at := a.CreatedAt.UnixNano(); at <= from {
				continue
			} else if at > ns {
				break
			}
			due = append(due, newsMsg{T: "n", ID: a.ID, Headline: a.Headline, Summary: a.Summary, Author: a.Author,
				CreatedAt: a.CreatedAt, UpdatedAt: a.UpdatedAt, URL: a.URL, Content: a.Content, Symbols: a.Symbols, Source: a.Source})
		}
	}
	if len(due) == 0 {
		return
	}
	var whole [2][]byte // the frame of every due article, by codec
	var sel []newsMsg
	for c := range h.conns {
		// Selected and queued under c.mu, which a subscription change
		// holds while it queues its echo: the frame follows the echo of
		// the subscription it was selected by.
		c.mu.Lock()
		if c.Authed() {
			sel = sel[:0]
			for i := range due {
				if slices.ContainsFunc(due[i].Symbols, c.subs.has) {
					sel = append(sel, due[i])
				}
			}
			switch {
			case len(sel) == len(due):
				if whole[c.codec] == nil {
					whole[c.codec] = encodeNews(c.codec, due)
				}
				c.Offer(whole[c.codec])
			case len(sel) > 0:
				c.Offer(encodeNews(c.codec, sel))
			}
		}
		c.mu.Unlock()
	}
}
