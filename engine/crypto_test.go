package engine_test

import (
	"context"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/quantum-alpaca/quantum/alpaca"
	"github.com/quantum-alpaca/quantum/alpaca/stream"
	"github.com/quantum-alpaca/quantum/alpacabroker"
	"github.com/quantum-alpaca/quantum/engine"
	"github.com/quantum-alpaca/quantum/internal/simtest"
	"github.com/quantum-alpaca/quantum/sim"
	"github.com/quantum-alpaca/quantum/strategy/dca"
	"github.com/quantum-alpaca/quantum/trading"
)

// A crypto tenant: a dca buying $100 of BTC/USD at a time against the
// real simulator. Its orders go out as gtc (Alpaca refuses day orders for
// crypto), the fractional fills are journaled, and the position the
// engine holds becomes the one the broker holds net of the fee.
func TestCryptoTenant(t *testing.T) {
	srv := simtest.Start(t, sim.Config{Seed: 5})
	br, client := MustBroker(t, srv.URL)
	e := newEngine(t, MustOpenJournal(t, t.TempDir()))
	e.AccountInterval = time.Hour // only a fill may read the position back
	const count = 3
	cfg := dca.Config{Symbol: "BTC/USD", Notional: decimal.NewFromInt(100), Interval: 5 * time.Millisecond, Count: count}
	if err := e.AddTenant(engine.TenantConfig{ID: "btc", Broker: br, StrategyName: "dca",
		NewStrategy: func() (trading.Strategy, error) { return dca.New(cfg), nil }}); err != nil {
		t.Fatal(err)
	}
	if err := e.Open(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "three filled crypto orders", func() bool {
		s := e.Statuses()[0]
		return s.OrdersPlaced == count && s.OpenOrders == 0 && s.Fills >= count
	})
	orders := brokerOrders(t, client)
	if len(orders) != count {
		t.Fatalf("the broker holds %d orders, want %d", len(orders), count)
	}
	for _, o := range orders {
		if o.TimeInForce != alpaca.GTC || o.Symbol != "BTC/USD" || o.Status != alpaca.StatusFilled {
			t.Errorf("order %s: %s %s %s; want a filled gtc BTC/USD order", o.ClientOrderID, o.Symbol, o.TimeInForce, o.Status)
		}
	}
	pos, err := client.GetPosition(context.Background(), "BTC/USD")
	if err != nil {
		t.Fatal(err)
	}
	if !pos.Qty.IsPositive() || pos.Qty.IsInteger() {
		t.Fatalf("the broker holds %s BTC/USD, want a fractional quantity", pos.Qty)
	}
	// The fee is charged in BTC, so the broker holds less than was
	// filled; the engine reads the position back after crypto fills
	// instead of trading on the gross quantity until its next refresh.
	waitFor(t, 5*time.Second, "the engine's BTC/USD position to be the broker's", func() bool {
		return e.Statuses()[0].Positions["BTC/USD"].Equal(pos.Qty)
	})
}

// quoteWatcher is a strategy that only watches a pair: it asks for its
// quotes and minute bars and hands them to the test.
type quoteWatcher struct {
	trading.BaseStrategy
	symbol string
	quotes chan trading.Quote
	bars   chan trading.Bar
}

func (w quoteWatcher) Start(*trading.Env) (trading.Subscription, error) {
	return trading.Subscription{Symbols: []string{w.symbol}, Bars: []string{w.symbol}}, nil
}

func (w quoteWatcher) OnQuote(_ *trading.Env, q trading.Quote) {
	select {
	case w.quotes <- q:
	default:
	}
}

func (w quoteWatcher) OnBar(_ *trading.Env, b trading.Bar) {
	select {
	case w.bars <- b:
	default:
	}
}

// A crypto tenant's strategy gets streamed quotes and minute bars: the
// engine's one market-data feed routes BTC/USD to the broker's crypto
// websocket, and the hub hands what comes back to the tenant, the bar's
// fractional volume intact.
func TestCryptoTenantStreamedQuotes(t *testing.T) {
	at := time.Date(2026, 11, 15, 14, 30, 20, 0, time.UTC) // a Sunday: only crypto trades
	srv := simtest.Start(t, sim.Config{Seed: 5, Clock: sim.NewSteppedClock(at)})
	br, _ := MustBroker(t, srv.URL)
	e := newEngine(t, MustOpenJournal(t, t.TempDir()))
	subscribed := make(chan stream.Subscription, 16)
	key, secret := newKeys(t)
	feed, err := alpacabroker.NewFeed(srv.URL, stream.FeedIEX, key, secret,
		stream.WithSubscribedHandler(func(s stream.Subscription) {
			select {
			case subscribed <- s:
			default:
			}
		}))
	if err != nil {
		t.Fatal(err)
	}
	e.Hub = engine.NewHub(nil)
	e.Hub.Feed = feed
	e.Hub.Interval = 20 * time.Millisecond
	e.Hub.Logger = e.Logger
	w := quoteWatcher{symbol: "BTC/USD", quotes: make(chan trading.Quote, 16), bars: make(chan trading.Bar, 16)}
	if err := e.AddTenant(engine.TenantConfig{ID: "btc-watch", Broker: br, StrategyName: "watch",
		NewStrategy: func() (trading.Strategy, error) { return w, nil }}); err != nil {
		t.Fatal(err)
	}
	if err := e.Open(); err != nil {
		t.Fatal(err)
	}
	// A safety net only, for a busy machine under -race: nothing here
	// waits on the clock.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// The crypto stream publishes a minute when it ends, to whoever is
	// subscribed then: step once the broker has confirmed the tenant's pair.
	for quotes, bars := false, false; !quotes || !bars; {
		select {
		case s := <-subscribed:
			quotes = quotes || slices.Contains(s.Quotes, "BTC/USD")
			bars = bars || slices.Contains(s.Bars, "BTC/USD")
		case <-ctx.Done():
			t.Fatal("the feed never subscribed BTC/USD")
		}
	}
	next := at.Truncate(time.Minute).Add(time.Minute)
	if _, err := srv.AdvanceClock(ctx, next); err != nil {
		t.Fatal(err)
	}
	select {
	case q := <-w.quotes:
		if q.Symbol != "BTC/USD" || !q.Bid.IsPositive() || !q.Ask.GreaterThan(q.Bid) {
			t.Errorf("quote %+v", q)
		}
	case <-ctx.Done():
		t.Fatal("the strategy saw no BTC/USD quote")
	}
	select {
	case b := <-w.bars:
		if b.Symbol != "BTC/USD" || !b.Time.Equal(next.Add(-time.Minute)) || b.Volume <= 0 || b.Volume == math.Trunc(b.Volume) {
			t.Errorf("bar %+v: want the stepped minute's, with a fractional volume", b)
		}
	case <-ctx.Done():
		t.Fatal("the strategy saw no BTC/USD bar")
	}
}
