package engine

import (
	"fmt"
	"time"

	"github.com/shopspring/decimal"

	"github.com/quantum-alpaca/quantum/trading"
)

// breaker is the error-rate circuit breaker; the runner owns it.
type breaker struct {
	limit    int
	window   time.Duration
	errs     []time.Time
	openTill time.Time
	cooldown time.Duration
}

func newBreaker(l trading.Limits) *breaker {
	b := &breaker{limit: l.BreakerErrors, window: l.BreakerWindow, cooldown: trading.DefaultBreakerCooldown}
	if b.limit == 0 {
		b.limit = trading.DefaultBreakerErrors
	}
	if b.window <= 0 {
		b.window = trading.DefaultBreakerWindow
	}
	return b
}

// failure records a broker error at now.
func (b *breaker) failure(now time.Time) {
	if b.limit < 0 {
		return
	}
	cut := now.Add(-b.window)
	keep := b.errs[:0]
	for _, t := range b.errs {
		if t.After(cut) {
			keep = append(keep, t)
		}
	}
	b.errs = append(keep, now)
	if len(b.errs) >= b.limit && !now.Before(b.openTill) {
		// Reopening soon after the last cooldown means the broker is still
		// sick: back off harder instead of hammering it at a fixed rate.
		if !b.openTill.IsZero() && now.Sub(b.openTill) < b.window {
			b.cooldown = min(2*b.cooldown, trading.DefaultBreakerMaxCooldown)
		} else {
			b.cooldown = trading.DefaultBreakerCooldown
		}
		b.openTill = now.Add(b.cooldown)
		b.errs = b.errs[:0]
	}
}

// open reports whether the breaker refuses orders at now.
func (b *breaker) open(now time.Time) bool { return now.Before(b.openTill) }

// riskView is what a risk check looks at: the runner's state at the time.
type riskView struct {
	state    trading.TradingState
	limits   trading.Limits
	position decimal.Decimal // in the order's symbol
	openQty  decimal.Decimal // signed qty of open orders in the symbol
	// openBuy and openSell are the open orders' unfilled buy (positive)
	// and sell (negative) quantities in the symbol, for the reduce check.
	openBuy, openSell decimal.Decimal
	openCount         int
	dailyPnL          decimal.Decimal // today's P&L, negative for a loss; zero if unknown
	price             decimal.Decimal // reference price, zero if unknown
	breaker           bool
}

// checkRisk returns why o must not be placed, or "" if it may: the gate
// (trading state and breaker) first, then the limits.
func checkRisk(v riskView, o trading.OrderRequest) string {
	if reason := checkGate(v, o); reason != "" {
		return reason
	}
	return checkLimits(v, o)
}

// reduces reports whether o only shrinks the position: it is on the other
// side of the position and, even if every open order on its side fills
// too, the position does not cross zero. Notional orders (no qty known up
// front) never count.
func reduces(v riskView, o trading.OrderRequest) bool {
	if !o.Qty.IsPositive() || v.position.IsZero() {
		return false
	}
	signed, pending := o.Qty, v.openBuy
	if o.Side == trading.Sell {
		signed, pending = o.Qty.Neg(), v.openSell
	}
	if v.position.Sign() == signed.Sign() {
		return false
	}
	after := v.position.Add(pending).Add(signed)
	return after.IsZero() || after.Sign() == v.position.Sign()
}

// checkGate is the part of the risk check that needs nothing from the
// network: the kill switch and the circuit breaker. The runner asks it
// before it fetches a price, so a halted tenant makes no broker call.
// Only HALTED refuses an order that reduces the position: the breaker
// never traps a position it could let a tenant out of.
func checkGate(v riskView, o trading.OrderRequest) string {
	switch v.state {
	case trading.Halted:
		return "trading state HALTED"
	case trading.Reducing:
		if !reduces(v, o) {
			return "trading state REDUCING: only position-reducing orders allowed"
		}
	}
	if v.breaker && !reduces(v, o) {
		return "circuit breaker open: too many broker errors"
	}
	return ""
}

// needsPrice reports whether checkLimits needs a reference price for o.
// An order that reduces the position needs none: no limit applies to it.
func needsPrice(v riskView, o trading.OrderRequest) bool {
	if reduces(v, o) {
		return false
	}
	l := v.limits
	return l.MaxOrderNotional.IsPositive() && o.Qty.IsPositive() && !o.LimitPrice.IsPositive() ||
		l.MaxPositionQty.IsPositive() && o.Notional.IsPositive()
}

// checkLimits checks o against the tenant's risk limits. Limits bound the
// risk a tenant adds, so none of them refuses an order that only reduces
// a position: a tenant must always be able to get out.
func checkLimits(v riskView, o trading.OrderRequest) string {
	if reduces(v, o) {
		return ""
	}
	signed := o.Qty
	if o.Side == trading.Sell {
		signed = signed.Neg()
	}
	l := v.limits
	if l.MaxOpenOrders > 0 && v.openCount >= l.MaxOpenOrders {
		return fmt.Sprintf("max open orders %d reached", l.MaxOpenOrders)
	}
	if l.MaxOrderNotional.IsPositive() {
		notional := o.Notional
		if o.Qty.IsPositive() {
			price := v.price
			if o.LimitPrice.IsPositive() {
				price = o.LimitPrice
			}
			if !price.IsPositive() {
				return "no price to check max order notional against"
			}
			notional = o.Qty.Mul(price)
		}
		if notional.GreaterThan(l.MaxOrderNotional) {
			return fmt.Sprintf("order notional %s above max %s", notional.StringFixed(2), l.MaxOrderNotional)
		}
	}
	if l.MaxPositionQty.IsPositive() {
		qty := o.Qty
		if qty.IsZero() && v.price.IsPositive() {
			qty = o.Notional.Div(v.price)
			if o.Side == trading.Sell {
				signed = qty.Neg()
			} else {
				signed = qty
			}
		}
		// Worst case: every open order in the same direction fills too.
		after := v.position.Add(signed)
		if signed.IsPositive() && v.openQty.IsPositive() || signed.IsNegative() && v.openQty.IsNegative() {
			after = after.Add(v.openQty)
		}
		if after.Abs().GreaterThan(l.MaxPositionQty) {
			return fmt.Sprintf("position would reach %s, above max %s", after.String(), l.MaxPositionQty)
		}
	}
	if l.DailyLossLimit.IsPositive() && v.dailyPnL.Neg().GreaterThanOrEqual(l.DailyLossLimit) {
		return fmt.Sprintf("daily loss %s reached limit %s", v.dailyPnL.Neg().StringFixed(2), l.DailyLossLimit)
	}
	return ""
}
