package match

import "time"

// checked is what the business checks work out for an order.
type checked struct {
	closing  bool
	res      Money
	resPrice Price
	estQty   Qty
}

func (a *Account) asset(symbol string) (Asset, *Error) {
	if a.cfg.Asset == nil {
		return Asset{Tradable: true, Fractionable: true, Shortable: true, EasyToBorrow: true}, nil
	}
	as, ok := a.cfg.Asset(symbol)
	if !ok {
		return as, errf(KindValidation, `could not find asset "`+symbol+`"`)
	}
	if !as.Tradable {
		return as, errf(KindUnprocessable, "asset "+symbol+" is not tradable")
	}
	return as, nil
}

// check runs the position, shorting, PDT and buying-power rules. except
// is the order being replaced, whose holds and reservation do not count.
func (a *Account) check(now time.Time, b *book, s *spec, as Asset, except *order) (checked, *Error) {
	var c checked
	q := b.quote
	qty := s.qty
	if s.notional > 0 {
		px := q.Ask
		if s.side == Sell {
			px = q.Bid
		}
		if px <= 0 {
			return c, errNoQuote(b.symbol)
		}
		v, ok := mulDiv(uint64(s.notional), QtyScale*PriceScale/MoneyScale, uint64(px), false)
		if !ok || Qty(v) > MaxOrderQty {
			v = int64(MaxOrderQty)
		}
		qty, c.estQty = Qty(v), Qty(v)
	}
	if s.class == Bracket || s.class == OTO {
		if err := s.checkBase(q); err != nil {
			return c, err
		}
	}

	pos := b.pos
	if s.side == Buy {
		if pos < 0 {
			c.closing = true
			if held := b.held(Buy, except); qty > -pos-held {
				return c, errInsufficientQty(b.symbol, qty, -pos, held)
			}
		} else if pos == 0 && b.pendingOpen(Sell, except) > 0 {
			return c, errf(KindForbidden, "cannot open a long buy while a short sell order is open")
		}
	} else {
		if pos > 0 {
			c.closing = true
			if held := b.held(Sell, except); qty > pos-held {
				return c, errInsufficientQty(b.symbol, qty, pos, held)
			}
		} else {
			switch {
			case a.cfg.Multiplier == 1:
				// A cash account cannot short; Alpaca words it as a lack
				// of shares.
				return c, errInsufficientQty(b.symbol, qty, 0, 0)
			case !a.cfg.ShortingEnabled:
				return c, errf(KindForbidden, "account is not allowed to short")
			case !as.Shortable || !as.EasyToBorrow:
				return c, errf(KindForbidden, "asset "+b.symbol+" cannot be sold short")
			case s.fractional():
				return c, errf(KindForbidden, "fractional orders cannot be sold short")
			case pos == 0 && b.pendingOpen(Buy, except) > 0:
				return c, errf(KindForbidden, "cannot open a short sell while a long buy order is open")
			}
		}
	}
	if s.class == OCO && !c.closing {
		return c, errInsufficientQty(b.symbol, qty, 0, 0)
	}
	if !c.closing {
		var mag Qty
		if s.side == Buy {
			mag = pos
		} else {
			mag = -pos
		}
		if mag+b.pendingOpen(s.side, except)+qty > MaxPositionQty {
			return c, errf(KindUnprocessable, "order would exceed the maximum position size")
		}
	}

	if c.closing && !a.cfg.DisablePDT && b.openDay == a.day(now) && a.daytradeCount(now) >= 3 {
		if eq, _, _ := a.valuation(nil); eq < PDTEquityThreshold {
			return c, errf(KindForbidden, "trade denied due to pattern day trading protection")
		}
	}
	if c.closing {
		return c, nil
	}

	if s.notional > 0 {
		c.res = s.notional // notional sells are always closing: no shorts
	} else {
		rp, err := s.reservePrice(b)
		if err != nil {
			return c, err
		}
		c.resPrice = rp
		c.res = Money(mulDivSat(int64(qty), int64(rp), QtyScale*PriceScale/MoneyScale, true))
	}
	bp := a.buyingPower(nil)
	if as.Crypto {
		// Crypto is bought with cash only, never on margin.
		bp = max(a.cash-a.reserved, 0)
	}
	if except != nil {
		bp += except.res
	}
	if c.res > bp {
		return c, errBuyingPower(bp, c.res)
	}
	return c, nil
}

// collarShort is the price a short sale is valued at for buying power:
// 3% above the ask (Alpaca checks market shorts at 102.5-104%).
func collarShort(q Quote) Price {
	ref := q.Ask
	if ref <= 0 {
		ref = q.Bid
	}
	return Price(mulDivSat(int64(ref), 103, 100, true))
}

func errNoQuote(symbol string) *Error {
	return errf(KindUnprocessable, "no quote available for "+symbol)
}

// reservePrice is the per-share price an opening order's buying power is
// held at; for buys it is also the highest price the order may pay.
func (s *spec) reservePrice(b *book) (Price, *Error) {
	q := b.quote
	if s.side == Buy {
		switch s.typ {
		case Limit, StopLimit:
			return s.limit, nil
		case Stop:
			return collar(s.stop), nil
		case TrailingStop:
			if q.Ask <= 0 {
				return 0, errNoQuote(b.symbol)
			}
			return collar(trailStop(Buy, q.Ask, s.trailPx, s.trailPct)), nil
		default:
			if q.Ask <= 0 {
				return 0, errNoQuote(b.symbol)
			}
			return collar(q.Ask), nil
		}
	}
	base := collarShort(q)
	switch s.typ {
	case Limit, StopLimit:
		return max(s.limit, base), nil
	case Stop:
		return max(s.stop, base), nil
	}
	if base <= 0 {
		return 0, errNoQuote(b.symbol)
	}
	return base, nil
}

// checkBase applies the bracket/OTO rule that exits sit at least a cent
// beyond the entry's base price: its limit, its stop, or the market.
func (s *spec) checkBase(q Quote) *Error {
	var base Price
	switch s.typ {
	case Limit, StopLimit:
		base = s.limit
	case Stop:
		base = s.stop
	default:
		base = q.Ask
		if s.side == Sell {
			base = q.Bid
		}
	}
	if base <= 0 {
		return nil
	}
	if s.side == Buy {
		if s.tp > 0 && s.tp < base+cent {
			return errf(KindUnprocessable, "take_profit.limit_price must be >= base_price + 0.01")
		}
		if s.slStop > 0 && s.slStop > base-cent {
			return errf(KindUnprocessable, "stop_loss.stop_price must be <= base_price - 0.01")
		}
		return nil
	}
	if s.tp > 0 && s.tp > base-cent {
		return errf(KindUnprocessable, "take_profit.limit_price must be <= base_price - 0.01")
	}
	if s.slStop > 0 && s.slStop < base+cent {
		return errf(KindUnprocessable, "stop_loss.stop_price must be >= base_price + 0.01")
	}
	return nil
}
