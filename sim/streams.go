package sim

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/quantum-alpaca/quantum/alpaca"
)

const (
	wsAuthWait        = 10 * time.Second
	wsMaxMessageBytes = 16 << 10
	// streamBatch is how many trade updates a stream takes from its feed
	// at a time: they go out in one flush, with one write deadline.
	streamBatch = 16
)

// StreamStats counts the trade-update streams (SSE and websocket).
type StreamStats struct {
	// Active is the number of streams open now.
	Active int64
	// SlowDisconnects is how many streams were cut off because their
	// client read too slowly: it fell a whole replay ring behind
	// (Config.FeedCapacity updates), or did not take one write within
	// Config.StreamWriteTimeout.
	SlowDisconnects uint64
}

// streamCounters backs StreamStats and rate-limits the slow-client log.
type streamCounters struct {
	active atomic.Int64
	slow   atomic.Uint64

	mu       sync.Mutex
	lastLog  time.Time
	unlogged uint64 // slow disconnects since the last log line
}

// StreamStats reports the trade-update streams.
func (s *Server) StreamStats() StreamStats {
	return StreamStats{Active: s.streams.active.Load(), SlowDisconnects: s.streams.slow.Load()}
}

// slowClient records a stream cut off for reading too slowly, as Alpaca
// cuts off slow clients: counted every time, logged at most once a second
// so that a crowd of stalled clients cannot flood the log, with the
// number cut off since the previous line.
func (s *Server) slowClient(stream, reason, who string) {
	total := s.streams.slow.Add(1)
	c := &s.streams
	now := time.Now() // wall time: the log's rate, not the market's clock
	c.mu.Lock()
	c.unlogged++
	if now.Sub(c.lastLog) < time.Second {
		c.mu.Unlock()
		return
	}
	n := c.unlogged
	c.unlogged, c.lastLog = 0, now
	c.mu.Unlock()
	s.log.Warn("slow stream client disconnected", "stream", stream, "reason", reason, "account", who,
		"disconnected_since_last_log", n, "slow_disconnects_total", total)
}

// streamAuth authenticates a stream request by its headers and writes the
// REST-style error when it fails.
func (s *Server) streamAuth(w http.ResponseWriter, r *http.Request) *account {
	key, secret, ok := credentials(r)
	if !ok {
		writeError(w, http.StatusUnauthorized, 0, "unauthorized.", nil)
		return nil
	}
	a, why := s.authenticate(key, secret)
	if a == nil {
		writeAuthError(w, why)
	}
	return a
}

// sseTradeUpdates serves GET /v2/events/trades: the account's trade updates
// as server-sent events, replayed from since/since_id and then live, until
// until/until_id is reached or the client goes away. With the Broker API
// firm's credentials it is the firm's stream instead: every customer
// account's updates, each naming its account.
func (s *Server) sseTradeUpdates(w http.ResponseWriter, r *http.Request) {
	if s.firm != nil {
		switch s.firm.authenticate(r, s.rateNow()) {
		case firmOK:
			f := s.firm
			serveTradeSSE(s, w, r, f.feed, "firm", func(e *feedEntry[firmRecord]) alpaca.TradeUpdate {
				c := f.customerAt(e.v.acct)
				own := feedEntry[tuRecord]{ms: e.ms, seq: e.seq, at: e.at, v: e.v.tu}
				tu := s.tradeUpdate(c.a, &own)
				tu.AccountID = c.a.id
				return tu
			})
			return
		case firmWrongPass:
			writeAuthError(w, authWrongSecret)
			return
		}
	}
	a := s.streamAuth(w, r)
	if a == nil {
		return
	}
	serveTradeSSE(s, w, r, a.feed, a.id, func(e *feedEntry[tuRecord]) alpaca.TradeUpdate { return s.tradeUpdate(a, e) })
}

// serveTradeSSE streams a trade-update feed (an account's or the firm's)
// as server-sent events; render turns a retained entry into the update
// sent, and who names the stream in logs.
func serveTradeSSE[T any](s *Server, w http.ResponseWriter, r *http.Request, f *feed[T], who string,
	render func(*feedEntry[T]) alpaca.TradeUpdate) {
	since, until, sinceID, untilID, ok := sseRange(w, r.URL.Query())
	if !ok {
		return
	}
	var from func(*feedEntry[T]) bool
	var stop func(*feedEntry[T]) bool
	// last, when set, says an entry is the last one asked for (until_id
	// itself): the stream ends once it is sent, not when something newer
	// happens to arrive.
	var last func(*feedEntry[T]) bool
	switch {
	case sinceID != "":
		since, ok := parseULID(sinceID)
		if !ok {
			invalid(w, "invalid since_id: expected a ULID")
			return
		}
		from = func(e *feedEntry[T]) bool { return e.after(since) }
		if untilID != "" {
			until, ok := parseULID(untilID)
			if !ok {
				invalid(w, "invalid until_id: expected a ULID")
				return
			}
			stop = func(e *feedEntry[T]) bool { return e.after(until) }
			last = func(e *feedEntry[T]) bool { return until.hi == 0 && e.ms == until.ms && e.seq == until.lo }
		}
	case since != "":
		t, err := time.Parse(time.RFC3339Nano, since)
		if err != nil {
			invalid(w, "invalid since: expected an RFC 3339 time")
			return
		}
		from = func(e *feedEntry[T]) bool { return e.at >= t.UnixNano() }
		if until != "" {
			u, err := time.Parse(time.RFC3339Nano, until)
			if err != nil {
				invalid(w, "invalid until: expected an RFC 3339 time")
				return
			}
			stop = func(e *feedEntry[T]) bool { return e.at > u.UnixNano() }
		}
	}

	sub := f.subscribe(from)
	defer f.unsubscribe(sub)
	sw, ok := s.startSSE(w, "sse", who)
	defer sw.close()
	if !ok {
		return
	}
	batch := make([]feedEntry[T], streamBatch)
	for {
		n, ok := f.read(sub, batch)
		if !ok {
			s.slowClient("sse", "fell behind", who)
			return // too slow: the client resumes with since_id
		}
		if n > 0 {
			for i := range batch[:n] {
				if stop != nil && stop(&batch[i]) {
					sw.flush()
					return
				}
				if sw.event(render(&batch[i])) != nil {
					return
				}
				if last != nil && last(&batch[i]) {
					sw.flush()
					return
				}
			}
			if !sw.flush() {
				return
			}
			if n == len(batch) {
				continue // there may be more
			}
		}
		// On sseGone, read reports it next time round.
		if sw.wait(r.Context(), sub.ready, sub.gone) == sseEnd {
			return
		}
	}
}

type wsRequest struct {
	Action string          `json:"action"`
	Data   json.RawMessage `json:"data"`
	// The market-data style of authentication, accepted here too.
	Key    string `json:"key"`
	Secret string `json:"secret"`
}

type wsReply struct {
	Stream string `json:"stream"`
	Data   any    `json:"data"`
}

// wsTradeUpdates serves the trade_updates websocket at /stream:
// authenticate, listen, then trade updates in binary frames holding JSON,
// as Alpaca's paper stream sends them.
func (s *Server) wsTradeUpdates(w http.ResponseWriter, r *http.Request) {
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		return
	}
	// Every goroutine started here is waited for: on return the context
	// is canceled and the connection closed first (defers run in reverse).
	var wg sync.WaitGroup
	defer wg.Wait()
	defer c.CloseNow()
	c.SetReadLimit(wsMaxMessageBytes)
	s.streams.active.Add(1)
	defer s.streams.active.Add(-1)
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	wg.Add(1)
	go func() { // ends the connection when the server closes
		defer wg.Done()
		select {
		case <-s.ctx.Done():
			c.Close(websocket.StatusGoingAway, "server shutting down")
		case <-ctx.Done():
		}
	}()
	var a *account // set by authentication
	write := func(v any) error {
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		deadline := time.Now().Add(s.cfg.StreamWriteTimeout)
		wctx, wcancel := context.WithDeadline(ctx, deadline)
		defer wcancel()
		err = c.Write(wctx, websocket.MessageBinary, b)
		if err != nil && !time.Now().Before(deadline) && a != nil {
			s.slowClient("websocket", "write timeout", a.id)
		}
		return err
	}

	// Authentication: the first message, within wsAuthWait.
	actx, acancel := context.WithTimeout(ctx, wsAuthWait)
	for a == nil {
		req, err := readWS(actx, c)
		if err != nil {
			acancel()
			c.Close(websocket.StatusPolicyViolation, "authentication timeout")
			return
		}
		switch req.Action {
		case "authenticate", "auth":
			var d struct {
				KeyID      string `json:"key_id"`
				SecretKey  string `json:"secret_key"`
				OAuthToken string `json:"oauth_token"`
			}
			_ = json.Unmarshal(req.Data, &d)
			key, secret := d.KeyID, d.SecretKey
			if req.Key != "" {
				key, secret = req.Key, req.Secret
			}
			if d.OAuthToken != "" {
				key, secret = "oauth:"+d.OAuthToken, d.OAuthToken
			}
			var why authFailure
			a, why = s.authenticate(key, secret)
			if a == nil {
				msg := "access key verification failed"
				if why == authFull {
					msg = accountLimitMessage
				}
				_ = write(wsReply{"authorization", map[string]string{"action": "authenticate", "status": "unauthorized", "message": msg}})
				acancel()
				c.Close(websocket.StatusPolicyViolation, "unauthorized")
				return
			}
			if write(wsReply{"authorization", map[string]string{"action": "authenticate", "status": "authorized"}}) != nil {
				acancel()
				return
			}
		default:
			_ = write(wsReply{"authorization", map[string]string{"action": req.Action, "status": "unauthorized"}})
		}
	}
	acancel()

	// After authentication a reader goroutine turns listen requests into
	// subscription changes; this goroutine is the connection's only writer.
	listens := make(chan []string, 4)
	readErr := make(chan error, 1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			req, err := readWS(ctx, c)
			if err != nil {
				readErr <- err
				return
			}
			if req.Action != "listen" {
				continue
			}
			var d struct {
				Streams []string `json:"streams"`
			}
			_ = json.Unmarshal(req.Data, &d)
			select {
			case listens <- d.Streams:
			case <-ctx.Done():
				return
			}
		}
	}()

	var sub *feedSub[tuRecord]
	defer func() {
		if sub != nil {
			a.feed.unsubscribe(sub)
		}
	}()
	var ready, gone <-chan struct{}
	batch := make([]feedEntry[tuRecord], streamBatch)
	for {
		if sub != nil {
			n, ok := a.feed.read(sub, batch)
			if !ok {
				s.slowClient("websocket", "fell behind", a.id)
				c.Close(websocket.StatusPolicyViolation, "slow client")
				return
			}
			for i := range batch[:n] {
				if write(wsReply{"trade_updates", s.tradeUpdate(a, &batch[i])}) != nil {
					return
				}
			}
			if n == len(batch) {
				continue // there may be more; a pending listen waits its turn
			}
		}
		select {
		case streams := <-listens:
			want := false
			for _, st := range streams {
				if st == "trade_updates" {
					want = true
				}
			}
			ack := []string{}
			if want {
				ack = append(ack, "trade_updates")
				if sub == nil {
					sub = a.feed.subscribe(nil)
					ready, gone = sub.ready, sub.gone
				}
			} else if sub != nil {
				a.feed.unsubscribe(sub)
				sub, ready, gone = nil, nil, nil
			}
			if write(wsReply{"listening", map[string][]string{"streams": ack}}) != nil {
				return
			}
		case <-ready:
		case <-gone:
			// read reports it next time round
		case <-readErr:
			return
		case <-ctx.Done():
			return
		}
	}
}

func readWS(ctx context.Context, c *websocket.Conn) (wsRequest, error) {
	var req wsRequest
	_, b, err := c.Read(ctx)
	if err != nil {
		return req, err
	}
	if err := json.Unmarshal(b, &req); err != nil {
		req.Action = "invalid"
	}
	return req, nil
}
