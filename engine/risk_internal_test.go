package engine

import (
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/quantum-alpaca/quantum/trading"
)

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

func TestCheckRisk(t *testing.T) {
	buy := func(qty string) trading.OrderRequest {
		return trading.OrderRequest{Symbol: "AAPL", Side: trading.Buy, Qty: dec(qty)}
	}
	sell := func(qty string) trading.OrderRequest {
		return trading.OrderRequest{Symbol: "AAPL", Side: trading.Sell, Qty: dec(qty)}
	}
	for _, tc := range []struct {
		name string
		v    riskView
		o    trading.OrderRequest
		want string // substring of the reason; "" means allowed
	}{
		{"NoLimits", riskView{state: trading.Active}, buy("1000000"), ""},
		{"Halted", riskView{state: trading.Halted, position: dec("5")}, sell("1"), "HALTED"},
		{"ReducingAllowsReduce", riskView{state: trading.Reducing, position: dec("5")}, sell("5"), ""},
		{"ReducingRefusesFlip", riskView{state: trading.Reducing, position: dec("5")}, sell("6"), "REDUCING"},
		{"ReducingRefusesAdd", riskView{state: trading.Reducing, position: dec("5")}, buy("1"), "REDUCING"},
		{"ReducingRefusesFromFlat", riskView{state: trading.Reducing}, sell("1"), "REDUCING"},
		{"Breaker", riskView{state: trading.Active, breaker: true}, buy("1"), "circuit breaker"},
		{"BreakerAllowsReduce", riskView{state: trading.Active, breaker: true, position: dec("5")}, sell("5"), ""},
		{"BreakerRefusesFlip", riskView{state: trading.Active, breaker: true, position: dec("5")}, sell("6"), "circuit breaker"},
		{"HaltedRefusesReduce", riskView{state: trading.Halted, position: dec("5")}, sell("5"), "HALTED"},
		{"MaxOpenOrdersAllowsReduce", riskView{state: trading.Active, openCount: 3, position: dec("-4"), limits: trading.Limits{MaxOpenOrders: 3}}, buy("4"), ""},
		// A tenant holding 20 TSLA at 430 must be able to sell them under a
		// 5000 notional cap.
		{"NotionalAllowsReduce", riskView{state: trading.Active, position: dec("20"), price: dec("430.51"), limits: trading.Limits{MaxOrderNotional: dec("5000")}}, sell("20"), ""},
		// Open sells already cover the position: another sell would flip it.
		{"ReduceCountsOpenOrders", riskView{state: trading.Active, position: dec("20"), openSell: dec("-15"), price: dec("430"), limits: trading.Limits{MaxOrderNotional: dec("5000")}}, sell("12"), "above max"},
		{"ReducingCountsOpenOrders", riskView{state: trading.Reducing, position: dec("20"), openSell: dec("-15")}, sell("10"), "REDUCING"},
		{"ReducingAllowsWithOpenBuys", riskView{state: trading.Reducing, position: dec("20"), openBuy: dec("15")}, sell("20"), ""},
		{"MaxOpenOrders", riskView{state: trading.Active, openCount: 3, limits: trading.Limits{MaxOpenOrders: 3}}, buy("1"), "max open orders"},
		{"UnderMaxOpenOrders", riskView{state: trading.Active, openCount: 2, limits: trading.Limits{MaxOpenOrders: 3}}, buy("1"), ""},
		{"Notional", riskView{state: trading.Active, price: dec("100"), limits: trading.Limits{MaxOrderNotional: dec("999")}}, buy("10"), "notional 1000.00 above max 999"},
		{"NotionalAtLimit", riskView{state: trading.Active, price: dec("100"), limits: trading.Limits{MaxOrderNotional: dec("1000")}}, buy("10"), ""},
		{"NotionalUsesLimitPrice", riskView{state: trading.Active, price: dec("100"), limits: trading.Limits{MaxOrderNotional: dec("1000")}},
			trading.OrderRequest{Symbol: "AAPL", Side: trading.Buy, Qty: dec("10"), Type: trading.Limit, LimitPrice: dec("101")}, "above max"},
		{"NotionalNoPrice", riskView{state: trading.Active, limits: trading.Limits{MaxOrderNotional: dec("1000")}}, buy("1"), "no price"},
		{"NotionalOrder", riskView{state: trading.Active, limits: trading.Limits{MaxOrderNotional: dec("1000")}},
			trading.OrderRequest{Symbol: "AAPL", Side: trading.Buy, Notional: dec("1500")}, "above max"},
		{"Position", riskView{state: trading.Active, position: dec("8"), limits: trading.Limits{MaxPositionQty: dec("10")}}, buy("3"), "position would reach 11"},
		{"PositionCountsOpenOrders", riskView{state: trading.Active, position: dec("5"), openQty: dec("4"), limits: trading.Limits{MaxPositionQty: dec("10")}}, buy("2"), "position would reach 11"},
		{"PositionShort", riskView{state: trading.Active, position: dec("-8"), limits: trading.Limits{MaxPositionQty: dec("10")}}, sell("3"), "position would reach -11"},
		{"PositionReduceAlwaysOK", riskView{state: trading.Active, position: dec("20"), limits: trading.Limits{MaxPositionQty: dec("10")}}, sell("5"), ""},
		{"DailyLoss", riskView{state: trading.Active, dailyPnL: dec("-500"), limits: trading.Limits{DailyLossLimit: dec("500")}}, buy("1"), "daily loss 500.00"},
		{"DailyLossReduceOK", riskView{state: trading.Active, position: dec("3"), dailyPnL: dec("-500"), limits: trading.Limits{DailyLossLimit: dec("500")}}, sell("3"), ""},
		{"DailyGainOK", riskView{state: trading.Active, dailyPnL: dec("500"), limits: trading.Limits{DailyLossLimit: dec("500")}}, buy("1"), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := checkRisk(tc.v, tc.o)
			if tc.want == "" && got != "" || tc.want != "" && !strings.Contains(got, tc.want) {
				t.Fatalf("checkRisk = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestBreaker(t *testing.T) {
	t0 := time.Unix(1e9, 0)
	b := newBreaker(trading.Limits{BreakerErrors: 3, BreakerWindow: 10 * time.Second})
	b.failure(t0)
	b.failure(t0.Add(time.Second))
	if b.open(t0.Add(time.Second)) {
		t.Fatal("open after 2 of 3 errors")
	}
	// Errors outside the window do not count.
	b.failure(t0.Add(12 * time.Second))
	if b.open(t0.Add(12 * time.Second)) {
		t.Fatal("open with errors spread wider than the window")
	}
	b.failure(t0.Add(13 * time.Second))
	b.failure(t0.Add(14 * time.Second))
	now := t0.Add(14 * time.Second)
	if !b.open(now) {
		t.Fatal("closed after 3 errors within the window")
	}
	if b.open(now.Add(trading.DefaultBreakerCooldown)) {
		t.Fatal("still open after the cooldown")
	}
	// Reopening right after a cooldown doubles it.
	later := now.Add(trading.DefaultBreakerCooldown)
	for i := range 3 {
		b.failure(later.Add(time.Duration(i) * time.Millisecond))
	}
	if got, want := b.cooldown, 2*trading.DefaultBreakerCooldown; got != want {
		t.Fatalf("cooldown %v, want %v", got, want)
	}
	off := newBreaker(trading.Limits{BreakerErrors: -1})
	for range 100 {
		off.failure(t0)
	}
	if off.open(t0) {
		t.Fatal("disabled breaker opened")
	}
}
