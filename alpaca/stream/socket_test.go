package stream_test

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/quantum-alpaca/quantum/alpaca/stream"
)

func TestWSTradeUpdates(t *testing.T) {
	for _, codec := range []string{"JSON", "Msgpack"} {
		t.Run(codec, func(t *testing.T) {
			srv, _, fake, _ := newFakeServer(t)
			connected := make(chan struct{}, 4)
			s, err := stream.NewTradeSocket(srv.URL, fastOptions(
				stream.WithMsgpack(codec == "Msgpack"),
				stream.WithConnectHandlers(func() { notify(connected, struct{}{}) }, nil),
			)...)
			if err != nil {
				t.Fatal(err)
			}
			stop, _ := runBG(t, s.Run)

			recv(t, connected, "connect")
			recv(t, s.ResyncNeeded(), "resync after first listen")
			fake.publish(1, 3)
			for n := 1; n <= 3; n++ {
				tu := recv(t, s.Updates(), "update")
				want := testUpdate(n)
				if tu.EventID != want.EventID || tu.Order.ID != want.Order.ID || tu.Event != "fill" || !tu.At.Equal(want.At) {
					t.Fatalf("update %d: got %+v", n, tu)
				}
			}

			// The server has no replay: after a drop the caller must be
			// told to reconcile.
			fake.dropAll()
			recv(t, connected, "reconnect")
			recv(t, s.ResyncNeeded(), "resync after reconnect")
			fake.publish(3, 4) // 3 again: an id at or before the last is dropped
			if tu := recv(t, s.Updates(), "update"); tu.EventID != eventID(4) {
				t.Fatalf("after reconnect: got %s, want %s", tu.EventID, eventID(4))
			}
			if err := stop(); !errors.Is(err, context.Canceled) {
				t.Errorf("Run: got %v, want context.Canceled", err)
			}
			if st := s.Stats(); st.Connects != 2 || st.Received != 4 || st.Duplicates != 1 {
				t.Errorf("stats: got %+v, want 2 connects, 4 received, 1 duplicate", st)
			}
		})
	}
}

func TestWSTradeAuthFailureIsFinal(t *testing.T) {
	srv, _, _, _ := newFakeServer(t)
	s, err := stream.NewTradeSocket(srv.URL,
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
	msg := err.Error()
	if strings.Contains(msg, testSecret) {
		t.Errorf("error leaks the secret: %v", err)
	}
	if !strings.Contains(msg, "access key verification failed") || !strings.Contains(msg, testKey[:4]) {
		t.Errorf("error does not say what failed for which key: %v", err)
	}
	if st := s.Stats(); st.Reconnects != 0 {
		t.Errorf("Reconnects: got %d, want 0", st.Reconnects)
	}
}

func TestWSTradeUnansweredPingRedials(t *testing.T) {
	srv, _, fake, _ := newFakeServer(t)
	fake.noPong = true
	causes := make(chan error, 4)
	s, err := stream.NewTradeSocket(srv.URL, fastOptions(
		stream.WithPing(50*time.Millisecond, 100*time.Millisecond),
		stream.WithConnectHandlers(nil, func(err error) { notify(causes, err) }),
	)...)
	if err != nil {
		t.Fatal(err)
	}
	stop, _ := runBG(t, s.Run)
	if cause := recv(t, causes, "disconnect"); !errors.Is(cause, stream.ErrStalled) {
		t.Errorf("disconnect cause: got %v, want ErrStalled", cause)
	}
	stop()
}

func TestWSTradeCancelStopsPromptlyWithoutLeaks(t *testing.T) {
	base := runtime.NumGoroutine()
	srv, _, fake, _ := newFakeServer(t)
	connected := make(chan struct{}, 4)
	full := make(chan uint64, 8)
	s, err := stream.NewTradeSocket(srv.URL, fastOptions(
		stream.WithBufferSize(1),
		stream.WithPing(20*time.Millisecond, safetyNet),
		stream.WithBufferFullHandler(func(n uint64) { notify(full, n) }),
		stream.WithConnectHandlers(func() { notify(connected, struct{}{}) }, nil),
	)...)
	if err != nil {
		t.Fatal(err)
	}
	stop, _ := runBG(t, s.Run)
	recv(t, connected, "connect")
	fake.publish(1, 5)
	recv(t, full, "reader parking on the full buffer")
	// A parked reader, with the pinger running beside it, returns on
	// cancel (stop fails the test if Run does not return at all).
	if err := stop(); !errors.Is(err, context.Canceled) {
		t.Errorf("Run: got %v, want context.Canceled", err)
	}
	srv.Close()
	noStreamGoroutines(t)
	waitGoroutines(t, base)
}
