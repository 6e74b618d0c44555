package match

import "time"

// Replace replaces an open order (PATCH /v2/orders/{id}): the old order
// becomes replaced and a new order with a new id takes its place, in its
// group too. It returns the new order.
func (a *Account) Replace(now time.Time, id string, r *ReplaceRequest, ev []Event) (Order, []Event, error) {
	old, err := a.lookup(id)
	if err != nil {
		return Order{}, ev, err
	}
	if !old.open() {
		return Order{}, ev, errNotCancelable(old.Status)
	}
	if r == nil {
		return Order{}, ev, errf(KindValidation, "request body format is invalid")
	}
	root := old
	if old.parent != nil {
		root = old.parent
	}
	if root.Class == OTO {
		return Order{}, ev, errf(KindUnprocessable, "oto orders cannot be replaced")
	}
	isLeg := old.parent != nil || (old.Class == OCO && old.parent == nil)

	s := spec{
		symbol: old.Symbol, side: old.Side, typ: old.Type, tif: old.TimeInForce, class: old.Class,
		intent: old.PositionIntent, qty: old.Qty - old.FilledQty, notional: old.Notional,
		limit: old.LimitPrice, stop: old.StopPrice, trailPx: old.TrailPrice, trailPct: old.TrailPercent,
		ext: old.ExtendedHours, cid: r.ClientOrderID,
	}
	changed := false
	if r.Qty != nil {
		if old.Notional > 0 || !old.Qty.IsWhole() {
			return Order{}, ev, errf(KindUnprocessable, "qty of fractional or notional orders cannot be replaced")
		}
		if isLeg {
			return Order{}, ev, errf(KindUnprocessable, "qty of a multi-leg order's legs cannot be replaced")
		}
		q, err := qtyField("qty", r.Qty)
		if err != nil {
			return Order{}, ev, err
		}
		if !q.IsWhole() {
			return Order{}, ev, errf(KindValidation, "qty must be integer")
		}
		changed = changed || q != old.Qty
		s.qty = q
	}
	if r.TimeInForce != "" && r.TimeInForce != old.TimeInForce {
		if old.parent != nil || old.legs[0] != nil || old.legs[1] != nil {
			return Order{}, ev, errf(KindUnprocessable, "time_in_force of multi-leg orders cannot be replaced")
		}
		s.tif = r.TimeInForce
		changed = true
	}
	if r.LimitPrice != nil {
		if old.Type != Limit && old.Type != StopLimit {
			return Order{}, ev, errf(KindUnprocessable, "limit_price can only be replaced on limit and stop_limit orders")
		}
		p, err := priceField("limit_price", r.LimitPrice)
		if err != nil {
			return Order{}, ev, err
		}
		changed = changed || p != old.LimitPrice
		s.limit = p
	}
	if r.StopPrice != nil {
		if old.Type != Stop && old.Type != StopLimit {
			return Order{}, ev, errf(KindUnprocessable, "stop_price can only be replaced on stop and stop_limit orders")
		}
		p, err := priceField("stop_price", r.StopPrice)
		if err != nil {
			return Order{}, ev, err
		}
		changed = changed || p != old.StopPrice
		s.stop = p
	}
	if r.Trail != nil {
		if old.Type != TrailingStop {
			return Order{}, ev, errf(KindUnprocessable, "trail can only be replaced on trailing_stop orders")
		}
		if old.TrailPrice > 0 {
			p, err := priceField("trail", r.Trail)
			if err != nil {
				return Order{}, ev, err
			}
			changed = changed || p != old.TrailPrice
			s.trailPx = p
		} else {
			p, err := percentField(r.Trail)
			if err != nil {
				return Order{}, ev, err
			}
			changed = changed || p != old.TrailPercent
			s.trailPct = p
		}
	}
	if !changed {
		return Order{}, ev, errf(KindForbidden, "order parameters are not changed")
	}
	switch s.tif {
	case Day, GTC, OPG, CLS, IOC, FOK:
	default:
		return Order{}, ev, errf(KindValidation, "invalid time_in_force")
	}
	if old.b.crypto {
		as, err := a.asset(s.symbol)
		if err != nil {
			return Order{}, ev, err
		}
		if err := s.checkCrypto(as); err != nil {
			return Order{}, ev, err
		}
	} else if err := s.checkTIF(); err != nil {
		return Order{}, ev, err
	}
	if err := a.checkLegPrices(old, &s); err != nil {
		return Order{}, ev, err
	}
	if len(s.cid) > MaxClientOrderIDLen {
		return Order{}, ev, errf(KindValidation, "client_order_id must be no more than 128 characters")
	}
	if s.cid != "" {
		if a.byClientID(s.cid) != nil {
			return Order{}, ev, errf(KindDuplicate, "client_order_id must be unique")
		}
	}
	var c checked
	if isLeg {
		c.closing = true // exit legs keep their role and need no buying power
	} else {
		as, err := a.asset(s.symbol)
		if err != nil {
			return Order{}, ev, err
		}
		if c, err = a.check(now, old.b, &s, as, old); err != nil {
			return Order{}, ev, err
		}
	}

	n := a.newOrder(now, old.b, &s, c)
	n.Replaces = old.ID
	n.ParentID = old.ParentID
	n.HWM = old.HWM
	if old.Type == TrailingStop && n.HWM > 0 {
		n.StopPrice = trailStop(n.Side, n.HWM, n.TrailPrice, n.TrailPercent)
	}
	n.parent, n.legs = old.parent, old.legs
	if p := old.parent; p != nil {
		for i, l := range p.legs {
			if l == old {
				p.legs[i] = n
			}
		}
	}
	for _, l := range n.legs {
		if l != nil {
			l.parent = n
			l.ParentID = n.ID
			if l.Status == StatusHeld {
				l.Qty = n.Qty
			}
		}
	}
	old.ReplacedBy = n.ID
	held := old.Status == StatusHeld
	ev = a.finish(now, old, StatusReplaced, ev)
	a.register(n)
	if held {
		n.Status = StatusHeld
	} else {
		ev = a.start(now, n, ev)
	}
	return a.view(n, true), ev, nil
}

// checkLegPrices keeps a bracket's or OCO's take-profit above (below) its
// stop-loss after a leg's price is replaced.
func (a *Account) checkLegPrices(old *order, s *spec) *Error {
	var tp, sl *order
	var tpPx, slPx Price
	root := old
	if old.parent != nil {
		root = old.parent
	}
	switch root.Class {
	case Bracket:
		tp, sl = root.legs[0], root.legs[1]
	case OCO:
		tp, sl = root, root.legs[1]
	default:
		return nil
	}
	if tp == nil || sl == nil || (old != tp && old != sl) {
		return nil
	}
	tpPx, slPx = tp.LimitPrice, sl.StopPrice
	if old == tp {
		tpPx = s.limit
	} else {
		slPx = s.stop
	}
	if tp.Side == Sell && tpPx <= slPx || tp.Side == Buy && tpPx >= slPx {
		return errf(KindUnprocessable, "take_profit.limit_price must be beyond stop_loss.stop_price")
	}
	return nil
}
