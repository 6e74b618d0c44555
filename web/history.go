package web

import (
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/shopspring/decimal"

	"github.com/quantum-alpaca/quantum/trading"
)

// dropLogEvery bounds how often missed activities are logged.
const dropLogEvery = time.Minute

// recorderBuffer is the history's activity channel: it only appends to
// memory, so a small buffer keeps up with a busy fleet.
const recorderBuffer = 4096

// Bounds on what the history tracks, so that a tenant trading thousands
// of symbols cannot grow it without limit: series past these are not
// started (and the dashboard shows no chart for them).
const (
	maxSymbols          = 1000
	maxSymbolsPerTenant = 200
)

// ring keeps the last cap values added.
type ring[T any] struct {
	buf  []T
	next int // where the next value goes once buf is full
	max  int
}

func (r *ring[T]) add(v T) {
	if len(r.buf) < r.max {
		r.buf = append(r.buf, v)
		return
	}
	r.buf[r.next] = v
	r.next = (r.next + 1) % r.max
}

// last returns the newest value.
func (r *ring[T]) last() (T, bool) {
	var zero T
	switch {
	case len(r.buf) == 0:
		return zero, false
	case len(r.buf) < r.max || r.next == 0:
		return r.buf[len(r.buf)-1], true
	}
	return r.buf[r.next-1], true
}

// all returns a copy, oldest first.
func (r *ring[T]) all() []T {
	out := make([]T, 0, len(r.buf))
	out = append(out, r.buf[r.next:]...)
	return append(out, r.buf[:r.next]...)
}

type equityPoint struct {
	at     time.Time
	equity decimal.Decimal
}

type pricePoint struct {
	at     time.Time
	price  decimal.Decimal
	source string // "fill" or "mark"
}

// history is what the dashboard's charts draw, recorded in memory since
// the ops API opened: each tenant's equity as the broker reported it at
// every account read, each symbol's prices (the tenants' fills and the
// broker's marks of their holdings), and each tenant's fills.
type history struct {
	mu       sync.Mutex
	max      int
	since    time.Time
	equity   map[trading.TenantID]*ring[equityPoint]
	lastAcct map[trading.TenantID]time.Time
	prices   map[string]*ring[pricePoint]
	fills    map[trading.TenantID]*ring[trading.Activity]
	symbols  map[trading.TenantID]map[string]bool
	dropped  uint64
}

func newHistory(max int) *history {
	return &history{max: max, equity: map[trading.TenantID]*ring[equityPoint]{}, lastAcct: map[trading.TenantID]time.Time{},
		prices: map[string]*ring[pricePoint]{}, fills: map[trading.TenantID]*ring[trading.Activity]{},
		symbols: map[trading.TenantID]map[string]bool{}}
}

func (h *history) start(at time.Time) {
	h.mu.Lock()
	h.since = at
	h.mu.Unlock()
}

// symbolLocked notes that tenant trades symbol; false when the bounds
// leave it untracked.
func (h *history) symbolLocked(tenant trading.TenantID, symbol string) bool {
	set := h.symbols[tenant]
	if set == nil {
		set = map[string]bool{}
		h.symbols[tenant] = set
	}
	if !set[symbol] {
		if len(set) >= maxSymbolsPerTenant {
			return false
		}
		set[symbol] = true
	}
	return true
}

func (h *history) priceLocked(symbol string, p pricePoint) {
	r := h.prices[symbol]
	if r == nil {
		if len(h.prices) >= maxSymbols {
			return
		}
		r = &ring[pricePoint]{max: h.max}
		h.prices[symbol] = r
	}
	if l, ok := r.last(); ok && l.at.Equal(p.at) && l.price.Equal(p.price) {
		return
	}
	r.add(p)
}

// sample records what is new in the tenants' snapshots: an account read
// since the last sample gives an equity point and a mark per holding.
func (h *history) sample(list []trading.TenantStatus) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, s := range list {
		for sym := range s.Positions {
			h.symbolLocked(s.ID, sym)
		}
		if s.AccountAt.IsZero() || s.AccountAt.Equal(h.lastAcct[s.ID]) {
			continue
		}
		h.lastAcct[s.ID] = s.AccountAt
		r := h.equity[s.ID]
		if r == nil {
			r = &ring[equityPoint]{max: h.max}
			h.equity[s.ID] = r
		}
		r.add(equityPoint{at: s.AccountAt, equity: s.Equity})
		for _, p := range s.Holdings {
			if m, ok := mark(p); ok && h.symbolLocked(s.ID, p.Symbol) {
				h.priceLocked(p.Symbol, pricePoint{at: s.AccountAt, price: m, source: "mark"})
			}
		}
	}
}

// activity records a fill's price and the fill itself, and which symbols
// a tenant's orders are in.
func (h *history) activity(act trading.Activity) {
	if act.Symbol == "" || act.Tenant == "" {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.symbolLocked(act.Tenant, act.Symbol) || act.Kind != trading.ActivityFill || !act.Price.IsPositive() {
		return
	}
	h.priceLocked(act.Symbol, pricePoint{at: act.Time, price: act.Price, source: "fill"})
	r := h.fills[act.Tenant]
	if r == nil {
		r = &ring[trading.Activity]{max: h.max}
		h.fills[act.Tenant] = r
	}
	r.add(act)
}

func (h *history) setDropped(n uint64) {
	h.mu.Lock()
	h.dropped = n
	h.mu.Unlock()
}

// record keeps the history until Close.
func (a *OpsAPI) record(sub Subscription) {
	tick := time.NewTicker(a.interval)
	defer tick.Stop()
	var c <-chan trading.Activity
	if sub != nil {
		c = sub.C()
	}
	a.hist.sample(a.fleet.Statuses())
	var dropped uint64
	var logged time.Time
	for {
		select {
		case <-a.ctx.Done():
			return
		case act := <-c:
			a.hist.activity(act)
		case now := <-tick.C:
			a.hist.sample(a.fleet.Statuses())
			if sub == nil {
				continue
			}
			d := sub.Dropped()
			a.hist.setDropped(d)
			if d > dropped && now.Sub(logged) >= dropLogEvery {
				a.log.Warn("dashboard history fell behind the engine's activity; the charts miss some fills", "missed", d-dropped, "total", d)
				dropped, logged = d, now
			}
		}
	}
}

// HistoryV1 is a tenant's recorded history, each series oldest first.
type HistoryV1 struct {
	Tenant string `json:"tenant"`
	// Since is when recording began; null when the server records none.
	Since *time.Time `json:"since"`
	// MaxPoints is how many points each series keeps at most.
	MaxPoints int                       `json:"max_points"`
	Equity    []EquityPointV1           `json:"equity"`
	Prices    map[string][]PricePointV1 `json:"prices"`
	Fills     []FillMarkV1              `json:"fills"`
	// ActivitiesDropped counts activities the recorder missed (its
	// buffer was full): fills that are in the journal but not on the
	// charts.
	ActivitiesDropped uint64 `json:"activities_dropped"`
}

// EquityPointV1 is the tenant's equity as the broker reported it at Time.
type EquityPointV1 struct {
	Time   time.Time `json:"time"`
	Equity string    `json:"equity"`
}

// PricePointV1 is a price of a symbol: a fill's (any tenant's) or the
// broker's mark of a holding.
type PricePointV1 struct {
	Time   time.Time `json:"time"`
	Price  string    `json:"price"`
	Source string    `json:"source"`
}

// FillMarkV1 is one of the tenant's fills, to mark on its price chart.
type FillMarkV1 struct {
	Time          time.Time `json:"time"`
	ClientOrderID string    `json:"client_order_id"`
	Symbol        string    `json:"symbol"`
	Side          string    `json:"side"`
	Qty           string    `json:"qty"`
	Price         string    `json:"price"`
}

func (h *history) view(id trading.TenantID, symbol string) HistoryV1 {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := HistoryV1{Tenant: string(id), MaxPoints: h.max, Equity: []EquityPointV1{}, Prices: map[string][]PricePointV1{},
		Fills: []FillMarkV1{}, ActivitiesDropped: h.dropped}
	if !h.since.IsZero() {
		since := h.since
		out.Since = &since
	}
	if r := h.equity[id]; r != nil {
		for _, p := range r.all() {
			out.Equity = append(out.Equity, EquityPointV1{Time: p.at, Equity: p.equity.StringFixed(2)})
		}
	}
	for sym := range h.symbols[id] {
		r := h.prices[sym]
		if r == nil || (symbol != "" && sym != symbol) {
			continue
		}
		pts := r.all()
		// Fills and marks arrive from different clocks and paths.
		slices.SortStableFunc(pts, func(a, b pricePoint) int { return a.at.Compare(b.at) })
		list := make([]PricePointV1, len(pts))
		for i, p := range pts {
			list[i] = PricePointV1{Time: p.at, Price: formatPrice(p.price), Source: p.source}
		}
		out.Prices[sym] = list
	}
	if r := h.fills[id]; r != nil {
		for _, f := range r.all() {
			if symbol != "" && f.Symbol != symbol {
				continue
			}
			out.Fills = append(out.Fills, FillMarkV1{Time: f.Time, ClientOrderID: f.ClientOrderID, Symbol: f.Symbol,
				Side: string(f.Side), Qty: f.Qty.String(), Price: formatPrice(f.Price)})
		}
	}
	return out
}

func (a *OpsAPI) historyV1(w http.ResponseWriter, r *http.Request) {
	id := trading.TenantID(r.PathValue("id"))
	if _, err := a.fleet.Status(id); err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, a.hist.view(id, strings.ToUpper(r.URL.Query().Get("symbol"))))
}
