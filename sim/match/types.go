package match

import (
	"time"

	"github.com/shopspring/decimal"
)

// Side is an order side; values are Alpaca's wire strings.
type Side string

// Sides.
const (
	Buy  Side = "buy"
	Sell Side = "sell"
)

// OrderType is an order type; values are Alpaca's wire strings.
type OrderType string

// Order types.
const (
	Market       OrderType = "market"
	Limit        OrderType = "limit"
	Stop         OrderType = "stop"
	StopLimit    OrderType = "stop_limit"
	TrailingStop OrderType = "trailing_stop"
)

// TimeInForce says how long an order works; values are Alpaca's strings.
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

// OrderClass groups orders placed together. The empty class means simple
// and is kept as given, because Alpaca echoes "" for simple orders.
type OrderClass string

// Order classes.
const (
	Simple  OrderClass = "simple"
	Bracket OrderClass = "bracket"
	OCO     OrderClass = "oco"
	OTO     OrderClass = "oto"
)

// PositionIntent says whether an order opens or closes a position.
type PositionIntent string

// Position intents.
const (
	BuyToOpen   PositionIntent = "buy_to_open"
	BuyToClose  PositionIntent = "buy_to_close"
	SellToOpen  PositionIntent = "sell_to_open"
	SellToClose PositionIntent = "sell_to_close"
)

// Status is an order's place in its lifecycle; values are Alpaca's strings.
// The engine uses accepted (submitted while the market is closed), new,
// held (bracket/OTO leg waiting for its parent), partially_filled and the
// terminal statuses.
type Status string

// Statuses.
const (
	StatusAccepted        Status = "accepted"
	StatusNew             Status = "new"
	StatusHeld            Status = "held"
	StatusPartiallyFilled Status = "partially_filled"
	StatusFilled          Status = "filled"
	StatusCanceled        Status = "canceled"
	StatusExpired         Status = "expired"
	StatusReplaced        Status = "replaced"
	StatusRejected        Status = "rejected"
)

// Terminal reports whether an order in status s can never change again.
func (s Status) Terminal() bool {
	switch s {
	case StatusFilled, StatusCanceled, StatusExpired, StatusReplaced, StatusRejected:
		return true
	}
	return false
}

// EventType names a trade_updates event; values are Alpaca's strings.
type EventType string

// Event types.
const (
	EventAccepted    EventType = "accepted"
	EventNew         EventType = "new"
	EventFill        EventType = "fill"
	EventPartialFill EventType = "partial_fill"
	EventCanceled    EventType = "canceled"
	EventExpired     EventType = "expired"
	EventReplaced    EventType = "replaced"
	EventRejected    EventType = "rejected"
)

// Quote is the top of book for one symbol. A zero side means no bid or no
// ask, as in Alpaca's market data.
type Quote struct {
	Bid Price
	Ask Price
}

// TakeProfit is the take-profit leg of a bracket, OCO or OTO request.
type TakeProfit struct {
	LimitPrice *decimal.Decimal
}

// StopLoss is the stop-loss leg of a bracket, OCO or OTO request; a limit
// price makes it a stop-limit leg.
type StopLoss struct {
	StopPrice  *decimal.Decimal
	LimitPrice *decimal.Decimal
}

// OrderRequest is a new order as received on POST /v2/orders. Nil decimals
// are "not provided" (the server maps JSON null and "" to nil). Decimals
// are taken as given so the engine can apply Alpaca's validation (decimal
// places, sub-penny increments, absurd sizes) to the caller's exact input.
type OrderRequest struct {
	Symbol         string
	Qty            *decimal.Decimal
	Notional       *decimal.Decimal
	Side           Side
	Type           OrderType
	TimeInForce    TimeInForce
	LimitPrice     *decimal.Decimal
	StopPrice      *decimal.Decimal
	TrailPrice     *decimal.Decimal
	TrailPercent   *decimal.Decimal
	ExtendedHours  bool
	ClientOrderID  string
	OrderClass     OrderClass
	TakeProfit     *TakeProfit
	StopLoss       *StopLoss
	PositionIntent PositionIntent
}

// ReplaceRequest is PATCH /v2/orders/{id}. Nil or empty fields carry over
// from the order being replaced. Qty is the replacement order's total
// quantity; when omitted, the replacement gets the old order's unfilled
// remainder (the new order starts with filled_qty 0).
type ReplaceRequest struct {
	Qty           *decimal.Decimal
	TimeInForce   TimeInForce
	LimitPrice    *decimal.Decimal
	StopPrice     *decimal.Decimal
	Trail         *decimal.Decimal
	ClientOrderID string
}

// Order is a value copy of an order. Zero values stand for JSON null:
// a zero Price, Money, AvgPrice, Percent, UUID or Timestamp is null, and Qty
// is zero (null) for notional orders. FilledAvgPrice is meaningful only
// when FilledQty is non-zero.
type Order struct {
	ID             UUID
	ClientOrderID  string
	Symbol         string
	Side           Side
	Type           OrderType
	TimeInForce    TimeInForce
	Class          OrderClass
	Status         Status
	PositionIntent PositionIntent
	ExtendedHours  bool
	Qty            Qty
	Notional       Money
	FilledQty      Qty
	FilledAvgPrice AvgPrice
	LimitPrice     Price
	StopPrice      Price // for trailing stops: the current derived stop
	TrailPrice     Price
	TrailPercent   Percent
	HWM            Price
	ParentID       UUID // the bracket/OTO/OCO parent of a leg
	Replaces       UUID
	ReplacedBy     UUID
	CreatedAt      Timestamp
	UpdatedAt      Timestamp
	SubmittedAt    Timestamp
	FilledAt       Timestamp
	CanceledAt     Timestamp
	ExpiredAt      Timestamp
	FailedAt       Timestamp
	ReplacedAt     Timestamp
	ExpiresAt      Timestamp // aged-GTC cancel time, set for gtc orders
	// Legs holds the legs of a multi-leg parent, only in query results
	// asked for with nested=true; it is nil everywhere else.
	Legs []Order
}

// Timestamp is a point in time in Unix nanoseconds; zero stands for JSON
// null. Order records use it instead of time.Time to stay small: every
// event carries a copy of the order.
type Timestamp int64

// Stamp converts t to a Timestamp.
func Stamp(t time.Time) Timestamp { return Timestamp(t.UnixNano()) }

// IsZero reports whether ts is null.
func (ts Timestamp) IsZero() bool { return ts == 0 }

// Time returns ts in UTC (the zero time.Time when ts is null).
func (ts Timestamp) Time() time.Time {
	if ts == 0 {
		return time.Time{}
	}
	return time.Unix(0, int64(ts)).UTC()
}

// Ptr returns ts as a *time.Time for nullable wire fields: nil when null.
func (ts Timestamp) Ptr() *time.Time {
	if ts == 0 {
		return nil
	}
	t := ts.Time()
	return &t
}

// Event is one trade_updates event. Order is the order as it was right
// after the change. Fill events also carry this execution's price and
// quantity and the position after it. Seq increases by one per event of
// the account, in the order events happened.
type Event struct {
	Seq         uint64
	Type        EventType
	Time        Timestamp
	Order       Order
	ExecutionID UUID
	Price       Price
	Qty         Qty
	PositionQty Qty
}

// Activity is a FILL account activity, or with Fee set the CFEE activity
// of a crypto fill: Qty is then the fee taken in the asset (a buy's) and
// FeeCash the fee taken in cash (a sell's), at the fill's Price.
type Activity struct {
	Fee         bool
	FeeCash     Money
	ExecutionID UUID
	OrderID     UUID
	Time        Timestamp
	Symbol      string
	Side        Side
	Type        EventType // fill or partial_fill
	Price       Price
	Qty         Qty
	CumQty      Qty
	LeavesQty   Qty
	OrderStatus Status
}

// ID returns Alpaca's activity id form "<YYYYMMDDhhmmssmmm>::<uuid>"
// (UTC), which also serves as a page token.
func (a Activity) ID() string {
	b := make([]byte, 0, 55)
	b = a.Time.Time().AppendFormat(b, "20060102150405.000")
	b = append(b[:14], b[15:]...) // drop the dot
	b = append(b, ':', ':')
	return string(a.ExecutionID.Append(b))
}

// Position is an open position. Mark-dependent fields are set only when
// HasMark is true.
type Position struct {
	Symbol        string
	Qty           Qty // negative for short
	AvgEntryPrice AvgPrice
	CostBasis     Money // Qty×AvgEntryPrice, negative for short
	HeldForOrders Qty   // closing orders' unfilled quantity, same sign as Qty
	QtyAvailable  Qty   // Qty minus HeldForOrders
	HasMark       bool
	CurrentPrice  Price
	MarketValue   Money // negative for short
	UnrealizedPL  Money
}

// Side returns "long" or "short" as Alpaca does.
func (p Position) Side() string {
	if p.Qty < 0 {
		return "short"
	}
	return "long"
}

// AccountSnapshot is the money side of GET /v2/account at given marks.
type AccountSnapshot struct {
	Cash                     Money
	Equity                   Money
	LongMarketValue          Money
	ShortMarketValue         Money // zero or negative
	BuyingPower              Money
	RegTBuyingPower          Money
	DaytradingBuyingPower    Money
	NonMarginableBuyingPower Money
	InitialMargin            Money
	MaintenanceMargin        Money
	// ReservedForOrders is the buying power held by open buy-long and
	// sell-short orders; Alpaca does not report it.
	ReservedForOrders Money
	Multiplier        int
	ShortingEnabled   bool
	DaytradeCount     int
	PatternDayTrader  bool
	MarketOpen        bool
}

// Asset is what the engine needs to know about a symbol.
type Asset struct {
	Tradable     bool
	Fractionable bool
	Shortable    bool
	EasyToBorrow bool
	// Crypto marks a crypto pair: it trades around the clock whatever the
	// session, takes market, limit and stop_limit orders good till
	// canceled or immediate or cancel only, is never sold short, and its
	// quantities are bounded by MinOrderSize and MinTradeIncrement (no
	// bound when zero).
	Crypto            bool
	MinOrderSize      Qty
	MinTradeIncrement Qty
}

// MarkFunc returns the price used to value a symbol's position. The engine
// falls back to the last quote's midpoint when it returns false.
type MarkFunc func(symbol string) (Price, bool)

// OrderFilter selects orders as GET /v2/orders does.
type OrderFilter struct {
	Status    string // open (default), closed or all
	Limit     int    // default 50, at most 500
	After     time.Time
	Until     time.Time
	Direction string // desc (default) or asc
	Symbols   []string
	Side      Side
	Nested    bool
}

// ActivityFilter selects FILL activities as GET /v2/account/activities
// does.
type ActivityFilter struct {
	After     time.Time
	Until     time.Time
	Direction string // desc (default) or asc
	PageSize  int    // default and maximum 100
	PageToken string // the ID of the last activity of the previous page
	// SkipFills and SkipFees leave out FILL and CFEE activities.
	SkipFills, SkipFees bool
}

// CancelResult is one item of CancelAll.
type CancelResult struct {
	ID  UUID
	Err *Error
}

// CloseResult is one item of CloseAll: the closing order, or the error.
type CloseResult struct {
	Symbol string
	Order  Order
	Err    *Error
}
