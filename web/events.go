package web

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/quantum-alpaca/quantum/trading"
)

// Event stream limits.
const (
	// maxStreams bounds the event streams served at once: each holds a
	// subscription buffer and a goroutine.
	maxStreams = 32
	// streamBuffer is a stream's activity channel: a few seconds of a
	// busy fleet between two writes to a slow client.
	streamBuffer = 1024
	// streamWriteTimeout drops a client that stops reading, instead of
	// keeping its handler blocked in Write forever.
	streamWriteTimeout = 10 * time.Second
	// streamBatch bounds the activities written between two flushes.
	streamBatch = 256
)

// ActivityV1 is one of the engine's activities as the event stream
// carries it. Fields that do not apply to the kind are omitted.
type ActivityV1 struct {
	Time          time.Time `json:"time"`
	Kind          string    `json:"kind"`
	Tenant        string    `json:"tenant,omitempty"`
	ClientOrderID string    `json:"client_order_id,omitempty"`
	Symbol        string    `json:"symbol,omitempty"`
	Side          string    `json:"side,omitempty"`
	Type          string    `json:"type,omitempty"`
	Qty           string    `json:"qty,omitempty"`
	Notional      string    `json:"notional,omitempty"`
	Price         string    `json:"price,omitempty"`
	Status        string    `json:"status,omitempty"`
	State         string    `json:"state,omitempty"`
	Reason        string    `json:"reason,omitempty"`
}

func toActivityV1(a trading.Activity) ActivityV1 {
	return ActivityV1{Time: a.Time, Kind: string(a.Kind), Tenant: string(a.Tenant), ClientOrderID: a.ClientOrderID,
		Symbol: a.Symbol, Side: string(a.Side), Type: string(a.Type), Qty: nz(a.Qty), Notional: nz(a.Notional),
		Price: priceOrEmpty(a.Price), Status: string(a.Status), State: string(a.State), Reason: a.Reason}
}

// sse writes one Server-Sent Event whose data is v as one line of JSON.
func sse(w io.Writer, event string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "event: %s\ndata: %s\n\n", event, b)
	return err
}

// events streams, as Server-Sent Events: "tenants" (every tenant, at
// once and then every interval), "activity" (each engine activity as it
// happens) and "gap" (how many activities this stream missed because it
// fell behind; the engine never waits for a stream).
func (a *OpsAPI) events(w http.ResponseWriter, r *http.Request) {
	select {
	case a.streams <- struct{}{}:
		defer func() { <-a.streams }()
	default:
		writeError(w, trading.Errorf(trading.EUNAVAILABLE, "Too many event streams open (%d).", maxStreams))
		return
	}
	if !a.track() {
		writeError(w, trading.Errorf(trading.EUNAVAILABLE, "Shutting down."))
		return
	}
	defer a.wg.Done()
	// The remote address only: the request's headers hold the token.
	a.log.Debug("event stream opened", "remote", r.RemoteAddr)
	defer a.log.Debug("event stream closed", "remote", r.RemoteAddr)

	var c <-chan trading.Activity
	var sub Subscription
	if a.subscribe != nil {
		var unsub func()
		sub, unsub = a.subscribe(streamBuffer)
		defer unsub()
		c = sub.C()
	}
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	// Proxies such as nginx would otherwise hold events back.
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)

	flush := func() bool {
		_ = rc.SetWriteDeadline(time.Now().Add(streamWriteTimeout))
		return rc.Flush() == nil
	}
	snapshot := func() error {
		return sse(w, "tenants", map[string]any{"time": time.Now(), "tenants": a.snapshotV1()})
	}
	if _, err := io.WriteString(w, "retry: 2000\n\n"); err != nil || snapshot() != nil || !flush() {
		return
	}
	tick := time.NewTicker(a.interval)
	defer tick.Stop()
	var dropped uint64
	for {
		select {
		case <-r.Context().Done():
			return
		case <-a.ctx.Done():
			return
		case act := <-c:
			_ = rc.SetWriteDeadline(time.Now().Add(streamWriteTimeout))
			if sse(w, "activity", toActivityV1(act)) != nil {
				return
			}
			// Write what else is waiting before one flush.
		batch:
			for range streamBatch {
				select {
				case act = <-c:
					if sse(w, "activity", toActivityV1(act)) != nil {
						return
					}
				default:
					break batch
				}
			}
			if !flush() {
				return
			}
		case <-tick.C:
			if sub != nil {
				if d := sub.Dropped(); d > dropped {
					if sse(w, "gap", map[string]any{"time": time.Now(), "dropped": d - dropped, "total_dropped": d}) != nil {
						return
					}
					dropped = d
				}
			}
			if snapshot() != nil || !flush() {
				return
			}
		}
	}
}
