package market

import (
	"cmp"
	"encoding/base64"
	"fmt"
	"hash/fnv"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The smaller data endpoints the SDKs expose: the exchange and condition
// code tables, the screener, and news. Their answers are shaped exactly
// as Alpaca's; the screener ranks the symbols whose prices move, and the
// news is synthetic, a pure function of the seed, the symbol and the
// hour, so that the same seed lists the same articles.

// exchanges are the exchange codes of the x/bx/ax fields (a fact of the
// SIP, not ours to invent).
var exchanges = map[string]string{
	"A": "NYSE American (AMEX)", "B": "NASDAQ OMX BX", "C": "National Stock Exchange", "D": "FINRA ADF",
	"E": "Market Independent", "H": "MIAX", "I": "International Securities Exchange", "J": "Cboe EDGA",
	"K": "Cboe EDGX", "L": "Long Term Stock Exchange", "M": "Chicago Stock Exchange", "N": "New York Stock Exchange",
	"P": "NYSE Arca", "Q": "NASDAQ OMX", "S": "NASDAQ Small Cap", "T": "NASDAQ Int", "U": "Members Exchange",
	"V": "IEX", "W": "CBOE", "X": "NASDAQ OMX PSX", "Y": "Cboe BYX", "Z": "Cboe BZ",
}

// Condition codes by tick type; the synthetic tape uses "@" (regular
// sale) and "R" (regular quote).
var conditions = map[string]map[string]string{
	"trade": {
		"@": "Regular Sale", "F": "Intermarket Sweep", "I": "Odd Lot Trade", "O": "Market Center Opening Trade",
		"6": "Market Center Closing Trade", "T": "Extended Trading Hours (Sold Out of Sequence)", "Z": "Sold (Out of Sequence)",
	},
	"quote": {"R": "Regular", "A": "Slow on Ask", "B": "Slow on Bid", "O": "Opening Quote", "C": "Closing"},
}

func (m *Market) handleExchanges(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, r, http.StatusOK, exchanges)
}

func (m *Market) handleConditions(w http.ResponseWriter, r *http.Request) {
	table, ok := conditions[r.PathValue("ticktype")]
	if !ok {
		writeError(w, r, badRequest("invalid ticktype: want trade or quote"))
		return
	}
	switch r.URL.Query().Get("tape") {
	case "A", "B", "C":
	case "":
		writeError(w, r, badRequest("missing tape: want A, B or C"))
		return
	default:
		writeError(w, r, badRequest("invalid tape: want A, B or C"))
		return
	}
	writeJSON(w, r, http.StatusOK, table)
}

// topParam reads ?top (default def, at most max).
func topParam(r *http.Request, def, max int) (int, *apiError) {
	s := r.URL.Query().Get("top")
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > max {
		return 0, &apiError{http.StatusUnprocessableEntity, fmt.Sprintf("invalid top: want 1 to %d", max)}
	}
	return n, nil
}

type mostActive struct {
	Symbol     string `json:"symbol"`
	Volume     uint64 `json:"volume"`
	TradeCount uint64 `json:"trade_count"`
}

func (m *Market) handleMostActives(w http.ResponseWriter, r *http.Request) {
	by := r.URL.Query().Get("by")
	if by == "" {
		by = "volume"
	}
	if by != "volume" && by != "trades" {
		writeError(w, r, &apiError{http.StatusUnprocessableEntity, "invalid by: want volume or trades"})
		return
	}
	top, e := topParam(r, 10, 100)
	if e != nil {
		writeError(w, r, e)
		return
	}
	var list []mostActive
	for _, s := range m.ActiveSymbols() {
		if snap, ok := m.Snapshot(s); ok && snap.DailyBar != nil {
			list = append(list, mostActive{Symbol: s, Volume: snap.DailyBar.Volume, TradeCount: snap.DailyBar.TradeCount})
		}
	}
	slices.SortFunc(list, func(a, b mostActive) int {
		if by == "trades" {
			return cmp.Or(cmp.Compare(b.TradeCount, a.TradeCount), strings.Compare(a.Symbol, b.Symbol))
		}
		return cmp.Or(cmp.Compare(b.Volume, a.Volume), strings.Compare(a.Symbol, b.Symbol))
	})
	list = list[:min(top, len(list))]
	if list == nil {
		list = []mostActive{}
	}
	writeJSON(w, r, http.StatusOK, map[string]any{"most_actives": list, "last_updated": m.cfg.Now().UTC()})
}

type mover struct {
	Symbol        string  `json:"symbol"`
	PercentChange float64 `json:"percent_change"`
	Change        float64 `json:"change"`
	Price         float64 `json:"price"`
}

func (m *Market) handleMovers(w http.ResponseWriter, r *http.Request) {
	market := r.PathValue("market_type")
	if market != "stocks" && market != "crypto" {
		writeError(w, r, badRequest("invalid market_type: want stocks or crypto"))
		return
	}
	top, e := topParam(r, 10, 50)
	if e != nil {
		writeError(w, r, e)
		return
	}
	var list []mover
	if market == "stocks" {
		for _, s := range m.ActiveSymbols() {
			snap, ok := m.Snapshot(s)
			if !ok || snap.DailyBar == nil || snap.PrevDailyBar == nil || snap.PrevDailyBar.Close == 0 {
				continue
			}
			price, prev := snap.DailyBar.Close, snap.PrevDailyBar.Close
			if snap.LatestTrade != nil {
				price = snap.LatestTrade.Price
			}
			ch := price - prev
			list = append(list, mover{Symbol: s, Change: round4(ch), PercentChange: round4(100 * ch / prev), Price: price})
		}
	}
	slices.SortFunc(list, func(a, b mover) int {
		return cmp.Or(cmp.Compare(b.PercentChange, a.PercentChange), strings.Compare(a.Symbol, b.Symbol))
	})
	gainers, losers := []mover{}, []mover{}
	for _, mv := range list {
		if mv.PercentChange > 0 && len(gainers) < top {
			gainers = append(gainers, mv)
		}
	}
	for i := len(list) - 1; i >= 0 && len(losers) < top; i-- {
		if list[i].PercentChange < 0 {
			losers = append(losers, list[i])
		}
	}
	writeJSON(w, r, http.StatusOK, map[string]any{"gainers": gainers, "losers": losers, "market_type": market,
		"last_updated": m.cfg.Now().UTC()})
}

func round4(f float64) float64 { return math.Round(f*1e4) / 1e4 }

// newsArticle is one item of GET /v1beta1/news.
type newsArticle struct {
	ID        int64     `json:"id"`
	Headline  string    `json:"headline"`
	Author    string    `json:"author"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	Summary   string    `json:"summary"`
	Content   string    `json:"content"`
	URL       string    `json:"url"`
	Images    []any     `json:"images"`
	Symbols   []string  `json:"symbols"`
	Source    string    `json:"source"`
}

// Bounds of the news query, as Alpaca documents them.
const (
	newsDefaultLimit = 10
	newsMaxLimit     = 50
	// newsEvery: each symbol has at most one article per this period.
	newsEvery = 6 * time.Hour
	// newsWindow is how far back the query looks without a start.
	newsWindow = 7 * 24 * time.Hour
)

var newsVerbs = []string{"rises after", "slips on", "draws attention with", "holds steady despite", "rallies on", "weighs"}
var newsTopics = []string{"quarterly results", "analyst upgrade", "sector rotation", "product launch", "guidance update", "index rebalance"}

// article is symbol's synthetic article of the period starting at slot,
// if it has one (about half the periods do).
func (m *Market) article(symbol string, slot time.Time, withContent bool) (newsArticle, bool) {
	h := fnv.New64a()
	fmt.Fprintf(h, "news/%d/%s/%d", m.seed, symbol, slot.Unix())
	v := h.Sum64()
	if v%2 == 1 {
		return newsArticle{}, false
	}
	at := slot.Add(time.Duration(v>>8%uint64(newsEvery/time.Second)) * time.Second).UTC()
	headline := fmt.Sprintf("%s %s %s", symbol, newsVerbs[v>>16%uint64(len(newsVerbs))], newsTopics[v>>24%uint64(len(newsTopics))])
	a := newsArticle{ID: int64(v >> 12 & (1<<40 - 1)), Headline: headline, Author: "Quantum Simulated Wire",
		CreatedAt: at, UpdatedAt: at, Summary: "Synthetic article from the paper broker's seeded market: " + headline + ".",
		URL: "https://news.invalid/" + strconv.FormatUint(v, 36), Images: []any{}, Symbols: []string{symbol}, Source: "quantum"}
	// Alpaca's schema requires content (minLength 1) whatever
	// include_content says, so the short form is sent without it.
	a.Content = a.Headline
	if withContent {
		a.Content = "<p>" + a.Summary + "</p>"
	}
	return a, true
}

func (m *Market) handleNews(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit := newsDefaultLimit
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > newsMaxLimit {
			writeError(w, r, &apiError{http.StatusUnprocessableEntity, fmt.Sprintf("invalid limit: want 1 to %d", newsMaxLimit)})
			return
		}
		limit = n
	}
	desc := true
	switch strings.ToUpper(q.Get("sort")) {
	case "", "DESC":
	case "ASC":
		desc = false
	default:
		writeError(w, r, badRequest("invalid sort: want asc or desc"))
		return
	}
	now := m.cfg.Now()
	end, start := now.UnixNano(), now.Add(-newsWindow).UnixNano()
	if s := q.Get("end"); s != "" {
		t, ok := m.parseTime(s, true)
		if !ok {
			writeError(w, r, badRequest("invalid end"))
			return
		}
		end = min(t, now.UnixNano())
	}
	if s := q.Get("start"); s != "" {
		t, ok := m.parseTime(s, false)
		if !ok {
			writeError(w, r, badRequest("invalid start"))
			return
		}
		start = t
	}
	if end < start {
		writeError(w, r, &apiError{http.StatusUnprocessableEntity, "end should not be before start"})
		return
	}
	// A window of more than 90 days is cut: the synthetic wire is
	// generated per request.
	start = max(start, end-int64(90*24*time.Hour))
	symbols := m.ActiveSymbols()
	if s := q.Get("symbols"); s != "" {
		syms, e := parseSymbols(s)
		if e != nil {
			writeError(w, r, e)
			return
		}
		symbols = symbols[:0:0]
		for _, sym := range syms {
			if _, ok := m.Lookup(sym); ok {
				symbols = append(symbols, sym)
			}
		}
	}
	withContent := q.Get("include_content") == "true"
	var all []newsArticle
	first := time.Unix(0, start).Truncate(newsEvery)
	for _, sym := range symbols {
		for slot := first; slot.UnixNano() <= end; slot = slot.Add(newsEvery) {
			if a, ok := m.article(sym, slot, withContent); ok && a.CreatedAt.UnixNano() >= start && a.CreatedAt.UnixNano() <= end {
				all = append(all, a)
			}
		}
	}
	slices.SortFunc(all, func(a, b newsArticle) int {
		c := cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID))
		if desc {
			return -c
		}
		return c
	})
	off := 0
	if tok := q.Get("page_token"); tok != "" {
		b, err := base64.StdEncoding.DecodeString(tok)
		n, err2 := strconv.Atoi(string(b))
		if err != nil || err2 != nil || n < 0 || n > len(all) {
			writeError(w, r, badRequest("invalid page_token"))
			return
		}
		off = n
	}
	page := all[off:min(off+limit, len(all))]
	if page == nil {
		page = []newsArticle{}
	}
	var next *string
	if off+limit < len(all) {
		t := base64.StdEncoding.EncodeToString([]byte(strconv.Itoa(off + limit)))
		next = &t
	}
	writeJSON(w, r, http.StatusOK, map[string]any{"news": page, "next_page_token": next})
}
