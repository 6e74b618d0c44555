package trading

import (
	"context"
	"errors"
	"time"

	"github.com/shopspring/decimal"
)

// TradingState is a tenant's kill switch.
type TradingState string

// Trading states.
const (
	// Active trades normally.
	Active TradingState = "ACTIVE"
	// Reducing accepts only orders that shrink a position.
	Reducing TradingState = "REDUCING"
	// Halted accepts no orders at all (and sends no retries).
	Halted TradingState = "HALTED"
)

// Valid reports whether s is a known state.
func (s TradingState) Valid() bool { return s == Active || s == Reducing || s == Halted }

// Defaults for the error-rate circuit breaker.
const (
	// DefaultBreakerErrors broker errors within DefaultBreakerWindow open
	// the breaker.
	DefaultBreakerErrors = 5
	DefaultBreakerWindow = 10 * time.Second
	// DefaultBreakerCooldown is how long the breaker stays open the first
	// time; it doubles each time it reopens right after closing, up to
	// DefaultBreakerMaxCooldown.
	DefaultBreakerCooldown    = 1 * time.Second
	DefaultBreakerMaxCooldown = 30 * time.Second
)

// Limits are a tenant's risk limits. A zero limit is not checked. Limits
// (and the circuit breaker) bound the risk a tenant adds: none of them
// refuses an order that only reduces a position, counting the open orders
// on its side, so a tenant can always get out. Only HALTED stops those.
type Limits struct {
	// MaxOrderNotional caps qty × price of one order (price: the limit
	// price, else the latest quote).
	MaxOrderNotional decimal.Decimal
	// MaxPositionQty caps the absolute position in any one symbol,
	// counting the open orders that could add to it.
	MaxPositionQty decimal.Decimal
	// MaxOpenOrders caps the orders not yet finished.
	MaxOpenOrders int
	// DailyLossLimit, a positive amount: once today's loss (equity below
	// the previous close) reaches it, only position-reducing orders pass.
	DailyLossLimit decimal.Decimal
	// BreakerErrors broker errors (unknown outcomes, 5xx, timeouts, not
	// rejections) within BreakerWindow open the circuit breaker, which
	// refuses orders for a cooldown. Zero means the defaults; a negative
	// BreakerErrors disables the breaker.
	BreakerErrors int
	BreakerWindow time.Duration
}

// Runner health values in TenantStatus.Health.
const (
	HealthStarting = "starting" // reconciling with the broker
	HealthRunning  = "running"
	HealthFailed   = "failed" // crashed; restarting after a backoff
	HealthStopped  = "stopped"
	HealthStandby  = "standby" // another engine owns the tenant
)

// TenantStatus is a point-in-time copy of a tenant's state, published by
// its runner so that readers (the ops API) never touch runner state.
type TenantStatus struct {
	ID       TenantID
	Strategy string
	State    TradingState
	Health   string
	// LastError is why the runner last failed; Restarts counts failures
	// and FailedAt is when the last one was.
	LastError string
	Restarts  int
	FailedAt  time.Time
	// Problem, when not empty, says why the tenant is not healthy now: its
	// runner failed recently, or its broker calls are failing. It is what
	// health checks report; "" means healthy.
	Problem string
	// Owner names the engine running the tenant when several engines
	// share one journal ("" otherwise, or when none runs it).
	Owner string
	// OrdersPlaced counts the tenant's orders over its whole life.
	OrdersPlaced int
	OpenOrders   int
	// Fills, RiskRejections, BrokerRejections and Unknown count this
	// process's events (across runner restarts).
	Fills            int
	RiskRejections   int
	BrokerRejections int
	Unknown          int
	LastRiskReason   string
	Positions        map[string]decimal.Decimal
	// Holdings are the broker's positions with its mark and unrealized
	// P&L as of the last account refresh (Positions is kept current from
	// fills in between); UnrealizedPnL is their sum.
	Holdings      []Position
	UnrealizedPnL decimal.Decimal
	// AccountAt is when Holdings, UnrealizedPnL, DailyPnL and Equity were
	// last read from the broker (every AccountInterval); zero before the
	// first successful read.
	AccountAt time.Time
	// DailyPnL is the account's equity minus the previous close, as of
	// the last sweep.
	DailyPnL    decimal.Decimal
	Equity      decimal.Decimal
	BreakerOpen bool
	Limits      Limits
	// QuotesDropped counts quotes the hub coalesced away because this
	// tenant was busy.
	QuotesDropped uint64
	// LastBar is the start of the last minute bar handed to the strategy;
	// BarsDropped counts bars lost because the tenant was far behind.
	LastBar     time.Time
	BarsDropped uint64
	UpdatedAt   time.Time
}

// StateStore keeps tenants' trading states (the kill switch) durably, so
// that a halted tenant stays halted across restarts, and, when several
// engines share the store, wherever the tenant runs. Both SQL journals
// are StateStores: the state lives beside the orders it governs.
type StateStore interface {
	// SetTradingState saves id's state; when it returns nil the state is
	// durable. Returns EINVALID for an invalid id or state.
	SetTradingState(ctx context.Context, id TenantID, s TradingState) error
	// TradingStates returns every saved state.
	TradingStates(ctx context.Context) (map[TenantID]TradingState, error)
}

// ErrSavedLater says a HALTED state took effect but could not be saved
// yet: the engine keeps writing it until the store answers, and never lets
// an older saved state undo it meanwhile.
var ErrSavedLater = errors.New("trading: HALTED applied; it is saved when the state store answers")

// Ownership decides which of several engines sharing one journal runs a
// tenant (the postgres package's advisory locks, for one).
type Ownership interface {
	// Acquire tries to take tenant without waiting. It returns a context
	// that ends if the ownership is lost (or ctx ends) and a func that
	// gives the tenant up, or a nil context when another engine owns it.
	Acquire(ctx context.Context, tenant TenantID) (context.Context, func(), error)
}

// OwnerNamer is an Ownership that can tell operators which engine runs a
// tenant.
type OwnerNamer interface {
	// Owner names the engine running tenant, "" when none is known.
	Owner(tenant TenantID) string
}
