package trading

import (
	"context"
	"errors"
	"time"

	"github.com/shopspring/decimal"
)

// Broker is what a tenant runner needs from one brokerage account. Each
// tenant has its own Broker (own credentials, connection pool and rate
// limiter), so one tenant's traffic can never slow or observe another's.
//
// Implementations must be safe for concurrent use: the runner calls the
// REST methods while StreamUpdates runs on another goroutine.
type Broker interface {
	// SubmitOrder places in, whose ClientOrderID was journaled first.
	// It must never place the order twice (look up before resend).
	// Returns the broker's view of the order, or:
	//   - an error matching ErrRejected when the broker certainly refused
	//     it (Error code EREJECTED, Message says why);
	//   - an error matching ErrUnknownOutcome when it cannot tell whether
	//     the broker holds the order;
	//   - ctx.Err() when ctx ended before anything was sent;
	//   - any other error: treated like an unknown outcome.
	SubmitOrder(ctx context.Context, in Intent) (BrokerOrder, error)

	// LookupOrder returns the order with clientOrderID; an error matching
	// ErrOrderNotFound means the broker does not hold it.
	LookupOrder(ctx context.Context, clientOrderID string) (BrokerOrder, error)

	// OpenOrders returns the account's open orders (at most a few
	// hundred: the sweep looks the rest up one by one).
	OpenOrders(ctx context.Context) ([]BrokerOrder, error)

	// OrdersSince returns every order of the account submitted at or
	// after since (the zero time: all of them), open or not, oldest first.
	// The engine reads it before a tenant trades, to find orders the
	// journal has lost.
	OrdersSince(ctx context.Context, since time.Time) ([]BrokerOrder, error)

	// Positions returns the account's open positions.
	Positions(ctx context.Context) ([]Position, error)

	// Account returns the account's equity figures.
	Account(ctx context.Context) (Account, error)

	// LatestQuote returns a symbol's latest quote.
	LatestQuote(ctx context.Context, symbol string) (Quote, error)

	// RecentBars returns up to n of a symbol's most recent one-minute
	// bars, oldest first, for strategies to warm up on.
	RecentBars(ctx context.Context, symbol string, n int) ([]Bar, error)

	// StreamUpdates sends the account's order updates to out until ctx
	// ends, reconnecting as needed, then returns ctx.Err(); it returns
	// early only for errors that retrying cannot fix (bad credentials).
	// It blocks when out is full rather than drop: an update can be a
	// fill. When updates may have been missed (a reconnect that could not
	// resume) it sends an OrderUpdate with Resync set.
	StreamUpdates(ctx context.Context, out chan<- OrderUpdate) error
}

// UpdateQueue is a Broker whose account updates wait in a queue of its
// own (a Broker API account, fed by its firm's one stream), which the
// engine reads directly instead of calling StreamUpdates: no goroutine
// and no channel per tenant, which is most of what an idle one costs.
type UpdateQueue interface {
	// FollowUpdates starts queueing the account's updates, beginning with
	// a Resync (what happened before is not in the queue). ready receives
	// a signal when updates may be waiting; next takes the oldest, false
	// when none waits (never blocking); stop ends following. A queue that
	// overflows drops updates and owes a Resync, which next delivers
	// after the updates it kept.
	FollowUpdates() (ready <-chan struct{}, next func() (OrderUpdate, bool), stop func(), err error)
}

// StreamHealth is a Broker that can tell whether its update stream is
// down. Such an outage fails no call (REST still answers), so without it
// a tenant would look healthy while no fill reaches it.
type StreamHealth interface {
	// StreamProblem describes an outage of the update stream that has
	// lasted past a short grace, and is "" otherwise.
	StreamProblem() string
}

// Errors a Broker returns, matched with errors.Is.
var (
	// ErrRejected: the broker refused the order; it does not hold it.
	ErrRejected = errors.New("trading: order rejected by broker")
	// ErrUnknownOutcome: the broker may or may not hold the order.
	ErrUnknownOutcome = errors.New("trading: order outcome unknown")
	// ErrOrderNotFound: the broker does not hold an order with that id.
	ErrOrderNotFound = errors.New("trading: order not found at broker")
)

// BrokerOrder is an order as the broker reports it.
type BrokerOrder struct {
	ID             string
	ClientOrderID  string
	Symbol         string
	Side           Side
	Status         OrderStatus
	Qty            decimal.Decimal
	FilledQty      decimal.Decimal
	FilledAvgPrice decimal.Decimal
	UpdatedAt      time.Time

	// What was asked for, as the broker recorded it: enough to rebuild
	// the intent of an order the journal lost. Unused prices are zero.
	Type                     OrderType
	TimeInForce              TimeInForce
	Notional                 decimal.Decimal
	LimitPrice, StopPrice    decimal.Decimal
	TrailPrice, TrailPercent decimal.Decimal
	CreatedAt                time.Time
}

// OrderUpdate is one trade update from the broker's stream.
type OrderUpdate struct {
	// Resync, when set, says updates may have been missed; no other field
	// is set. The runner then sweeps its open orders by REST.
	Resync bool

	// Event is the broker's event name: new, fill, partial_fill,
	// canceled, expired, rejected, replaced, ...
	Event   string
	EventID string
	Time    time.Time
	// Order is the order as of this event; Order.FilledQty is cumulative.
	Order BrokerOrder
	// ExecutionID, Qty and Price describe a fill event's execution.
	ExecutionID string
	Qty         decimal.Decimal
	Price       decimal.Decimal
}

// Position is an open position at the broker.
type Position struct {
	Symbol        string
	Qty           decimal.Decimal // negative when short
	AvgEntryPrice decimal.Decimal
	// MarketValue and UnrealizedPL are the broker's mark, zero when it
	// gives none.
	MarketValue  decimal.Decimal
	UnrealizedPL decimal.Decimal
}

// Account holds the equity figures the daily loss limit needs.
type Account struct {
	Equity decimal.Decimal
	// LastEquity is the equity at the previous close: Equity-LastEquity
	// is today's P&L, as Alpaca's own dashboard computes it.
	LastEquity decimal.Decimal
	Cash       decimal.Decimal
}
