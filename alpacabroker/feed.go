package alpacabroker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/quantum-alpaca/quantum/alpaca/stream"
	"github.com/quantum-alpaca/quantum/trading"
)

// Compile-time proof that Feed is a trading.BarFeed.
var _ trading.BarFeed = (*Feed)(nil)

// DefaultFeedBuffer is the capacity of a Feed's quote channel.
const DefaultFeedBuffer = 1024

// Feed is an trading.QuoteFeed over Alpaca's market-data websocket: one
// connection serves every tenant's quotes.
//
// Overflow policy: when the hub falls behind, quotes are dropped (a newer
// quote supersedes an older one) and counted in Dropped.
//
// Bars are one per symbol per minute: their channel is deep enough that a
// hub which is alive never loses one, and one that is lost is counted in
// BarsDropped.
type Feed struct {
	// Logger hears once of each crypto pair a strategy asked to stream.
	Logger *slog.Logger

	s           *stream.MarketData
	out         chan trading.Quote
	bars        chan trading.Bar
	dropped     atomic.Uint64
	barsDropped atomic.Uint64

	mu         sync.Mutex
	unstreamed map[string]bool // crypto pairs already warned of
}

// NewFeed returns a Feed for the market-data stream at dataURL (for
// Alpaca, https://stream.data.alpaca.markets; for the simulator, its
// base URL) on feed (stream.FeedIEX or stream.FeedSIP).
func NewFeed(dataURL string, feed stream.Feed, keyID, secret string) (*Feed, error) {
	s, err := stream.NewMarketData(dataURL, feed, stream.WithCredentials(keyID, secret))
	if err != nil {
		return nil, fmt.Errorf("alpacabroker: %w", err)
	}
	return &Feed{s: s, out: make(chan trading.Quote, DefaultFeedBuffer), bars: make(chan trading.Bar, DefaultFeedBuffer)}, nil
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
	symbols = f.stocksOnly(symbols)
	if len(symbols) == 0 {
		return nil
	}
	return f.s.Subscribe(ctx, stream.Subscription{Bars: symbols})
}

// Dropped returns how many quotes were dropped because the reader was
// behind (here and in the stream's own buffer).
func (f *Feed) Dropped() uint64 { return f.dropped.Load() + f.s.Stats().BufferFull }

// Subscribe implements trading.QuoteFeed.
func (f *Feed) Subscribe(ctx context.Context, symbols []string) error {
	symbols = f.stocksOnly(symbols)
	if len(symbols) == 0 {
		return nil
	}
	return f.s.Subscribe(ctx, stream.Subscription{Quotes: symbols})
}

// stocksOnly drops crypto pairs from a subscription: the stock stream
// would refuse them, and with them the whole request, so one crypto
// tenant would cost every stock tenant its quotes. Crypto is not streamed
// yet; its strategies run on timers, and the risk gate and orders price
// it by REST. Each pair is warned of once.
func (f *Feed) stocksOnly(symbols []string) []string {
	stocks, crypto := splitCrypto(symbols)
	if len(crypto) == 0 {
		return symbols
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.unstreamed == nil {
		f.unstreamed = map[string]bool{}
	}
	for _, c := range crypto {
		if !f.unstreamed[c] && f.Logger != nil {
			f.Logger.Warn("crypto pairs are not streamed yet: strategies on this pair get no streamed quotes or bars; orders and risk checks price it by REST", "symbol", c)
		}
		f.unstreamed[c] = true
	}
	return stocks
}

// Run implements trading.QuoteFeed.
func (f *Feed) Run(ctx context.Context) error {
	defer close(f.bars)
	defer close(f.out)
	sctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var runErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		runErr = f.s.Run(sctx)
	}()
	defer func() { cancel(); wg.Wait() }()
	for m := range f.s.Messages() {
		switch m.Kind {
		case stream.KindQuote:
			select {
			case f.out <- fromQuote(m.Symbol, m.Quote):
			default:
				f.dropped.Add(1)
			}
		case stream.KindBar:
			select {
			case f.bars <- fromBar(m.Symbol, m.Bar):
			default:
				f.barsDropped.Add(1)
			}
		}
	}
	// Messages is closed: Run has returned.
	wg.Wait()
	if runErr == nil {
		runErr = errors.New("alpacabroker: market data stream ended")
	}
	return runErr
}
