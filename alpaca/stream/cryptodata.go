package stream

import (
	"context"
	"fmt"
	"strings"

	"github.com/quantum-alpaca/quantum/alpaca"
)

// CryptoMessage is one message from the crypto market-data stream: a
// flat union like Message, with the crypto wire types, whose sizes and
// volumes are fractional (0.0123 BTC) where a stock's are whole shares.
//
// An order book (KindOrderbook) comes as the server sends it: the first
// after a subscription, and after each reconnect, has Reset set and is
// the whole book; the ones after are updates to apply to it, where a
// level of size 0 removes its price (see alpaca.CryptoOrderbook). The
// client keeps no book itself. A book's level slices belong to the
// message. An update dropped on a full Messages channel (counted in
// Stats().BufferFull) leaves a book built from the updates wrong until
// the next reset: a consumer that keeps books can resubscribe for one.
type CryptoMessage struct {
	Kind      Kind
	Symbol    string // the pair, "BTC/USD"
	Trade     alpaca.CryptoTrade
	Quote     alpaca.CryptoQuote
	Bar       alpaca.CryptoBar
	Orderbook alpaca.CryptoOrderbook
}

// CryptoMarketData is a client for the crypto market-data websocket,
// <base>/v1beta3/crypto/{loc}. It speaks the stock stream's protocol
// (auth, additive subscriptions echoed in full, errors by code) and is
// the same client underneath: the same overflow policy (a full Messages
// channel drops and counts), the same remembered subscription re-sent
// after each reconnect, the same Options. It delivers trades, quotes,
// minute bars, updated bars, daily bars and, on the one channel the
// stock stream lacks (Subscription.Orderbooks), order books. Its
// subscribe and unsubscribe requests always carry the orderbooks key.
// Symbols are pairs ("BTC/USD"). Create it with NewCryptoMarketData and
// call Run exactly once.
type CryptoMarketData struct {
	md mdStream[CryptoMessage]
}

// NewCryptoMarketData returns a client for
// <baseURL>/v1beta3/crypto/<loc>, where baseURL is the stream host
// (https://stream.data.alpaca.markets, or a simulator's
// http://host:port) and loc the data location, alpaca.CryptoUS when
// empty; http maps to ws and https to wss. A baseURL that already ends
// in /v1beta3/crypto is accepted too. Credentials are required; see
// Options for the rest (the SSE-only fields are ignored).
func NewCryptoMarketData(baseURL, loc string, opts ...Option) (*CryptoMarketData, error) {
	if loc == "" {
		loc = alpaca.CryptoUS
	}
	if strings.ContainsAny(loc, "/?#") {
		return nil, fmt.Errorf("alpaca: bad crypto location %q", loc)
	}
	s := &CryptoMarketData{md: mdStream[CryptoMessage]{books: true}}
	if err := s.md.init(baseURL, []string{"v1beta3", "crypto", loc}, opts, "crypto_data", "crypto market data", (*mdWire).toCryptoMessage); err != nil {
		return nil, err
	}
	return s, nil
}

// Messages returns the channel of crypto market data. It is closed when
// Run returns.
func (s *CryptoMarketData) Messages() <-chan CryptoMessage { return s.md.out }

// Stats returns the stream's counters; BufferFull counts dropped messages.
func (s *CryptoMarketData) Stats() Stats { return s.md.stats.snapshot() }

// Subscribe adds pairs to the subscription, as MarketData.Subscribe
// does. The server names a pair in its canonical form ("BTC/USD" for
// "BTCUSD"), and so do Subscribed and the messages.
func (s *CryptoMarketData) Subscribe(ctx context.Context, sub Subscription) error {
	return s.md.change(ctx, true, sub)
}

// Unsubscribe removes pairs from the subscription, as
// MarketData.Unsubscribe does.
func (s *CryptoMarketData) Unsubscribe(ctx context.Context, sub Subscription) error {
	return s.md.change(ctx, false, sub)
}

// Subscribed returns the subscription the server last confirmed on the
// current connection; it is empty while disconnected.
func (s *CryptoMarketData) Subscribed() Subscription { return s.md.subscribed() }

// Run connects, authenticates, subscribes and keeps doing so until ctx
// is done, as MarketData.Run does. All goroutines Run starts have
// exited when it returns, and the Messages channel is closed.
func (s *CryptoMarketData) Run(ctx context.Context) error { return s.md.run(ctx) }
