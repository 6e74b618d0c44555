package stream_test

import (
	"context"
	"errors"
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/quantum-alpaca/quantum/alpaca"
	"github.com/quantum-alpaca/quantum/alpaca/stream"
	"github.com/quantum-alpaca/quantum/internal/simtest"
	"github.com/quantum-alpaca/quantum/sim"
)

// The crypto stream is the market-data client on another path, with
// fractional sizes: these tests check what differs (the path, the
// message types, sizes that must not be truncated); the protocol
// machinery is the stock stream's and tested there.

func TestWSCryptoDecodesFractionalSizes(t *testing.T) {
	for _, codec := range []string{"JSON", "Msgpack"} {
		t.Run(codec, func(t *testing.T) {
			sub := stream.Subscription{Trades: []string{"BTC/USD"}, Quotes: []string{"BTC/USD"}, Bars: []string{"BTC/USD"},
				DailyBars: []string{"BTC/USD"}, UpdatedBars: []string{"BTC/USD"}}
			s, fake, stop := startFakeCrypto(t, codec, sub)
			str := codec == "Msgpack"
			bar := func(typ string) map[string]any {
				return map[string]any{"T": typ, "S": "BTC/USD", "o": 97000.5, "h": 97100, "l": 96950.25, "c": 97050,
					"v": 1.23456789, "n": 42, "vw": 97020.125, "t": mdTimestamp(str, mdT0)}
			}
			fake.push(
				map[string]any{"T": "t", "S": "BTC/USD", "p": 97012.5, "s": 0.0123, "t": mdTimestamp(str, mdT0), "i": 7001, "tks": "B"},
				map[string]any{"T": "q", "S": "BTC/USD", "bp": 97010, "bs": 0.5, "ap": 97015, "as": 1.75, "t": mdTimestamp(str, mdT0)},
				bar("b"), bar("d"), bar("u"),
			)
			fake.push(map[string]any{"T": "q", "S": "END", "t": mdTimestamp(str, mdT0)})

			tr := recv(t, s.Messages(), "trade")
			want := alpaca.CryptoTrade{Timestamp: mdT0, Price: 97012.5, Size: 0.0123, ID: 7001, TakerSide: "B"}
			if tr.Kind != stream.KindTrade || tr.Symbol != "BTC/USD" || !tr.Trade.Timestamp.Equal(mdT0) ||
				tr.Trade.Price != want.Price || tr.Trade.Size != want.Size || tr.Trade.ID != want.ID || tr.Trade.TakerSide != want.TakerSide {
				t.Errorf("trade: got %+v, want %+v", tr, want)
			}
			q := recv(t, s.Messages(), "quote")
			if q.Kind != stream.KindQuote || q.Quote.BidPrice != 97010 || q.Quote.BidSize != 0.5 || q.Quote.AskPrice != 97015 ||
				q.Quote.AskSize != 1.75 || !q.Quote.Timestamp.Equal(mdT0) {
				t.Errorf("quote: got %+v", q)
			}
			for _, kind := range []stream.Kind{stream.KindBar, stream.KindDailyBar, stream.KindUpdatedBar} {
				b := recv(t, s.Messages(), "bar")
				if b.Kind != kind || b.Symbol != "BTC/USD" || b.Bar.Volume != 1.23456789 || b.Bar.Close != 97050 ||
					b.Bar.TradeCount != 42 || b.Bar.VWAP != 97020.125 || !b.Bar.Timestamp.Equal(mdT0) {
					t.Errorf("bar of kind %d: got %+v", kind, b)
				}
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

// startFakeCrypto runs a crypto stream against the fake server in
// codec ("JSON" or "Msgpack"), subscribed to sub before Run, and waits
// until the handshake has confirmed sub and the stream is connected.
func startFakeCrypto(t *testing.T, codec string, sub stream.Subscription) (*stream.CryptoMarketData, *fakeMarketData, func() error) {
	t.Helper()
	srv, _, _, fake := newFakeServer(t)
	connected := make(chan struct{}, 4)
	subscribed := make(chan stream.Subscription, 4)
	s, err := stream.NewCryptoMarketData(srv.URL, "", fastOptions(
		stream.WithMsgpack(codec == "Msgpack"),
		stream.WithSubscribedHandler(func(sub stream.Subscription) { notify(subscribed, sub) }),
		stream.WithConnectHandlers(func() { notify(connected, struct{}{}) }, nil))...)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Subscribe(context.Background(), sub); err != nil {
		t.Fatal(err)
	}
	stop, _ := runBG(t, s.Run)
	// The subscription made before Run is confirmed in the handshake.
	if got := recv(t, subscribed, "subscription"); !reflect.DeepEqual(got, sub) {
		t.Errorf("OnSubscribed: got %+v, want %+v", got, sub)
	}
	recv(t, connected, "connect")
	return s, fake, stop
}

// The location and a base URL that already names /v1beta3/crypto.
func TestNewCryptoMarketDataPath(t *testing.T) {
	srv, _, _, _ := newFakeServer(t)
	for _, base := range []string{srv.URL, srv.URL + "/", srv.URL + "/v1beta3/crypto", srv.URL + "/v1beta3"} {
		connected := make(chan struct{}, 1)
		s, err := stream.NewCryptoMarketData(base, alpaca.CryptoUS,
			fastOptions(stream.WithConnectHandlers(func() { notify(connected, struct{}{}) }, nil))...)
		if err != nil {
			t.Fatalf("%s: %v", base, err)
		}
		stop, _ := runBG(t, s.Run)
		recv(t, connected, "connect to "+base)
		stop()
	}
	if _, err := stream.NewCryptoMarketData(srv.URL, "us/x", fastOptions()...); err == nil {
		t.Error("a location with a slash: no error")
	}
	if _, err := stream.NewCryptoMarketData(srv.URL, ""); err == nil {
		t.Error("no credentials: no error")
	}
}

// cryptoSimAt is a Sunday, when only crypto trades.
var cryptoSimAt = time.Date(2026, 11, 15, 14, 30, 20, 0, time.UTC)

// Against the broker simulator over real TCP: after a minute of the
// crypto walk ends, the stream brings BTC/USD's trades, quote and bars
// with their fractional sizes intact, the bar the one REST serves.
func TestWSCryptoAgainstSim(t *testing.T) {
	srv := simtest.Start(t, sim.Config{Seed: 9, Session: sim.NYSE{},
		Credentials: []sim.Credential{{KeyID: testKey, Secret: testSecret}}, Clock: sim.NewSteppedClock(cryptoSimAt)})
	rest, err := alpaca.New(srv.URL, alpaca.WithCredentials(testKey, testSecret))
	if err != nil {
		t.Fatal(err)
	}
	// A safety net only: building the crypto walk under -race on a busy
	// machine is slow, and nothing here waits on the clock.
	const net = time.Minute
	next := cryptoSimAt.Truncate(time.Minute)
	for _, codec := range []string{"JSON", "Msgpack"} {
		t.Run(codec, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), net)
			defer cancel()
			s, stop := connectSimCrypto(ctx, t, srv.URL, codec, net)
			// Connected, Subscribe returns once the server has echoed the
			// subscription, so the minute stepped below is published to it.
			// "BTCUSD" is the same pair, and the server names it BTC/USD.
			if err := s.Subscribe(ctx, stream.Subscription{Trades: []string{"BTC/USD"}, Quotes: []string{"BTCUSD"},
				Bars: []string{"BTC/USD"}, DailyBars: []string{"BTC/USD"}}); err != nil {
				t.Fatal(err)
			}
			if got := s.Subscribed(); len(got.Quotes) != 1 || got.Quotes[0] != "BTC/USD" {
				t.Fatalf("Subscribed: %+v", got)
			}
			next = next.Add(time.Minute)
			if _, err := srv.AdvanceClock(ctx, next); err != nil {
				t.Fatal(err)
			}
			minute := next.Add(-time.Minute)
			var trades []alpaca.CryptoTrade
			var quote *alpaca.CryptoQuote
			var bar, daily *alpaca.CryptoBar
			// The minute's messages come in one frame: trades, bar, quote,
			// daily bar.
			for quote == nil || bar == nil || daily == nil {
				select {
				case m := <-s.Messages():
					if m.Symbol != "BTC/USD" {
						t.Fatalf("message for %q", m.Symbol)
					}
					switch m.Kind {
					case stream.KindTrade:
						trades = append(trades, m.Trade)
					case stream.KindQuote:
						quote = &m.Quote
					case stream.KindBar:
						bar = &m.Bar
					case stream.KindDailyBar:
						daily = &m.Bar
					}
				case <-ctx.Done():
					t.Fatalf("after a step: %d trades, quote %v, bar %v, daily %v; stats %+v", len(trades), quote, bar, daily, s.Stats())
				}
			}
			if len(trades) == 0 {
				t.Fatal("a bar but no trades")
			}
			fractional := false
			for _, x := range trades {
				if x.Price <= 0 || x.Size <= 0 || x.Timestamp.Before(minute) || !x.Timestamp.Before(next) || x.TakerSide == "" {
					t.Errorf("trade %+v", x)
				}
				fractional = fractional || x.Size != math.Trunc(x.Size)
			}
			if !fractional {
				t.Errorf("no trade of %d has a fractional size: %+v", len(trades), trades)
			}
			if quote.BidPrice <= 0 || quote.AskPrice <= quote.BidPrice || quote.BidSize <= 0 || quote.AskSize <= 0 {
				t.Errorf("quote %+v", *quote)
			}
			if !bar.Timestamp.Equal(minute) || bar.Volume <= 0 || bar.Volume == math.Trunc(bar.Volume) || bar.TradeCount != uint64(len(trades)) {
				t.Errorf("bar %+v, want the minute %s with a fractional volume over %d trades", *bar, minute, len(trades))
			}
			if daily.Volume < bar.Volume {
				t.Errorf("daily bar %+v, smaller than its last minute's %+v", *daily, *bar)
			}
			m, err := rest.GetCryptoBars(ctx, []string{"BTC/USD"}, alpaca.CryptoBarsRequest{CryptoRequest: alpaca.CryptoRequest{Start: minute, End: minute}})
			if err != nil {
				t.Fatal(err)
			}
			if r := m["BTC/USD"]; len(r) != 1 || r[0] != *bar {
				t.Errorf("streamed bar %+v, REST %+v", *bar, r)
			}
			if err := stop(); !errors.Is(err, context.Canceled) {
				t.Errorf("Run: %v", err)
			}
			if st := s.Stats(); st.Malformed != 0 || st.BufferFull != 0 {
				t.Errorf("stats %+v", st)
			}
		})
	}
}

// connectSimCrypto runs a crypto stream in codec ("JSON" or "Msgpack")
// against the broker at url and waits, until ctx ends, for it to
// connect.
func connectSimCrypto(ctx context.Context, t *testing.T, url, codec string, handshake time.Duration) (*stream.CryptoMarketData, func() error) {
	t.Helper()
	connected := make(chan struct{}, 4)
	s, err := stream.NewCryptoMarketData(url, alpaca.CryptoUS, fastOptions(
		stream.WithMsgpack(codec == "Msgpack"),
		stream.WithHandshakeTimeout(handshake),
		stream.WithConnectHandlers(func() { notify(connected, struct{}{}) }, nil))...)
	if err != nil {
		t.Fatal(err)
	}
	stop, _ := runBG(t, s.Run)
	select {
	case <-connected:
	case <-ctx.Done():
		t.Fatal("no connection")
	}
	return s, stop
}
