package web

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/quantum-alpaca/quantum/trading"
)

// The v1 shapes below keep every figure with its source in its name: the
// engine's own counts and working positions, and the broker's account
// figures under "broker" with the time they were read ("as_of"). The
// OpenAPI document (openapi.json) describes each field.

// TenantV1 is a tenant as /api/v1 shows it.
type TenantV1 struct {
	ID        string `json:"id"`
	Strategy  string `json:"strategy"`
	State     string `json:"state"`
	Health    string `json:"health"`
	LastError string `json:"last_error,omitempty"`
	Problem   string `json:"problem,omitempty"`
	Restarts  int    `json:"restarts"`
	// Owner is the engine running the tenant when several share one
	// PostgreSQL journal.
	Owner string `json:"owner,omitempty"`
	// OrdersPlaced is the tenant's lifetime count from the journal; the
	// other counts are this process's.
	OrdersPlaced     int    `json:"orders_placed"`
	OpenOrders       int    `json:"open_orders"`
	Fills            int    `json:"fills"`
	RiskRejections   int    `json:"risk_rejections"`
	BrokerRejections int    `json:"broker_rejections"`
	UnknownOutcomes  int    `json:"unknown_outcomes"`
	LastRiskReason   string `json:"last_risk_reason,omitempty"`
	// EnginePositions is the engine's working position per symbol: the
	// broker's positions at Broker.AsOf plus the fills received since.
	// It is what the risk checks use, and it runs ahead of
	// Broker.Holdings between account reads.
	EnginePositions map[string]string `json:"engine_positions"`
	Broker          BrokerV1          `json:"broker"`
	Risk            Risk              `json:"risk"`
	QuotesDropped   uint64            `json:"quotes_dropped"`
	LastBar         *time.Time        `json:"last_bar,omitempty"`
	BarsDropped     uint64            `json:"bars_dropped"`
	UpdatedAt       time.Time         `json:"updated_at"`
}

// BrokerV1 is what the broker last said about a tenant's account. Every
// figure is as of AsOf; before the first read AsOf and the figures are
// null and Holdings is empty.
type BrokerV1 struct {
	AsOf          *time.Time  `json:"as_of"`
	Equity        *string     `json:"equity"`
	DayPnL        *string     `json:"day_pnl"`
	UnrealizedPnL *string     `json:"unrealized_pnl"`
	Holdings      []HoldingV1 `json:"holdings"`
}

// HoldingV1 is a position as the broker marks it.
type HoldingV1 struct {
	Symbol        string  `json:"symbol"`
	Qty           string  `json:"qty"`
	AvgEntryPrice string  `json:"avg_entry_price"`
	CurrentPrice  *string `json:"current_price"`
	MarketValue   string  `json:"market_value"`
	UnrealizedPL  string  `json:"unrealized_pl"`
}

var one = decimal.NewFromInt(1)

// formatPrice writes a price as Alpaca quotes prices: whole cents from
// $1 up, four decimals below, so that an average such as 272.453999999
// reads 272.45.
func formatPrice(d decimal.Decimal) string {
	if d.Abs().LessThan(one) {
		return d.StringFixed(4)
	}
	return d.StringFixed(2)
}

// priceOrEmpty is formatPrice, or "" for zero (no price).
func priceOrEmpty(d decimal.Decimal) string {
	if d.IsZero() {
		return ""
	}
	return formatPrice(d)
}

func money(d decimal.Decimal) *string {
	s := d.StringFixed(2)
	return &s
}

func toTenantV1(s trading.TenantStatus) TenantV1 {
	pos := make(map[string]string, len(s.Positions))
	for sym, q := range s.Positions {
		pos[sym] = q.String()
	}
	t := TenantV1{
		ID: string(s.ID), Strategy: s.Strategy, State: string(s.State), Health: s.Health,
		LastError: s.LastError, Problem: s.Problem, Restarts: s.Restarts, Owner: s.Owner, OrdersPlaced: s.OrdersPlaced, OpenOrders: s.OpenOrders,
		Fills: s.Fills, RiskRejections: s.RiskRejections, BrokerRejections: s.BrokerRejections, UnknownOutcomes: s.Unknown,
		LastRiskReason: s.LastRiskReason, EnginePositions: pos,
		Broker: BrokerV1{Holdings: []HoldingV1{}},
		Risk: Risk{
			BreakerOpen: s.BreakerOpen, MaxOrderNotional: nz(s.Limits.MaxOrderNotional), MaxPositionQty: nz(s.Limits.MaxPositionQty),
			MaxOpenOrders: s.Limits.MaxOpenOrders, DailyLossLimit: nz(s.Limits.DailyLossLimit),
		},
		QuotesDropped: s.QuotesDropped, BarsDropped: s.BarsDropped, UpdatedAt: s.UpdatedAt,
	}
	if !s.LastBar.IsZero() {
		t.LastBar = &s.LastBar
	}
	if !s.AccountAt.IsZero() {
		at := s.AccountAt
		t.Broker.AsOf = &at
		t.Broker.Equity, t.Broker.DayPnL, t.Broker.UnrealizedPnL = money(s.Equity), money(s.DailyPnL), money(s.UnrealizedPnL)
	}
	for _, h := range s.Holdings {
		hv := HoldingV1{Symbol: h.Symbol, Qty: h.Qty.String(), AvgEntryPrice: formatPrice(h.AvgEntryPrice),
			MarketValue: h.MarketValue.StringFixed(2), UnrealizedPL: h.UnrealizedPL.StringFixed(2)}
		if p, ok := mark(h); ok {
			ps := formatPrice(p)
			hv.CurrentPrice = &ps
		}
		t.Broker.Holdings = append(t.Broker.Holdings, hv)
	}
	return t
}

// mark is the broker's price for a holding: its market value per share.
func mark(h trading.Position) (decimal.Decimal, bool) {
	if h.Qty.IsZero() || h.MarketValue.IsZero() {
		return decimal.Zero, false
	}
	return h.MarketValue.Div(h.Qty).Abs(), true
}

func (a *OpsAPI) tenantsV1(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"tenants": a.snapshotV1()})
}

func (a *OpsAPI) snapshotV1() []TenantV1 {
	list := a.fleet.Statuses()
	out := make([]TenantV1, len(list))
	for i, s := range list {
		out[i] = toTenantV1(s)
	}
	return out
}

func (a *OpsAPI) tenantV1(w http.ResponseWriter, r *http.Request) {
	s, err := a.fleet.Status(trading.TenantID(r.PathValue("id")))
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, toTenantV1(s))
}

// OrderV1 is a journaled order as /api/v1 shows it.
type OrderV1 struct {
	// EventID is the journal event that created the order: the cursor
	// (?after=) that lists the orders after it.
	EventID        uint64    `json:"event_id"`
	ClientOrderID  string    `json:"client_order_id"`
	BrokerOrderID  string    `json:"broker_order_id,omitempty"`
	Seq            uint64    `json:"seq"`
	Symbol         string    `json:"symbol"`
	Side           string    `json:"side"`
	Type           string    `json:"type"`
	TimeInForce    string    `json:"time_in_force,omitempty"`
	Qty            string    `json:"qty,omitempty"`
	Notional       string    `json:"notional,omitempty"`
	LimitPrice     string    `json:"limit_price,omitempty"`
	StopPrice      string    `json:"stop_price,omitempty"`
	Status         string    `json:"status"`
	FilledQty      string    `json:"filled_qty"`
	FilledAvgPrice string    `json:"filled_avg_price,omitempty"`
	Reason         string    `json:"reason,omitempty"`
	Strategy       string    `json:"strategy,omitempty"`
	StrategyReason string    `json:"strategy_reason,omitempty"`
	CreatedAt      time.Time `json:"created_at"`
	UpdatedAt      time.Time `json:"updated_at"`
}

func toOrderV1(eventID uint64, o trading.OrderState) OrderV1 {
	in := o.Intent
	return OrderV1{
		EventID: eventID, ClientOrderID: in.ClientOrderID, BrokerOrderID: o.BrokerOrderID, Seq: in.Seq,
		Symbol: in.Symbol, Side: string(in.Side), Type: string(in.Type), TimeInForce: string(in.TimeInForce),
		Qty: nz(in.Qty), Notional: nz(in.Notional), LimitPrice: priceOrEmpty(in.LimitPrice), StopPrice: priceOrEmpty(in.StopPrice),
		Status: string(o.Status), FilledQty: o.FilledQty.String(), FilledAvgPrice: priceOrEmpty(o.FilledAvgPrice), Reason: o.Reason,
		Strategy: in.Strategy, StrategyReason: in.Reason, CreatedAt: in.CreatedAt, UpdatedAt: o.UpdatedAt,
	}
}

// Paging of the v1 lists: oldest first, after a journal event id.
const (
	v1DefaultLimit = 100
	v1MaxLimit     = 1000
)

// pageQuery reads ?limit and ?after.
func pageQuery(q url.Values) (limit int, after uint64, err error) {
	if limit, err = queryLimit(q, v1DefaultLimit, v1MaxLimit); err != nil {
		return 0, 0, err
	}
	if s := q.Get("after"); s != "" {
		if after, err = strconv.ParseUint(s, 10, 64); err != nil {
			return 0, 0, trading.Errorf(trading.EINVALID, "after must be an event id (a non-negative integer).")
		}
	}
	return limit, after, nil
}

// scanEvents walks the tenant's journal after the event id after, oldest
// first, calling take with each event until it has returned true limit
// times. It reads at most fillsScanPages pages, so a long run of events
// take does not want cannot make one request unbounded. next is the
// cursor for the following page, or nil once the journal's end was read.
func (a *OpsAPI) scanEvents(r *http.Request, id trading.TenantID, after uint64, limit int, take func(trading.Event) (bool, error)) (next *uint64, err error) {
	n := 0
	for range fillsScanPages {
		evs, err := a.j.Events(r.Context(), id, after, fillsPage)
		if err != nil {
			return nil, err
		}
		for _, e := range evs {
			after = e.ID
			ok, err := take(e)
			if err != nil {
				return nil, err
			}
			if ok {
				n++
			}
			if n == limit {
				return &after, nil
			}
		}
		if len(evs) < fillsPage {
			return nil, nil
		}
	}
	return &after, nil
}

// ordersV1 lists the tenant's orders oldest first, paged by the event id
// that created each; ?status=open lists every unfinished order instead,
// in one page.
func (a *OpsAPI) ordersV1(w http.ResponseWriter, r *http.Request) {
	id := trading.TenantID(r.PathValue("id"))
	if _, err := a.fleet.Status(id); err != nil {
		writeError(w, err)
		return
	}
	q := r.URL.Query()
	limit, after, err := pageQuery(q)
	if err != nil {
		writeError(w, err)
		return
	}
	symbol, status := strings.ToUpper(q.Get("symbol")), trading.OrderStatus(strings.ToLower(q.Get("status")))
	out := []OrderV1{}
	if status == "open" {
		list, err := a.j.OpenOrders(r.Context(), id)
		if err != nil {
			writeError(w, err)
			return
		}
		for _, o := range list {
			if symbol == "" || o.Intent.Symbol == symbol {
				out = append(out, toOrderV1(0, o))
			}
		}
		writeJSON(w, http.StatusOK, map[string]any{"orders": out})
		return
	}
	if status != "" && !status.Valid() {
		writeError(w, trading.Errorf(trading.EINVALID, "Unknown status %q: want open or an order status.", status))
		return
	}
	next, err := a.scanEvents(r, id, after, limit, func(e trading.Event) (bool, error) {
		// An order starts with its intent, or with a risk rejection that
		// carries the intent when none was journaled before it.
		if e.Intent == nil || (symbol != "" && e.Intent.Symbol != symbol) {
			return false, nil
		}
		o, err := a.j.Order(r.Context(), id, e.ClientOrderID)
		if err != nil {
			return false, err
		}
		if status != "" && o.Status != status {
			return false, nil
		}
		out = append(out, toOrderV1(e.ID, o))
		return true, nil
	})
	if err != nil {
		writeError(w, err)
		return
	}
	body := map[string]any{"orders": out}
	if next != nil {
		body["next_after"] = *next
	}
	writeJSON(w, http.StatusOK, body)
}

// FillV1 is one execution from the journal, with its order's symbol and
// side.
type FillV1 struct {
	EventID       uint64    `json:"event_id"`
	ClientOrderID string    `json:"client_order_id"`
	ExecutionID   string    `json:"execution_id"`
	Symbol        string    `json:"symbol"`
	Side          string    `json:"side"`
	Qty           string    `json:"qty"`
	Price         string    `json:"price"`
	CumQty        string    `json:"cum_qty"`
	Status        string    `json:"status,omitempty"`
	Time          time.Time `json:"time"`
}

// fillsV1 lists the tenant's executions oldest first, paged by event id.
func (a *OpsAPI) fillsV1(w http.ResponseWriter, r *http.Request) {
	id := trading.TenantID(r.PathValue("id"))
	if _, err := a.fleet.Status(id); err != nil {
		writeError(w, err)
		return
	}
	limit, after, err := pageQuery(r.URL.Query())
	if err != nil {
		writeError(w, err)
		return
	}
	// A fill event names only its order: the intent says what was traded.
	intents := map[string]*trading.Intent{}
	out := []FillV1{}
	next, err := a.scanEvents(r, id, after, limit, func(e trading.Event) (bool, error) {
		if e.Intent != nil {
			intents[e.ClientOrderID] = e.Intent
		}
		if e.Kind != trading.EventFill {
			return false, nil
		}
		in := intents[e.ClientOrderID]
		if in == nil {
			o, err := a.j.Order(r.Context(), id, e.ClientOrderID)
			if err != nil {
				return false, err
			}
			in = &o.Intent
			intents[e.ClientOrderID] = in
		}
		out = append(out, FillV1{EventID: e.ID, ClientOrderID: e.ClientOrderID, ExecutionID: e.ExecutionID,
			Symbol: in.Symbol, Side: string(in.Side), Qty: e.Qty.String(), Price: formatPrice(e.Price),
			CumQty: e.CumQty.String(), Status: string(e.Status), Time: e.Time})
		return true, nil
	})
	if err != nil {
		writeError(w, err)
		return
	}
	body := map[string]any{"fills": out}
	if next != nil {
		body["next_after"] = *next
	}
	writeJSON(w, http.StatusOK, body)
}

// readState reads {"state": "..."} in any case.
func readState(w http.ResponseWriter, r *http.Request) (trading.TradingState, error) {
	var body struct {
		State string `json:"state"`
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		return "", trading.Errorf(trading.EINVALID, `Body must be {"state":"ACTIVE|REDUCING|HALTED"} (any case).`)
	}
	s := trading.TradingState(strings.ToUpper(strings.TrimSpace(body.State)))
	if !s.Valid() {
		return "", trading.Errorf(trading.EINVALID, "Unknown trading state %q: want ACTIVE, REDUCING or HALTED (any case).", body.State)
	}
	return s, nil
}

func (a *OpsAPI) setStateV1(w http.ResponseWriter, r *http.Request) {
	st, err := readState(w, r)
	if err != nil {
		writeError(w, err)
		return
	}
	id := trading.TenantID(r.PathValue("id"))
	err = a.fleet.SetState(id, st)
	switch {
	case errors.Is(err, trading.ErrSavedLater):
		// Halted here, not saved yet: 202, and the body says so.
		s, _ := a.fleet.Status(id)
		writeJSON(w, http.StatusAccepted, map[string]any{"tenant": toTenantV1(s), "warning": err.Error()})
		return
	case err != nil:
		writeError(w, err)
		return
	}
	s, _ := a.fleet.Status(id)
	writeJSON(w, http.StatusOK, toTenantV1(s))
}

// setAllStatesV1 sets every tenant's state: the fleet's kill switch. It
// tries every tenant whatever happens to one, so one tenant's store error
// cannot leave the others trading; the answer lists what failed.
func (a *OpsAPI) setAllStatesV1(w http.ResponseWriter, r *http.Request) {
	st, err := readState(w, r)
	if err != nil {
		writeError(w, err)
		return
	}
	warnings, failed := map[string]string{}, map[string]string{}
	var firstErr error
	for _, s := range a.fleet.Statuses() {
		err := a.fleet.SetState(s.ID, st)
		switch {
		case errors.Is(err, trading.ErrSavedLater):
			warnings[string(s.ID)] = err.Error()
		case err != nil:
			failed[string(s.ID)] = trading.ErrorMessage(err)
			if firstErr == nil {
				firstErr = err
			}
		}
	}
	body := map[string]any{"state": string(st), "tenants": a.snapshotV1()}
	if len(warnings) > 0 {
		body["warnings"] = warnings
	}
	status := http.StatusOK
	switch {
	case firstErr != nil:
		code := trading.ErrorCode(firstErr)
		var ok bool
		if status, ok = errorStatus[code]; !ok {
			status = http.StatusInternalServerError
		}
		body["code"], body["error"], body["failed"] = code, "Some tenants' states were not changed; see failed.", failed
	case len(warnings) > 0:
		status = http.StatusAccepted
	}
	writeJSON(w, status, body)
}
