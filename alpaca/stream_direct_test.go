package alpaca_test

import (
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"
	"time"

	"github.com/quantum-alpaca/quantum/alpaca"
)

// The SSE stream's own connection speaks TLS to an https base URL and
// verifies the server against the configured roots.
func TestSSEStreamDirectTLS(t *testing.T) {
	fake := newFakeTradeEvents()
	srv := httptest.NewUnstartedServer(fake)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake below
	srv.StartTLS()
	t.Cleanup(srv.Close)
	roots := srv.Client().Transport.(*http.Transport).TLSClientConfig

	s, err := alpaca.NewTradeUpdateStream(srv.URL, streamFastOptions(alpaca.WithStreamTLSConfig(roots))...)
	if err != nil {
		t.Fatal(err)
	}
	stop, _ := streamRunBG(t, s.Run)
	streamRecv(t, s.ResyncNeeded(), 2*time.Second, "connect")
	fake.add(1, 3)
	for n := 1; n <= 3; n++ {
		if tu := streamRecv(t, s.Updates(), 2*time.Second, "update"); tu.EventID != streamEventID(n) {
			t.Fatalf("update %d: got %s", n, tu.EventID)
		}
	}
	_ = stop()

	// Without the test CA the handshake fails and the stream keeps
	// retrying rather than trusting the server.
	untrusted, err := alpaca.NewTradeUpdateStream(srv.URL, streamFastOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	stop, _ = streamRunBG(t, untrusted.Run)
	time.Sleep(100 * time.Millisecond)
	_ = stop()
	if st := untrusted.Stats(); st.Connects != 0 {
		t.Errorf("connected to an untrusted server: %+v", st)
	}
}

// A connected SSE stream costs one goroutine, the reader: nothing of
// net/http's runs for its connection.
func TestSSEStreamDirectGoroutines(t *testing.T) {
	srv, fake, _, _ := newFakeStreamServer(t)
	fake.heartbeat = 10 * time.Millisecond
	const n = 20
	before := runtime.NumGoroutine()
	var stops []func() error
	for range n {
		connected := make(chan struct{}, 1)
		s, err := alpaca.NewTradeUpdateStream(srv.URL, streamFastOptions(
			alpaca.WithResumeAfter(streamEventID(0)),
			alpaca.WithConnectHandlers(func() { connected <- struct{}{} }, nil),
		)...)
		if err != nil {
			t.Fatal(err)
		}
		stop, _ := streamRunBG(t, s.Run)
		stops = append(stops, stop)
		streamRecv(t, connected, 2*time.Second, "connect")
	}
	time.Sleep(50 * time.Millisecond)
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
