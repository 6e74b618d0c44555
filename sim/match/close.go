package match

import (
	"time"

	"github.com/shopspring/decimal"
)

// ClosePosition liquidates all or part of a position with a market day
// order (DELETE /v2/positions/{symbol}). At most one of qty and percentage
// may be given; neither means the whole position. A percentage of a
// whole-share position is rounded down to whole shares.
func (a *Account) ClosePosition(now time.Time, symbol string, qty, percentage *decimal.Decimal, ev []Event) (Order, []Event, error) {
	b := a.books[symbol]
	if b == nil || b.pos == 0 {
		return Order{}, ev, errf(KindNotFound, "position does not exist")
	}
	size := b.pos
	side := Sell
	if size < 0 {
		size, side = -size, Buy
	}
	q := size
	switch {
	case qty != nil && percentage != nil:
		return Order{}, ev, errf(KindValidation, "only one of qty or percentage may be specified")
	case qty != nil:
		var err *Error
		if q, err = qtyField("qty", qty); err != nil {
			return Order{}, ev, err
		}
	case percentage != nil:
		pct, c := fromDecimal(*percentage, 9, 100*QtyScale)
		if percentage.Sign() <= 0 || c != convOK {
			return Order{}, ev, errf(KindValidation, "percentage must be > 0 and <= 100 with at most 9 decimal places")
		}
		q = Qty(mulDivSat(int64(size), pct, 100*QtyScale, false))
		if size.IsWhole() {
			q -= q % QtyScale
		}
		if q == 0 {
			return Order{}, ev, errf(KindUnprocessable, "qty must be > 0")
		}
	}
	s := spec{symbol: symbol, side: side, typ: Market, tif: Day, qty: q}
	if b := a.books[symbol]; b != nil && b.crypto {
		s.tif = GTC // crypto takes no day orders
	}
	o, ev, err := a.place(now, &s, ev)
	if err != nil {
		return Order{}, ev, err
	}
	return a.view(o, false), ev, nil
}

// CloseAll closes every position (DELETE /v2/positions), first canceling
// all open orders when cancelOrders is set. Results are sorted by symbol.
func (a *Account) CloseAll(now time.Time, cancelOrders bool, ev []Event) ([]CloseResult, []Event) {
	if cancelOrders {
		_, ev = a.CancelAll(now, ev)
	}
	syms := a.positionSymbols()
	res := make([]CloseResult, 0, len(syms))
	for _, sym := range syms {
		o, ev2, err := a.ClosePosition(now, sym, nil, nil, ev)
		ev = ev2
		r := CloseResult{Symbol: sym, Order: o}
		if err != nil {
			r.Err = err.(*Error)
		}
		res = append(res, r)
	}
	return res, ev
}
