package stream_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/quantum-alpaca/quantum/alpaca"
	"github.com/quantum-alpaca/quantum/alpaca/stream"
	"github.com/quantum-alpaca/quantum/sim"
)

// These tests run the stream clients against the project's broker
// simulator over real TCP: the wire-compatibility check between the two
// halves of the project. Orders are placed with plain HTTP so that these
// tests depend on nothing but the streams and the simulator.

func newStreamSim(t *testing.T) *httptest.Server {
	t.Helper()
	s, err := sim.New(sim.Config{
		Seed:         7,
		Credentials:  []sim.Credential{{KeyID: testKey, Secret: testSecret}},
		TickInterval: 20 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(func() {
		s.Close() // ends open streams first, so srv.Close does not wait on them
		srv.Close()
	})
	return srv
}

// simPlaceOrder submits a market buy and returns the broker's order id.
func simPlaceOrder(t *testing.T, base, symbol string) string {
	t.Helper()
	body := `{"symbol":"` + symbol + `","qty":"1","side":"buy","type":"market","time_in_force":"day"}`
	req, _ := http.NewRequest(http.MethodPost, base+"/v2/orders", strings.NewReader(body))
	req.Header.Set("APCA-API-KEY-ID", testKey)
	req.Header.Set("APCA-API-SECRET-KEY", testSecret)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("place order: HTTP %d: %s", resp.StatusCode, b)
	}
	var o alpaca.Order
	if err := json.Unmarshal(b, &o); err != nil {
		t.Fatal(err)
	}
	return o.ID
}

// simAwaitFill reads updates until the order's fill, and returns the
// event ids seen for it.
func simAwaitFill(t *testing.T, updates <-chan alpaca.TradeUpdate, orderID string) (events []string, ids []string) {
	t.Helper()
	deadline := time.After(safetyNet)
	for {
		select {
		case tu, ok := <-updates:
			if !ok {
				t.Fatal("updates closed")
			}
			if tu.Order.ID != orderID {
				continue
			}
			events, ids = append(events, tu.Event), append(ids, tu.EventID)
			if tu.Event == "fill" {
				return events, ids
			}
		case <-deadline:
			t.Fatalf("no fill for order %s within %v (saw %v)", orderID, safetyNet, events)
		}
	}
}

func TestSSEStreamAgainstSim(t *testing.T) {
	srv := newStreamSim(t)
	connected := make(chan struct{}, 4)
	s1, err := stream.NewTradeEvents(srv.URL, fastOptions(
		stream.WithHTTPClient(srv.Client()),
		stream.WithConnectHandlers(func() { notify(connected, struct{}{}) }, nil),
	)...)
	if err != nil {
		t.Fatal(err)
	}
	stop, _ := runBG(t, s1.Run)
	recv(t, connected, "connect")
	first := simPlaceOrder(t, srv.URL, "AAPL")
	events, _ := simAwaitFill(t, s1.Updates(), first)
	if events[0] != "new" && events[0] != "accepted" && events[0] != "pending_new" {
		t.Errorf("first event: got %q", events[0])
	}
	if err := stop(); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run: got %v", err)
	}
	last := s1.LastEventID()
	if last == "" {
		t.Fatal("no event id from the simulator")
	}

	// A second stream resuming from the first one's last id sees what
	// happened while nobody was listening, and nothing from before.
	second := simPlaceOrder(t, srv.URL, "MSFT")
	s2, err := stream.NewTradeEvents(srv.URL, fastOptions(stream.WithResumeAfter(last))...)
	if err != nil {
		t.Fatal(err)
	}
	stop2, _ := runBG(t, s2.Run)
	deadline := time.After(safetyNet)
	for done := false; !done; {
		select {
		case tu := <-s2.Updates():
			if tu.Order.ID == first || tu.EventID <= last {
				t.Fatalf("resumed stream replayed %s (%s) from before %s", tu.EventID, tu.Event, last)
			}
			done = tu.Order.ID == second && tu.Event == "fill"
		case <-deadline:
			t.Fatal("resumed stream did not deliver the second order's fill")
		}
	}
	stop2()
}

func TestWSTradeUpdatesAgainstSim(t *testing.T) {
	srv := newStreamSim(t)
	s, err := stream.NewTradeSocket(srv.URL, fastOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	stop, _ := runBG(t, s.Run)
	recv(t, s.ResyncNeeded(), "listening")
	id := simPlaceOrder(t, srv.URL, "AAPL")
	simAwaitFill(t, s.Updates(), id)
	if err := stop(); !errors.Is(err, context.Canceled) {
		t.Errorf("Run: got %v", err)
	}

	bad, _ := stream.NewTradeSocket(srv.URL, stream.WithCredentials(testKey, "nope"))
	ctx, cancel := context.WithTimeout(context.Background(), safetyNet)
	defer cancel()
	if err := bad.Run(ctx); !errors.Is(err, stream.ErrUnauthorized) {
		t.Errorf("bad credentials: got %v, want ErrUnauthorized", err)
	}
}

func TestWSMarketDataAgainstSim(t *testing.T) {
	srv := newStreamSim(t) // building the synthetic market is the slow part; share it
	for _, codec := range []string{"JSON", "Msgpack"} {
		t.Run(codec, func(t *testing.T) {
			s, err := stream.NewMarketData(srv.URL, stream.FeedIEX, fastOptions(stream.WithMsgpack(codec == "Msgpack"))...)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Subscribe(context.Background(), stream.Subscription{Quotes: []string{"AAPL"}, Trades: []string{"AAPL"}}); err != nil {
				t.Fatal(err)
			}
			stop, _ := runBG(t, s.Run)
			deadline := time.After(safetyNet)
			// Quotes move every tick; trades are the market's choice, so
			// they are checked when they come but not waited for.
			var quote, trade bool
			for !quote {
				select {
				case m := <-s.Messages():
					if m.Symbol != "AAPL" {
						t.Fatalf("unsubscribed symbol %q", m.Symbol)
					}
					switch m.Kind {
					case stream.KindQuote:
						quote = true
						if m.Quote.BidPrice <= 0 || m.Quote.AskPrice < m.Quote.BidPrice || m.Quote.Timestamp.IsZero() {
							t.Errorf("implausible quote %+v", m.Quote)
						}
					case stream.KindTrade:
						trade = true
						if m.Trade.Price <= 0 || m.Trade.Timestamp.IsZero() {
							t.Errorf("implausible trade %+v", m.Trade)
						}
					}
				case <-deadline:
					t.Fatalf("quote %v, trade %v within %v; stats %+v", quote, trade, safetyNet, s.Stats())
				}
			}
			if got := s.Subscribed(); len(got.Quotes) != 1 || got.Quotes[0] != "AAPL" {
				t.Errorf("Subscribed: got %+v", got)
			}
			stop()
			if st := s.Stats(); st.Malformed != 0 {
				t.Errorf("Malformed: got %d", st.Malformed)
			}
		})
	}

	t.Run("AuthFailed", func(t *testing.T) {
		s, _ := stream.NewMarketData(srv.URL, stream.FeedIEX, stream.WithCredentials(testKey, "nope"))
		ctx, cancel := context.WithTimeout(context.Background(), safetyNet)
		defer cancel()
		if err := s.Run(ctx); !errors.Is(err, stream.ErrAuthFailed) {
			t.Errorf("got %v, want ErrAuthFailed", err)
		}
	})
}

// With handlers, updates and the resync signal arrive as calls on Run's
// goroutine, and a handler's error ends Run.
func TestSSEHandlersAgainstSim(t *testing.T) {
	srv := newStreamSim(t)
	updates := make(chan alpaca.TradeUpdate, 16)
	resyncs := make(chan struct{}, 4)
	stop := errors.New("enough")
	s, err := stream.NewTradeEvents(srv.URL,
		stream.WithCredentials(testKey, testSecret),
		stream.WithTradeUpdateHandler(
			func(ctx context.Context, tu alpaca.TradeUpdate) error {
				updates <- tu
				if tu.Event == "fill" {
					return stop
				}
				return nil
			},
			func(context.Context) error { resyncs <- struct{}{}; return nil }))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), safetyNet)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	select {
	case <-resyncs: // live-only start: the caller must sweep
	case <-ctx.Done():
		t.Fatal("no resync call on a live-only start")
	}
	id := simPlaceOrder(t, srv.URL, "AAPL")
	if err := <-done; !errors.Is(err, stop) {
		t.Fatalf("Run = %v, want the handler's error", err)
	}
	close(updates)
	var fill bool
	for tu := range updates {
		fill = fill || tu.Order.ID == id && tu.Event == "fill"
	}
	if !fill {
		t.Fatal("handler never saw the fill")
	}
	if _, ok := <-s.Updates(); ok {
		t.Fatal("Updates channel not closed after Run")
	}
}
