package match_test

import (
	"testing"

	"github.com/quantum-alpaca/quantum/sim/match"
)

func bracket(side match.Side, q, limit, tp, sl string) match.OrderRequest {
	r := match.OrderRequest{Symbol: "X", Side: side, Type: match.Limit, TimeInForce: match.GTC, Qty: dec(q),
		LimitPrice: dec(limit), OrderClass: match.Bracket,
		TakeProfit: &match.TakeProfit{LimitPrice: dec(tp)}, StopLoss: &match.StopLoss{StopPrice: dec(sl)}}
	return r
}

func TestBracket(t *testing.T) {
	setup := func(t *testing.T, rate float64) (*env, match.Order) {
		e := MustEnv(t, func(c *match.Config) { c.PartialFillRate = rate })
		e.quote("X", "100", "100.05")
		o, ev := e.mustSubmit(bracket(match.Buy, "10", "99", "105", "95"))
		e.wantEvents(ev, "new")
		if len(o.Legs) != 2 || o.Legs[0].Status != match.StatusHeld || o.Legs[1].Status != match.StatusHeld {
			t.Fatalf("legs %+v", o.Legs)
		}
		if o.Legs[0].Type != match.Limit || o.Legs[0].Side != match.Sell || o.Legs[1].Type != match.Stop || o.Legs[0].ParentID != o.ID {
			t.Fatalf("legs %+v", o.Legs)
		}
		return e, o
	}
	t.Run("legs activate on entry fill, take profit cancels stop loss", func(t *testing.T) {
		e, o := setup(t, 0)
		e.wantEvents(e.quote("X", "98.9", "99"), "fill", "new", "new")
		tp, sl := o.Legs[0].ID, o.Legs[1].ID
		if e.order(tp).Status != match.StatusNew || e.order(sl).Status != match.StatusNew {
			t.Fatal("legs not working")
		}
		e.wantEvents(e.quote("X", "105", "105.1"), "fill", "canceled")
		if e.order(sl).Status != match.StatusCanceled || e.pos("X") != 0 {
			t.Fatalf("sl %s pos %s", e.order(sl).Status, e.pos("X"))
		}
		e.check()
	})
	t.Run("stop loss fills and cancels take profit", func(t *testing.T) {
		e, o := setup(t, 0)
		e.quote("X", "98.9", "99")
		e.wantEvents(e.quote("X", "94", "94.2"), "fill", "canceled")
		if e.order(o.Legs[0].ID).Status != match.StatusCanceled || e.order(o.Legs[1].ID).FilledQty != qty("10") {
			t.Fatal("wrong leg outcome")
		}
	})
	t.Run("partial take profit shrinks the stop loss", func(t *testing.T) {
		e, o := setup(t, 1) // every eligible fill is partial
		for i := 0; i < 100 && e.order(o.ID).Status != match.StatusFilled; i++ {
			e.quote("X", "98.9", "99")
		}
		ev := e.quote("X", "105", "105.1")
		e.wantEvents(ev, "partial_fill")
		tp, sl := e.order(o.Legs[0].ID), e.order(o.Legs[1].ID)
		if sl.Qty != tp.Qty-tp.FilledQty || sl.Qty >= qty("10") {
			t.Fatalf("tp %s/%s sl qty %s", tp.FilledQty, tp.Qty, sl.Qty)
		}
		p, _ := e.a.Position("X", nil)
		if p.HeldForOrders != sl.Qty || p.QtyAvailable != 0 {
			t.Fatalf("held %s want %s", p.HeldForOrders, sl.Qty)
		}
		e.quote("X", "94", "94.2") // the stop loss now partially fills too
		if got := e.order(o.Legs[0].ID); got.Qty-got.FilledQty != e.pos("X") {
			t.Fatalf("tp remaining %s, position %s", got.Qty-got.FilledQty, e.pos("X"))
		}
		for i := 0; i < 100 && e.pos("X") != 0; i++ {
			e.quote("X", "94", "94.2")
		}
		if e.pos("X") != 0 || e.order(o.Legs[0].ID).Status != match.StatusCanceled {
			t.Fatalf("pos %s", e.pos("X"))
		}
		e.check()
	})
	t.Run("canceling the entry cancels held legs", func(t *testing.T) {
		e, o := setup(t, 0)
		ev, err := e.cancel(o.ID)
		if err != nil {
			t.Fatal(err)
		}
		e.wantEvents(ev, "canceled", "canceled", "canceled")
	})
	t.Run("validation", func(t *testing.T) {
		e := MustEnv(t, nil)
		e.quote("X", "100", "100.05")
		for name, r := range map[string]match.OrderRequest{
			"tp below base": bracket(match.Buy, "1", "99", "99", "95"),
			"sl above base": bracket(match.Buy, "1", "99", "105", "99"),
			"sell reversed": bracket(match.Sell, "1", "101", "105", "95"),
			"tp below sl":   bracket(match.Buy, "1", "99", "94", "95"),
			"missing sl":    func() match.OrderRequest { r := bracket(match.Buy, "1", "99", "105", "95"); r.StopLoss = nil; return r }(),
			"ioc": func() match.OrderRequest {
				r := bracket(match.Buy, "1", "99", "105", "95")
				r.TimeInForce = match.IOC
				return r
			}(),
			"market base": func() match.OrderRequest {
				r := bracket(match.Buy, "1", "99", "100.05", "95")
				r.Type = match.Market
				return r
			}(),
			"sub-penny legs": bracket(match.Buy, "1", "99", "105.001", "95"),
			"fractional":     bracket(match.Buy, "1.5", "99", "105", "95"),
			"extended hours": func() match.OrderRequest {
				r := bracket(match.Buy, "1", "99", "105", "95")
				r.ExtendedHours = true
				return r
			}(),
		} {
			if err := e.submitErr(r); err.Kind != match.KindUnprocessable {
				t.Errorf("%s: %v", name, err)
			}
		}
	})
}

func TestOCO(t *testing.T) {
	e := MustEnv(t, nil)
	e.quote("X", "100", "100.05")
	e.mustSubmit(mkt("X", match.Buy, "10"))
	r := match.OrderRequest{Symbol: "X", Side: match.Sell, Type: match.Limit, TimeInForce: match.GTC, Qty: dec("10"),
		OrderClass: match.OCO, TakeProfit: &match.TakeProfit{LimitPrice: dec("110")},
		StopLoss: &match.StopLoss{StopPrice: dec("95"), LimitPrice: dec("94")}}
	o, ev := e.mustSubmit(r)
	e.wantEvents(ev, "new", "new")
	if o.LimitPrice != px("110") || len(o.Legs) != 1 || o.Legs[0].Type != match.StopLimit {
		t.Fatalf("order %+v", o)
	}
	p, _ := e.a.Position("X", nil)
	if p.HeldForOrders != qty("10") || p.QtyAvailable != 0 {
		t.Fatalf("held %s available %s", p.HeldForOrders, p.QtyAvailable)
	}
	e.wantEvents(e.quote("X", "94.5", "94.6"), "fill", "canceled")
	if e.order(o.ID).Status != match.StatusCanceled || e.pos("X") != 0 {
		t.Fatal("take profit should be canceled")
	}
	// OCO is exit only and must be a limit order.
	if err := e.submitErr(r); err.Kind != match.KindForbidden {
		t.Fatalf("oco without position: %v", err)
	}
	r.Type = match.Market
	if err := e.submitErr(r); err.Kind != match.KindValidation || err.Message != "oco orders must be limit orders" {
		t.Fatalf("oco market: %v", err)
	}
	e.check()
}

func TestOTO(t *testing.T) {
	e := MustEnv(t, nil)
	e.quote("X", "100", "100.05")
	r := match.OrderRequest{Symbol: "X", Side: match.Buy, Type: match.Market, TimeInForce: match.Day, Qty: dec("5"),
		OrderClass: match.OTO, StopLoss: &match.StopLoss{StopPrice: dec("90")}}
	o, ev := e.mustSubmit(r)
	e.wantEvents(ev, "new", "fill", "new")
	if len(o.Legs) != 1 || o.Legs[0].Status != match.StatusNew || o.Legs[0].Type != match.Stop {
		t.Fatalf("legs %+v", o.Legs)
	}
	if _, _, err := e.replace(o.Legs[0].ID, match.ReplaceRequest{StopPrice: dec("91")}); err == nil {
		t.Fatal("oto legs must not be replaceable")
	}
	r.TakeProfit = &match.TakeProfit{LimitPrice: dec("110")}
	if err := e.submitErr(r); err.Kind != match.KindUnprocessable {
		t.Fatalf("oto with both legs: %v", err)
	}
	e.check()
}

// Regression (found by TestRandomOps): shares an entry bought may be sold
// by other orders before the entry completes; its exits then protect only
// what is left, never more than the position.
func TestBracketLegsCappedToPosition(t *testing.T) {
	e := MustEnv(t, func(c *match.Config) { c.PartialFillRate = 1 })
	e.quote("X", "100", "100")
	r := bracket(match.Buy, "10", "101", "105", "95")
	o, _ := e.mustSubmit(r)
	sold := e.pos("X")
	if sold == 0 || sold == qty("10") {
		t.Fatalf("entry should be partly filled, position %s", sold)
	}
	s, _ := e.mustSubmit(mkt("X", match.Sell, sold.String()))
	for i := 0; i < 100 && e.order(s.ID).Status != match.StatusFilled; i++ {
		e.quote("X", "100", "") // bids only: the sell progresses, the entry waits
	}
	for i := 0; i < 100 && e.order(o.ID).Status != match.StatusFilled; i++ {
		e.quote("X", "", "100") // asks only: the entry completes
	}
	p, _ := e.a.Position("X", nil)
	tp, sl := e.order(o.Legs[0].ID), e.order(o.Legs[1].ID)
	if tp.Status != match.StatusNew || tp.Qty != p.Qty || sl.Qty != p.Qty || p.HeldForOrders != p.Qty {
		t.Fatalf("position %s, legs %s/%s, held %s", p.Qty, tp.Qty, sl.Qty, p.HeldForOrders)
	}
	e.check()
}
