package match

import (
	"math"
	"math/bits"
	"time"
)

// OnQuote records the latest quote for symbol and re-evaluates the
// account's working orders on it. A quote for a symbol without working
// orders costs a map lookup. Out-of-range prices count as a missing side.
func (a *Account) OnQuote(now time.Time, symbol string, q Quote, ev []Event) []Event {
	b := a.books[symbol]
	if b == nil {
		if len(symbol) > maxSymbolLen {
			return ev
		}
		b = a.book(symbol)
	}
	if q.Bid < 0 || q.Bid > MaxPrice {
		q.Bid = 0
	}
	if q.Ask < 0 || q.Ask > MaxPrice {
		q.Ask = 0
	}
	b.quote = q
	if b.working() == 0 {
		return ev
	}
	return a.eval(now, b, ev)
}

// Quote returns the last quote recorded for symbol.
func (a *Account) Quote(symbol string) (Quote, bool) {
	if b := a.books[symbol]; b != nil {
		return b.quote, b.quote.Bid > 0 || b.quote.Ask > 0
	}
	return Quote{}, false
}

// eval triggers stops and executes every marketable order of b. Each
// order is considered once per quote, so the remainder of a random
// partial fill waits for the next quote, as on Alpaca paper.
func (a *Account) eval(now time.Time, b *book, ev []Event) []Event {
	q := b.quote
	for i := 0; i < len(b.trailing); {
		o := b.trailing[i]
		if a.trail(o, q) {
			b.unindex(o) // moves the last one into i
			o.triggered = true
			b.insert(o)
			continue
		}
		i++
	}
	for q.Ask > 0 && len(b.buyStops.s) > 0 && b.buyStops.top().StopPrice <= q.Ask {
		o := b.buyStops.pop()
		o.triggered = true
		b.insert(o)
	}
	for q.Bid > 0 && len(b.sellStops.s) > 0 && b.sellStops.top().StopPrice >= q.Bid {
		o := b.sellStops.pop()
		o.triggered = true
		b.insert(o)
	}
	s := a.scratch[:0]
	for q.Ask > 0 && len(b.buys.s) > 0 && Price(-b.buys.top().hkey) >= q.Ask {
		s = append(s, b.buys.pop())
	}
	for q.Bid > 0 && len(b.sells.s) > 0 && Price(b.sells.top().hkey) <= q.Bid {
		s = append(s, b.sells.pop())
	}
	for _, o := range s {
		if !o.working() {
			continue // canceled by a peer's fill earlier in this loop
		}
		px := q.Ask
		if o.Side == Sell {
			px = q.Bid
		}
		a.maker = true // it rested until this quote
		ev = a.execute(now, o, px, true, ev)
		a.maker = false
		if o.working() {
			b.insert(o)
		}
	}
	clear(s)
	a.scratch = s[:0]
	return ev
}

// try evaluates one unindexed working order against the current quote.
func (a *Account) try(now time.Time, o *order, allowPartial bool, ev []Event) []Event {
	q := o.b.quote
	switch {
	case o.triggered:
	case o.Type == TrailingStop:
		if !a.trail(o, q) {
			return ev
		}
		o.triggered = true
	case o.isStop():
		if !stopHit(o, q) {
			return ev
		}
		o.triggered = true
	}
	if px, ok := marketable(o, q); ok {
		ev = a.execute(now, o, px, allowPartial, ev)
	}
	return ev
}

func stopHit(o *order, q Quote) bool {
	if o.Side == Buy {
		return q.Ask > 0 && q.Ask >= o.StopPrice
	}
	return q.Bid > 0 && q.Bid <= o.StopPrice
}

func marketable(o *order, q Quote) (Price, bool) {
	if o.Side == Buy {
		return q.Ask, q.Ask > 0 && q.Ask <= o.limitFor()
	}
	return q.Bid, q.Bid > 0 && q.Bid >= o.limitFor()
}

// trail moves a trailing stop's water mark (highest bid for sells, lowest
// ask for buys) and its derived stop, and reports whether it triggered.
func (a *Account) trail(o *order, q Quote) bool {
	if o.Side == Sell {
		if q.Bid <= 0 {
			return false
		}
		if o.HWM == 0 || q.Bid > o.HWM {
			o.HWM = q.Bid
			o.StopPrice = trailStop(Sell, o.HWM, o.TrailPrice, o.TrailPercent)
		}
		return q.Bid <= o.StopPrice
	}
	if q.Ask <= 0 {
		return false
	}
	if o.HWM == 0 || q.Ask < o.HWM {
		o.HWM = q.Ask
		o.StopPrice = trailStop(Buy, o.HWM, o.TrailPrice, o.TrailPercent)
	}
	return q.Ask >= o.StopPrice
}

// trailStop derives a trailing stop price from the water mark, rounded
// away from the market to a valid increment.
func trailStop(side Side, hwm, trailPx Price, pct Percent) Price {
	d := trailPx
	if d == 0 {
		d = Price(mulDivSat(int64(hwm), int64(pct), 100*PercentScale, side == Buy))
	}
	if side == Sell {
		return tickFloor(max(hwm-d, 0))
	}
	return tickCeil(hwm + d)
}

// execute fills o (fully, or partly on a random draw) at px. It never
// lets a fill flip a position: a closing order is cut to the position and
// what cannot execute is canceled.
func (a *Account) execute(now time.Time, o *order, px Price, allowPartial bool, ev []Event) []Event {
	b := o.b
	var want Qty
	if o.Notional > 0 {
		v, ok := mulDiv(uint64(o.Notional), QtyScale*PriceScale/MoneyScale, uint64(px), false)
		if !ok || Qty(v) > MaxOrderQty {
			v = int64(MaxOrderQty)
		}
		want = Qty(v)
	} else {
		want = o.Qty - o.FilledQty
		if allowPartial && a.partialLimit > 0 && want > 1 && a.src.Uint64() < a.partialLimit {
			want = a.partialQty(want)
		}
	}
	q := want
	pos := b.pos
	var room Qty
	switch {
	case o.Side == Buy && o.closing:
		room = max(-pos, 0)
	case o.Side == Buy && pos < 0:
		room = 0
	case o.Side == Buy:
		room = MaxPositionQty - pos
	case o.closing:
		room = max(pos, 0)
	case pos > 0:
		room = 0
	default:
		room = MaxPositionQty + pos
	}
	capped := q > room
	if capped {
		q = room
	}
	if q <= 0 {
		if o.Notional > 0 && o.FilledQty == 0 {
			ev = a.finish(now, o, StatusRejected, ev)
		} else {
			ev = a.finish(now, o, StatusCanceled, ev)
		}
		return a.settle(now, o, ev)
	}

	a.applyFill(now, b, o.Side, q, px)
	var feeQty Qty
	var feeCash Money
	if b.crypto {
		feeQty, feeCash = a.chargeCryptoFee(now, b, o.Side, q, px, a.maker)
	}
	o.FilledAvgPrice = weighted(o.FilledQty, o.FilledAvgPrice, q, px)
	o.FilledQty += q
	o.UpdatedAt = Stamp(now)
	done := o.Notional > 0 || o.FilledQty >= o.Qty
	if o.res > 0 && !done {
		r := Money(mulDivSat(int64(o.Qty-o.FilledQty), int64(o.resPrice), QtyScale*PriceScale/MoneyScale, true))
		a.reserved += r - o.res
		o.res = r
	}
	typ := EventPartialFill
	if done {
		typ = EventFill
		ev = a.finish(now, o, StatusFilled, ev)
	} else {
		o.Status = StatusPartiallyFilled
	}
	execID := newUUID(&a.src)
	a.addFill(fillRec{exec: execID, o: o, t: Stamp(now), px: px, q: q, cum: o.FilledQty, leaves: o.remaining()})
	if feeQty > 0 || feeCash > 0 {
		a.addFill(fillRec{exec: newUUID(&a.src), o: o, t: Stamp(now), px: px, q: feeQty, fee: true, feeCash: feeCash})
	}
	a.evSeq++
	ev = append(ev, Event{
		Seq: a.evSeq, Type: typ, Time: Stamp(now), Order: o.Order,
		ExecutionID: execID, Price: px, Qty: q, PositionQty: b.pos,
	})
	if done {
		return a.settle(now, o, ev)
	}
	// A partly filled exit shrinks its one-cancels-other peer, so the pair
	// never closes more than the shares it protects.
	if p := o.peer(); p != nil && p.open() {
		rest := o.Qty - o.FilledQty
		if p.Qty-p.FilledQty > rest {
			p.Qty = p.FilledQty + rest
			p.UpdatedAt = Stamp(now)
		}
	}
	if capped {
		ev = a.finish(now, o, StatusCanceled, ev)
		ev = a.settle(now, o, ev)
	}
	return ev
}

// partialQty draws the size of a partial fill: whole shares for whole-share
// remainders, otherwise any multiple of the smallest unit.
func (a *Account) partialQty(rem Qty) Qty {
	if rem.IsWhole() {
		shares := uint64(rem / QtyScale)
		if shares < 2 {
			return rem
		}
		return Qty(1+a.src.Uint64()%(shares-1)) * QtyScale
	}
	return Qty(1 + a.src.Uint64()%uint64(rem-1))
}

// applyFill moves cash and the position, and counts day trades.
func (a *Account) applyFill(now time.Time, b *book, side Side, q Qty, px Price) {
	v := int64(Value(q, px))
	old := b.pos
	if side == Buy {
		a.cash = Money(satSub(int64(a.cash), v))
		b.pos += q
	} else {
		a.cash = Money(satAdd(int64(a.cash), v))
		b.pos -= q
	}
	oldMag, newMag := abs64(int64(old)), abs64(int64(b.pos))
	today := a.day(now)
	if newMag > oldMag {
		b.avg = weighted(Qty(oldMag), b.avg, q, px)
		b.openDay = today
	} else {
		// Closing shares bought (or shorted) the same day is a day trade;
		// one per round trip, however many fills close it.
		if b.openDay == today {
			a.addDayTrade(today)
			b.openDay = math.MinInt32
		}
		if b.pos == 0 {
			b.avg = 0
		}
	}
	switch {
	case old == 0 && b.pos != 0:
		b.posIdx = len(a.posBooks)
		a.posBooks = append(a.posBooks, b)
	case old != 0 && b.pos == 0:
		last := len(a.posBooks) - 1
		a.posBooks[b.posIdx] = a.posBooks[last]
		a.posBooks[b.posIdx].posIdx = b.posIdx
		a.posBooks[last] = nil
		a.posBooks = a.posBooks[:last]
		b.posIdx = -1
	}
}

// weighted is the quantity-weighted average of avg over q1 and px over q2,
// computed in 128 bits; the result lies between the two prices, so it
// always fits.
func weighted(q1 Qty, avg AvgPrice, q2 Qty, px Price) AvgPrice {
	p2 := uint64(px) * (AvgPriceScale / PriceScale)
	if q1 <= 0 {
		return AvgPrice(p2)
	}
	hi1, lo1 := bits.Mul64(uint64(q1), uint64(avg))
	hi2, lo2 := bits.Mul64(uint64(q2), p2)
	lo, c := bits.Add64(lo1, lo2, 0)
	hi := hi1 + hi2 + c
	d := uint64(q1 + q2)
	if hi >= d {
		return AvgPrice(max(uint64(avg), p2))
	}
	r, _ := bits.Div64(hi, lo, d)
	return AvgPrice(r)
}

const fillChunk = 1024

// fillRec is the compact record behind an Activity.
type fillRec struct {
	exec   UUID
	o      *order
	t      Timestamp
	px     Price
	q      Qty
	cum    Qty
	leaves Qty
	// fee marks the CFEE record of a crypto fill: q is the fee in the
	// asset (buys), feeCash the fee in cash (sells).
	fee     bool
	feeCash Money
}

func (a *Account) addFill(r fillRec) {
	i := a.nFills % fillChunk
	if i == 0 {
		a.fills = append(a.fills, new([fillChunk]fillRec))
	}
	a.fills[len(a.fills)-1][i] = r
	a.nFills++
}

func (a *Account) fill(i int) *fillRec { return &a.fills[i/fillChunk][i%fillChunk] }

func (r *fillRec) activity() Activity {
	if r.fee {
		return Activity{
			ExecutionID: r.exec, OrderID: r.o.ID, Time: r.t, Symbol: r.o.Symbol, Side: r.o.Side,
			Fee: true, Price: r.px, Qty: r.q, FeeCash: r.feeCash,
		}
	}
	x := Activity{
		ExecutionID: r.exec, OrderID: r.o.ID, Time: r.t, Symbol: r.o.Symbol, Side: r.o.Side,
		Type: EventFill, Price: r.px, Qty: r.q, CumQty: r.cum, LeavesQty: r.leaves, OrderStatus: StatusFilled,
	}
	if r.leaves > 0 {
		x.Type, x.OrderStatus = EventPartialFill, StatusPartiallyFilled
	}
	return x
}
