package match

import (
	"slices"
	"time"
)

// The server owns the market clock and tells the account when the regular
// session opens and closes. Outside the session only extended-hours
// orders work; other orders are parked (status accepted if they were
// submitted while closed) and start at the next open. In AlwaysOpen mode
// the account starts open, opg/cls behave as day orders, and the server
// may simply never call these methods (or call EndOfDay to expire day
// orders and aged gtc orders once a day).

// OnOpen opens the regular session: opg orders execute in the opening
// auction at the current quote (in full, or expire), then parked orders
// start working in creation order.
func (a *Account) OnOpen(now time.Time, ev []Event) []Event {
	a.phase = phaseOpen
	ev = a.runAuction(now, OPG, ev)
	parked := a.parked
	a.parked = nil
	slices.SortFunc(parked, func(x, y *order) int { return x.seq - y.seq })
	for _, o := range parked {
		if o.working() && o.heap == nil && !o.inTrl {
			ev = a.start(now, o, ev)
		}
	}
	return ev
}

// OnClose closes the regular session: cls orders execute in the closing
// auction (in full, or expire), regular-hours day orders expire, and gtc
// orders are parked until the next open. Extended-hours orders keep
// working until EndOfDay.
func (a *Account) OnClose(now time.Time, ev []Event) []Event {
	ev = a.runAuction(now, CLS, ev)
	a.phase = phasePostClose
	for _, o := range a.openOrders() {
		if !o.working() || o.ExtendedHours || o.b.crypto || (o.heap == nil && !o.inTrl) {
			continue
		}
		if o.TimeInForce == GTC {
			o.b.unindex(o)
			a.parked = append(a.parked, o)
			continue
		}
		ev = a.finish(now, o, StatusExpired, ev)
		ev = a.settle(now, o, ev)
	}
	return ev
}

// EndOfDay ends the trading day: it closes the session if still open (not
// in AlwaysOpen mode), expires the day orders still working (extended
// hours ones, or all of them in AlwaysOpen mode) and aged gtc orders.
func (a *Account) EndOfDay(now time.Time, ev []Event) []Event {
	if a.phase == phaseOpen && !a.cfg.AlwaysOpen {
		ev = a.OnClose(now, ev)
	}
	for _, o := range a.openOrders() {
		if o.working() && o.TimeInForce != GTC && (o.heap != nil || o.inTrl) {
			ev = a.finish(now, o, StatusExpired, ev)
			ev = a.settle(now, o, ev)
		}
	}
	if !a.cfg.AlwaysOpen {
		a.phase = phasePreOpen
	}
	return a.ExpireAged(now, ev)
}

// ExpireAged expires gtc orders whose ExpiresAt (creation + 90 days) has
// passed, Alpaca's aged-order policy.
func (a *Account) ExpireAged(now time.Time, ev []Event) []Event {
	for _, o := range a.openOrders() {
		if o.open() && o.TimeInForce == GTC && !o.ExpiresAt.IsZero() && Stamp(now) >= o.ExpiresAt {
			ev = a.finish(now, o, StatusExpired, ev)
			ev = a.settle(now, o, ev)
		}
	}
	return ev
}

// runAuction executes the waiting auction orders of one kind at the
// current quotes, all or nothing, and expires what could not execute.
func (a *Account) runAuction(now time.Time, tif TimeInForce, ev []Event) []Event {
	waiting := a.auction
	a.auction = nil
	for _, o := range waiting {
		if !o.open() || !o.auction {
			continue
		}
		if o.TimeInForce != tif {
			a.auction = append(a.auction, o)
			continue
		}
		o.auction = false
		if px, ok := marketable(o, o.b.quote); ok {
			ev = a.execute(now, o, px, false, ev)
		}
		if o.open() {
			ev = a.finish(now, o, StatusExpired, ev)
			ev = a.settle(now, o, ev)
		}
	}
	return ev
}
