package match

import (
	"errors"
	"slices"
	"sort"
	"strings"
	"time"
)

// view copies o, with its legs when nested and o is a multi-leg parent.
func (a *Account) view(o *order, nested bool) Order {
	v := o.Order
	if nested && o.parent == nil && (o.legs[0] != nil || o.legs[1] != nil) {
		v.Legs = make([]Order, 0, 2)
		for _, l := range o.legs {
			if l != nil {
				v.Legs = append(v.Legs, l.Order)
			}
		}
	}
	return v
}

// Order returns the order with the given id (GET /v2/orders/{id}).
func (a *Account) Order(id string, nested bool) (Order, error) {
	o, err := a.lookup(id)
	if err != nil {
		return Order{}, err
	}
	return a.view(o, nested), nil
}

// OrderByClientID returns the order with the given client_order_id
// (GET /v2/orders:by_client_order_id).
func (a *Account) OrderByClientID(cid string, nested bool) (Order, error) {
	o := a.byClientID(cid)
	if o == nil {
		return Order{}, errf(KindNotFound, "order not found for "+cid)
	}
	return a.view(o, nested), nil
}

// Orders lists orders as GET /v2/orders does: by status (open: not
// terminal, held legs included; closed: terminal; all), submitted strictly
// after After and before Until, newest first unless Direction is asc.
// With Nested, legs appear under their parent instead of on their own.
func (a *Account) Orders(f OrderFilter) ([]Order, error) {
	limit := f.Limit
	switch {
	case limit <= 0:
		limit = 50
	case limit > 500:
		limit = 500
	}
	var asc bool
	switch f.Direction {
	case "", "desc":
	case "asc":
		asc = true
	default:
		return nil, errf(KindValidation, "invalid direction")
	}
	var status int // 0 open, 1 closed, 2 all
	switch f.Status {
	case "", "open":
	case "closed":
		status = 1
	case "all":
		status = 2
	default:
		return nil, errf(KindValidation, "invalid status")
	}
	switch f.Side {
	case "", Buy, Sell:
	default:
		return nil, errf(KindValidation, "invalid side")
	}
	after, until := Stamp(f.After), Stamp(f.Until)
	statusOK := func(o *order) bool {
		return status == 2 || (status == 1) != o.open()
	}
	keep := func(o *order) bool {
		// Nested listings show legs under their parent, or on their own
		// when the parent is not listed (an open leg of a filled entry).
		if f.Nested && o.parent != nil && statusOK(o.parent) {
			return false
		}
		if !statusOK(o) || f.Side != "" && o.Side != f.Side {
			return false
		}
		if !f.After.IsZero() && o.CreatedAt <= after || !f.Until.IsZero() && o.CreatedAt >= until {
			return false
		}
		return len(f.Symbols) == 0 || slices.Contains(f.Symbols, o.Symbol)
	}
	out := make([]Order, 0, min(limit, 64))
	add := func(o *order) bool {
		if keep(o) {
			out = append(out, a.view(o, f.Nested))
		}
		return len(out) < limit
	}
	if status == 0 {
		if asc {
			for o := a.openHead; o != nil && add(o); o = o.next {
			}
		} else {
			for o := a.openTail; o != nil && add(o); o = o.prev {
			}
		}
		return out, nil
	}
	lo, hi := 0, len(a.orders)
	if a.monotonic {
		// Creation times are sorted, so the time window is a slice range.
		if !f.After.IsZero() {
			lo = sort.Search(hi, func(i int) bool { return a.orders[i].CreatedAt > after })
		}
		if !f.Until.IsZero() {
			hi = sort.Search(hi, func(i int) bool { return a.orders[i].CreatedAt >= until })
		}
	}
	if asc {
		for i := lo; i < hi && add(a.orders[i]); i++ {
		}
	} else {
		for i := hi - 1; i >= lo && add(a.orders[i]); i-- {
		}
	}
	return out, nil
}

// OpenOrderCount returns the number of non-terminal orders.
func (a *Account) OpenOrderCount() int { return a.nOpen }

// OrderCount returns the number of orders ever created.
func (a *Account) OrderCount() int { return len(a.orders) }

// Cash returns the cash balance.
func (a *Account) Cash() Money { return a.cash }

func (a *Account) positionSymbols() []string {
	syms := make([]string, 0, len(a.posBooks))
	for _, b := range a.posBooks {
		syms = append(syms, b.symbol)
	}
	slices.Sort(syms)
	return syms
}

func (a *Account) position(b *book, marks MarkFunc) Position {
	p := Position{Symbol: b.symbol, Qty: b.pos, AvgEntryPrice: b.avg}
	cb := Money(mulDivSat(abs64(int64(b.pos)), int64(b.avg), QtyScale*AvgPriceScale/MoneyScale, false))
	if b.pos > 0 {
		p.CostBasis = cb
		p.HeldForOrders = b.held(Sell, nil)
	} else {
		p.CostBasis = -cb
		p.HeldForOrders = -b.held(Buy, nil)
	}
	p.QtyAvailable = p.Qty - p.HeldForOrders
	if px, ok := a.markOf(b, marks); ok {
		p.HasMark = true
		p.CurrentPrice = px
		p.MarketValue = Value(b.pos, px)
		if b.pos < 0 {
			p.MarketValue = -p.MarketValue
		}
		p.UnrealizedPL = Money(satSub(int64(p.MarketValue), int64(p.CostBasis)))
	}
	return p
}

// Positions returns the open positions sorted by symbol, valued at marks
// (nil: last quote midpoints).
func (a *Account) Positions(marks MarkFunc) []Position {
	out := make([]Position, 0, len(a.posBooks))
	for _, sym := range a.positionSymbols() {
		out = append(out, a.position(a.books[sym], marks))
	}
	return out
}

// Position returns the open position in symbol.
func (a *Account) Position(symbol string, marks MarkFunc) (Position, error) {
	b := a.books[symbol]
	if b == nil || b.pos == 0 {
		return Position{}, errf(KindNotFound, "position does not exist")
	}
	return a.position(b, marks), nil
}

// Equity is cash plus the positions valued at marks (nil: last quote
// midpoints), Snapshot's Equity without the rest of the snapshot: what a
// broker samples for every account every minute.
func (a *Account) Equity(marks MarkFunc) Money {
	eq, _, _ := a.valuation(marks)
	return eq
}

// Snapshot values the account at marks (nil: last quote midpoints).
// Margin figures use Reg T's 50% initial and a 30% maintenance
// requirement on gross exposure.
func (a *Account) Snapshot(now time.Time, marks MarkFunc) AccountSnapshot {
	eq, long, short := a.valuation(marks)
	gross := satSub(int64(long), int64(short))
	s := AccountSnapshot{
		Cash:              a.cash,
		Equity:            eq,
		LongMarketValue:   long,
		ShortMarketValue:  short,
		InitialMargin:     Money(gross / 2),
		MaintenanceMargin: Money(gross / 10 * 3),
		ReservedForOrders: a.reserved,
		Multiplier:        a.cfg.Multiplier,
		ShortingEnabled:   a.cfg.ShortingEnabled && a.cfg.Multiplier > 1,
		DaytradeCount:     a.daytradeCount(now),
		MarketOpen:        a.phase == phaseOpen,
	}
	s.PatternDayTrader = s.DaytradeCount >= 4
	s.BuyingPower = max(a.buyingPower(marks), 0)
	s.NonMarginableBuyingPower = max(a.cash-a.reserved, 0)
	if a.cfg.Multiplier == 1 {
		s.RegTBuyingPower = s.BuyingPower
		return s
	}
	base := max(Money(satSub(int64(eq), int64(s.InitialMargin))), 0)
	s.RegTBuyingPower = max(Money(satSub(satMul(int64(base), 2), int64(a.reserved))), 0)
	if a.cfg.Multiplier == 4 {
		s.DaytradingBuyingPower = s.BuyingPower
	}
	return s
}

// Activities returns FILL activities as GET /v2/account/activities does:
// strictly after After and before Until, newest first unless Direction is
// asc, one page of PageSize continuing after PageToken.
func (a *Account) Activities(f ActivityFilter) ([]Activity, error) {
	size := f.PageSize
	if size <= 0 || size > 100 {
		size = 100
	}
	var asc bool
	switch f.Direction {
	case "", "desc":
	case "asc":
		asc = true
	default:
		return nil, errf(KindValidation, "invalid direction")
	}
	start := -1
	if f.PageToken != "" {
		_, id, ok := strings.Cut(f.PageToken, "::")
		u, okU := ParseUUID(id)
		if !ok || !okU {
			return nil, errf(KindValidation, "invalid page_token")
		}
		for i := a.nFills - 1; i >= 0; i-- {
			if a.fill(i).exec == u {
				start = i
				break
			}
		}
		if start < 0 {
			return nil, errf(KindValidation, "invalid page_token")
		}
	}
	after, until := Stamp(f.After), Stamp(f.Until)
	keep := func(r *fillRec) bool {
		if r.fee && f.SkipFees || !r.fee && f.SkipFills {
			return false
		}
		return (f.After.IsZero() || r.t > after) && (f.Until.IsZero() || r.t < until)
	}
	var out []Activity
	if asc {
		for i := start + 1; i < a.nFills && len(out) < size; i++ {
			if r := a.fill(i); keep(r) {
				out = append(out, r.activity())
			}
		}
	} else {
		i := a.nFills - 1
		if start >= 0 {
			i = start - 1
		}
		for ; i >= 0 && len(out) < size; i-- {
			if r := a.fill(i); keep(r) {
				out = append(out, r.activity())
			}
		}
	}
	return out, nil
}

// CheckInvariants verifies the account's internal consistency and returns
// the first violation found. It walks every order; it is meant for tests
// and fuzzing, not for the request path.
func (a *Account) CheckInvariants() error {
	var res Money
	n := 0
	for o := a.openHead; o != nil; o = o.next {
		n++
		if !o.open() {
			return errors.New("terminal order " + o.ID.String() + " in open list")
		}
		if o.res < 0 {
			return errors.New("negative reservation")
		}
		res += o.res
		if o.bidx < 0 || o.bidx >= len(o.b.open) || o.b.open[o.bidx] != o {
			return errors.New("book open index broken")
		}
	}
	if n != a.nOpen {
		return errors.New("open count mismatch")
	}
	if res != a.reserved {
		return errors.New("reserved " + a.reserved.String() + " != sum of order reservations " + res.String())
	}
	if a.cfg.Multiplier == 1 && (a.cash < 0 || a.cash-a.reserved < 0) {
		return errors.New("cash account below zero: cash " + a.cash.String() + " reserved " + a.reserved.String())
	}
	for _, o := range a.orders {
		if o.Notional == 0 && o.FilledQty > o.Qty {
			return errors.New("order " + o.ID.String() + " overfilled")
		}
		if o.Status.Terminal() && (o.heap != nil || o.inTrl || o.bidx >= 0 || o.res != 0) {
			return errors.New("terminal order " + o.ID.String() + " still indexed")
		}
	}
	for _, b := range a.books {
		for _, h := range []*orderHeap{&b.buys, &b.sells, &b.buyStops, &b.sellStops} {
			for i, o := range h.s {
				if o.hidx != i || o.heap != h || !o.working() {
					return errors.New("heap entry broken for " + o.ID.String())
				}
				if i > 0 && heapLess(o, h.s[(i-1)/2]) {
					return errors.New("heap order broken")
				}
			}
		}
		for i, o := range b.trailing {
			if o.hidx != i || !o.inTrl || !o.working() {
				return errors.New("trailing entry broken")
			}
		}
		if (b.pos == 0) != (b.posIdx < 0) || b.pos == 0 && b.avg != 0 {
			return errors.New("position index broken for " + b.symbol)
		}
		if b.pos > MaxPositionQty || b.pos < -MaxPositionQty {
			return errors.New("position too large")
		}
		if b.pos > 0 && b.held(Sell, nil) > b.pos || b.pos < 0 && b.held(Buy, nil) > -b.pos {
			return errors.New("more held for closing orders than the position in " + b.symbol)
		}
	}
	return nil
}
