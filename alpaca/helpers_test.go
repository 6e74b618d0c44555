package alpaca_test

import (
	"encoding/json"
	"io"
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
}

func newBroker(t testing.TB, script ...fault) *broker {
	return &broker{t: t, orders: map[string]*alpaca.Order{}, script: script, stall: 300 * time.Millisecond}
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
