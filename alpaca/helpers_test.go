package alpaca_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quantum-alpaca/quantum/alpaca"
)

const (
	testKey    = "PKTESTKEY0001"
	testSecret = "s3cr3t-DO-NOT-LEAK-9f8e7d"
)

// MustClient returns a Client for srv with fast retries and no client-side
// rate limit, plus any extra options.
func MustClient(tb testing.TB, srv *httptest.Server, opts ...alpaca.Option) *alpaca.Client {
	tb.Helper()
	base := []alpaca.Option{
		alpaca.WithCredentials(testKey, testSecret),
		alpaca.WithRetry(3, time.Millisecond, 5*time.Millisecond),
		alpaca.WithRateLimit(0, 0),
		alpaca.WithDataRateLimit(0, 0),
		alpaca.WithTimeout(5 * time.Second),
	}
	c, err := alpaca.New(srv.URL, append(base, opts...)...)
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	tb.Cleanup(c.CloseIdleConnections)
	return c
}

// fault says what the fake broker does with one POST /v2/orders.
type fault int

const (
	faultNone           fault = iota
	fault500Before            // 500 without storing
	fault500After             // store, then 500
	faultDropBefore           // hijack and close without storing
	faultDropAfter            // store, then hijack and close
	faultSlowAfter            // store, then stall past the client's timeout
	fault429                  // 429 with Retry-After 0
	faultBuyingPower          // 403 insufficient buying power
	faultTruncatedAfter       // store, then send a 200 with a cut-off body
	faultInvalid              // 422 validation failure, not stored
	faultOddDuplicate         // 422 worded unlike a duplicate refusal, not stored (the order may exist already)
	faultDuplicate            // 422 "client_order_id must be unique", not stored
)

// broker is a fake order service keyed by client_order_id, with scripted
// faults on POST /v2/orders and optional faults on look-ups.
type broker struct {
	t  testing.TB
	mu sync.Mutex
	// orders by client_order_id
	orders map[string]*alpaca.Order
	// script is consumed one entry per POST; empty means faultNone.
	script []fault
	// lookupStatus, when non-zero, is returned by every look-up.
	lookupStatus int
	stall        time.Duration

	posts, lookups atomic.Int32
	bodies         []string
	seq            int
	// stored gets the client_order_id of every order stored, without
	// blocking: tests wait on it to act once the order exists.
	storedIDs chan string
}

func newBroker(t testing.TB, script ...fault) *broker {
	return &broker{t: t, orders: map[string]*alpaca.Order{}, script: script, stall: 300 * time.Millisecond,
		storedIDs: make(chan string, 64)}
}

func (b *broker) next() fault {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.script) == 0 {
		return faultNone
	}
	f := b.script[0]
	b.script = b.script[1:]
	return f
}

func (b *broker) stored() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.orders)
}

func (b *broker) store(req *alpaca.OrderRequest) (*alpaca.Order, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, dup := b.orders[req.ClientOrderID]; dup {
		return nil, false
	}
	b.seq++
	now := time.Date(2026, 1, 5, 15, 1, 2, 123456000, time.UTC)
	o := &alpaca.Order{
		ID: "ord-" + req.ClientOrderID, ClientOrderID: req.ClientOrderID, CreatedAt: now, SubmittedAt: &now,
		Symbol: req.Symbol, Side: req.Side, Type: req.Type, OrderType: req.Type, TimeInForce: req.TimeInForce,
		Qty: req.Qty, LimitPrice: req.LimitPrice, Status: alpaca.StatusAccepted, AssetClass: "us_equity",
	}
	b.orders[req.ClientOrderID] = o
	select {
	case b.storedIDs <- req.ClientOrderID:
	default:
	}
	return o, true
}

func (b *broker) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Apca-Api-Key-Id") != testKey || r.Header.Get("Apca-Api-Secret-Key") != testSecret {
		writeJSON(w, 401, map[string]any{"message": "unauthorized."})
		return
	}
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/v2/orders":
		b.posts.Add(1)
		raw, err := io.ReadAll(r.Body)
		if err != nil || len(raw) == 0 {
			b.t.Errorf("POST /v2/orders: empty or unreadable body (err %v)", err)
			writeJSON(w, 400, map[string]any{"code": 40010000, "message": "request body format is invalid"})
			return
		}
		b.mu.Lock()
		b.bodies = append(b.bodies, string(raw))
		b.mu.Unlock()
		var req alpaca.OrderRequest
		if err := json.Unmarshal(raw, &req); err != nil {
			writeJSON(w, 400, map[string]any{"code": 40010000, "message": "request body format is invalid"})
			return
		}
		f := b.next()
		switch f {
		case fault500Before:
			writeJSON(w, 500, map[string]any{"code": 50010000, "message": "internal server error occurred"})
			return
		case faultDropBefore:
			hijackClose(w)
			return
		case fault429:
			w.Header().Set("Retry-After", "0")
			writeJSON(w, 429, map[string]any{"code": 42910000, "message": "rate limit exceeded"})
			return
		case faultBuyingPower:
			writeJSON(w, 403, map[string]any{"code": 40310000, "message": "insufficient buying power",
				"buying_power": "10.00", "cost_basis": "1805.00"})
			return
		case faultInvalid:
			writeJSON(w, 422, map[string]any{"code": 40010001, "message": "qty is required"})
			return
		case faultOddDuplicate:
			writeJSON(w, 422, map[string]any{"code": 40010001, "message": "an order with this id exists"})
			return
		case faultDuplicate:
			writeJSON(w, 422, map[string]any{"code": 40010001, "message": "client_order_id must be unique"})
			return
		}
		o, ok := b.store(&req)
		if !ok {
			writeJSON(w, 422, map[string]any{"code": 40010001, "message": "client_order_id must be unique"})
			return
		}
		switch f {
		case fault500After:
			writeJSON(w, 500, map[string]any{"code": 50010000, "message": "internal server error occurred"})
		case faultDropAfter:
			hijackClose(w)
		case faultSlowAfter:
			select {
			case <-time.After(b.stall):
			case <-r.Context().Done():
			}
			writeJSON(w, 200, o)
		case faultTruncatedAfter:
			w.Header().Set("Content-Length", "4000")
			w.WriteHeader(200)
			io.WriteString(w, `{"id":"`)
			w.(http.Flusher).Flush()
			hijackClose(w)
		default:
			writeJSON(w, 200, o)
		}
	case r.Method == http.MethodGet && r.URL.Path == "/v2/orders:by_client_order_id":
		b.lookups.Add(1)
		if b.lookupStatus != 0 {
			writeJSON(w, b.lookupStatus, map[string]any{"code": b.lookupStatus * 100000, "message": "lookup failed"})
			return
		}
		id := r.URL.Query().Get("client_order_id")
		b.mu.Lock()
		o := b.orders[id]
		b.mu.Unlock()
		if o == nil {
			writeJSON(w, 404, map[string]any{"code": 40410000, "message": "order not found for " + id})
			return
		}
		writeJSON(w, 200, o)
	case r.Method == http.MethodGet && r.URL.Path == "/v2/account":
		io.WriteString(w, mustRead(b.t, "testdata/account.json"))
	default:
		writeJSON(w, 404, map[string]any{"code": 40410000, "message": "endpoint not found"})
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Request-ID", "req-test-1")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// hijackClose drops the connection without a reply.
func hijackClose(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic("no hijacker")
	}
	conn, _, err := hj.Hijack()
	if err == nil {
		conn.Close()
	}
}

func mustRead(tb testing.TB, path string) string {
	tb.Helper()
	b, err := readTestdata(path)
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

func containsSecret(s string) bool { return strings.Contains(s, testSecret) }

func readTestdata(path string) ([]byte, error) { return os.ReadFile(path) }

// safetyNet bounds waits for events that are due. It is not part of what
// a test asserts: the event arrives long before it on any machine, and
// the bound only stops a broken build from hanging.
const safetyNet = 30 * time.Second

// logEvents is a slog.Handler that hands the records with one message to
// a test, so that it can wait for the client to reach the point it logs:
// "alpaca: retrying request" is logged once the client has decided how
// long to wait before a retry (and, after a 429, paused the host for that
// long), just before it starts waiting.
type logEvents struct {
	msg string
	ch  chan slog.Record
}

func newLogEvents(msg string) *logEvents {
	return &logEvents{msg: msg, ch: make(chan slog.Record, 64)}
}

func (l *logEvents) Enabled(context.Context, slog.Level) bool { return true }

func (l *logEvents) Handle(_ context.Context, r slog.Record) error {
	if r.Message == l.msg {
		select {
		case l.ch <- r.Clone():
		default:
		}
	}
	return nil
}

func (l *logEvents) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logEvents) WithGroup(string) slog.Handler      { return l }

// next waits for the next record.
func (l *logEvents) next(tb testing.TB) slog.Record {
	tb.Helper()
	select {
	case r := <-l.ch:
		return r
	case <-time.After(safetyNet):
		tb.Fatalf("no %q record within %v", l.msg, safetyNet)
	}
	return slog.Record{}
}

// attr returns the value of a record's attribute.
func attr(r slog.Record, key string) slog.Value {
	var v slog.Value
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == key {
			v = a.Value
			return false
		}
		return true
	})
	return v
}

// await waits for a call running on another goroutine to return.
func await[T any](tb testing.TB, ch <-chan T, what string) T {
	tb.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(safetyNet):
		tb.Fatalf("%s: did not return within %v", what, safetyNet)
	}
	var zero T
	return zero
}
