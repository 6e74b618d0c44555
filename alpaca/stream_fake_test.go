package alpaca_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/quantum-alpaca/quantum/alpaca"
)

// A small fake of Alpaca's three streaming endpoints, served over real
// TCP by httptest: SSE trade events with since_id replay and heartbeats,
// the trade_updates websocket and the market-data websocket. Each has
// switches for the failures the client must survive.

const (
	streamTestKey    = "PKTESTKEY123"
	streamTestSecret = "s3cr3t-do-not-print"
)

func streamEventID(n int) string { return fmt.Sprintf("01HZZZ%020d", n) }

func streamTestUpdate(n int) alpaca.TradeUpdate {
	return alpaca.TradeUpdate{
		At:      time.Date(2026, 1, 5, 15, 0, 0, n, time.UTC),
		Event:   "fill",
		EventID: streamEventID(n),
		Order: alpaca.Order{
			ID:            fmt.Sprintf("order-%d", n),
			ClientOrderID: fmt.Sprintf("coid-%d", n),
			Symbol:        "AAPL",
			Status:        alpaca.StatusFilled,
		},
	}
}

// fakeTradeEvents serves GET /v2/events/trades.
type fakeTradeEvents struct {
	mu      sync.Mutex
	events  []alpaca.TradeUpdate
	changed chan struct{} // closed and replaced on every append
	queries []url.Values

	heartbeat   time.Duration // 0: none
	abortAfter  int           // abort each connection after sending this many events; 0: never
	silentConns int           // this many upcoming connections send nothing at all
	inclusive   bool          // replay since_id itself too, as a sloppy server might
}

func newFakeTradeEvents() *fakeTradeEvents {
	return &fakeTradeEvents{changed: make(chan struct{})}
}

func (f *fakeTradeEvents) add(from, to int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for n := from; n <= to; n++ {
		f.events = append(f.events, streamTestUpdate(n))
	}
	close(f.changed)
	f.changed = make(chan struct{})
}

func (f *fakeTradeEvents) requests() []url.Values {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.queries)
}

func (f *fakeTradeEvents) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("APCA-API-KEY-ID") != streamTestKey || r.Header.Get("APCA-API-SECRET-KEY") != streamTestSecret {
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
		case <-r.Context().Done():
			return
		}
	}
}

// fakeTradeSocket serves the trade_updates websocket at /stream. It does
// not replay: a connection sees events published while it is listening.
type fakeTradeSocket struct {
	t      testing.TB
	mu     sync.Mutex
	conns  map[*websocket.Conn]bool // value: msgpack
	noPong bool                     // stop reading after listen, so pings go unanswered
}

func newFakeTradeSocket(t testing.TB) *fakeTradeSocket {
	return &fakeTradeSocket{t: t, conns: map[*websocket.Conn]bool{}}
}

func (f *fakeTradeSocket) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	defer c.CloseNow()
	useMsgpack := r.Header.Get("Content-Type") == "application/msgpack"
	ctx := r.Context()
	send := func(v any) error {
		// The paper server sends JSON in binary frames; do the same.
		var b []byte
		if useMsgpack {
			b, _ = msgpack.Marshal(v)
		} else {
			b, _ = json.Marshal(v)
		}
		return c.Write(ctx, websocket.MessageBinary, b)
	}
	var authed bool
	for {
		_, msg, err := c.Read(ctx)
		if err != nil {
			return
		}
		var req struct {
			Action string `json:"action" msgpack:"action"`
			Data   struct {
				KeyID     string   `json:"key_id" msgpack:"key_id"`
				SecretKey string   `json:"secret_key" msgpack:"secret_key"`
				Streams   []string `json:"streams" msgpack:"streams"`
			} `json:"data" msgpack:"data"`
		}
		if err := streamDecodeEither(msg, &req); err != nil {
			f.t.Errorf("fake trade socket: bad request %q: %v", msg, err)
			return
		}
		switch req.Action {
		case "authenticate":
			authed = req.Data.KeyID == streamTestKey && req.Data.SecretKey == streamTestSecret
			status := "authorized"
			if !authed {
				status = "unauthorized"
			}
			data := map[string]any{"action": "authenticate", "status": status}
			if !authed {
				data["message"] = "access key verification failed"
			}
			if send(map[string]any{"stream": "authorization", "data": data}) != nil || !authed {
				return
			}
		case "listen":
			if !authed {
				send(map[string]any{"stream": "authorization", "data": map[string]any{"action": "listen", "status": "unauthorized"}})
				return
			}
			// Registered before the ack, so a client that has the ack
			// gets everything published after it.
			f.mu.Lock()
			f.conns[c] = useMsgpack
			f.mu.Unlock()
			defer func() {
				f.mu.Lock()
				delete(f.conns, c)
				f.mu.Unlock()
			}()
			if send(map[string]any{"stream": "listening", "data": map[string]any{"streams": req.Data.Streams}}) != nil {
				return
			}
			if f.noPong {
				<-ctx.Done()
				return
			}
		}
	}
}

// publish sends updates to every listening connection.
func (f *fakeTradeSocket) publish(from, to int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for c, useMsgpack := range f.conns {
		for n := from; n <= to; n++ {
			frame := map[string]any{"stream": "trade_updates", "data": streamTestUpdate(n)}
			var b []byte
			if useMsgpack {
				// Through JSON first, so the msgpack map carries the same
				// keys and string decimals a real server would send.
				j, _ := json.Marshal(frame)
				var v map[string]any
				json.Unmarshal(j, &v)
				b, _ = msgpack.Marshal(v)
			} else {
				b, _ = json.Marshal(frame)
			}
			c.Write(context.Background(), websocket.MessageBinary, b)
		}
	}
}

func (f *fakeTradeSocket) listening() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.conns)
}

func (f *fakeTradeSocket) dropAll() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for c := range f.conns {
		c.CloseNow()
	}
}

// fakeMarketData serves the market-data websocket at /v2/{feed}.
type fakeMarketData struct {
	t  testing.TB
	mu sync.Mutex
	// current subscription per connection; requests as received, in order
	conns    map[*websocket.Conn]*fakeMDConn
	requests []map[string]any

	authErrCode  int // reply to auth with this error code
	authErrTimes int // ... this many times (0 with a code: always)
	rejectSymbol string
	rejectCode   int
	connections  int
}

type fakeMDConn struct {
	c       *websocket.Conn
	msgpack bool
	subs    map[string]map[string]bool
}

func newFakeMarketData(t testing.TB) *fakeMarketData {
	return &fakeMarketData{t: t, conns: map[*websocket.Conn]*fakeMDConn{}}
}

var fakeMDChannels = []string{"trades", "quotes", "bars", "dailyBars", "updatedBars"}

func (f *fakeMarketData) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	defer c.CloseNow()
	c.SetReadLimit(1 << 20)
	ctx := r.Context()
	fc := &fakeMDConn{c: c, msgpack: r.Header.Get("Content-Type") == "application/msgpack", subs: map[string]map[string]bool{}}
	for _, ch := range fakeMDChannels {
		fc.subs[ch] = map[string]bool{}
	}
	f.mu.Lock()
	f.connections++
	f.mu.Unlock()
	if fc.write(ctx, map[string]any{"T": "success", "msg": "connected"}) != nil {
		return
	}
	for {
		_, msg, err := c.Read(ctx)
		if err != nil {
			return
		}
		var req map[string]any
		if err := streamDecodeEither(msg, &req); err != nil {
			f.t.Errorf("fake market data: bad request %q: %v", msg, err)
			return
		}
		f.mu.Lock()
		f.requests = append(f.requests, req)
		f.mu.Unlock()
		switch req["action"] {
		case "auth":
			f.mu.Lock()
			code := f.authErrCode
			if code != 0 && f.authErrTimes > 0 {
				f.authErrTimes--
				if f.authErrTimes == 0 {
					f.authErrCode = 0
				}
			}
			f.mu.Unlock()
			if code == 0 && (req["key"] != streamTestKey || req["secret"] != streamTestSecret) {
				code = 402
			}
			if code != 0 {
				fc.write(ctx, map[string]any{"T": "error", "code": code, "msg": fmt.Sprintf("error %d", code)})
				return
			}
			f.mu.Lock()
			f.conns[c] = fc
			f.mu.Unlock()
			defer func() {
				f.mu.Lock()
				delete(f.conns, c)
				f.mu.Unlock()
			}()
			if fc.write(ctx, map[string]any{"T": "success", "msg": "authenticated"}) != nil {
				return
			}
		case "subscribe", "unsubscribe":
			f.mu.Lock()
			reject := f.rejectSymbol
			rejectCode := f.rejectCode
			f.mu.Unlock()
			rejected := false
			for _, ch := range fakeMDChannels {
				list, _ := req[ch].([]any)
				for _, s := range list {
					if s == reject && req["action"] == "subscribe" {
						rejected = true
					}
				}
			}
			if rejected {
				fc.write(ctx, map[string]any{"T": "error", "code": rejectCode, "msg": "rejected"})
				continue
			}
			echo := map[string]any{"T": "subscription"}
			f.mu.Lock()
			for _, ch := range fakeMDChannels {
				list, _ := req[ch].([]any)
				for _, s := range list {
					if req["action"] == "subscribe" {
						fc.subs[ch][s.(string)] = true
					} else {
						delete(fc.subs[ch], s.(string))
					}
				}
				syms := []string{}
				for s := range fc.subs[ch] {
					syms = append(syms, s)
				}
				slices.Sort(syms)
				echo[ch] = syms
			}
			f.mu.Unlock()
			if fc.write(ctx, echo) != nil {
				return
			}
		}
	}
}

// write sends messages as one array frame in the connection's codec.
func (fc *fakeMDConn) write(ctx context.Context, msgs ...map[string]any) error {
	var b []byte
	if fc.msgpack {
		b, _ = msgpack.Marshal(msgs)
		return fc.c.Write(ctx, websocket.MessageBinary, b)
	}
	b, _ = json.Marshal(msgs)
	return fc.c.Write(ctx, websocket.MessageText, b)
}

// push sends one frame of messages to every authenticated connection.
func (f *fakeMarketData) push(msgs ...map[string]any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, fc := range f.conns {
		fc.write(context.Background(), msgs...)
	}
}

func (f *fakeMarketData) dropAll() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for c := range f.conns {
		c.CloseNow()
	}
}

func (f *fakeMarketData) subscribeRequests() []map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []map[string]any
	for _, r := range f.requests {
		if r["action"] != "auth" {
			out = append(out, r)
		}
	}
	return out
}

// streamDecodeEither decodes a JSON or msgpack request, telling them apart the
// way the client does.
func streamDecodeEither(msg []byte, v any) error {
	if b := bytes.TrimSpace(msg); len(b) > 0 && (b[0] == '{' || b[0] == '[') {
		return json.Unmarshal(b, v)
	}
	return msgpack.Unmarshal(msg, v)
}

// newFakeStreamServer serves all three fakes on one real TCP listener.
func newFakeStreamServer(t testing.TB) (*httptest.Server, *fakeTradeEvents, *fakeTradeSocket, *fakeMarketData) {
	t.Helper()
	sse, ts, md := newFakeTradeEvents(), newFakeTradeSocket(t), newFakeMarketData(t)
	mux := http.NewServeMux()
	mux.Handle("GET /v2/events/trades", sse)
	mux.Handle("/stream", ts)
	mux.Handle("/v2/{feed}", md)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, sse, ts, md
}

// streamRecv waits for one value from ch.
func streamRecv[T any](tb testing.TB, ch <-chan T, within time.Duration, what string) T {
	tb.Helper()
	select {
	case v, ok := <-ch:
		if !ok {
			tb.Fatalf("%s: channel closed", what)
		}
		return v
	case <-time.After(within):
		tb.Fatalf("%s: nothing within %v", what, within)
	}
	var zero T
	return zero
}

// streamRunBG runs fn(ctx) and returns a stop func that cancels it and
// returns its error, failing the test if it does not return promptly.
func streamRunBG(tb testing.TB, run func(context.Context) error) (stop func() error, done <-chan error) {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- run(ctx) }()
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case err = <-errc:
			case <-time.After(2 * time.Second):
				tb.Fatalf("Run did not return within 2s of cancel")
			}
		})
		return err
	}
	tb.Cleanup(func() { cancel() })
	return stop, errc
}

// streamWaitGoroutines waits for the goroutine count to fall back to at most
// base, and fails with a dump of what is left if it does not.
func streamWaitGoroutines(tb testing.TB, base int) {
	tb.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		n := runtime.NumGoroutine()
		if n <= base {
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			tb.Fatalf("goroutines: got %d, want <= %d\n%s", n, base, buf)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// noStreamGoroutines fails if any goroutine is still inside the stream
// code; unlike a count, this is immune to unrelated goroutines.
func noStreamGoroutines(tb testing.TB) {
	tb.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		var left []string
		for _, g := range strings.Split(string(buf), "\n\n") {
			if strings.Contains(g, "quantum/alpaca.") && !strings.Contains(g, "alpaca_test.") {
				left = append(left, g)
			}
		}
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("stream goroutines still running:\n%s", strings.Join(left, "\n\n"))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func streamFastOptions(extra ...alpaca.StreamOption) []alpaca.StreamOption {
	return append([]alpaca.StreamOption{
		alpaca.WithStreamCredentials(streamTestKey, streamTestSecret),
		alpaca.WithReconnectBackoff(10*time.Millisecond, 50*time.Millisecond),
		alpaca.WithHandshakeTimeout(2 * time.Second),
	}, extra...)
}
