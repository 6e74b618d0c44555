package match

import (
	"time"

	"github.com/shopspring/decimal"
)

// maxSymbolLen bounds symbols so a hostile request cannot make map keys
// of arbitrary size; real symbols (incl. "SYM:EXCHANGE:CLASS") are short.
const maxSymbolLen = 64

const cent = PriceScale / 100

// spec is a parsed, self-consistent order description.
type spec struct {
	symbol   string
	side     Side
	typ      OrderType
	tif      TimeInForce
	class    OrderClass
	intent   PositionIntent
	qty      Qty
	notional Money
	limit    Price
	stop     Price
	trailPx  Price
	trailPct Percent
	ext      bool
	cid      string
	tp       Price
	slStop   Price
	slLimit  Price
}

func (s *spec) fractional() bool { return s.notional > 0 || !s.qty.IsWhole() }

func (s *spec) multiLeg() bool { return s.class == Bracket || s.class == OCO || s.class == OTO }

// checked is what the business checks work out for an order.
type checked struct {
	closing  bool
	res      Money
	resPrice Price
	estQty   Qty
}

// Submit validates and places an order (POST /v2/orders). It returns the
// order as it stands after placement (a marketable order may already be
// filled), with its legs for multi-leg classes. Nothing is created when
// an error is returned.
func (a *Account) Submit(now time.Time, req *OrderRequest, ev []Event) (Order, []Event, error) {
	var s spec
	if err := parseRequest(req, &s); err != nil {
		return Order{}, ev, err
	}
	o, ev, err := a.place(now, &s, ev)
	if err != nil {
		return Order{}, ev, err
	}
	return a.view(o, true), ev, nil
}

func parseRequest(r *OrderRequest, s *spec) *Error {
	if r == nil {
		return errf(KindValidation, "request body format is invalid")
	}
	if r.Symbol == "" {
		return errf(KindValidation, "symbol is required")
	}
	if len(r.Symbol) > maxSymbolLen {
		return errf(KindValidation, "invalid symbol")
	}
	s.symbol = r.Symbol
	switch r.Side {
	case Buy, Sell:
	case "":
		return errf(KindValidation, "side is required")
	default:
		return errf(KindValidation, "invalid side")
	}
	switch r.Type {
	case Market, Limit, Stop, StopLimit, TrailingStop:
	case "":
		return errf(KindValidation, "order type is required")
	default:
		return errf(KindValidation, "invalid order type")
	}
	switch r.TimeInForce {
	case Day, GTC, OPG, CLS, IOC, FOK:
	case "":
		return errf(KindValidation, "time_in_force is required")
	default:
		return errf(KindValidation, "invalid time_in_force")
	}
	switch r.OrderClass {
	case "", Simple, Bracket, OCO, OTO:
	default:
		return errf(KindValidation, "invalid order class")
	}
	switch r.PositionIntent {
	case "", BuyToOpen, BuyToClose, SellToOpen, SellToClose:
	default:
		return errf(KindValidation, "invalid position_intent")
	}
	s.side, s.typ, s.tif, s.class, s.intent = r.Side, r.Type, r.TimeInForce, r.OrderClass, r.PositionIntent
	s.ext, s.cid = r.ExtendedHours, r.ClientOrderID

	var err *Error
	switch {
	case r.Qty == nil && r.Notional == nil:
		return errf(KindValidation, "qty or notional is required")
	case r.Qty != nil && r.Notional != nil:
		return errf(KindValidation, "only one of qty or notional may be specified")
	case r.Qty != nil:
		if s.qty, err = qtyField("qty", r.Qty); err != nil {
			return err
		}
	default:
		if s.notional, err = notionalField(r.Notional); err != nil {
			return err
		}
	}

	// Prices that do not apply to the order type are ignored, as the Go
	// SDK sends every field (null or not) on every request.
	if s.typ == Limit || s.typ == StopLimit {
		if r.LimitPrice == nil && !(s.class == OCO && r.TakeProfit != nil) {
			return errf(KindValidation, "limit_price is required for "+string(s.typ)+" orders")
		}
		if r.LimitPrice != nil {
			if s.limit, err = priceField("limit_price", r.LimitPrice); err != nil {
				return err
			}
		}
	}
	if s.typ == Stop || s.typ == StopLimit {
		if r.StopPrice == nil {
			return errf(KindValidation, "stop_price is required for "+string(s.typ)+" orders")
		}
		if s.stop, err = priceField("stop_price", r.StopPrice); err != nil {
			return err
		}
	}
	if s.typ == TrailingStop {
		switch {
		case r.TrailPrice == nil && r.TrailPercent == nil:
			return errf(KindValidation, "trail_price or trail_percent is required for trailing_stop orders")
		case r.TrailPrice != nil && r.TrailPercent != nil:
			return errf(KindValidation, "only one of trail_price or trail_percent may be specified")
		case r.TrailPrice != nil:
			if s.trailPx, err = priceField("trail_price", r.TrailPrice); err != nil {
				return err
			}
		default:
			if s.trailPct, err = percentField(r.TrailPercent); err != nil {
				return err
			}
		}
	}

	if err := s.checkTIF(); err != nil {
		return err
	}
	if s.multiLeg() {
		return s.parseLegs(r)
	}
	return nil
}

// checkTIF applies Alpaca's order type × time-in-force matrix.
func (s *spec) checkTIF() *Error {
	if s.ext && (s.typ != Limit || s.tif != Day) {
		return errf(KindUnprocessable, "extended hours order must be DAY limit orders")
	}
	if s.typ == TrailingStop && s.tif != Day && s.tif != GTC {
		return errf(KindUnprocessable, "trailing_stop orders must be day or gtc orders")
	}
	switch s.tif {
	case OPG, CLS, IOC, FOK:
		if s.typ != Market && s.typ != Limit {
			return errf(KindUnprocessable, string(s.tif)+" orders must be market or limit orders")
		}
		if s.multiLeg() {
			return errf(KindUnprocessable, string(s.tif)+" is not supported for "+string(s.class)+" orders")
		}
	}
	if s.notional > 0 {
		if s.typ != Market {
			return errf(KindUnprocessable, "notional orders must be market orders")
		}
		if s.tif != Day {
			return errf(KindUnprocessable, "notional orders must be day orders")
		}
		if s.ext || s.multiLeg() {
			return errf(KindUnprocessable, "notional orders must be simple orders without extended hours")
		}
	} else if !s.qty.IsWhole() {
		if s.tif != Day {
			return errf(KindUnprocessable, "fractional orders must be day orders")
		}
		if s.typ == TrailingStop || s.multiLeg() {
			return errf(KindUnprocessable, "fractional orders must be simple market, limit, stop or stop_limit orders")
		}
	}
	return nil
}

func (s *spec) parseLegs(r *OrderRequest) *Error {
	var err *Error
	cls := string(s.class)
	if s.tif != Day && s.tif != GTC {
		return errf(KindUnprocessable, cls+" orders must be day or gtc orders")
	}
	if s.ext {
		return errf(KindUnprocessable, cls+" orders cannot be extended hours orders")
	}
	if s.typ == TrailingStop {
		return errf(KindUnprocessable, cls+" orders cannot be trailing_stop orders")
	}
	hasTP := r.TakeProfit != nil && r.TakeProfit.LimitPrice != nil
	hasSL := r.StopLoss != nil && r.StopLoss.StopPrice != nil
	switch s.class {
	case OCO:
		if s.typ != Limit {
			return errf(KindValidation, "oco orders must be limit orders")
		}
		fallthrough
	case Bracket:
		if !hasTP {
			return errf(KindUnprocessable, cls+" orders require take_profit.limit_price")
		}
		if !hasSL {
			return errf(KindUnprocessable, cls+" orders require stop_loss.stop_price")
		}
	case OTO:
		if hasTP == hasSL {
			return errf(KindUnprocessable, "oto orders require exactly one of take_profit or stop_loss")
		}
	}
	if hasTP {
		if s.tp, err = priceField("take_profit.limit_price", r.TakeProfit.LimitPrice); err != nil {
			return err
		}
	}
	if hasSL {
		if s.slStop, err = priceField("stop_loss.stop_price", r.StopLoss.StopPrice); err != nil {
			return err
		}
		if r.StopLoss.LimitPrice != nil {
			if s.slLimit, err = priceField("stop_loss.limit_price", r.StopLoss.LimitPrice); err != nil {
				return err
			}
		}
	}
	if s.class == OCO {
		// The OCO parent is the take-profit limit order itself.
		s.limit = s.tp
		// Both legs exit on the order's side: a sell OCO takes profit above
		// and stops out below.
		if s.side == Sell && s.tp < s.slStop+cent {
			return errf(KindUnprocessable, "stop_loss.stop_price must be <= take_profit.limit_price - 0.01")
		}
		if s.side == Buy && s.tp > s.slStop-cent {
			return errf(KindUnprocessable, "stop_loss.stop_price must be >= take_profit.limit_price + 0.01")
		}
		return nil
	}
	if hasTP && hasSL {
		if s.side == Buy && s.tp <= s.slStop {
			return errf(KindUnprocessable, "take_profit.limit_price must be > stop_loss.stop_price")
		}
		if s.side == Sell && s.tp >= s.slStop {
			return errf(KindUnprocessable, "take_profit.limit_price must be < stop_loss.stop_price")
		}
	}
	return nil
}

func subPennyErr(name string, d *decimal.Decimal) *Error {
	return errf(KindUnprocessable, "invalid "+name+" "+d.String()+". sub-penny increment does not fulfill minimum pricing criteria")
}

func priceField(name string, d *decimal.Decimal) (Price, *Error) {
	v, c := fromDecimal(*d, 4, int64(MaxPrice))
	switch {
	case d.Sign() <= 0:
		return 0, errf(KindValidation, name+" must be > 0")
	case c == convRange:
		return 0, errf(KindValidation, name+" must be <= 10000000")
	case c == convPrecision || subPenny(Price(v)):
		return 0, subPennyErr(name, d)
	}
	return Price(v), nil
}

func qtyField(name string, d *decimal.Decimal) (Qty, *Error) {
	v, c := fromDecimal(*d, 9, int64(MaxOrderQty))
	switch {
	case d.Sign() <= 0:
		return 0, errf(KindValidation, name+" must be > 0")
	case c == convRange:
		return 0, errf(KindValidation, name+" must be <= 1000000000")
	case c == convPrecision:
		return 0, errf(KindValidation, name+" must have at most 9 decimal places")
	}
	return Qty(v), nil
}

func notionalField(d *decimal.Decimal) (Money, *Error) {
	v, c := fromDecimal(*d, 2, int64(MaxNotional))
	switch {
	case d.Sign() <= 0:
		return 0, errf(KindValidation, "notional must be > 0")
	case c == convRange:
		return 0, errf(KindValidation, "notional must be <= 1000000000000")
	case c == convPrecision:
		return 0, errf(KindValidation, "notional must have at most 2 decimal places")
	case Money(v) < MoneyScale:
		return 0, errf(KindForbidden, "cost basis must be >= 1")
	}
	return Money(v), nil
}

func percentField(d *decimal.Decimal) (Percent, *Error) {
	v, c := fromDecimal(*d, 4, 100*PercentScale)
	switch {
	case d.Sign() <= 0 || c == convRange || v >= 100*PercentScale:
		return 0, errf(KindValidation, "trail_percent must be > 0 and < 100")
	case c == convPrecision:
		return 0, errf(KindValidation, "trail_percent must have at most 4 decimal places")
	}
	return Percent(v), nil
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
	if err := s.checkTIF(); err != nil {
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
