package alpaca_test

import (
	"context"
	"errors"
	"net/http"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quantum-alpaca/quantum/alpaca"
)

func TestSSEStreamResumesWithoutGapOrDuplicate(t *testing.T) {
	srv, fake, _, _ := newFakeStreamServer(t)
	fake.abortAfter = 3   // every connection dies mid-stream after 3 events
	fake.inclusive = true // and each resume replays the since_id event again
	fake.heartbeat = 20 * time.Millisecond

	connected := make(chan struct{}, 16)
	var disconnects atomic.Int32
	s, err := alpaca.NewTradeUpdateStream(srv.URL, streamFastOptions(
		alpaca.WithConnectHandlers(func() { connected <- struct{}{} }, func(error) { disconnects.Add(1) }),
	)...)
	if err != nil {
		t.Fatal(err)
	}
	stop, _ := streamRunBG(t, s.Run)
	streamRecv(t, connected, 2*time.Second, "first connect")
	// Live-only start: the caller must sweep once.
	streamRecv(t, s.ResyncNeeded(), time.Second, "resync after live-only start")

	const total = 10
	fake.add(1, total)
	for n := 1; n <= total; n++ {
		tu := streamRecv(t, s.Updates(), 3*time.Second, "update")
		if got, want := tu.EventID, streamEventID(n); got != want {
			t.Fatalf("update %d: got event %s, want %s", n, got, want)
		}
		if got, want := tu.Order.ClientOrderID, streamTestUpdate(n).Order.ClientOrderID; got != want {
			t.Fatalf("update %d: got client order id %s, want %s", n, got, want)
		}
	}
	if got, want := s.LastEventID(), streamEventID(total); got != want {
		t.Errorf("LastEventID: got %s, want %s", got, want)
	}
	select {
	case tu := <-s.Updates():
		t.Fatalf("extra update %s", tu.EventID)
	case <-time.After(100 * time.Millisecond):
	}
	select {
	case <-s.ResyncNeeded():
		t.Error("resync signalled after a resumable reconnect")
	default:
	}
	if err := stop(); !errors.Is(err, context.Canceled) {
		t.Errorf("Run: got %v, want context.Canceled", err)
	}

	st := s.Stats()
	if st.Received != total {
		t.Errorf("Received: got %d, want %d", st.Received, total)
	}
	if st.Reconnects < 3 || st.Duplicates < 3 {
		t.Errorf("stats: got %+v, want >= 3 reconnects and >= 3 duplicates", st)
	}
	if disconnects.Load() < 3 {
		t.Errorf("OnDisconnect calls: got %d, want >= 3", disconnects.Load())
	}
	reqs := fake.requests()
	if reqs[0].Has("since_id") {
		t.Errorf("first request resumed: %v", reqs[0])
	}
	if got, want := reqs[1].Get("since_id"), streamEventID(3); got != want {
		t.Errorf("second request since_id: got %q, want %q", got, want)
	}
}

func TestSSEStreamResumeAfterAndUntilID(t *testing.T) {
	srv, fake, _, _ := newFakeStreamServer(t)
	fake.add(1, 9)
	s, err := alpaca.NewTradeUpdateStream(srv.URL, streamFastOptions(
		alpaca.WithResumeAfter(streamEventID(3)),
		alpaca.WithUntilID(streamEventID(6)),
	)...)
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- s.Run(context.Background()) }()
	var got []string
	for tu := range s.Updates() {
		got = append(got, tu.EventID)
	}
	if err := <-errc; err != nil {
		t.Fatalf("Run: got %v, want nil at until_id", err)
	}
	want := []string{streamEventID(4), streamEventID(5), streamEventID(6)}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("events: got %v, want %v", got, want)
	}
	select {
	case <-s.ResyncNeeded():
		t.Error("resync signalled for a resumed stream")
	default:
	}
}

func TestSSEWatchdogRedialsSilentConnection(t *testing.T) {
	srv, fake, _, _ := newFakeStreamServer(t)
	fake.silentConns = 1 // first connection: headers, then nothing, not even heartbeats
	fake.heartbeat = 20 * time.Millisecond

	causes := make(chan error, 4)
	s, err := alpaca.NewTradeUpdateStream(srv.URL, streamFastOptions(
		alpaca.WithLivenessTimeout(200*time.Millisecond),
		alpaca.WithConnectHandlers(nil, func(err error) { causes <- err }),
	)...)
	if err != nil {
		t.Fatal(err)
	}
	stop, _ := streamRunBG(t, s.Run)
	cause := streamRecv(t, causes, 2*time.Second, "disconnect of the silent connection")
	if !errors.Is(cause, alpaca.ErrStreamStalled) {
		t.Fatalf("disconnect cause: got %v, want ErrStreamStalled", cause)
	}
	// The second connection has heartbeats and must stay up well past
	// the liveness timeout.
	time.Sleep(500 * time.Millisecond)
	fake.add(1, 1)
	if tu := streamRecv(t, s.Updates(), 2*time.Second, "update after redial"); tu.EventID != streamEventID(1) {
		t.Errorf("got %s, want %s", tu.EventID, streamEventID(1))
	}
	stop()
	if got := len(fake.requests()); got != 2 {
		t.Errorf("requests: got %d, want 2 (heartbeats must keep the second alive)", got)
	}
}

func TestSSEBackpressureBlocksInsteadOfDropping(t *testing.T) {
	srv, fake, _, _ := newFakeStreamServer(t)
	var full atomic.Uint64
	connected := make(chan struct{}, 4)
	s, err := alpaca.NewTradeUpdateStream(srv.URL, streamFastOptions(
		alpaca.WithBufferSize(2),
		alpaca.WithLivenessTimeout(100*time.Millisecond),
		alpaca.WithBufferFullHandler(func(n uint64) { full.Store(n) }),
		alpaca.WithConnectHandlers(func() { connected <- struct{}{} }, nil),
	)...)
	if err != nil {
		t.Fatal(err)
	}
	stop, _ := streamRunBG(t, s.Run)
	streamRecv(t, connected, 2*time.Second, "connect")
	fake.add(1, 20)
	// Consume nothing for several liveness timeouts: the parked reader
	// must neither drop events nor be mistaken for a dead connection.
	time.Sleep(500 * time.Millisecond)
	if full.Load() == 0 {
		t.Fatal("OnBufferFull not called with a full buffer")
	}
	for n := 1; n <= 20; n++ {
		if tu := streamRecv(t, s.Updates(), 2*time.Second, "update"); tu.EventID != streamEventID(n) {
			t.Fatalf("update %d: got %s", n, tu.EventID)
		}
	}
	stop()
	if st := s.Stats(); st.Reconnects != 0 || st.Received != 20 || st.BufferFull == 0 {
		t.Errorf("stats: got %+v, want no reconnects, 20 received, BufferFull > 0", st)
	}
}

func TestSSEAuthFailureIsFinal(t *testing.T) {
	srv, _, _, _ := newFakeStreamServer(t)
	s, err := alpaca.NewTradeUpdateStream(srv.URL,
		alpaca.WithStreamCredentials(streamTestKey, "wrong-"+streamTestSecret),
		alpaca.WithReconnectBackoff(10*time.Millisecond, 50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err = s.Run(ctx)
	if !errors.Is(err, alpaca.ErrStreamUnauthorized) {
		t.Fatalf("Run: got %v, want ErrStreamUnauthorized", err)
	}
	if strings.Contains(err.Error(), streamTestSecret) {
		t.Errorf("error leaks the secret: %v", err)
	}
	if st := s.Stats(); st.Reconnects != 0 {
		t.Errorf("Reconnects: got %d, want 0", st.Reconnects)
	}
	if _, ok := <-s.Updates(); ok {
		t.Error("Updates not closed after Run returned")
	}
	if err := s.Run(ctx); !errors.Is(err, alpaca.ErrStreamRunCalledTwice) {
		t.Errorf("second Run: got %v, want ErrStreamRunCalledTwice", err)
	}
}

func TestSSECancelStopsPromptlyWithoutLeaks(t *testing.T) {
	base := runtime.NumGoroutine()
	srv, fake, _, _ := newFakeStreamServer(t)
	fake.heartbeat = 10 * time.Millisecond
	connected := make(chan struct{}, 4)
	s, err := alpaca.NewTradeUpdateStream(srv.URL, streamFastOptions(
		alpaca.WithBufferSize(1),
		alpaca.WithConnectHandlers(func() { connected <- struct{}{} }, nil),
	)...)
	if err != nil {
		t.Fatal(err)
	}
	stop, _ := streamRunBG(t, s.Run)
	streamRecv(t, connected, 2*time.Second, "connect")
	fake.add(1, 5) // the reader ends up parked on the full buffer
	time.Sleep(100 * time.Millisecond)

	start := time.Now()
	if err := stop(); !errors.Is(err, context.Canceled) {
		t.Errorf("Run: got %v, want context.Canceled", err)
	}
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Errorf("Run took %v to return after cancel", d)
	}
	srv.Close()
	noStreamGoroutines(t)
	streamWaitGoroutines(t, base)
}

func TestSSEOptionValidation(t *testing.T) {
	for name, opts := range map[string][]alpaca.StreamOption{
		"NoCredentials":     nil,
		"SinceAndSinceID":   {alpaca.WithStreamCredentials("k", "s"), alpaca.WithResumeAfter("x"), alpaca.WithTimeRange(time.Now(), time.Time{})},
		"UntilIDNoSinceID":  {alpaca.WithStreamCredentials("k", "s"), alpaca.WithUntilID("x")},
		"ZeroBuffer":        {alpaca.WithStreamCredentials("k", "s"), alpaca.WithBufferSize(0)},
		"BackoffInverted":   {alpaca.WithStreamCredentials("k", "s"), alpaca.WithReconnectBackoff(time.Second, time.Millisecond)},
		"ClientWithTimeout": {alpaca.WithStreamCredentials("k", "s"), alpaca.WithStreamHTTPClient(&http.Client{Timeout: time.Second})},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := alpaca.NewTradeUpdateStream("http://localhost", opts...); err == nil {
				t.Error("got nil error")
			}
		})
	}
	if _, err := alpaca.NewTradeUpdateStream("ftp://x", alpaca.WithStreamCredentials("k", "s")); err == nil {
		t.Error("ftp base: got nil error")
	}
}
