package trading

import (
	"time"

	"github.com/shopspring/decimal"
)

// ActivityKind names what an Activity reports.
type ActivityKind string

// Activity kinds. Order activities carry the order's symbol, side and
// client order id; the rest carry the tenant (or none) and a reason.
const (
	// ActivityOrder: an order's intent was journaled and is being sent.
	ActivityOrder ActivityKind = "order"
	// ActivityFill: an execution; Qty and Price are the fill's.
	ActivityFill ActivityKind = "fill"
	// ActivityRiskRejected: the risk gate refused an order; Reason says why.
	ActivityRiskRejected ActivityKind = "risk_rejected"
	// ActivityRejected: the broker refused an order.
	ActivityRejected ActivityKind = "rejected"
	// ActivityCanceled: an order was canceled or expired (Status says which).
	ActivityCanceled ActivityKind = "canceled"
	// ActivityUnknown: a send's outcome is unknown until the broker is asked.
	ActivityUnknown ActivityKind = "unknown"
	// ActivityState: a tenant's trading state changed (the kill switch).
	ActivityState ActivityKind = "state"
	// ActivityFailed: a tenant's runner failed; it is restarted after a
	// backoff. ActivityRecovered: it has run cleanly again.
	ActivityFailed    ActivityKind = "tenant_failed"
	ActivityRecovered ActivityKind = "tenant_recovered"
	// ActivityBreaker: the broker-error breaker opened; orders are refused
	// until it cools down.
	ActivityBreaker ActivityKind = "breaker_open"
	// ActivityEngineStart and ActivityEngineStop bracket an engine's life.
	ActivityEngineStart ActivityKind = "engine_start"
	ActivityEngineStop  ActivityKind = "engine_stop"
)

// Activity is something an operator may want to hear about as it
// happens: terminal lines, alerts and the dashboard are made of these.
// Fields that do not apply to the kind are zero.
type Activity struct {
	Time          time.Time
	Kind          ActivityKind
	Tenant        TenantID
	ClientOrderID string
	Symbol        string
	Side          Side
	Type          OrderType
	// Qty is the order's quantity (for a fill, the fill's); Notional is
	// set instead for an order by value. Price is the limit price of an
	// order, the price of a fill.
	Qty, Notional, Price decimal.Decimal
	Status               OrderStatus
	// State is the new trading state (ActivityState).
	State  TradingState
	Reason string
}

// IsOrder reports whether a is about one order.
func (a Activity) IsOrder() bool { return a.ClientOrderID != "" }
