package sim

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"time"
)

// The server-sent-event side of the broker's streams, shared by the
// trade-update stream (GET /v2/events/trades, streams.go) and the
// account activity stream (GET /v2beta1/events/activities,
// activitystream.go): the replay window's parameters, the headers, the
// events' framing, the write deadline that cuts off a slow client, and
// the comment line sent as heartbeat while the stream is idle.

// sseRange reads a stream's replay window, since and until (times) or
// since_id and until_id (ULIDs), and refuses, writing the error, the
// combinations Alpaca refuses: until without since, until_id without
// since_id, and both kinds at once.
func sseRange(w http.ResponseWriter, q url.Values) (since, until, sinceID, untilID string, ok bool) {
	since, until, sinceID, untilID = q.Get("since"), q.Get("until"), q.Get("since_id"), q.Get("until_id")
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
	return since, until, sinceID, untilID, true
}

// sseWriter is one open server-sent-event stream: events are framed into
// a buffer (event) and go out together (flush), each write with its own
// deadline, and while the stream waits for more (wait) a comment line
// goes out every Config.HeartbeatInterval. One goroutine uses it.
type sseWriter struct {
	s  *Server
	w  http.ResponseWriter
	rc *http.ResponseController
	// stream and who name the stream and its client in the slow-client
	// log.
	stream, who string
	deadline    time.Time
	buf         []byte
	hb          *time.Ticker
}

// startSSE counts a new stream, sends the status and headers of an event
// stream and flushes them. The caller calls close when the stream ends,
// and ends it at once when ok is false (the client is gone).
func (s *Server) startSSE(w http.ResponseWriter, stream, who string) (sw *sseWriter, ok bool) {
	s.streams.active.Add(1)
	sw = &sseWriter{
		s: s, w: w, rc: http.NewResponseController(w), stream: stream, who: who,
		buf: make([]byte, 0, 2048), hb: time.NewTicker(s.cfg.HeartbeatInterval),
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("Connection", "keep-alive")
	w.WriteHeader(http.StatusOK)
	return sw, sw.flush()
}

// close stops the heartbeat and uncounts the stream.
func (sw *sseWriter) close() {
	sw.hb.Stop()
	sw.s.streams.active.Add(-1)
}

// event frames v, as JSON, as the next event of the pending batch.
func (sw *sseWriter) event(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	sw.buf = append(append(append(sw.buf, "data: "...), b...), "\n\n"...)
	return nil
}

// flush sends the pending batch (nothing: only the headers) and flushes
// it to the client; false when the write failed, and then, if it timed
// out, the client is logged as too slow.
//
// Every write has its own deadline, so a client that stops reading is
// disconnected after StreamWriteTimeout instead of pinning the stream
// (and, over HTTP/2, its unsent frames) forever. The deadline is
// cleared after the flush: an idle stream must not expire, and over
// HTTP/2 a deadline fires even when nothing is being written.
func (sw *sseWriter) flush() bool {
	ok := sw.write(sw.buf)
	sw.buf = sw.buf[:0]
	if cap(sw.buf) > 64<<10 {
		sw.buf = make([]byte, 0, 2048) // one burst of large events need not stay
	}
	if !ok && !time.Now().Before(sw.deadline) {
		sw.s.slowClient(sw.stream, "write timeout", sw.who)
	}
	return ok
}

func (sw *sseWriter) write(p []byte) bool {
	sw.deadline = time.Now().Add(sw.s.cfg.StreamWriteTimeout)
	_ = sw.rc.SetWriteDeadline(sw.deadline)
	if len(p) > 0 {
		if _, err := sw.w.Write(p); err != nil {
			return false
		}
	}
	if sw.rc.Flush() != nil {
		return false
	}
	_ = sw.rc.SetWriteDeadline(time.Time{})
	return true
}

// sseWake is what ended a wait.
type sseWake int

const (
	sseEnd   sseWake = iota // the client or the server went, or a heartbeat failed: end the stream
	sseReady                // ready rang: there may be more to send
	sseGone                 // gone was closed: the feed cut the subscription off
	sseBeat                 // a heartbeat went out
)

// wait waits for the stream's source (ready, gone) while it is idle and
// returns what came first. A heartbeat due is sent and returned, so that
// a stream whose end depends on the clock looks at it again.
func (sw *sseWriter) wait(ctx context.Context, ready, gone <-chan struct{}) sseWake {
	select {
	case <-ready:
		return sseReady
	case <-gone:
		return sseGone
	case <-sw.hb.C:
		sw.buf = append(sw.buf[:0], ":heartbeat\n\n"...)
		if !sw.flush() {
			return sseEnd
		}
		return sseBeat
	case <-ctx.Done():
		return sseEnd
	case <-sw.s.ctx.Done():
		return sseEnd
	}
}
