package alpaca

import (
	"encoding/json"
	"time"

	"github.com/shopspring/decimal"
)

// The wire structs below mirror Alpaca's JSON field for field. Nullable
// fields are pointers without omitempty so that a server built on them (the
// simulator) emits explicit nulls exactly as Alpaca does, and a client built
// on them round-trips them.

// Side is an order side.
type Side string

// Order sides.
const (
	Buy  Side = "buy"
	Sell Side = "sell"
)

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

// OrderClass groups orders that are placed together.
type OrderClass string

// Order classes. The empty class means simple.
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

// OrderStatus is an order's place in its lifecycle.
type OrderStatus string

// Order statuses.
const (
	StatusNew             OrderStatus = "new"
	StatusPartiallyFilled OrderStatus = "partially_filled"
	StatusFilled          OrderStatus = "filled"
	StatusDoneForDay      OrderStatus = "done_for_day"
	StatusCanceled        OrderStatus = "canceled"
	StatusExpired         OrderStatus = "expired"
	StatusReplaced        OrderStatus = "replaced"
	StatusPendingCancel   OrderStatus = "pending_cancel"
	StatusPendingReplace  OrderStatus = "pending_replace"
	StatusAccepted        OrderStatus = "accepted"
	StatusPendingNew      OrderStatus = "pending_new"
	StatusRejected        OrderStatus = "rejected"
	StatusHeld            OrderStatus = "held"
	StatusSuspended       OrderStatus = "suspended"
	StatusStopped         OrderStatus = "stopped"
	StatusCalculated      OrderStatus = "calculated"
)

// Terminal reports whether no further change can happen to an order in
// this status.
func (s OrderStatus) Terminal() bool {
	switch s {
	case StatusFilled, StatusCanceled, StatusExpired, StatusReplaced, StatusRejected:
		return true
	}
	return false
}

// Account is the trading account (GET /v2/account).
type Account struct {
	ID                    string          `json:"id"`
	AccountNumber         string          `json:"account_number"`
	Status                string          `json:"status"`
	CryptoStatus          string          `json:"crypto_status"`
	Currency              string          `json:"currency"`
	BuyingPower           decimal.Decimal `json:"buying_power"`
	RegTBuyingPower       decimal.Decimal `json:"regt_buying_power"`
	DaytradingBuyingPower decimal.Decimal `json:"daytrading_buying_power"`
	EffectiveBuyingPower  decimal.Decimal `json:"effective_buying_power"`
	NonMarginBuyingPower  decimal.Decimal `json:"non_marginable_buying_power"`
	OptionsBuyingPower    decimal.Decimal `json:"options_buying_power"`
	BodDtbp               decimal.Decimal `json:"bod_dtbp"`
	Cash                  decimal.Decimal `json:"cash"`
	AccruedFees           decimal.Decimal `json:"accrued_fees"`
	PendingTransferIn     decimal.Decimal `json:"pending_transfer_in"`
	PendingTransferOut    decimal.Decimal `json:"pending_transfer_out"`
	PortfolioValue        decimal.Decimal `json:"portfolio_value"`
	PatternDayTrader      bool            `json:"pattern_day_trader"`
	TradingBlocked        bool            `json:"trading_blocked"`
	TransfersBlocked      bool            `json:"transfers_blocked"`
	AccountBlocked        bool            `json:"account_blocked"`
	ShortingEnabled       bool            `json:"shorting_enabled"`
	TradeSuspendedByUser  bool            `json:"trade_suspended_by_user"`
	CreatedAt             time.Time       `json:"created_at"`
	Multiplier            decimal.Decimal `json:"multiplier"`
	Equity                decimal.Decimal `json:"equity"`
	LastEquity            decimal.Decimal `json:"last_equity"`
	LongMarketValue       decimal.Decimal `json:"long_market_value"`
	ShortMarketValue      decimal.Decimal `json:"short_market_value"`
	PositionMarketValue   decimal.Decimal `json:"position_market_value"`
	InitialMargin         decimal.Decimal `json:"initial_margin"`
	MaintenanceMargin     decimal.Decimal `json:"maintenance_margin"`
	LastMaintenanceMargin decimal.Decimal `json:"last_maintenance_margin"`
	SMA                   decimal.Decimal `json:"sma"`
	DaytradeCount         int64           `json:"daytrade_count"`
	BalanceAsOf           string          `json:"balance_asof"`
	CryptoTier            int             `json:"crypto_tier"`
	OptionsApprovedLevel  int             `json:"options_approved_level"`
	OptionsTradingLevel   int             `json:"options_trading_level"`
}

// AccountConfigurations are the account's trading settings.
type AccountConfigurations struct {
	DTBPCheck              string `json:"dtbp_check"`
	TradeConfirmEmail      string `json:"trade_confirm_email"`
	SuspendTrade           bool   `json:"suspend_trade"`
	NoShorting             bool   `json:"no_shorting"`
	FractionalTrading      bool   `json:"fractional_trading"`
	MaxMarginMultiplier    string `json:"max_margin_multiplier"`
	PDTCheck               string `json:"pdt_check"`
	MaxOptionsTradingLevel int    `json:"max_options_trading_level"`
	PTPNoExceptionEntry    bool   `json:"ptp_no_exception_entry"`
	DisableOvernight       bool   `json:"disable_overnight_trading"`
}

// AccountConfigurationsPatch is the body of PATCH
// /v2/account/configurations; nil fields are left unchanged.
type AccountConfigurationsPatch struct {
	DTBPCheck              *string `json:"dtbp_check,omitempty"`
	TradeConfirmEmail      *string `json:"trade_confirm_email,omitempty"`
	SuspendTrade           *bool   `json:"suspend_trade,omitempty"`
	NoShorting             *bool   `json:"no_shorting,omitempty"`
	FractionalTrading      *bool   `json:"fractional_trading,omitempty"`
	MaxMarginMultiplier    *string `json:"max_margin_multiplier,omitempty"`
	PDTCheck               *string `json:"pdt_check,omitempty"`
	MaxOptionsTradingLevel *int    `json:"max_options_trading_level,omitempty"`
	PTPNoExceptionEntry    *bool   `json:"ptp_no_exception_entry,omitempty"`
	DisableOvernight       *bool   `json:"disable_overnight_trading,omitempty"`
}

// Order is an order as Alpaca reports it.
type Order struct {
	ID             string           `json:"id"`
	ClientOrderID  string           `json:"client_order_id"`
	CreatedAt      time.Time        `json:"created_at"`
	UpdatedAt      *time.Time       `json:"updated_at"`
	SubmittedAt    *time.Time       `json:"submitted_at"`
	FilledAt       *time.Time       `json:"filled_at"`
	ExpiredAt      *time.Time       `json:"expired_at"`
	CanceledAt     *time.Time       `json:"canceled_at"`
	FailedAt       *time.Time       `json:"failed_at"`
	ReplacedAt     *time.Time       `json:"replaced_at"`
	ReplacedBy     *string          `json:"replaced_by"`
	Replaces       *string          `json:"replaces"`
	AssetID        string           `json:"asset_id"`
	Symbol         string           `json:"symbol"`
	AssetClass     string           `json:"asset_class"`
	Notional       *decimal.Decimal `json:"notional"`
	Qty            *decimal.Decimal `json:"qty"`
	FilledQty      decimal.Decimal  `json:"filled_qty"`
	FilledAvgPrice *decimal.Decimal `json:"filled_avg_price"`
	OrderClass     OrderClass       `json:"order_class"`
	OrderType      OrderType        `json:"order_type"`
	Type           OrderType        `json:"type"`
	Side           Side             `json:"side"`
	PositionIntent PositionIntent   `json:"position_intent,omitempty"`
	TimeInForce    TimeInForce      `json:"time_in_force"`
	LimitPrice     *decimal.Decimal `json:"limit_price"`
	StopPrice      *decimal.Decimal `json:"stop_price"`
	Status         OrderStatus      `json:"status"`
	ExtendedHours  bool             `json:"extended_hours"`
	Legs           []Order          `json:"legs"`
	TrailPercent   *decimal.Decimal `json:"trail_percent"`
	TrailPrice     *decimal.Decimal `json:"trail_price"`
	HWM            *decimal.Decimal `json:"hwm"`
	ExpiresAt      *time.Time       `json:"expires_at,omitempty"`
	Subtag         *string          `json:"subtag"`
	Source         *string          `json:"source"`
}

// TakeProfit is the take-profit leg of a bracket, OCO or OTO order.
type TakeProfit struct {
	LimitPrice *decimal.Decimal `json:"limit_price"`
}

// StopLoss is the stop-loss leg of a bracket, OCO or OTO order. A limit
// price makes it a stop-limit leg.
type StopLoss struct {
	StopPrice  *decimal.Decimal `json:"stop_price"`
	LimitPrice *decimal.Decimal `json:"limit_price,omitempty"`
}

// OrderRequest is the body of POST /v2/orders. Exactly one of Qty and
// Notional is set.
type OrderRequest struct {
	Symbol         string           `json:"symbol"`
	Qty            *decimal.Decimal `json:"qty,omitempty"`
	Notional       *decimal.Decimal `json:"notional,omitempty"`
	Side           Side             `json:"side"`
	Type           OrderType        `json:"type"`
	TimeInForce    TimeInForce      `json:"time_in_force"`
	LimitPrice     *decimal.Decimal `json:"limit_price,omitempty"`
	StopPrice      *decimal.Decimal `json:"stop_price,omitempty"`
	TrailPrice     *decimal.Decimal `json:"trail_price,omitempty"`
	TrailPercent   *decimal.Decimal `json:"trail_percent,omitempty"`
	ExtendedHours  bool             `json:"extended_hours,omitempty"`
	ClientOrderID  string           `json:"client_order_id,omitempty"`
	OrderClass     OrderClass       `json:"order_class,omitempty"`
	TakeProfit     *TakeProfit      `json:"take_profit,omitempty"`
	StopLoss       *StopLoss        `json:"stop_loss,omitempty"`
	PositionIntent PositionIntent   `json:"position_intent,omitempty"`
}

// ReplaceRequest is the body of PATCH /v2/orders/{id}; nil fields carry
// over from the order being replaced.
type ReplaceRequest struct {
	Qty           *decimal.Decimal `json:"qty,omitempty"`
	TimeInForce   TimeInForce      `json:"time_in_force,omitempty"`
	LimitPrice    *decimal.Decimal `json:"limit_price,omitempty"`
	StopPrice     *decimal.Decimal `json:"stop_price,omitempty"`
	Trail         *decimal.Decimal `json:"trail,omitempty"`
	ClientOrderID string           `json:"client_order_id,omitempty"`
}

// CancelResult is one item of the 207 body of DELETE /v2/orders.
type CancelResult struct {
	ID     string     `json:"id"`
	Status int        `json:"status"`
	Body   *ErrorBody `json:"body,omitempty"`
}

// CloseResult is one item of the 207 body of DELETE /v2/positions. Body
// holds the closing order when Status is 200, an error otherwise.
type CloseResult struct {
	Symbol  string          `json:"symbol"`
	Status  int             `json:"status"`
	OrderID string          `json:"order_id,omitempty"`
	Body    json.RawMessage `json:"body,omitempty"`
}

// ErrorBody is Alpaca's error JSON.
type ErrorBody struct {
	Code    int    `json:"code,omitempty"`
	Message string `json:"message"`
}

// Position is an open position.
type Position struct {
	AssetID                string           `json:"asset_id"`
	Symbol                 string           `json:"symbol"`
	Exchange               string           `json:"exchange"`
	AssetClass             string           `json:"asset_class"`
	AssetMarginable        bool             `json:"asset_marginable"`
	Qty                    decimal.Decimal  `json:"qty"`
	QtyAvailable           decimal.Decimal  `json:"qty_available"`
	AvgEntryPrice          decimal.Decimal  `json:"avg_entry_price"`
	Side                   string           `json:"side"`
	MarketValue            *decimal.Decimal `json:"market_value"`
	CostBasis              decimal.Decimal  `json:"cost_basis"`
	UnrealizedPL           *decimal.Decimal `json:"unrealized_pl"`
	UnrealizedPLPC         *decimal.Decimal `json:"unrealized_plpc"`
	UnrealizedIntradayPL   *decimal.Decimal `json:"unrealized_intraday_pl"`
	UnrealizedIntradayPLPC *decimal.Decimal `json:"unrealized_intraday_plpc"`
	CurrentPrice           *decimal.Decimal `json:"current_price"`
	LastdayPrice           *decimal.Decimal `json:"lastday_price"`
	ChangeToday            *decimal.Decimal `json:"change_today"`
}

// Asset is a tradable instrument.
type Asset struct {
	ID                           string   `json:"id"`
	Class                        string   `json:"class"`
	Exchange                     string   `json:"exchange"`
	Symbol                       string   `json:"symbol"`
	Name                         string   `json:"name"`
	Status                       string   `json:"status"`
	Tradable                     bool     `json:"tradable"`
	Marginable                   bool     `json:"marginable"`
	Shortable                    bool     `json:"shortable"`
	EasyToBorrow                 bool     `json:"easy_to_borrow"`
	Fractionable                 bool     `json:"fractionable"`
	Cusip                        *string  `json:"cusip"`
	MaintenanceMarginRequirement uint     `json:"maintenance_margin_requirement"`
	MarginRequirementLong        string   `json:"margin_requirement_long"`
	MarginRequirementShort       string   `json:"margin_requirement_short"`
	Attributes                   []string `json:"attributes"`
}

// Clock is the market clock.
type Clock struct {
	Timestamp time.Time `json:"timestamp"`
	IsOpen    bool      `json:"is_open"`
	NextOpen  time.Time `json:"next_open"`
	NextClose time.Time `json:"next_close"`
}

// CalendarDay is one trading day of the market calendar.
type CalendarDay struct {
	Date           string `json:"date"`
	Open           string `json:"open"`
	Close          string `json:"close"`
	SessionOpen    string `json:"session_open"`
	SessionClose   string `json:"session_close"`
	SettlementDate string `json:"settlement_date"`
}

// Activity is an account activity: a FILL (trade) or a cash activity. Which
// fields are set depends on ActivityType.
type Activity struct {
	ID              string           `json:"id"`
	ActivityType    string           `json:"activity_type"`
	TransactionTime *time.Time       `json:"transaction_time,omitempty"`
	Type            string           `json:"type,omitempty"`
	Price           *decimal.Decimal `json:"price,omitempty"`
	Qty             *decimal.Decimal `json:"qty,omitempty"`
	Side            string           `json:"side,omitempty"`
	Symbol          string           `json:"symbol,omitempty"`
	LeavesQty       *decimal.Decimal `json:"leaves_qty,omitempty"`
	CumQty          *decimal.Decimal `json:"cum_qty,omitempty"`
	OrderID         string           `json:"order_id,omitempty"`
	OrderStatus     string           `json:"order_status,omitempty"`
	Date            string           `json:"date,omitempty"`
	NetAmount       *decimal.Decimal `json:"net_amount,omitempty"`
	PerShareAmount  *decimal.Decimal `json:"per_share_amount,omitempty"`
	Description     string           `json:"description,omitempty"`
	Status          string           `json:"status,omitempty"`
}

// PortfolioHistory is the account's equity over time. Alpaca sends these
// values as JSON numbers, not strings.
type PortfolioHistory struct {
	Timestamp     []int64             `json:"timestamp"`
	Equity        []decimal.Decimal   `json:"equity"`
	ProfitLoss    []decimal.Decimal   `json:"profit_loss"`
	ProfitLossPct []decimal.Decimal   `json:"profit_loss_pct"`
	BaseValue     decimal.Decimal     `json:"base_value"`
	BaseValueAsOf string              `json:"base_value_asof,omitempty"`
	Timeframe     string              `json:"timeframe"`
	Cashflow      map[string][]string `json:"cashflow,omitempty"`
}

// Watchlist is a named list of assets.
type Watchlist struct {
	ID        string    `json:"id"`
	AccountID string    `json:"account_id"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	Name      string    `json:"name"`
	// Assets is absent (nil) in the list of watchlists, which Alpaca
	// returns without them.
	Assets []Asset `json:"assets,omitzero"`
}

// WatchlistRequest creates or replaces a watchlist.
type WatchlistRequest struct {
	Name    string   `json:"name"`
	Symbols []string `json:"symbols"`
}

// TradeUpdate is one event of the trade_updates stream (SSE or websocket).
type TradeUpdate struct {
	// AccountID is the Broker API account the event belongs to, set on
	// the firm-wide stream only.
	AccountID   string           `json:"account_id,omitempty"`
	At          time.Time        `json:"at"`
	Event       string           `json:"event"`
	EventID     string           `json:"event_id"`
	ExecutionID string           `json:"execution_id,omitempty"`
	Order       Order            `json:"order"`
	PositionQty *decimal.Decimal `json:"position_qty,omitempty"`
	Price       *decimal.Decimal `json:"price,omitempty"`
	Qty         *decimal.Decimal `json:"qty,omitempty"`
	Timestamp   *time.Time       `json:"timestamp,omitempty"`
}

// Market data. Prices here are float64 because Alpaca sends them as JSON
// numbers (and msgpack floats) and they are observations, not balances;
// money that is owed or held is always decimal.

// Trade is one market trade.
type Trade struct {
	Timestamp  time.Time `json:"t" msgpack:"t"`
	Exchange   string    `json:"x" msgpack:"x"`
	Price      float64   `json:"p" msgpack:"p"`
	Size       uint32    `json:"s" msgpack:"s"`
	ID         int64     `json:"i" msgpack:"i"`
	Conditions []string  `json:"c" msgpack:"c"`
	Tape       string    `json:"z" msgpack:"z"`
}

// Quote is a top-of-book quote.
type Quote struct {
	Timestamp   time.Time `json:"t" msgpack:"t"`
	BidExchange string    `json:"bx" msgpack:"bx"`
	BidPrice    float64   `json:"bp" msgpack:"bp"`
	BidSize     uint32    `json:"bs" msgpack:"bs"`
	AskExchange string    `json:"ax" msgpack:"ax"`
	AskPrice    float64   `json:"ap" msgpack:"ap"`
	AskSize     uint32    `json:"as" msgpack:"as"`
	Conditions  []string  `json:"c" msgpack:"c"`
	Tape        string    `json:"z" msgpack:"z"`
}

// Bar is an OHLCV bar; Timestamp is the bar's start.
type Bar struct {
	Timestamp  time.Time `json:"t" msgpack:"t"`
	Open       float64   `json:"o" msgpack:"o"`
	High       float64   `json:"h" msgpack:"h"`
	Low        float64   `json:"l" msgpack:"l"`
	Close      float64   `json:"c" msgpack:"c"`
	Volume     uint64    `json:"v" msgpack:"v"`
	TradeCount uint64    `json:"n" msgpack:"n"`
	VWAP       float64   `json:"vw" msgpack:"vw"`
}

// Snapshot is a symbol's latest trade, quote and bars.
type Snapshot struct {
	LatestTrade  *Trade `json:"latestTrade"`
	LatestQuote  *Quote `json:"latestQuote"`
	MinuteBar    *Bar   `json:"minuteBar"`
	DailyBar     *Bar   `json:"dailyBar"`
	PrevDailyBar *Bar   `json:"prevDailyBar"`
}

// MultiBarsResponse is the body of GET /v2/stocks/bars.
type MultiBarsResponse struct {
	Bars          map[string][]Bar `json:"bars"`
	NextPageToken *string          `json:"next_page_token"`
}

// MultiTradesResponse is the body of GET /v2/stocks/trades.
type MultiTradesResponse struct {
	Trades        map[string][]Trade `json:"trades"`
	NextPageToken *string            `json:"next_page_token"`
}

// MultiQuotesResponse is the body of GET /v2/stocks/quotes.
type MultiQuotesResponse struct {
	Quotes        map[string][]Quote `json:"quotes"`
	NextPageToken *string            `json:"next_page_token"`
}
