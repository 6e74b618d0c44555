package trading

import (
	"context"
	"errors"
	"time"

	"github.com/shopspring/decimal"
)

// EventKind names what happened to an order.
type EventKind string

// Event kinds, in the order they usually happen.
const (
	// EventIntent creates the order. It carries Intent and is journaled
	// durably before the order is sent, so a crash can never lose an order
	// the broker has, nor make the engine send one twice.
	EventIntent EventKind = "intent"
	// EventSubmitted records that the POST is about to be sent (again, after
	// a reconciliation that did not find the order).
	EventSubmitted EventKind = "submitted"
	// EventAck records the broker's reply: BrokerOrderID and Status.
	EventAck EventKind = "ack"
	// EventFill records one execution: ExecutionID, Qty, Price, and the
	// broker's cumulative filled quantity in CumQty. A fill whose
	// ExecutionID the order already has is dropped, because trade-update
	// streams redeliver after a reconnect.
	EventFill EventKind = "fill"
	// EventCancel ends the order without (further) fills: Status is
	// canceled (the default), expired or replaced.
	EventCancel EventKind = "cancel"
	// EventReject records the broker's refusal, with Reason.
	EventReject EventKind = "reject"
	// EventUnknown records that the submission's outcome is unknown
	// (timeout, 5xx, dropped connection); Reason says what failed.
	EventUnknown EventKind = "unknown"
	// EventReconciled records what the broker said when asked about the
	// order: its Status, BrokerOrderID and, for a sweep that may have missed
	// fills, its cumulative CumQty at average Price. StatusIntent means the
	// broker does not have the order, so it must be sent again.
	EventReconciled EventKind = "reconciled"
	// EventRiskRejected records that a risk check refused the order, with
	// Reason. It carries Intent when no intent event preceded it, so that a
	// refused order is journaled and shown like any other.
	EventRiskRejected EventKind = "risk_rejected"
)

// Valid reports whether k is a known kind.
func (k EventKind) Valid() bool {
	switch k {
	case EventIntent, EventSubmitted, EventAck, EventFill, EventCancel, EventReject,
		EventUnknown, EventReconciled, EventRiskRejected:
		return true
	}
	return false
}

// Event is one entry in a tenant's append-only order journal. Which fields
// are used depends on Kind (see the EventKind constants); the rest are zero.
type Event struct {
	// ID is assigned by the journal: 1, 2, 3, ... per tenant, in commit
	// order. Append ignores it.
	ID            uint64
	Tenant        TenantID
	ClientOrderID string
	Kind          EventKind
	// Time is when it happened; Append uses the journal's clock when zero.
	Time time.Time

	Intent        *Intent
	BrokerOrderID string
	Status        OrderStatus
	ExecutionID   string
	Qty           decimal.Decimal
	Price         decimal.Decimal
	CumQty        decimal.Decimal
	Reason        string
}

// IntentEvent returns the event that journals in.
func IntentEvent(in Intent) Event {
	return Event{Tenant: in.Tenant, ClientOrderID: in.ClientOrderID, Kind: EventIntent, Time: in.CreatedAt, Intent: &in}
}

// Validate returns EINVALID, naming the first problem, if e cannot be
// appended whatever the journal holds.
func (e *Event) Validate() error {
	if err := e.Tenant.Validate(); err != nil {
		return err
	}
	if e.ClientOrderID == "" {
		return Errorf(EINVALID, "Client order id required.")
	}
	if !e.Kind.Valid() {
		return Errorf(EINVALID, "Invalid event kind %q.", e.Kind)
	}
	if e.Status != "" && !e.Status.Valid() {
		return Errorf(EINVALID, "Invalid order status %q.", e.Status)
	}
	if e.Intent != nil {
		if e.Kind != EventIntent && e.Kind != EventRiskRejected {
			return Errorf(EINVALID, "Only intent and risk_rejected events carry an intent.")
		}
		if err := e.Intent.Validate(); err != nil {
			return err
		}
		if e.Intent.Tenant != e.Tenant || e.Intent.ClientOrderID != e.ClientOrderID {
			return Errorf(EINVALID, "Intent tenant and client order id differ from the event's.")
		}
	}
	switch e.Kind {
	case EventIntent:
		if e.Intent == nil {
			return Errorf(EINVALID, "Intent event without an intent.")
		}
	case EventAck:
		if e.Status == "" || e.Status.rank() == rankLocal {
			return Errorf(EINVALID, "Ack needs a broker status.")
		}
	case EventFill:
		switch {
		case e.ExecutionID == "":
			return Errorf(EINVALID, "Fill needs an execution id.")
		case !e.Qty.IsPositive():
			return Errorf(EINVALID, "Fill qty must be positive.")
		case !e.Price.IsPositive():
			return Errorf(EINVALID, "Fill price must be positive.")
		case e.CumQty.IsNegative():
			return Errorf(EINVALID, "Fill cumulative qty must not be negative.")
		case e.Status != "" && e.Status != StatusPartiallyFilled && e.Status != StatusFilled:
			return Errorf(EINVALID, "Fill status must be partially_filled or filled.")
		}
	case EventCancel:
		if e.Status != "" && e.Status != StatusCanceled && e.Status != StatusExpired && e.Status != StatusReplaced {
			return Errorf(EINVALID, "Cancel status must be canceled, expired or replaced.")
		}
	case EventReconciled:
		switch {
		case e.Status == "":
			return Errorf(EINVALID, "Reconciled needs a status.")
		case e.CumQty.IsNegative() || e.Price.IsNegative():
			return Errorf(EINVALID, "Reconciled qty and price must not be negative.")
		}
	case EventReject, EventRiskRejected:
		if e.Reason == "" {
			return Errorf(EINVALID, "%s needs a reason.", e.Kind)
		}
	}
	return nil
}

// OrderState is an order's current state as the journal knows it: the
// intent plus everything its events have told us. Journals keep it updated
// in the same transaction as each event, by Apply, so it never disagrees
// with the event log.
type OrderState struct {
	Intent        Intent
	BrokerOrderID string
	Status        OrderStatus
	// FilledNotional is the sum of qty*price over fills; it is kept so that
	// FilledAvgPrice stays exact however many partial fills arrive.
	FilledQty      decimal.Decimal
	FilledNotional decimal.Decimal
	FilledAvgPrice decimal.Decimal
	// Reason is the last reason an event gave (reject, cancel, unknown...).
	Reason string
	// UpdatedAt is the Time of the last event journaled for the order (not
	// the greatest: broker and local clocks disagree), LastEventID its ID.
	UpdatedAt   time.Time
	LastEventID uint64
	// Terminal is Status.Terminal(), stored so that OpenOrders can find the
	// orders to reconcile without scanning the finished ones.
	Terminal bool
}

// NewOrderState returns the state an order starts in when its intent is
// journaled at time at.
func NewOrderState(in Intent, at time.Time) OrderState {
	return OrderState{Intent: in, Status: StatusIntent, UpdatedAt: at}
}

// avgPricePlaces bounds the average price's decimals: more than any venue
// quotes, few enough that repeating decimals do not grow without bound.
const avgPricePlaces = 10

// Apply updates s with e, which must be valid and for this order. Events
// that arrive late or twice never move an order backwards: once terminal,
// an order's status is final (late fills still count, so quantities stay
// true), and an ack or fill never lowers the status the order already has.
// Only EventReconciled, the broker's authoritative answer, may lower the
// status of a non-terminal order.
func (s *OrderState) Apply(e Event) {
	if e.BrokerOrderID != "" && (s.BrokerOrderID == "" || e.Kind == EventReconciled) {
		s.BrokerOrderID = e.BrokerOrderID
	}
	if e.Reason != "" {
		s.Reason = e.Reason
	}
	if !e.Time.IsZero() {
		s.UpdatedAt = e.Time
	}
	if e.ID > s.LastEventID {
		s.LastEventID = e.ID
	}
	advance := func(to OrderStatus) {
		if !s.Status.Terminal() && to.rank() >= s.Status.rank() {
			s.Status = to
		}
	}
	switch e.Kind {
	case EventSubmitted:
		if s.Status.rank() == rankLocal {
			s.Status = StatusSubmitted
		}
	case EventUnknown:
		if s.Status.rank() == rankLocal {
			s.Status = StatusUnknown
		}
	case EventAck:
		advance(e.Status)
	case EventFill:
		s.FilledQty = s.FilledQty.Add(e.Qty)
		s.FilledNotional = s.FilledNotional.Add(e.Qty.Mul(e.Price))
		s.FilledAvgPrice = s.FilledNotional.DivRound(s.FilledQty, avgPricePlaces)
		to := e.Status
		if to == "" {
			to = StatusPartiallyFilled
			if s.Intent.Qty.IsPositive() && s.FilledQty.GreaterThanOrEqual(s.Intent.Qty) {
				to = StatusFilled
			}
		}
		advance(to)
	case EventCancel:
		to := e.Status
		if to == "" {
			to = StatusCanceled
		}
		advance(to)
	case EventReject:
		advance(StatusRejected)
	case EventRiskRejected:
		advance(StatusRiskRejected)
	case EventReconciled:
		if e.CumQty.GreaterThan(s.FilledQty) {
			s.FilledQty = e.CumQty
			s.FilledNotional = e.CumQty.Mul(e.Price)
			s.FilledAvgPrice = e.Price
		}
		if !s.Status.Terminal() {
			s.Status = e.Status
		}
	}
	s.Terminal = s.Status.Terminal()
}

// OrderFilter selects a tenant's orders for Journal.Orders. TenantID is
// required, so no query can ever cross tenants by omission.
type OrderFilter struct {
	TenantID TenantID
	// Symbol and Status, when set, must match exactly.
	Symbol string
	Status OrderStatus
	// Since, when set, keeps orders whose intent was created at or after it.
	Since time.Time
	// Limit caps the result: DefaultListLimit when zero or negative, at
	// most MaxListLimit.
	Limit int
}

// List limits for Journal.Orders and Journal.Events: enough for a dashboard
// page, small enough that one request cannot exhaust memory.
const (
	DefaultListLimit = 1000
	MaxListLimit     = 10000
)

// ListLimit applies the DefaultListLimit and MaxListLimit rules to n.
func ListLimit(n int) int {
	switch {
	case n <= 0:
		return DefaultListLimit
	case n > MaxListLimit:
		return MaxListLimit
	}
	return n
}

// ErrJournalClosed is returned by every Journal method called after Close.
var ErrJournalClosed = errors.New("trading: journal closed")

// Journal is the durable, append-only record of every order: the engine
// appends an order's intent before sending it, and every broker event
// after, so that after a crash it knows exactly which orders exist.
//
// Implementations are safe for concurrent use by many tenants' goroutines.
// Every method that takes a tenant returns only that tenant's data, and
// returns EINVALID for an invalid TenantID. Errors other than the listed
// codes, ErrJournalClosed and context errors are EINTERNAL.
type Journal interface {
	// Append durably records events, atomically: when it returns nil every
	// event is on stable storage; when it returns a domain error none is.
	// Events are applied in order, so one call may create an order and
	// record its first events.
	//
	// A fill whose ExecutionID the order already has is silently dropped
	// (nil error), so redelivered trade updates are harmless.
	//
	// Returns EINVALID if an event fails Event.Validate, ENOTFOUND if an
	// event other than an intent (or an intent-carrying risk_rejected) names
	// an order the tenant does not have, and ECONFLICT if an intent's
	// client_order_id or sequence number is already used by the tenant.
	//
	// If ctx ends before Append returns, it returns ctx.Err() and the
	// outcome is unknown: the events may still commit. Retrying is safe:
	// fills are deduplicated, and a retried intent that did commit returns
	// ECONFLICT (Order then shows it).
	Append(ctx context.Context, events ...Event) error

	// NextSequence returns a number for the tenant's next intent, greater
	// than any it returned before for that tenant, also across restarts and
	// crashes, so that ClientOrderID(tenant, seq) is unique for all time.
	// Numbers may be skipped (e.g. after a restart).
	NextSequence(ctx context.Context, tenant TenantID) (uint64, error)

	// OpenOrders returns the tenant's non-terminal orders, oldest sequence
	// first: the orders to reconcile with the broker on start. (Not named
	// Open: that is the lifecycle method of every component.)
	OpenOrders(ctx context.Context, tenant TenantID) ([]OrderState, error)

	// Order returns one order. Returns ENOTFOUND if the tenant has no order
	// with that client_order_id.
	Order(ctx context.Context, tenant TenantID, clientOrderID string) (OrderState, error)

	// Orders returns the orders matching f, newest sequence first.
	// Returns EINVALID if f.TenantID is invalid or f.Status is unknown.
	Orders(ctx context.Context, f OrderFilter) ([]OrderState, error)

	// Events returns the tenant's events with ID greater than afterID,
	// oldest first, at most ListLimit(limit) of them; intent and
	// risk_rejected events carry the order's Intent.
	Events(ctx context.Context, tenant TenantID, afterID uint64, limit int) ([]Event, error)

	// Count returns how many orders the tenant has.
	Count(ctx context.Context, tenant TenantID) (int, error)

	// Placed returns how many of the tenant's orders passed the risk gate:
	// every order except the risk-rejected ones, whatever the broker then
	// did with it. It is a strategy's lifetime order count.
	Placed(ctx context.Context, tenant TenantID) (int, error)

	// Close flushes and waits for pending appends, then releases the
	// storage. Calling it again returns nil.
	Close() error
}
