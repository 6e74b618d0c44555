package stream_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/quantum-alpaca/quantum/alpaca"
)

// fakeTradeEvents serves GET /v2/events/trades.
type fakeTradeEvents struct {
	mu      sync.Mutex
	events  []alpaca.TradeUpdate
	changed chan struct{} // closed and replaced on every append
	queries []url.Values

	heartbeat   time.Duration // 0: none
	beats       chan struct{} // one value per heartbeat written
	abortAfter  int           // abort each connection after sending this many events; 0: never
	silentConns int           // this many upcoming connections send nothing at all
	inclusive   bool          // replay since_id itself too, as a sloppy server might
}

func newFakeTradeEvents() *fakeTradeEvents {
	return &fakeTradeEvents{changed: make(chan struct{}), beats: make(chan struct{}, 4096)}
}

func (f *fakeTradeEvents) add(from, to int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for n := from; n <= to; n++ {
		f.events = append(f.events, testUpdate(n))
	}
	close(f.changed)
	f.changed = make(chan struct{})
}

// awaitBeats waits until the server has written n more heartbeats: proof
// that at least n heartbeat intervals have passed on its side, whatever
// the client did with them meanwhile.
func (f *fakeTradeEvents) awaitBeats(tb testing.TB, n int) {
	tb.Helper()
	for i := 0; i < n; i++ {
		recv(tb, f.beats, fmt.Sprintf("heartbeat %d of %d", i+1, n))
	}
}

// skipBeats forgets the heartbeats written so far.
func (f *fakeTradeEvents) skipBeats() {
	for {
		select {
		case <-f.beats:
		default:
			return
		}
	}
}

func (f *fakeTradeEvents) requests() []url.Values {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.queries)
}

func (f *fakeTradeEvents) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("APCA-API-KEY-ID") != testKey || r.Header.Get("APCA-API-SECRET-KEY") != testSecret {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"message":"unauthorized."}`)
		return
	}
	q := r.URL.Query()
	f.mu.Lock()
	f.queries = append(f.queries, q)
	silent := f.silentConns > 0
	if silent {
		f.silentConns--
	}
	f.mu.Unlock()

	// Without since_id the stream is live only: start after what exists.
	// The cursor is fixed before the headers go out, so that a client that
	// has seen the response sees every event added after it.
	cursor, untilID := q.Get("since_id"), q.Get("until_id")
	f.mu.Lock()
	if cursor == "" && len(f.events) > 0 {
		cursor = f.events[len(f.events)-1].EventID
	} else if f.inclusive && cursor != "" {
		cursor = cursor[:len(cursor)-1] + string(cursor[len(cursor)-1]-1)
	}
	f.mu.Unlock()

	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	fl := w.(http.Flusher)
	fl.Flush()
	if silent {
		<-r.Context().Done()
		return
	}

	var hb <-chan time.Time
	if f.heartbeat > 0 {
		t := time.NewTicker(f.heartbeat)
		defer t.Stop()
		hb = t.C
	}
	sent := 0
	for {
		f.mu.Lock()
		var pending []alpaca.TradeUpdate
		for _, ev := range f.events {
			if ev.EventID > cursor {
				pending = append(pending, ev)
			}
		}
		changed := f.changed
		f.mu.Unlock()
		for _, ev := range pending {
			b, _ := json.Marshal(ev)
			fmt.Fprintf(w, "data: %s\n\n", b)
			fl.Flush()
			cursor = ev.EventID
			sent++
			if untilID != "" && cursor >= untilID {
				return
			}
			if f.abortAfter > 0 && sent == f.abortAfter {
				panic(http.ErrAbortHandler) // drop the TCP connection mid-stream
			}
		}
		select {
		case <-changed:
		case <-hb:
			fmt.Fprint(w, ":heartbeat\n\n")
			fl.Flush()
			notify(f.beats, struct{}{})
		case <-r.Context().Done():
			return
		}
	}
}
