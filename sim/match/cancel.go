package match

import "time"

// Cancel cancels an open order (DELETE /v2/orders/{id}). Canceling any
// member of a bracket, OCO or OTO group cancels the whole group, as
// Alpaca's legs cannot outlive their group.
func (a *Account) Cancel(now time.Time, id string, ev []Event) ([]Event, error) {
	o, err := a.lookup(id)
	if err != nil {
		return ev, err
	}
	if !o.open() {
		return ev, errNotCancelable(o.Status)
	}
	return a.cancelGroup(now, o, ev), nil
}

func (a *Account) cancelGroup(now time.Time, o *order, ev []Event) []Event {
	ev = a.finish(now, o, StatusCanceled, ev)
	root := o
	if o.parent != nil {
		root = o.parent
	}
	for _, m := range [3]*order{root, root.legs[0], root.legs[1]} {
		if m != nil && m.open() {
			ev = a.finish(now, m, StatusCanceled, ev)
		}
	}
	return ev
}

// CancelAll cancels every open order (DELETE /v2/orders) and reports one
// result per order, in creation order.
func (a *Account) CancelAll(now time.Time, ev []Event) ([]CancelResult, []Event) {
	snap := a.openOrders()
	res := make([]CancelResult, 0, len(snap))
	for _, o := range snap {
		if o.open() {
			ev = a.cancelGroup(now, o, ev)
		}
		res = append(res, CancelResult{ID: o.ID})
	}
	return res, ev
}

func (a *Account) openOrders() []*order {
	snap := make([]*order, 0, a.nOpen)
	for o := a.openHead; o != nil; o = o.next {
		snap = append(snap, o)
	}
	return snap
}

func (a *Account) lookup(id string) (*order, *Error) {
	if u, ok := ParseUUID(id); ok {
		if s := a.ids.seq(u); s >= 0 && s < len(a.orders) && a.orders[s].ID == u {
			return a.orders[s], nil
		}
	}
	return nil, errf(KindNotFound, "order not found for "+id)
}
