package sim

import (
	"sync"
	"time"

	"github.com/shopspring/decimal"

	"github.com/quantum-alpaca/quantum/alpaca"
	"github.com/quantum-alpaca/quantum/sim/market"
	"github.com/quantum-alpaca/quantum/sim/match"
)

// The engine keeps fixed-point integers; the wire carries decimals and
// explicit nulls. These functions are the one place the two meet.

func tptr(ts match.Timestamp) *time.Time {
	if ts.IsZero() {
		return nil
	}
	t := ts.Time()
	return &t
}

func sptr(u match.UUID) *string {
	if u.IsZero() {
		return nil
	}
	s := u.String()
	return &s
}

func dptr(d decimal.Decimal, set bool) *decimal.Decimal {
	if !set {
		return nil
	}
	return &d
}

func wireOrder(o *match.Order) alpaca.Order {
	out := alpaca.Order{
		ID:             o.ID.String(),
		ClientOrderID:  o.ClientOrderID,
		CreatedAt:      o.CreatedAt.Time(),
		UpdatedAt:      tptr(o.UpdatedAt),
		SubmittedAt:    tptr(o.SubmittedAt),
		FilledAt:       tptr(o.FilledAt),
		ExpiredAt:      tptr(o.ExpiredAt),
		CanceledAt:     tptr(o.CanceledAt),
		FailedAt:       tptr(o.FailedAt),
		ReplacedAt:     tptr(o.ReplacedAt),
		ReplacedBy:     sptr(o.ReplacedBy),
		Replaces:       sptr(o.Replaces),
		AssetID:        assetIDOf(o.Symbol),
		Symbol:         o.Symbol,
		AssetClass:     assetClassOf(o.Symbol),
		Notional:       dptr(o.Notional.Decimal(), o.Notional != 0),
		Qty:            dptr(o.Qty.Decimal(), o.Qty != 0),
		FilledQty:      o.FilledQty.Decimal(),
		FilledAvgPrice: dptr(o.FilledAvgPrice.Decimal(), o.FilledQty != 0),
		OrderClass:     alpaca.OrderClass(o.Class),
		OrderType:      alpaca.OrderType(o.Type),
		Type:           alpaca.OrderType(o.Type),
		Side:           alpaca.Side(o.Side),
		PositionIntent: alpaca.PositionIntent(o.PositionIntent),
		TimeInForce:    alpaca.TimeInForce(o.TimeInForce),
		LimitPrice:     dptr(o.LimitPrice.Decimal(), o.LimitPrice != 0),
		StopPrice:      dptr(o.StopPrice.Decimal(), o.StopPrice != 0),
		Status:         alpaca.OrderStatus(o.Status),
		ExtendedHours:  o.ExtendedHours,
		TrailPercent:   dptr(o.TrailPercent.Decimal(), o.TrailPercent != 0),
		TrailPrice:     dptr(o.TrailPrice.Decimal(), o.TrailPrice != 0),
		HWM:            dptr(o.HWM.Decimal(), o.HWM != 0),
		ExpiresAt:      tptr(o.ExpiresAt),
	}
	if o.Legs != nil {
		out.Legs = make([]alpaca.Order, len(o.Legs))
		for i := range o.Legs {
			out.Legs[i] = wireOrder(&o.Legs[i])
		}
	}
	return out
}

// assetIDs caches market.AssetID, a hash, for the handful of symbols a
// broker ever sees; every order reply carries one.
var assetIDs sync.Map

func assetIDOf(symbol string) string {
	if v, ok := assetIDs.Load(symbol); ok {
		return v.(string)
	}
	id := market.AssetID(symbol)
	assetIDs.Store(symbol, id)
	return id
}

func toMatchQuote(q alpaca.Quote) match.Quote {
	bid, _ := match.PriceFromFloat(q.BidPrice)
	ask, _ := match.PriceFromFloat(q.AskPrice)
	return match.Quote{Bid: bid, Ask: ask}
}

func toMatchRequest(r *alpaca.OrderRequest) match.OrderRequest {
	mr := match.OrderRequest{
		Symbol:         r.Symbol,
		Qty:            r.Qty,
		Notional:       r.Notional,
		Side:           match.Side(r.Side),
		Type:           match.OrderType(r.Type),
		TimeInForce:    match.TimeInForce(r.TimeInForce),
		LimitPrice:     r.LimitPrice,
		StopPrice:      r.StopPrice,
		TrailPrice:     r.TrailPrice,
		TrailPercent:   r.TrailPercent,
		ExtendedHours:  r.ExtendedHours,
		ClientOrderID:  r.ClientOrderID,
		OrderClass:     match.OrderClass(r.OrderClass),
		PositionIntent: match.PositionIntent(r.PositionIntent),
	}
	if r.TakeProfit != nil {
		mr.TakeProfit = &match.TakeProfit{LimitPrice: r.TakeProfit.LimitPrice}
	}
	if r.StopLoss != nil {
		mr.StopLoss = &match.StopLoss{StopPrice: r.StopLoss.StopPrice, LimitPrice: r.StopLoss.LimitPrice}
	}
	return mr
}
