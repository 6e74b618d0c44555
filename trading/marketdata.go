package trading

import (
	"context"
	"time"

	"github.com/shopspring/decimal"
)

// Bar is an OHLCV bar; Time is its start.
type Bar struct {
	Symbol                 string
	Time                   time.Time
	Open, High, Low, Close decimal.Decimal
	// Volume is in shares for a stock and in units of the base currency
	// for a crypto pair (1.2345 BTC), so it is fractional. It is a
	// float64, like the market data it comes from, rather than a
	// decimal: it is a statistic that no order amount is computed from,
	// and a decimal would cost an allocation per bar on the backtest's
	// hot path.
	Volume float64
}

// Quote is a top-of-book quote.
type Quote struct {
	Symbol   string
	Bid, Ask decimal.Decimal
	Time     time.Time
}

// Mid returns the midpoint, or whichever side is set when one is zero.
func (q Quote) Mid() decimal.Decimal {
	switch {
	case q.Bid.IsPositive() && q.Ask.IsPositive():
		return q.Bid.Add(q.Ask).Div(decimal.NewFromInt(2))
	case q.Ask.IsPositive():
		return q.Ask
	}
	return q.Bid
}

// QuoteSource answers the latest quotes of several symbols in one call;
// the engine's market-data hub polls one when it has no QuoteFeed.
type QuoteSource interface {
	LatestQuotes(ctx context.Context, symbols []string) (map[string]Quote, error)
}

// QuoteFeed is a pushed quote stream (a market-data websocket): one
// upstream connection for every tenant.
type QuoteFeed interface {
	// Run keeps the feed connected until ctx ends, then returns ctx.Err().
	Run(ctx context.Context) error
	// Subscribe adds symbols; it may be called before or during Run.
	Subscribe(ctx context.Context, symbols []string) error
	// Quotes delivers the quotes; it is closed when Run returns.
	Quotes() <-chan Quote
}

// BarFeed is a QuoteFeed that also pushes one-minute bars as each minute
// ends; the hub uses it for strategies that subscribe to bars.
type BarFeed interface {
	QuoteFeed
	// SubscribeBars adds symbols whose minute bars are wanted.
	SubscribeBars(ctx context.Context, symbols []string) error
	// Bars delivers the bars; it is closed when Run returns.
	Bars() <-chan Bar
}
