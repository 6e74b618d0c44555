package trading

import (
	"log/slog"
	"time"

	"github.com/shopspring/decimal"
)

// Strategy decides what a tenant trades. Market data, timer ticks and
// order updates come in as method calls; orders go out through
// Env.Submit. A tenant's runner makes every call from its one goroutine, so
// a strategy needs no locks, and a panic in any call is recovered by the
// runner, which then restarts the tenant (with a fresh Strategy from
// the tenant's strategy factory) without affecting any other tenant.
//
// Embed BaseStrategy to implement only the methods you need. A complete strategy
// that buys one share every minute:
//
//	type every struct{ trading.BaseStrategy }
//
//	func (every) Start(env *trading.Env) (trading.Subscription, error) {
//		return trading.Subscription{Interval: time.Minute}, nil
//	}
//	func (every) OnTimer(env *trading.Env) {
//		env.Submit(trading.OrderRequest{Symbol: "AAPL", Side: trading.Buy, Qty: decimal.NewFromInt(1)})
//	}
type Strategy interface {
	// Start is called every time the runner starts, after it has
	// reconciled the journal with the broker, so Env.OrdersPlaced and
	// Env.Position already count everything done in earlier runs: keep
	// lifetime state there, not in the strategy. It returns what the
	// strategy wants to receive; an error stops the tenant (and restarts
	// it with backoff).
	Start(env *Env) (Subscription, error)
	// OnTimer is called every Subscription.Interval.
	OnTimer(env *Env)
	// OnQuote is called with the latest quote of a subscribed symbol.
	// Quotes are coalesced: a slow strategy sees the newest, not each one.
	OnQuote(env *Env, q Quote)
	// OnBar is called with each one-minute bar of a subscribed symbol, once
	// the minute has ended, oldest first. Bars are not coalesced: a
	// strategy sampling on bars sees the same series live and in a
	// backtest, so it places the same orders in both.
	OnBar(env *Env, b Bar)
	// OnOrder is called after each change to one of the tenant's orders
	// has been journaled.
	OnOrder(env *Env, o OrderEvent)
}

// Subscription is what a strategy asks the runner for.
type Subscription struct {
	// Symbols to receive quotes for (through the shared market-data hub).
	Symbols []string
	// Bars lists the symbols to receive one-minute bars for.
	Bars []string
	// Interval between OnTimer calls; zero means no timer.
	Interval time.Duration
}

// BaseStrategy implements every Strategy method as a no-op, for embedding.
type BaseStrategy struct{}

// Start implements Strategy.
func (BaseStrategy) Start(*Env) (Subscription, error) { return Subscription{}, nil }

// OnTimer implements Strategy.
func (BaseStrategy) OnTimer(*Env) {}

// OnQuote implements Strategy.
func (BaseStrategy) OnQuote(*Env, Quote) {}

// OnBar implements Strategy.
func (BaseStrategy) OnBar(*Env, Bar) {}

// OnOrder implements Strategy.
func (BaseStrategy) OnOrder(*Env, OrderEvent) {}

// OrderRequest is what a strategy asks for. The runner fills in the rest
// of the Intent (tenant, sequence, client_order_id, time) and runs the
// risk checks before anything is journaled or sent.
type OrderRequest struct {
	Symbol string
	Side   Side
	// Exactly one of Qty and Notional is positive.
	Qty      decimal.Decimal
	Notional decimal.Decimal
	// Type defaults to market, TimeInForce to day (gtc for crypto).
	Type        OrderType
	TimeInForce TimeInForce
	LimitPrice  decimal.Decimal
	StopPrice   decimal.Decimal
	// Reason is journaled with the intent, to explain the order later.
	Reason string
}

// OrderEvent tells a strategy what happened to one of its orders.
type OrderEvent struct {
	ClientOrderID string
	Symbol        string
	Side          Side
	Status        OrderStatus
	// FillQty and FillPrice are set when this event is a fill.
	FillQty   decimal.Decimal
	FillPrice decimal.Decimal
	// Reason is set for rejections.
	Reason string
}

// Env is a strategy's view of its tenant during one call. It is valid
// only during that call and must not be kept.
type Env struct {
	tenant    TenantID
	now       time.Time
	log       *slog.Logger
	placed    int
	open      int
	positions map[string]decimal.Decimal
	quotes    map[string]Quote
	bars      func(symbol string, n int) ([]Bar, error)
	out       []OrderRequest
}

// EnvState is what NewEnv builds an Env from.
type EnvState struct {
	Tenant       TenantID
	Now          time.Time
	Logger       *slog.Logger
	OrdersPlaced int
	OpenOrders   int
	Positions    map[string]decimal.Decimal
	Quotes       map[string]Quote
	// Bars answers Env.RecentBars; nil answers with no bars.
	Bars func(symbol string, n int) ([]Bar, error)
}

// NewEnv returns an Env outside any runner, for testing and backtesting
// strategies: call a Strategy method with it, then read Submitted.
func NewEnv(s EnvState) *Env {
	e := new(Env)
	e.Reset(s)
	return e
}

// Reset makes e what NewEnv(s) returns, for a runner that makes an Env
// for every callback: an Env is not kept past its call, so one will do.
// The orders submitted through e before are forgotten, not reused: a
// caller may still hold Submitted's slice.
func (e *Env) Reset(s EnvState) {
	if s.Logger == nil {
		s.Logger = slog.New(slog.DiscardHandler)
	}
	*e = Env{tenant: s.Tenant, now: s.Now, log: s.Logger, placed: s.OrdersPlaced, open: s.OpenOrders, positions: s.Positions, quotes: s.Quotes, bars: s.Bars}
}

// Submitted returns the orders submitted through e so far.
func (e *Env) Submitted() []OrderRequest { return e.out }

// Tenant returns the tenant's id.
func (e *Env) Tenant() TenantID { return e.tenant }

// Now returns the time of this call.
func (e *Env) Now() time.Time { return e.now }

// Logger returns the tenant's logger.
func (e *Env) Logger() *slog.Logger { return e.log }

// Submit asks for an order. It is risk-checked, journaled and sent after
// the current call returns, in the order submitted.
func (e *Env) Submit(o OrderRequest) { e.out = append(e.out, o) }

// OrdersPlaced returns how many orders the tenant has placed over its
// whole life, across restarts (every journaled intent that passed the
// risk checks, whatever happened to it at the broker), plus the orders
// submitted earlier in this call.
func (e *Env) OrdersPlaced() int { return e.placed + len(e.out) }

// OpenOrders returns how many of the tenant's orders are not finished.
func (e *Env) OpenOrders() int { return e.open }

// Position returns the tenant's position in symbol (negative when short).
func (e *Env) Position(symbol string) decimal.Decimal { return e.positions[symbol] }

// RecentBars returns up to n of symbol's latest one-minute bars, oldest
// first, from the tenant's broker: history to warm up indicators in
// Start, so that a restarted strategy need not wait for fresh samples.
// It makes a network call; use it in Start, not on every tick.
func (e *Env) RecentBars(symbol string, n int) ([]Bar, error) {
	if e.bars == nil {
		return nil, nil
	}
	return e.bars(symbol, n)
}

// Quote returns the latest quote the runner has for symbol.
func (e *Env) Quote(symbol string) (Quote, bool) {
	q, ok := e.quotes[symbol]
	return q, ok
}
