package stream_test

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/quantum-alpaca/quantum/alpaca"
	"github.com/quantum-alpaca/quantum/alpaca/stream"
	"github.com/quantum-alpaca/quantum/internal/simtest"
	"github.com/quantum-alpaca/quantum/sim"
)

// The crypto stream's order books: the orderbooks channel, decoded
// whole books (r) and updates in JSON and msgpack, and subscribe
// requests that name the channel on the crypto stream only.

func TestWSCryptoOrderbooks(t *testing.T) {
	for _, codec := range []string{"JSON", "Msgpack"} {
		t.Run(codec, func(t *testing.T) {
			sub := stream.Subscription{Orderbooks: []string{"BTC/USD"}}
			s, fake, stop := startFakeCrypto(t, codec, sub)
			// The echo's orderbooks come back in Subscribed.
			if got := s.Subscribed(); !slices.Equal(got.Orderbooks, []string{"BTC/USD"}) {
				t.Errorf("Subscribed: got %+v", got)
			}
			str := codec == "Msgpack"
			t1 := mdT0.Add(time.Second)
			fake.push(
				map[string]any{"T": "o", "S": "BTC/USD", "t": mdTimestamp(str, mdT0), "r": true,
					"b": []map[string]any{{"p": 97010.5, "s": 0.5}, {"p": 97000, "s": 1.25}},
					"a": []map[string]any{{"p": 97015, "s": 0.0123}, {"p": 97020.25, "s": 3}}},
				// An update: one bid removed (size 0), one ask changed, no
				// bids at all; a key the client does not know is skipped.
				map[string]any{"T": "o", "S": "BTC/USD", "t": mdTimestamp(str, t1),
					"b": []map[string]any{{"p": 97000, "s": 0}}, "a": []map[string]any{{"p": 97015, "s": 0.75, "x": "?"}}},
				map[string]any{"T": "o", "S": "ETH/USD", "t": mdTimestamp(str, t1), "b": []map[string]any{}, "a": []map[string]any{{"p": 3100, "s": 2}}},
				// A trade after the books decodes with no level leaking into it.
				map[string]any{"T": "t", "S": "BTC/USD", "p": 97012.5, "s": 0.0123, "t": mdTimestamp(str, t1), "i": 7001, "tks": "S"},
			)

			lv := func(p, s float64) alpaca.CryptoOrderbookEntry { return alpaca.CryptoOrderbookEntry{Price: p, Size: s} }
			wants := []struct {
				sym  string
				book alpaca.CryptoOrderbook
			}{
				{"BTC/USD", alpaca.CryptoOrderbook{Timestamp: mdT0, Reset: true,
					Bids: []alpaca.CryptoOrderbookEntry{lv(97010.5, 0.5), lv(97000, 1.25)},
					Asks: []alpaca.CryptoOrderbookEntry{lv(97015, 0.0123), lv(97020.25, 3)}}},
				{"BTC/USD", alpaca.CryptoOrderbook{Timestamp: t1,
					Bids: []alpaca.CryptoOrderbookEntry{lv(97000, 0)}, Asks: []alpaca.CryptoOrderbookEntry{lv(97015, 0.75)}}},
				{"ETH/USD", alpaca.CryptoOrderbook{Timestamp: t1,
					Bids: []alpaca.CryptoOrderbookEntry{}, Asks: []alpaca.CryptoOrderbookEntry{lv(3100, 2)}}},
			}
			for i, w := range wants {
				m := recv(t, s.Messages(), "order book")
				if m.Kind != stream.KindOrderbook || m.Symbol != w.sym {
					t.Fatalf("book %d: got kind %d for %q: %+v", i, m.Kind, m.Symbol, m)
				}
				got := m.Orderbook
				if !got.Timestamp.Equal(w.book.Timestamp) || got.Reset != w.book.Reset ||
					!slices.Equal(got.Bids, w.book.Bids) || !slices.Equal(got.Asks, w.book.Asks) {
					t.Errorf("book %d: got %+v, want %+v", i, got, w.book)
				}
			}
			tr := recv(t, s.Messages(), "trade")
			if tr.Kind != stream.KindTrade || tr.Trade.Price != 97012.5 || tr.Orderbook.Bids != nil || tr.Orderbook.Asks != nil {
				t.Errorf("trade after books: got %+v", tr)
			}

			// Unsubscribed, the echo has no order books left.
			if err := s.Unsubscribe(context.Background(), sub); err != nil {
				t.Fatal(err)
			}
			if got := s.Subscribed(); !got.Empty() {
				t.Errorf("Subscribed after unsubscribe: got %+v", got)
			}
			stop()
			if st := s.Stats(); st.Malformed != 0 {
				t.Errorf("Malformed: got %d", st.Malformed)
			}
		})
	}
}

// subscribeWire is a subscribe or unsubscribe request as the stock
// stream has always sent it; cryptoSubscribeWire adds orderbooks.
type subscribeWire struct {
	Action      string   `msgpack:"action"`
	Trades      []string `msgpack:"trades"`
	Quotes      []string `msgpack:"quotes"`
	Bars        []string `msgpack:"bars"`
	DailyBars   []string `msgpack:"dailyBars"`
	UpdatedBars []string `msgpack:"updatedBars"`
}

type cryptoSubscribeWire struct {
	Action      string   `msgpack:"action"`
	Trades      []string `msgpack:"trades"`
	Quotes      []string `msgpack:"quotes"`
	Bars        []string `msgpack:"bars"`
	DailyBars   []string `msgpack:"dailyBars"`
	UpdatedBars []string `msgpack:"updatedBars"`
	Orderbooks  []string `msgpack:"orderbooks"`
}

// The bytes of subscribe and unsubscribe: the stock stream's as before
// order books existed (Alpaca's stock stream does not know the key), the
// crypto stream's with orderbooks always present.
func TestWSSubscribeWireBytes(t *testing.T) {
	none := []string{}
	for _, codec := range []string{"JSON", "Msgpack"} {
		t.Run("Stock"+codec, func(t *testing.T) {
			srv, _, _, fake := newFakeServer(t)
			s, connected := newTestMarketData(t, srv.URL, stream.WithMsgpack(codec == "Msgpack"))
			stop, _ := runBG(t, s.Run)
			recv(t, connected, "connect")
			ctx := context.Background()
			// A stock stream has no order books: refused before anything is sent.
			if err := s.Subscribe(ctx, stream.Subscription{Trades: []string{"AAPL"}, Orderbooks: []string{"AAPL"}}); !errors.Is(err, alpaca.ErrValidation) {
				t.Errorf("Subscribe with Orderbooks: got %v, want ErrValidation", err)
			}
			if err := s.Subscribe(ctx, stream.Subscription{Trades: []string{"AAPL"}, DailyBars: []string{"SPY"}}); err != nil {
				t.Fatal(err)
			}
			if err := s.Unsubscribe(ctx, stream.Subscription{Trades: []string{"AAPL"}}); err != nil {
				t.Fatal(err)
			}
			stop()
			want := [][]byte{
				[]byte(`{"action":"subscribe","trades":["AAPL"],"quotes":[],"bars":[],"dailyBars":["SPY"],"updatedBars":[]}`),
				[]byte(`{"action":"unsubscribe","trades":["AAPL"],"quotes":[],"bars":[],"dailyBars":[],"updatedBars":[]}`),
			}
			if codec == "Msgpack" {
				want = [][]byte{
					mustMsgpack(t, subscribeWire{"subscribe", []string{"AAPL"}, none, none, []string{"SPY"}, none}),
					mustMsgpack(t, subscribeWire{"unsubscribe", []string{"AAPL"}, none, none, none, none}),
				}
			}
			if got := fake.rawSubscribeRequests(); !reflect.DeepEqual(got, want) {
				t.Errorf("requests:\n got %q\nwant %q", got, want)
			}
		})
		t.Run("Crypto"+codec, func(t *testing.T) {
			srv, _, _, fake := newFakeServer(t)
			connected := make(chan struct{}, 4)
			s, err := stream.NewCryptoMarketData(srv.URL, "", fastOptions(
				stream.WithMsgpack(codec == "Msgpack"),
				stream.WithConnectHandlers(func() { notify(connected, struct{}{}) }, nil))...)
			if err != nil {
				t.Fatal(err)
			}
			stop, _ := runBG(t, s.Run)
			recv(t, connected, "connect")
			ctx := context.Background()
			if err := s.Subscribe(ctx, stream.Subscription{Trades: []string{"ETH/USD"}}); err != nil {
				t.Fatal(err)
			}
			if err := s.Subscribe(ctx, stream.Subscription{Orderbooks: []string{"BTC/USD"}}); err != nil {
				t.Fatal(err)
			}
			if err := s.Unsubscribe(ctx, stream.Subscription{Orderbooks: []string{"BTC/USD"}}); err != nil {
				t.Fatal(err)
			}
			stop()
			want := [][]byte{
				[]byte(`{"action":"subscribe","trades":["ETH/USD"],"quotes":[],"bars":[],"dailyBars":[],"updatedBars":[],"orderbooks":[]}`),
				[]byte(`{"action":"subscribe","trades":[],"quotes":[],"bars":[],"dailyBars":[],"updatedBars":[],"orderbooks":["BTC/USD"]}`),
				[]byte(`{"action":"unsubscribe","trades":[],"quotes":[],"bars":[],"dailyBars":[],"updatedBars":[],"orderbooks":["BTC/USD"]}`),
			}
			if codec == "Msgpack" {
				want = [][]byte{
					mustMsgpack(t, cryptoSubscribeWire{"subscribe", []string{"ETH/USD"}, none, none, none, none, none}),
					mustMsgpack(t, cryptoSubscribeWire{"subscribe", none, none, none, none, none, []string{"BTC/USD"}}),
					mustMsgpack(t, cryptoSubscribeWire{"unsubscribe", none, none, none, none, none, []string{"BTC/USD"}}),
				}
			}
			if got := fake.rawSubscribeRequests(); !reflect.DeepEqual(got, want) {
				t.Errorf("requests:\n got %q\nwant %q", got, want)
			}
		})
	}
}

func mustMsgpack(t *testing.T, v any) []byte {
	t.Helper()
	b, err := msgpack.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Against the broker simulator over real TCP: subscribing to BTC/USD's
// order book brings the whole book (Reset) right after the echo, bids
// below asks, each side best first; the minute stepped after it brings
// the book again as an update.
func TestWSCryptoOrderbooksAgainstSim(t *testing.T) {
	srv := simtest.Start(t, sim.Config{Seed: 9, Session: sim.NYSE{},
		Credentials: []sim.Credential{{KeyID: testKey, Secret: testSecret}}, Clock: sim.NewSteppedClock(cryptoSimAt)})
	// A safety net only, as in TestWSCryptoAgainstSim.
	const net = time.Minute
	next := cryptoSimAt.Truncate(time.Minute)
	for _, codec := range []string{"JSON", "Msgpack"} {
		t.Run(codec, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), net)
			defer cancel()
			s, stop := connectSimCrypto(ctx, t, srv.URL, codec, net)
			if err := s.Subscribe(ctx, stream.Subscription{Orderbooks: []string{"BTCUSD"}}); err != nil {
				t.Fatal(err)
			}
			if got := s.Subscribed(); !slices.Equal(got.Orderbooks, []string{"BTC/USD"}) {
				t.Fatalf("Subscribed: %+v", got)
			}
			book := func(what string) alpaca.CryptoOrderbook {
				t.Helper()
				select {
				case m := <-s.Messages():
					if m.Kind != stream.KindOrderbook || m.Symbol != "BTC/USD" {
						t.Fatalf("%s: got %+v", what, m)
					}
					return m.Orderbook
				case <-ctx.Done():
					t.Fatalf("%s: none; stats %+v", what, s.Stats())
				}
				panic("unreachable")
			}
			checkBook := func(what string, b alpaca.CryptoOrderbook) {
				t.Helper()
				if len(b.Bids) == 0 || len(b.Asks) == 0 || b.Timestamp.IsZero() {
					t.Fatalf("%s: %+v", what, b)
				}
				if b.Bids[0].Price >= b.Asks[0].Price {
					t.Errorf("%s: best bid %v not below best ask %v", what, b.Bids[0].Price, b.Asks[0].Price)
				}
				for i, l := range b.Bids {
					if l.Size <= 0 || i > 0 && l.Price >= b.Bids[i-1].Price {
						t.Errorf("%s: bid %d %+v out of order or empty: %+v", what, i, l, b.Bids)
					}
				}
				for i, l := range b.Asks {
					if l.Size <= 0 || i > 0 && l.Price <= b.Asks[i-1].Price {
						t.Errorf("%s: ask %d %+v out of order or empty: %+v", what, i, l, b.Asks)
					}
				}
			}
			// The whole book comes right after the echo, with no step.
			snap := book("snapshot")
			if !snap.Reset {
				t.Errorf("the first book after subscribing is not a reset: %+v", snap)
			}
			checkBook("snapshot", snap)

			next = next.Add(time.Minute)
			if _, err := srv.AdvanceClock(ctx, next); err != nil {
				t.Fatal(err)
			}
			upd := book("update")
			if upd.Reset {
				t.Errorf("the book after a step is a reset: %+v", upd)
			}
			checkBook("update", upd)
			if err := stop(); !errors.Is(err, context.Canceled) {
				t.Errorf("Run: %v", err)
			}
			if st := s.Stats(); st.Malformed != 0 || st.BufferFull != 0 {
				t.Errorf("stats %+v", st)
			}
		})
	}
}
