package sim

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/quantum-alpaca/quantum/alpaca"
	"github.com/quantum-alpaca/quantum/sim/match"
)

// orderBody is POST /v2/orders as clients send it: the documented fields,
// plus fields that SDKs send and the simulator does not model (multi-leg
// options, routing instructions), accepted and ignored rather than refused
// as unknown.
type orderBody struct {
	alpaca.OrderRequest
	Legs                 json.RawMessage `json:"legs"`
	AdvancedInstructions json.RawMessage `json:"advanced_instructions"`
	Subtag               json.RawMessage `json:"subtag"`
	Source               json.RawMessage `json:"source"`
}

// writeMatchErr answers with the engine's verdict: its kind fixes the HTTP
// status and Alpaca code, its fields are Alpaca's extra context fields.
func writeMatchErr(w http.ResponseWriter, err error) {
	var me *match.Error
	if errors.As(err, &me) {
		writeError(w, me.HTTPStatus(), me.Code(), me.Message, me.Fields)
		return
	}
	writeError(w, http.StatusInternalServerError, codeInternal, "internal server error occurred", nil)
}

// marks values positions at the quote midpoint, Alpaca's basis for
// market value between trades.
func (s *Server) marks(symbol string) (match.Price, bool) {
	mq, ok := s.quote(symbol)
	if !ok {
		return 0, false
	}
	if mq.Bid == 0 || mq.Ask == 0 {
		return mq.Bid + mq.Ask, mq.Bid+mq.Ask != 0
	}
	return (mq.Bid + mq.Ask) / 2, true
}

// refresh gives the engine the market's current quote of symbol, which
// also lets resting orders of that symbol fill before a new order is
// judged. The caller holds a.mu.
func (s *Server) refresh(a *account, now time.Time, symbol string) {
	if q, ok := s.quote(symbol); ok {
		a.evbuf = a.eng.OnQuote(now, symbol, q, a.evbuf)
	}
}

func (s *Server) postOrder(w http.ResponseWriter, r *http.Request, a *account) {
	var body orderBody
	if !readBody(w, r, func(b []byte) error { return decodeOrderBody(b, &body) }) {
		return
	}
	req := toMatchRequest(&body.OrderRequest)
	if p, ok := s.crypto.lookup(req.Symbol); ok {
		// Orders and positions carry the pair form, BTC/USD, whichever
		// form the order named.
		req.Symbol = p.symbol()
		if p.quote != "USD" {
			writeError(w, http.StatusUnprocessableEntity, codeUnprocessable,
				"the simulator trades crypto pairs quoted in USD only", nil)
			return
		}
	}
	a.mu.Lock()
	if a.config.SuspendTrade {
		a.mu.Unlock()
		writeError(w, http.StatusForbidden, codeForbidden, "trading is suspended for this account by the user", nil)
		return
	}
	s.placeLocked(w, a, req.Symbol, func(now time.Time) (match.Order, []match.Event, error) {
		return a.eng.Submit(now, &req, a.evbuf)
	})
}

// placeLocked runs an operation that creates an order, with a.mu held and
// released here: it stamps the time, shows the engine the symbol's
// current quote first, publishes the events, keeps a working order
// meeting future quotes, and answers with the order or the error.
func (s *Server) placeLocked(w http.ResponseWriter, a *account, symbol string, op func(now time.Time) (match.Order, []match.Event, error)) {
	now := a.clock(s.now())
	if symbol != "" {
		s.refresh(a, now, symbol)
	}
	o, ev, err := op(now)
	a.publish(s, ev)
	if err == nil {
		s.watch(a, o.Symbol, &o)
	}
	a.mu.Unlock()
	if err != nil {
		writeMatchErr(w, err)
		return
	}
	writeOrder(w, &o)
}

func (s *Server) getOrder(w http.ResponseWriter, r *http.Request, a *account) {
	nested := r.URL.Query().Get("nested") == "true"
	a.mu.Lock()
	o, err := a.eng.Order(r.PathValue("id"), nested)
	a.mu.Unlock()
	if err != nil {
		writeMatchErr(w, err)
		return
	}
	writeOrder(w, &o)
}

func (s *Server) getOrderByClientID(w http.ResponseWriter, r *http.Request, a *account) {
	cid := r.URL.Query().Get("client_order_id")
	if cid == "" {
		invalid(w, "client_order_id is required")
		return
	}
	a.mu.Lock()
	o, err := a.eng.OrderByClientID(cid, r.URL.Query().Get("nested") == "true")
	a.mu.Unlock()
	if err != nil {
		writeMatchErr(w, err)
		return
	}
	writeOrder(w, &o)
}

func (s *Server) listOrders(w http.ResponseWriter, r *http.Request, a *account) {
	q := r.URL.Query()
	f := match.OrderFilter{
		Status:    q.Get("status"),
		Direction: q.Get("direction"),
		Side:      match.Side(q.Get("side")),
		Nested:    q.Get("nested") == "true",
	}
	switch f.Status {
	case "", "open", "closed", "all":
	default:
		invalid(w, "invalid status: must be open, closed or all")
		return
	}
	switch f.Direction {
	case "", "asc", "desc":
	default:
		invalid(w, "invalid direction: must be asc or desc")
		return
	}
	switch f.Side {
	case "", match.Buy, match.Sell:
	default:
		invalid(w, "invalid side: must be buy or sell")
		return
	}
	var ok bool
	if f.Limit, ok = queryInt(w, q, "limit", 1, 500); !ok {
		return
	}
	if f.After, f.Until, ok = queryWindow(w, q); !ok {
		return
	}
	if v := q.Get("symbols"); v != "" {
		// Orders carry a crypto pair's slash form; Alpaca finds them by
		// either form (BTC/USD or BTCUSD), as positions are found.
		f.Symbols = strings.Split(v, ",")
		for i, sym := range f.Symbols {
			if p, ok := s.crypto.lookup(strings.TrimSpace(sym)); ok {
				f.Symbols[i] = p.symbol()
			}
		}
	}
	a.mu.Lock()
	orders, err := a.eng.Orders(f)
	a.mu.Unlock()
	if err != nil {
		writeMatchErr(w, err)
		return
	}
	buf := orderBufPool.Get().(*[]byte)
	b := append((*buf)[:0], '[')
	for i := range orders {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendOrder(b, &orders[i])
	}
	b = append(b, "]\n"...)
	writeRaw(w, http.StatusOK, b)
	*buf = b
	orderBufPool.Put(buf)
}

// queryInt parses an optional integer parameter in [lo, hi]; absent is 0,
// which the engine reads as its default.
func queryInt(w http.ResponseWriter, q url.Values, name string, lo, hi int) (int, bool) {
	v := q.Get(name)
	if v == "" {
		return 0, true
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		invalid(w, fmt.Sprintf("invalid %s: must be an integer from %d to %d", name, lo, hi))
		return 0, false
	}
	return n, true
}

// queryWindow parses the optional after and until parameters.
func queryWindow(w http.ResponseWriter, q url.Values) (after, until time.Time, ok bool) {
	if after, ok = queryTime(w, q.Get("after"), "after"); !ok {
		return
	}
	until, ok = queryTime(w, q.Get("until"), "until")
	return
}

// queryTime parses an optional RFC 3339 time or date parameter.
func queryTime(w http.ResponseWriter, v, name string) (time.Time, bool) {
	if v == "" {
		return time.Time{}, true
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t, true
	}
	if t, err := time.ParseInLocation("2006-01-02", v, newYork); err == nil {
		return t, true
	}
	invalid(w, "invalid "+name+": expected an RFC 3339 time or YYYY-MM-DD")
	return time.Time{}, false
}

func (s *Server) replaceOrder(w http.ResponseWriter, r *http.Request, a *account) {
	var body alpaca.ReplaceRequest
	if !decodeBody(w, r, &body) {
		return
	}
	req := match.ReplaceRequest{
		Qty:           body.Qty,
		TimeInForce:   match.TimeInForce(body.TimeInForce),
		LimitPrice:    body.LimitPrice,
		StopPrice:     body.StopPrice,
		Trail:         body.Trail,
		ClientOrderID: body.ClientOrderID,
	}
	a.mu.Lock()
	s.placeLocked(w, a, "", func(now time.Time) (match.Order, []match.Event, error) {
		return a.eng.Replace(now, r.PathValue("id"), &req, a.evbuf)
	})
}

func (s *Server) cancelOrder(w http.ResponseWriter, r *http.Request, a *account) {
	a.mu.Lock()
	now := a.clock(s.now())
	ev, err := a.eng.Cancel(now, r.PathValue("id"), a.evbuf)
	a.publish(s, ev)
	a.mu.Unlock()
	if err != nil {
		writeMatchErr(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) cancelAllOrders(w http.ResponseWriter, r *http.Request, a *account) {
	a.mu.Lock()
	now := a.clock(s.now())
	res, ev := a.eng.CancelAll(now, a.evbuf)
	a.publish(s, ev)
	a.mu.Unlock()
	out := make([]alpaca.CancelResult, len(res))
	for i, c := range res {
		out[i] = alpaca.CancelResult{ID: c.ID.String(), Status: http.StatusOK}
		if c.Err != nil {
			out[i].Status = c.Err.HTTPStatus()
			out[i].Body = &alpaca.ErrorBody{Code: c.Err.Code(), Message: c.Err.Message}
		}
	}
	writeJSON(w, http.StatusMultiStatus, out)
}

func wirePosition(p *match.Position) alpaca.Position {
	out := alpaca.Position{
		AssetID:         assetIDOf(p.Symbol),
		Symbol:          p.Symbol,
		Exchange:        "",
		AssetClass:      assetClassOf(p.Symbol),
		AssetMarginable: !isCryptoSymbol(p.Symbol),
		Qty:             p.Qty.Decimal(),
		QtyAvailable:    p.QtyAvailable.Decimal(),
		AvgEntryPrice:   p.AvgEntryPrice.Decimal(),
		Side:            p.Side(),
		CostBasis:       p.CostBasis.Decimal(),
	}
	if p.HasMark {
		mv, pl, cur := p.MarketValue.Decimal(), p.UnrealizedPL.Decimal(), p.CurrentPrice.Decimal()
		out.MarketValue, out.UnrealizedPL, out.CurrentPrice = &mv, &pl, &cur
		plpc := decimal.Zero
		if !p.CostBasis.Decimal().IsZero() {
			plpc = pl.Div(p.CostBasis.Decimal().Abs()).Round(6)
		}
		out.UnrealizedPLPC = &plpc
		// The simulator has no previous close per position; intraday P/L is
		// reported as the whole unrealized P/L, change_today as zero.
		ipl, ipc, zero := pl, plpc, decimal.Zero
		out.UnrealizedIntradayPL, out.UnrealizedIntradayPLPC, out.LastdayPrice, out.ChangeToday = &ipl, &ipc, &cur, &zero
	}
	return out
}

func (s *Server) positionExchange(p *alpaca.Position) {
	if isCryptoSymbol(p.Symbol) {
		p.Exchange = cryptoExchange
		return
	}
	if m, ok := s.market.Lookup(p.Symbol); ok {
		p.Exchange = m.Exchange
		p.AssetMarginable = m.Marginable
	}
}

func (s *Server) listPositions(w http.ResponseWriter, r *http.Request, a *account) {
	a.mu.Lock()
	ps := a.eng.Positions(s.marks)
	a.mu.Unlock()
	out := make([]alpaca.Position, len(ps))
	for i := range ps {
		out[i] = wirePosition(&ps[i])
		s.positionExchange(&out[i])
	}
	writeJSON(w, http.StatusOK, out)
}

// symbolOf resolves a path's symbol or asset id to the symbol.
func (s *Server) symbolOf(v string) string {
	if p, ok := s.crypto.lookup(v); ok {
		return p.symbol()
	}
	if m, ok := s.market.Lookup(v); ok {
		return m.Symbol
	}
	return v
}

func (s *Server) getPosition(w http.ResponseWriter, r *http.Request, a *account) {
	sym := s.symbolOf(r.PathValue("symbol"))
	a.mu.Lock()
	p, err := a.eng.Position(sym, s.marks)
	a.mu.Unlock()
	if err != nil {
		writeMatchErr(w, err)
		return
	}
	out := wirePosition(&p)
	s.positionExchange(&out)
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) closePosition(w http.ResponseWriter, r *http.Request, a *account) {
	sym := s.symbolOf(r.PathValue("symbol"))
	q := r.URL.Query()
	var qty, pct *decimal.Decimal
	for _, p := range []struct {
		name string
		dst  **decimal.Decimal
	}{{"qty", &qty}, {"percentage", &pct}} {
		if v := q.Get(p.name); v != "" {
			d, err := decimal.NewFromString(v)
			if err != nil {
				invalid(w, "invalid "+p.name+": not a number")
				return
			}
			*p.dst = &d
		}
	}
	a.mu.Lock()
	s.placeLocked(w, a, sym, func(now time.Time) (match.Order, []match.Event, error) {
		return a.eng.ClosePosition(now, sym, qty, pct, a.evbuf)
	})
}

func (s *Server) closeAllPositions(w http.ResponseWriter, r *http.Request, a *account) {
	cancel := r.URL.Query().Get("cancel_orders") == "true"
	a.mu.Lock()
	now := a.clock(s.now())
	for _, p := range a.eng.Positions(nil) {
		s.refresh(a, now, p.Symbol)
	}
	res, ev := a.eng.CloseAll(now, cancel, a.evbuf)
	a.publish(s, ev)
	for i := range res {
		if res[i].Err == nil {
			s.watch(a, res[i].Order.Symbol, &res[i].Order)
		}
	}
	a.mu.Unlock()
	out := make([]alpaca.CloseResult, len(res))
	for i := range res {
		c := &res[i]
		out[i] = alpaca.CloseResult{Symbol: c.Symbol, Status: http.StatusOK}
		if c.Err != nil {
			body := map[string]any{"code": c.Err.Code(), "message": c.Err.Message}
			for k, v := range c.Err.Fields {
				body[k] = v
			}
			out[i].Status = c.Err.HTTPStatus()
			out[i].Body, _ = json.Marshal(body)
			continue
		}
		out[i].OrderID = c.Order.ID.String()
		out[i].Body, _ = json.Marshal(wireOrder(&c.Order))
	}
	writeJSON(w, http.StatusMultiStatus, out)
}

func (s *Server) getAccount(w http.ResponseWriter, r *http.Request, a *account) {
	a.mu.Lock()
	snap := a.eng.Snapshot(s.now(), s.marks)
	cfg := a.config
	last := a.lastEquity
	a.mu.Unlock()
	d := func(m match.Money) decimal.Decimal { return m.Decimal() }
	writeJSON(w, http.StatusOK, alpaca.Account{
		ID:                    a.id,
		AccountNumber:         a.number,
		Status:                "ACTIVE",
		CryptoStatus:          "ACTIVE", // every simulated account trades crypto
		Currency:              "USD",
		BuyingPower:           d(snap.BuyingPower),
		RegTBuyingPower:       d(snap.RegTBuyingPower),
		DaytradingBuyingPower: d(snap.DaytradingBuyingPower),
		EffectiveBuyingPower:  d(snap.BuyingPower),
		NonMarginBuyingPower:  d(snap.NonMarginableBuyingPower),
		OptionsBuyingPower:    d(snap.NonMarginableBuyingPower),
		BodDtbp:               d(snap.DaytradingBuyingPower),
		Cash:                  d(snap.Cash),
		PortfolioValue:        d(snap.Equity),
		PatternDayTrader:      snap.PatternDayTrader,
		TradingBlocked:        false,
		ShortingEnabled:       snap.ShortingEnabled && !cfg.NoShorting,
		TradeSuspendedByUser:  cfg.SuspendTrade,
		CreatedAt:             a.created,
		Multiplier:            decimal.NewFromInt(int64(snap.Multiplier)),
		Equity:                d(snap.Equity),
		LastEquity:            d(last),
		LongMarketValue:       d(snap.LongMarketValue),
		ShortMarketValue:      d(snap.ShortMarketValue),
		PositionMarketValue:   d(snap.LongMarketValue - snap.ShortMarketValue),
		InitialMargin:         d(snap.InitialMargin),
		MaintenanceMargin:     d(snap.MaintenanceMargin),
		LastMaintenanceMargin: d(snap.MaintenanceMargin),
		SMA:                   d(snap.Equity),
		DaytradeCount:         int64(snap.DaytradeCount),
		BalanceAsOf:           s.now().In(newYork).Format("2006-01-02"),
	})
}

func (s *Server) getActivities(w http.ResponseWriter, r *http.Request, a *account) {
	q := r.URL.Query()
	types := q.Get("activity_types")
	if t := r.PathValue("type"); t != "" {
		types = t
	}
	wantFill, wantCash, wantFee := true, true, true
	if types != "" {
		wantFill, wantCash, wantFee = false, false, false
		for _, t := range strings.Split(types, ",") {
			switch strings.ToUpper(strings.TrimSpace(t)) {
			case "FILL":
				wantFill = true
			case "CSD", "TRANS": // the deposit; JNLC is a journal's, and a Trading API account has none
				wantCash = true
			case "CFEE", "FEE":
				wantFee = true
			}
		}
	}
	switch q.Get("category") {
	case "trade_activity":
		wantCash, wantFee = false, false
	case "non_trade_activity":
		wantFill = false
	}
	f := match.ActivityFilter{Direction: q.Get("direction"), PageToken: q.Get("page_token"), SkipFees: !wantFee}
	if f.Direction != "" && f.Direction != "asc" && f.Direction != "desc" {
		invalid(w, "invalid direction: must be asc or desc")
		return
	}
	var ok bool
	if f.PageSize, ok = queryInt(w, q, "page_size", 1, 100); !ok {
		return
	}
	if f.After, f.Until, ok = queryWindow(w, q); !ok {
		return
	}
	if v := q.Get("date"); v != "" {
		if f.After, f.Until, ok = activityDay(w, v); !ok {
			return
		}
	}
	// The initial deposit is the one cash activity a paper account has and
	// the oldest activity of all: it takes its place in time order, so that
	// page_size and page_token work across it as across fills.
	size := f.PageSize
	if size == 0 {
		size = 100
	}
	asc := f.Direction == "asc"
	depID := a.created.UTC().Format("20060102150405000") + "::" + a.id
	withDep := wantCash && (f.After.IsZero() || a.created.After(f.After)) && (f.Until.IsZero() || a.created.Before(f.Until))
	switch {
	case f.PageToken == depID:
		// Ascending, every fill follows the deposit; descending, nothing does.
		f.PageToken = ""
		withDep = false
		wantFill = wantFill && asc
		wantFee = wantFee && asc
	case f.PageToken != "" && asc:
		withDep = false // it led the first page
	}
	out := []alpaca.Activity{}
	if withDep && asc {
		out = append(out, depositActivity(a, depID))
		withDep = false
	}
	if n := size - len(out); (wantFill || wantFee) && n > 0 {
		f.PageSize = n
		f.SkipFills = !wantFill
		a.mu.Lock()
		acts, err := a.eng.Activities(f)
		a.mu.Unlock()
		if err != nil {
			writeMatchErr(w, err)
			return
		}
		for i := range acts {
			out = append(out, restActivity(&acts[i]))
		}
	}
	if withDep && len(out) < size { // descending, it follows the oldest fill
		out = append(out, depositActivity(a, depID))
	}
	writeJSON(w, http.StatusOK, out)
}

// feeActivity is the CFEE activity of a crypto fill's fee: a buy's fee
// taken in the asset (qty negative, no cash), or a sell's taken in cash.
func feeActivity(act *match.Activity) alpaca.Activity {
	tt := act.Time.Time()
	px := act.Price.Decimal()
	out := alpaca.Activity{
		ID: act.ID(), ActivityType: "CFEE", Date: tt.In(newYork).Format("2006-01-02"),
		Symbol: act.Symbol, Price: &px, Status: "executed", TransactionTime: &tt,
	}
	net, qty := decimal.Zero, decimal.Zero
	if act.Qty > 0 {
		qty = act.Qty.Decimal().Neg()
		out.Description = "Coin Pair Transaction Fee (Non USD)"
	} else {
		net = act.FeeCash.Decimal().Neg()
		out.Description = "Coin Pair Transaction Fee (USD)"
	}
	out.NetAmount, out.Qty = &net, &qty
	return out
}

// depositActivity is the CSD activity of an account's starting cash.
func depositActivity(a *account, id string) alpaca.Activity {
	amt := a.startCash.Decimal()
	return alpaca.Activity{
		ID: id, ActivityType: "CSD",
		Date: a.created.In(newYork).Format("2006-01-02"), NetAmount: &amt,
		Description: "initial paper deposit", Status: "executed",
	}
}
