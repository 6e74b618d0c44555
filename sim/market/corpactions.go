package market

import (
	"cmp"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Synthetic corporate actions (issue 9 item 6): forward and reverse
// splits and quarterly cash dividends across the universe, each a pure
// function of the seed, the symbol and the calendar quarter, so that the
// same seed announces the same actions whatever is asked first. The
// broker applies them to the accounts that hold the symbols (package
// sim); GET /v1/corporate-actions lists them as Alpaca's market-data API
// does.
//
// A replay of recorded bars has none: the recorded prices carry whatever
// real actions happened, which the simulator does not know.

// CAType is a corporate action's type, spelled as the types parameter of
// GET /v1/corporate-actions spells it.
type CAType string

// The types the synthetic market generates.
const (
	ForwardSplit CAType = "forward_split"
	ReverseSplit CAType = "reverse_split"
	CashDividend CAType = "cash_dividend"
)

// caTypes are every type Alpaca's types parameter accepts (the Go SDK's
// GetCorporateActionsRequest lists them); the market generates only the
// first three, and answers the others with none.
var caTypes = []string{
	string(ForwardSplit), string(ReverseSplit), string(CashDividend),
	"unit_split", "stock_dividend", "spin_off", "cash_merger", "stock_merger",
	"stock_and_cash_merger", "redemption", "name_change", "worthless_removal", "rights_distribution",
}

// CorporateAction is one synthetic corporate action. Dates are calendar
// dates at midnight UTC; the broker processes a date at 00:00 New York.
type CorporateAction struct {
	ID     string // UUID-shaped; Market.CorporateAction finds it again
	Type   CAType
	Symbol string
	CUSIP  string
	// NewRate and OldRate are a split's terms: NewRate shares for every
	// OldRate held (4 and 1 for a 4-for-1 split, 1 and 10 for a 1-for-10
	// reverse split).
	NewRate, OldRate int64
	// CashCents is a dividend's amount per share, in cents.
	CashCents int64
	// Declared is when it was announced; Ex the first date the shares
	// trade without it (a split's effective date); Record the date whose
	// holders are entitled; Payable when a dividend's cash is paid;
	// Process the date Alpaca's market-data API sorts and filters by (a
	// split's ex date, a dividend's payable date). DueBill is a forward
	// split's due-bill redemption date; zero otherwise.
	Declared, Ex, Record, Payable, Process, DueBill time.Time
}

// Bounds of the generated calendar: quarters from caEpoch on, for
// caQuarters quarters (2000 to 2099).
var caEpoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

const caQuarters = 400

// Kinds encoded in an action's id.
const (
	caKindSplit    = 1
	caKindDividend = 2
)

func quarterStart(q int) time.Time {
	return time.Date(caEpoch.Year()+q/4, time.Month(1+3*(q%4)), 1, 0, 0, 0, 0, time.UTC)
}

func quarterOf(d time.Time) int {
	return (d.Year()-caEpoch.Year())*4 + (int(d.Month())-1)/3
}

// tradingDay moves d forward to the next NYSE trading day when it is
// not one (a weekend or an exchange holiday): an action's dates are
// trading days, as the exchange's are.
func tradingDay(d time.Time) time.Time {
	for !NYSETradingDate(d) {
		d = d.AddDate(0, 0, 1)
	}
	return d
}

// addTradingDays moves d by n NYSE trading days (n may be negative).
func addTradingDays(d time.Time, n int) time.Time {
	step := 1
	if n < 0 {
		step, n = -1, -n
	}
	for n > 0 {
		d = d.AddDate(0, 0, step)
		if NYSETradingDate(d) {
			n--
		}
	}
	return d
}

// caHash is the seeded hash an action's terms are drawn from: keyed, so
// that any quarter of any symbol is drawn on its own, without formatting
// a key (a century's query draws half a million).
func (m *Market) caHash(kind, si, q int) uint64 {
	g := newRNG(m.seed, m.live[si].key, 0xc0a0+uint64(kind), uint64(q))
	return g.next()
}

// caID lays the action's kind, symbol and quarter out in a UUID-shaped id
// next to hash bits, so that an id leads back to its action without any
// stored index.
func caID(kind, si, q int, h uint64) string {
	var b [16]byte
	binary.BigEndian.PutUint32(b[0:4], uint32(h>>32))
	binary.BigEndian.PutUint16(b[4:6], uint16(si))
	b[6] = 0x40 | byte(kind)
	b[7] = byte(h >> 24)
	b[8] = 0x80 | byte(q>>8)&0x3f
	b[9] = byte(q)
	binary.BigEndian.PutUint32(b[10:14], uint32(h))
	binary.BigEndian.PutUint16(b[14:16], uint16(h>>16))
	x := hex.EncodeToString(b[:])
	return x[0:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:32]
}

// SyntheticCUSIP is the simulator's stand-in CUSIP of a symbol: nine
// characters with a valid check digit, stable across runs. It is not the
// symbol's real CUSIP.
func SyntheticCUSIP(symbol string) string {
	h := hashString("cusip/" + symbol)
	const alnum = "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ"
	b := make([]byte, 0, 9)
	for range 6 {
		b = append(b, alnum[h%uint64(len(alnum))])
		h /= uint64(len(alnum))
	}
	b = append(b, '1', '0')
	sum := 0
	for i, c := range b {
		v := int(c - '0')
		if c >= 'A' {
			v = int(c-'A') + 10
		}
		if i%2 == 1 {
			v *= 2
		}
		sum += v/10 + v%10
	}
	return string(append(b, byte('0'+(10-sum%10)%10)))
}

// action generates the action of kind for symbol si in quarter q, if it
// has one.
func (m *Market) action(kind, si, q int) (CorporateAction, bool) {
	if m.rep != nil || q < 0 || q >= caQuarters || si < 0 || si >= len(m.syms) || si > math.MaxUint16 {
		return CorporateAction{}, false
	}
	s := m.syms[si]
	if s.Test {
		return CorporateAction{}, false
	}
	h := m.caHash(kind, si, q)
	qs := quarterStart(q)
	a := CorporateAction{Symbol: s.Symbol}
	switch kind {
	case caKindSplit:
		// About one symbol in eighty splits in a given quarter: a few
		// splits a quarter across the default universe.
		if h%1000 >= 12 {
			return CorporateAction{}, false
		}
		a.Ex = tradingDay(qs.AddDate(0, 0, int(h>>10%85)))
		a.Declared = addTradingDays(a.Ex, -15)
		// Cheap shares are consolidated; expensive ones split, and now
		// and then any symbol consolidates.
		if s.Price < 30 || h>>32%4 == 0 {
			a.Type, a.NewRate, a.OldRate = ReverseSplit, 1, []int64{5, 10, 20}[h>>40%3]
			a.Record, a.Payable = a.Ex, a.Ex
		} else {
			ratios := []int64{2, 3, 4, 5, 10}
			if s.Price < 150 {
				ratios = ratios[:2]
			}
			a.Type, a.NewRate, a.OldRate = ForwardSplit, ratios[h>>40%uint64(len(ratios))], 1
			// Alpaca's forward splits are paid (the new shares issued)
			// before the ex date and settle a due bill after it.
			a.Record, a.Payable, a.DueBill = addTradingDays(a.Ex, -2), addTradingDays(a.Ex, -1), addTradingDays(a.Ex, 1)
		}
		a.Process = a.Ex
	case caKindDividend:
		// Fewer than half the symbols pay; a payer pays every quarter,
		// on about the same day of it, as real issuers do.
		g := newRNG(m.seed, m.live[si].key, 0xd1d0)
		payer := g.next()
		if payer%100 >= 45 {
			return CorporateAction{}, false
		}
		a.Type = CashDividend
		a.Ex = tradingDay(qs.AddDate(0, 0, int(20+payer>>8%50+h%5)))
		a.Declared = addTradingDays(a.Ex, -10-int(h>>8%10))
		a.Record = a.Ex // T+1 settlement: the record date is the ex date
		a.Payable = addTradingDays(a.Ex, 5+int(h>>16%15))
		a.Process = a.Payable
		// A yield of 0.5% to 4% a year on the symbol's price at the
		// market's construction, paid in quarters.
		yield := 0.005 + float64(payer>>16%350)/10000
		a.CashCents = max(1, int64(math.Round(s.Price*yield/4*100)))
	default:
		return CorporateAction{}, false
	}
	a.ID = caID(kind, si, q, h)
	return a, true
}

// CorporateAction returns the action with id.
func (m *Market) CorporateAction(id string) (CorporateAction, bool) {
	raw, err := hex.DecodeString(strings.ReplaceAll(id, "-", ""))
	if err != nil || len(raw) != 16 || len(id) != 36 {
		return CorporateAction{}, false
	}
	kind := int(raw[6] & 0x0f)
	si := int(binary.BigEndian.Uint16(raw[4:6]))
	q := int(raw[8]&0x3f)<<8 | int(raw[9])
	a, ok := m.action(kind, si, q)
	if !ok || a.ID != strings.ToLower(id) {
		return CorporateAction{}, false
	}
	a.CUSIP = SyntheticCUSIP(a.Symbol)
	return a, true
}

// Every date of an action lies within these many days of its quarter's
// start: from a split's declaration (15 trading days before an ex date
// on the quarter's first trading day) to a dividend's payable date (19
// trading days after an ex date near day 76), holidays included: -24 to
// 105 days over 2000-2099 (TestCorporateActionDateBounds).
const (
	caEarliest = -31
	caLatest   = 110
)

// caOrder orders actions by the date on(a), then symbol, then type: an
// order in which no two actions are equal.
func caOrder(on func(CorporateAction) time.Time) func(a, b CorporateAction) int {
	return func(a, b CorporateAction) int {
		return cmp.Or(on(a).Compare(on(b)), strings.Compare(a.Symbol, b.Symbol), strings.Compare(string(a.Type), string(b.Type)))
	}
}

// eachCorporateAction yields the actions whose date on(a) lies in [from,
// to] (dates), for the symbols listed (every symbol when nil), in
// caOrder (reversed when desc), until yield returns false. It generates a
// quarter at a time and yields an action once no quarter still to
// generate can come before it, so that what a caller takes costs about
// that much, whatever the window.
func (m *Market) eachCorporateAction(from, to time.Time, symbols []string, on func(CorporateAction) time.Time, desc bool, yield func(CorporateAction) bool) {
	from, to = from.Truncate(24*time.Hour), to.Truncate(24*time.Hour)
	if to.Before(from) || m.rep != nil {
		return
	}
	var idx []int
	if symbols == nil {
		idx = make([]int, len(m.syms))
		for i := range idx {
			idx[i] = i
		}
	} else {
		for _, s := range symbols {
			if i, ok := m.index[s]; ok {
				idx = append(idx, i)
			}
		}
		slices.Sort(idx)
		idx = slices.Compact(idx)
	}
	order := caOrder(on)
	if desc {
		asc := order
		order = func(a, b CorporateAction) int { return asc(b, a) }
	}
	var buf []CorporateAction
	// emit yields, in order, the buffered actions final says no later
	// quarter can precede; false when yield stopped.
	emit := func(final func(time.Time) bool) bool {
		slices.SortFunc(buf, order)
		k := 0
		for ; k < len(buf) && final(on(buf[k])); k++ {
			a := buf[k]
			a.CUSIP = SyntheticCUSIP(a.Symbol)
			if !yield(a) {
				return false
			}
		}
		buf = append(buf[:0], buf[k:]...)
		return true
	}
	gen := func(q int) {
		if symbols == nil {
			for _, a := range m.quarterActions(q) {
				if d := on(a); !d.Before(from) && !d.After(to) {
					buf = append(buf, a)
				}
			}
			return
		}
		for _, si := range idx {
			for _, kind := range []int{caKindSplit, caKindDividend} {
				if a, ok := m.action(kind, si, q); ok {
					if d := on(a); !d.Before(from) && !d.After(to) {
						buf = append(buf, a)
					}
				}
			}
		}
	}
	qLo := max(0, quarterOf(from.AddDate(0, 0, -caLatest)))
	qHi := min(caQuarters-1, quarterOf(to.AddDate(0, 0, -caEarliest)))
	if !desc {
		for q := qLo; q <= qHi; q++ {
			gen(q)
			bound := quarterStart(q+1).AddDate(0, 0, caEarliest)
			if !emit(func(d time.Time) bool { return d.Before(bound) }) {
				return
			}
		}
	} else {
		for q := qHi; q >= qLo; q-- {
			gen(q)
			bound := quarterStart(q-1).AddDate(0, 0, caLatest)
			if !emit(func(d time.Time) bool { return d.After(bound) }) {
				return
			}
		}
	}
	emit(func(time.Time) bool { return true })
}

// quarterCache keeps the whole universe's actions of the quarters read
// last: the broker reads the same few quarters at every stepped-clock
// midnight. It lives in the Market's lazyCache (Market.cache.quarters).
type quarterCache struct {
	mu sync.Mutex
	m  map[int][]CorporateAction
}

// quarterCacheSize bounds quarterCache: a year and a half either way.
const quarterCacheSize = 12

// quarterActions returns every symbol's actions of quarter q, generated
// once while cached. The slice is shared and never written.
func (m *Market) quarterActions(q int) []CorporateAction {
	c := &m.cache.quarters
	c.mu.Lock()
	defer c.mu.Unlock()
	if acts, ok := c.m[q]; ok {
		return acts
	}
	acts := []CorporateAction{}
	for si := range m.syms {
		for _, kind := range []int{caKindSplit, caKindDividend} {
			if a, ok := m.action(kind, si, q); ok {
				acts = append(acts, a)
			}
		}
	}
	if c.m == nil {
		c.m = map[int][]CorporateAction{}
	}
	if len(c.m) >= quarterCacheSize {
		// Evict the quarter farthest from this one: reads move slowly
		// along the calendar.
		far, dist := 0, -1
		for k := range c.m {
			if d := max(k-q, q-k); d > dist {
				far, dist = k, d
			}
		}
		delete(c.m, far)
	}
	c.m[q] = acts
	return acts
}

// CorporateActions returns the actions whose date on(a) lies in [from,
// to] (dates), for the symbols listed (every symbol when nil), ordered by
// that date, then symbol, then type.
func (m *Market) CorporateActions(from, to time.Time, symbols []string, on func(CorporateAction) time.Time) []CorporateAction {
	var out []CorporateAction
	m.eachCorporateAction(from, to, symbols, on, false, func(a CorporateAction) bool {
		out = append(out, a)
		return true
	})
	return out
}

// NextCorporateActionDate returns the first date after `after` (a date)
// on which some action has its ex or payable date, within the year that
// follows; false when there is none.
func (m *Market) NextCorporateActionDate(after time.Time) (time.Time, bool) {
	from := after.Truncate(24*time.Hour).AddDate(0, 0, 1)
	var best time.Time
	for _, on := range []func(CorporateAction) time.Time{exDate, payableDate} {
		m.eachCorporateAction(from, from.AddDate(1, 0, 0), nil, on, false, func(a CorporateAction) bool {
			if d := on(a); best.IsZero() || d.Before(best) {
				best = d
			}
			return false
		})
	}
	return best, !best.IsZero()
}

func exDate(a CorporateAction) time.Time      { return a.Ex }
func payableDate(a CorporateAction) time.Time { return a.Payable }
func processDate(a CorporateAction) time.Time { return a.Process }

// Wire shapes of GET /v1/corporate-actions: Alpaca's market-data OpenAPI
// file (2025-04) does not describe the endpoint, so the field names are
// the official Go SDK's (marketdata.ForwardSplit, ReverseSplit,
// CashDividend) plus the id and CUSIPs Alpaca has added since.
type (
	wireForwardSplit struct {
		ID                    string  `json:"id"`
		Symbol                string  `json:"symbol"`
		Cusip                 string  `json:"cusip"`
		NewRate               float64 `json:"new_rate"`
		OldRate               float64 `json:"old_rate"`
		ProcessDate           string  `json:"process_date"`
		ExDate                string  `json:"ex_date"`
		RecordDate            string  `json:"record_date"`
		PayableDate           string  `json:"payable_date"`
		DueBillRedemptionDate string  `json:"due_bill_redemption_date"`
	}
	wireReverseSplit struct {
		ID          string  `json:"id"`
		Symbol      string  `json:"symbol"`
		OldCusip    string  `json:"old_cusip"`
		NewCusip    string  `json:"new_cusip"`
		NewRate     float64 `json:"new_rate"`
		OldRate     float64 `json:"old_rate"`
		ProcessDate string  `json:"process_date"`
		ExDate      string  `json:"ex_date"`
		RecordDate  string  `json:"record_date"`
		PayableDate string  `json:"payable_date"`
	}
	wireCashDividend struct {
		ID          string  `json:"id"`
		Symbol      string  `json:"symbol"`
		Cusip       string  `json:"cusip"`
		Rate        float64 `json:"rate"`
		Special     bool    `json:"special"`
		Foreign     bool    `json:"foreign"`
		ProcessDate string  `json:"process_date"`
		ExDate      string  `json:"ex_date"`
		RecordDate  string  `json:"record_date"`
		PayableDate string  `json:"payable_date"`
	}
	// corporateActions omits the types with nothing in the page, as
	// Alpaca's answer does.
	corporateActions struct {
		ForwardSplits []wireForwardSplit `json:"forward_splits,omitempty"`
		ReverseSplits []wireReverseSplit `json:"reverse_splits,omitempty"`
		CashDividends []wireCashDividend `json:"cash_dividends,omitempty"`
	}
	corporateActionsResponse struct {
		CorporateActions corporateActions `json:"corporate_actions"`
		NextPageToken    *string          `json:"next_page_token"`
	}
)

func day(t time.Time) string { return t.Format(time.DateOnly) }

// Limits of GET /v1/corporate-actions. Alpaca documents 1,000 as the
// most per page; the Go SDK may ask for up to 10,000 (its TotalLimit
// remainder), so larger limits are accepted and served 1,000 at a time.
const (
	caDefaultLimit = 100
	caPageMax      = 1000
)

func (m *Market) handleCorporateActions(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("ids") != "" {
		writeError(w, r, badRequest("ids is not supported by the simulator: filter by symbols, cusips, types and dates"))
		return
	}
	var symbols []string
	if s := q.Get("symbols"); s != "" {
		syms, e := parseSymbols(s)
		if e != nil {
			writeError(w, r, e)
			return
		}
		symbols = syms
	}
	if c := q.Get("cusips"); c != "" {
		// A synthetic CUSIP leads back to its symbol only by search.
		want := map[string]bool{}
		for _, x := range strings.Split(c, ",") {
			want[strings.TrimSpace(x)] = true
		}
		cs := []string{}
		for _, s := range m.syms {
			if want[SyntheticCUSIP(s.Symbol)] && (symbols == nil || slices.Contains(symbols, s.Symbol)) {
				cs = append(cs, s.Symbol)
			}
		}
		symbols = cs
	}
	types := map[CAType]bool{ForwardSplit: true, ReverseSplit: true, CashDividend: true}
	if t := q.Get("types"); t != "" {
		clear(types)
		for _, x := range strings.Split(t, ",") {
			x = strings.TrimSpace(x)
			if !slices.Contains(caTypes, x) {
				writeError(w, r, badRequest("invalid types: "+x))
				return
			}
			types[CAType(x)] = true
		}
	}
	today := m.cfg.Now().In(m.loc)
	start := time.Date(today.Year(), today.Month(), today.Day(), 0, 0, 0, 0, time.UTC)
	end, known := start, start
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"start", &start}, {"end", &end}} {
		if v := q.Get(p.name); v != "" {
			d, err := time.Parse(time.DateOnly, v)
			if err != nil {
				writeError(w, r, badRequest("invalid "+p.name+": expected YYYY-MM-DD"))
				return
			}
			*p.dst = d
		}
	}
	if end.Before(start) {
		writeError(w, r, badRequest("end should not be before start"))
		return
	}
	limit := caDefaultLimit
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > MaxLimit {
			writeError(w, r, badRequest("invalid limit: must be between 1 and 10000"))
			return
		}
		limit = min(n, caPageMax)
	}
	desc := false
	switch q.Get("sort") {
	case "", "asc":
	case "desc":
		desc = true
	default:
		writeError(w, r, badRequest("invalid sort: want asc or desc"))
		return
	}
	// The page token is the last action served (its process date, symbol
	// and type): the next page starts after it in the order, and its walk
	// starts at its date, so a deep page costs no more than the first.
	var cur *CorporateAction
	if tok := q.Get("page_token"); tok != "" {
		c, ok := decodeCATToken(tok)
		if !ok {
			writeError(w, r, badRequest("invalid page_token"))
			return
		}
		cur = &c
		if desc {
			end = minTime(end, c.Process)
		} else {
			start = maxTime(start, c.Process)
		}
	}
	// Nothing declared after today is listed, and an action's dates lie
	// within caLatest-caEarliest days of its declaration's quarter: later
	// process dates need no walk.
	end = minTime(end, known.AddDate(0, 0, caLatest-caEarliest))
	order := caOrder(processDate)
	var page []CorporateAction
	more := false
	m.eachCorporateAction(start, end, symbols, processDate, desc, func(a CorporateAction) bool {
		// An action is known from its declaration on: no look-ahead.
		if !types[a.Type] || a.Declared.After(known) {
			return true
		}
		if cur != nil && (!desc && order(a, *cur) <= 0 || desc && order(a, *cur) >= 0) {
			return true
		}
		if len(page) == limit {
			more = true
			return false
		}
		page = append(page, a)
		return true
	})
	var resp corporateActionsResponse
	for _, a := range page {
		c := &resp.CorporateActions
		switch a.Type {
		case ForwardSplit:
			c.ForwardSplits = append(c.ForwardSplits, wireForwardSplit{ID: a.ID, Symbol: a.Symbol, Cusip: a.CUSIP,
				NewRate: float64(a.NewRate), OldRate: float64(a.OldRate), ProcessDate: day(a.Process), ExDate: day(a.Ex),
				RecordDate: day(a.Record), PayableDate: day(a.Payable), DueBillRedemptionDate: day(a.DueBill)})
		case ReverseSplit:
			c.ReverseSplits = append(c.ReverseSplits, wireReverseSplit{ID: a.ID, Symbol: a.Symbol, OldCusip: a.CUSIP,
				NewCusip: a.CUSIP, NewRate: float64(a.NewRate), OldRate: float64(a.OldRate), ProcessDate: day(a.Process),
				ExDate: day(a.Ex), RecordDate: day(a.Record), PayableDate: day(a.Payable)})
		case CashDividend:
			c.CashDividends = append(c.CashDividends, wireCashDividend{ID: a.ID, Symbol: a.Symbol, Cusip: a.CUSIP,
				Rate: float64(a.CashCents) / 100, ProcessDate: day(a.Process), ExDate: day(a.Ex),
				RecordDate: day(a.Record), PayableDate: day(a.Payable)})
		}
	}
	if more {
		last := page[len(page)-1]
		t := base64.StdEncoding.EncodeToString([]byte("ca|" + day(last.Process) + "|" + last.Symbol + "|" + string(last.Type)))
		resp.NextPageToken = &t
	}
	writeJSON(w, r, http.StatusOK, resp)
}

// decodeCATToken reads a page token of GET /v1/corporate-actions back into
// the key (process date, symbol, type) of the action it follows.
func decodeCATToken(tok string) (CorporateAction, bool) {
	b, err := base64.StdEncoding.DecodeString(tok)
	if err != nil {
		return CorporateAction{}, false
	}
	parts := strings.Split(string(b), "|")
	if len(parts) != 4 || parts[0] != "ca" || parts[2] == "" {
		return CorporateAction{}, false
	}
	d, err := time.Parse(time.DateOnly, parts[1])
	if err != nil {
		return CorporateAction{}, false
	}
	return CorporateAction{Process: d, Symbol: parts[2], Type: CAType(parts[3])}, true
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
