package match

import "time"

// Submit validates and places an order (POST /v2/orders). It returns the
// order as it stands after placement (a marketable order may already be
// filled), with its legs for multi-leg classes. Nothing is created when
// an error is returned.
func (a *Account) Submit(now time.Time, req *OrderRequest, ev []Event) (Order, []Event, error) {
	var s spec
	if err := parseRequest(req, &s); err != nil {
		return Order{}, ev, err
	}
	// The asset comes before the rules that depend on it: a crypto order
	// is judged by the crypto rules, not the fractional ones.
	as, aerr := a.asset(s.symbol)
	if aerr != nil {
		return Order{}, ev, aerr
	}
	if err := s.checkKind(req, as); err != nil {
		return Order{}, ev, err
	}
	o, ev, err := a.place(now, &s, ev)
	if err != nil {
		return Order{}, ev, err
	}
	return a.view(o, true), ev, nil
}

// place runs the account-level checks for a parsed order and creates it
// with its legs.
func (a *Account) place(now time.Time, s *spec, ev []Event) (*order, []Event, *Error) {
	if len(s.cid) > MaxClientOrderIDLen {
		return nil, ev, errf(KindValidation, "client_order_id must be no more than 128 characters")
	}
	if s.cid != "" {
		if a.byClientID(s.cid) != nil {
			return nil, ev, errf(KindDuplicate, "client_order_id must be unique")
		}
	}
	as, err := a.asset(s.symbol)
	if err != nil {
		return nil, ev, err
	}
	if s.fractional() && !as.Fractionable {
		return nil, ev, errf(KindUnprocessable, "asset "+s.symbol+" is not fractionable")
	}
	if !a.cfg.AlwaysOpen {
		if s.tif == OPG && a.phase == phaseOpen {
			return nil, ev, errf(KindUnprocessable, "opg orders are not accepted while the market is open")
		}
		if s.tif == CLS && a.phase == phasePostClose {
			return nil, ev, errf(KindUnprocessable, "cls orders are not accepted after the market close")
		}
	}
	b := a.book(s.symbol)
	b.crypto = as.Crypto
	c, err := a.check(now, b, s, as, nil)
	if err != nil {
		return nil, ev, err
	}

	o := a.newOrder(now, b, s, c)
	a.register(o)
	switch s.class {
	case Bracket, OTO:
		exit := Sell
		if s.side == Sell {
			exit = Buy
		}
		if s.tp > 0 {
			o.legs[0] = a.newLeg(o, exit, Limit, s.tp, 0)
		}
		if s.slStop > 0 {
			typ := Stop
			if s.slLimit > 0 {
				typ = StopLimit
			}
			o.legs[1] = a.newLeg(o, exit, typ, s.slLimit, s.slStop)
		}
	case OCO:
		typ := Stop
		if s.slLimit > 0 {
			typ = StopLimit
		}
		o.legs[1] = a.newLeg(o, s.side, typ, s.slLimit, s.slStop)
		o.legs[1].Status = StatusAccepted
	}
	ev = a.start(now, o, ev)
	if l := o.legs[1]; s.class == OCO && l.Status == StatusAccepted {
		ev = a.start(now, l, ev)
	}
	return o, ev, nil
}

// setClientID gives o the caller's client order id or generates one. A
// generated id encodes o's sequence number like order ids do, so it can
// be found without being stored in byCID.
func (a *Account) setClientID(o *order, cid string) {
	if cid != "" {
		o.ClientOrderID = cid
		return
	}
	o.ClientOrderID = a.cids.make(&a.src, o.seq).String()
	o.cidGen = true
	if _, taken := a.byCID[o.ClientOrderID]; taken {
		// Someone chose this exact UUID as their own id: fall back to a
		// random one kept in byCID.
		o.cidGen = false
		for taken {
			o.ClientOrderID = newUUID(&a.src).String()
			_, taken = a.byCID[o.ClientOrderID]
		}
	}
}

// byClientID finds an order by client order id, given or generated.
func (a *Account) byClientID(cid string) *order {
	if o := a.byCID[cid]; o != nil {
		return o
	}
	if u, ok := ParseUUID(cid); ok {
		if s := a.cids.seq(u); s >= 0 && s < len(a.orders) {
			if o := a.orders[s]; o.cidGen && o.ClientOrderID == cid {
				return o
			}
		}
	}
	return nil
}

func (a *Account) newOrder(now time.Time, b *book, s *spec, c checked) *order {
	o := a.alloc()
	o.seq = len(a.orders)
	o.ID = a.ids.make(&a.src, o.seq)
	a.setClientID(o, s.cid)
	o.b = b
	o.Symbol = b.symbol
	o.Side, o.Type, o.TimeInForce, o.Class = s.side, s.typ, s.tif, s.class
	o.Status = StatusAccepted
	o.ExtendedHours = s.ext
	o.Qty, o.Notional = s.qty, s.notional
	o.LimitPrice, o.StopPrice = s.limit, s.stop
	o.TrailPrice, o.TrailPercent = s.trailPx, s.trailPct
	ts := Stamp(now)
	o.CreatedAt, o.UpdatedAt, o.SubmittedAt = ts, ts, ts
	if s.tif == GTC {
		o.ExpiresAt = Stamp(now.Add(GTCLifetime))
	}
	o.closing, o.res, o.resPrice, o.estQty = c.closing, c.res, c.resPrice, c.estQty
	o.PositionIntent = s.intent
	if o.PositionIntent == "" {
		o.PositionIntent = intent(s.side, c.closing)
	}
	return o
}

func intent(side Side, closing bool) PositionIntent {
	switch {
	case side == Buy && closing:
		return BuyToClose
	case side == Buy:
		return BuyToOpen
	case closing:
		return SellToClose
	}
	return SellToOpen
}

// newLeg creates an exit leg; legs are held until their parent fills
// (except the OCO stop-loss, which works at once).
func (a *Account) newLeg(p *order, side Side, typ OrderType, limit, stop Price) *order {
	l := a.alloc()
	l.seq = len(a.orders)
	l.ID = a.ids.make(&a.src, l.seq)
	a.setClientID(l, "")
	l.b = p.b
	l.parent = p
	l.ParentID = p.ID
	l.Symbol = p.Symbol
	l.Side, l.Type, l.TimeInForce, l.Class = side, typ, p.TimeInForce, p.Class
	l.Status = StatusHeld
	l.Qty = p.Qty
	l.LimitPrice, l.StopPrice = limit, stop
	l.CreatedAt, l.UpdatedAt, l.SubmittedAt, l.ExpiresAt = p.CreatedAt, p.CreatedAt, p.CreatedAt, p.ExpiresAt
	l.closing = true
	l.PositionIntent = intent(side, true)
	a.register(l)
	return l
}
