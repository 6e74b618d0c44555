package market

import (
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/quantum-alpaca/quantum/alpaca"
)

// Limits of the limit parameter, as Alpaca documents them.
const (
	DefaultLimit = 1000
	MaxLimit     = 10000
)

// Time bounds of query windows: keeps nanosecond arithmetic in range.
var (
	minQueryTime = time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	maxQueryTime = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
)

// Register mounts the Market Data v2 stock endpoints on mux with Go 1.22
// method patterns, each wrapped by wrap (the caller's auth, rate-limit and
// fault middleware; nil means none), and the market-data websocket feeds
// /v2/iex, /v2/sip, /v2/delayed_sip and /v2/test. The websocket routes are
// not wrapped: clients authenticate in-band, after the upgrade, which a
// header-checking middleware would refuse; they check Config.Auth
// themselves.
func (m *Market) Register(mux *http.ServeMux, wrap func(http.Handler) http.Handler) {
	if wrap == nil {
		wrap = func(h http.Handler) http.Handler { return h }
	}
	routes := []struct {
		pattern string
		h       http.HandlerFunc
	}{
		{"GET /v2/stocks/bars", m.handleMultiBars},
		{"GET /v2/stocks/{symbol}/bars", m.handleBars},
		{"GET /v2/stocks/trades", m.handleMultiTrades},
		{"GET /v2/stocks/{symbol}/trades", m.handleTrades},
		{"GET /v2/stocks/quotes", m.handleMultiQuotes},
		{"GET /v2/stocks/{symbol}/quotes", m.handleQuotes},
		{"GET /v2/stocks/bars/latest", m.handleLatestBars},
		{"GET /v2/stocks/trades/latest", m.handleLatestTrades},
		{"GET /v2/stocks/quotes/latest", m.handleLatestQuotes},
		{"GET /v2/stocks/{symbol}/bars/latest", m.handleLatestBar},
		{"GET /v2/stocks/{symbol}/trades/latest", m.handleLatestTrade},
		{"GET /v2/stocks/{symbol}/quotes/latest", m.handleLatestQuote},
		{"GET /v2/stocks/snapshots", m.handleSnapshots},
		{"GET /v2/stocks/{symbol}/snapshot", m.handleSnapshot},
		{"GET /v2/stocks/meta/exchanges", m.handleExchanges},
		{"GET /v2/stocks/meta/conditions/{ticktype}", m.handleConditions},
		{"GET /v1beta1/screener/stocks/most-actives", m.handleMostActives},
		{"GET /v1beta1/screener/{market_type}/movers", m.handleMovers},
		{"GET /v2/stocks/auctions", m.handleAuctions},
		{"GET /v1/corporate-actions", m.handleCorporateActions},
	}
	for _, r := range routes {
		mux.Handle(r.pattern, wrap(r.h))
	}
	// The news stream shares the REST listing's path (newsstream.go).
	mux.Handle("GET /v1beta1/news", m.newsRoute(wrap(http.HandlerFunc(m.handleNews))))
	for _, feed := range []string{"iex", "sip", "delayed_sip", "test"} {
		mux.Handle("GET /v2/"+feed, m.StreamHandler(feed))
	}
}

// Response bodies that alpaca/types.go does not define.
type (
	barsResponse struct {
		Symbol        string       `json:"symbol"`
		Bars          []alpaca.Bar `json:"bars"`
		NextPageToken *string      `json:"next_page_token"`
	}
	tradesResponse struct {
		Symbol        string         `json:"symbol"`
		Trades        []alpaca.Trade `json:"trades"`
		NextPageToken *string        `json:"next_page_token"`
	}
	quotesResponse struct {
		Symbol        string         `json:"symbol"`
		Quotes        []alpaca.Quote `json:"quotes"`
		NextPageToken *string        `json:"next_page_token"`
	}
	latestBarsResponse struct {
		Bars map[string]alpaca.Bar `json:"bars"`
	}
	latestTradesResponse struct {
		Trades map[string]alpaca.Trade `json:"trades"`
	}
	latestQuotesResponse struct {
		Quotes map[string]alpaca.Quote `json:"quotes"`
	}
	latestBarResponse struct {
		Symbol string     `json:"symbol"`
		Bar    alpaca.Bar `json:"bar"`
	}
	latestTradeResponse struct {
		Symbol string       `json:"symbol"`
		Trade  alpaca.Trade `json:"trade"`
	}
	latestQuoteResponse struct {
		Symbol string       `json:"symbol"`
		Quote  alpaca.Quote `json:"quote"`
	}
	snapshotResponse struct {
		Symbol string `json:"symbol"`
		alpaca.Snapshot
	}
	errorResponse struct {
		Message string `json:"message"`
	}
)

// apiError is a request error rendered as Alpaca's market-data error body.
type apiError struct {
	status int
	msg    string
}

func badRequest(msg string) *apiError { return &apiError{http.StatusBadRequest, msg} }

// query is a parsed historical request.
type query struct {
	symbols    []string // sorted, unique
	start, end int64    // inclusive, unix ns
	limit      int
	desc       bool
	tf         timeframe
	// splitAdj is adjustment=split (or all): bars before a split scaled
	// to its terms.
	splitAdj bool
	cur      *cursor
}

// cursor is a decoded page token: resume at the k-th item stamped t (in
// iteration order) of symbol sym.
type cursor struct {
	sym string
	t   int64
	k   int
}

func (c cursor) encode() string {
	return base64.StdEncoding.EncodeToString([]byte(c.sym + "|" + strconv.FormatInt(c.t, 10) + "|" + strconv.Itoa(c.k)))
}

func decodeCursor(s string) (*cursor, bool) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		if b, err = base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "=")); err != nil {
			return nil, false
		}
	}
	parts := strings.Split(string(b), "|")
	if len(parts) != 3 || parts[0] == "" {
		return nil, false
	}
	t, err1 := strconv.ParseInt(parts[1], 10, 64)
	k, err2 := strconv.Atoi(parts[2])
	if err1 != nil || err2 != nil || k < 0 {
		return nil, false
	}
	return &cursor{sym: parts[0], t: t, k: k}, true
}

var (
	validFeeds       = []string{"sip", "iex", "otc", "boats", "delayed_sip", "overnight"}
	validAdjustments = []string{"raw", "split", "dividend", "spin-off", "all"}
)

// parseSymbols splits a comma-separated symbol list; Alpaca symbols are
// case-sensitive, so no case folding happens here.
func parseSymbols(s string) ([]string, *apiError) {
	var out []string
	for _, p := range strings.Split(s, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		if len(p) > 32 || strings.ContainsAny(p, " \t\"'<>") {
			return nil, badRequest("invalid symbol: " + p)
		}
		out = append(out, p)
	}
	if len(out) == 0 {
		return nil, badRequest("missing symbols")
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// parseTime accepts RFC 3339 or a date, which means the start (or, for an
// end bound, the end) of that day in New York.
func (m *Market) parseTime(s string, end bool) (int64, bool) {
	var t time.Time
	if len(s) == len("2006-01-02") {
		d, err := time.ParseInLocation("2006-01-02", s, m.loc)
		if err != nil {
			return 0, false
		}
		t = d
		if end {
			t = d.AddDate(0, 0, 1).Add(-time.Nanosecond)
		}
	} else {
		var err error
		if t, err = time.Parse(time.RFC3339, s); err != nil {
			return 0, false
		}
	}
	if t.Year() < 1970 {
		return minQueryTime, true
	}
	if t.Year() >= 2200 {
		return maxQueryTime, true
	}
	return t.UnixNano(), true
}

// parseCommon validates the parameters shared by the latest and snapshot
// endpoints.
func parseCommon(q map[string][]string) *apiError {
	get := func(k string) string {
		if v := q[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	if f := get("feed"); f != "" && !slices.Contains(validFeeds, f) {
		return badRequest("invalid feed")
	}
	if c := get("currency"); c != "" && (len(c) != 3 || strings.ToUpper(c) != c) {
		return badRequest("invalid currency")
	}
	return nil
}

// parseQuery parses a historical request; symbol is the path symbol of the
// single-symbol endpoints, "" for the multi-symbol ones.
func (m *Market) parseQuery(r *http.Request, symbol string, bars bool) (*query, *apiError) {
	qs := r.URL.Query()
	if e := parseCommon(qs); e != nil {
		return nil, e
	}
	q := &query{limit: DefaultLimit}
	var e *apiError
	if symbol != "" {
		q.symbols = []string{symbol}
	} else if q.symbols, e = parseSymbols(qs.Get("symbols")); e != nil {
		return nil, e
	}
	if bars {
		tf := qs.Get("timeframe")
		if tf == "" {
			return nil, badRequest("missing timeframe")
		}
		var ok bool
		if q.tf, ok = parseTimeframe(tf); !ok {
			return nil, badRequest("invalid timeframe")
		}
		for _, a := range strings.Split(qs.Get("adjustment"), ",") {
			a = strings.TrimSpace(a)
			if a != "" && !slices.Contains(validAdjustments, a) {
				return nil, badRequest("invalid adjustment")
			}
			q.splitAdj = q.splitAdj || a == "split" || a == "all"
		}
	}
	now := m.cfg.Now()
	y, mo, d := now.In(m.loc).Date()
	q.start = time.Date(y, mo, d, 0, 0, 0, 0, m.loc).UnixNano()
	q.end = now.UnixNano()
	if s := qs.Get("start"); s != "" {
		t, ok := m.parseTime(s, false)
		if !ok {
			return nil, badRequest("invalid start")
		}
		q.start = t
	}
	if s := qs.Get("end"); s != "" {
		t, ok := m.parseTime(s, true)
		if !ok {
			return nil, badRequest("invalid end")
		}
		q.end = t
	}
	if q.end < q.start {
		return nil, &apiError{http.StatusUnprocessableEntity, "end should not be before start"}
	}
	if s := qs.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > MaxLimit {
			return nil, &apiError{http.StatusUnprocessableEntity, "invalid limit, limit must be between 1 and 10000"}
		}
		q.limit = n
	}
	switch qs.Get("sort") {
	case "", "asc":
	case "desc":
		q.desc = true
	default:
		return nil, badRequest("invalid sort")
	}
	if a := qs.Get("asof"); a != "" && a != "-" {
		if _, err := time.Parse("2006-01-02", a); err != nil {
			return nil, badRequest("invalid asof")
		}
	}
	if tok := qs.Get("page_token"); tok != "" {
		c, ok := decodeCursor(tok)
		if !ok || !slices.Contains(q.symbols, c.sym) {
			return nil, badRequest("invalid page_token")
		}
		q.cur = c
	}
	return q, nil
}

// itemSeq yields a symbol's items in [from, to] in order, each with its
// timestamp; it stops when yield returns false.
type itemSeq[T any] func(si int, from, to int64, desc bool, yield func(T, int64) bool)

// page collects up to q.limit items across q.symbols, symbol by symbol,
// resuming at q.cur, and returns a token when more items remain.
func page[T any](m *Market, q *query, seq itemSeq[T]) (map[string][]T, *string) {
	out := map[string][]T{}
	count := 0
	var next *string
	for _, sym := range q.symbols {
		if q.cur != nil && sym < q.cur.sym {
			continue
		}
		si, ok := m.index[sym]
		if !ok {
			continue
		}
		from, to := q.start, q.end
		resume := q.cur != nil && sym == q.cur.sym
		if resume {
			if q.desc {
				to = min(to, q.cur.t)
			} else {
				from = max(from, q.cur.t)
			}
			if from > to {
				continue
			}
		}
		lastT, run := int64(math.MinInt64), 0
		var items []T
		seq(si, from, to, q.desc, func(v T, t int64) bool {
			if t == lastT {
				run++
			} else {
				lastT, run = t, 0
			}
			if resume && t == q.cur.t && run < q.cur.k {
				return true
			}
			if count == q.limit {
				tok := cursor{sym: sym, t: t, k: run}.encode()
				next = &tok
				return false
			}
			items = append(items, v)
			count++
			return true
		})
		if len(items) > 0 {
			out[sym] = items
		}
		if next != nil {
			break
		}
	}
	return out, next
}

func (m *Market) barSeq(tf timeframe, splitAdj bool) itemSeq[alpaca.Bar] {
	return func(si int, from, to int64, desc bool, yield func(alpaca.Bar, int64) bool) {
		v := m.view(si)
		if splitAdj {
			v.bars = m.splitAdjusted(si, v.bars)
		}
		aggregate(v.bars, tf, m.loc, from, to, desc, func(s int64, i, j int) bool {
			return yield(v.merge(s, i, j), s*nsPerMinute)
		})
	}
}

func (m *Market) tradeSeq(si int, from, to int64, desc bool, yield func(alpaca.Trade, int64) bool) {
	v := m.view(si)
	tape := m.live[si].tape
	v.eachTick(floorDiv(from, nsPerMinute), floorDiv(to, nsPerMinute), desc, func(t *tick) bool {
		if t.tid == 0 || t.t < from || t.t > to {
			return true
		}
		return yield(tradeOf(t, tape), t.t)
	})
}

func (m *Market) quoteSeq(si int, from, to int64, desc bool, yield func(alpaca.Quote, int64) bool) {
	v := m.view(si)
	tape := m.live[si].tape
	v.eachTick(floorDiv(from, nsPerMinute), floorDiv(to, nsPerMinute), desc, func(t *tick) bool {
		if t.qt < from || t.qt > to {
			return true
		}
		return yield(quoteOf(t, tape), t.qt)
	})
}

func (m *Market) handleMultiBars(w http.ResponseWriter, r *http.Request) {
	q, e := m.parseQuery(r, "", true)
	if e != nil {
		writeError(w, r, e)
		return
	}
	bars, next := page(m, q, m.barSeq(q.tf, q.splitAdj))
	writeJSON(w, r, http.StatusOK, alpaca.MultiBarsResponse{Bars: bars, NextPageToken: next})
}

func (m *Market) handleBars(w http.ResponseWriter, r *http.Request) {
	sym := r.PathValue("symbol")
	q, e := m.parseQuery(r, sym, true)
	if e != nil {
		writeError(w, r, e)
		return
	}
	bars, next := page(m, q, m.barSeq(q.tf, q.splitAdj))
	writeJSON(w, r, http.StatusOK, barsResponse{Symbol: sym, Bars: nonNil(bars[sym]), NextPageToken: next})
}

func (m *Market) handleMultiTrades(w http.ResponseWriter, r *http.Request) {
	q, e := m.parseQuery(r, "", false)
	if e != nil {
		writeError(w, r, e)
		return
	}
	trades, next := page(m, q, m.tradeSeq)
	writeJSON(w, r, http.StatusOK, alpaca.MultiTradesResponse{Trades: trades, NextPageToken: next})
}

func (m *Market) handleTrades(w http.ResponseWriter, r *http.Request) {
	sym := r.PathValue("symbol")
	q, e := m.parseQuery(r, sym, false)
	if e != nil {
		writeError(w, r, e)
		return
	}
	trades, next := page(m, q, m.tradeSeq)
	writeJSON(w, r, http.StatusOK, tradesResponse{Symbol: sym, Trades: nonNil(trades[sym]), NextPageToken: next})
}

func (m *Market) handleMultiQuotes(w http.ResponseWriter, r *http.Request) {
	q, e := m.parseQuery(r, "", false)
	if e != nil {
		writeError(w, r, e)
		return
	}
	quotes, next := page(m, q, m.quoteSeq)
	writeJSON(w, r, http.StatusOK, alpaca.MultiQuotesResponse{Quotes: quotes, NextPageToken: next})
}

func (m *Market) handleQuotes(w http.ResponseWriter, r *http.Request) {
	sym := r.PathValue("symbol")
	q, e := m.parseQuery(r, sym, false)
	if e != nil {
		writeError(w, r, e)
		return
	}
	quotes, next := page(m, q, m.quoteSeq)
	writeJSON(w, r, http.StatusOK, quotesResponse{Symbol: sym, Quotes: nonNil(quotes[sym]), NextPageToken: next})
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// latestSymbols parses the symbols and shared parameters of the latest and
// snapshot endpoints.
func latestSymbols(r *http.Request) ([]string, *apiError) {
	qs := r.URL.Query()
	if e := parseCommon(qs); e != nil {
		return nil, e
	}
	return parseSymbols(qs.Get("symbols"))
}

func (m *Market) handleLatestBars(w http.ResponseWriter, r *http.Request) {
	serveLatest(w, r, m.LatestBar, func(b map[string]alpaca.Bar) any { return latestBarsResponse{Bars: b} })
}

func (m *Market) handleLatestTrades(w http.ResponseWriter, r *http.Request) {
	serveLatest(w, r, m.LatestTrade, func(t map[string]alpaca.Trade) any { return latestTradesResponse{Trades: t} })
}

func (m *Market) handleLatestQuotes(w http.ResponseWriter, r *http.Request) {
	serveLatest(w, r, m.Quote, func(q map[string]alpaca.Quote) any { return latestQuotesResponse{Quotes: q} })
}

// serveLatest answers a multi-symbol latest endpoint: the symbols that
// have a value, keyed by symbol, in the endpoint's wrapper object.
func serveLatest[T any](w http.ResponseWriter, r *http.Request, lookup func(string) (T, bool), wrap func(map[string]T) any) {
	syms, e := latestSymbols(r)
	if e != nil {
		writeError(w, r, e)
		return
	}
	found := map[string]T{}
	for _, s := range syms {
		if v, ok := lookup(s); ok {
			found[s] = v
		}
	}
	writeJSON(w, r, http.StatusOK, wrap(found))
}

// singleLatest validates a single-symbol latest or snapshot request.
func singleLatest(w http.ResponseWriter, r *http.Request) (string, bool) {
	if e := parseCommon(r.URL.Query()); e != nil {
		writeError(w, r, e)
		return "", false
	}
	return r.PathValue("symbol"), true
}

func notFound(w http.ResponseWriter, r *http.Request, what, sym string) {
	writeError(w, r, &apiError{http.StatusNotFound, "no " + what + " found for " + sym})
}

func (m *Market) handleLatestBar(w http.ResponseWriter, r *http.Request) {
	serveLatestOne(w, r, "bar", m.LatestBar, func(sym string, b alpaca.Bar) any { return latestBarResponse{Symbol: sym, Bar: b} })
}

func (m *Market) handleLatestTrade(w http.ResponseWriter, r *http.Request) {
	serveLatestOne(w, r, "trade", m.LatestTrade, func(sym string, t alpaca.Trade) any { return latestTradeResponse{Symbol: sym, Trade: t} })
}

func (m *Market) handleLatestQuote(w http.ResponseWriter, r *http.Request) {
	serveLatestOne(w, r, "quote", m.Quote, func(sym string, q alpaca.Quote) any { return latestQuoteResponse{Symbol: sym, Quote: q} })
}

// serveLatestOne answers a single-symbol latest endpoint, 404 when the
// symbol has no value of that kind.
func serveLatestOne[T any](w http.ResponseWriter, r *http.Request, what string, lookup func(string) (T, bool), wrap func(string, T) any) {
	sym, ok := singleLatest(w, r)
	if !ok {
		return
	}
	v, ok := lookup(sym)
	if !ok {
		notFound(w, r, what, sym)
		return
	}
	writeJSON(w, r, http.StatusOK, wrap(sym, v))
}

func (m *Market) handleSnapshots(w http.ResponseWriter, r *http.Request) {
	syms, e := latestSymbols(r)
	if e != nil {
		writeError(w, r, e)
		return
	}
	out := map[string]alpaca.Snapshot{}
	for _, s := range syms {
		if snap, ok := m.Snapshot(s); ok {
			out[s] = snap
		}
	}
	writeJSON(w, r, http.StatusOK, out)
}

func (m *Market) handleSnapshot(w http.ResponseWriter, r *http.Request) {
	sym, ok := singleLatest(w, r)
	if !ok {
		return
	}
	snap, ok := m.Snapshot(sym)
	if !ok {
		notFound(w, r, "snapshot", sym)
		return
	}
	writeJSON(w, r, http.StatusOK, snapshotResponse{Symbol: sym, Snapshot: snap})
}

func writeError(w http.ResponseWriter, r *http.Request, e *apiError) {
	writeJSON(w, r, e.status, errorResponse{Message: e.msg})
}

var gzipPool = sync.Pool{New: func() any { return gzip.NewWriter(nil) }}

// gzipMin is the body size above which a response is compressed for
// clients that ask for it (the official SDKs always do).
const gzipMin = 1024

func writeJSON(w http.ResponseWriter, r *http.Request, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		body = []byte(`{"message":"internal server error"}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=UTF-8")
	h.Add("Vary", "Accept-Encoding")
	if len(body) < gzipMin || !acceptsGzip(r) {
		h.Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(status)
		_, _ = w.Write(body)
		return
	}
	h.Set("Content-Encoding", "gzip")
	w.WriteHeader(status)
	gz := gzipPool.Get().(*gzip.Writer)
	gz.Reset(w)
	_, _ = gz.Write(body)
	_ = gz.Close()
	gzipPool.Put(gz)
}

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		enc, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.TrimSpace(enc) == "gzip" && strings.ReplaceAll(params, " ", "") != "q=0" {
			return true
		}
	}
	return false
}
