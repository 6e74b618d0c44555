package alpaca_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quantum-alpaca/quantum/alpaca"
)

var mdT0 = time.Date(2026, 1, 5, 15, 0, 1, 123456789, time.UTC)

// mdTimestamp gives msgpack frames a real time.Time (the timestamp
// extension) or an RFC3339 string, both of which servers send.
func mdTimestamp(asString bool, tm time.Time) any {
	if asString {
		return tm.Format(time.RFC3339Nano)
	}
	return tm
}

func newTestMarketData(t *testing.T, url string, opts ...alpaca.StreamOption) (*alpaca.MarketDataStream, chan struct{}) {
	t.Helper()
	connected := make(chan struct{}, 8)
	s, err := alpaca.NewMarketDataStream(url, alpaca.StreamFeedIEX, streamFastOptions(append([]alpaca.StreamOption{
		alpaca.WithConnectHandlers(func() { connected <- struct{}{} }, nil),
	}, opts...)...)...)
	if err != nil {
		t.Fatal(err)
	}
	return s, connected
}

func TestWSMarketDataDecodesJSONAndMsgpack(t *testing.T) {
	for _, codec := range []string{"JSON", "Msgpack"} {
		t.Run(codec, func(t *testing.T) {
			srv, _, _, fake := newFakeStreamServer(t)
			s, connected := newTestMarketData(t, srv.URL, alpaca.WithMsgpack(codec == "Msgpack"))
			if err := s.Subscribe(context.Background(), alpaca.Subscription{Trades: []string{"AAPL"}, Quotes: []string{"AAPL"}, Bars: []string{"*"}}); err != nil {
				t.Fatal(err)
			}
			stop, _ := streamRunBG(t, s.Run)
			streamRecv(t, connected, 2*time.Second, "connect")
			if got := s.Subscribed(); !slices.Equal(got.Trades, []string{"AAPL"}) || !slices.Equal(got.Bars, []string{"*"}) {
				t.Fatalf("Subscribed: got %+v", got)
			}
			str := codec == "Msgpack"
			fake.push(
				map[string]any{"T": "t", "S": "AAPL", "i": 96921, "x": "D", "p": 126.55, "s": 1, "t": mdTimestamp(false, mdT0), "c": []string{"@", "I"}, "z": "C"},
				map[string]any{"T": "q", "S": "AAPL", "bx": "U", "bp": 126.5, "bs": 2, "ax": "Q", "ap": 126.6, "as": 3, "c": []string{"R"}, "z": "C", "t": mdTimestamp(str, mdT0)},
				map[string]any{"T": "b", "S": "MSFT", "o": 300.1, "h": 301, "l": 299.5, "c": 300.75, "v": 12000, "n": 85, "vw": 300.3, "t": mdTimestamp(str, mdT0)},
				map[string]any{"T": "c", "S": "AAPL", "x": "D", "oi": 1, "ci": 2, "t": mdTimestamp(false, mdT0)}, // correction: not delivered
				map[string]any{"T": "l", "S": "AAPL", "u": 130.1, "d": 120.2, "i": "B", "t": mdTimestamp(false, mdT0)},
			)
			tr := streamRecv(t, s.Messages(), 2*time.Second, "trade")
			if tr.Kind != alpaca.MarketTrade || tr.Symbol != "AAPL" || tr.Trade.ID != 96921 || tr.Trade.Price != 126.55 ||
				tr.Trade.Size != 1 || !tr.Trade.Timestamp.Equal(mdT0) || !slices.Equal(tr.Trade.Conditions, []string{"@", "I"}) || tr.Trade.Tape != "C" {
				t.Errorf("trade: got %+v", tr)
			}
			q := streamRecv(t, s.Messages(), time.Second, "quote")
			if q.Kind != alpaca.MarketQuote || q.Quote.BidPrice != 126.5 || q.Quote.AskSize != 3 || q.Quote.BidExchange != "U" ||
				!q.Quote.Timestamp.Equal(mdT0) || !slices.Equal(q.Quote.Conditions, []string{"R"}) {
				t.Errorf("quote: got %+v", q)
			}
			b := streamRecv(t, s.Messages(), time.Second, "bar")
			if b.Kind != alpaca.MarketBar || b.Symbol != "MSFT" || b.Bar.Close != 300.75 || b.Bar.High != 301 || b.Bar.Volume != 12000 ||
				b.Bar.TradeCount != 85 || !b.Bar.Timestamp.Equal(mdT0) {
				t.Errorf("bar: got %+v", b)
			}
			select {
			case m := <-s.Messages():
				t.Errorf("unexpected message %+v", m)
			case <-time.After(50 * time.Millisecond):
			}
			stop()
			if st := s.Stats(); st.Malformed != 0 {
				t.Errorf("Malformed: got %d", st.Malformed)
			}
		})
	}
}

func TestWSMarketDataResubscribesAfterReconnect(t *testing.T) {
	srv, _, _, fake := newFakeStreamServer(t)
	s, connected := newTestMarketData(t, srv.URL)
	stop, _ := streamRunBG(t, s.Run)
	streamRecv(t, connected, 2*time.Second, "connect")
	ctx := context.Background()
	if got := s.Subscribed(); !got.Empty() {
		t.Fatalf("Subscribed before any Subscribe: got %+v", got)
	}

	// Additive: the server echoes the whole set.
	if err := s.Subscribe(ctx, alpaca.Subscription{Quotes: []string{"AAPL"}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Subscribe(ctx, alpaca.Subscription{Quotes: []string{"MSFT"}, Trades: []string{"SPY"}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Unsubscribe(ctx, alpaca.Subscription{Quotes: []string{"AAPL"}}); err != nil {
		t.Fatal(err)
	}
	if got := s.Subscribed(); !slices.Equal(got.Quotes, []string{"MSFT"}) || !slices.Equal(got.Trades, []string{"SPY"}) {
		t.Fatalf("Subscribed: got %+v", got)
	}

	fake.dropAll()
	streamRecv(t, connected, 2*time.Second, "reconnect")
	reqs := fake.subscribeRequests()
	last := reqs[len(reqs)-1]
	if last["action"] != "subscribe" || fmt.Sprint(last["quotes"]) != "[MSFT]" || fmt.Sprint(last["trades"]) != "[SPY]" {
		t.Errorf("resubscribe after reconnect: got %v", last)
	}
	if got := s.Subscribed(); !slices.Equal(got.Quotes, []string{"MSFT"}) {
		t.Errorf("Subscribed after reconnect: got %+v", got)
	}
	fake.push(map[string]any{"T": "q", "S": "MSFT", "bp": 1.5, "t": mdT0})
	if m := streamRecv(t, s.Messages(), 2*time.Second, "quote after reconnect"); m.Symbol != "MSFT" {
		t.Errorf("got %+v", m)
	}
	stop()
}

func TestWSMarketDataSubscribeErrorIsReturnedAndUndone(t *testing.T) {
	srv, _, _, fake := newFakeStreamServer(t)
	fake.rejectSymbol, fake.rejectCode = "TOOMANY", 405
	s, connected := newTestMarketData(t, srv.URL)
	stop, _ := streamRunBG(t, s.Run)
	streamRecv(t, connected, 2*time.Second, "connect")
	ctx := context.Background()
	if err := s.Subscribe(ctx, alpaca.Subscription{Trades: []string{"AAPL"}}); err != nil {
		t.Fatal(err)
	}
	err := s.Subscribe(ctx, alpaca.Subscription{Trades: []string{"TOOMANY"}})
	if !errors.Is(err, alpaca.ErrStreamSymbolLimit) {
		t.Fatalf("Subscribe: got %v, want ErrStreamSymbolLimit", err)
	}
	var se *alpaca.StreamError
	if !errors.As(err, &se) || se.Code != 405 || !se.Retryable() {
		t.Errorf("error: got %#v", err)
	}
	// The connection carries on, and the rejected symbol is not re-sent
	// on the next connection.
	fake.dropAll()
	streamRecv(t, connected, 2*time.Second, "reconnect")
	reqs := fake.subscribeRequests()
	if last := reqs[len(reqs)-1]; fmt.Sprint(last["trades"]) != "[AAPL]" {
		t.Errorf("resubscribe: got %v, want only AAPL", last)
	}
	stop()
}

func TestWSMarketDataSlowConsumerDrops(t *testing.T) {
	srv, _, _, fake := newFakeStreamServer(t)
	var lastTotal atomic.Uint64
	s, connected := newTestMarketData(t, srv.URL,
		alpaca.WithBufferSize(10),
		alpaca.WithBufferFullHandler(func(n uint64) { lastTotal.Store(n) }))
	stop, _ := streamRunBG(t, s.Run)
	streamRecv(t, connected, 2*time.Second, "connect")

	msgs := make([]map[string]any, 100)
	for i := range msgs {
		msgs[i] = map[string]any{"T": "q", "S": "AAPL", "bp": float64(i), "t": mdT0}
	}
	fake.push(msgs...)
	deadline := time.Now().Add(2 * time.Second)
	for s.Stats().Received < 100 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	st := s.Stats()
	if st.Received != 100 || st.BufferFull != 90 || lastTotal.Load() != 90 {
		t.Fatalf("got %+v and callback total %d, want 100 received, 90 dropped", st, lastTotal.Load())
	}
	// The ten that fit are the oldest, in order, and the connection is
	// still healthy.
	for i := 0; i < 10; i++ {
		if m := streamRecv(t, s.Messages(), time.Second, "quote"); m.Quote.BidPrice != float64(i) {
			t.Fatalf("quote %d: got bid %v", i, m.Quote.BidPrice)
		}
	}
	if st.Reconnects != 0 {
		t.Errorf("Reconnects: got %d", st.Reconnects)
	}
	stop()
}

func TestWSMarketDataErrors(t *testing.T) {
	t.Run("AuthFailedIsFinal", func(t *testing.T) {
		srv, _, _, _ := newFakeStreamServer(t)
		s, err := alpaca.NewMarketDataStream(srv.URL, alpaca.StreamFeedIEX,
			alpaca.WithStreamCredentials(streamTestKey, "bad-"+streamTestSecret))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		err = s.Run(ctx)
		if !errors.Is(err, alpaca.ErrStreamAuthFailed) || !errors.Is(err, alpaca.ErrStreamUnauthorized) {
			t.Fatalf("Run: got %v, want ErrStreamAuthFailed", err)
		}
		if strings.Contains(err.Error(), streamTestSecret) {
			t.Errorf("error leaks the secret: %v", err)
		}
	})
	t.Run("ConnectionLimitIsRetried", func(t *testing.T) {
		srv, _, _, fake := newFakeStreamServer(t)
		fake.authErrCode, fake.authErrTimes = 406, 2
		s, connected := newTestMarketData(t, srv.URL)
		stop, _ := streamRunBG(t, s.Run)
		streamRecv(t, connected, 2*time.Second, "connect after two 406s")
		stop()
		if st := s.Stats(); st.Reconnects != 2 {
			t.Errorf("Reconnects: got %d, want 2", st.Reconnects)
		}
	})
	t.Run("InsufficientSubscriptionIsFinal", func(t *testing.T) {
		srv, _, _, fake := newFakeStreamServer(t)
		fake.rejectSymbol, fake.rejectCode = "SIPONLY", 409
		s, _ := newTestMarketData(t, srv.URL)
		s.Subscribe(context.Background(), alpaca.Subscription{Trades: []string{"SIPONLY"}})
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err := s.Run(ctx); !errors.Is(err, alpaca.ErrStreamInsufficientSubscription) {
			t.Fatalf("Run: got %v, want ErrStreamInsufficientSubscription", err)
		}
	})
	t.Run("UpgradeRejected", func(t *testing.T) {
		srv, _, _, _ := newFakeStreamServer(t)
		s, err := alpaca.NewMarketDataStream(srv.URL+"/nope", alpaca.StreamFeedIEX, streamFastOptions()...)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err := s.Run(ctx); err == nil || errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Run: got %v, want a final HTTP 404 error", err)
		}
	})
}

func TestWSMarketDataCancelStopsPromptlyWithoutLeaks(t *testing.T) {
	base := runtime.NumGoroutine()
	srv, _, _, fake := newFakeStreamServer(t)
	s, connected := newTestMarketData(t, srv.URL, alpaca.WithPing(20*time.Millisecond, time.Second))
	stop, _ := streamRunBG(t, s.Run)
	streamRecv(t, connected, 2*time.Second, "connect")
	if err := s.Subscribe(context.Background(), alpaca.Subscription{Quotes: []string{"AAPL"}}); err != nil {
		t.Fatal(err)
	}
	fake.push(map[string]any{"T": "q", "S": "AAPL", "t": mdT0})
	time.Sleep(50 * time.Millisecond)
	start := time.Now()
	if err := stop(); !errors.Is(err, context.Canceled) {
		t.Errorf("Run: got %v, want context.Canceled", err)
	}
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Errorf("Run took %v to return after cancel", d)
	}
	// Subscribe after Run is a no-op that records the change.
	if err := s.Subscribe(context.Background(), alpaca.Subscription{Quotes: []string{"MSFT"}}); err != nil {
		t.Errorf("Subscribe after Run: %v", err)
	}
	srv.Close()
	noStreamGoroutines(t)
	streamWaitGoroutines(t, base)
}
