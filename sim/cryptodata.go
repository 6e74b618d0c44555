package sim

import (
	"encoding/base64"
	"encoding/json"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"
)

// Crypto market data (/v1beta3/crypto/us/...), from the crypto market's
// walk. A pair's minute m has the walk's mid (its quote all
// minute, as trading sees it); its bar opens at the previous minute's mid
// and closes at its own; it has one to four trades and one quote, at the
// minute's start. History goes back cryptoHistory before the server's
// start; bars end with the last whole minute, trades and quotes with the
// clock. Daily and longer bars are bucketed in UTC, as Alpaca buckets
// crypto.

// cryptoHistory is how far back crypto data goes before the server's
// start.
const cryptoHistory = 30 * 24 * time.Hour

// Wire shapes of Alpaca's crypto data (v1beta3), sizes fractional.
type (
	cryptoBarJSON struct {
		T  time.Time `json:"t"`
		O  float64   `json:"o"`
		H  float64   `json:"h"`
		L  float64   `json:"l"`
		C  float64   `json:"c"`
		V  float64   `json:"v"`
		N  int64     `json:"n"`
		VW float64   `json:"vw"`
	}
	cryptoTradeJSON struct {
		T   time.Time `json:"t"`
		P   float64   `json:"p"`
		S   float64   `json:"s"`
		I   int64     `json:"i"`
		TKS string    `json:"tks"`
	}
	cryptoQuoteJSON struct {
		T  time.Time `json:"t"`
		BP float64   `json:"bp"`
		BS float64   `json:"bs"`
		AP float64   `json:"ap"`
		AS float64   `json:"as"`
	}
	cryptoLevelJSON struct {
		P float64 `json:"p"`
		S float64 `json:"s"`
	}
	cryptoBookJSON struct {
		T time.Time         `json:"t"`
		B []cryptoLevelJSON `json:"b"`
		A []cryptoLevelJSON `json:"a"`
	}
	cryptoSnapshotJSON struct {
		LatestTrade  *cryptoTradeJSON `json:"latestTrade"`
		LatestQuote  *cryptoQuoteJSON `json:"latestQuote"`
		MinuteBar    *cryptoBarJSON   `json:"minuteBar"`
		DailyBar     *cryptoBarJSON   `json:"dailyBar"`
		PrevDailyBar *cryptoBarJSON   `json:"prevDailyBar"`
	}
)

// sumAt is pair i's walk sum at minute m.
func (c *cryptoMarket) sumAt(i int, m int64) int64 {
	p := &c.pairs[i]
	key := c.seed ^ fnv64(p.symbol())
	var s int64
	for k := c.m0 + 1; k <= m; k++ {
		s += c.step(p, key, k)
	}
	for k := c.m0; k > m; k-- {
		s -= c.step(p, key, k)
	}
	return s
}

// roundTo rounds v to the pair's price increment (at least 4 decimals).
func (p *cryptoPair) roundTo(v float64) float64 {
	inc, _ := decimal.NewFromString(p.priceIncrement)
	step := max(inc.InexactFloat64(), 0.0001)
	r := math.Round(v/step) * step
	f, _ := decimal.NewFromFloat(r).Round(4).Float64()
	return f
}

func roundSize(v float64) float64 {
	f, _ := decimal.NewFromFloat(v).Round(9).Float64()
	return f
}

// cryptoMinute is pair i's minute m: its bar, trades and quote.
type cryptoMinute struct {
	bar    cryptoBarJSON
	trades []cryptoTradeJSON
	quote  cryptoQuoteJSON
}

func (c *cryptoMarket) minute(i int, m int64, prevLog, log float64) cryptoMinute {
	p := &c.pairs[i]
	key := c.seed ^ fnv64(p.symbol()) ^ 0x7ade
	r := splitmix(key ^ uint64(m))
	u := func() float64 {
		r = splitmix(r)
		return float64(r>>11) / (1 << 53)
	}
	o, cl := math.Exp(prevLog), math.Exp(log)
	sigma := p.vol / math.Sqrt(365*24*60)
	h := max(o, cl) * (1 + u()*sigma/2)
	l := min(o, cl) * (1 - u()*sigma/2)
	start := time.Unix(m*60, 0).UTC()
	n := 1 + int(u()*4)
	out := cryptoMinute{}
	var vol, notional float64
	for j := 0; j < n; j++ {
		f := (float64(j) + 1) / float64(n+1)
		px := p.roundTo(min(max(o+(cl-o)*f+(h-l)*(u()-0.5)/2, l), h))
		size := roundSize(200 / o * (0.1 + 3*u()*u()))
		tks := "B"
		if u() < 0.5 {
			tks = "S"
		}
		t := start.Add(time.Duration(f*60*float64(time.Second)) + time.Duration(u()*float64(time.Millisecond)))
		out.trades = append(out.trades, cryptoTradeJSON{T: t, P: px, S: size, I: m*10 + int64(j), TKS: tks})
		vol += size
		notional += px * size
		h, l = max(h, px), min(l, px)
	}
	o, cl, h, l = p.roundTo(o), p.roundTo(cl), p.roundTo(h), p.roundTo(l)
	out.bar = cryptoBarJSON{T: start, O: o, H: max(h, o, cl), L: min(l, o, cl), C: cl, V: roundSize(vol), N: int64(n), VW: p.roundTo(notional / vol)}
	q := c.quoteAt(p, math.Exp(log))
	out.quote = cryptoQuoteJSON{T: start, BP: q.Bid.Float64(), BS: roundSize(1000 / o * (0.5 + u())), AP: q.Ask.Float64(), AS: roundSize(1000 / o * (0.5 + u()))}
	return out
}

// eachMinute walks pair i's minutes in [from, to] (unix minutes) in
// order, or in reverse with desc.
func (c *cryptoMarket) eachMinute(i int, from, to int64, desc bool, yield func(m int64, d cryptoMinute) bool) {
	if from > to {
		return
	}
	// The walk is generated forward; a descending read buffers its window,
	// which the callers keep to one request's worth.
	logs := make([]float64, 0, to-from+2)
	p := &c.pairs[i]
	key := c.seed ^ fnv64(p.symbol())
	sum := c.sumAt(i, from-1)
	logs = append(logs, p.logOf(sum))
	for k := from; k <= to; k++ {
		sum += c.step(p, key, k)
		logs = append(logs, p.logOf(sum))
	}
	if !desc {
		for k := from; k <= to; k++ {
			if !yield(k, c.minute(i, k, logs[k-from], logs[k-from+1])) {
				return
			}
		}
		return
	}
	for k := to; k >= from; k-- {
		if !yield(k, c.minute(i, k, logs[k-from], logs[k-from+1])) {
			return
		}
	}
}

// cryptoQuery is a parsed crypto data request.
type cryptoQuery struct {
	pairs      []int // indexes into the pairs, in symbol order
	start, end int64 // unix ns, inclusive
	limit      int
	desc       bool
	tfMin      int64  // bar minutes for Min/Hour/Day/Week, 0 for months
	tfMonths   int    // bar months
	curSym     string // page token: resume at curT of curSym
	curT       int64
}

func cryptoBad(w http.ResponseWriter, status int, msg string) {
	b, _ := json.Marshal(map[string]string{"message": msg})
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// cryptoSymbols parses the symbols parameter: known pairs in either form,
// unknown ones left out as Alpaca does.
func (s *Server) cryptoSymbols(w http.ResponseWriter, r *http.Request) ([]int, bool) {
	v := r.URL.Query().Get("symbols")
	var out []int
	for _, f := range strings.Split(v, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if i, ok := s.crypto.index[f]; ok && !slices.Contains(out, i) {
			out = append(out, i)
		}
	}
	if strings.TrimSpace(v) == "" {
		cryptoBad(w, http.StatusBadRequest, "missing symbols")
		return nil, false
	}
	slices.SortFunc(out, func(a, b int) int { return strings.Compare(s.crypto.pairs[a].symbol(), s.crypto.pairs[b].symbol()) })
	return out, true
}

func parseCryptoTime(v string, end bool) (int64, bool) {
	if len(v) == len("2006-01-02") {
		d, err := time.Parse("2006-01-02", v)
		if err != nil {
			return 0, false
		}
		if end {
			d = d.AddDate(0, 0, 1).Add(-time.Nanosecond)
		}
		return d.UnixNano(), true
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil || t.Year() < 1970 || t.Year() >= 2200 {
		return 0, false
	}
	return t.UnixNano(), true
}

func (s *Server) parseCryptoQuery(w http.ResponseWriter, r *http.Request, bars bool) (*cryptoQuery, bool) {
	pairs, ok := s.cryptoSymbols(w, r)
	if !ok {
		return nil, false
	}
	qs := r.URL.Query()
	now := s.now()
	q := &cryptoQuery{pairs: pairs, limit: 1000, end: now.UnixNano()}
	y, mo, d := now.UTC().Date()
	q.start = time.Date(y, mo, d, 0, 0, 0, 0, time.UTC).UnixNano()
	if bars {
		tf := qs.Get("timeframe")
		if tf == "" {
			cryptoBad(w, http.StatusBadRequest, "missing timeframe")
			return nil, false
		}
		if q.tfMin, q.tfMonths, ok = parseCryptoTimeframe(tf); !ok {
			cryptoBad(w, http.StatusBadRequest, "invalid timeframe")
			return nil, false
		}
	}
	if v := qs.Get("start"); v != "" {
		if q.start, ok = parseCryptoTime(v, false); !ok {
			cryptoBad(w, http.StatusBadRequest, "invalid start")
			return nil, false
		}
	}
	if v := qs.Get("end"); v != "" {
		if q.end, ok = parseCryptoTime(v, true); !ok {
			cryptoBad(w, http.StatusBadRequest, "invalid end")
			return nil, false
		}
	}
	if q.end < q.start {
		cryptoBad(w, http.StatusUnprocessableEntity, "end should not be before start")
		return nil, false
	}
	if v := qs.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 10000 {
			cryptoBad(w, http.StatusUnprocessableEntity, "invalid limit, limit must be between 1 and 10000")
			return nil, false
		}
		q.limit = n
	}
	switch qs.Get("sort") {
	case "", "asc":
	case "desc":
		q.desc = true
	default:
		cryptoBad(w, http.StatusBadRequest, "invalid sort")
		return nil, false
	}
	if tok := qs.Get("page_token"); tok != "" {
		b, err := base64.StdEncoding.DecodeString(tok)
		sym, ts, found := strings.Cut(string(b), "|")
		t, terr := strconv.ParseInt(ts, 10, 64)
		if err != nil || !found || terr != nil {
			cryptoBad(w, http.StatusBadRequest, "invalid page_token")
			return nil, false
		}
		q.curSym, q.curT = sym, t
	}
	return q, true
}

// parseCryptoTimeframe reads [1-59]Min (T), [1-23]Hour (H), 1Day (D),
// 1Week (W) and [1,2,3,4,6,12]Month (M), as Alpaca does.
func parseCryptoTimeframe(tf string) (minutes int64, months int, ok bool) {
	i := 0
	for i < len(tf) && tf[i] >= '0' && tf[i] <= '9' {
		i++
	}
	n, err := strconv.Atoi(tf[:i])
	if err != nil || n < 1 {
		return 0, 0, false
	}
	switch tf[i:] {
	case "Min", "T":
		return int64(n), 0, n <= 59
	case "Hour", "H":
		return int64(n) * 60, 0, n <= 23
	case "Day", "D":
		return 1440, 0, n == 1
	case "Week", "W":
		return 7 * 1440, 0, n == 1
	case "Month", "M":
		return 0, n, n == 1 || n == 2 || n == 3 || n == 4 || n == 6 || n == 12
	}
	return 0, 0, false
}

// bucket is the first minute of the bar minute m falls in.
func (q *cryptoQuery) bucket(m int64) int64 {
	if q.tfMonths > 0 {
		t := time.Unix(m*60, 0).UTC()
		mo := (int(t.Month()) - 1) / q.tfMonths * q.tfMonths
		return time.Date(t.Year(), time.Month(mo+1), 1, 0, 0, 0, 0, time.UTC).Unix() / 60
	}
	if q.tfMin == 7*1440 {
		// Weeks start on Monday; the Unix epoch was a Thursday.
		return floorDiv64(m+3*1440, q.tfMin)*q.tfMin - 3*1440
	}
	return floorDiv64(m, q.tfMin) * q.tfMin
}

func floorDiv64(a, b int64) int64 {
	d := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		d--
	}
	return d
}

// window clamps [from, to] ns to the minutes crypto data covers: from the
// start of history to last (the last minute with data).
func (c *cryptoMarket) window(from, to int64, last int64) (int64, int64) {
	lo := c.m0 - int64(cryptoHistory/time.Minute)
	return max(floorDiv64(from, int64(time.Minute)), lo), min(floorDiv64(to, int64(time.Minute)), last)
}

// cryptoItems yields pair i's items stamped in [from, to] ns, in order.
type cryptoItems func(i int, from, to int64, desc bool, yield func(v any, t int64) bool)

func (s *Server) cryptoBars(q *cryptoQuery) cryptoItems {
	return func(i int, from, to int64, desc bool, yield func(any, int64) bool) {
		c := s.crypto
		last := minuteOf(s.now()) - 1 // bars of whole minutes only
		f, t := c.window(from, to, last)
		if f > t {
			return
		}
		// Whole buckets: from the first bucket starting at or after from,
		// through the last minute of the bucket starting at or before to.
		first := q.bucket(f)
		if first*int64(time.Minute) < from {
			first = q.bucket(nextBucket(q, first))
		}
		var bars []cryptoBarJSON
		var cur *cryptoBarJSON
		var notional float64
		upto := min(last, nextBucket(q, q.bucket(t))-1)
		c.eachMinute(i, first, upto, false, func(m int64, d cryptoMinute) bool {
			b := q.bucket(m)
			if b > t {
				return false
			}
			if cur == nil || cur.T.Unix()/60 != b {
				if cur != nil {
					cur.VW = c.pairs[i].roundTo(notional / cur.V)
					bars = append(bars, *cur)
				}
				x := d.bar
				x.T = time.Unix(b*60, 0).UTC()
				cur, notional = &x, d.bar.VW*d.bar.V
				return true
			}
			cur.H, cur.L, cur.C = max(cur.H, d.bar.H), min(cur.L, d.bar.L), d.bar.C
			cur.V = roundSize(cur.V + d.bar.V)
			cur.N += d.bar.N
			notional += d.bar.VW * d.bar.V
			return true
		})
		if cur != nil {
			cur.VW = c.pairs[i].roundTo(notional / cur.V)
			bars = append(bars, *cur)
		}
		if desc {
			slices.Reverse(bars)
		}
		for _, b := range bars {
			if !yield(b, b.T.UnixNano()) {
				return
			}
		}
	}
}

func nextBucket(q *cryptoQuery, b int64) int64 {
	if q.tfMonths > 0 {
		return time.Unix(b*60, 0).UTC().AddDate(0, q.tfMonths, 0).Unix() / 60
	}
	return b + q.tfMin
}

func (s *Server) cryptoTrades(i int, from, to int64, desc bool, yield func(any, int64) bool) {
	c := s.crypto
	now := s.now().UnixNano()
	f, t := c.window(from, min(to, now), minuteOf(s.now()))
	c.eachMinute(i, f, t, desc, func(_ int64, d cryptoMinute) bool {
		tr := d.trades
		for j := range tr {
			k := j
			if desc {
				k = len(tr) - 1 - j
			}
			ts := tr[k].T.UnixNano()
			if ts < from || ts > to || ts > now {
				continue
			}
			if !yield(tr[k], ts) {
				return false
			}
		}
		return true
	})
}

func (s *Server) cryptoQuotes(i int, from, to int64, desc bool, yield func(any, int64) bool) {
	c := s.crypto
	f, t := c.window(from, to, minuteOf(s.now()))
	c.eachMinute(i, f, t, desc, func(_ int64, d cryptoMinute) bool {
		ts := d.quote.T.UnixNano()
		if ts < from || ts > to {
			return true
		}
		return yield(d.quote, ts)
	})
}

// cryptoPage collects up to q.limit items across the pairs, pair by pair,
// resuming at the page token, with a token when more remain.
func (s *Server) cryptoPage(q *cryptoQuery, seq cryptoItems) (map[string][]any, *string) {
	out := map[string][]any{}
	count := 0
	var next *string
	for _, i := range q.pairs {
		sym := s.crypto.pairs[i].symbol()
		if q.curSym != "" && sym < q.curSym {
			continue
		}
		from, to := q.start, q.end
		if sym == q.curSym {
			if q.desc {
				to = min(to, q.curT)
			} else {
				from = max(from, q.curT)
			}
		}
		var items []any
		seq(i, from, to, q.desc, func(v any, t int64) bool {
			if count == q.limit {
				tok := base64.StdEncoding.EncodeToString([]byte(sym + "|" + strconv.FormatInt(t, 10)))
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

func (s *Server) writeCryptoPage(w http.ResponseWriter, r *http.Request, key string, seq func(*cryptoQuery) cryptoItems, bars bool) {
	q, ok := s.parseCryptoQuery(w, r, bars)
	if !ok {
		return
	}
	items, next := s.cryptoPage(q, seq(q))
	writeJSON(w, http.StatusOK, map[string]any{key: items, "next_page_token": next})
}

// latestMinute is pair i's data for the current minute and the one
// before it.
func (s *Server) latestMinutes(i int) (prev, cur cryptoMinute) {
	m := minuteOf(s.now())
	s.crypto.eachMinute(i, m-1, m, false, func(k int64, d cryptoMinute) bool {
		if k == m {
			cur = d
		} else {
			prev = d
		}
		return true
	})
	return prev, cur
}

// latestTrade is the last trade at or before the clock.
func (s *Server) latestTrade(i int) cryptoTradeJSON {
	prev, cur := s.latestMinutes(i)
	now := s.now()
	t := prev.trades[len(prev.trades)-1]
	for _, x := range cur.trades {
		if !x.T.After(now) {
			t = x
		}
	}
	return t
}

func (s *Server) cryptoLatest(w http.ResponseWriter, r *http.Request, key string, one func(i int) any) {
	pairs, ok := s.cryptoSymbols(w, r)
	if !ok {
		return
	}
	out := map[string]any{}
	for _, i := range pairs {
		out[s.crypto.pairs[i].symbol()] = one(i)
	}
	writeJSON(w, http.StatusOK, map[string]any{key: out})
}

func (s *Server) dailyBar(i int, day time.Time) *cryptoBarJSON {
	q := &cryptoQuery{tfMin: 1440}
	var out *cryptoBarJSON
	s.cryptoBarsUpTo(q, i, day, func(b cryptoBarJSON) { out = &b })
	return out
}

// cryptoBarsUpTo aggregates day's bar so far (through the last whole
// minute) for snapshots.
func (s *Server) cryptoBarsUpTo(q *cryptoQuery, i int, day time.Time, got func(cryptoBarJSON)) {
	from := day.UnixNano()
	to := day.Add(24*time.Hour).UnixNano() - 1
	s.cryptoBars(q)(i, from, to, false, func(v any, _ int64) bool {
		got(v.(cryptoBarJSON))
		return false
	})
}

func (s *Server) cryptoSnapshot(i int) any {
	prev, cur := s.latestMinutes(i)
	tr := s.latestTrade(i)
	qt := cur.quote
	mb := prev.bar
	day := s.now().UTC().Truncate(24 * time.Hour)
	return cryptoSnapshotJSON{
		LatestTrade: &tr, LatestQuote: &qt, MinuteBar: &mb,
		DailyBar: s.dailyBar(i, day), PrevDailyBar: s.dailyBar(i, day.Add(-24*time.Hour)),
	}
}

// cryptoBook is an order book of ten levels a side around the quote.
func (s *Server) cryptoBook(i int) any {
	_, cur := s.latestMinutes(i)
	p := &s.crypto.pairs[i]
	inc, _ := decimal.NewFromString(p.priceIncrement)
	step := max(inc.InexactFloat64(), 0.0001, cur.quote.BP*0.0001)
	book := cryptoBookJSON{T: s.now().UTC(), B: []cryptoLevelJSON{}, A: []cryptoLevelJSON{}}
	r := splitmix(s.crypto.seed ^ fnv64(p.symbol()) ^ uint64(cur.quote.T.Unix()))
	for k := 0; k < 10; k++ {
		r = splitmix(r)
		f := 0.5 + float64(r>>11)/(1<<53)*(1+float64(k))
		book.B = append(book.B, cryptoLevelJSON{P: p.roundTo(cur.quote.BP - float64(k)*step), S: roundSize(cur.quote.BS * f)})
		book.A = append(book.A, cryptoLevelJSON{P: p.roundTo(cur.quote.AP + float64(k)*step), S: roundSize(cur.quote.AS * f)})
	}
	return book
}

// cryptoDataRoutes mounts Alpaca's crypto market data REST endpoints
// (/v1beta3/crypto/us/...) behind wrap, the market data's auth. As at
// Alpaca, whose crypto data needs no API key (and whose TypeScript SDK
// sends none for it), a request without credentials is served too; one
// with credentials must pass wrap's checks. Anonymous requests share the
// response budget and injected faults but no per-key rate limit.
func (s *Server) cryptoDataRoutes(wrap func(http.Handler) http.Handler) {
	loc := func(h func(http.ResponseWriter, *http.Request)) http.Handler {
		inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.PathValue("loc") != "us" {
				cryptoBad(w, http.StatusNotFound, "not found")
				return
			}
			h(w, r)
		})
		authed := wrap(inner)
		anon := s.faults.wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { s.serveBudgeted(w, r, inner) }))
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("APCA-API-KEY-ID") == "" && r.Header.Get("Authorization") == "" {
				anon.ServeHTTP(w, r)
				return
			}
			authed.ServeHTTP(w, r)
		})
	}
	plain := func(seq cryptoItems) func(*cryptoQuery) cryptoItems {
		return func(*cryptoQuery) cryptoItems { return seq }
	}
	routes := []struct {
		pattern string
		h       func(http.ResponseWriter, *http.Request)
	}{
		{"bars", func(w http.ResponseWriter, r *http.Request) { s.writeCryptoPage(w, r, "bars", s.cryptoBars, true) }},
		{"trades", func(w http.ResponseWriter, r *http.Request) {
			s.writeCryptoPage(w, r, "trades", plain(s.cryptoTrades), false)
		}},
		{"quotes", func(w http.ResponseWriter, r *http.Request) {
			s.writeCryptoPage(w, r, "quotes", plain(s.cryptoQuotes), false)
		}},
		{"latest/bars", func(w http.ResponseWriter, r *http.Request) {
			s.cryptoLatest(w, r, "bars", func(i int) any { p, _ := s.latestMinutes(i); return p.bar })
		}},
		{"latest/trades", func(w http.ResponseWriter, r *http.Request) {
			s.cryptoLatest(w, r, "trades", func(i int) any { return s.latestTrade(i) })
		}},
		{"latest/quotes", func(w http.ResponseWriter, r *http.Request) {
			s.cryptoLatest(w, r, "quotes", func(i int) any { _, c := s.latestMinutes(i); return c.quote })
		}},
		{"latest/orderbooks", func(w http.ResponseWriter, r *http.Request) { s.cryptoLatest(w, r, "orderbooks", s.cryptoBook) }},
		{"snapshots", func(w http.ResponseWriter, r *http.Request) { s.cryptoLatest(w, r, "snapshots", s.cryptoSnapshot) }},
	}
	for _, rt := range routes {
		s.mux.Handle("GET /v1beta3/crypto/{loc}/"+rt.pattern, loc(rt.h))
	}
}
