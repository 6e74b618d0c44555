// Package web serves the engine to operators over HTTP: the JSON ops API
// (tenants, orders, fills, the kill switch, health, a live event stream,
// price and equity history), its OpenAPI document, the dashboard that is
// built on it, and the Prometheus metrics handler it is given. It reads
// runner snapshots, the activity feed and the journal, and changes nothing
// but trading states, through the Fleet; it never returns credentials (the
// engine does not hold them in anything it reports).
package web

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/shopspring/decimal"

	"github.com/quantum-alpaca/quantum/trading"
)

// Fleet is what the ops API reads and changes: the engine's tenants.
// *engine.Engine is one.
type Fleet interface {
	// Statuses returns every tenant's latest snapshot.
	Statuses() []trading.TenantStatus
	// Status returns one tenant's; ENOTFOUND for an unknown tenant.
	Status(id trading.TenantID) (trading.TenantStatus, error)
	// SetState sets a tenant's trading state (the kill switch); EINVALID
	// for an unknown state, ENOTFOUND for an unknown tenant.
	SetState(id trading.TenantID, s trading.TradingState) error
}

// Subscription is one subscriber of the engine's activity feed;
// *engine.ActivitySub is one.
type Subscription interface {
	// C delivers the activities, oldest first.
	C() <-chan trading.Activity
	// Dropped counts the activities missed because C was full.
	Dropped() uint64
}

// Defaults for Config.
const (
	// DefaultInterval is how often event streams send the tenants and the
	// history samples them: the dashboard's refresh rate.
	DefaultInterval = time.Second
	// DefaultHistoryPoints bounds each series the history keeps (a
	// tenant's equity, a symbol's prices, a tenant's fills): a few hours of
	// account reads at the engine's default 15 s, and the latest fills.
	DefaultHistoryPoints = 2000
)

// Config is what NewOpsAPI serves.
type Config struct {
	Fleet   Fleet
	Journal trading.Journal
	// Token, when set, is required as a bearer token on every route but
	// /healthz and /readyz (which load balancers probe without one).
	Token string
	// Metrics, when set, is served at GET /metrics.
	Metrics http.Handler
	// LoopbackOnly says the server listens on a loopback address; it then
	// answers only requests whose Host is a loopback name, so that a web
	// page cannot reach it by DNS rebinding (a name of the attacker's that
	// resolves to 127.0.0.1).
	LoopbackOnly bool
	// Subscribe, when set, subscribes to the engine's activity feed with a
	// channel of capacity buffer; unsubscribe ends the deliveries. The
	// event stream relays the activities and the history takes fill
	// prices from them. Without it streams carry tenant snapshots only.
	Subscribe func(buffer int) (sub Subscription, unsubscribe func())
	// Interval is how often event streams send the tenants and the history
	// samples them; DefaultInterval when zero.
	Interval time.Duration
	// HistoryPoints bounds each history series; DefaultHistoryPoints when
	// zero.
	HistoryPoints int
	// Logger defaults to slog.Default().With("system", "web").
	Logger *slog.Logger
}

// OpsAPI is the ops API and dashboard handler. Create it with NewOpsAPI;
// Open starts recording history (it serves without), Close ends the
// event streams and the recording.
type OpsAPI struct {
	fleet     Fleet
	j         trading.Journal
	token     string
	loopback  bool
	subscribe func(int) (Subscription, func())
	interval  time.Duration
	log       *slog.Logger
	hist      *history
	handler   http.Handler
	patterns  []string

	// ctx ends with Close: event streams watch it, since an http.Server's
	// Shutdown waits for handlers that never finish on their own.
	ctx    context.Context
	cancel context.CancelFunc
	// mu guards closed and opened and orders wg.Add against Close's Wait.
	mu      sync.Mutex
	closed  bool
	opened  bool
	wg      sync.WaitGroup
	streams chan struct{} // one token per event stream allowed at once
}

// NewOpsAPI returns the ops API's handler.
func NewOpsAPI(c Config) *OpsAPI {
	a := &OpsAPI{fleet: c.Fleet, j: c.Journal, token: c.Token, loopback: c.LoopbackOnly, subscribe: c.Subscribe,
		interval: c.Interval, log: c.Logger, streams: make(chan struct{}, maxStreams)}
	if a.interval <= 0 {
		a.interval = DefaultInterval
	}
	if a.log == nil {
		a.log = slog.Default().With("system", "web")
	}
	points := c.HistoryPoints
	if points <= 0 {
		points = DefaultHistoryPoints
	}
	a.hist = newHistory(points)
	a.ctx, a.cancel = context.WithCancel(context.Background())

	routes := []struct {
		pattern string
		h       http.Handler
	}{
		{"GET /healthz", http.HandlerFunc(a.healthz)},
		{"GET /readyz", http.HandlerFunc(a.readyz)},
		{"GET /{$}", http.HandlerFunc(a.dashboard)},
		// The unversioned routes came first; they keep their shapes for
		// the scripts that use them (deprecated in the OpenAPI document).
		{"GET /api/tenants", http.HandlerFunc(a.tenants)},
		{"GET /api/tenants/{id}", http.HandlerFunc(a.tenant)},
		{"GET /api/tenants/{id}/orders", http.HandlerFunc(a.orders)},
		{"GET /api/tenants/{id}/fills", http.HandlerFunc(a.fills)},
		{"POST /api/tenants/{id}/state", http.HandlerFunc(a.setState)},
		{"GET /api/v1/openapi.json", http.HandlerFunc(serveOpenAPI)},
		{"GET /api/v1/tenants", http.HandlerFunc(a.tenantsV1)},
		{"GET /api/v1/tenants/{id}", http.HandlerFunc(a.tenantV1)},
		{"GET /api/v1/tenants/{id}/orders", http.HandlerFunc(a.ordersV1)},
		{"GET /api/v1/tenants/{id}/fills", http.HandlerFunc(a.fillsV1)},
		{"GET /api/v1/tenants/{id}/history", http.HandlerFunc(a.historyV1)},
		{"GET /api/v1/tenants/{id}/bars", http.HandlerFunc(a.barsV1)},
		{"POST /api/v1/tenants/{id}/state", http.HandlerFunc(a.setStateV1)},
		{"POST /api/v1/state", http.HandlerFunc(a.setAllStatesV1)},
		{"GET /api/v1/events", http.HandlerFunc(a.events)},
	}
	if c.Metrics != nil {
		routes = append(routes, struct {
			pattern string
			h       http.Handler
		}{"GET /metrics", c.Metrics})
	}
	mux := http.NewServeMux()
	for _, r := range routes {
		mux.Handle(r.pattern, r.h)
		a.patterns = append(a.patterns, r.pattern)
	}
	a.handler = a.auth(mux)
	return a
}

// ServeHTTP serves the ops API and the dashboard.
func (a *OpsAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) { a.handler.ServeHTTP(w, r) }

// Open starts recording the tenants' equity, prices and fills for the
// history route and the dashboard's charts. Subscribe before the engine
// opens to see all of it.
func (a *OpsAPI) Open() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return errors.New("web: Open after Close")
	}
	if a.opened {
		return errors.New("web: Open called twice")
	}
	a.opened = true
	var sub Subscription
	unsub := func() {}
	if a.subscribe != nil {
		sub, unsub = a.subscribe(recorderBuffer)
	}
	a.hist.start(time.Now())
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		defer unsub()
		a.record(sub)
	}()
	return nil
}

// Close ends the event streams and the recording and waits for them.
// The handler keeps answering the other routes.
func (a *OpsAPI) Close() error {
	a.mu.Lock()
	a.closed = true
	a.mu.Unlock()
	a.cancel()
	a.wg.Wait()
	return nil
}

// track counts a long-running handler for Close to wait on; false once
// Close has begun.
func (a *OpsAPI) track() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return false
	}
	a.wg.Add(1)
	return true
}

// auth admits a request: a loopback Host when the server is on loopback,
// the bearer token when one is set, and for a request that changes
// something, a JSON body from no other origin. A browser sends a
// cross-site form or text/plain POST without asking first; it cannot
// send application/json to another origin without a CORS preflight,
// which this API never grants.
func (a *OpsAPI) auth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a.loopback && !loopbackHost(r.Host) {
			writeJSON(w, http.StatusForbidden, map[string]string{"code": trading.EUNAUTHORIZED, "error": "This API answers only loopback host names."})
			return
		}
		if a.token != "" && r.URL.Path != "/healthz" && r.URL.Path != "/readyz" && !bearerOK(r, a.token) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="quantum"`)
			if r.Method == http.MethodGet && r.URL.Path == "/" {
				// A browser cannot send a bearer token when it navigates:
				// the page (code only, no data) comes back refused, asks
				// for the token and sends it with every API call.
				a.serveDashboard(w, http.StatusUnauthorized)
				return
			}
			writeError(w, trading.Errorf(trading.EUNAUTHORIZED, "Bearer token required."))
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			if origin := r.Header.Get("Origin"); origin != "" && !sameOrigin(origin, r.Host) {
				writeJSON(w, http.StatusForbidden, map[string]string{"code": trading.EUNAUTHORIZED, "error": "Cross-origin requests may not change anything."})
				return
			}
			if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
				writeJSON(w, http.StatusUnsupportedMediaType, map[string]string{"code": trading.EINVALID, "error": "Content-Type must be application/json."})
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// loopbackHost reports whether a Host header names this machine's
// loopback interface: localhost, 127.0.0.0/8 or ::1, with any port.
func loopbackHost(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// sameOrigin reports whether an Origin header names the host the request
// was sent to.
func sameOrigin(origin, host string) bool {
	u, err := url.Parse(origin)
	return err == nil && u.Host != "" && strings.EqualFold(u.Host, host)
}

// bearerOK compares the Authorization header with the token in constant
// time.
func bearerOK(r *http.Request, token string) bool {
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return ok && subtle.ConstantTimeCompare([]byte(got), []byte(token)) == 1
}

// healthz answers 200 while every tenant is healthy and 503 with each
// unhealthy tenant's problem otherwise: a runner that failed recently,
// broker calls that fail, a journal that cannot write (the runner fails),
// or ownership that cannot be checked.
func (a *OpsAPI) healthz(w http.ResponseWriter, r *http.Request) {
	health := map[string]string{}
	problems := map[string]string{}
	for _, s := range a.fleet.Statuses() {
		health[string(s.ID)] = s.Health
		switch {
		case s.Problem != "":
			problems[string(s.ID)] = s.Problem
		case s.Health == trading.HealthFailed:
			problems[string(s.ID)] = "runner failed: " + s.LastError
		}
	}
	if len(problems) > 0 {
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "failing", "tenants": health, "problems": problems})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "tenants": health})
}

// readyz answers 200 once every tenant has finished starting (reconciled
// with its broker, or waiting in standby for another engine), for a load
// balancer; whether they are healthy is healthz's question.
func (a *OpsAPI) readyz(w http.ResponseWriter, r *http.Request) {
	waiting := map[string]string{}
	for _, s := range a.fleet.Statuses() {
		if s.Health == trading.HealthStarting {
			waiting[string(s.ID)] = s.Health
		}
	}
	if len(waiting) > 0 {
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "starting", "tenants": waiting})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "ready"})
}

// Tenant is a tenant as the ops API shows it.
type Tenant struct {
	ID               string            `json:"id"`
	Strategy         string            `json:"strategy"`
	State            string            `json:"state"`
	Health           string            `json:"health"`
	LastError        string            `json:"last_error,omitempty"`
	Problem          string            `json:"problem,omitempty"`
	Restarts         int               `json:"restarts"`
	OrdersPlaced     int               `json:"orders_placed"`
	OpenOrders       int               `json:"open_orders"`
	Fills            int               `json:"fills"`
	RiskRejections   int               `json:"risk_rejections"`
	BrokerRejections int               `json:"broker_rejections"`
	Unknown          int               `json:"unknown_outcomes"`
	LastRiskReason   string            `json:"last_risk_reason,omitempty"`
	Positions        map[string]string `json:"positions"`
	Holdings         []Holding         `json:"holdings"`
	DailyPnL         string            `json:"daily_pnl"`
	UnrealizedPnL    string            `json:"unrealized_pnl"`
	Equity           string            `json:"equity"`
	AccountAsOf      *time.Time        `json:"account_as_of,omitempty"`
	Risk             Risk              `json:"risk"`
	QuotesDropped    uint64            `json:"quotes_dropped"`
	LastBar          *time.Time        `json:"last_bar,omitempty"`
	BarsDropped      uint64            `json:"bars_dropped"`
	UpdatedAt        time.Time         `json:"updated_at"`
}

// Holding is a position as the broker marks it.
type Holding struct {
	Symbol        string `json:"symbol"`
	Qty           string `json:"qty"`
	AvgEntryPrice string `json:"avg_entry_price"`
	MarketValue   string `json:"market_value"`
	UnrealizedPL  string `json:"unrealized_pl"`
}

// Risk is a tenant's risk limits and breaker as the ops API shows them.
type Risk struct {
	BreakerOpen      bool   `json:"breaker_open"`
	MaxOrderNotional string `json:"max_order_notional,omitempty"`
	MaxPositionQty   string `json:"max_position_qty,omitempty"`
	MaxOpenOrders    int    `json:"max_open_orders,omitempty"`
	DailyLossLimit   string `json:"daily_loss_limit,omitempty"`
}

func nz(d decimal.Decimal) string {
	if d.IsZero() {
		return ""
	}
	return d.String()
}

func toTenant(s trading.TenantStatus) Tenant {
	pos := make(map[string]string, len(s.Positions))
	for sym, q := range s.Positions {
		pos[sym] = q.String()
	}
	holdings := make([]Holding, 0, len(s.Holdings))
	for _, h := range s.Holdings {
		holdings = append(holdings, Holding{Symbol: h.Symbol, Qty: h.Qty.String(), AvgEntryPrice: h.AvgEntryPrice.String(),
			MarketValue: h.MarketValue.StringFixed(2), UnrealizedPL: h.UnrealizedPL.StringFixed(2)})
	}
	t := Tenant{
		ID: string(s.ID), Strategy: s.Strategy, State: string(s.State), Health: s.Health,
		LastError: s.LastError, Problem: s.Problem, Restarts: s.Restarts, OrdersPlaced: s.OrdersPlaced, OpenOrders: s.OpenOrders,
		Fills: s.Fills, RiskRejections: s.RiskRejections, BrokerRejections: s.BrokerRejections, Unknown: s.Unknown,
		LastRiskReason: s.LastRiskReason, Positions: pos, Holdings: holdings,
		DailyPnL: s.DailyPnL.StringFixed(2), UnrealizedPnL: s.UnrealizedPnL.StringFixed(2), Equity: s.Equity.StringFixed(2),
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
		// Holdings, P&L and equity are the broker's as of this time;
		// positions are kept current from fills in between.
		t.AccountAsOf = &s.AccountAt
	}
	return t
}

func (a *OpsAPI) tenants(w http.ResponseWriter, r *http.Request) {
	list := a.fleet.Statuses()
	out := make([]Tenant, len(list))
	for i, s := range list {
		out[i] = toTenant(s)
	}
	writeJSON(w, http.StatusOK, map[string]any{"tenants": out})
}

func (a *OpsAPI) tenant(w http.ResponseWriter, r *http.Request) {
	s, err := a.fleet.Status(trading.TenantID(r.PathValue("id")))
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, toTenant(s))
}

// Order is a journaled order as the ops API shows it.
type Order struct {
	ClientOrderID  string    `json:"client_order_id"`
	BrokerOrderID  string    `json:"broker_order_id,omitempty"`
	Seq            uint64    `json:"seq"`
	Symbol         string    `json:"symbol"`
	Side           string    `json:"side"`
	Type           string    `json:"type"`
	Qty            string    `json:"qty,omitempty"`
	Notional       string    `json:"notional,omitempty"`
	Status         string    `json:"status"`
	FilledQty      string    `json:"filled_qty"`
	FilledAvgPrice string    `json:"filled_avg_price,omitempty"`
	Reason         string    `json:"reason,omitempty"`
	Strategy       string    `json:"strategy,omitempty"`
	StrategyReason string    `json:"strategy_reason,omitempty"`
	CreatedAt      time.Time `json:"created_at"`
	UpdatedAt      time.Time `json:"updated_at"`
}

func (a *OpsAPI) orders(w http.ResponseWriter, r *http.Request) {
	id := trading.TenantID(r.PathValue("id"))
	if _, err := a.fleet.Status(id); err != nil {
		writeError(w, err)
		return
	}
	q := r.URL.Query()
	f := trading.OrderFilter{TenantID: id, Symbol: q.Get("symbol"), Status: trading.OrderStatus(q.Get("status"))}
	limit, err := queryLimit(q, 0, 0)
	if err != nil {
		writeError(w, err)
		return
	}
	f.Limit = limit
	if f.Status != "" && !f.Status.Valid() {
		writeError(w, trading.Errorf(trading.EINVALID, "Unknown status %q.", f.Status))
		return
	}
	list, err := a.j.Orders(r.Context(), f)
	if err != nil {
		writeError(w, err)
		return
	}
	out := make([]Order, len(list))
	for i, o := range list {
		out[i] = Order{
			ClientOrderID: o.Intent.ClientOrderID, BrokerOrderID: o.BrokerOrderID, Seq: o.Intent.Seq,
			Symbol: o.Intent.Symbol, Side: string(o.Intent.Side), Type: string(o.Intent.Type),
			Qty: nz(o.Intent.Qty), Notional: nz(o.Intent.Notional), Status: string(o.Status),
			FilledQty: o.FilledQty.String(), FilledAvgPrice: nz(o.FilledAvgPrice), Reason: o.Reason,
			Strategy: o.Intent.Strategy, StrategyReason: o.Intent.Reason, CreatedAt: o.Intent.CreatedAt, UpdatedAt: o.UpdatedAt,
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"orders": out})
}

// Fill is one execution from the journal as the ops API shows it.
type Fill struct {
	EventID       uint64    `json:"event_id"`
	ClientOrderID string    `json:"client_order_id"`
	ExecutionID   string    `json:"execution_id"`
	Qty           string    `json:"qty"`
	Price         string    `json:"price"`
	CumQty        string    `json:"cum_qty"`
	Status        string    `json:"status,omitempty"`
	Time          time.Time `json:"time"`
}

// fillsScanPages bounds the journal pages one fills request reads, so a
// tenant with a long history of non-fill events cannot make a request
// unbounded; the cursor lets the caller go on.
const (
	fillsScanPages = 20
	fillsPage      = 1000
)

// fills lists the tenant's executions from the journal, oldest first,
// after the event id in ?after (default 0), at most ?limit (default 100).
// next_after is the cursor for the following page; it is absent once the
// journal has been read to its end.
func (a *OpsAPI) fills(w http.ResponseWriter, r *http.Request) {
	id := trading.TenantID(r.PathValue("id"))
	if _, err := a.fleet.Status(id); err != nil {
		writeError(w, err)
		return
	}
	q := r.URL.Query()
	after := uint64(0)
	limit, err := queryLimit(q, 100, trading.MaxListLimit)
	if err != nil {
		writeError(w, err)
		return
	}
	if s := q.Get("after"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			writeError(w, trading.Errorf(trading.EINVALID, "after must be an event id."))
			return
		}
		after = n
	}
	out := []Fill{}
	end := false
	for range fillsScanPages {
		evs, err := a.j.Events(r.Context(), id, after, fillsPage)
		if err != nil {
			writeError(w, err)
			return
		}
		if len(evs) == 0 {
			end = true
			break
		}
		for _, e := range evs {
			after = e.ID
			if e.Kind != trading.EventFill {
				continue
			}
			out = append(out, Fill{EventID: e.ID, ClientOrderID: e.ClientOrderID, ExecutionID: e.ExecutionID,
				Qty: e.Qty.String(), Price: e.Price.String(), CumQty: e.CumQty.String(), Status: string(e.Status), Time: e.Time})
			if len(out) == limit {
				break
			}
		}
		if len(out) == limit {
			break
		}
		if len(evs) < fillsPage {
			end = true
			break
		}
	}
	body := map[string]any{"fills": out}
	if !end {
		body["next_after"] = after
	}
	writeJSON(w, http.StatusOK, body)
}

// queryLimit reads ?limit: def when absent, else a positive integer, at
// most max when max is set.
func queryLimit(q url.Values, def, max int) (int, error) {
	s := q.Get("limit")
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	switch {
	case max > 0 && (err != nil || n < 1 || n > max):
		return 0, trading.Errorf(trading.EINVALID, "limit must be an integer from 1 to %d.", max)
	case err != nil || n < 1:
		return 0, trading.Errorf(trading.EINVALID, "limit must be a positive integer.")
	}
	return n, nil
}

func (a *OpsAPI) setState(w http.ResponseWriter, r *http.Request) {
	var body struct {
		State string `json:"state"`
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		writeError(w, trading.Errorf(trading.EINVALID, `Body must be {"state":"ACTIVE|REDUCING|HALTED"}.`))
		return
	}
	id := trading.TenantID(r.PathValue("id"))
	err := a.fleet.SetState(id, trading.TradingState(strings.ToUpper(strings.TrimSpace(body.State))))
	switch {
	case errors.Is(err, trading.ErrSavedLater):
		// Halted here, not saved yet: 202, and the body says so.
		s, _ := a.fleet.Status(id)
		writeJSON(w, http.StatusAccepted, map[string]any{"tenant": toTenant(s), "warning": err.Error()})
		return
	case err != nil:
		writeError(w, err)
		return
	}
	s, _ := a.fleet.Status(id)
	writeJSON(w, http.StatusOK, toTenant(s))
}

// errorStatus maps domain error codes to HTTP statuses, in one table.
var errorStatus = map[string]int{
	trading.EINVALID:      http.StatusBadRequest,
	trading.ENOTFOUND:     http.StatusNotFound,
	trading.ECONFLICT:     http.StatusConflict,
	trading.EUNAUTHORIZED: http.StatusUnauthorized,
	trading.EREJECTED:     http.StatusUnprocessableEntity,
	trading.EUNAVAILABLE:  http.StatusServiceUnavailable,
	trading.EINTERNAL:     http.StatusInternalServerError,
}

func writeError(w http.ResponseWriter, err error) {
	code := trading.ErrorCode(err)
	status, ok := errorStatus[code]
	if !ok {
		status = http.StatusInternalServerError
	}
	var te *trading.Error
	if !errors.As(err, &te) {
		code = trading.EINTERNAL
	}
	writeJSON(w, status, map[string]string{"code": code, "error": trading.ErrorMessage(err)})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
