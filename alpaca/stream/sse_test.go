package stream_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quantum-alpaca/quantum/alpaca/stream"
)

func TestSSEStreamResumesWithoutGapOrDuplicate(t *testing.T) {
	srv, fake, _, _ := newFakeServer(t)
	fake.abortAfter = 3   // every connection dies mid-stream after 3 events
	fake.inclusive = true // and each resume replays the since_id event again
	fake.heartbeat = 20 * time.Millisecond

	connected := make(chan struct{}, 16)
	var disconnects atomic.Int32
	s, err := stream.NewTradeEvents(srv.URL, fastOptions(
		stream.WithConnectHandlers(func() { notify(connected, struct{}{}) }, func(error) { disconnects.Add(1) }),
	)...)
	if err != nil {
		t.Fatal(err)
	}
	stop, _ := runBG(t, s.Run)
	recv(t, connected, "first connect")
	// Live-only start: the caller must sweep once.
	recv(t, s.ResyncNeeded(), "resync after live-only start")

	const total = 10
	fake.add(1, total)
	for n := 1; n <= total; n++ {
		tu := recv(t, s.Updates(), "update")
		if got, want := tu.EventID, eventID(n); got != want {
			t.Fatalf("update %d: got event %s, want %s", n, got, want)
		}
		if got, want := tu.Order.ClientOrderID, testUpdate(n).Order.ClientOrderID; got != want {
			t.Fatalf("update %d: got client order id %s, want %s", n, got, want)
		}
	}
	if got, want := s.LastEventID(), eventID(total); got != want {
		t.Errorf("LastEventID: got %s, want %s", got, want)
	}
	if err := stop(); !errors.Is(err, context.Canceled) {
		t.Errorf("Run: got %v, want context.Canceled", err)
	}
	// Run has returned and closed Updates: whatever is left in it was
	// delivered after the last event, which can only be a repeat.
	for tu := range s.Updates() {
		t.Errorf("extra update %s", tu.EventID)
	}
	select {
	case <-s.ResyncNeeded():
		t.Error("resync signalled after a resumable reconnect")
	default:
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
	if got, want := reqs[1].Get("since_id"), eventID(3); got != want {
		t.Errorf("second request since_id: got %q, want %q", got, want)
	}
}

func TestSSEStreamResumeAfterAndUntilID(t *testing.T) {
	srv, fake, _, _ := newFakeServer(t)
	fake.add(1, 9)
	s, err := stream.NewTradeEvents(srv.URL, fastOptions(
		stream.WithResumeAfter(eventID(3)),
		stream.WithUntilID(eventID(6)),
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
	want := []string{eventID(4), eventID(5), eventID(6)}
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
	srv, fake, _, _ := newFakeServer(t)
	fake.silentConns = 1 // first connection: headers, then nothing, not even heartbeats
	fake.heartbeat = 10 * time.Millisecond
	const liveness = 500 * time.Millisecond // fifty heartbeats

	causes := make(chan error, 4)
	s, err := stream.NewTradeEvents(srv.URL, fastOptions(
		stream.WithLivenessTimeout(liveness),
		stream.WithConnectHandlers(nil, func(err error) { notify(causes, err) }),
	)...)
	if err != nil {
		t.Fatal(err)
	}
	stop, _ := runBG(t, s.Run)
	cause := recv(t, causes, "disconnect of the silent connection")
	if !errors.Is(cause, stream.ErrStalled) {
		t.Fatalf("disconnect cause: got %v, want ErrStalled", cause)
	}
	// The second connection has heartbeats and must stay up well past
	// the liveness timeout: wait until the server has written enough of
	// them to span two timeouts.
	fake.awaitBeats(t, int(2*liveness/fake.heartbeat))
	fake.add(1, 1)
	if tu := recv(t, s.Updates(), "update after redial"); tu.EventID != eventID(1) {
		t.Errorf("got %s, want %s", tu.EventID, eventID(1))
	}
	if got := len(fake.requests()); got != 2 {
		t.Errorf("requests: got %d, want 2 (heartbeats must keep the second alive)", got)
	}
	stop()
}

func TestSSEBackpressureBlocksInsteadOfDropping(t *testing.T) {
	srv, fake, _, _ := newFakeServer(t)
	fake.heartbeat = 10 * time.Millisecond
	const liveness = 100 * time.Millisecond // ten heartbeats
	full := make(chan uint64, 64)
	connected := make(chan struct{}, 4)
	s, err := stream.NewTradeEvents(srv.URL, fastOptions(
		stream.WithBufferSize(2),
		stream.WithLivenessTimeout(liveness),
		stream.WithBufferFullHandler(func(n uint64) { notify(full, n) }),
		stream.WithConnectHandlers(func() { notify(connected, struct{}{}) }, nil),
	)...)
	if err != nil {
		t.Fatal(err)
	}
	stop, _ := runBG(t, s.Run)
	recv(t, connected, "connect")
	fake.add(1, 20)
	// Consume nothing: the reader parks on the full buffer. It must stay
	// parked, neither dropping events nor taking the silence it causes
	// (the heartbeats it does not read) for a dead connection, for
	// several liveness timeouts: until the server has written three
	// timeouts' worth of heartbeats that the reader never saw.
	recv(t, full, "OnBufferFull with a full buffer")
	fake.skipBeats()
	fake.awaitBeats(t, int(3*liveness/fake.heartbeat))
	for n := 1; n <= 20; n++ {
		if tu := recv(t, s.Updates(), "update"); tu.EventID != eventID(n) {
			t.Fatalf("update %d: got %s", n, tu.EventID)
		}
	}
	// Read right away: a redial while parked would have been counted
	// before the events above could be delivered again, and one after
	// the last event is a matter of the heartbeats, not of parking.
	if st := s.Stats(); st.Reconnects != 0 {
		t.Errorf("stats: got %+v, want no reconnects while parked", st)
	}
	stop()
	// Run has returned: the counters are final.
	if st := s.Stats(); st.Received != 20 || st.BufferFull == 0 {
		t.Errorf("stats: got %+v, want 20 received, BufferFull > 0", st)
	}
}

func TestSSEAuthFailureIsFinal(t *testing.T) {
	srv, _, _, _ := newFakeServer(t)
	s, err := stream.NewTradeEvents(srv.URL,
		stream.WithCredentials(testKey, "wrong-"+testSecret),
		stream.WithReconnectBackoff(10*time.Millisecond, 50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), safetyNet)
	defer cancel()
	err = s.Run(ctx)
	if !errors.Is(err, stream.ErrUnauthorized) {
		t.Fatalf("Run: got %v, want ErrUnauthorized", err)
	}
	if strings.Contains(err.Error(), testSecret) {
		t.Errorf("error leaks the secret: %v", err)
	}
	if st := s.Stats(); st.Reconnects != 0 {
		t.Errorf("Reconnects: got %d, want 0", st.Reconnects)
	}
	if _, ok := <-s.Updates(); ok {
		t.Error("Updates not closed after Run returned")
	}
	if err := s.Run(ctx); !errors.Is(err, stream.ErrRunCalledTwice) {
		t.Errorf("second Run: got %v, want ErrRunCalledTwice", err)
	}
}

func TestSSECancelStopsPromptlyWithoutLeaks(t *testing.T) {
	base := runtime.NumGoroutine()
	srv, fake, _, _ := newFakeServer(t)
	fake.heartbeat = 10 * time.Millisecond
	connected := make(chan struct{}, 4)
	full := make(chan uint64, 8)
	s, err := stream.NewTradeEvents(srv.URL, fastOptions(
		stream.WithBufferSize(1),
		stream.WithBufferFullHandler(func(n uint64) { notify(full, n) }),
		stream.WithConnectHandlers(func() { notify(connected, struct{}{}) }, nil),
	)...)
	if err != nil {
		t.Fatal(err)
	}
	stop, _ := runBG(t, s.Run)
	recv(t, connected, "connect")
	fake.add(1, 5)
	recv(t, full, "reader parking on the full buffer")

	// A parked reader returns on cancel (stop fails the test if Run does
	// not return at all).
	if err := stop(); !errors.Is(err, context.Canceled) {
		t.Errorf("Run: got %v, want context.Canceled", err)
	}
	srv.Close()
	noStreamGoroutines(t)
	waitGoroutines(t, base)
}

func TestSSEOptionValidation(t *testing.T) {
	for name, opts := range map[string][]stream.Option{
		"NoCredentials":     nil,
		"SinceAndSinceID":   {stream.WithCredentials("k", "s"), stream.WithResumeAfter("x"), stream.WithTimeRange(time.Now(), time.Time{})},
		"UntilIDNoSinceID":  {stream.WithCredentials("k", "s"), stream.WithUntilID("x")},
		"ZeroBuffer":        {stream.WithCredentials("k", "s"), stream.WithBufferSize(0)},
		"BackoffInverted":   {stream.WithCredentials("k", "s"), stream.WithReconnectBackoff(time.Second, time.Millisecond)},
		"ClientWithTimeout": {stream.WithCredentials("k", "s"), stream.WithHTTPClient(&http.Client{Timeout: time.Second})},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := stream.NewTradeEvents("http://localhost", opts...); err == nil {
				t.Error("got nil error")
			}
		})
	}
	if _, err := stream.NewTradeEvents("ftp://x", stream.WithCredentials("k", "s")); err == nil {
		t.Error("ftp base: got nil error")
	}
}

func TestOptionsDoNotPrintSecret(t *testing.T) {
	o := stream.DefaultOptions()
	if err := stream.WithCredentials(testKey, testSecret)(&o); err != nil {
		t.Fatal(err)
	}
	if s := fmt.Sprintf("%v %+v %#v", o, o, o); strings.Contains(s, testSecret) || !strings.Contains(s, testKey) {
		t.Errorf("printed options: %s", s)
	}
}
