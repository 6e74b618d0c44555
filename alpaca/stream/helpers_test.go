package stream_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quantum-alpaca/quantum/alpaca"
	"github.com/quantum-alpaca/quantum/alpaca/stream"
)

// A small fake of Alpaca's three streaming endpoints, served over real
// TCP by httptest: SSE trade events with since_id replay and heartbeats,
// the trade_updates websocket and the market-data websocket. Each has
// switches for the failures the client must survive.

const (
	testKey    = "PKTESTKEY123"
	testSecret = "s3cr3t-do-not-print"
)

func eventID(n int) string { return fmt.Sprintf("01HZZZ%020d", n) }

func testUpdate(n int) alpaca.TradeUpdate {
	return alpaca.TradeUpdate{
		At:      time.Date(2026, 1, 5, 15, 0, 0, n, time.UTC),
		Event:   "fill",
		EventID: eventID(n),
		Order: alpaca.Order{
			ID:            fmt.Sprintf("order-%d", n),
			ClientOrderID: fmt.Sprintf("coid-%d", n),
			Symbol:        "AAPL",
			Status:        alpaca.StatusFilled,
		},
	}
}

// newFakeServer serves all three fakes on one real TCP listener.
func newFakeServer(t testing.TB) (*httptest.Server, *fakeTradeEvents, *fakeTradeSocket, *fakeMarketData) {
	t.Helper()
	sse, ts, md := newFakeTradeEvents(), newFakeTradeSocket(t), newFakeMarketData(t)
	mux := http.NewServeMux()
	mux.Handle("GET /v2/events/trades", sse)
	mux.Handle("/stream", ts)
	mux.Handle("/v2/{feed}", md)
	mux.Handle("/v1beta3/crypto/{loc}", md) // the crypto stream speaks the same protocol
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, sse, ts, md
}

// safetyNet bounds every wait for an event. It is not part of what the
// tests assert: an event that is due arrives long before it on any
// machine, and the bound only stops a broken build from hanging.
const safetyNet = 10 * time.Second

// recv waits for one value from ch.
func recv[T any](tb testing.TB, ch <-chan T, what string) T {
	tb.Helper()
	select {
	case v, ok := <-ch:
		if !ok {
			tb.Fatalf("%s: channel closed", what)
		}
		return v
	case <-time.After(safetyNet):
		tb.Fatalf("%s: nothing within %v", what, safetyNet)
	}
	var zero T
	return zero
}

// notify does a non-blocking send, for callbacks that report events to a
// test: a buffered channel keeps what the test has not read yet, and a
// callback never blocks the client that calls it.
func notify[T any](ch chan T, v T) {
	select {
	case ch <- v:
	default:
	}
}

// runBG runs fn(ctx) and returns a stop func that cancels it and
// returns its error, failing the test if it does not return at all.
func runBG(tb testing.TB, run func(context.Context) error) (stop func() error, done <-chan error) {
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
			case <-time.After(safetyNet):
				tb.Fatalf("Run did not return within %v of cancel", safetyNet)
			}
		})
		return err
	}
	tb.Cleanup(func() { cancel() })
	return stop, errc
}

// waitGoroutines waits for the goroutine count to fall back to at most
// base, and fails with a dump of what is left if it does not.
func waitGoroutines(tb testing.TB, base int) {
	tb.Helper()
	deadline := time.After(safetyNet)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		n := runtime.NumGoroutine()
		if n <= base {
			return
		}
		select {
		case <-deadline:
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			tb.Fatalf("goroutines: got %d, want <= %d\n%s", n, base, buf)
		case <-tick.C: // goroutines announce no exit: look again
		}
	}
}

// noStreamGoroutines fails if any goroutine is still inside the stream
// code; unlike a count, this is immune to unrelated goroutines.
func noStreamGoroutines(tb testing.TB) {
	tb.Helper()
	deadline := time.After(safetyNet)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		var left []string
		for _, g := range strings.Split(string(buf), "\n\n") {
			if strings.Contains(g, "quantum/alpaca/stream.") && !strings.Contains(g, "stream_test.") {
				left = append(left, g)
			}
		}
		if len(left) == 0 {
			return
		}
		select {
		case <-deadline:
			tb.Fatalf("stream goroutines still running:\n%s", strings.Join(left, "\n\n"))
		case <-tick.C:
		}
	}
}

func fastOptions(extra ...stream.Option) []stream.Option {
	return append([]stream.Option{
		stream.WithCredentials(testKey, testSecret),
		stream.WithReconnectBackoff(10*time.Millisecond, 50*time.Millisecond),
		stream.WithHandshakeTimeout(safetyNet),
	}, extra...)
}
