package stream_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/quantum-alpaca/quantum/alpaca/stream"
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

func newTestMarketData(t *testing.T, url string, opts ...stream.Option) (*stream.MarketData, chan struct{}) {
	t.Helper()
	connected := make(chan struct{}, 8)
	s, err := stream.NewMarketData(url, stream.FeedIEX, fastOptions(append([]stream.Option{
		stream.WithConnectHandlers(func() { notify(connected, struct{}{}) }, nil),
	}, opts...)...)...)
	if err != nil {
		t.Fatal(err)
	}
	return s, connected
}

func TestWSMarketDataDecodesJSONAndMsgpack(t *testing.T) {
	for _, codec := range []string{"JSON", "Msgpack"} {
		t.Run(codec, func(t *testing.T) {
			srv, _, _, fake := newFakeServer(t)
			s, connected := newTestMarketData(t, srv.URL, stream.WithMsgpack(codec == "Msgpack"))
			if err := s.Subscribe(context.Background(), stream.Subscription{Trades: []string{"AAPL"}, Quotes: []string{"AAPL"}, Bars: []string{"*"}}); err != nil {
				t.Fatal(err)
			}
			stop, _ := runBG(t, s.Run)
			recv(t, connected, "connect")
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
			// A second frame ends the test's input: whatever arrives
			// before it and was not expected is extra.
			fake.push(map[string]any{"T": "q", "S": "END", "t": mdTimestamp(str, mdT0)})
			tr := recv(t, s.Messages(), "trade")
			if tr.Kind != stream.KindTrade || tr.Symbol != "AAPL" || tr.Trade.ID != 96921 || tr.Trade.Price != 126.55 ||
				tr.Trade.Size != 1 || !tr.Trade.Timestamp.Equal(mdT0) || !slices.Equal(tr.Trade.Conditions, []string{"@", "I"}) || tr.Trade.Tape != "C" {
				t.Errorf("trade: got %+v", tr)
			}
			q := recv(t, s.Messages(), "quote")
			if q.Kind != stream.KindQuote || q.Quote.BidPrice != 126.5 || q.Quote.AskSize != 3 || q.Quote.BidExchange != "U" ||
				!q.Quote.Timestamp.Equal(mdT0) || !slices.Equal(q.Quote.Conditions, []string{"R"}) {
				t.Errorf("quote: got %+v", q)
			}
			b := recv(t, s.Messages(), "bar")
			if b.Kind != stream.KindBar || b.Symbol != "MSFT" || b.Bar.Close != 300.75 || b.Bar.High != 301 || b.Bar.Volume != 12000 ||
				b.Bar.TradeCount != 85 || !b.Bar.Timestamp.Equal(mdT0) {
				t.Errorf("bar: got %+v", b)
			}
			if m := recv(t, s.Messages(), "end marker"); m.Symbol != "END" {
				t.Errorf("unexpected message %+v", m)
			}
			stop()
			if st := s.Stats(); st.Malformed != 0 {
				t.Errorf("Malformed: got %d", st.Malformed)
			}
		})
	}
}

func TestWSMarketDataResubscribesAfterReconnect(t *testing.T) {
	srv, _, _, fake := newFakeServer(t)
	s, connected := newTestMarketData(t, srv.URL)
	stop, _ := runBG(t, s.Run)
	recv(t, connected, "connect")
	ctx := context.Background()
	if got := s.Subscribed(); !got.Empty() {
		t.Fatalf("Subscribed before any Subscribe: got %+v", got)
	}

	// Additive: the server echoes the whole set.
	if err := s.Subscribe(ctx, stream.Subscription{Quotes: []string{"AAPL"}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Subscribe(ctx, stream.Subscription{Quotes: []string{"MSFT"}, Trades: []string{"SPY"}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Unsubscribe(ctx, stream.Subscription{Quotes: []string{"AAPL"}}); err != nil {
		t.Fatal(err)
	}
	if got := s.Subscribed(); !slices.Equal(got.Quotes, []string{"MSFT"}) || !slices.Equal(got.Trades, []string{"SPY"}) {
		t.Fatalf("Subscribed: got %+v", got)
	}

	fake.dropAll()
	recv(t, connected, "reconnect")
	reqs := fake.subscribeRequests()
	last := reqs[len(reqs)-1]
	if last["action"] != "subscribe" || fmt.Sprint(last["quotes"]) != "[MSFT]" || fmt.Sprint(last["trades"]) != "[SPY]" {
		t.Errorf("resubscribe after reconnect: got %v", last)
	}
	if got := s.Subscribed(); !slices.Equal(got.Quotes, []string{"MSFT"}) {
		t.Errorf("Subscribed after reconnect: got %+v", got)
	}
	fake.push(map[string]any{"T": "q", "S": "MSFT", "bp": 1.5, "t": mdT0})
	if m := recv(t, s.Messages(), "quote after reconnect"); m.Symbol != "MSFT" {
		t.Errorf("got %+v", m)
	}
	stop()
}

func TestWSMarketDataSubscribeErrorIsReturnedAndUndone(t *testing.T) {
	srv, _, _, fake := newFakeServer(t)
	fake.rejectSymbol, fake.rejectCode = "TOOMANY", 405
	s, connected := newTestMarketData(t, srv.URL)
	stop, _ := runBG(t, s.Run)
	recv(t, connected, "connect")
	ctx := context.Background()
	if err := s.Subscribe(ctx, stream.Subscription{Trades: []string{"AAPL"}}); err != nil {
		t.Fatal(err)
	}
	err := s.Subscribe(ctx, stream.Subscription{Trades: []string{"TOOMANY"}})
	if !errors.Is(err, stream.ErrSymbolLimit) {
		t.Fatalf("Subscribe: got %v, want ErrSymbolLimit", err)
	}
	var se *stream.Error
	if !errors.As(err, &se) || se.Code != 405 || !se.Retryable() {
		t.Errorf("error: got %#v", err)
	}
	// The connection carries on, and the rejected symbol is not re-sent
	// on the next connection.
	fake.dropAll()
	recv(t, connected, "reconnect")
	reqs := fake.subscribeRequests()
	if last := reqs[len(reqs)-1]; fmt.Sprint(last["trades"]) != "[AAPL]" {
		t.Errorf("resubscribe: got %v, want only AAPL", last)
	}
	stop()
}

func TestWSMarketDataSlowConsumerDrops(t *testing.T) {
	srv, _, _, fake := newFakeServer(t)
	dropped := make(chan uint64, 128)
	s, connected := newTestMarketData(t, srv.URL,
		stream.WithBufferSize(10),
		stream.WithBufferFullHandler(func(n uint64) { notify(dropped, n) }))
	stop, _ := runBG(t, s.Run)
	recv(t, connected, "connect")

	msgs := make([]map[string]any, 100)
	for i := range msgs {
		msgs[i] = map[string]any{"T": "q", "S": "AAPL", "bp": float64(i), "t": mdT0}
	}
	fake.push(msgs...)
	// The callback reports running totals: the ten that fit are the first
	// ten, so the last drop is the ninetieth.
	for want := uint64(1); want <= 90; want++ {
		if n := recv(t, dropped, "drop"); n != want {
			t.Fatalf("OnBufferFull total %d, want %d", n, want)
		}
	}
	st := s.Stats()
	if st.Received != 100 || st.BufferFull != 90 {
		t.Fatalf("got %+v, want 100 received, 90 dropped", st)
	}
	// The ten that fit are the oldest, in order, and the connection is
	// still healthy.
	for i := 0; i < 10; i++ {
		if m := recv(t, s.Messages(), "quote"); m.Quote.BidPrice != float64(i) {
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
		srv, _, _, _ := newFakeServer(t)
		s, err := stream.NewMarketData(srv.URL, stream.FeedIEX,
			stream.WithCredentials(testKey, "bad-"+testSecret))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), safetyNet)
		defer cancel()
		err = s.Run(ctx)
		if !errors.Is(err, stream.ErrAuthFailed) || !errors.Is(err, stream.ErrUnauthorized) {
			t.Fatalf("Run: got %v, want ErrAuthFailed", err)
		}
		if strings.Contains(err.Error(), testSecret) {
			t.Errorf("error leaks the secret: %v", err)
		}
	})
	t.Run("ConnectionLimitIsRetried", func(t *testing.T) {
		srv, _, _, fake := newFakeServer(t)
		fake.authErrCode, fake.authErrTimes = 406, 2
		s, connected := newTestMarketData(t, srv.URL)
		stop, _ := runBG(t, s.Run)
		recv(t, connected, "connect after two 406s")
		stop()
		if st := s.Stats(); st.Reconnects != 2 {
			t.Errorf("Reconnects: got %d, want 2", st.Reconnects)
		}
	})
	t.Run("InsufficientSubscriptionIsFinal", func(t *testing.T) {
		srv, _, _, fake := newFakeServer(t)
		fake.rejectSymbol, fake.rejectCode = "SIPONLY", 409
		s, _ := newTestMarketData(t, srv.URL)
		s.Subscribe(context.Background(), stream.Subscription{Trades: []string{"SIPONLY"}})
		ctx, cancel := context.WithTimeout(context.Background(), safetyNet)
		defer cancel()
		if err := s.Run(ctx); !errors.Is(err, stream.ErrInsufficientSubscription) {
			t.Fatalf("Run: got %v, want ErrInsufficientSubscription", err)
		}
	})
	t.Run("UpgradeRejected", func(t *testing.T) {
		srv, _, _, _ := newFakeServer(t)
		s, err := stream.NewMarketData(srv.URL+"/nope", stream.FeedIEX, fastOptions()...)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), safetyNet)
		defer cancel()
		if err := s.Run(ctx); err == nil || errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Run: got %v, want a final HTTP 404 error", err)
		}
	})
}

func TestWSMarketDataCancelStopsPromptlyWithoutLeaks(t *testing.T) {
	base := runtime.NumGoroutine()
	srv, _, _, fake := newFakeServer(t)
	s, connected := newTestMarketData(t, srv.URL, stream.WithPing(20*time.Millisecond, safetyNet))
	stop, _ := runBG(t, s.Run)
	recv(t, connected, "connect")
	if err := s.Subscribe(context.Background(), stream.Subscription{Quotes: []string{"AAPL"}}); err != nil {
		t.Fatal(err)
	}
	fake.push(map[string]any{"T": "q", "S": "AAPL", "t": mdT0})
	recv(t, s.Messages(), "quote")
	if err := stop(); !errors.Is(err, context.Canceled) {
		t.Errorf("Run: got %v, want context.Canceled", err)
	}
	// Subscribe after Run is a no-op that records the change.
	if err := s.Subscribe(context.Background(), stream.Subscription{Quotes: []string{"MSFT"}}); err != nil {
		t.Errorf("Subscribe after Run: %v", err)
	}
	srv.Close()
	noStreamGoroutines(t)
	waitGoroutines(t, base)
}
