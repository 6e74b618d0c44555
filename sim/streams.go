package sim

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"
)

const (
	sseHeartbeat      = 15 * time.Second
	streamWriteWait   = 10 * time.Second
	streamSubBuffer   = 4096
	wsAuthWait        = 10 * time.Second
	wsMaxMessageBytes = 16 << 10
)

// streamAuth authenticates a stream request by its headers and writes the
// REST-style error when it fails.
func (s *Server) streamAuth(w http.ResponseWriter, r *http.Request) *account {
	key, secret, ok := credentials(r)
	if !ok {
		writeError(w, http.StatusUnauthorized, 0, "unauthorized.", nil)
		return nil
	}
	a, wrong := s.authenticate(key, secret)
	if a == nil {
		if wrong {
			writeError(w, http.StatusForbidden, codeForbidden, "forbidden: access key verification failed", nil)
		} else {
			writeError(w, http.StatusUnauthorized, codeUnauthorized, "request is not authorized", nil)
		}
	}
	return a
}

// sseTradeUpdates serves GET /v2/events/trades: the account's trade updates
// as server-sent events, replayed from since/since_id and then live, until
// until/until_id is reached or the client goes away.
func (s *Server) sseTradeUpdates(w http.ResponseWriter, r *http.Request) {
	a := s.streamAuth(w, r)
	if a == nil {
		return
	}
	q := r.URL.Query()
	since, until, sinceID, untilID := q.Get("since"), q.Get("until"), q.Get("since_id"), q.Get("until_id")
	switch {
	case since != "" && sinceID != "":
		invalid(w, "since and since_id are mutually exclusive")
		return
	case until != "" && since == "":
		invalid(w, "until requires since")
		return
	case untilID != "" && sinceID == "":
		invalid(w, "until_id requires since_id")
		return
	}
	var from func(*feedEntry[tuRecord]) bool
	var stop func(*feedEntry[tuRecord]) bool
	switch {
	case sinceID != "":
		since, ok := parseULID(sinceID)
		if !ok {
			invalid(w, "invalid since_id: expected a ULID")
			return
		}
		from = func(e *feedEntry[tuRecord]) bool { return e.after(since) }
		if untilID != "" {
			until, ok := parseULID(untilID)
			if !ok {
				invalid(w, "invalid until_id: expected a ULID")
				return
			}
			stop = func(e *feedEntry[tuRecord]) bool { return e.after(until) }
		}
	case since != "":
		t, err := time.Parse(time.RFC3339Nano, since)
		if err != nil {
			invalid(w, "invalid since: expected an RFC 3339 time")
			return
		}
		from = func(e *feedEntry[tuRecord]) bool { return e.at >= t.UnixNano() }
		if until != "" {
			u, err := time.Parse(time.RFC3339Nano, until)
			if err != nil {
				invalid(w, "invalid until: expected an RFC 3339 time")
				return
			}
			stop = func(e *feedEntry[tuRecord]) bool { return e.at > u.UnixNano() }
		}
	}

	sub, backlog := a.feed.subscribe(streamSubBuffer, from)
	defer a.feed.unsubscribe(sub)

	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("Connection", "keep-alive")
	w.WriteHeader(http.StatusOK)
	buf := make([]byte, 0, 2048)
	send := func(e *feedEntry[tuRecord]) bool {
		b, err := json.Marshal(s.tradeUpdate(a, e))
		if err != nil {
			return false
		}
		buf = append(append(append(buf[:0], "data: "...), b...), "\n\n"...)
		_ = rc.SetWriteDeadline(time.Now().Add(streamWriteWait))
		if _, err := w.Write(buf); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	for i := range backlog {
		if stop != nil && stop(&backlog[i]) {
			return
		}
		if !send(&backlog[i]) {
			return
		}
	}
	if rc.Flush() != nil {
		return
	}
	hb := time.NewTicker(sseHeartbeat)
	defer hb.Stop()
	for {
		select {
		case e := <-sub.ch:
			if stop != nil && stop(&e) {
				return
			}
			if !send(&e) {
				return
			}
		case <-hb.C:
			_ = rc.SetWriteDeadline(time.Now().Add(streamWriteWait))
			if _, err := w.Write([]byte(":heartbeat\n\n")); err != nil || rc.Flush() != nil {
				return
			}
		case <-sub.gone:
			return // too slow: the client resumes with since_id
		case <-r.Context().Done():
			return
		case <-s.ctx.Done():
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
	write := func(v any) error {
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		wctx, wcancel := context.WithTimeout(ctx, streamWriteWait)
		defer wcancel()
		return c.Write(wctx, websocket.MessageBinary, b)
	}

	// Authentication: the first message, within wsAuthWait.
	var a *account
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
			a, _ = s.authenticate(key, secret)
			if a == nil {
				_ = write(wsReply{"authorization", map[string]string{"action": "authenticate", "status": "unauthorized", "message": "access key verification failed"}})
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
	var events <-chan feedEntry[tuRecord]
	var gone <-chan struct{}
	for {
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
					sub, _ = a.feed.subscribe(streamSubBuffer, nil)
					events, gone = sub.ch, sub.gone
				}
			} else if sub != nil {
				a.feed.unsubscribe(sub)
				sub, events, gone = nil, nil, nil
			}
			if write(wsReply{"listening", map[string][]string{"streams": ack}}) != nil {
				return
			}
		case e := <-events:
			if write(wsReply{"trade_updates", s.tradeUpdate(a, &e)}) != nil {
				return
			}
		case <-gone:
			c.Close(websocket.StatusPolicyViolation, "slow client")
			return
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
