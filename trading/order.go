package trading

import (
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/shopspring/decimal"
)

// MaxTenantIDLen bounds a tenant id so that it fits any storage key and log
// line; ClientOrderID hashes ids that are too long for a client_order_id.
const MaxTenantIDLen = 128

// TenantID identifies a tenant: one isolated trading account with its own
// credentials, strategies and journal records.
type TenantID string

// Validate returns EINVALID unless id is non-empty, valid UTF-8, at most
// MaxTenantIDLen bytes and free of control characters.
func (id TenantID) Validate() error {
	switch {
	case id == "":
		return Errorf(EINVALID, "Tenant id required.")
	case len(id) > MaxTenantIDLen:
		return Errorf(EINVALID, "Tenant id longer than %d bytes.", MaxTenantIDLen)
	case !utf8.ValidString(string(id)):
		return Errorf(EINVALID, "Tenant id is not valid UTF-8.")
	case strings.IndexFunc(string(id), unicode.IsControl) >= 0:
		return Errorf(EINVALID, "Tenant id contains control characters.")
	}
	return nil
}

// Side is an order side.
type Side string

// Order sides.
const (
	Buy  Side = "buy"
	Sell Side = "sell"
)

// Valid reports whether s is a known side.
func (s Side) Valid() bool { return s == Buy || s == Sell }

// OrderType is an order type.
type OrderType string

// Order types.
const (
	Market       OrderType = "market"
	Limit        OrderType = "limit"
	Stop         OrderType = "stop"
	StopLimit    OrderType = "stop_limit"
	TrailingStop OrderType = "trailing_stop"
)

// Valid reports whether t is a known order type.
func (t OrderType) Valid() bool {
	switch t {
	case Market, Limit, Stop, StopLimit, TrailingStop:
		return true
	}
	return false
}

// TimeInForce says how long an order stays working.
type TimeInForce string

// Times in force.
const (
	Day TimeInForce = "day"
	GTC TimeInForce = "gtc"
	OPG TimeInForce = "opg"
	CLS TimeInForce = "cls"
	IOC TimeInForce = "ioc"
	FOK TimeInForce = "fok"
)

// Valid reports whether tif is a known time in force.
func (tif TimeInForce) Valid() bool {
	switch tif {
	case Day, GTC, OPG, CLS, IOC, FOK:
		return true
	}
	return false
}

// OrderStatus is where an order is in its lifecycle. The broker's statuses
// are joined by four that only the journal knows: an order exists here
// before the broker has heard of it, and may be in doubt after a failed
// submission.
type OrderStatus string

// Journal-only statuses.
const (
	// StatusIntent: journaled, not yet sent (or to be sent again, after
	// reconciliation found that the broker never received it).
	StatusIntent OrderStatus = "intent"
	// StatusSubmitted: the POST is in flight.
	StatusSubmitted OrderStatus = "submitted"
	// StatusUnknown: the POST failed ambiguously; the order must be looked
	// up by client_order_id before anything else is done with it.
	StatusUnknown OrderStatus = "unknown"
	// StatusRiskRejected: a risk check refused the order; it was never sent.
	StatusRiskRejected OrderStatus = "risk_rejected"
)

// Broker statuses, spelled as Alpaca spells them.
const (
	StatusPendingNew      OrderStatus = "pending_new"
	StatusAccepted        OrderStatus = "accepted"
	StatusNew             OrderStatus = "new"
	StatusPartiallyFilled OrderStatus = "partially_filled"
	StatusFilled          OrderStatus = "filled"
	StatusDoneForDay      OrderStatus = "done_for_day"
	StatusCanceled        OrderStatus = "canceled"
	StatusExpired         OrderStatus = "expired"
	StatusReplaced        OrderStatus = "replaced"
	StatusPendingCancel   OrderStatus = "pending_cancel"
	StatusPendingReplace  OrderStatus = "pending_replace"
	StatusRejected        OrderStatus = "rejected"
	StatusHeld            OrderStatus = "held"
	StatusSuspended       OrderStatus = "suspended"
	StatusStopped         OrderStatus = "stopped"
	StatusCalculated      OrderStatus = "calculated"
)

// Valid reports whether s is a known status.
func (s OrderStatus) Valid() bool { return s.rank() >= 0 }

// Terminal reports whether no further change can happen to an order in
// this status, so that it needs no reconciliation after a restart.
func (s OrderStatus) Terminal() bool { return s.rank() == rankTerminal }

// Status ranks order the lifecycle so that events arriving out of order (a
// fill before the REST reply that acknowledges the order, a late "new"
// after "partially_filled") never move an order backwards.
const (
	rankLocal    = 1 // intent, submitted, unknown: the broker has not confirmed
	rankWorking  = 2 // confirmed, nothing filled yet
	rankActive   = 3 // filling, or being canceled or replaced
	rankTerminal = 4
)

func (s OrderStatus) rank() int {
	switch s {
	case StatusIntent, StatusSubmitted, StatusUnknown:
		return rankLocal
	case StatusPendingNew, StatusAccepted, StatusNew, StatusHeld, StatusSuspended, StatusCalculated:
		return rankWorking
	case StatusPartiallyFilled, StatusDoneForDay, StatusPendingCancel, StatusPendingReplace, StatusStopped:
		return rankActive
	case StatusFilled, StatusCanceled, StatusExpired, StatusReplaced, StatusRejected, StatusRiskRejected:
		return rankTerminal
	}
	return -1
}

// MaxSeq is the largest intent sequence number: the largest signed 64-bit
// integer, because that is what SQL databases store natively.
const MaxSeq = 1<<63 - 1

// MaxClientOrderIDLen is the longest client_order_id that every Alpaca API
// version accepts.
const MaxClientOrderIDLen = 48

// Intent is an order a strategy wants placed, as journaled before it is
// sent. It never changes once journaled; what happens to it afterwards is
// recorded as events and summarised in OrderState.
type Intent struct {
	Tenant TenantID
	// Seq comes from Journal.NextSequence; ClientOrderID is normally
	// ClientOrderID(Tenant, Seq).
	Seq           uint64
	ClientOrderID string
	Symbol        string
	Side          Side
	Type          OrderType
	TimeInForce   TimeInForce
	// Exactly one of Qty and Notional is positive; the other is zero.
	Qty      decimal.Decimal
	Notional decimal.Decimal
	// LimitPrice is required for limit and stop_limit orders, StopPrice for
	// stop and stop_limit orders, and one of TrailPrice and TrailPercent
	// for trailing_stop orders; each is zero when unused.
	LimitPrice    decimal.Decimal
	StopPrice     decimal.Decimal
	TrailPrice    decimal.Decimal
	TrailPercent  decimal.Decimal
	ExtendedHours bool
	// CreatedAt is when the strategy emitted the intent. The journal fills
	// in the event time when it is zero.
	CreatedAt time.Time
	// Strategy names the strategy that emitted the intent and Reason says
	// why, so that every order can be explained after the fact.
	Strategy string
	Reason   string
}

// Validate returns EINVALID, with a message naming the first problem, if
// the intent cannot be journaled or sent.
func (in *Intent) Validate() error {
	if err := in.Tenant.Validate(); err != nil {
		return err
	}
	pos := func(d decimal.Decimal) bool { return d.IsPositive() }
	switch {
	case in.Seq == 0:
		return Errorf(EINVALID, "Intent sequence required.")
	case in.Seq > MaxSeq:
		return Errorf(EINVALID, "Intent sequence above %d.", uint64(MaxSeq))
	case in.ClientOrderID == "":
		return Errorf(EINVALID, "Client order id required.")
	case len(in.ClientOrderID) > MaxClientOrderIDLen:
		return Errorf(EINVALID, "Client order id longer than %d characters.", MaxClientOrderIDLen)
	case in.Symbol == "":
		return Errorf(EINVALID, "Symbol required.")
	case !in.Side.Valid():
		return Errorf(EINVALID, "Invalid side %q.", in.Side)
	case !in.Type.Valid():
		return Errorf(EINVALID, "Invalid order type %q.", in.Type)
	case !in.TimeInForce.Valid():
		return Errorf(EINVALID, "Invalid time in force %q.", in.TimeInForce)
	case pos(in.Qty) == pos(in.Notional):
		return Errorf(EINVALID, "Exactly one of qty and notional must be positive.")
	case in.Qty.IsNegative() || in.Notional.IsNegative():
		return Errorf(EINVALID, "Qty and notional must not be negative.")
	case in.LimitPrice.IsNegative() || in.StopPrice.IsNegative() || in.TrailPrice.IsNegative() || in.TrailPercent.IsNegative():
		return Errorf(EINVALID, "Prices must not be negative.")
	case (in.Type == Limit || in.Type == StopLimit) && !pos(in.LimitPrice):
		return Errorf(EINVALID, "Limit price required for %s orders.", in.Type)
	case (in.Type == Stop || in.Type == StopLimit) && !pos(in.StopPrice):
		return Errorf(EINVALID, "Stop price required for %s orders.", in.Type)
	case in.Type == TrailingStop && pos(in.TrailPrice) == pos(in.TrailPercent):
		return Errorf(EINVALID, "Exactly one of trail price and trail percent required for trailing_stop orders.")
	}
	return nil
}

// IsCrypto says whether symbol is a crypto pair: Alpaca writes those as
// BASE/QUOTE (BTC/USD), and no stock ticker has a slash.
func IsCrypto(symbol string) bool { return strings.Contains(symbol, "/") }
