package match

import "github.com/shopspring/decimal"

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

	return nil
}

// checkKind applies the rules that depend on the asset: Alpaca's order
// type × time-in-force matrix for equities, the crypto rules for a pair,
// then the legs of a multi-leg order. It runs after the asset is known,
// so that a crypto order is judged as one.
func (s *spec) checkKind(r *OrderRequest, as Asset) *Error {
	if as.Crypto {
		if err := s.checkCrypto(as); err != nil {
			return err
		}
	} else if err := s.checkTIF(); err != nil {
		return err
	}
	if s.multiLeg() {
		return s.parseLegs(r)
	}
	return nil
}

// checkCrypto applies Alpaca's crypto order rules: market, limit and
// stop_limit orders, gtc or ioc, simple, fractional qty or notional
// (market only), and quantities of at least the pair's minimum order
// size in steps of its minimum trade increment.
func (s *spec) checkCrypto(as Asset) *Error {
	switch s.typ {
	case Market, Limit, StopLimit:
	default:
		return errf(KindUnprocessable, "invalid order type for crypto order")
	}
	if s.tif != GTC && s.tif != IOC {
		return errf(KindUnprocessable, "invalid crypto time_in_force")
	}
	if s.class != "" && s.class != Simple {
		return errf(KindUnprocessable, "invalid order class for crypto order")
	}
	if s.notional > 0 && s.typ != Market {
		return errf(KindUnprocessable, "notional orders must be market orders")
	}
	if s.qty > 0 {
		if as.MinOrderSize > 0 && s.qty < as.MinOrderSize {
			return errf(KindUnprocessable, "qty must be >= "+as.MinOrderSize.String())
		}
		if as.MinTradeIncrement > 0 && s.qty%as.MinTradeIncrement != 0 {
			return errf(KindUnprocessable, "qty must be a multiple of "+as.MinTradeIncrement.String())
		}
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
