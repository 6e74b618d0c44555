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
	state     trading.TradingState
	limits    trading.Limits
	position  decimal.Decimal // in the order's symbol
	openQty   decimal.Decimal // signed qty of open orders in the symbol
	openCount int
	dailyPnL  decimal.Decimal // today's P&L, negative for a loss; zero if unknown
	price     decimal.Decimal // reference price, zero if unknown
	breaker   bool
}

// checkRisk returns why o must not be placed, or "" if it may: the gate
// (trading state and breaker) first, then the limits.
func checkRisk(v riskView, o trading.OrderRequest) string {
	if reason := checkGate(v, o); reason != "" {
		return reason
	}
	return checkLimits(v, o)
}

// reduces reports whether o moves the position towards zero without
// crossing it; notional orders (no qty known up front) never count.
func reduces(v riskView, o trading.OrderRequest) bool {
	signed := o.Qty
	if o.Side == trading.Sell {
		signed = signed.Neg()
	}
	return o.Qty.IsPositive() && !v.position.IsZero() &&
		v.position.Sign() != signed.Sign() && signed.Abs().LessThanOrEqual(v.position.Abs())
}

// checkGate is the part of the risk check that needs nothing from the
// network: the kill switch and the circuit breaker. The runner asks it
// before it fetches a price, so a halted tenant makes no broker call.
func checkGate(v riskView, o trading.OrderRequest) string {
	switch v.state {
	case trading.Halted:
		return "trading state HALTED"
	case trading.Reducing:
		if !reduces(v, o) {
			return "trading state REDUCING: only position-reducing orders allowed"
		}
	}
	if v.breaker {
		return "circuit breaker open: too many broker errors"
	}
	return ""
}

// needsPrice reports whether checkLimits needs a reference price for o.
func needsPrice(l trading.Limits, o trading.OrderRequest) bool {
	return l.MaxOrderNotional.IsPositive() && o.Qty.IsPositive() && !o.LimitPrice.IsPositive() ||
		l.MaxPositionQty.IsPositive() && o.Notional.IsPositive()
}

// checkLimits checks o against the tenant's risk limits.
func checkLimits(v riskView, o trading.OrderRequest) string {
	signed := o.Qty
	if o.Side == trading.Sell {
		signed = signed.Neg()
	}
	reducing := reduces(v, o)
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
	if l.MaxPositionQty.IsPositive() && !reducing {
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
	if l.DailyLossLimit.IsPositive() && !reducing && v.dailyPnL.Neg().GreaterThanOrEqual(l.DailyLossLimit) {
		return fmt.Sprintf("daily loss %s reached limit %s", v.dailyPnL.Neg().StringFixed(2), l.DailyLossLimit)
	}
	return ""
}
