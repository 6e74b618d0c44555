package alpaca_test

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/quantum-alpaca/quantum/alpaca"
)

func TestWSTradeUpdates(t *testing.T) {
	for _, codec := range []string{"JSON", "Msgpack"} {
		t.Run(codec, func(t *testing.T) {
			srv, _, fake, _ := newFakeStreamServer(t)
			connected := make(chan struct{}, 4)
			s, err := alpaca.NewTradeUpdateSocket(srv.URL, streamFastOptions(
				alpaca.WithMsgpack(codec == "Msgpack"),
				alpaca.WithConnectHandlers(func() { connected <- struct{}{} }, nil),
			)...)
			if err != nil {
				t.Fatal(err)
			}
			stop, _ := streamRunBG(t, s.Run)

			streamRecv(t, connected, 2*time.Second, "connect")
			streamRecv(t, s.ResyncNeeded(), time.Second, "resync after first listen")
			fake.publish(1, 3)
			for n := 1; n <= 3; n++ {
				tu := streamRecv(t, s.Updates(), 2*time.Second, "update")
				want := streamTestUpdate(n)
				if tu.EventID != want.EventID || tu.Order.ID != want.Order.ID || tu.Event != "fill" || !tu.At.Equal(want.At) {
					t.Fatalf("update %d: got %+v", n, tu)
				}
			}

			// The server has no replay: after a drop the caller must be
			// told to reconcile.
			fake.dropAll()
			streamRecv(t, connected, 2*time.Second, "reconnect")
			streamRecv(t, s.ResyncNeeded(), time.Second, "resync after reconnect")
			fake.publish(3, 4) // 3 again: an id at or before the last is dropped
			if tu := streamRecv(t, s.Updates(), 2*time.Second, "update"); tu.EventID != streamEventID(4) {
				t.Fatalf("after reconnect: got %s, want %s", tu.EventID, streamEventID(4))
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
	srv, _, _, _ := newFakeStreamServer(t)
	s, err := alpaca.NewTradeUpdateSocket(srv.URL,
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
	msg := err.Error()
	if strings.Contains(msg, streamTestSecret) {
		t.Errorf("error leaks the secret: %v", err)
	}
	if !strings.Contains(msg, "access key verification failed") || !strings.Contains(msg, streamTestKey[:4]) {
		t.Errorf("error does not say what failed for which key: %v", err)
	}
	if st := s.Stats(); st.Reconnects != 0 {
		t.Errorf("Reconnects: got %d, want 0", st.Reconnects)
	}
}

func TestWSTradeUnansweredPingRedials(t *testing.T) {
	srv, _, fake, _ := newFakeStreamServer(t)
	fake.noPong = true
	causes := make(chan error, 4)
	s, err := alpaca.NewTradeUpdateSocket(srv.URL, streamFastOptions(
		alpaca.WithPing(50*time.Millisecond, 100*time.Millisecond),
		alpaca.WithConnectHandlers(nil, func(err error) { causes <- err }),
	)...)
	if err != nil {
		t.Fatal(err)
	}
	stop, _ := streamRunBG(t, s.Run)
	if cause := streamRecv(t, causes, 2*time.Second, "disconnect"); !errors.Is(cause, alpaca.ErrStreamStalled) {
		t.Errorf("disconnect cause: got %v, want ErrStreamStalled", cause)
	}
	stop()
}

func TestWSTradeCancelStopsPromptlyWithoutLeaks(t *testing.T) {
	base := runtime.NumGoroutine()
	srv, _, fake, _ := newFakeStreamServer(t)
	connected := make(chan struct{}, 4)
	s, err := alpaca.NewTradeUpdateSocket(srv.URL, streamFastOptions(
		alpaca.WithBufferSize(1),
		alpaca.WithPing(20*time.Millisecond, time.Second),
		alpaca.WithConnectHandlers(func() { connected <- struct{}{} }, nil),
	)...)
	if err != nil {
		t.Fatal(err)
	}
	stop, _ := streamRunBG(t, s.Run)
	streamRecv(t, connected, 2*time.Second, "connect")
	fake.publish(1, 5) // reader parks on the full buffer
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
