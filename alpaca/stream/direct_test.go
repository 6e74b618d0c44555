package stream_test

import (
	"log"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/quantum-alpaca/quantum/alpaca/stream"
)

// The SSE stream's own connection speaks TLS to an https base URL and
// verifies the server against the configured roots.
func TestSSEStreamDirectTLS(t *testing.T) {
	fake := newFakeTradeEvents()
	srv := httptest.NewUnstartedServer(fake)
	// The server logs each handshake the client refuses below.
	refused := make(chan string, 64)
	srv.Config.ErrorLog = log.New(lineFunc(func(line string) {
		if strings.Contains(line, "TLS handshake error") {
			notify(refused, line)
		}
	}), "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	roots := srv.Client().Transport.(*http.Transport).TLSClientConfig

	s, err := stream.NewTradeEvents(srv.URL, fastOptions(stream.WithTLSConfig(roots))...)
	if err != nil {
		t.Fatal(err)
	}
	stop, _ := runBG(t, s.Run)
	recv(t, s.ResyncNeeded(), "connect")
	fake.add(1, 3)
	for n := 1; n <= 3; n++ {
		if tu := recv(t, s.Updates(), "update"); tu.EventID != eventID(n) {
			t.Fatalf("update %d: got %s", n, tu.EventID)
		}
	}
	_ = stop()

	// Without the test CA the handshake fails and the stream keeps
	// retrying rather than trusting the server: wait until the server has
	// seen it refuse twice.
	untrusted, err := stream.NewTradeEvents(srv.URL, fastOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	stop, _ = runBG(t, untrusted.Run)
	recv(t, refused, "first refused handshake")
	recv(t, refused, "second refused handshake")
	_ = stop()
	if st := untrusted.Stats(); st.Connects != 0 || st.Reconnects == 0 {
		t.Errorf("stats: got %+v, want no connects and a retry", st)
	}
}

// A connected SSE stream costs one goroutine, the reader: nothing of
// net/http's runs for its connection.
func TestSSEStreamDirectGoroutines(t *testing.T) {
	srv, fake, _, _ := newFakeServer(t)
	fake.heartbeat = 10 * time.Millisecond
	const n = 20
	before := runtime.NumGoroutine()
	var stops []func() error
	var streams []*stream.TradeEvents
	for range n {
		connected := make(chan struct{}, 1)
		s, err := stream.NewTradeEvents(srv.URL, fastOptions(
			stream.WithResumeAfter(eventID(0)),
			stream.WithConnectHandlers(func() { notify(connected, struct{}{}) }, nil),
		)...)
		if err != nil {
			t.Fatal(err)
		}
		stop, _ := runBG(t, s.Run)
		stops = append(stops, stop)
		recv(t, connected, "connect")
		streams = append(streams, s)
	}
	// Every stream receives an event: each reader, and each connection's
	// server side, is in its steady state.
	fake.add(1, 1)
	for _, s := range streams {
		if tu := recv(t, s.Updates(), "update"); tu.EventID != eventID(1) {
			t.Fatalf("got %s, want %s", tu.EventID, eventID(1))
		}
	}
	perStream := float64(runtime.NumGoroutine()-before) / n
	for _, stop := range stops {
		_ = stop()
	}
	// Client side: the reader, which is Run's goroutine. Server side: the
	// connection's goroutine and its background reader. Through
	// http.Client the client side would add two more (read and write
	// loops).
	if perStream > 3.5 {
		t.Errorf("%.1f goroutines per stream (client and test server together), want at most 3", perStream)
	}
	t.Logf("%.1f goroutines per stream, client and server", perStream)
}

// lineFunc is an io.Writer that hands each write (a log line) to a func.
type lineFunc func(string)

func (f lineFunc) Write(p []byte) (int, error) {
	f(string(p))
	return len(p), nil
}
