package alpacabroker_test

import (
	"context"
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/quantum-alpaca/quantum/alpaca/stream"
	"github.com/quantum-alpaca/quantum/alpacabroker"
	"github.com/quantum-alpaca/quantum/internal/simtest"
	"github.com/quantum-alpaca/quantum/sim"
	"github.com/quantum-alpaca/quantum/trading"
)

// One Feed, one subscription naming a stock and a crypto pair: the pair
// goes to the crypto stream and the stock to the stock stream (either
// would refuse the other's symbol), and both come back on the Feed's
// channels, the pair's bar with its fractional volume.
func TestFeedStreamsCryptoPairs(t *testing.T) {
	at := time.Date(2026, 11, 16, 15, 0, 20, 0, time.UTC)
	srv := simtest.Start(t, sim.Config{Seed: 9, Clock: sim.NewSteppedClock(at)})
	subscribed := make(chan stream.Subscription, 16)
	key := fmt.Sprintf("PKFEED%d%d", time.Now().UnixNano(), brokerKeys.Add(1))
	f, err := alpacabroker.NewFeed(srv.URL, stream.FeedIEX, key, "feed-test-secret-0123456789",
		stream.WithSubscribedHandler(func(s stream.Subscription) {
			select {
			case subscribed <- s:
			default:
			}
		}))
	if err != nil {
		t.Fatal(err)
	}
	// A safety net only: building the markets under -race on a busy
	// machine is slow, and nothing here waits on the clock.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()
	defer func() {
		cancel()
		<-done
	}()
	syms := []string{"AAPL", "BTC/USD"}
	if err := f.Subscribe(ctx, syms); err != nil {
		t.Fatal(err)
	}
	if err := f.SubscribeBars(ctx, syms); err != nil {
		t.Fatal(err)
	}
	// The minute is stepped only once both servers have confirmed the
	// subscriptions: a minute published before is not sent again.
	var stockQ, stockB, cryptoQ, cryptoB bool
	for !(stockQ && stockB && cryptoQ && cryptoB) {
		select {
		case s := <-subscribed:
			stockQ = stockQ || slices.Contains(s.Quotes, "AAPL")
			stockB = stockB || slices.Contains(s.Bars, "AAPL")
			cryptoQ = cryptoQ || slices.Contains(s.Quotes, "BTC/USD")
			cryptoB = cryptoB || slices.Contains(s.Bars, "BTC/USD")
			if slices.Contains(s.Quotes, "BTC/USD") && slices.Contains(s.Quotes, "AAPL") {
				t.Fatalf("one stream holds both a stock and a pair: %+v", s)
			}
		case err := <-done:
			t.Fatalf("feed ended: %v", err)
		case <-ctx.Done():
			t.Fatalf("subscriptions confirmed: AAPL quotes %v bars %v, BTC/USD quotes %v bars %v", stockQ, stockB, cryptoQ, cryptoB)
		}
	}
	next := at.Truncate(time.Minute).Add(time.Minute)
	if _, err := srv.AdvanceClock(ctx, next); err != nil {
		t.Fatal(err)
	}
	var btcQuote, aaplQuote *trading.Quote
	var btcBar *trading.Bar
	for btcQuote == nil || aaplQuote == nil || btcBar == nil {
		select {
		case q := <-f.Quotes():
			switch q.Symbol {
			case "BTC/USD":
				btcQuote = &q
			case "AAPL":
				aaplQuote = &q
			default:
				t.Fatalf("a quote for %s", q.Symbol)
			}
		case b := <-f.Bars():
			if b.Symbol == "BTC/USD" {
				btcBar = &b
			}
		case err := <-done:
			t.Fatalf("feed ended: %v", err)
		case <-ctx.Done():
			t.Fatalf("after a step: BTC/USD quote %v bar %v, AAPL quote %v", btcQuote, btcBar, aaplQuote)
		}
	}
	if !btcQuote.Bid.IsPositive() || !btcQuote.Ask.GreaterThan(btcQuote.Bid) {
		t.Errorf("BTC/USD quote %+v", *btcQuote)
	}
	if !aaplQuote.Mid().IsPositive() {
		t.Errorf("AAPL quote %+v", *aaplQuote)
	}
	if !btcBar.Time.Equal(next.Add(-time.Minute)) || btcBar.Volume <= 0 || btcBar.Volume == math.Trunc(btcBar.Volume) || !btcBar.Close.IsPositive() {
		t.Errorf("BTC/USD bar %+v: want the stepped minute's, with a fractional volume", *btcBar)
	}
	if n := f.Dropped() + f.BarsDropped(); n != 0 {
		t.Errorf("%d dropped", n)
	}
}
