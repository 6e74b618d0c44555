package stream

import "github.com/quantum-alpaca/quantum/alpaca"

// NewBrokerTradeEvents returns the firm-wide trade-event stream of a
// Broker API firm: GET <broker host>/v2/events/trades, authenticated with
// the Broker's credentials, carrying the trade events of every account
// of the firm, each with its AccountID. It is a TradeEvents like an
// account's own stream and behaves the same way: ULID event ids, resume
// with since_id after a dropped connection (WithResumeAfter for the first
// one), heartbeat comments as proof of life, and back-pressure instead of
// loss when the consumer is slow. One reader for the whole firm means the
// consumer, not the stream, must keep a slow account from holding up the
// others: hand each update on to a bounded per-account queue.
func NewBrokerTradeEvents(b *alpaca.Broker, opts ...Option) (*TradeEvents, error) {
	return NewTradeEvents(b.BaseURL(), append([]Option{WithAuthorizer(b)}, opts...)...)
}
