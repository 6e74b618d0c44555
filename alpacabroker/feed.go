package alpacabroker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/quantum-alpaca/quantum/alpaca"
	"github.com/quantum-alpaca/quantum/alpaca/stream"
	"github.com/quantum-alpaca/quantum/trading"
)

// Compile-time proof that Feed is a trading.BarFeed.
var _ trading.BarFeed = (*Feed)(nil)

// DefaultFeedBuffer is the capacity of a Feed's quote channel.
const DefaultFeedBuffer = 1024

// Feed is an trading.QuoteFeed over Alpaca's market-data websockets: one
// connection serves every tenant's stock quotes and bars, and another,
// to the crypto stream, every tenant's crypto pairs (trading.IsCrypto).
// The crypto connection is opened on the first crypto subscription, so
// a fleet that trades only stocks holds none.
//
// Overflow policy: when the hub falls behind, quotes are dropped (a newer
// quote supersedes an older one) and counted in Dropped.
//
// Bars are one per symbol per minute: their channel is deep enough that a
// hub which is alive never loses one, and one that is lost is counted in
// BarsDropped.
type Feed struct {
	// Logger hears of crypto subscriptions the crypto stream refused and
	// of a crypto stream that stopped for good. Default nil: silent.
	Logger *slog.Logger

	s           *stream.MarketData
	c           *stream.CryptoMarketData
	wantCrypto  chan struct{} // closed by the first crypto subscription
	cryptoOnce  sync.Once
	out         chan trading.Quote
	bars        chan trading.Bar
	dropped     atomic.Uint64
	barsDropped atomic.Uint64
}

// NewFeed returns a Feed for the market-data streams at dataURL (for
// Alpaca, https://stream.data.alpaca.markets; for the simulator, its
// base URL): stocks on feed (stream.FeedIEX or stream.FeedSIP), crypto
// pairs on /v1beta3/crypto/us. opts are applied to both streams after
// the credentials (stream.WithLogger, stream.WithSubscribedHandler...).
func NewFeed(dataURL string, feed stream.Feed, keyID, secret string, opts ...stream.Option) (*Feed, error) {
	opts = append([]stream.Option{stream.WithCredentials(keyID, secret)}, opts...)
	s, err := stream.NewMarketData(dataURL, feed, opts...)
	if err != nil {
		return nil, fmt.Errorf("alpacabroker: %w", err)
	}
	c, err := stream.NewCryptoMarketData(dataURL, alpaca.CryptoUS, opts...)
	if err != nil {
		return nil, fmt.Errorf("alpacabroker: %w", err)
	}
	return &Feed{s: s, c: c, wantCrypto: make(chan struct{}),
		out: make(chan trading.Quote, DefaultFeedBuffer), bars: make(chan trading.Bar, DefaultFeedBuffer)}, nil
}

// Quotes implements trading.QuoteFeed.
func (f *Feed) Quotes() <-chan trading.Quote { return f.out }

// Bars implements trading.BarFeed.
func (f *Feed) Bars() <-chan trading.Bar { return f.bars }

// BarsDropped returns how many bars were dropped because the reader was
// behind.
func (f *Feed) BarsDropped() uint64 { return f.barsDropped.Load() }

// SubscribeBars implements trading.BarFeed.
func (f *Feed) SubscribeBars(ctx context.Context, symbols []string) error {
	return f.subscribe(ctx, symbols, func(syms []string) stream.Subscription { return stream.Subscription{Bars: syms} })
}

// Dropped returns how many quotes were dropped because the reader was
// behind (here and in the streams' own buffers).
func (f *Feed) Dropped() uint64 {
	return f.dropped.Load() + f.s.Stats().BufferFull + f.c.Stats().BufferFull
}

// Subscribe implements trading.QuoteFeed.
func (f *Feed) Subscribe(ctx context.Context, symbols []string) error {
	return f.subscribe(ctx, symbols, func(syms []string) stream.Subscription { return stream.Subscription{Quotes: syms} })
}

// subscribe sends stocks to the stock stream and crypto pairs to the
// crypto one; either would refuse the other's symbols, and with them the
// whole request. Only the stock stream's error is returned: the hub
// retries a failed subscription, and a pair the crypto stream refuses
// (a symbol limit, say) must not cost every stock tenant its quotes
// over and over. The refusal is logged instead, and the pair goes
// unstreamed: its strategies still have their timers, and orders and
// risk checks price it by REST.
func (f *Feed) subscribe(ctx context.Context, symbols []string, sub func([]string) stream.Subscription) error {
	stocks, crypto := splitCrypto(symbols)
	if len(crypto) > 0 {
		// Subscribed before the stream starts, the pairs go out in its
		// first handshake.
		err := f.c.Subscribe(ctx, sub(crypto))
		f.cryptoOnce.Do(func() { close(f.wantCrypto) })
		if err != nil && ctx.Err() == nil && f.Logger != nil {
			f.Logger.Warn("crypto market data subscription refused: these pairs get no streamed quotes or bars; orders and risk checks price them by REST",
				"symbols", crypto, "err", err)
		}
	}
	if len(stocks) == 0 {
		return nil
	}
	return f.s.Subscribe(ctx, sub(stocks))
}

// Run implements trading.QuoteFeed. It ends when the stock stream does;
// the crypto stream failing for good is logged and leaves the stocks
// streaming.
func (f *Feed) Run(ctx context.Context) error {
	defer close(f.bars)
	defer close(f.out)
	sctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var runErr error
	wg.Add(2)
	go func() {
		defer wg.Done()
		runErr = f.s.Run(sctx)
	}()
	go func() {
		defer wg.Done()
		f.runCrypto(sctx)
	}()
	defer func() { cancel(); wg.Wait() }()
	for m := range f.s.Messages() {
		switch m.Kind {
		case stream.KindQuote:
			f.offerQuote(fromQuote(m.Symbol, m.Quote))
		case stream.KindBar:
			f.offerBar(fromBar(m.Symbol, m.Bar))
		}
	}
	// Messages is closed: the stock stream's Run has returned. The
	// crypto stream must end too before out and bars are closed.
	cancel()
	wg.Wait()
	if runErr == nil {
		runErr = errors.New("alpacabroker: market data stream ended")
	}
	return runErr
}

// runCrypto runs the crypto stream once a pair is wanted, forwarding its
// quotes and minute bars, until ctx ends or the stream fails for good.
func (f *Feed) runCrypto(ctx context.Context) {
	select {
	case <-f.wantCrypto:
	case <-ctx.Done():
		return
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for m := range f.c.Messages() {
			switch m.Kind {
			case stream.KindQuote:
				f.offerQuote(fromCryptoQuote(m.Symbol, m.Quote))
			case stream.KindBar:
				f.offerBar(fromCryptoBar(m.Symbol, m.Bar))
			}
		}
	}()
	err := f.c.Run(ctx) // closes Messages, which ends the forwarder
	wg.Wait()
	if ctx.Err() == nil && f.Logger != nil {
		f.Logger.Error("crypto market data stream stopped: crypto pairs get no streamed quotes or bars", "err", err)
	}
}

func (f *Feed) offerQuote(q trading.Quote) {
	select {
	case f.out <- q:
	default:
		f.dropped.Add(1)
	}
}

func (f *Feed) offerBar(b trading.Bar) {
	select {
	case f.bars <- b:
	default:
		f.barsDropped.Add(1)
	}
}
